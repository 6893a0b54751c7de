//! Direct, synchronous SQLite calls on the writer's own connection, for the hot write path
//! (intake). sqlx runs every statement on its connection's worker thread and wakes the caller
//! through a channel: two thread hand-offs per statement, which dominated the single writer's
//! time. The writer thread instead locks the connection's handle once per run of direct jobs
//! (`SqliteConnection::lock_handle`) and steps prepared statements itself, so a whole group
//! of intakes costs O(1) hand-offs. The connection, its pragmas (WAL, foreign keys, busy
//! timeout; flushed by `wal_sync` before callers are answered) and the transaction are the same as for the sqlx path.

use crate::{Result, StoreError};
use firewatch_domain::audit::{ChainHead, ChainedEvent, EventDraft};
use libsqlite3_sys as ffi;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};

/// A value bound to a statement parameter. Text is borrowed: it is bound with
/// `SQLITE_STATIC` and the statement is reset before the call returns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Int(v as i64)
    }
}
impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}
impl<'a, T> From<Option<T>> for Value<'a>
where
    T: Into<Value<'a>>,
{
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Value::Null, Value::Text)
    }
}

/// `v(x)`: any bindable value as a [`Value`].
pub(crate) fn v<'a>(x: impl Into<Value<'a>>) -> Value<'a> {
    x.into()
}

/// A SQLite error from a direct call, carried as a `sqlx::Error::Database` so that
/// [`StoreError`]'s mapping (disk full, locked, I/O error, read-only) applies unchanged.
#[derive(Debug)]
pub(crate) struct DirectError {
    code: c_int,
    message: String,
}

impl std::fmt::Display for DirectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.code, self.message)
    }
}

impl std::error::Error for DirectError {}

impl sqlx::error::DatabaseError for DirectError {
    fn message(&self) -> &str {
        &self.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.to_string()))
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> sqlx::error::ErrorKind {
        match self.code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                sqlx::error::ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => sqlx::error::ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => sqlx::error::ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => sqlx::error::ErrorKind::CheckViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

/// The error of a failed call; `code` is its (extended) result code: sqlx turns extended
/// result codes on for every connection.
fn error_of(db: *mut ffi::sqlite3, code: c_int) -> StoreError {
    // SAFETY: `db` is the open handle the writer holds locked; errmsg returns a string owned
    // by SQLite, copied at once.
    let message = unsafe {
        let m = ffi::sqlite3_errmsg(db);
        if m.is_null() {
            String::from("unknown error")
        } else {
            CStr::from_ptr(m).to_string_lossy().into_owned()
        }
    };
    StoreError::from(sqlx::Error::Database(Box::new(DirectError {
        code,
        message,
    })))
}

/// The writer's prepared statements, by SQL text. Owned by the writer loop, finalized
/// before the connection closes.
#[derive(Default)]
pub(crate) struct Statements {
    map: HashMap<&'static str, NonNull<ffi::sqlite3_stmt>>,
}

// SAFETY: the statements belong to the writer's connection and are only used by the writer
// thread while it holds that connection's handle locked.
unsafe impl Send for Statements {}

impl Statements {
    /// Finalizes every statement. Call with the handle locked, before the connection closes.
    pub(crate) fn finalize_all(&mut self) {
        for (_, s) in self.map.drain() {
            // SAFETY: each pointer came from sqlite3_prepare_v3 and is finalized once.
            unsafe {
                ffi::sqlite3_finalize(s.as_ptr());
            }
        }
    }
}

/// One row of a result, valid inside the row callback.
pub(crate) struct Row {
    stmt: *mut ffi::sqlite3_stmt,
}

impl Row {
    pub(crate) fn int(&self, i: c_int) -> i64 {
        // SAFETY: the statement is positioned on a row (SQLITE_ROW) while the callback runs.
        unsafe { ffi::sqlite3_column_int64(self.stmt, i) }
    }

    pub(crate) fn text(&self, i: c_int) -> Option<String> {
        // SAFETY: as above; the text pointer is valid until the next step/reset and is
        // copied at once. `column_bytes` is called after `column_text`, as SQLite requires.
        unsafe {
            let p = ffi::sqlite3_column_text(self.stmt, i);
            if p.is_null() {
                return None;
            }
            let n = ffi::sqlite3_column_bytes(self.stmt, i) as usize;
            let bytes = std::slice::from_raw_parts(p, n);
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

/// The writer's view of the transaction for direct jobs: the locked connection, its
/// statements, and the same transaction state as [`super::WriteCtx`] (audit chain head,
/// pending events, the next case number, the transaction's clock).
pub(crate) struct DirectCtx<'a> {
    pub(crate) db: *mut ffi::sqlite3,
    pub(crate) stmts: &'a mut Statements,
    pub(crate) head: &'a mut ChainHead,
    pub(crate) pending: &'a mut Vec<ChainedEvent>,
    pub(crate) next_case_number: &'a mut Option<i64>,
    pub(crate) now_ms: i64,
}

impl DirectCtx<'_> {
    fn prepare(&mut self, sql: &'static str) -> Result<*mut ffi::sqlite3_stmt> {
        if let Some(s) = self.stmts.map.get(sql) {
            return Ok(s.as_ptr());
        }
        let mut stmt = ptr::null_mut();
        // SAFETY: `db` is open and locked by this thread; the SQL is a complete statement
        // (its length is passed, so no NUL terminator is needed).
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db,
                sql.as_ptr().cast(),
                sql.len() as c_int,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error_of(self.db, rc));
        }
        let stmt = NonNull::new(stmt)
            .ok_or_else(|| StoreError::Corrupt(format!("no statement in `{sql}`")))?;
        self.stmts.map.insert(sql, stmt);
        Ok(stmt.as_ptr())
    }

    fn bind(&self, stmt: *mut ffi::sqlite3_stmt, args: &[Value<'_>]) -> Result<()> {
        for (i, a) in args.iter().enumerate() {
            let i = i as c_int + 1;
            // SAFETY: `stmt` is a live statement of `db`; text is bound SQLITE_STATIC and
            // stays borrowed until the statement is reset in `run` before it returns.
            let rc = unsafe {
                match *a {
                    Value::Null => ffi::sqlite3_bind_null(stmt, i),
                    Value::Int(n) => ffi::sqlite3_bind_int64(stmt, i, n),
                    Value::Real(x) => ffi::sqlite3_bind_double(stmt, i, x),
                    Value::Text(s) => ffi::sqlite3_bind_text64(
                        stmt,
                        i,
                        s.as_ptr().cast(),
                        s.len() as u64,
                        ffi::SQLITE_STATIC(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(error_of(self.db, rc));
            }
        }
        Ok(())
    }

    /// Runs one statement, calling `on_row` for each result row (stop early by returning
    /// `false`). Returns the number of rows the statement changed.
    pub(crate) fn run(
        &mut self,
        sql: &'static str,
        args: &[Value<'_>],
        mut on_row: impl FnMut(&Row) -> Result<bool>,
    ) -> Result<u64> {
        let stmt = self.prepare(sql)?;
        let outcome = self.step_all(stmt, args, &mut on_row);
        // SAFETY: reset and unbind before the borrowed text goes out of scope.
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        outcome
    }

    fn step_all(
        &self,
        stmt: *mut ffi::sqlite3_stmt,
        args: &[Value<'_>],
        on_row: &mut impl FnMut(&Row) -> Result<bool>,
    ) -> Result<u64> {
        self.bind(stmt, args)?;
        loop {
            // SAFETY: `stmt` is a live, bound statement of the locked `db`.
            match unsafe { ffi::sqlite3_step(stmt) } {
                ffi::SQLITE_ROW => {
                    if !on_row(&Row { stmt })? {
                        break;
                    }
                }
                ffi::SQLITE_DONE => break,
                rc => return Err(error_of(self.db, rc)),
            }
        }
        // SAFETY: `db` is open.
        Ok(unsafe { ffi::sqlite3_changes64(self.db) } as u64)
    }

    /// Executes one statement that returns no rows we need.
    pub(crate) fn exec(&mut self, sql: &'static str, args: &[Value<'_>]) -> Result<u64> {
        self.run(sql, args, |_| Ok(false))
    }

    /// The first row of a query, if any.
    pub(crate) fn row<T>(
        &mut self,
        sql: &'static str,
        args: &[Value<'_>],
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut f = Some(f);
        let mut out = None;
        self.run(sql, args, |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(false)
        })?;
        Ok(out)
    }

    /// Appends an audit event in the current transaction, exactly as
    /// [`super::WriteCtx::event`] does (chained now, inserted before commit).
    pub(crate) fn event(
        &mut self,
        actor: &crate::Actor,
        kind: &str,
        entity: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) {
        let e = self.head.append(EventDraft {
            at_ms: self.now_ms,
            actor: actor.0.clone(),
            kind: kind.to_string(),
            entity: entity.to_string(),
            before: before.map(|v| v.to_string()),
            after: after.map(|v| v.to_string()),
        });
        self.pending.push(e);
    }

    /// Takes the next human case number (read once per transaction, then counted up in
    /// `next_case_number`, which the writer resets for each group).
    pub(crate) fn take_case_number(&mut self) -> Result<i64> {
        let n = match *self.next_case_number {
            Some(n) => n,
            None => self
                .row("SELECT COALESCE(MAX(number), 0) + 1 FROM cases", &[], |r| {
                    Ok(r.int(0))
                })?
                .unwrap_or(1),
        };
        *self.next_case_number = Some(n + 1);
        Ok(n)
    }

    /// Reads the audit chain head (inside the transaction).
    pub(crate) fn read_head(&mut self) -> Result<ChainHead> {
        self.row("SELECT seq, hash FROM chain_head WHERE id = 1", &[], |r| {
            Ok(ChainHead {
                seq: r.int(0),
                hash: r.text(1).unwrap_or_default(),
            })
        })?
        .ok_or_else(|| StoreError::Corrupt("the audit chain head row is missing".into()))
    }

    /// Writes the chained events of this transaction and the new chain head.
    pub(crate) fn flush_events(&mut self) -> Result<()> {
        let pending = std::mem::take(self.pending);
        for e in &pending {
            self.exec(
                "INSERT INTO events (seq, at, actor, kind, entity, before, after, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                &[
                    v(e.seq),
                    v(e.at_ms),
                    v(&e.actor),
                    v(&e.kind),
                    v(&e.entity),
                    v(&e.before),
                    v(&e.after),
                    v(&e.prev_hash),
                    v(&e.hash),
                ],
            )?;
        }
        let (seq, hash) = (self.head.seq, self.head.hash.clone());
        self.exec(
            "UPDATE chain_head SET seq = ?1, hash = ?2 WHERE id = 1",
            &[v(seq), v(&hash)],
        )?;
        Ok(())
    }
}
