//! The PostgreSQL side of the shared store modules in `src/common/` (included by both
//! backends, see docs/postgres.md, "One source for both backends"): the sqlx types they are
//! written against, and the few statement parts whose SQL differs from SQLite's. Every item
//! below the aliases names the SQL difference that justifies it; logic stays in `common/`.

/// The sqlx database (for `QueryBuilder`).
pub(crate) type Db = sqlx::Postgres;
/// The connection a write runs on ([`super::WriteCtx::conn`]).
pub(crate) type Conn = sqlx::PgConnection;
/// A fetched row.
pub(crate) type DbRow = sqlx::postgres::PgRow;
/// The readers' pool.
pub(crate) type Pool = sqlx::PgPool;
/// The store the shared modules implement their traits for.
pub(crate) type Backend = super::PgStore;

use crate::Result;
use sqlx::{QueryBuilder, Row as _};

/// The queue in queue order: no index hint (PostgreSQL has none; its planner picks
/// `case_queue_order_idx` itself). SQLite says `INDEXED BY`.
macro_rules! queue_order_index {
    () => {
        ""
    };
}
pub(crate) use queue_order_index;

/// One agent's queue: no index hint (SQLite says `INDEXED BY cases_assignee_idx`).
macro_rules! cases_assignee_index {
    () => {
        ""
    };
}
pub(crate) use cases_assignee_index;

/// Products match by brand and model case-insensitively: PostgreSQL compares `lower()`
/// (the `products_brand_model_key` index is on `lower(brand), lower(model)`); SQLite's
/// columns are `COLLATE NOCASE`.
macro_rules! product_is {
    () => {
        "lower(brand) = lower($1) AND lower(model) = lower($2)"
    };
}
pub(crate) use product_is;

/// A product by model alone, case-insensitively (`products_model_idx` is on `lower(model)`).
macro_rules! product_model_is {
    () => {
        "lower(model) = lower($1)"
    };
}
pub(crate) use product_model_is;

/// `signal_reports.occurred` (a JSON array of hazard codes, TEXT) holds `$2`: the `jsonb`
/// `?` operator (SQLite: `json_each`).
macro_rules! occurred_has_hazard {
    () => {
        "sr.occurred::jsonb ? $2"
    };
}
pub(crate) use occurred_has_hazard;

/// The next signal number, from `signal_number_seq`: unique across nodes (SQLite's single
/// writer takes one more than the highest).
pub(crate) async fn next_signal_number(conn: &mut Conn) -> Result<i64> {
    Ok(sqlx::query("SELECT nextval('signal_number_seq')")
        .fetch_one(conn)
        .await?
        .try_get(0)?)
}

/// `expr = param`, ignoring case: PostgreSQL compares `lower()` (SQLite: `COLLATE NOCASE`).
macro_rules! eq_nocase {
    ($expr:literal, $param:literal) => {
        concat!("lower(", $expr, ") = lower(", $param, ")")
    };
}
pub(crate) use eq_nocase;

/// A mention's `hazards` (a JSON array of `{code, modality}`, TEXT) holds the code `$2`:
/// `jsonb_array_elements` on PostgreSQL (SQLite: `json_each`).
macro_rules! mention_has_hazard {
    () => {
        "EXISTS (SELECT 1 FROM jsonb_array_elements(mentions.hazards::jsonb) h WHERE h->>'code' = $2)"
    };
}
pub(crate) use mention_has_hazard;

/// Takes a statement's row lock until the transaction ends (`FOR UPDATE`): writers run
/// concurrently on PostgreSQL, so a change's status, version and "already decided" checks
/// must see every change committed before it. SQLite's single writer needs none.
pub(crate) async fn lock_statement_row(conn: &mut Conn, id: &str) -> Result<()> {
    sqlx::query("SELECT id FROM statements WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| crate::StoreError::NotFound(format!("statement {id}")))?;
    Ok(())
}

/// Serialises the writers of one comms setting (a template's versions, the profile, a
/// subject's facts) across nodes until the transaction ends (`pg_advisory_xact_lock`), so
/// the `before` of its audit event is the value the change replaced. SQLite's single
/// writer needs none.
pub(crate) async fn lock_key(conn: &mut Conn, key: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(8003, hashtext($1))")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Claims of scheduled work (`UPDATE ... WHERE id IN (SELECT ... LIMIT n)`) skip rows
/// another node is claiming: `FOR UPDATE SKIP LOCKED` (SQLite's single writer needs none).
macro_rules! skip_locked {
    () => {
        " FOR UPDATE SKIP LOCKED"
    };
}
pub(crate) use skip_locked;

/// Statements of one evaluation that need no answer, sent as ONE statement: each is a
/// data-modifying CTE (`WITH b0 AS (...), b1 AS (...) SELECT 1`), so the batch costs one
/// round trip (SQLite sends them as one batch). Sound because the statements of one batch
/// touch different tables and none reads rows another writes: the parts of one statement
/// share its snapshot. Row triggers (`case_queue`) and foreign keys run at its end.
pub(crate) struct Batch {
    query: QueryBuilder<Db>,
    statements: usize,
}

impl Batch {
    pub(crate) fn new() -> Batch {
        Batch {
            query: QueryBuilder::new("WITH "),
            statements: 0,
        }
    }

    /// Starts a statement; the caller pushes its text and binds.
    pub(crate) fn next(&mut self) -> &mut QueryBuilder<Db> {
        if self.statements > 0 {
            self.query.push("), ");
        }
        self.query.push(format_args!("b{} AS (", self.statements));
        self.statements += 1;
        &mut self.query
    }

    pub(crate) async fn run(mut self, conn: &mut Conn) -> Result<()> {
        if self.statements == 0 {
            return Ok(());
        }
        self.query.push(") SELECT 1");
        self.query.build().execute(&mut *conn).await?;
        Ok(())
    }
}

/// A claim's outer `UPDATE` re-checks the state its subquery selected: under READ
/// COMMITTED another node may have changed the row between the subquery's snapshot and the
/// lock, and PostgreSQL re-evaluates only the outer `WHERE` on the committed row, so each
/// claim fires once. (SQLite's single writer needs no re-check.)
macro_rules! claim_recheck {
    ($condition:literal) => {
        concat!(" AND ", $condition)
    };
}
pub(crate) use claim_recheck;
