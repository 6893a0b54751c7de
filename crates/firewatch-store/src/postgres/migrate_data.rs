//! `firewatch migrate-data --from SQLITE_PATH --to postgres://...` (issue 8): copies a whole
//! SQLite installation into an empty PostgreSQL database in one transaction.
//!
//! Every table of the SQLite file is copied with its ids, in foreign-key order (read from
//! PostgreSQL's catalog), including the audit log with its hashes and the chain head, so
//! `firewatch audit verify` passes on the target. Identity columns and the case/signal
//! number sequences are moved past the copied values. Refused, changing nothing, when the
//! target holds data, when the two databases are not at the same migration level, or when
//! the SQLite file has a table PostgreSQL lacks. Attachment files are not in the database:
//! the caller copies the blob directory.

use crate::{Result, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, PgConnection, Row};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Tables kept by triggers from other tables (migration 0006's queue order): not copied,
/// the target's triggers rebuild them while cases and clocks are copied.
const DERIVED: &[&str] = &["case_queue"];

/// Rows copied per table, in copy order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateSummary {
    pub tables: Vec<(String, u64)>,
}

fn refused(msg: impl Into<String>) -> StoreError {
    StoreError::Conflict(msg.into())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Int,
    Float,
    Text,
}

enum Val {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
}

/// Copies the SQLite database at `from` into the PostgreSQL database at `to` (migrated here
/// first).
pub async fn sqlite_to_postgres(from: &Path, to: &str) -> Result<MigrateSummary> {
    if !from.exists() {
        return Err(StoreError::NotFound(format!(
            "SQLite database {}",
            from.display()
        )));
    }
    let sqlite = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(from)
                .read_only(true)
                .create_if_missing(false),
        )
        .await?;
    // Applies the PostgreSQL migrations (a no-op when already applied).
    let target = super::PgStore::open_with(to, 2).await?;
    let pg_options = target.pool().connect_options().as_ref().clone();
    target.pool().close().await;
    let mut pg = PgConnection::connect_with(&pg_options).await?;

    // Same migration level on both sides.
    let versions = |rows: Vec<i64>| rows.into_iter().collect::<BTreeSet<i64>>();
    let src_versions = versions(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&sqlite)
            .await?,
    );
    let dst_versions = versions(
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&mut pg)
            .await?,
    );
    if src_versions != dst_versions {
        return Err(refused(format!(
            "the SQLite database has migrations {src_versions:?} and PostgreSQL {dst_versions:?}; run `firewatch migrate` on the SQLite installation with this binary first (or this build lacks PostgreSQL migrations for some SQLite ones)"
        )));
    }

    // Tables: every SQLite table must exist in PostgreSQL.
    let src_tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&sqlite)
    .await?;
    let mut columns: BTreeMap<String, Vec<(String, Ty)>> = BTreeMap::new();
    for row in sqlx::query(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&mut pg)
    .await?
    {
        let (table, column, ty): (String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let ty = match ty.as_str() {
            "bigint" | "integer" | "smallint" => Ty::Int,
            "double precision" | "real" => Ty::Float,
            "text" | "character varying" => Ty::Text,
            other => {
                return Err(refused(format!(
                    "column {table}.{column} has type {other}, which migrate-data does not copy"
                )));
            }
        };
        columns.entry(table).or_default().push((column, ty));
    }
    for t in &src_tables {
        if !columns.contains_key(t) {
            return Err(refused(format!(
                "table {t} exists in the SQLite database but not in PostgreSQL; nothing was copied"
            )));
        }
    }

    // Foreign-key order.
    let mut deps: BTreeMap<String, BTreeSet<String>> = src_tables
        .iter()
        .map(|t| (t.clone(), BTreeSet::new()))
        .collect();
    for row in sqlx::query(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
         WHERE contype = 'f' AND connamespace = current_schema()::regnamespace",
    )
    .fetch_all(&mut pg)
    .await?
    {
        let (child, parent): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if child != parent
            && deps.contains_key(&parent)
            && let Some(d) = deps.get_mut(&child)
        {
            d.insert(parent);
        }
    }
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    while order.len() < deps.len() {
        let ready: Vec<String> = deps
            .iter()
            .filter(|(t, d)| !done.contains(*t) && d.iter().all(|p| done.contains(p)))
            .map(|(t, _)| t.clone())
            .collect();
        if ready.is_empty() {
            return Err(refused("the foreign keys form a cycle; nothing was copied"));
        }
        for t in ready {
            done.insert(t.clone());
            order.push(t);
        }
    }

    // Derived tables are rebuilt by the target's own triggers while their sources are copied.
    order.retain(|t| !DERIVED.contains(&t.as_str()));

    let mut tx = pg.begin().await?;
    // The target must be empty (the chain head at its seed).
    for t in &order {
        if t == "chain_head" {
            continue;
        }
        let q = format!("SELECT EXISTS (SELECT 1 FROM {t})");
        let any: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(q))
            .fetch_one(&mut *tx)
            .await?;
        if any {
            return Err(refused(format!(
                "the target database is not empty (table {t} has rows); migrate-data copies into an empty database only"
            )));
        }
    }
    let head_seq: i64 = sqlx::query_scalar("SELECT seq FROM chain_head WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    if head_seq != 0 {
        return Err(refused(
            "the target database already has an audit log; migrate-data copies into an empty database only",
        ));
    }

    let mut summary = Vec::new();
    for t in &order {
        let cols = &columns[t];
        if t == "chain_head" {
            let row = sqlx::query("SELECT seq, hash FROM chain_head WHERE id = 1")
                .fetch_one(&sqlite)
                .await?;
            let (seq, hash): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
            sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(seq)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
            summary.push((t.clone(), 1));
            continue;
        }
        let select_list: Vec<String> = cols
            .iter()
            .map(|(c, ty)| match ty {
                Ty::Int => format!("\"{c}\""),
                Ty::Float => format!("CAST(\"{c}\" AS REAL)"),
                Ty::Text => format!("CAST(\"{c}\" AS TEXT)"),
            })
            .collect();
        let col_list: Vec<String> = cols.iter().map(|(c, _)| format!("\"{c}\"")).collect();
        let select = format!("SELECT {} FROM \"{t}\"", select_list.join(", "));
        let rows = sqlx::query(sqlx::AssertSqlSafe(select))
            .fetch_all(&sqlite)
            .await?;
        let mut values: Vec<Vec<Val>> = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut v = Vec::with_capacity(cols.len());
            for (i, (_, ty)) in cols.iter().enumerate() {
                v.push(match ty {
                    Ty::Int => Val::Int(row.try_get(i)?),
                    Ty::Float => Val::Float(row.try_get(i)?),
                    Ty::Text => Val::Text(row.try_get(i)?),
                });
            }
            values.push(v);
        }
        let per_stmt = (60_000 / cols.len().max(1)).max(1);
        for chunk in values.chunks(per_stmt) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Postgres>::new(format!(
                "INSERT INTO \"{t}\" ({}) ",
                col_list.join(", ")
            ));
            qb.push_values(chunk, |mut b, row| {
                for v in row {
                    match v {
                        Val::Int(x) => b.push_bind(*x),
                        Val::Float(x) => b.push_bind(*x),
                        Val::Text(x) => b.push_bind(x.clone()),
                    };
                }
            });
            qb.build().execute(&mut *tx).await?;
        }
        summary.push((t.clone(), values.len() as u64));
    }

    // Identity columns and number sequences continue after the copied values.
    for (t, cols) in &columns {
        if !order.contains(t) {
            continue;
        }
        for (c, ty) in cols {
            if *ty != Ty::Int {
                continue;
            }
            let q = format!(
                "SELECT setval(seq, (SELECT COALESCE(MAX(\"{c}\"), 1) FROM \"{t}\"), (SELECT COUNT(*) > 0 FROM \"{t}\"))
                 FROM (SELECT pg_get_serial_sequence('\"{t}\"', '{c}') AS seq) s WHERE seq IS NOT NULL"
            );
            sqlx::query(sqlx::AssertSqlSafe(q))
                .fetch_all(&mut *tx)
                .await?;
        }
    }
    for (seq, table) in [
        ("case_number_seq", "cases"),
        ("signal_number_seq", "signals"),
    ] {
        if order.iter().any(|t| t == table) {
            let q = format!(
                "SELECT setval('{seq}', (SELECT COALESCE(MAX(number), 1) FROM {table}), (SELECT COUNT(*) > 0 FROM {table}))"
            );
            sqlx::query(sqlx::AssertSqlSafe(q))
                .fetch_one(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    sqlite.close().await;
    Ok(MigrateSummary { tables: summary })
}
