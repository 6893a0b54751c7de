//! The SQLite store: one writer connection fed by a queue (group commit: every write that
//! arrives while a transaction is committing joins the next one), and a pool of WAL
//! readers. The writer runs with `synchronous = FULL`, so a call that returned has reached
//! the disk.

use crate::records::*;
use crate::{Actor, AuditVerdict, Result, Store, StoreError};
use async_trait::async_trait;
use firewatch_domain::audit::{ChainHead, ChainVerifier, ChainedEvent, EventDraft};
use firewatch_domain::{CaseStatus, Role, Severity, check_transition};
use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

#[allow(clippy::duplicate_mod)]
#[path = "../common/comms.rs"]
mod comms;
pub(crate) mod dialect;
mod direct;
mod intake_direct;
#[allow(clippy::duplicate_mod)]
#[path = "../common/playbooks.rs"]
mod playbooks;
#[allow(clippy::duplicate_mod)]
#[path = "../common/signals.rs"]
pub(crate) mod signals;
#[allow(clippy::duplicate_mod)]
#[path = "../common/social.rs"]
mod social;
// Shared with the other backend: compiled once per backend, on purpose (src/common/).
#[allow(clippy::duplicate_mod)]
#[path = "../common/ui.rs"]
mod ui;

pub(crate) use direct::DirectCtx;
use direct::Statements;

/// How many queued writes may share one transaction.
const MAX_BATCH: usize = 512;

/// The writer's state inside one transaction.
pub struct WriteCtx {
    pub(crate) conn: SqliteConnection,
    head: ChainHead,
    pub(crate) now_ms: i64,
    /// Events chained in this transaction, not yet inserted.
    pending: Vec<firewatch_domain::audit::ChainedEvent>,
    /// The next case number, read once per transaction (under its write lock).
    next_case_number: Option<i64>,
}

impl WriteCtx {
    /// The connection of this transaction, for the shared modules in `src/common/`.
    pub(crate) fn conn(&mut self) -> &mut dialect::Conn {
        &mut self.conn
    }

    /// Appends an audit event in the current transaction. Events are chained at once and
    /// written in one multi-row insert just before the transaction commits (a job that fails
    /// drops its own), which saves a round trip to SQLite per event.
    pub(crate) async fn event(
        &mut self,
        actor: &Actor,
        kind: &str,
        entity: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<()> {
        let e = self.head.append(EventDraft {
            at_ms: self.now_ms,
            actor: actor.0.clone(),
            kind: kind.to_string(),
            entity: entity.to_string(),
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
        });
        self.pending.push(e);
        Ok(())
    }

    /// Takes the next human case number.
    pub(crate) async fn take_case_number(&mut self) -> Result<i64> {
        let n = match self.next_case_number {
            Some(n) => n,
            None => sqlx::query("SELECT COALESCE(MAX(number), 0) + 1 FROM cases")
                .fetch_one(&mut self.conn)
                .await?
                .try_get(0)?,
        };
        self.next_case_number = Some(n + 1);
        Ok(n)
    }
}

type Deliver = Box<dyn FnOnce(Option<StoreError>) + Send>;
type RunFn = Box<dyn for<'c> FnOnce(&'c mut WriteCtx) -> BoxFuture<'c, (bool, Deliver)> + Send>;
type DirectFn = Box<dyn for<'c, 'd> FnOnce(&'c mut DirectCtx<'d>) -> (bool, Deliver) + Send>;

/// How a queued write runs: through sqlx on [`WriteCtx`] (any write), or synchronously on
/// the writer thread with direct SQLite calls ([`DirectCtx`], the intake hot path).
enum JobRun {
    Async(RunFn),
    Direct(DirectFn),
}

/// A queued write: `run` executes it inside the batch's transaction; `fail` answers the
/// caller when the transaction could not even start.
struct Job {
    run: JobRun,
    fail: Box<dyn FnOnce(StoreError) + Send>,
}

type Slot<T> = std::sync::Arc<std::sync::Mutex<Option<oneshot::Sender<Result<T>>>>>;

fn answer<T>(slot: &Slot<T>, r: Result<T>) {
    if let Some(tx) = slot.lock().ok().and_then(|mut s| s.take()) {
        let _ = tx.send(r);
    }
}

/// The caller's answer once the transaction is decided: the job's own outcome if it
/// committed, else the commit's error.
fn deliver_to<T: Send + 'static>(slot: Slot<T>, outcome: Result<T>) -> Deliver {
    Box::new(move |commit_error| {
        answer(
            &slot,
            match commit_error {
                None => outcome,
                Some(e) => Err(e),
            },
        )
    })
}

#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) readers: SqlitePool,
    writer: mpsc::Sender<Job>,
    /// The active playbook (issue 5), applied inside write transactions.
    pub(crate) playbook: std::sync::Arc<crate::playbooks::PlaybookCell>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        // Playbook, signal and social writes add many statement shapes; keep them all
        // prepared instead of recompiling on every intake.
        .statement_cache_capacity(1024)
        .pragma("cache_size", "-65536")
        .pragma("temp_store", "memory")
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        let mut migrator_conn = SqliteConnection::connect_with(&options(path)).await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut migrator_conn)
            .await?;
        migrator_conn.close().await?;

        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options(path).read_only(true))
            .await?;
        let conn = SqliteConnection::connect_with(&options(path)).await?;
        let (tx, rx) = mpsc::channel::<Job>(4096);
        // The writer has its own thread: direct jobs and COMMIT's fsync block it, never the
        // server's runtime. sqlx jobs run on a current-thread runtime there.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        std::thread::Builder::new()
            .name("firewatch-writer".into())
            .spawn({
                let path = path.to_path_buf();
                move || rt.block_on(writer_loop(conn, path, rx))
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        let playbook = playbooks::load_active(&readers).await?;
        Ok(SqliteStore {
            readers,
            writer: tx,
            playbook: std::sync::Arc::new(crate::playbooks::PlaybookCell::new(playbook)),
        })
    }

    /// Queues a write and waits until its transaction committed (or failed).
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        op: impl for<'c> FnOnce(&'c mut WriteCtx) -> BoxFuture<'c, Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let slot: Slot<T> = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
        let run_slot = slot.clone();
        let run: RunFn = Box::new(move |ctx| {
            Box::pin(async move {
                let outcome = op(ctx).await;
                (outcome.is_ok(), deliver_to(run_slot, outcome))
            })
        });
        let job = Job {
            run: JobRun::Async(run),
            fail: Box::new(move |e| answer(&slot, Err(e))),
        };
        self.writer
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
    }

    /// Like [`SqliteStore::write`], for a write made of direct SQLite calls: `op` runs
    /// synchronously on the writer thread inside the group's transaction (its own savepoint),
    /// with no thread hand-off per statement. For hot paths only; everything else uses
    /// `write`.
    pub(crate) async fn write_direct<T: Send + 'static>(
        &self,
        op: impl for<'c, 'd> FnOnce(&'c mut DirectCtx<'d>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let slot: Slot<T> = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
        let run_slot = slot.clone();
        let run: DirectFn = Box::new(move |d| {
            let outcome = op(d);
            (outcome.is_ok(), deliver_to(run_slot, outcome))
        });
        let job = Job {
            run: JobRun::Direct(run),
            fail: Box::new(move |e| answer(&slot, Err(e))),
        };
        self.writer
            .send(job)
            .await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer has stopped".into()))?
    }
}

async fn read_head(conn: &mut SqliteConnection) -> Result<ChainHead> {
    let row = sqlx::query("SELECT seq, hash FROM chain_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    Ok(ChainHead {
        seq: row.try_get(0)?,
        hash: row.try_get(1)?,
    })
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<()> {
    sqlx::query(sql).execute(conn).await?;
    Ok(())
}

async fn writer_loop(
    conn: SqliteConnection,
    path: std::path::PathBuf,
    mut rx: mpsc::Receiver<Job>,
) {
    let mut ctx = WriteCtx {
        conn,
        head: ChainHead::default(),
        now_ms: 0,
        pending: Vec::new(),
        next_case_number: None,
    };
    let mut stmts = Statements::default();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if !run_batch(&mut ctx, &mut stmts, batch).await {
            // A transaction that could not start or commit (disk full, I/O error, lock) can
            // leave SQLite's pager in its error state for as long as this connection lives;
            // a fresh connection starts clean once the cause is gone. If it cannot open yet,
            // the old one stays and the next failure tries again.
            match SqliteConnection::connect_with(&options(&path)).await {
                Ok(fresh) => {
                    // Prepared statements belong to the old handle: finalize them there; the
                    // direct path prepares them again on the new one when first used.
                    let _ = with_direct(&mut ctx, &mut stmts, |d| d.stmts.finalize_all()).await;
                    let stale = std::mem::replace(&mut ctx.conn, fresh);
                    let _ = stale.close().await;
                    tracing::info!("writer connection reopened after a failed transaction");
                }
                Err(e) => tracing::warn!(error = %e, "writer connection could not be reopened yet"),
            }
        }
    }
    // The direct path's statements go before the connection closes.
    let _ = with_direct(&mut ctx, &mut stmts, |d| d.stmts.finalize_all()).await;
}

/// Locks the writer connection's handle away from sqlx's worker thread (one hand-off) and
/// runs `f` with direct SQLite calls on this thread.
async fn with_direct<R>(
    ctx: &mut WriteCtx,
    stmts: &mut Statements,
    f: impl FnOnce(&mut DirectCtx<'_>) -> R,
) -> Result<R> {
    let WriteCtx {
        conn,
        head,
        now_ms,
        pending,
        next_case_number,
    } = ctx;
    let mut locked = conn.lock_handle().await?;
    let mut d = DirectCtx {
        db: locked.as_raw_handle().as_ptr(),
        stmts,
        head,
        pending,
        next_case_number,
        now_ms: *now_ms,
    };
    Ok(f(&mut d))
}

/// The savepoint statements after a job: keep or undo its work, then open the next job's
/// savepoint unless it was the last.
fn savepoint_step(ok: bool, last: bool) -> &'static [&'static str] {
    match (ok, last) {
        (true, false) => &["RELEASE job", "SAVEPOINT job"],
        (false, false) => &["ROLLBACK TO job", "RELEASE job", "SAVEPOINT job"],
        (true, true) => &["RELEASE job"],
        (false, true) => &["ROLLBACK TO job", "RELEASE job"],
    }
}

/// Opens the group's transaction and its first job's savepoint, and reads the chain head.
fn begin_direct(d: &mut DirectCtx<'_>) -> Result<()> {
    d.exec("BEGIN IMMEDIATE", &[])?;
    *d.head = d.read_head()?;
    d.exec("SAVEPOINT job", &[])?;
    Ok(())
}

/// Writes the pending events and the chain head, then commits.
fn commit_direct(d: &mut DirectCtx<'_>) -> Result<()> {
    d.flush_events()?;
    d.exec("COMMIT", &[])?;
    Ok(())
}

/// Runs one group in one transaction; false when the transaction could not start or commit.
async fn run_batch(ctx: &mut WriteCtx, stmts: &mut Statements, batch: Vec<Job>) -> bool {
    let jobs = batch.len();
    let mut queue: std::collections::VecDeque<Job> = batch.into();
    ctx.now_ms = now_ms();
    ctx.pending.clear();
    ctx.next_case_number = None;
    // BEGIN IMMEDIATE takes the write lock up front (honouring busy_timeout), and the chain
    // head is read inside it, so another process writing the same file (the CLI while a
    // server runs) cannot fork the chain. Each job runs in its own savepoint.
    let begin = with_direct(ctx, stmts, |d| {
        let r = begin_direct(d);
        if r.is_err() {
            let _ = d.exec("ROLLBACK", &[]);
        }
        r
    })
    .await
    .and_then(|r| r);
    if let Err(e) = begin {
        tracing::warn!(error = %e, "write transaction could not start");
        let msg = match e {
            StoreError::Unavailable(m) => m,
            other => other.to_string(),
        };
        for job in queue {
            (job.fail)(StoreError::Unavailable(msg.clone()));
        }
        return false;
    }
    let mut deliveries: Vec<Deliver> = Vec::with_capacity(jobs);
    // Some(result) once the transaction was committed (or failed to) on the direct path.
    let mut committed: Option<Result<()>> = None;
    while let Some(job) = queue.pop_front() {
        match job.run {
            JobRun::Async(run) => {
                let snapshot = (ctx.head.clone(), ctx.pending.len(), ctx.next_case_number);
                let (ok, deliver) = run(ctx).await;
                if !ok {
                    ctx.head = snapshot.0;
                    ctx.pending.truncate(snapshot.1);
                    ctx.next_case_number = snapshot.2;
                }
                let last = deliveries.len() + 1 == jobs;
                // Closing one savepoint and opening the next is one round trip.
                let step = match (ok, last) {
                    (true, false) => "RELEASE job; SAVEPOINT job",
                    (false, false) => "ROLLBACK TO job; RELEASE job; SAVEPOINT job",
                    (true, true) => "RELEASE job",
                    (false, true) => "ROLLBACK TO job; RELEASE job",
                };
                if let Err(e) = sqlx::raw_sql(step).execute(&mut ctx.conn).await {
                    tracing::warn!(error = %e, "savepoint step failed");
                }
                deliveries.push(deliver);
            }
            JobRun::Direct(run) => {
                // This job and the direct jobs right after it run under one lock of the
                // handle; if the group ends with them, the commit does too.
                let mut segment = vec![(run, job.fail)];
                while matches!(
                    queue.front(),
                    Some(Job {
                        run: JobRun::Direct(_),
                        ..
                    })
                ) {
                    if let Some(Job {
                        run: JobRun::Direct(run),
                        fail,
                    }) = queue.pop_front()
                    {
                        segment.push((run, fail));
                    }
                }
                let ends_group = queue.is_empty();
                let done = &mut deliveries;
                let ran = with_direct(ctx, stmts, |d| {
                    for (run, fail) in segment {
                        let snapshot = (d.head.clone(), d.pending.len(), *d.next_case_number);
                        let (ok, deliver) = run(d);
                        if !ok {
                            *d.head = snapshot.0;
                            d.pending.truncate(snapshot.1);
                            *d.next_case_number = snapshot.2;
                        }
                        drop(fail);
                        let last = done.len() + 1 == jobs;
                        for &sql in savepoint_step(ok, last) {
                            if let Err(e) = d.exec(sql, &[]) {
                                tracing::warn!(error = %e, "savepoint step failed");
                            }
                        }
                        done.push(deliver);
                    }
                    if ends_group {
                        let r = commit_direct(d);
                        if r.is_err() {
                            let _ = d.exec("ROLLBACK", &[]);
                        }
                        Some(r)
                    } else {
                        None
                    }
                })
                .await;
                match ran {
                    Ok(c) => committed = c,
                    Err(e) => {
                        // The handle could not be locked (sqlx's worker is gone): these jobs
                        // did not run (their callers hear that the writer stopped), and the
                        // transaction cannot finish.
                        committed = Some(Err(StoreError::Unavailable(e.to_string())));
                        break;
                    }
                }
            }
        }
    }
    let commit = match committed {
        Some(r) => r,
        None => with_direct(ctx, stmts, |d| {
            let r = commit_direct(d);
            if r.is_err() {
                let _ = d.exec("ROLLBACK", &[]);
            }
            r
        })
        .await
        .and_then(|r| r),
    };
    match commit {
        Ok(()) => {
            deliveries.into_iter().for_each(|d| d(None));
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "write transaction failed; nothing from it was stored");
            let msg = e.to_string();
            for d in deliveries {
                d(Some(StoreError::Unavailable(msg.clone())));
            }
            for job in queue {
                (job.fail)(StoreError::Unavailable(msg.clone()));
            }
            false
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn parse_col<T: FromStr>(row: &SqliteRow, col: &str) -> Result<T> {
    let s: String = row.try_get(col)?;
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("column {col} holds `{s}`")))
}

fn case_from_row(row: &SqliteRow) -> Result<CaseRecord> {
    let hazards: String = row.try_get("hazards")?;
    Ok(CaseRecord {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        status: parse_col(row, "status")?,
        severity: parse_col(row, "severity")?,
        hazards: serde_json::from_str(&hazards).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        title: row.try_get("title")?,
        assignee: row.try_get("assignee")?,
        country: row.try_get("country")?,
        channel: row.try_get("channel")?,
        product_brand: row.try_get("product_brand")?,
        product_model: row.try_get("product_model")?,
        reporter_handle: row.try_get("reporter_handle")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

fn case_json(c: &CaseRecord) -> serde_json::Value {
    json!({"status": c.status, "severity": c.severity, "assignee": c.assignee, "hazards": c.hazards})
}

fn user_from_row(row: &SqliteRow) -> Result<UserRecord> {
    let disabled: i64 = row.try_get("disabled")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: parse_col::<Role>(row, "role")?,
        password_hash: row.try_get("password_hash")?,
        created_at_ms: row.try_get("created_at")?,
        disabled: disabled != 0,
    })
}

fn attachment_from_row(row: &SqliteRow) -> Result<AttachmentRecord> {
    Ok(AttachmentRecord {
        id: row.try_get("id")?,
        report_id: row.try_get("report_id")?,
        sha256: row.try_get("sha256")?,
        clean_sha256: row.try_get("clean_sha256")?,
        media_type: row.try_get("media_type")?,
        size: row.try_get("size")?,
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        filename: row.try_get("filename")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

async fn load_case(conn: &mut SqliteConnection, id: &str) -> Result<CaseRecord> {
    let row = sqlx::query(
        "SELECT id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("case {id}")))?;
    case_from_row(&row)
}

fn title_of(narrative: &str) -> String {
    let first_line = narrative
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut t: String = first_line.chars().take(120).collect();
    if first_line.chars().count() > 120 {
        t.push('…');
    }
    t
}

async fn intake_in_tx(ctx: &mut WriteCtx, cmd: IntakeCommand) -> Result<IntakeOutcome> {
    if let Some(key) = &cmd.idempotency_key {
        let prior = sqlx::query("SELECT request_hash, receipt FROM idempotency WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut ctx.conn)
            .await?;
        if let Some(row) = prior {
            let hash: String = row.try_get(0)?;
            if hash != cmd.request_hash {
                return Ok(IntakeOutcome::KeyReused);
            }
            let receipt: String = row.try_get(1)?;
            let receipt =
                serde_json::from_str(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            return Ok(IntakeOutcome::Replayed(receipt));
        }
    }
    let case_id = uuid::Uuid::now_v7().to_string();
    let report_id = uuid::Uuid::now_v7().to_string();
    let r = &cmd.report;
    let hazards_json = serde_json::to_string(&cmd.hazards).expect("strings serialise");
    let number = ctx.take_case_number().await?;
    let attachment_ids: Vec<String> = cmd
        .attachments
        .iter()
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let receipt = IntakeReceipt {
        report_id: report_id.clone(),
        case_id: case_id.clone(),
        case_number: number,
        hazards: cmd.hazards.clone(),
        reported_hazards: cmd.reported_hazards.clone(),
        severity: cmd.severity.as_str().to_string(),
        attachment_ids: attachment_ids.clone(),
    };
    // The case, the report, its attachments and the idempotency key go to SQLite as one
    // multi-statement batch: one round trip on the single writer.
    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO cases (id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at) VALUES (",
    );
    qb.separated(", ")
        .push_bind(&case_id)
        .push_bind(number)
        .push_bind("new")
        .push_bind(cmd.severity.as_str())
        .push_bind(&hazards_json)
        .push_bind(title_of(&r.narrative))
        .push("NULL")
        .push_bind(&r.country)
        .push_bind(r.channel.as_str())
        .push_bind(&cmd.case_product.0)
        .push_bind(&cmd.case_product.1)
        .push_bind(&r.reporter.handle)
        .push_bind(cmd.received_at_ms)
        .push_bind(cmd.received_at_ms);
    qb.push(
        "); INSERT INTO reports (id, case_id, received_at, channel, narrative, language, country, occurred_at, injuries, product, reporter, triage, severity, idempotency_key) VALUES (",
    );
    qb.separated(", ")
        .push_bind(&report_id)
        .push_bind(&case_id)
        .push_bind(cmd.received_at_ms)
        .push_bind(r.channel.as_str())
        .push_bind(&r.narrative)
        .push_bind(&r.language)
        .push_bind(&r.country)
        .push_bind(&r.occurred_at)
        .push_bind(r.injuries.as_str())
        .push_bind(serde_json::to_string(&r.product).expect("serialisable"))
        .push_bind(serde_json::to_string(&r.reporter).expect("serialisable"))
        .push_bind(&cmd.triage_json)
        .push_bind(cmd.severity.as_str())
        .push_bind(&cmd.idempotency_key);
    qb.push(")");
    if !cmd.attachments.is_empty() {
        qb.push("; INSERT INTO attachments (id, report_id, sha256, clean_sha256, media_type, size, width, height, filename, created_at) ");
        qb.push_values(
            cmd.attachments.iter().zip(&attachment_ids),
            |mut b, (a, id)| {
                b.push_bind(id)
                    .push_bind(&report_id)
                    .push_bind(&a.sha256)
                    .push_bind(&a.clean_sha256)
                    .push_bind(&a.media_type)
                    .push_bind(a.size)
                    .push_bind(a.width)
                    .push_bind(a.height)
                    .push_bind(&a.filename)
                    .push_bind(cmd.received_at_ms);
            },
        );
    }
    if let Some(key) = &cmd.idempotency_key {
        qb.push("; INSERT INTO idempotency (key, request_hash, receipt, created_at) VALUES (");
        qb.separated(", ")
            .push_bind(key)
            .push_bind(&cmd.request_hash)
            .push_bind(serde_json::to_string(&receipt).expect("serialisable"))
            .push_bind(cmd.received_at_ms);
        qb.push(")");
    }
    qb.build().execute(&mut ctx.conn).await?;
    signals::count_report(ctx, &cmd, &case_id, &report_id).await?;
    // Personal data (narrative, reporter) stays in the report row; the event records the
    // facts of the change and the report's content hash, so the log proves what was received.
    let content_hash = &cmd.request_hash;
    ctx.event(
        &cmd.actor,
        "case.opened",
        &format!("case:{case_id}"),
        None,
        Some(json!({
            "report_id": report_id, "number": number, "status": "new",
            "severity": cmd.severity, "hazards": cmd.hazards, "channel": r.channel,
            "country": r.country, "attachments": receipt.attachment_ids.len(),
            "content_sha256": content_hash,
        })),
    )
    .await?;
    Ok(IntakeOutcome::Created(receipt))
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        // Applied by `open`; kept for the trait so other backends can differ.
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.readers).await?;
        Ok(())
    }

    async fn intake(&self, cmd: IntakeCommand) -> Result<IntakeOutcome> {
        let pre = playbooks::pre_evaluate(&self.playbook.current(), &cmd)?;
        let cell = self.playbook.clone();
        // The hot path: direct SQLite calls on the writer thread (see `direct`).
        self.write_direct(move |d| intake_direct::intake(d, &cell, cmd, pre))
            .await
    }

    async fn get_case(&self, id: &str) -> Result<Option<CaseRecord>> {
        let row = sqlx::query(
            "SELECT id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at FROM cases WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(case_from_row).transpose()
    }

    async fn list_cases(&self, f: &CaseFilter) -> Result<Vec<CaseRecord>> {
        // Static SQL with optional binds: every filter is `(? IS NULL OR col = ?)`.
        let rows = sqlx::query(
            "SELECT id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at FROM cases
             WHERE ($1 IS NULL OR status = $1)
               AND ($2 IS NULL OR severity = $2)
               AND ($3 IS NULL OR assignee = $3)
               AND ($4 = 0 OR status NOT IN ('resolved', 'closed'))
             ORDER BY severity ASC, created_at ASC
             LIMIT $5 OFFSET $6",
        )
        .bind(f.status.map(|s| s.as_str()))
        .bind(f.severity.map(|s| s.as_str()))
        .bind(&f.assignee)
        .bind(f.open_only as i64)
        .bind(if f.limit == 0 { 100 } else { f.limit } as i64)
        .bind(f.offset as i64)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(case_from_row).collect()
    }

    async fn case_reports(&self, case_id: &str) -> Result<Vec<ReportRecord>> {
        let rows = sqlx::query(
            "SELECT id, case_id, received_at, channel, narrative, language, country, occurred_at, injuries, product, reporter, triage, severity, idempotency_key
             FROM reports WHERE case_id = $1 ORDER BY received_at, id",
        )
        .bind(case_id)
        .fetch_all(&self.readers)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ReportRecord {
                    id: row.try_get("id")?,
                    case_id: row.try_get("case_id")?,
                    received_at_ms: row.try_get("received_at")?,
                    channel: row.try_get("channel")?,
                    narrative: row.try_get("narrative")?,
                    language: row.try_get("language")?,
                    country: row.try_get("country")?,
                    occurred_at: row.try_get("occurred_at")?,
                    injuries: row.try_get("injuries")?,
                    product_json: row.try_get("product")?,
                    reporter_json: row.try_get("reporter")?,
                    triage_json: row.try_get("triage")?,
                    severity: parse_col::<Severity>(row, "severity")?,
                    idempotency_key: row.try_get("idempotency_key")?,
                })
            })
            .collect()
    }

    async fn case_notes(&self, case_id: &str) -> Result<Vec<NoteRecord>> {
        let rows = sqlx::query("SELECT id, case_id, author, body, created_at FROM notes WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(&self.readers)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(NoteRecord {
                    id: row.try_get("id")?,
                    case_id: row.try_get("case_id")?,
                    author: row.try_get("author")?,
                    body: row.try_get("body")?,
                    created_at_ms: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn report_attachments(&self, report_id: &str) -> Result<Vec<AttachmentRecord>> {
        let rows = sqlx::query(
            "SELECT id, report_id, sha256, clean_sha256, media_type, size, width, height, filename, created_at FROM attachments WHERE report_id = $1 ORDER BY id",
        )
        .bind(report_id)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(attachment_from_row).collect()
    }

    async fn get_attachment(&self, id: &str) -> Result<Option<AttachmentRecord>> {
        let row = sqlx::query(
            "SELECT id, report_id, sha256, clean_sha256, media_type, size, width, height, filename, created_at FROM attachments WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(attachment_from_row).transpose()
    }

    async fn transition_case(
        &self,
        case_id: &str,
        to: CaseStatus,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<CaseRecord> {
        let (case_id, actor) = (case_id.to_string(), actor.clone());
        let pb = self.playbook.current();
        self.write(move |ctx| {
            Box::pin(async move {
                let before = load_case(&mut ctx.conn, &case_id).await?;
                check_transition(before.status, to)?;
                playbooks::before_transition(ctx, &pb, &before, to).await?;
                sqlx::query("UPDATE cases SET status = $1, updated_at = $2 WHERE id = $3")
                    .bind(to.as_str())
                    .bind(ctx.now_ms)
                    .bind(&case_id)
                    .execute(&mut ctx.conn)
                    .await?;
                let after = load_case(&mut ctx.conn, &case_id).await?;
                let mut after_json = case_json(&after);
                if let Some(reason) = reason {
                    after_json["reason"] = json!(reason);
                }
                ctx.event(
                    &actor,
                    "case.transitioned",
                    &format!("case:{case_id}"),
                    Some(case_json(&before)),
                    Some(after_json),
                )
                .await?;
                playbooks::after_transition(ctx, &pb, &case_id, before.status, to, &actor).await?;
                Ok(after)
            })
        })
        .await
    }

    async fn add_note(&self, case_id: &str, body: String, actor: &Actor) -> Result<NoteRecord> {
        let (case_id, actor) = (case_id.to_string(), actor.clone());
        self.write(move |ctx| {
            Box::pin(async move {
                load_case(&mut ctx.conn, &case_id).await?;
                let id: i64 = sqlx::query("INSERT INTO notes (case_id, author, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(&case_id)
                    .bind(&actor.0)
                    .bind(&body)
                    .bind(ctx.now_ms)
                    .fetch_one(&mut ctx.conn)
                    .await?
                    .try_get(0)?;
                sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
                    .bind(ctx.now_ms)
                    .bind(&case_id)
                    .execute(&mut ctx.conn)
                    .await?;
                ctx.event(&actor, "case.note_added", &format!("case:{case_id}"), None, Some(json!({"note_id": id, "body": body})))
                    .await?;
                Ok(NoteRecord {
                    id,
                    case_id,
                    author: actor.0,
                    body,
                    created_at_ms: ctx.now_ms,
                })
            })
        })
        .await
    }

    async fn assign_case(
        &self,
        case_id: &str,
        assignee: Option<String>,
        actor: &Actor,
    ) -> Result<CaseRecord> {
        let (case_id, actor) = (case_id.to_string(), actor.clone());
        self.write(move |ctx| {
            Box::pin(async move {
                let before = load_case(&mut ctx.conn, &case_id).await?;
                if let Some(name) = &assignee {
                    let exists =
                        sqlx::query("SELECT 1 FROM users WHERE name = $1 AND disabled = 0")
                            .bind(name)
                            .fetch_optional(&mut ctx.conn)
                            .await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!("user {name}")));
                    }
                }
                sqlx::query("UPDATE cases SET assignee = $1, updated_at = $2 WHERE id = $3")
                    .bind(&assignee)
                    .bind(ctx.now_ms)
                    .bind(&case_id)
                    .execute(&mut ctx.conn)
                    .await?;
                let after = load_case(&mut ctx.conn, &case_id).await?;
                ctx.event(
                    &actor,
                    "case.assigned",
                    &format!("case:{case_id}"),
                    Some(json!({"assignee": before.assignee})),
                    Some(json!({"assignee": after.assignee})),
                )
                .await?;
                Ok(after)
            })
        })
        .await
    }

    async fn case_counts_by_status(&self) -> Result<Vec<(CaseStatus, i64)>> {
        let rows =
            sqlx::query("SELECT status, COUNT(*) AS n FROM cases GROUP BY status ORDER BY status")
                .fetch_all(&self.readers)
                .await?;
        rows.iter()
            .map(|row| Ok((parse_col::<CaseStatus>(row, "status")?, row.try_get("n")?)))
            .collect()
    }

    async fn create_user(
        &self,
        name: &str,
        role: Role,
        password_hash: Option<String>,
        actor: &Actor,
    ) -> Result<UserRecord> {
        let (name, actor) = (name.to_string(), actor.clone());
        self.write(move |ctx| {
            Box::pin(async move {
                let taken = sqlx::query("SELECT 1 FROM users WHERE name = $1").bind(&name).fetch_optional(&mut ctx.conn).await?;
                if taken.is_some() {
                    return Err(StoreError::Conflict(format!("a user named {name} already exists")));
                }
                let id: i64 = sqlx::query("INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(&name)
                    .bind(role.as_str())
                    .bind(&password_hash)
                    .bind(ctx.now_ms)
                    .fetch_one(&mut ctx.conn)
                    .await?
                    .try_get(0)?;
                ctx.event(&actor, "user.created", &format!("user:{name}"), None, Some(json!({"role": role, "password_set": password_hash.is_some()})))
                    .await?;
                Ok(UserRecord {
                    id,
                    name,
                    role,
                    password_hash,
                    created_at_ms: ctx.now_ms,
                    disabled: false,
                })
            })
        })
        .await
    }

    async fn find_user(&self, name: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(
            "SELECT id, name, role, password_hash, created_at, disabled FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn create_token(
        &self,
        user: &str,
        token_hash: String,
        label: Option<String>,
        actor: &Actor,
    ) -> Result<TokenRecord> {
        let (user, actor) = (user.to_string(), actor.clone());
        self.write(move |ctx| {
            Box::pin(async move {
                let row = sqlx::query("SELECT id FROM users WHERE name = $1 AND disabled = 0")
                    .bind(&user)
                    .fetch_optional(&mut ctx.conn)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
                let user_id: i64 = row.try_get(0)?;
                let id: i64 = sqlx::query("INSERT INTO tokens (user_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(user_id)
                    .bind(&token_hash)
                    .bind(&label)
                    .bind(ctx.now_ms)
                    .fetch_one(&mut ctx.conn)
                    .await?
                    .try_get(0)?;
                ctx.event(&actor, "token.created", &format!("user:{user}"), None, Some(json!({"token_id": id, "label": label})))
                    .await?;
                Ok(TokenRecord {
                    id,
                    user,
                    label,
                    created_at_ms: ctx.now_ms,
                    revoked_at_ms: None,
                })
            })
        })
        .await
    }

    async fn authenticate_token(&self, token_hash: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role, u.password_hash, u.created_at, u.disabled FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0",
        )
        .bind(token_hash)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn revoke_token(&self, token_id: i64, actor: &Actor) -> Result<()> {
        let actor = actor.clone();
        self.write(move |ctx| {
            Box::pin(async move {
                let row = sqlx::query("SELECT u.name, t.revoked_at FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1")
                    .bind(token_id)
                    .fetch_optional(&mut ctx.conn)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("token {token_id}")))?;
                let user: String = row.try_get(0)?;
                let revoked: Option<i64> = row.try_get(1)?;
                if revoked.is_some() {
                    return Ok(());
                }
                sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
                    .bind(ctx.now_ms)
                    .bind(token_id)
                    .execute(&mut ctx.conn)
                    .await?;
                ctx.event(&actor, "token.revoked", &format!("user:{user}"), None, Some(json!({"token_id": token_id})))
                    .await
            })
        })
        .await
    }

    async fn list_tokens(&self, user: &str) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(
            "SELECT t.id, u.name, t.label, t.created_at, t.revoked_at FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = $1 ORDER BY t.id",
        )
        .bind(user)
        .fetch_all(&self.readers)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(TokenRecord {
                    id: row.try_get(0)?,
                    user: row.try_get(1)?,
                    label: row.try_get(2)?,
                    created_at_ms: row.try_get(3)?,
                    revoked_at_ms: row.try_get(4)?,
                })
            })
            .collect()
    }

    async fn list_events(&self, f: &EventFilter) -> Result<Vec<ChainedEvent>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, kind, entity, before, after, prev_hash, hash FROM events
             WHERE seq > $1 AND ($2 IS NULL OR entity = $2) ORDER BY seq LIMIT $3",
        )
        .bind(f.after_seq)
        .bind(&f.entity)
        .bind(if f.limit == 0 { 100 } else { f.limit } as i64)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn backup_database(&self, dest: &Path) -> Result<()> {
        // VACUUM INTO reads one snapshot and writes a compact, self-contained file; writers
        // carry on meanwhile (WAL), so the backup is online and consistent.
        let dest = dest
            .to_str()
            .ok_or_else(|| StoreError::Unavailable("the backup path is not valid UTF-8".into()))?
            .to_string();
        let mut conn = self.readers.acquire().await?;
        sqlx::query("VACUUM INTO $1")
            .bind(dest)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    fn playbooks(&self) -> &dyn crate::playbooks::PlaybookStore {
        self
    }

    fn comms(&self) -> &dyn crate::comms::CommsStore {
        self
    }

    fn ui(&self) -> &dyn crate::ui::UiStore {
        self
    }

    async fn verify_audit(&self) -> Result<AuditVerdict> {
        // One read transaction, so the head and the events are one snapshot.
        let mut conn = self.readers.acquire().await?;
        exec(&mut conn, "BEGIN").await?;
        let head = read_head(&mut conn).await?;
        let mut verifier = ChainVerifier::new();
        let verdict = {
            let mut rows = sqlx::query("SELECT seq, at, actor, kind, entity, before, after, prev_hash, hash FROM events ORDER BY seq").fetch(&mut *conn);
            let mut broken = None;
            while let Some(row) = rows.try_next().await? {
                let event = event_from_row(&row)?;
                if let Err(b) = verifier.check(&event) {
                    broken = Some(b);
                    break;
                }
            }
            broken
        };
        exec(&mut conn, "COMMIT").await?;
        Ok(match verdict {
            Some(b) => AuditVerdict::Broken(b),
            None => match verifier.finish(&head) {
                Ok(events) => AuditVerdict::Ok { events },
                Err(b) => AuditVerdict::Broken(b),
            },
        })
    }

    async fn social_ingest(
        &self,
        batch: crate::social::SocialBatch,
    ) -> Result<crate::social::SocialOutcome> {
        self.social_ingest_batch(batch).await
    }
    async fn connector_error(&self, name: &str, error: &str, actor: &Actor) -> Result<()> {
        self.social_connector_error(name, error, actor).await
    }
    async fn list_connectors(&self) -> Result<Vec<crate::social::ConnectorRecord>> {
        self.social_connectors().await
    }
    async fn list_mentions(
        &self,
        f: &crate::social::MentionFilter,
    ) -> Result<Vec<crate::social::MentionRecord>> {
        self.social_list_mentions(f).await
    }
    async fn all_engagements(&self) -> Result<Vec<crate::social::EngagementRecord>> {
        self.social_all_engagements().await
    }
    async fn escalate_case_for_mention(
        &self,
        post_id: &str,
        roles: Vec<String>,
        reason: serde_json::Value,
        actor: &Actor,
    ) -> Result<Option<crate::social::EscalationRecord>> {
        self.social_escalate(post_id, roles, reason, actor).await
    }
    async fn case_escalations(
        &self,
        case_id: &str,
    ) -> Result<Vec<crate::social::EscalationRecord>> {
        self.social_case_escalations(case_id).await
    }
}

fn event_from_row(row: &SqliteRow) -> Result<ChainedEvent> {
    Ok(ChainedEvent {
        seq: row.try_get("seq")?,
        at_ms: row.try_get("at")?,
        actor: row.try_get("actor")?,
        kind: row.try_get("kind")?,
        entity: row.try_get("entity")?,
        before: row.try_get("before")?,
        after: row.try_get("after")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}
