//! Playbooks in the store (issue 5): the active playbook and its stored versions, each
//! case's policy evaluation, remedies and approvals, escalations, clocks, tasks, chain of
//! custody, and the persisted job/outbox table.
//!
//! The policy itself is pure ([`firewatch_policy`]); the store applies it inside its write
//! transactions, so a decision and the change it allows (and their audit events) commit
//! together. The store holds the active playbook ([`PlaybookCell`]) because the
//! resolution gate and the severity floor are checked where the case is written.

use async_trait::async_trait;
use firewatch_policy::{AllowedRemedy, Blocker, Level, Playbook, PlaybookError, RemedyKind};
use serde::Serialize;
use std::sync::{Arc, RwLock};

use crate::{Actor, Result};

/// The playbook in force and where it came from.
#[derive(Debug)]
pub struct ActivePlaybook {
    pub playbook: Arc<Playbook>,
    /// 0 = the built-in playbook; otherwise the `playbooks` row.
    pub version: i64,
    pub source_name: String,
    pub text: String,
    pub sha256: String,
    pub created_by: String,
    pub created_at_ms: i64,
}

impl ActivePlaybook {
    pub fn built_in() -> ActivePlaybook {
        ActivePlaybook {
            playbook: Arc::new(Playbook::default_playbook()),
            version: 0,
            source_name: "default.toml (built in)".into(),
            text: firewatch_policy::DEFAULT_PLAYBOOK_TOML.to_string(),
            sha256: crate::playbooks::sha256_hex(firewatch_policy::DEFAULT_PLAYBOOK_TOML),
            created_by: "built-in".into(),
            created_at_ms: 0,
        }
    }
}

pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// The active playbook, swapped on a successful reload. Readers clone the `Arc` and never
/// hold the lock across an await.
#[derive(Debug)]
pub struct PlaybookCell(RwLock<Arc<ActivePlaybook>>);

impl PlaybookCell {
    pub fn new(active: ActivePlaybook) -> PlaybookCell {
        PlaybookCell(RwLock::new(Arc::new(active)))
    }

    pub fn current(&self) -> Arc<ActivePlaybook> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Installs `next` unless a newer version is already active (two nodes, two reloads).
    pub(crate) fn install(&self, next: ActivePlaybook) {
        let mut g = match self.0.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if next.version >= g.version {
            *g = Arc::new(next);
        }
    }
}

/// A change refused by a policy or workflow rule; nothing was changed. The HTTP layer maps
/// it to problem+json with `status`, `/problems/{slug}` and the fields of `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extra members of the problem document (rule_id, allowed, blockers, ...).
    pub data: serde_json::Map<String, serde_json::Value>,
}

impl Refusal {
    pub fn new(status: u16, slug: &'static str, title: &'static str, detail: String) -> Refusal {
        Refusal {
            status,
            slug,
            title,
            detail,
            data: serde_json::Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Refusal {
        self.data.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
        self
    }
}

impl From<Refusal> for crate::StoreError {
    fn from(r: Refusal) -> Self {
        crate::StoreError::Refused(Box::new(r))
    }
}

/// The remedy lifecycle of DESIGN section 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemedyStatus {
    /// Allowed by the playbook; waits for the customer.
    Proposed,
    /// Needs approvals (listed on the remedy).
    PendingApproval,
    /// Approved (or an exception approved); waits for the customer.
    Approved,
    /// Refused by the playbook or by an approver.
    Refused,
    /// The customer accepted it.
    Accepted,
    /// Delivered.
    Fulfilled,
}

impl RemedyStatus {
    pub const ALL: [RemedyStatus; 6] = [
        RemedyStatus::Proposed,
        RemedyStatus::PendingApproval,
        RemedyStatus::Approved,
        RemedyStatus::Refused,
        RemedyStatus::Accepted,
        RemedyStatus::Fulfilled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RemedyStatus::Proposed => "proposed",
            RemedyStatus::PendingApproval => "pending_approval",
            RemedyStatus::Approved => "approved",
            RemedyStatus::Refused => "refused",
            RemedyStatus::Accepted => "accepted",
            RemedyStatus::Fulfilled => "fulfilled",
        }
    }

    pub fn parse(s: &str) -> Option<RemedyStatus> {
        RemedyStatus::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The customer-facing moves: accept (from proposed or approved), fulfil (from accepted).
    pub fn allowed_next(self) -> &'static [RemedyStatus] {
        match self {
            RemedyStatus::Proposed | RemedyStatus::Approved => &[RemedyStatus::Accepted],
            RemedyStatus::Accepted => &[RemedyStatus::Fulfilled],
            _ => &[],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApprovalRecord {
    pub id: i64,
    pub remedy_id: String,
    pub actor: String,
    pub role: String,
    /// approved | rejected
    pub decision: String,
    pub exception: bool,
    pub rule_id: Option<String>,
    pub reason: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemedyRecord {
    pub id: String,
    pub case_id: String,
    pub kind: RemedyKind,
    pub customer_pays_percent: u8,
    pub amount: Option<f64>,
    pub note: Option<String>,
    pub status: RemedyStatus,
    /// The policy's answer when it was proposed (`decision`: allowed | needs_approval | refused).
    pub decision: serde_json::Value,
    pub rule_id: Option<String>,
    /// Roles whose approval is still missing.
    pub approvals_needed: Vec<String>,
    pub proposed_by: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub approvals: Vec<ApprovalRecord>,
}

/// A remedy proposal, validated by the caller (kind known, percent 0..=100).
#[derive(Debug, Clone, PartialEq)]
pub struct NewRemedy {
    pub kind: RemedyKind,
    pub customer_pays_percent: u8,
    pub amount: Option<f64>,
    pub note: Option<String>,
}

/// What happened to a proposal. A refusal is stored too (status `refused`, with the rule
/// id), so the record shows what was proposed and why it was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ProposeOutcome {
    Allowed(RemedyRecord),
    NeedsApproval(RemedyRecord),
    Refused {
        remedy: RemedyRecord,
        rule_id: String,
        explanation: String,
        allowed: Vec<AllowedRemedy>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EscalationRecord {
    pub id: i64,
    pub case_id: String,
    pub from_level: String,
    pub level: String,
    pub reason: String,
    /// manual | clock:<name> | rule:<id> | mention:<id>
    pub cause: String,
    pub actor: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockRecord {
    pub id: i64,
    pub case_id: String,
    pub name: String,
    pub kind: String,
    pub basis: String,
    pub duration: String,
    pub pausable: bool,
    pub calendar: String,
    pub rule_id: String,
    pub reference: Option<String>,
    pub started_at_ms: i64,
    /// None while paused.
    pub deadline_ms: Option<i64>,
    /// running | paused | breached | stopped
    pub state: String,
    pub breached_at_ms: Option<i64>,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRecord {
    pub id: i64,
    pub case_id: String,
    pub task: String,
    pub rule_id: Option<String>,
    /// open | done
    pub status: String,
    pub note: Option<String>,
    pub completed_by: Option<String>,
    pub completed_at_ms: Option<i64>,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustodyRecord {
    pub id: i64,
    pub case_id: String,
    pub holder: String,
    pub location: String,
    pub at_ms: i64,
    pub note: Option<String>,
    pub recorded_by: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewCustody {
    pub holder: String,
    pub location: String,
    pub at_ms: i64,
    pub note: Option<String>,
}

/// The stored policy evaluation of a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CasePolicyRecord {
    pub case_id: String,
    pub playbook_version: i64,
    /// JSON of [`firewatch_policy::Evaluation`]: facts, trace, matched rules, effects.
    pub evaluation: serde_json::Value,
    pub matched: Vec<String>,
    pub level: String,
    pub evaluated_at_ms: i64,
}

/// Everything the case page shows about policy, with fresh answers from the active
/// playbook (allowed remedies, blockers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CasePolicyView {
    pub policy: Option<CasePolicyRecord>,
    pub clocks: Vec<ClockRecord>,
    pub remedies: Vec<RemedyRecord>,
    pub escalations: Vec<EscalationRecord>,
    pub tasks: Vec<TaskRecord>,
    pub custody: Vec<CustodyRecord>,
    pub allowed_remedies: Vec<AllowedRemedy>,
    pub blockers: Vec<Blocker>,
    pub active_playbook_version: i64,
}

/// A job of the outbox (webhook, email) or an internal one (evaluate).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRecord {
    pub id: i64,
    /// Sent as the idempotency id; stable across retries.
    pub event_id: String,
    pub kind: String,
    pub case_id: Option<String>,
    pub target: String,
    pub payload: serde_json::Value,
    /// pending | running | done | dead
    pub state: String,
    pub attempts: i64,
    pub run_at_ms: i64,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Delivered,
    /// Try again at `retry_at_ms`.
    Retry {
        error: String,
        retry_at_ms: i64,
    },
    /// Give up: the job goes to the dead-letter state.
    Dead {
        error: String,
    },
}

/// A clock breach the scheduler fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreachRecord {
    pub case_id: String,
    pub clock: String,
    pub deadline_ms: i64,
    /// The level before and after the escalation (None when already at hq).
    pub escalated: Option<(String, String)>,
    pub notifications: usize,
}

/// The outcome of a playbook upload.
#[derive(Debug)]
pub enum PutPlaybook {
    Applied(Arc<ActivePlaybook>),
    /// Refused with every problem; the active playbook did not change.
    Invalid(PlaybookError),
}

#[async_trait]
pub trait PlaybookStore: Send + Sync {
    /// The playbook in force on this node.
    fn active_playbook(&self) -> Arc<ActivePlaybook>;
    /// Validates, stores (audited) and activates a playbook; an invalid one changes nothing.
    /// Open cases are queued for re-evaluation.
    async fn put_playbook(
        &self,
        source_name: &str,
        text: &str,
        actor: &Actor,
    ) -> Result<PutPlaybook>;
    /// Picks up a newer version stored by another node (or the CLI). True if it changed.
    async fn refresh_playbook(&self) -> Result<bool>;

    /// Evaluates the active playbook on the case now (facts changed, playbook reloaded).
    async fn evaluate_case(&self, case_id: &str, actor: &Actor) -> Result<CasePolicyRecord>;
    /// Runs queued `evaluate` jobs; returns how many ran.
    async fn run_evaluations(&self, limit: u32) -> Result<usize>;
    async fn case_policy(&self, case_id: &str) -> Result<Option<CasePolicyView>>;

    async fn propose_remedy(
        &self,
        case_id: &str,
        remedy: NewRemedy,
        actor: &Actor,
    ) -> Result<ProposeOutcome>;
    /// Approves a pending remedy (one of the roles it waits for) or approves an exception
    /// to the rule that refused it (`may_approve_exception`).
    async fn approve_remedy(
        &self,
        remedy_id: &str,
        role: firewatch_domain::Role,
        reason: String,
        actor: &Actor,
    ) -> Result<RemedyRecord>;
    async fn reject_remedy(
        &self,
        remedy_id: &str,
        role: firewatch_domain::Role,
        reason: String,
        actor: &Actor,
    ) -> Result<RemedyRecord>;
    /// accepted (by the customer) or fulfilled.
    async fn advance_remedy(
        &self,
        remedy_id: &str,
        to: RemedyStatus,
        actor: &Actor,
    ) -> Result<RemedyRecord>;
    async fn get_remedy(&self, remedy_id: &str) -> Result<Option<RemedyRecord>>;

    /// Escalates to `level` (None = one level up).
    async fn escalate(
        &self,
        case_id: &str,
        level: Option<Level>,
        reason: String,
        actor: &Actor,
    ) -> Result<EscalationRecord>;
    async fn complete_task(
        &self,
        case_id: &str,
        task: firewatch_policy::TaskKind,
        note: Option<String>,
        actor: &Actor,
    ) -> Result<TaskRecord>;
    async fn add_custody(
        &self,
        case_id: &str,
        entry: NewCustody,
        actor: &Actor,
    ) -> Result<CustodyRecord>;

    /// Claims every running clock whose deadline passed, marks it breached, escalates its
    /// case one level and queues the notifications, all in one transaction: a breach fires
    /// exactly once whatever the number of workers.
    async fn fire_breaches(&self, limit: u32) -> Result<Vec<BreachRecord>>;
    /// Leases due webhook/email jobs (and jobs whose lease expired) for `lease_ms`.
    async fn claim_jobs(&self, limit: u32, lease_ms: i64, worker: &str) -> Result<Vec<JobRecord>>;
    async fn finish_job(&self, id: i64, outcome: JobOutcome) -> Result<()>;
    /// Jobs by state (e.g. `dead`), newest first.
    async fn list_jobs(&self, state: Option<&str>, limit: u32) -> Result<Vec<JobRecord>>;
    /// Puts a dead job back in the queue.
    async fn retry_job(&self, id: i64, actor: &Actor) -> Result<JobRecord>;
}
