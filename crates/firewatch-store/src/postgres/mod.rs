//! The PostgreSQL store (issue 8). Same tables, columns and semantics as the SQLite store
//! (`migrations/postgres/` mirrors `migrations/sqlite/`), for several firewatch nodes sharing
//! one database:
//!
//! * every write is one ordinary transaction on a pooled connection (PostgreSQL does its own
//!   group commit); the operation runs in a spawned task, so a caller that goes away does
//!   not cut a transaction in half;
//! * audit events are written to `event_queue` in the transaction of their change, then
//!   chained after COMMIT in group-committed batches under the `chain_head` row lock
//!   (`SELECT ... FOR UPDATE`), so writers on any node extend one linear chain (`chain.rs`);
//! * case and signal numbers come from sequences (unique across nodes; a rolled-back intake
//!   leaves a gap);
//! * scheduled work is claimed with `FOR UPDATE SKIP LOCKED` plus a conditional UPDATE, so a
//!   clock breach or a job fires on one node only.

use crate::records::*;
use crate::{Actor, AuditVerdict, Result, Store, StoreError};
use async_trait::async_trait;
use firewatch_domain::audit::{ChainHead, ChainVerifier, ChainedEvent, EventDraft};
use firewatch_domain::{CaseStatus, Role, Severity, check_transition};
use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

mod chain;
#[allow(clippy::duplicate_mod)]
#[path = "../common/comms.rs"]
mod comms;
pub(crate) mod dialect;
pub mod migrate_data;
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

/// The writer's state inside one transaction.
pub struct WriteCtx {
    pub(crate) conn: Transaction<'static, Postgres>,
    pub(crate) now_ms: i64,
    /// Events of this transaction, chained and inserted at its end under the head's lock.
    pending: Vec<EventDraft>,
}

impl WriteCtx {
    /// The connection of this transaction, for the shared modules in `src/common/`.
    pub(crate) fn conn(&mut self) -> &mut dialect::Conn {
        &mut self.conn
    }

    /// Appends an audit event in the current transaction (chained when it commits).
    pub(crate) async fn event(
        &mut self,
        actor: &Actor,
        kind: &str,
        entity: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<()> {
        self.pending.push(EventDraft {
            at_ms: self.now_ms,
            actor: actor.0.clone(),
            kind: kind.to_string(),
            entity: entity.to_string(),
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
        });
        Ok(())
    }

    /// Takes the next human case number (a sequence: unique across nodes).
    pub(crate) async fn take_case_number(&mut self) -> Result<i64> {
        Ok(sqlx::query("SELECT nextval('case_number_seq')")
            .fetch_one(&mut *self.conn)
            .await?
            .try_get(0)?)
    }

    /// Queues this transaction's events (chained after COMMIT by [`chain::Sequencer`]).
    async fn flush_events(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        chain::enqueue(&mut self.conn, &self.pending).await?;
        self.pending.clear();
        Ok(())
    }
}

#[derive(Clone)]
pub struct PgStore {
    pub(crate) readers: PgPool,
    /// The active playbook (issue 5), applied inside write transactions.
    pub(crate) playbook: std::sync::Arc<crate::playbooks::PlaybookCell>,
    /// Chains committed events (group-committed, see `chain.rs`).
    chain: chain::Sequencer,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Maps PostgreSQL errors that a caller can act on; the rest stay `Database`.
fn pg_error(e: StoreError) -> StoreError {
    if let StoreError::Database(sqlx::Error::Database(db)) = &e {
        match db.code().as_deref() {
            Some("23505") => return StoreError::Conflict(db.message().to_string()),
            Some("40001") | Some("40P01") => {
                return StoreError::Unavailable(format!(
                    "the transaction conflicted with another one, retry: {}",
                    db.message()
                ));
            }
            Some("53100") => return StoreError::Unavailable("the disk is full".into()),
            Some(c) if c.starts_with("08") || c.starts_with("57P") => {
                return StoreError::Unavailable(db.message().to_string());
            }
            _ => {}
        }
    }
    if let StoreError::Database(sqlx::Error::Io(io)) = &e {
        return StoreError::Unavailable(format!("database connection: {io}"));
    }
    e
}

impl PgStore {
    /// Connects to `url` (`postgres://...`) and applies migrations. Concurrent nodes may
    /// start together: sqlx serialises migrations with an advisory lock.
    pub async fn open(url: &str) -> Result<PgStore> {
        Self::open_with(url, 16).await
    }

    /// As [`PgStore::open`], with at most `max_connections` pooled connections.
    pub async fn open_with(url: &str, max_connections: u32) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url)?.application_name("firewatch");
        let readers = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&readers)
            .await?;
        let playbook = playbooks::load_active(&readers).await?;
        Ok(PgStore {
            chain: chain::Sequencer::start(readers.clone()),
            readers,
            playbook: std::sync::Arc::new(crate::playbooks::PlaybookCell::new(playbook)),
        })
    }

    /// The connection pool (for migrate-data and tests).
    pub fn pool(&self) -> &PgPool {
        &self.readers
    }

    /// Runs `op` in one transaction and commits it with its audit events. The operation
    /// runs in its own task: once started it commits or rolls back even if the caller
    /// stops waiting.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        op: impl for<'c> FnOnce(&'c mut WriteCtx) -> BoxFuture<'c, Result<T>> + Send + 'static,
    ) -> Result<T> {
        let pool = self.readers.clone();
        let chain = self.chain.clone();
        let task = tokio::spawn(async move {
            let conn = pool.begin().await.map_err(StoreError::from)?;
            let mut ctx = WriteCtx {
                conn,
                now_ms: now_ms(),
                pending: Vec::new(),
            };
            let outcome = op(&mut ctx).await;
            match outcome {
                Ok(v) => {
                    let has_events = !ctx.pending.is_empty();
                    ctx.flush_events().await?;
                    ctx.conn.commit().await?;
                    if has_events {
                        chain.sync().await;
                    }
                    Ok(v)
                }
                Err(e) => {
                    let _ = ctx.conn.rollback().await;
                    Err(e)
                }
            }
        });
        match task.await {
            Ok(r) => r.map_err(pg_error),
            Err(e) => Err(StoreError::Unavailable(format!(
                "the write task failed: {e}"
            ))),
        }
    }
}

/// The connection holding a leader's advisory lock.
struct PgLeader {
    conn: PgConnection,
}

#[async_trait]
impl crate::leader::LeaderGuard for PgLeader {
    async fn check(&mut self) -> bool {
        let ping = sqlx::query("SELECT 1").execute(&mut self.conn);
        matches!(
            tokio::time::timeout(Duration::from_secs(5), ping).await,
            Ok(Ok(_))
        )
    }
}

async fn read_head(conn: &mut PgConnection) -> Result<ChainHead> {
    let row = sqlx::query("SELECT seq, hash FROM chain_head WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    Ok(ChainHead {
        seq: row.try_get(0)?,
        hash: row.try_get(1)?,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn parse_col<T: FromStr>(row: &PgRow, col: &str) -> Result<T> {
    let s: String = row.try_get(col)?;
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("column {col} holds `{s}`")))
}

fn case_from_row(row: &PgRow) -> Result<CaseRecord> {
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

fn user_from_row(row: &PgRow) -> Result<UserRecord> {
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

fn attachment_from_row(row: &PgRow) -> Result<AttachmentRecord> {
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

async fn load_case(conn: &mut PgConnection, id: &str) -> Result<CaseRecord> {
    let row = sqlx::query(
        "SELECT id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("case {id}")))?;
    case_from_row(&row)
}

/// Called by intake inside its transaction (SQLite's twin runs on the writer's direct
/// path, `sqlite/intake_direct.rs`): the new case gets its evaluation and clocks
/// before the 201 is sent, so they can never be lost. `pre` is the evaluation of
/// `playbooks::pre_evaluate`, computed before the writer so that CEL does not run in the writer's
/// serial section.
async fn after_intake(
    ctx: &mut WriteCtx,
    cell: &crate::playbooks::PlaybookCell,
    receipt: &crate::records::IntakeReceipt,
    pre: playbooks::PreEvaluated,
) -> Result<()> {
    // A reload that landed between the evaluation and this transaction: evaluate again
    // with the playbook now in force (rare; the reload also re-queues stale cases).
    let pb = cell.current();
    let pre = if pre.version == pb.version {
        pre
    } else {
        let eval = pb.playbook.evaluate(&pre.eval.facts);
        let text = playbooks::compact_text(&eval)?;
        playbooks::PreEvaluated {
            eval,
            text,
            version: pb.version,
            case: pre.case,
        }
    };
    let pb = &*pb;
    // The case was just written from the same command: its facts are `pre.facts`, the
    // firm knew when the report was received, and it has no pauses, clocks or policy yet.
    let mut case = pre.case;
    case.id = receipt.case_id.clone();
    case.number = receipt.case_number;
    let loaded = playbooks::Loaded {
        first_received_ms: case.created_at_ms,
        facts: pre.eval.facts.clone(),
        case,
    };
    playbooks::store_evaluation(
        ctx,
        pb,
        loaded,
        pre.eval,
        Some(pre.text),
        &Actor(playbooks::SYSTEM.into()),
    )
    .await?;
    Ok(())
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
        // Two nodes taking the same key at once: the second waits here for the first to
        // commit, then replays its receipt.
        sqlx::query("SELECT pg_advisory_xact_lock(8001, hashtext($1))")
            .bind(key)
            .execute(&mut *ctx.conn)
            .await?;
        let prior = sqlx::query("SELECT request_hash, receipt FROM idempotency WHERE key = $1")
            .bind(key)
            .fetch_optional(&mut *ctx.conn)
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

    let mut qb = sqlx::QueryBuilder::<Postgres>::new(
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
    qb.push(")");
    qb.build().execute(&mut *ctx.conn).await?;
    let mut qb = sqlx::QueryBuilder::<Postgres>::new(
        "INSERT INTO reports (id, case_id, received_at, channel, narrative, language, country, occurred_at, injuries, product, reporter, triage, severity, idempotency_key) VALUES (",
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
    qb.build().execute(&mut *ctx.conn).await?;
    if !cmd.attachments.is_empty() {
        let mut qb = sqlx::QueryBuilder::<Postgres>::new("");
        qb.push("INSERT INTO attachments (id, report_id, sha256, clean_sha256, media_type, size, width, height, filename, created_at) ");
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
        qb.build().execute(&mut *ctx.conn).await?;
    }
    if let Some(key) = &cmd.idempotency_key {
        let mut qb = sqlx::QueryBuilder::<Postgres>::new("");
        qb.push("INSERT INTO idempotency (key, request_hash, receipt, created_at) VALUES (");
        qb.separated(", ")
            .push_bind(key)
            .push_bind(&cmd.request_hash)
            .push_bind(serde_json::to_string(&receipt).expect("serialisable"))
            .push_bind(cmd.received_at_ms);
        qb.push(")");
        qb.build().execute(&mut *ctx.conn).await?;
    }
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
impl Store for PgStore {
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
        self.write(move |ctx| {
            Box::pin(async move {
                let outcome = intake_in_tx(ctx, cmd).await?;
                if let IntakeOutcome::Created(receipt) = &outcome {
                    after_intake(ctx, &cell, receipt, pre).await?;
                }
                Ok(outcome)
            })
        })
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
                    .execute(&mut *ctx.conn)
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
                    .fetch_one(&mut *ctx.conn)
                    .await?
                    .try_get(0)?;
                sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
                    .bind(ctx.now_ms)
                    .bind(&case_id)
                    .execute(&mut *ctx.conn)
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
                            .fetch_optional(&mut *ctx.conn)
                            .await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!("user {name}")));
                    }
                }
                sqlx::query("UPDATE cases SET assignee = $1, updated_at = $2 WHERE id = $3")
                    .bind(&assignee)
                    .bind(ctx.now_ms)
                    .bind(&case_id)
                    .execute(&mut *ctx.conn)
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
                let taken = sqlx::query("SELECT 1 FROM users WHERE name = $1").bind(&name).fetch_optional(&mut *ctx.conn).await?;
                if taken.is_some() {
                    return Err(StoreError::Conflict(format!("a user named {name} already exists")));
                }
                let id: i64 = sqlx::query("INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(&name)
                    .bind(role.as_str())
                    .bind(&password_hash)
                    .bind(ctx.now_ms)
                    .fetch_one(&mut *ctx.conn)
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
                    .fetch_optional(&mut *ctx.conn)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
                let user_id: i64 = row.try_get(0)?;
                let id: i64 = sqlx::query("INSERT INTO tokens (user_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(user_id)
                    .bind(&token_hash)
                    .bind(&label)
                    .bind(ctx.now_ms)
                    .fetch_one(&mut *ctx.conn)
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
                    .fetch_optional(&mut *ctx.conn)
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
                    .execute(&mut *ctx.conn)
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

    async fn backup_database(&self, _dest: &Path) -> Result<()> {
        Err(StoreError::Unavailable(
            "`firewatch backup` copies SQLite installations only; back a PostgreSQL database up with pg_dump (and copy the blob directory)".into(),
        ))
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
        // Events committed before this call are chained first.
        self.chain.sync().await;
        // One REPEATABLE READ transaction, so the head and the events are one snapshot.
        let mut conn = self.readers.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *conn)
            .await?;
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
        conn.commit().await?;
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

    async fn try_lead(&self, name: &str) -> Result<Option<crate::leader::Leadership>> {
        use sqlx::Connection;
        // A dedicated connection, outside the pool: the session lock lives as long as it.
        let options = self.readers.connect_options().as_ref().clone();
        let mut conn = PgConnection::connect_with(&options).await?;
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock(8002, hashtext($1))")
            .bind(name)
            .fetch_one(&mut conn)
            .await?
            .try_get(0)?;
        if !got {
            let _ = conn.close().await;
            return Ok(None);
        }
        Ok(Some(crate::leader::Leadership::held_by(Box::new(
            PgLeader { conn },
        ))))
    }
}

fn event_from_row(row: &PgRow) -> Result<ChainedEvent> {
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
