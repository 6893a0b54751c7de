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
use crate::{Actor, AuditVerdict, Result, StoreError};
use async_trait::async_trait;
use firewatch_domain::audit::{ChainHead, EventDraft};
use futures_util::future::BoxFuture;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
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
#[allow(clippy::duplicate_mod)]
#[path = "../common/store.rs"]
mod store;
// Shared with the other backend: compiled once per backend, on purpose (src/common/).
#[allow(clippy::duplicate_mod)]
#[path = "../common/ui.rs"]
mod ui;

use store::title_of;

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

/// The [`Store`] methods whose machinery differs per backend, called by the shared
/// `impl Store` in `common/store.rs`.
impl PgStore {
    async fn backend_intake(&self, cmd: IntakeCommand) -> Result<IntakeOutcome> {
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

    async fn backend_backup(&self, _dest: &Path) -> Result<()> {
        Err(StoreError::Unavailable(
            "`firewatch backup` copies SQLite installations only; back a PostgreSQL database up with pg_dump (and copy the blob directory)".into(),
        ))
    }

    async fn backend_verify_audit(&self) -> Result<AuditVerdict> {
        // Events committed before this call are chained first.
        self.chain.sync().await;
        // One REPEATABLE READ transaction, so the head and the events are one snapshot.
        let mut conn = self.readers.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *conn)
            .await?;
        let verdict = store::verify_chain(&mut conn).await?;
        conn.commit().await?;
        Ok(verdict)
    }

    async fn backend_try_lead(&self, name: &str) -> Result<Option<crate::leader::Leadership>> {
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

/// Intake in three round trips (without an idempotency key, two): the key's lock, the key's
/// lookup together with the case number, and one statement of data-modifying CTEs for the
/// case, the report, its attachments, the key's receipt and the signal rows (`count_report`).
async fn intake_in_tx(ctx: &mut WriteCtx, cmd: IntakeCommand) -> Result<IntakeOutcome> {
    let number: i64 = if let Some(key) = &cmd.idempotency_key {
        // Two nodes taking the same key at once: the second waits here for the first to
        // commit, then replays its receipt. The lookup must be a statement of its own, after
        // the lock: under READ COMMITTED its snapshot then sees the first node's commit.
        sqlx::query("SELECT pg_advisory_xact_lock(8001, hashtext($1))")
            .bind(key)
            .execute(&mut *ctx.conn)
            .await?;
        // The case number is taken only when the key is new (CASE does not evaluate
        // `nextval` otherwise), so a replay leaves no gap in the numbers.
        let row = sqlx::query(
            "SELECT i.request_hash, i.receipt, CASE WHEN i.key IS NULL THEN nextval('case_number_seq') END \
             FROM (VALUES (1)) AS one (x) LEFT JOIN idempotency i ON i.key = $1",
        )
        .bind(key)
        .fetch_one(&mut *ctx.conn)
        .await?;
        let hash: Option<String> = row.try_get(0)?;
        if let Some(hash) = hash {
            if hash != cmd.request_hash {
                return Ok(IntakeOutcome::KeyReused);
            }
            let receipt: String = row.try_get(1)?;
            let receipt =
                serde_json::from_str(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            return Ok(IntakeOutcome::Replayed(receipt));
        }
        row.try_get(2)?
    } else {
        ctx.take_case_number().await?
    };
    let case_id = uuid::Uuid::now_v7().to_string();
    let report_id = uuid::Uuid::now_v7().to_string();
    let r = &cmd.report;
    let hazards_json = serde_json::to_string(&cmd.hazards).expect("strings serialise");
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

    // One statement: its parts see the same snapshot and none reads another's rows; the
    // foreign keys (reports -> cases, attachments -> reports, signal_reports -> reports) and
    // the `case_queue` trigger are checked and run at its end, when all rows are in.
    let mut qb = sqlx::QueryBuilder::<Postgres>::new(
        "WITH c AS (INSERT INTO cases (id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at) VALUES (",
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
    qb.push(")), r AS (INSERT INTO reports (id, case_id, received_at, channel, narrative, language, country, occurred_at, injuries, product, reporter, triage, severity, idempotency_key) VALUES (");
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
    qb.push("))");
    if !cmd.attachments.is_empty() {
        qb.push(", a AS (INSERT INTO attachments (id, report_id, sha256, clean_sha256, media_type, size, width, height, filename, created_at) ");
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
        qb.push(")");
    }
    if let Some(key) = &cmd.idempotency_key {
        qb.push(
            ", i AS (INSERT INTO idempotency (key, request_hash, receipt, created_at) VALUES (",
        );
        qb.separated(", ")
            .push_bind(key)
            .push_bind(&cmd.request_hash)
            .push_bind(serde_json::to_string(&receipt).expect("serialisable"))
            .push_bind(cmd.received_at_ms);
        qb.push("))");
    }
    count_report(&mut qb, ctx.now_ms, &cmd, &case_id, &report_id);
    qb.push(" SELECT 1");
    qb.build().execute(&mut *ctx.conn).await?;
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

/// Counts one new report in PostgreSQL's intake statement, as CTEs appended to `qb` (which
/// holds `WITH ...`): the product lookup (`p`: the first candidate that names one product,
/// as `signals::resolve_product`), then, only when it found one, the upsert of the counters
/// (the product's report total and one row per hazard), the report's attribution and the
/// product's re-evaluation mark. Indexed lookups only; no scan. SQLite counts on its
/// writer's direct path (`sqlite/intake_direct.rs`, `count_report`), with the same rows.
pub(crate) fn count_report(
    qb: &mut sqlx::QueryBuilder<Postgres>,
    now_ms: i64,
    cmd: &IntakeCommand,
    case_id: &str,
    report_id: &str,
) {
    let product_json = serde_json::to_string(&cmd.report.product).unwrap_or_default();
    let a = crate::signals::Attribution::of_report(
        &cmd.triage_json,
        &product_json,
        cmd.report.country.as_deref(),
        cmd.received_at_ms,
    );
    if a.candidates.is_empty() {
        return;
    }
    let (brands, models): (Vec<String>, Vec<String>) = a.candidates.iter().cloned().unzip();
    // A candidate without a brand matches by model alone, and only when one product has it
    // (`resolve_product`: `LIMIT 2`, exactly one row).
    qb.push(", p AS (SELECT found.id FROM unnest(");
    qb.push_bind(brands);
    qb.push("::text[], ");
    qb.push_bind(models);
    qb.push(concat!(
        "::text[]) WITH ORDINALITY AS cand (brand, model, ord) \
         CROSS JOIN LATERAL (SELECT CASE WHEN cand.brand = '' THEN \
         (SELECT CASE WHEN count(*) = 1 THEN min(m.id) END FROM (SELECT id FROM products WHERE ",
        "lower(model) = lower(cand.model)",
        " LIMIT 2) AS m) \
         ELSE (SELECT id FROM products WHERE ",
        "lower(brand) = lower(cand.brand) AND lower(model) = lower(cand.model)",
        " LIMIT 1) END AS id) AS found \
         WHERE found.id IS NOT NULL ORDER BY cand.ord LIMIT 1)",
    ));
    let (hazards, modalities): (Vec<&str>, Vec<&str>) =
        std::iter::once((crate::signals::ALL_REPORTS, "report"))
            .chain(a.occurred.iter().map(|h| (h.as_str(), "occurred")))
            .chain(a.potential.iter().map(|h| (h.as_str(), "potential")))
            .unzip();
    let hazards: Vec<String> = hazards.into_iter().map(str::to_string).collect();
    let modalities: Vec<String> = modalities.into_iter().map(str::to_string).collect();
    qb.push(", sc AS (INSERT INTO signal_counts (product_id, hazard, modality, market, day, n) SELECT p.id, h.hazard, h.modality, ");
    qb.push_bind(a.market.clone());
    qb.push(", ");
    qb.push_bind(a.day);
    qb.push(", 1 FROM p CROSS JOIN unnest(");
    qb.push_bind(hazards);
    qb.push("::text[], ");
    qb.push_bind(modalities);
    qb.push(
        "::text[]) AS h (hazard, modality) \
         ON CONFLICT (product_id, hazard, modality, market, day) DO UPDATE SET n = signal_counts.n + excluded.n)",
    );
    qb.push(", sr AS (INSERT INTO signal_reports (report_id, case_id, product_id, market, day, occurred, potential) SELECT ");
    qb.push_bind(report_id.to_string());
    qb.push(", ");
    qb.push_bind(case_id.to_string());
    qb.push(", p.id, ");
    qb.push_bind(a.market.clone());
    qb.push(", ");
    qb.push_bind(a.day);
    qb.push(", ");
    qb.push_bind(serde_json::to_string(&a.occurred).unwrap_or_else(|_| "[]".into()));
    qb.push(", ");
    qb.push_bind(serde_json::to_string(&a.potential).unwrap_or_else(|_| "[]".into()));
    qb.push(" FROM p)");
    qb.push(", sd AS (INSERT INTO signal_dirty (product_id, marked_at) SELECT p.id, ");
    qb.push_bind(now_ms);
    qb.push(" FROM p ON CONFLICT (product_id) DO UPDATE SET marked_at = excluded.marked_at)");
}
