//! Remedy decisions, exceptions and the resolution gate, from an [`Evaluation`].

use crate::error::PolicyError;
use crate::model::{RemedyKind, Role, TaskKind};
use crate::playbook::{Evaluation, MatchedRule};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The rule id used when a proposal itself is malformed (percentage above 100).
pub const INVALID_PROPOSAL_RULE: &str = "firewatch.invalid-proposal";
/// Shortest written reason for an exception, in characters (after trimming).
pub const MIN_REASON_CHARS: usize = 10;
/// Longest written reason for an exception, in characters.
pub const MAX_REASON_CHARS: usize = 4_000;

/// A remedy an agent proposes (DESIGN section 6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemedyProposal {
    pub kind: RemedyKind,
    /// 0..=100. Above 100 is refused.
    pub customer_pays_percent: u8,
    /// For refunds: the amount given back, in the product's currency. None = the full price.
    #[serde(default)]
    pub amount: Option<f64>,
}

impl RemedyProposal {
    pub fn new(kind: RemedyKind, customer_pays_percent: u8) -> RemedyProposal {
        RemedyProposal {
            kind,
            customer_pays_percent,
            amount: None,
        }
    }
}

/// A remedy that the playbook would accept on this case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowedRemedy {
    pub kind: RemedyKind,
    /// The most the customer may pay (0 = free).
    pub max_customer_pays_percent: u8,
    /// For refunds: the least that must be given back, in percent of the price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_refund_percent: Option<u16>,
    /// Roles whose approval it needs (empty = none).
    pub needs_approval: Vec<Role>,
}

/// What the playbook says about a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum RemedyDecision {
    Allowed,
    /// Every listed role must approve; `rule_id` is the first rule asking for it.
    NeedsApproval {
        roles: Vec<Role>,
        rule_id: String,
    },
    Refused {
        rule_id: String,
        /// A plain-language explanation for the agent.
        explanation: String,
        /// What would be allowed instead.
        allowed: Vec<AllowedRemedy>,
    },
}

fn kind_phrase(kind: RemedyKind) -> &'static str {
    match kind {
        RemedyKind::Refund => "a refund",
        RemedyKind::Replacement => "a replacement",
        RemedyKind::Repair => "a repair",
        RemedyKind::Discount => "a discount",
        RemedyKind::Goodwill => "a goodwill gesture",
    }
}

fn approval_roles(eval: &Evaluation, kind: RemedyKind) -> (Vec<Role>, Option<String>) {
    let mut roles: Vec<Role> = Vec::new();
    let mut first = None;
    for a in &eval.effects.approvals {
        if a.kinds.is_empty() || a.kinds.contains(&kind) {
            first.get_or_insert_with(|| a.rule_id.clone());
            for r in &a.roles {
                if !roles.contains(r) {
                    roles.push(*r);
                }
            }
        }
    }
    (roles, first)
}

/// The remedies the playbook accepts on this case, with their limits.
pub fn allowed_remedies(eval: &Evaluation) -> Vec<AllowedRemedy> {
    let fx = &eval.effects;
    fx.allowed_remedies
        .iter()
        .map(|&kind| AllowedRemedy {
            kind,
            max_customer_pays_percent: fx.max_customer_pays_percent.unwrap_or(100),
            min_refund_percent: (kind == RemedyKind::Refund)
                .then_some(fx.min_refund_percent)
                .flatten(),
            needs_approval: approval_roles(eval, kind).0,
        })
        .collect()
}

fn describe_allowed(allowed: &[AllowedRemedy]) -> String {
    if allowed.is_empty() {
        return "No remedy is allowed without an exception.".to_string();
    }
    let items: Vec<String> = allowed
        .iter()
        .map(|a| {
            let mut s = match (a.kind, a.max_customer_pays_percent) {
                (RemedyKind::Refund, _) => match a.min_refund_percent {
                    Some(100) => "a refund of at least the price paid".to_string(),
                    Some(p) => format!("a refund of at least {p}% of the price"),
                    None => "a refund".to_string(),
                },
                (RemedyKind::Goodwill, _) => "a goodwill gesture".to_string(),
                (k, 0) => format!("a free {}", k.as_str()),
                (k, 100) => kind_phrase(k).to_string(),
                (k, p) => format!("{} with the customer paying at most {p}%", kind_phrase(k)),
            };
            if !a.needs_approval.is_empty() {
                let roles: Vec<&str> = a.needs_approval.iter().map(|r| r.as_str()).collect();
                s.push_str(&format!(" (needs {} approval)", roles.join(" and ")));
            }
            s
        })
        .collect();
    format!("Allowed instead: {}.", items.join(", "))
}

fn refusal(eval: &Evaluation, rule: &MatchedRule, why: String) -> RemedyDecision {
    let allowed = allowed_remedies(eval);
    let mut explanation = String::new();
    if eval.facts.is_safety {
        explanation.push_str(&format!(
            "This is a safety case ({}). ",
            eval.facts.severity
        ));
    }
    explanation.push_str(&format!("Rule \"{}\"", rule.rule_id));
    let description = rule.description.trim().trim_end_matches('.');
    if description.is_empty() {
        explanation.push_str(" applies.");
    } else {
        explanation.push_str(&format!(" says: {description}."));
    }
    explanation.push_str(&format!(" {why} {}", describe_allowed(&allowed)));
    match rule.effects.exception_approver {
        Some(role) => {
            let role = if eval.facts.is_safety { Role::Hq } else { role };
            explanation.push_str(&format!(
                " Only the {role} role can approve an exception, with a written reason."
            ));
        }
        None => explanation.push_str(" This rule allows no exceptions."),
    }
    RemedyDecision::Refused {
        rule_id: rule.rule_id.clone(),
        explanation,
        allowed,
    }
}

/// Decides a remedy proposal against the evaluated playbook.
///
/// Matched rules are checked in file order; the first that refuses the proposal (kind not
/// allowed, customer pays more than the rule's maximum, refund below the minimum) gives the
/// refusal. Otherwise, if any rule requires approvals for this kind, the union of the roles
/// is returned; otherwise the remedy is allowed.
pub fn decide_remedy(eval: &Evaluation, proposal: &RemedyProposal) -> RemedyDecision {
    let kind = proposal.kind;
    if proposal.customer_pays_percent > 100 {
        return RemedyDecision::Refused {
            rule_id: INVALID_PROPOSAL_RULE.to_string(),
            explanation: format!(
                "customer_pays_percent is {}, but a percentage is between 0 and 100.",
                proposal.customer_pays_percent
            ),
            allowed: allowed_remedies(eval),
        };
    }
    for rule in &eval.matched {
        let fx = &rule.effects;
        if !fx.allows_kind(kind) {
            let why = if kind == RemedyKind::Discount && eval.facts.is_safety {
                "a discount still makes the customer pay, which this rule does not allow."
                    .to_string()
            } else {
                format!("{} is not allowed on this case.", kind_phrase(kind))
            };
            return refusal(eval, rule, capitalise(&why));
        }
        if let Some(max) = fx.max_customer_pays_percent
            && proposal.customer_pays_percent > max
        {
            let why = if max == 0 {
                format!(
                    "the customer must not pay anything, but this {} asks them to pay {}%.",
                    kind.as_str(),
                    proposal.customer_pays_percent
                )
            } else {
                format!(
                    "the customer may pay at most {max}%, but this {} asks them to pay {}%.",
                    kind.as_str(),
                    proposal.customer_pays_percent
                )
            };
            return refusal(eval, rule, capitalise(&why));
        }
        if kind == RemedyKind::Refund
            && let (Some(min), Some(amount)) = (fx.min_refund_percent, proposal.amount)
        {
            let price = eval.facts.product.price;
            let needed = price * f64::from(min) / 100.0;
            if price > 0.0 && amount + 0.005 < needed {
                let cur = &eval.facts.product.currency;
                let why = format!(
                    "a refund must give back at least {min}% of the price paid ({needed:.2} {cur}), but this refund is {amount:.2} {cur}."
                );
                return refusal(eval, rule, capitalise(&why));
            }
        }
    }
    let (roles, rule_id) = approval_roles(eval, kind);
    match rule_id {
        Some(rule_id) if !roles.is_empty() => RemedyDecision::NeedsApproval { roles, rule_id },
        _ => RemedyDecision::Allowed,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Whether `role` may approve an exception to `rule_id` on this case, with `reason`.
///
/// The rule must have matched and name an `exception_approver`; the role must be that
/// approver; on a safety case only hq may approve, whatever the rule says; the reason must
/// be written (at least [`MIN_REASON_CHARS`] characters after trimming).
pub fn may_approve_exception(
    eval: &Evaluation,
    rule_id: &str,
    role: Role,
    reason: &str,
) -> Result<(), PolicyError> {
    let reason = reason.trim();
    if reason.chars().count() < MIN_REASON_CHARS {
        return Err(PolicyError::ReasonRequired {
            min: MIN_REASON_CHARS,
        });
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(PolicyError::ReasonTooLong {
            max: MAX_REASON_CHARS,
        });
    }
    let rule = eval
        .matched_rule(rule_id)
        .ok_or_else(|| PolicyError::RuleNotApplicable {
            rule_id: rule_id.to_string(),
        })?;
    let approver = rule
        .effects
        .exception_approver
        .ok_or_else(|| PolicyError::NoExceptions {
            rule_id: rule_id.to_string(),
        })?;
    if eval.facts.is_safety && role != Role::Hq {
        return Err(PolicyError::OnlyHqOnSafetyCase {
            rule_id: rule_id.to_string(),
            role,
        });
    }
    if role != approver && !(eval.facts.is_safety && role == Role::Hq) {
        return Err(PolicyError::WrongApprover {
            rule_id: rule_id.to_string(),
            required: approver,
            role,
        });
    }
    Ok(())
}

/// One link of a device's chain of custody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyEntry {
    /// Who held the device (person or organisation).
    pub holder: String,
    /// When they took it.
    pub at: Timestamp,
    /// Where.
    pub location: String,
}

/// What has been done on a case, as far as the resolution gate cares.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CaseProgress {
    pub completed_tasks: BTreeSet<TaskKind>,
    pub custody: Vec<CustodyEntry>,
}

/// What is still missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "missing")]
pub enum Missing {
    /// The task is not marked done.
    Task,
    /// Device retrieval needs at least one chain-of-custody entry.
    CustodyEntry,
    /// A custody entry lacks its holder or location (index into `custody`).
    CustodyDetails { entry: usize },
}

/// Something that keeps a case from being resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub task: TaskKind,
    pub rule_id: String,
    #[serde(flatten)]
    pub missing: Missing,
    /// Plain-language explanation.
    pub explanation: String,
}

fn task_phrase(t: TaskKind) -> &'static str {
    match t {
        TaskKind::DeviceRetrieval => "the device retrieval",
        TaskKind::InjuryFollowUp => "the follow-up with the injured person",
        TaskKind::SafetyReview => "the safety review",
        TaskKind::RegulatorReport => "the report to the regulator",
    }
}

/// Why the case cannot be resolved yet (empty = it can).
pub fn resolution_blockers(eval: &Evaluation, progress: &CaseProgress) -> Vec<Blocker> {
    let mut out = Vec::new();
    for req in &eval.effects.tasks {
        let mut block = |missing: Missing, explanation: String| {
            out.push(Blocker {
                task: req.task,
                rule_id: req.rule_id.clone(),
                missing,
                explanation,
            })
        };
        if !progress.completed_tasks.contains(&req.task) {
            block(
                Missing::Task,
                format!(
                    "Rule \"{}\" requires {} before the case is resolved; it is not recorded as done.",
                    req.rule_id,
                    task_phrase(req.task)
                ),
            );
            continue;
        }
        if req.task == TaskKind::DeviceRetrieval && req.chain_of_custody {
            if progress.custody.is_empty() {
                block(
                    Missing::CustodyEntry,
                    format!(
                        "Rule \"{}\" requires a chain of custody for the retrieved device: record who held it, when and where.",
                        req.rule_id
                    ),
                );
            }
            for (i, e) in progress.custody.iter().enumerate() {
                if e.holder.trim().is_empty() || e.location.trim().is_empty() {
                    block(
                        Missing::CustodyDetails { entry: i },
                        format!(
                            "Custody entry {} needs both who held the device and where.",
                            i + 1
                        ),
                    );
                }
            }
        }
    }
    out
}
