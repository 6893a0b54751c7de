//! The PostgreSQL side of the shared store modules in `src/common/` (included by both
//! backends, see docs/postgres.md, "One source for both backends"): the sqlx types they are
//! written against, and the few statement parts whose SQL differs from SQLite's. Every item
//! below the aliases names the SQL difference that justifies it; logic stays in `common/`.

/// The connection a write runs on ([`super::WriteCtx::conn`]).
pub(crate) type Conn = sqlx::PgConnection;
/// A fetched row.
#[allow(dead_code)]
pub(crate) type Row = sqlx::postgres::PgRow;
/// The store the shared modules implement their traits for.
pub(crate) type Store = super::PgStore;

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
