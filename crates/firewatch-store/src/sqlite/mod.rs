//! The SQLite store: one writer connection fed by a queue (group commit: every write that
//! arrives while a transaction is committing joins the next one), and a pool of WAL
//! readers. A call that returned has reached the disk: the writer commits with
//! `synchronous = NORMAL` and `wal_sync` flushes the WAL before any caller is answered, so
//! the writer can run the next group while the disk flushes the last one.

use crate::records::*;
use crate::{Actor, AuditVerdict, Result, StoreError};
use firewatch_domain::audit::{ChainHead, EventDraft};
use futures_util::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection, SqlitePool};
use std::path::Path;
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
#[allow(clippy::duplicate_mod)]
#[path = "../common/store.rs"]
mod store;
mod wal_sync;
// Shared with the other backend: compiled once per backend, on purpose (src/common/).
#[allow(clippy::duplicate_mod)]
#[path = "../common/ui.rs"]
mod ui;

pub(crate) use direct::DirectCtx;
use direct::Statements;
use store::title_of;

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
    /// The direct path's prepared statements on this connection.
    stmts: Statements,
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
}

use wal_sync::{Deliver, WalSync};
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

/// The writer's connection: COMMIT writes the WAL frames without waiting for the disk;
/// [`WalSync`] flushes them before anyone is told the write is stored (see `wal_sync`).
/// The writer never checkpoints (see [`checkpointer`]).
fn writer_options(path: &Path) -> SqliteConnectOptions {
    options(path)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("wal_autocheckpoint", "0")
}

/// Checkpoints the WAL from a connection of its own, so the writer never copies pages into
/// the database file nor waits for that file's fsync (SQLite's auto-checkpoint would do both
/// inside a COMMIT on the writer, about a tenth of its time under load). PASSIVE: it never
/// waits for, nor blocks, the writer or the readers. Runs while the store's writer lives.
///
/// `wal` is the file [`WalSync`] flushes (symlinks resolved as SQLite does).
async fn checkpointer(
    path: std::path::PathBuf,
    wal: std::path::PathBuf,
    writer: mpsc::WeakSender<Job>,
) {
    let mut conn: Option<SqliteConnection> = None;
    let mut last_seen = None;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if writer.upgrade().is_none() {
            break;
        }
        // Only when something was written since the last pass.
        let modified = std::fs::metadata(&wal).and_then(|m| m.modified()).ok();
        if modified.is_none() || modified == last_seen {
            continue;
        }
        if conn.is_none() {
            conn = SqliteConnection::connect_with(&options(&path)).await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *c)
            .await
        {
            Ok(_) => last_seen = modified,
            Err(e) => {
                // Disk full or I/O error: the WAL keeps the data; try again on a fresh
                // connection next time.
                tracing::warn!(error = %e, "WAL checkpoint failed; will retry");
                conn = None;
            }
        }
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
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
        let conn = SqliteConnection::connect_with(&writer_options(path)).await?;
        let wal_sync = WalSync::start(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot start the WAL flusher: {e}")))?;
        let (tx, rx) = mpsc::channel::<Job>(4096);
        tokio::spawn(checkpointer(
            path.to_path_buf(),
            wal_sync.wal().to_path_buf(),
            tx.downgrade(),
        ));
        // The writer has its own thread: direct jobs and COMMIT's WAL writes block it, never the
        // server's runtime. sqlx jobs run on a current-thread runtime there.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        std::thread::Builder::new()
            .name("firewatch-writer".into())
            .spawn({
                let path = path.to_path_buf();
                move || rt.block_on(writer_loop(conn, path, rx, wal_sync))
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
    wal_sync: WalSync,
) {
    let mut ctx = WriteCtx {
        conn,
        head: ChainHead::default(),
        now_ms: 0,
        pending: Vec::new(),
        next_case_number: None,
        stmts: Statements::default(),
    };
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if !run_batch(&mut ctx, batch, &wal_sync).await {
            // A transaction that could not start or commit (disk full, I/O error, lock) can
            // leave SQLite's pager in its error state for as long as this connection lives;
            // a fresh connection starts clean once the cause is gone. If it cannot open yet,
            // the old one stays and the next failure tries again.
            match SqliteConnection::connect_with(&writer_options(&path)).await {
                Ok(fresh) => {
                    // Prepared statements belong to the old handle: finalize them there; the
                    // direct path prepares them again on the new one when first used.
                    let _ = with_direct(&mut ctx, |d| d.stmts.finalize_all()).await;
                    let stale = std::mem::replace(&mut ctx.conn, fresh);
                    let _ = stale.close().await;
                    tracing::info!("writer connection reopened after a failed transaction");
                }
                Err(e) => tracing::warn!(error = %e, "writer connection could not be reopened yet"),
            }
        }
    }
    // The direct path's statements go before the connection closes.
    let _ = with_direct(&mut ctx, |d| d.stmts.finalize_all()).await;
}

/// Locks the writer connection's handle away from sqlx's worker thread (one hand-off) and
/// runs `f` with direct SQLite calls on this thread.
async fn with_direct<R>(ctx: &mut WriteCtx, f: impl FnOnce(&mut DirectCtx<'_>) -> R) -> Result<R> {
    let WriteCtx {
        conn,
        head,
        now_ms,
        pending,
        next_case_number,
        stmts,
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
async fn run_batch(ctx: &mut WriteCtx, batch: Vec<Job>, wal_sync: &WalSync) -> bool {
    if wal_sync.has_failed() {
        // After a failed flush nothing can be confirmed as stored (see `wal_sync`).
        for job in batch {
            (job.fail)(wal_sync::final_failure());
        }
        return true;
    }
    let jobs = batch.len();
    let mut queue: std::collections::VecDeque<Job> = batch.into();
    ctx.now_ms = now_ms();
    ctx.pending.clear();
    ctx.next_case_number = None;
    // BEGIN IMMEDIATE takes the write lock up front (honouring busy_timeout), and the chain
    // head is read inside it, so another process writing the same file (the CLI while a
    // server runs) cannot fork the chain. Each job runs in its own savepoint.
    let begin = with_direct(ctx, |d| {
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
                let ran = with_direct(ctx, |d| {
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
        None => with_direct(ctx, |d| {
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
            // Committed; the callers hear so once the frames are flushed.
            wal_sync.after_flush(deliveries);
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

/// The [`Store`] methods whose machinery differs per backend, called by the shared
/// `impl Store` in `common/store.rs`.
impl SqliteStore {
    async fn backend_intake(&self, cmd: IntakeCommand) -> Result<IntakeOutcome> {
        let pre = playbooks::pre_evaluate(&self.playbook.current(), &cmd)?;
        let cell = self.playbook.clone();
        // The hot path: direct SQLite calls on the writer thread (see `direct`).
        self.write_direct(move |d| intake_direct::intake(d, &cell, cmd, pre))
            .await
    }

    async fn backend_backup(&self, dest: &Path) -> Result<()> {
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

    async fn backend_verify_audit(&self) -> Result<AuditVerdict> {
        // One read transaction, so the head and the events are one snapshot.
        let mut conn = self.readers.acquire().await?;
        exec(&mut conn, "BEGIN").await?;
        let verdict = store::verify_chain(&mut conn).await?;
        exec(&mut conn, "COMMIT").await?;
        Ok(verdict)
    }

    /// One process owns a SQLite file's writer: it always leads.
    async fn backend_try_lead(&self, _name: &str) -> Result<Option<crate::leader::Leadership>> {
        Ok(Some(crate::leader::Leadership::always()))
    }
}

/// Intake inside a job that is already in the writer's transaction (a social mention that
/// opens a case): the rows and events of [`intake_direct::intake_rows`], the one SQLite
/// intake, run on the same connection and transaction.
async fn intake_in_tx(ctx: &mut WriteCtx, cmd: IntakeCommand) -> Result<IntakeOutcome> {
    with_direct(ctx, |d| intake_direct::intake_rows(d, cmd)).await?
}
