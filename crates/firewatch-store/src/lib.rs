//! Persistence behind one narrow trait. The application and the HTTP layer only see
//! [`Store`]; SQLite is the embedded default ([`sqlite::SqliteStore`]).
//!
//! Every mutating method writes its audit event in the same transaction as the change.

pub mod blob;
pub mod comms;
pub mod leader;
pub mod pgtest;
pub mod playbooks;
pub mod postgres;
pub mod records;
pub mod signals;
pub mod social;
pub mod sqlite;
pub mod ui;

use async_trait::async_trait;
use firewatch_domain::audit::{ChainBreak, ChainedEvent};
use firewatch_domain::{CaseStatus, IllegalTransition, Role};

pub use blob::{BlobError, BlobStore, FsBlobStore};
pub use records::*;
pub use signals::SignalStore;

/// Everything the binary needs from a backend: [`Store`] and [`SignalStore`] (issue 8: the
/// binary holds `Arc<dyn FullStore>` for SQLite or PostgreSQL and upcasts it).
pub trait FullStore: Store + SignalStore {}
impl<T: Store + SignalStore> FullStore for T {}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    #[error("{0}")]
    Conflict(String),
    /// The storage cannot take writes now (disk full, database locked by another process,
    /// writer stopped). Nothing was changed; the caller may retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A policy or workflow rule refused the change (remedy, approval, resolution gate).
    #[error("{}", .0.detail)]
    Refused(Box<playbooks::Refusal>),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            // SQLITE_FULL (13), SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_IOERR (10), SQLITE_READONLY (8)
            let code = db.code().unwrap_or_default();
            let primary = code.parse::<i32>().map(|c| c & 0xff).unwrap_or(-1);
            match primary {
                13 => return StoreError::Unavailable("the disk is full".into()),
                5 | 6 => {
                    return StoreError::Unavailable(
                        "the database is locked by another process".into(),
                    );
                }
                10 => return StoreError::Unavailable(format!("disk I/O error: {}", db.message())),
                8 => return StoreError::Unavailable("the database is read-only".into()),
                _ => {}
            }
        }
        if let sqlx::Error::Database(db) = &e {
            // PostgreSQL: connection exceptions (08), operator intervention such as a server
            // shutting down or restarting (57P), insufficient resources (53): retry later.
            let code = db.code().unwrap_or_default();
            if code.starts_with("08") || code.starts_with("57P") || code.starts_with("53") {
                return StoreError::Unavailable(db.message().to_string());
            }
        }
        // The database server went away under a read (a restart, a dropped connection).
        if matches!(
            e,
            sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed
        ) {
            return StoreError::Unavailable(e.to_string());
        }
        StoreError::Database(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who did something: a user name, or `system:*` / `cli:*` for non-interactive actors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn public() -> Actor {
        Actor("public".into())
    }
    pub fn cli() -> Actor {
        Actor("cli".into())
    }
}

/// The outcome of an audit verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    Ok { events: u64 },
    Broken(ChainBreak),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Cheap readiness probe: the database answers a query.
    async fn ping(&self) -> Result<()>;

    /// Stores a report and opens its case, idempotently when a key is given.
    async fn intake(&self, cmd: IntakeCommand) -> Result<IntakeOutcome>;
    async fn get_case(&self, id: &str) -> Result<Option<CaseRecord>>;
    async fn list_cases(&self, filter: &CaseFilter) -> Result<Vec<CaseRecord>>;
    async fn case_reports(&self, case_id: &str) -> Result<Vec<ReportRecord>>;
    async fn case_notes(&self, case_id: &str) -> Result<Vec<NoteRecord>>;
    async fn report_attachments(&self, report_id: &str) -> Result<Vec<AttachmentRecord>>;
    async fn get_attachment(&self, id: &str) -> Result<Option<AttachmentRecord>>;
    async fn transition_case(
        &self,
        case_id: &str,
        to: CaseStatus,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<CaseRecord>;
    async fn add_note(&self, case_id: &str, body: String, actor: &Actor) -> Result<NoteRecord>;
    async fn assign_case(
        &self,
        case_id: &str,
        assignee: Option<String>,
        actor: &Actor,
    ) -> Result<CaseRecord>;
    async fn case_counts_by_status(&self) -> Result<Vec<(CaseStatus, i64)>>;

    async fn create_user(
        &self,
        name: &str,
        role: Role,
        password_hash: Option<String>,
        actor: &Actor,
    ) -> Result<UserRecord>;
    async fn find_user(&self, name: &str) -> Result<Option<UserRecord>>;
    async fn create_token(
        &self,
        user: &str,
        token_hash: String,
        label: Option<String>,
        actor: &Actor,
    ) -> Result<TokenRecord>;
    /// The user behind an unrevoked token, by the token's SHA-256.
    async fn authenticate_token(&self, token_hash: &str) -> Result<Option<UserRecord>>;
    async fn revoke_token(&self, token_id: i64, actor: &Actor) -> Result<()>;
    async fn list_tokens(&self, user: &str) -> Result<Vec<TokenRecord>>;

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<ChainedEvent>>;
    /// Streams the whole log through the chain verifier.
    async fn verify_audit(&self) -> Result<AuditVerdict>;

    /// Writes a consistent copy of the whole database to `dest` (which must not exist) while
    /// the store stays online.
    async fn backup_database(&self, dest: &std::path::Path) -> Result<()>;
    /// Playbooks, remedies, clocks, escalations, tasks, custody and the outbox.
    fn playbooks(&self) -> &dyn playbooks::PlaybookStore;
    // Social and news watch (issue 6; `common/social.rs`).
    /// Stores a pipeline batch in one transaction: mentions linked to cases (a new social
    /// case through intake when none matches), engagement deduplicated by id, forecasts and
    /// the connector's cursor.
    async fn social_ingest(&self, batch: social::SocialBatch) -> Result<social::SocialOutcome>;
    /// Counts a connector error (shown in `GET /api/v1/connectors`).
    async fn connector_error(&self, name: &str, error: &str, actor: &Actor) -> Result<()>;
    async fn list_connectors(&self) -> Result<Vec<social::ConnectorRecord>>;
    async fn list_mentions(
        &self,
        filter: &social::MentionFilter,
    ) -> Result<Vec<social::MentionRecord>>;
    /// All engagement, by post then time (to rebuild the forecasters at start-up).
    async fn all_engagements(&self) -> Result<Vec<social::EngagementRecord>>;
    /// Escalates the mention's case to `roles`, once per mention: `None` if it already was.
    async fn escalate_case_for_mention(
        &self,
        post_id: &str,
        roles: Vec<String>,
        reason: serde_json::Value,
        actor: &Actor,
    ) -> Result<Option<social::EscalationRecord>>;
    async fn case_escalations(&self, case_id: &str) -> Result<Vec<social::EscalationRecord>>;
    /// Templates, statements and their approvals, regulator notifications (issue 11).
    fn comms(&self) -> &dyn comms::CommsStore;
    /// Web UI storage (issue 7): sessions, login attempts, the queue order.
    fn ui(&self) -> &dyn ui::UiStore;

    /// Tries to lead `name` (work that runs on one node only, issue 8): `None` when another
    /// node leads. SQLite serves one node and always leads; PostgreSQL overrides this.
    async fn try_lead(&self, name: &str) -> Result<Option<leader::Leadership>> {
        let _ = name;
        Ok(Some(leader::Leadership::always()))
    }
}
