//! Storage for the web UI (issue 7): browser sessions, login attempts (rate limiting and
//! lockout), password changes, the user list, and the agents' queue ordered by severity then
//! the nearest clock. Reached through [`crate::Store::ui`]; a store without it answers
//! [`crate::StoreError::Unavailable`].

use async_trait::async_trait;

use crate::records::{CaseFilter, CaseRecord, UserRecord};
use crate::{Actor, Result};

/// A browser session as stored: only the SHA-256 of the cookie value is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub csrf: String,
    pub lang: Option<String>,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
}

pub struct NewSession {
    pub id_hash: String,
    pub user: String,
    pub csrf: String,
    pub lang: Option<String>,
    pub address: String,
}

/// One row of the queue: the case and its nearest running or breached clock.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    pub case: CaseRecord,
    pub next_deadline_ms: Option<i64>,
}

/// Failed logins counted since a time, per user name and per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginFailures {
    pub by_user: i64,
    pub by_address: i64,
}

#[async_trait]
pub trait UiStore: Send + Sync {
    /// Opens a session (audited as `session.created`).
    async fn create_session(&self, s: NewSession) -> Result<()>;
    /// The open session with this hash and its (enabled) user, if any.
    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>>;
    /// Records activity (for the idle timeout) and optionally the language. Bookkeeping, not
    /// audited.
    async fn touch_session(&self, id_hash: &str, lang: Option<String>) -> Result<()>;
    /// Ends a session (logout or expiry; audited as `session.ended`).
    async fn end_session(&self, id_hash: &str, reason: &str, actor: &Actor) -> Result<()>;
    /// Records a login attempt; failures are audited as `auth.login_failed`, successes
    /// as `auth.login`.
    async fn record_login(&self, user: &str, address: &str, ok: bool) -> Result<()>;
    /// Failed attempts since `since_ms` for the user name and the address.
    async fn login_failures(
        &self,
        user: &str,
        address: &str,
        since_ms: i64,
    ) -> Result<LoginFailures>;
    /// Audits a refused login attempt (locked user or address) without counting it.
    async fn audit_lockout(&self, user: &str, address: &str, scope: &str) -> Result<()>;
    /// The queue: severity, then nearest running or breached clock, then age.
    async fn queue(&self, filter: &CaseFilter) -> Result<Vec<QueueRow>>;
    async fn list_users(&self) -> Result<Vec<UserRecord>>;
    /// Sets a user's password hash (audited) and ends all their sessions.
    async fn set_password(&self, user: &str, password_hash: String, actor: &Actor) -> Result<()>;
}
