//! The SQLite side of the shared store modules in `src/common/` (included by both backends,
//! see docs/postgres.md, "One source for both backends"): the sqlx types they are written
//! against, and the few statement parts whose SQL differs from PostgreSQL's. Every item
//! below the aliases names the SQL difference that justifies it; logic stays in `common/`.

/// The sqlx database (for `QueryBuilder`).
pub(crate) type Db = sqlx::Sqlite;
/// The connection a write runs on ([`super::WriteCtx::conn`]).
pub(crate) type Conn = sqlx::SqliteConnection;
/// A fetched row.
pub(crate) type DbRow = sqlx::sqlite::SqliteRow;
/// The readers' pool.
pub(crate) type Pool = sqlx::SqlitePool;
/// The store the shared modules implement their traits for.
pub(crate) type Backend = super::SqliteStore;

use crate::Result;
use sqlx::{QueryBuilder, Row as _};

/// The queue in queue order: SQLite is pinned to `case_queue_order_idx` (`INDEXED BY`;
/// its planner otherwise may start from `cases`); PostgreSQL has no index hints.
macro_rules! queue_order_index {
    () => {
        "INDEXED BY case_queue_order_idx"
    };
}
pub(crate) use queue_order_index;

/// One agent's queue: SQLite is pinned to `cases_assignee_idx` (`INDEXED BY`).
macro_rules! cases_assignee_index {
    () => {
        "INDEXED BY cases_assignee_idx"
    };
}
pub(crate) use cases_assignee_index;

/// Products match by brand and model case-insensitively: on SQLite both columns are
/// `COLLATE NOCASE` (and so is `products_brand_model_key`); PostgreSQL compares `lower()`.
macro_rules! product_is {
    () => {
        "brand = $1 AND model = $2"
    };
}
pub(crate) use product_is;

/// A product by model alone, case-insensitively (see [`product_is`]).
macro_rules! product_model_is {
    () => {
        "model = $1"
    };
}
pub(crate) use product_model_is;

/// `signal_reports.occurred` (a JSON array of hazard codes, TEXT) holds `$2`: `json_each`
/// on SQLite, the `jsonb` `?` operator on PostgreSQL.
macro_rules! occurred_has_hazard {
    () => {
        "EXISTS (SELECT 1 FROM json_each(sr.occurred) WHERE json_each.value = $2)"
    };
}
pub(crate) use occurred_has_hazard;

/// The next signal number: one more than the highest (the single writer holds the write
/// lock; PostgreSQL uses a sequence, unique across nodes).
pub(crate) async fn next_signal_number(conn: &mut Conn) -> Result<i64> {
    Ok(
        sqlx::query("SELECT COALESCE(MAX(number), 0) + 1 FROM signals")
            .fetch_one(conn)
            .await?
            .try_get(0)?,
    )
}

/// `expr = param`, ignoring case: SQLite's `COLLATE NOCASE` (PostgreSQL compares `lower()`).
macro_rules! eq_nocase {
    ($expr:literal, $param:literal) => {
        concat!($expr, " = ", $param, " COLLATE NOCASE")
    };
}
pub(crate) use eq_nocase;

/// A mention's `hazards` (a JSON array of `{code, modality}`, TEXT) holds the code `$2`:
/// `json_each` and `json_extract` on SQLite (`jsonb_array_elements` on PostgreSQL).
macro_rules! mention_has_hazard {
    () => {
        "EXISTS (SELECT 1 FROM json_each(mentions.hazards) h WHERE json_extract(h.value, '$.code') = $2)"
    };
}
pub(crate) use mention_has_hazard;

/// Nothing to lock: SQLite has one writer, so a change's checks already see every change
/// committed before it. (PostgreSQL takes the statement's row lock, `FOR UPDATE`.)
pub(crate) async fn lock_statement_row(_conn: &mut Conn, _id: &str) -> Result<()> {
    Ok(())
}

/// Nothing to lock: SQLite has one writer. (PostgreSQL serialises the writers of one comms
/// setting across nodes with a transaction-scoped advisory lock.)
pub(crate) async fn lock_key(_conn: &mut Conn, _key: &str) -> Result<()> {
    Ok(())
}

/// Claims of scheduled work (`UPDATE ... WHERE id IN (SELECT ... LIMIT n)`) take no row
/// locks: the single writer's IMMEDIATE transaction already excludes every other claimer.
/// (PostgreSQL: `FOR UPDATE SKIP LOCKED`.)
macro_rules! skip_locked {
    () => {
        ""
    };
}
pub(crate) use skip_locked;

/// Statements of one evaluation that need no answer, sent to SQLite in one round trip as a
/// multi-statement batch (the writer's serial section is bounded by round trips, not by
/// SQL work). PostgreSQL runs them one by one.
pub(crate) struct Batch {
    qb: QueryBuilder<Db>,
    statements: usize,
}

impl Batch {
    pub(crate) fn new() -> Batch {
        Batch {
            qb: QueryBuilder::new(""),
            statements: 0,
        }
    }

    /// Starts a statement; the caller pushes its text and binds.
    pub(crate) fn next(&mut self) -> &mut QueryBuilder<Db> {
        if self.statements > 0 {
            self.qb.push("; ");
        }
        self.statements += 1;
        &mut self.qb
    }

    pub(crate) async fn run(mut self, conn: &mut Conn) -> Result<()> {
        if self.statements > 0 {
            self.qb.build().execute(conn).await?;
        }
        Ok(())
    }
}

/// A claim's outer `UPDATE` needs no re-check of the state its subquery selected: nothing
/// changes it in between under the single writer, and the extra term would make SQLite
/// scan the state index instead of looking the claimed ids up by rowid. (PostgreSQL
/// re-checks it.)
macro_rules! claim_recheck {
    ($condition:literal) => {
        ""
    };
}
pub(crate) use claim_recheck;
