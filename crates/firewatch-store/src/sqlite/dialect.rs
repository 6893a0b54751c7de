//! The SQLite side of the shared store modules in `src/common/` (included by both backends,
//! see docs/postgres.md, "One source for both backends"): the sqlx types they are written
//! against, and the few statement parts whose SQL differs from PostgreSQL's. Every item
//! below the aliases names the SQL difference that justifies it; logic stays in `common/`.

/// The connection a write runs on ([`super::WriteCtx::conn`]).
pub(crate) type Conn = sqlx::SqliteConnection;
/// A fetched row.
#[allow(dead_code)]
pub(crate) type Row = sqlx::sqlite::SqliteRow;
/// The store the shared modules implement their traits for.
pub(crate) type Store = super::SqliteStore;

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
