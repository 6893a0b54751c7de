//! [`PlaybookStore`] on both backends (docs/postgres.md, "One source for both backends").
//! Every change runs in one write transaction with its audit event; policy decisions are taken inside that transaction
//! from a fresh evaluation of the active playbook, so a decision and the change it allows
//! commit together.

use super::WriteCtx;
use super::dialect::{self, Backend, Batch, Conn, DbRow};
use super::store::{load_case, rows_by_key};
use crate::playbooks::*;
use crate::records::CaseRecord;
use crate::{Actor, Result, StoreError};
use async_trait::async_trait;
use firewatch_domain::{CaseStatus, HazardCode, InjuryLevel};
use firewatch_policy::{
    CaseFacts, CaseProgress, ClockKind, ClockPlan, CustodyEntry, Evaluation, Level,
    NotificationPlan, Pause, Playbook, RemedyDecision, RemedyProposal, TaskKind, allowed_remedies,
    decide_remedy, may_approve_exception, next_level, resolution_blockers,
};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

macro_rules! remedy_cols {
    () => {
        "id, case_id, kind, customer_pays_percent, amount, note, status, decision, rule_id, approvals_needed, proposed_by, created_at, updated_at"
    };
}

macro_rules! job_cols {
    () => {
        "id, event_id, kind, case_id, target, payload, state, attempts, run_at, last_error, created_at, updated_at"
    };
}

pub(super) const SYSTEM: &str = "system:playbook";
const SCHEDULER: &str = "system:scheduler";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// The snake_case name serde gives a unit enum variant.
pub(super) fn name_of<T: Serialize>(t: &T) -> String {
    match serde_json::to_value(t) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn ts(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(corrupt)
}

fn policy_role(role: firewatch_domain::Role) -> Result<firewatch_policy::Role> {
    role.as_str()
        .parse()
        .map_err(|e: String| StoreError::Corrupt(e))
}

// ------------------------------------------------------------------------------ loading

/// Loads the newest stored playbook, or the built-in one. A stored text that no longer
/// loads (e.g. after an engine change) is logged and the built-in playbook is used.
pub(crate) async fn load_active(readers: &dialect::Pool) -> Result<ActivePlaybook> {
    let row = sqlx::query(
        "SELECT version, source_name, text, sha256, created_by, created_at FROM playbooks ORDER BY version DESC LIMIT 1",
    )
    .fetch_optional(readers)
    .await?;
    let Some(row) = row else {
        return Ok(ActivePlaybook::built_in());
    };
    active_from_row(&row).or_else(|e| {
        tracing::error!(error = %e, "the stored playbook does not load; using the built-in playbook");
        Ok(ActivePlaybook::built_in())
    })
}

fn active_from_row(row: &DbRow) -> Result<ActivePlaybook> {
    let source_name: String = row.try_get("source_name")?;
    let text: String = row.try_get("text")?;
    let playbook = Playbook::from_toml_str(&source_name, &text).map_err(corrupt)?;
    Ok(ActivePlaybook {
        playbook: Arc::new(playbook),
        version: row.try_get("version")?,
        source_name,
        text,
        sha256: row.try_get("sha256")?,
        created_by: row.try_get("created_by")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

/// Hazards that triage found only as a risk (`modality: potential`) in a report's triage JSON.
fn potential_hazards(triage_json: &str, into: &mut Vec<HazardCode>) {
    let Ok(v) = serde_json::from_str::<Value>(triage_json) else {
        return;
    };
    for h in v["hazards"].as_array().into_iter().flatten() {
        if h["modality"] == "potential"
            && let Some(code) = h["code"]
                .as_str()
                .and_then(|c| c.parse::<HazardCode>().ok())
            && !into.contains(&code)
        {
            into.push(code);
        }
    }
}

pub(super) struct Loaded {
    pub(super) case: CaseRecord,
    pub(super) facts: CaseFacts,
    /// When the firm first knew: the first report's received time.
    pub(super) first_received_ms: i64,
}

fn injury_rank(i: InjuryLevel) -> u8 {
    match i {
        InjuryLevel::Unknown => 0,
        InjuryLevel::None => 1,
        InjuryLevel::Minor => 2,
        InjuryLevel::Serious => 3,
        InjuryLevel::Fatal => 4,
    }
}

/// The facts a playbook sees, from the case row and its reports.
async fn load_facts(conn: &mut Conn, case_id: &str) -> Result<Loaded> {
    let case = load_case(conn, case_id).await?;
    let rows = sqlx::query(
        "SELECT received_at, injuries, product, triage FROM reports WHERE case_id = $1 ORDER BY received_at, id",
    )
    .bind(case_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut facts = CaseFacts::new(case.severity);
    facts.hazards = case
        .hazards
        .iter()
        .filter_map(|h| h.parse::<HazardCode>().ok())
        .collect();
    facts.market = case
        .country
        .clone()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    facts.channel = case.channel.clone();
    facts.product.brand = case.product_brand.clone().unwrap_or_default();
    facts.product.model = case.product_model.clone().unwrap_or_default();
    let mut first_received_ms = case.created_at_ms;
    for (i, row) in rows.iter().enumerate() {
        let received: i64 = row.try_get("received_at")?;
        if i == 0 {
            first_received_ms = received;
        }
        let triage: String = row.try_get("triage")?;
        potential_hazards(&triage, &mut facts.potential_hazards);
        let injuries: String = row.try_get("injuries")?;
        if let Ok(level) = injuries.parse::<InjuryLevel>()
            && injury_rank(level) > injury_rank(facts.injuries)
        {
            facts.injuries = level;
        }
        let product: String = row.try_get("product")?;
        if facts.product.price == 0.0
            && let Ok(v) = serde_json::from_str::<Value>(&product)
            && let Some(amount) = v["price"]["amount"].as_f64()
        {
            facts.product.price = amount;
            facts.product.currency = v["price"]["currency"].as_str().unwrap_or("").to_string();
        }
    }
    // The case's public mentions and their forecasts (rules such as viral-risk). 1e308 in
    // forecast_final stands for an unbounded forecast.
    let m = sqlx::query(
        "SELECT COUNT(*), MAX(forecast_final), MAX(p_exceed) FROM mentions WHERE case_id = $1",
    )
    .bind(case_id)
    .fetch_one(&mut *conn)
    .await?;
    facts.mentions.count = m.try_get(0)?;
    facts.mentions.max_predicted_reach = m.try_get::<Option<f64>, _>(1)?.unwrap_or(0.0);
    facts.mentions.max_p_exceed = m.try_get::<Option<f64>, _>(2)?.unwrap_or(0.0);
    Ok(Loaded {
        case,
        facts,
        first_received_ms,
    })
}

async fn load_pauses(conn: &mut Conn, case_id: &str) -> Result<Vec<Pause>> {
    rows_by_key(
        conn,
        "SELECT from_ms, until_ms FROM case_pauses WHERE case_id = $1 ORDER BY from_ms, id",
        case_id,
        |r| {
            let from: i64 = r.try_get(0)?;
            let until: Option<i64> = r.try_get(1)?;
            Ok((ts(from)?, until.map(ts).transpose()?))
        },
    )
    .await
}

async fn load_progress(conn: &mut Conn, case_id: &str) -> Result<CaseProgress> {
    let mut progress = CaseProgress::default();
    for t in load_tasks(conn, case_id).await? {
        if t.status == "done"
            && let Ok(kind) = t.task.parse::<TaskKind>()
        {
            progress.completed_tasks.insert(kind);
        }
    }
    for c in load_custody(conn, case_id).await? {
        progress.custody.push(CustodyEntry {
            holder: c.holder,
            at: ts(c.at_ms)?,
            location: c.location,
        });
    }
    Ok(progress)
}

// ------------------------------------------------------------------------------ rows

fn remedy_from_row(row: &DbRow, approvals: Vec<ApprovalRecord>) -> Result<RemedyRecord> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let decision: String = row.try_get("decision")?;
    let needed: String = row.try_get("approvals_needed")?;
    let pays: i64 = row.try_get("customer_pays_percent")?;
    Ok(RemedyRecord {
        id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        kind: kind.parse().map_err(corrupt)?,
        customer_pays_percent: u8::try_from(pays).map_err(corrupt)?,
        amount: row.try_get("amount")?,
        note: row.try_get("note")?,
        status: RemedyStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("remedy status `{status}`")))?,
        decision: serde_json::from_str(&decision).map_err(corrupt)?,
        rule_id: row.try_get("rule_id")?,
        approvals_needed: serde_json::from_str(&needed).map_err(corrupt)?,
        proposed_by: row.try_get("proposed_by")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
        approvals,
    })
}

fn approval_from_row(row: &DbRow) -> Result<ApprovalRecord> {
    let exception: i64 = row.try_get("exception")?;
    Ok(ApprovalRecord {
        id: row.try_get("id")?,
        remedy_id: row.try_get("remedy_id")?,
        actor: row.try_get("actor")?,
        role: row.try_get("role")?,
        decision: row.try_get("decision")?,
        exception: exception != 0,
        rule_id: row.try_get("rule_id")?,
        reason: row.try_get("reason")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

async fn load_remedy(conn: &mut Conn, id: &str) -> Result<Option<RemedyRecord>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        remedy_cols!(),
        " FROM remedies WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let approvals = rows_by_key(conn, "SELECT id, remedy_id, actor, role, decision, exception, rule_id, reason, created_at FROM approvals WHERE remedy_id = $1 ORDER BY id", id, approval_from_row).await?;
    remedy_from_row(&row, approvals).map(Some)
}

async fn load_remedies(conn: &mut Conn, case_id: &str) -> Result<Vec<RemedyRecord>> {
    let ids: Vec<String> = rows_by_key(
        conn,
        "SELECT id FROM remedies WHERE case_id = $1 ORDER BY created_at, id",
        case_id,
        |r| Ok(r.try_get(0)?),
    )
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(r) = load_remedy(conn, &id).await? {
            out.push(r);
        }
    }
    Ok(out)
}

fn clock_from_row(row: &DbRow) -> Result<ClockRecord> {
    let pausable: i64 = row.try_get("pausable")?;
    Ok(ClockRecord {
        id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        basis: row.try_get("basis")?,
        duration: row.try_get("duration")?,
        pausable: pausable != 0,
        calendar: row.try_get("calendar")?,
        rule_id: row.try_get("rule_id")?,
        reference: row.try_get("reference")?,
        started_at_ms: row.try_get("started_at")?,
        deadline_ms: row.try_get("deadline")?,
        state: row.try_get("state")?,
        breached_at_ms: row.try_get("breached_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

async fn load_clocks(conn: &mut Conn, case_id: &str) -> Result<Vec<ClockRecord>> {
    rows_by_key(conn, "SELECT id, case_id, name, kind, basis, duration, pausable, calendar, rule_id, reference, started_at, deadline, state, breached_at, updated_at FROM clocks WHERE case_id = $1 ORDER BY id", case_id, clock_from_row).await
}

fn task_from_row(r: &DbRow) -> Result<TaskRecord> {
    Ok(TaskRecord {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        task: r.try_get("task")?,
        rule_id: r.try_get("rule_id")?,
        status: r.try_get("status")?,
        note: r.try_get("note")?,
        completed_by: r.try_get("completed_by")?,
        completed_at_ms: r.try_get("completed_at")?,
        created_at_ms: r.try_get("created_at")?,
    })
}

async fn load_tasks(conn: &mut Conn, case_id: &str) -> Result<Vec<TaskRecord>> {
    rows_by_key(conn, "SELECT id, case_id, task, rule_id, status, note, completed_by, completed_at, created_at FROM tasks WHERE case_id = $1 ORDER BY id", case_id, task_from_row).await
}

fn custody_from_row(r: &DbRow) -> Result<CustodyRecord> {
    Ok(CustodyRecord {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        holder: r.try_get("holder")?,
        location: r.try_get("location")?,
        at_ms: r.try_get("at")?,
        note: r.try_get("note")?,
        recorded_by: r.try_get("recorded_by")?,
        created_at_ms: r.try_get("created_at")?,
    })
}

async fn load_custody(conn: &mut Conn, case_id: &str) -> Result<Vec<CustodyRecord>> {
    rows_by_key(conn, "SELECT id, case_id, holder, location, at, note, recorded_by, created_at FROM custody WHERE case_id = $1 ORDER BY at, id", case_id, custody_from_row).await
}

fn escalation_from_row(r: &DbRow) -> Result<EscalationRecord> {
    Ok(EscalationRecord {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        from_level: r.try_get("from_level")?,
        level: r.try_get("level")?,
        reason: r.try_get("reason")?,
        cause: r.try_get("cause")?,
        actor: r.try_get("actor")?,
        created_at_ms: r.try_get("created_at")?,
    })
}

async fn load_escalations(conn: &mut Conn, case_id: &str) -> Result<Vec<EscalationRecord>> {
    rows_by_key(conn, "SELECT id, case_id, from_level, level, reason, cause, actor, created_at FROM escalations WHERE case_id = $1 ORDER BY id", case_id, escalation_from_row).await
}

async fn load_policy(conn: &mut Conn, case_id: &str) -> Result<Option<CasePolicyRecord>> {
    let row = sqlx::query("SELECT case_id, playbook_version, evaluation, matched, level, evaluated_at FROM case_policy WHERE case_id = $1")
        .bind(case_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(r) = row else { return Ok(None) };
    let evaluation: String = r.try_get("evaluation")?;
    let matched: String = r.try_get("matched")?;
    Ok(Some(CasePolicyRecord {
        case_id: r.try_get("case_id")?,
        playbook_version: r.try_get("playbook_version")?,
        evaluation: serde_json::from_str(&evaluation).map_err(corrupt)?,
        matched: serde_json::from_str(&matched).map_err(corrupt)?,
        level: r.try_get("level")?,
        evaluated_at_ms: r.try_get("evaluated_at")?,
    }))
}

fn job_from_row(r: &DbRow) -> Result<JobRecord> {
    let payload: String = r.try_get("payload")?;
    Ok(JobRecord {
        id: r.try_get("id")?,
        event_id: r.try_get("event_id")?,
        kind: r.try_get("kind")?,
        case_id: r.try_get("case_id")?,
        target: r.try_get("target")?,
        payload: serde_json::from_str(&payload).map_err(corrupt)?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        run_at_ms: r.try_get("run_at")?,
        last_error: r.try_get("last_error")?,
        created_at_ms: r.try_get("created_at")?,
        updated_at_ms: r.try_get("updated_at")?,
    })
}

// ------------------------------------------------------------------------------ evaluation

/// What a notification says about its case. No narrative, title or reporter: personal
/// data stays in firewatch; receivers follow the reference.
fn case_summary(case: &CaseRecord) -> Value {
    json!({
        "id": case.id, "reference": case.reference(), "severity": case.severity,
        "status": case.status, "country": case.country, "channel": case.channel,
        "product": {"brand": case.product_brand, "model": case.product_model},
    })
}

/// Queues one notification in the outbox; returns what the audit event records.
/// One outbox row to insert: (event_id, channel, target, payload).
pub(super) type JobRow = (String, &'static str, String, String);

/// Adds the outbox rows of one case to a batch, as one INSERT.
fn push_jobs(batch: &mut Batch, now: i64, case_id: &str, rows: Vec<JobRow>) {
    if rows.is_empty() {
        return;
    }
    let q = batch.next();
    q.push("INSERT INTO jobs (event_id, kind, case_id, target, payload, state, attempts, run_at, created_at, updated_at) ");
    q.push_values(rows, |mut b, (event_id, channel, target, payload)| {
        b.push_bind(event_id)
            .push_bind(channel)
            .push_bind(case_id.to_string())
            .push_bind(target)
            .push_bind(payload)
            .push_bind("pending")
            .push_bind(0i64)
            .push_bind(now)
            .push_bind(now)
            .push_bind(now);
    });
}

/// Builds one notification for the outbox; returns the row and what the audit event records.
pub(super) fn notification(
    now_ms: i64,
    case: &CaseRecord,
    plan: &NotificationPlan,
    kind: &str,
    extra: Value,
) -> Result<(JobRow, Value)> {
    let event_id = uuid::Uuid::now_v7().to_string();
    let mut payload = json!({
        "event_id": event_id,
        "type": kind,
        "occurred_at": ts(now_ms)?.to_string(),
        "rule_id": plan.rule_id,
        "case": case_summary(case),
    });
    if let (Some(p), Value::Object(extra)) = (payload.as_object_mut(), extra) {
        p.extend(extra);
    }
    let channel = plan.channel.as_str();
    let audit = json!({"channel": channel, "target": plan.target, "event_id": event_id});
    Ok((
        (event_id, channel, plan.target.clone(), payload.to_string()),
        audit,
    ))
}

/// The state and deadline a clock should have now.
pub(super) fn planned(
    plan: &ClockPlan,
    started_ms: i64,
    pauses: &[Pause],
) -> Result<(&'static str, Option<i64>)> {
    let started = ts(started_ms)?;
    let open_pause = plan.pausable && pauses.iter().any(|(_, until)| until.is_none());
    let deadline = plan.deadline(started, pauses).map(|t| t.as_millisecond());
    Ok(if open_pause && deadline.is_none() {
        ("paused", None)
    } else {
        ("running", deadline)
    })
}

/// Brings the case's clock rows in line with the evaluation: new clocks start (regulator
/// clocks at the first report's received time, when the firm knew), running ones follow
/// plan and pause changes, clocks no longer planned stop. Breached and stopped rows stay.
async fn sync_clocks(
    ctx: &mut WriteCtx,
    loaded: &Loaded,
    eval: &Evaluation,
    first_evaluation: bool,
    batch: &mut Batch,
    changes: &mut Vec<Value>,
) -> Result<()> {
    let case_id = loaded.case.id.clone();
    // A case evaluated for the first time has no pauses and no clocks yet.
    let (pauses, existing): (Vec<Pause>, BTreeMap<String, ClockRecord>) = if first_evaluation {
        (Vec::new(), BTreeMap::new())
    } else {
        let pauses = load_pauses(ctx.conn(), &case_id).await?;
        let existing = load_clocks(ctx.conn(), &case_id)
            .await?
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        (pauses, existing)
    };
    let mut new_rows = Vec::new();
    for plan in &eval.effects.clocks {
        let (kind, basis) = (name_of(&plan.kind), name_of(&plan.basis));
        let duration = plan.duration.to_string();
        let calendar = plan.calendar.name().to_string();
        let started_ms = match existing.get(&plan.name) {
            Some(row) => row.started_at_ms,
            None if plan.kind == ClockKind::Regulator || first_evaluation => {
                if plan.kind == ClockKind::Regulator {
                    loaded.first_received_ms
                } else {
                    loaded.case.created_at_ms
                }
            }
            None => ctx.now_ms,
        };
        let (state, deadline) = planned(plan, started_ms, &pauses)?;
        match existing.get(&plan.name) {
            None => {
                new_rows.push((
                    plan,
                    kind.clone(),
                    basis.clone(),
                    duration.clone(),
                    calendar.clone(),
                    started_ms,
                    deadline,
                    state,
                ));
                changes.push(
                    json!({"clock": plan.name, "change": "started", "kind": kind,
                    "started_at_ms": started_ms, "deadline_ms": deadline, "state": state}),
                );
            }
            Some(row)
                if (row.state == "running" || row.state == "paused")
                    && (row.state != state
                        || row.deadline_ms != deadline
                        || row.duration != duration
                        || row.basis != basis
                        || row.calendar != calendar
                        || row.kind != kind
                        || row.pausable != plan.pausable
                        || row.rule_id != plan.rule_id) =>
            {
                sqlx::query("UPDATE clocks SET kind = $1, basis = $2, duration = $3, pausable = $4, calendar = $5, rule_id = $6, reference = $7, deadline = $8, state = $9, updated_at = $10 WHERE id = $11")
                    .bind(&kind)
                    .bind(&basis)
                    .bind(&duration)
                    .bind(plan.pausable as i64)
                    .bind(&calendar)
                    .bind(&plan.rule_id)
                    .bind(&plan.reference)
                    .bind(deadline)
                    .bind(state)
                    .bind(ctx.now_ms)
                    .bind(row.id)
                    .execute(ctx.conn())
                    .await?;
                changes.push(json!({"clock": plan.name, "change": "rescheduled", "from_deadline_ms": row.deadline_ms,
                    "deadline_ms": deadline, "from_state": row.state, "state": state}));
            }
            Some(_) => {}
        }
    }
    if !new_rows.is_empty() {
        let now = ctx.now_ms;
        let qb = batch.next();
        qb.push(
            "INSERT INTO clocks (case_id, name, kind, basis, duration, pausable, calendar, rule_id, reference, started_at, deadline, state, updated_at) ",
        );
        qb.push_values(
            new_rows,
            |mut b, (plan, kind, basis, duration, calendar, started_ms, deadline, state)| {
                b.push_bind(case_id.clone())
                    .push_bind(plan.name.clone())
                    .push_bind(kind)
                    .push_bind(basis)
                    .push_bind(duration)
                    .push_bind(plan.pausable as i64)
                    .push_bind(calendar)
                    .push_bind(plan.rule_id.clone())
                    .push_bind(plan.reference.clone())
                    .push_bind(started_ms)
                    .push_bind(deadline)
                    .push_bind(state)
                    .push_bind(now);
            },
        );
    }
    let planned_names: BTreeSet<&str> = eval
        .effects
        .clocks
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    for row in existing.values() {
        if !planned_names.contains(row.name.as_str())
            && (row.state == "running" || row.state == "paused")
        {
            sqlx::query("UPDATE clocks SET state = 'stopped', updated_at = $1 WHERE id = $2")
                .bind(ctx.now_ms)
                .bind(row.id)
                .execute(ctx.conn())
                .await?;
            changes.push(json!({"clock": row.name, "change": "stopped", "reason": "no matched rule sets it any more"}));
        }
    }
    Ok(())
}

/// Evaluates the active playbook on a case and stores the outcome: the trace and effects,
/// the severity floor, the escalation level of `on_match` rules, the required tasks, the
/// clocks, and the notifications of rules that start to match. Writes an audit event when
/// anything changed; a re-evaluation that changes nothing writes nothing.
pub(crate) async fn apply_evaluation(
    ctx: &mut WriteCtx,
    pb: &ActivePlaybook,
    case_id: &str,
    actor: &Actor,
) -> Result<(Evaluation, CasePolicyRecord)> {
    let loaded = load_facts(ctx.conn(), case_id).await?;
    let eval = pb.playbook.evaluate(&loaded.facts);
    store_evaluation(ctx, pb, loaded, eval, None, actor).await
}

/// The stored form of an evaluation: the facts, the full trace and the merged effects,
/// without the per-rule copies of the effects and with each clock's calendar by name (the
/// playbook has it). Serialized straight from borrows: it runs on every intake.
pub(crate) fn compact_text(eval: &Evaluation) -> Result<String> {
    #[derive(Serialize)]
    struct Clock<'a> {
        name: &'a str,
        kind: ClockKind,
        duration: String,
        basis: firewatch_policy::ClockBasis,
        pausable: bool,
        calendar: &'a str,
        rule_id: &'a str,
        reference: &'a Option<String>,
    }
    #[derive(Serialize)]
    struct Effects<'a> {
        severity: firewatch_domain::Severity,
        team: &'a Option<String>,
        escalate_to: Option<Level>,
        allowed_remedies: &'a BTreeSet<firewatch_policy::RemedyKind>,
        forbidden_remedies: &'a BTreeSet<firewatch_policy::RemedyKind>,
        max_customer_pays_percent: Option<u8>,
        min_refund_percent: Option<u16>,
        approvals: &'a [firewatch_policy::RuleApproval],
        tasks: &'a [firewatch_policy::RequiredTask],
        clocks: Vec<Clock<'a>>,
        notifications: &'a [NotificationPlan],
    }
    #[derive(Serialize)]
    struct Compact<'a> {
        playbook: &'a str,
        revision: &'a Option<String>,
        facts: &'a CaseFacts,
        input_severity: firewatch_domain::Severity,
        trace: &'a [firewatch_policy::RuleTrace],
        effects: Effects<'a>,
        notes: &'a [String],
    }
    let fx = &eval.effects;
    let c = Compact {
        playbook: &eval.playbook,
        revision: &eval.revision,
        facts: &eval.facts,
        input_severity: eval.input_severity,
        trace: &eval.trace,
        effects: Effects {
            severity: fx.severity,
            team: &fx.team,
            escalate_to: fx.escalate_to,
            allowed_remedies: &fx.allowed_remedies,
            forbidden_remedies: &fx.forbidden_remedies,
            max_customer_pays_percent: fx.max_customer_pays_percent,
            min_refund_percent: fx.min_refund_percent,
            approvals: &fx.approvals,
            tasks: &fx.tasks,
            clocks: fx
                .clocks
                .iter()
                .map(|k| Clock {
                    name: &k.name,
                    kind: k.kind,
                    duration: k.duration.to_string(),
                    basis: k.basis,
                    pausable: k.pausable,
                    calendar: k.calendar.name(),
                    rule_id: &k.rule_id,
                    reference: &k.reference,
                })
                .collect(),
            notifications: &fx.notifications,
        },
        notes: &eval.notes,
    };
    serde_json::to_string(&c).map_err(corrupt)
}

/// A new case's evaluation, computed before the write (CEL and serialization stay out of
/// the writer's serial section).
pub(crate) struct PreEvaluated {
    pub(super) eval: Evaluation,
    pub(super) text: String,
    pub(super) version: i64,
    /// The case row intake is about to write (id and number come from the receipt).
    pub(super) case: CaseRecord,
}

pub(crate) fn pre_evaluate(
    pb: &ActivePlaybook,
    cmd: &crate::records::IntakeCommand,
) -> Result<PreEvaluated> {
    let eval = pb.playbook.evaluate(&intake_facts(cmd));
    let text = compact_text(&eval)?;
    let r = &cmd.report;
    let case = CaseRecord {
        id: String::new(),
        number: 0,
        status: CaseStatus::New,
        severity: cmd.severity,
        hazards: cmd.hazards.clone(),
        title: super::title_of(&r.narrative),
        assignee: None,
        country: r.country.clone(),
        channel: r.channel.as_str().to_string(),
        product_brand: r.product.brand.clone(),
        product_model: r.product.model.clone(),
        reporter_handle: r.reporter.handle.clone(),
        created_at_ms: cmd.received_at_ms,
        updated_at_ms: cmd.received_at_ms,
    };
    Ok(PreEvaluated {
        eval,
        text,
        version: pb.version,
        case,
    })
}

pub(super) async fn store_evaluation(
    ctx: &mut WriteCtx,
    pb: &ActivePlaybook,
    loaded: Loaded,
    eval: Evaluation,
    // Some(text) = a new case evaluated before the write: nothing to read back, and its
    // record's `evaluation` is left Null (the caller does not use it).
    fresh: Option<String>,
    actor: &Actor,
) -> Result<(Evaluation, CasePolicyRecord)> {
    let case_id = loaded.case.id.clone();
    let case_id = case_id.as_str();
    let previous = if fresh.is_some() {
        None
    } else {
        load_policy(ctx.conn(), case_id).await?
    };
    let entity = format!("case:{case_id}");
    let mut changed = previous.is_none();
    let now = ctx.now_ms;
    let mut batch = Batch::new();

    // Severity floor.
    let mut case = loaded.case.clone();
    let mut severity_change = Value::Null;
    if eval.effects.severity < case.severity {
        let q = batch.next();
        q.push("UPDATE cases SET severity = ")
            .push_bind(eval.effects.severity.as_str())
            .push(", updated_at = ")
            .push_bind(now)
            .push(" WHERE id = ")
            .push_bind(case_id.to_string());
        severity_change = json!({"from": case.severity, "to": eval.effects.severity});
        case.severity = eval.effects.severity;
        changed = true;
    }

    // Escalation level (`on_match`): the escalations row, recorded in this evaluation's
    // audit event.
    let prev_level = previous
        .as_ref()
        .and_then(|p| Level::parse(&p.level))
        .unwrap_or(Level::Agent);
    let mut level = prev_level;
    let mut escalated = Value::Null;
    if let Some(to) = eval.effects.escalate_to
        && to > prev_level
    {
        level = to;
        let rule = eval
            .matched
            .iter()
            .find(|m| m.effects.escalate_to == Some(to))
            .map(|m| m.rule_id.clone())
            .unwrap_or_default();
        let reason = format!("rule \"{rule}\" escalates this case to {to}");
        let cause = format!("rule:{rule}");
        escalated = json!({"from": prev_level, "to": to, "reason": reason, "cause": cause});
        let q = batch.next();
        q.push("INSERT INTO escalations (case_id, from_level, level, reason, cause, actor, created_at) ");
        q.push_values([()], |mut b, ()| {
            b.push_bind(case_id.to_string())
                .push_bind(prev_level.as_str())
                .push_bind(to.as_str())
                .push_bind(reason.clone())
                .push_bind(cause.clone())
                .push_bind(actor.0.clone())
                .push_bind(now);
        });
        changed = true;
    }

    // Tasks required before resolution. A new case gets them all; otherwise RETURNING
    // names the ones that are new.
    let mut tasks_added: Vec<String> = Vec::new();
    if !eval.effects.tasks.is_empty() {
        let values = |qb: &mut sqlx::QueryBuilder<dialect::Db>| {
            qb.push("INSERT INTO tasks (case_id, task, rule_id, status, created_at) ");
            qb.push_values(&eval.effects.tasks, |mut b, t| {
                b.push_bind(case_id.to_string())
                    .push_bind(t.task.as_str())
                    .push_bind(t.rule_id.clone())
                    .push_bind("open")
                    .push_bind(now);
            });
            qb.push(" ON CONFLICT (case_id, task) DO NOTHING");
        };
        if fresh.is_some() {
            values(batch.next());
            tasks_added = eval
                .effects
                .tasks
                .iter()
                .map(|t| t.task.as_str().to_string())
                .collect();
        } else {
            let mut qb = sqlx::QueryBuilder::<dialect::Db>::new("");
            values(&mut qb);
            qb.push(" RETURNING task");
            for row in qb.build().fetch_all(ctx.conn()).await? {
                tasks_added.push(row.try_get(0)?);
            }
        }
    }

    // Clocks.
    let mut clock_changes = Vec::new();
    sync_clocks(
        ctx,
        &loaded,
        &eval,
        previous.is_none(),
        &mut batch,
        &mut clock_changes,
    )
    .await?;

    // Notifications of rules that start to match.
    let matched: Vec<String> = eval.matched.iter().map(|m| m.rule_id.clone()).collect();
    let before: BTreeSet<&str> = previous
        .as_ref()
        .map(|p| p.matched.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut notified = Vec::new();
    let mut rows = Vec::new();
    for plan in eval.notifications_on_match() {
        if !before.contains(plan.rule_id.as_str()) {
            let extra = json!({"escalation": {"level": level}});
            let (row, audit) = notification(now, &case, plan, "rule.matched", extra)?;
            rows.push(row);
            notified.push(audit);
        }
    }
    push_jobs(&mut batch, now, case_id, rows);

    let version_changed = previous
        .as_ref()
        .is_some_and(|p| p.playbook_version != pb.version);
    let matched_changed = previous.as_ref().is_some_and(|p| p.matched != matched);
    changed |= version_changed
        || matched_changed
        || !tasks_added.is_empty()
        || !clock_changes.is_empty()
        || level != prev_level;

    let (text, evaluation) = match fresh {
        Some(text) => (text, Value::Null),
        None => {
            let text = compact_text(&eval)?;
            let value = serde_json::from_str(&text).map_err(corrupt)?;
            (text, value)
        }
    };
    let record = CasePolicyRecord {
        case_id: case_id.to_string(),
        playbook_version: pb.version,
        evaluation,
        matched: matched.clone(),
        level: level.as_str().to_string(),
        evaluated_at_ms: if changed {
            now
        } else {
            previous.as_ref().map(|p| p.evaluated_at_ms).unwrap_or(now)
        },
    };
    if changed {
        let matched_json = serde_json::to_string(&matched).map_err(corrupt)?;
        let q = batch.next();
        q.push("INSERT INTO case_policy (case_id, playbook_version, evaluation, matched, level, evaluated_at) ");
        q.push_values([()], |mut b, ()| {
            b.push_bind(case_id.to_string())
                .push_bind(pb.version)
                .push_bind(text.clone())
                .push_bind(matched_json.clone())
                .push_bind(level.as_str())
                .push_bind(now);
        });
        q.push(
            " ON CONFLICT (case_id) DO UPDATE SET playbook_version = excluded.playbook_version, evaluation = excluded.evaluation, \
             matched = excluded.matched, level = excluded.level, evaluated_at = excluded.evaluated_at",
        );
    }
    batch.run(ctx.conn()).await?;
    if changed {
        let errors: Vec<&str> = eval.errors().map(|t| t.rule_id.as_str()).collect();
        ctx.event(
            actor,
            "case.policy_evaluated",
            &entity,
            previous
                .as_ref()
                .map(|p| json!({"playbook_version": p.playbook_version, "matched": p.matched, "level": p.level})),
            Some(json!({
                "playbook_version": pb.version, "matched": matched, "rule_errors": errors,
                "severity": case.severity, "severity_raised": severity_change,
                "team": eval.effects.team, "level": level, "escalated": escalated,
                "tasks_added": tasks_added, "clocks": clock_changes, "notifications": notified,
            })),
        )
        .await?;
    }
    Ok((eval, record))
}

/// The facts of a case that intake is about to open, as `load_facts` will read them back.
pub(crate) fn intake_facts(cmd: &crate::records::IntakeCommand) -> CaseFacts {
    let r = &cmd.report;
    let mut facts = CaseFacts::new(cmd.severity);
    facts.hazards = cmd
        .hazards
        .iter()
        .filter_map(|h| h.parse::<HazardCode>().ok())
        .collect();
    facts.market = r
        .country
        .clone()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    facts.channel = r.channel.as_str().to_string();
    facts.product.brand = r.product.brand.clone().unwrap_or_default();
    facts.product.model = r.product.model.clone().unwrap_or_default();
    if injury_rank(r.injuries) > injury_rank(facts.injuries) {
        facts.injuries = r.injuries;
    }
    if let Some(price) = &r.product.price {
        facts.product.price = price.amount;
        facts.product.currency = price.currency.clone();
    }
    potential_hazards(&cmd.triage_json, &mut facts.potential_hazards);
    facts
}

// Intake stores a new case's evaluation (the `fresh` case of `store_evaluation`) in its own
// transaction: on SQLite on the writer's direct path (`sqlite/intake_direct.rs`,
// `after_intake`), on PostgreSQL by `postgres/mod.rs` (`after_intake`).

fn blocker_refusal(blockers: &[firewatch_policy::Blocker]) -> Refusal {
    let text: Vec<&str> = blockers.iter().map(|b| b.explanation.as_str()).collect();
    Refusal::new(
        422,
        "resolution-blocked",
        "The case cannot be resolved yet",
        format!("The case cannot be resolved yet. {}", text.join(" ")),
    )
    .with("blockers", blockers)
    .with(
        "rule_ids",
        blockers
            .iter()
            .map(|b| b.rule_id.as_str())
            .collect::<BTreeSet<_>>(),
    )
}

/// Checked inside `transition_case` before the status changes: resolving needs every
/// required task (and the chain of custody) recorded.
pub(crate) async fn before_transition(
    ctx: &mut WriteCtx,
    pb: &ActivePlaybook,
    before: &CaseRecord,
    to: CaseStatus,
) -> Result<()> {
    if to == CaseStatus::Resolved {
        let loaded = load_facts(ctx.conn(), &before.id).await?;
        let eval = pb.playbook.evaluate(&loaded.facts);
        let progress = load_progress(ctx.conn(), &before.id).await?;
        let blockers = resolution_blockers(&eval, &progress);
        if !blockers.is_empty() {
            return Err(blocker_refusal(&blockers).into());
        }
    }
    Ok(())
}

/// Called inside `transition_case` after the status changed: waiting_customer opens or
/// closes a pause (courtesy clocks that may pause follow it, regulator clocks never do);
/// resolved and closed stop the running clocks.
pub(crate) async fn after_transition(
    ctx: &mut WriteCtx,
    pb: &ActivePlaybook,
    case_id: &str,
    from: CaseStatus,
    to: CaseStatus,
    actor: &Actor,
) -> Result<()> {
    let entity = format!("case:{case_id}");
    if matches!(to, CaseStatus::Resolved | CaseStatus::Closed) {
        let stopped = sqlx::query("UPDATE clocks SET state = 'stopped', updated_at = $1 WHERE case_id = $2 AND state IN ('running', 'paused') RETURNING name")
            .bind(ctx.now_ms)
            .bind(case_id)
            .fetch_all(ctx.conn())
            .await?;
        let names: Vec<String> = stopped
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        sqlx::query("UPDATE case_pauses SET until_ms = $1 WHERE case_id = $2 AND until_ms IS NULL")
            .bind(ctx.now_ms)
            .bind(case_id)
            .execute(ctx.conn())
            .await?;
        if !names.is_empty() {
            ctx.event(
                actor,
                "clocks.stopped",
                &entity,
                None,
                Some(json!({"clocks": names, "status": to})),
            )
            .await?;
        }
        return Ok(());
    }
    let entering = to == CaseStatus::WaitingCustomer && from != CaseStatus::WaitingCustomer;
    let leaving = from == CaseStatus::WaitingCustomer && to != CaseStatus::WaitingCustomer;
    if entering {
        sqlx::query("INSERT INTO case_pauses (case_id, from_ms) VALUES ($1, $2)")
            .bind(case_id)
            .bind(ctx.now_ms)
            .execute(ctx.conn())
            .await?;
    }
    if leaving {
        sqlx::query("UPDATE case_pauses SET until_ms = $1 WHERE case_id = $2 AND until_ms IS NULL")
            .bind(ctx.now_ms)
            .bind(case_id)
            .execute(ctx.conn())
            .await?;
    }
    if entering || leaving {
        apply_evaluation(ctx, pb, case_id, actor).await?;
    }
    Ok(())
}

fn check_reason(reason: &str, min: usize) -> Result<String> {
    let r = reason.trim();
    let n = r.chars().count();
    if n < min || n > 4000 {
        return Err(Refusal::new(
            422,
            "reason-required",
            "A written reason is required",
            format!("a reason of {min} to 4000 characters is required"),
        )
        .into());
    }
    Ok(r.to_string())
}

fn open_case(case: &CaseRecord) -> Result<()> {
    if case.status.is_open() {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "case {} is {}; reopen it first",
            case.reference(),
            case.status
        )))
    }
}

// ------------------------------------------------------------------------------ the trait

impl Backend {
    fn pb(&self) -> Arc<ActivePlaybook> {
        self.playbook.current()
    }

    /// Queues an `evaluate` job for every open case evaluated with an older playbook than
    /// the active one.
    async fn queue_stale_cases(&self) -> Result<()> {
        let version = self.pb().version;
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                sqlx::query("INSERT INTO jobs (event_id, kind, case_id, target, payload, state, attempts, run_at, created_at, updated_at)
                             SELECT 'evaluate:' || c.id || ':v' || $1, 'evaluate', c.id, '', '{}', 'pending', 0, $2, $2, $2
                             FROM cases c JOIN case_policy p ON p.case_id = c.id
                             WHERE c.status NOT IN ('resolved', 'closed') AND p.playbook_version < $1
                             ON CONFLICT (event_id) DO NOTHING")
                    .bind(version)
                    .bind(ctx.now_ms)
                    .execute(ctx.conn())
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// A cheap look on a reader before taking the writer: an idle scheduler poll writes
    /// nothing. The claim itself is still decided inside the write transaction.
    async fn due(&self, sql: &'static str) -> Result<bool> {
        let now = Timestamp::now().as_millisecond();
        Ok(sqlx::query(sql)
            .bind(now)
            .fetch_optional(&self.readers)
            .await?
            .is_some())
    }
}

#[async_trait]
impl PlaybookStore for Backend {
    fn active_playbook(&self) -> Arc<ActivePlaybook> {
        self.pb()
    }

    async fn put_playbook(
        &self,
        source_name: &str,
        text: &str,
        actor: &Actor,
    ) -> Result<PutPlaybook> {
        let playbook = match Playbook::from_toml_str(source_name, text) {
            Ok(p) => p,
            Err(e) => return Ok(PutPlaybook::Invalid(e)),
        };
        let (source_name, text, actor) = (source_name.to_string(), text.to_string(), actor.clone());
        let sha = sha256_hex(&text);
        let name = playbook.name().to_string();
        let revision = playbook.revision().map(str::to_string);
        let rules = playbook.rules().len();
        let playbook = Arc::new(playbook);
        let active = self
            .write(move |ctx: &mut WriteCtx| {
                Box::pin(async move {
                    let version: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 FROM playbooks")
                        .fetch_one(ctx.conn())
                        .await?
                        .try_get(0)?;
                    sqlx::query("INSERT INTO playbooks (version, source_name, name, revision, text, sha256, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                        .bind(version)
                        .bind(&source_name)
                        .bind(&name)
                        .bind(&revision)
                        .bind(&text)
                        .bind(&sha)
                        .bind(&actor.0)
                        .bind(ctx.now_ms)
                        .execute(ctx.conn())
                        .await?;
                    let queued = sqlx::query("INSERT INTO jobs (event_id, kind, case_id, target, payload, state, attempts, run_at, created_at, updated_at)
                                 SELECT 'evaluate:' || id || ':v' || $1, 'evaluate', id, '', '{}', 'pending', 0, $2, $2, $2 FROM cases WHERE status NOT IN ('resolved', 'closed')
                                 ON CONFLICT (event_id) DO NOTHING")
                        .bind(version)
                        .bind(ctx.now_ms)
                        .execute(ctx.conn())
                        .await?
                        .rows_affected();
                    ctx.event(&actor, "playbook.loaded", "playbook", None, Some(json!({
                        "version": version, "source_name": source_name, "name": name, "revision": revision,
                        "sha256": sha, "rules": rules, "cases_queued_for_evaluation": queued,
                    })))
                    .await?;
                    Ok(ActivePlaybook {
                        playbook,
                        version,
                        source_name,
                        text,
                        sha256: sha,
                        created_by: actor.0,
                        created_at_ms: ctx.now_ms,
                    })
                })
            })
            .await?;
        self.playbook.install(active);
        // Cases opened while the new version was being stored were evaluated with the old
        // one: queue them too.
        self.queue_stale_cases().await?;
        Ok(PutPlaybook::Applied(self.pb()))
    }

    async fn refresh_playbook(&self) -> Result<bool> {
        let newest: Option<i64> = sqlx::query("SELECT MAX(version) FROM playbooks")
            .fetch_one(&self.readers)
            .await?
            .try_get(0)?;
        let current = self.pb().version;
        if newest.unwrap_or(0) <= current {
            return Ok(false);
        }
        let row = sqlx::query("SELECT version, source_name, text, sha256, created_by, created_at FROM playbooks ORDER BY version DESC LIMIT 1")
            .fetch_one(&self.readers)
            .await?;
        match active_from_row(&row) {
            Ok(active) => {
                tracing::info!(
                    version = active.version,
                    "playbook reloaded from the database"
                );
                self.playbook.install(active);
                self.queue_stale_cases().await?;
                Ok(true)
            }
            Err(e) => {
                tracing::error!(error = %e, "a newer stored playbook does not load; keeping the active one");
                Ok(false)
            }
        }
    }

    async fn evaluate_case(&self, case_id: &str, actor: &Actor) -> Result<CasePolicyRecord> {
        let (pb, case_id, actor) = (self.pb(), case_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move { Ok(apply_evaluation(ctx, &pb, &case_id, &actor).await?.1) })
        })
        .await
    }

    async fn run_evaluations(&self, limit: u32) -> Result<usize> {
        if !self
            .due("SELECT 1 FROM jobs WHERE kind = 'evaluate' AND state = 'pending' AND run_at <= $1 LIMIT 1")
            .await?
        {
            return Ok(0);
        }
        let pb = self.pb();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let rows = sqlx::query(concat!("UPDATE jobs SET state = 'done', attempts = attempts + 1, updated_at = $1
                    WHERE id IN (SELECT id FROM jobs WHERE kind = 'evaluate' AND state = 'pending' AND run_at <= $1 ORDER BY id LIMIT $2", dialect::skip_locked!(), ")",
                    dialect::claim_recheck!("state = 'pending'"), "
                    RETURNING case_id"))
                    .bind(ctx.now_ms)
                    .bind(i64::from(limit))
                    .fetch_all(ctx.conn())
                    .await?;
                let actor = Actor(SYSTEM.into());
                let mut n = 0;
                for row in rows {
                    let case_id: Option<String> = row.try_get(0)?;
                    let Some(case_id) = case_id else { continue };
                    match apply_evaluation(ctx, &pb, &case_id, &actor).await {
                        Ok(_) => n += 1,
                        Err(StoreError::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(n)
            })
        })
        .await
    }

    async fn case_policy(&self, case_id: &str) -> Result<Option<CasePolicyView>> {
        let pb = self.pb();
        let mut conn = self.readers.acquire().await?;
        let loaded = match load_facts(&mut conn, case_id).await {
            Ok(l) => l,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let eval = pb.playbook.evaluate(&loaded.facts);
        let progress = load_progress(&mut conn, case_id).await?;
        Ok(Some(CasePolicyView {
            policy: load_policy(&mut conn, case_id).await?,
            clocks: load_clocks(&mut conn, case_id).await?,
            remedies: load_remedies(&mut conn, case_id).await?,
            escalations: load_escalations(&mut conn, case_id).await?,
            tasks: load_tasks(&mut conn, case_id).await?,
            custody: load_custody(&mut conn, case_id).await?,
            allowed_remedies: allowed_remedies(&eval),
            blockers: resolution_blockers(&eval, &progress),
            active_playbook_version: pb.version,
        }))
    }

    async fn propose_remedy(
        &self,
        case_id: &str,
        remedy: NewRemedy,
        actor: &Actor,
    ) -> Result<ProposeOutcome> {
        let (pb, case_id, actor) = (self.pb(), case_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let (eval, _) = apply_evaluation(ctx, &pb, &case_id, &Actor(SYSTEM.into())).await?;
                let case = load_case(ctx.conn(), &case_id).await?;
                open_case(&case)?;
                let proposal = RemedyProposal {
                    kind: remedy.kind,
                    customer_pays_percent: remedy.customer_pays_percent,
                    amount: remedy.amount,
                };
                let decision = decide_remedy(&eval, &proposal);
                let (status, rule_id, needed): (RemedyStatus, Option<String>, Vec<String>) = match &decision {
                    RemedyDecision::Allowed => (RemedyStatus::Proposed, None, vec![]),
                    RemedyDecision::NeedsApproval { roles, rule_id } => (
                        RemedyStatus::PendingApproval,
                        Some(rule_id.clone()),
                        roles.iter().map(|r| r.as_str().to_string()).collect(),
                    ),
                    RemedyDecision::Refused { rule_id, .. } => (RemedyStatus::Refused, Some(rule_id.clone()), vec![]),
                };
                let id = uuid::Uuid::now_v7().to_string();
                let decision_json = serde_json::to_value(&decision).map_err(corrupt)?;
                sqlx::query("INSERT INTO remedies (id, case_id, kind, customer_pays_percent, amount, note, status, decision, rule_id, approvals_needed, proposed_by, created_at, updated_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)")
                    .bind(&id)
                    .bind(&case_id)
                    .bind(remedy.kind.as_str())
                    .bind(i64::from(remedy.customer_pays_percent))
                    .bind(remedy.amount)
                    .bind(&remedy.note)
                    .bind(status.as_str())
                    .bind(decision_json.to_string())
                    .bind(&rule_id)
                    .bind(serde_json::to_string(&needed).map_err(corrupt)?)
                    .bind(&actor.0)
                    .bind(ctx.now_ms)
                    .execute(ctx.conn())
                    .await?;
                let kind = if status == RemedyStatus::Refused { "remedy.refused_by_policy" } else { "remedy.proposed" };
                ctx.event(&actor, kind, &format!("case:{case_id}"), None, Some(json!({
                    "remedy_id": id, "kind": remedy.kind, "customer_pays_percent": remedy.customer_pays_percent,
                    "amount": remedy.amount, "status": status, "decision": decision_json,
                })))
                .await?;
                let record = load_remedy(ctx.conn(), &id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("remedy {id}")))?;
                Ok(match decision {
                    RemedyDecision::Allowed => ProposeOutcome::Allowed(record),
                    RemedyDecision::NeedsApproval { .. } => ProposeOutcome::NeedsApproval(record),
                    RemedyDecision::Refused { rule_id, explanation, allowed } => ProposeOutcome::Refused {
                        remedy: record,
                        rule_id,
                        explanation,
                        allowed,
                    },
                })
            })
        })
        .await
    }

    async fn approve_remedy(
        &self,
        remedy_id: &str,
        role: firewatch_domain::Role,
        reason: String,
        actor: &Actor,
    ) -> Result<RemedyRecord> {
        let (pb, remedy_id, actor) = (self.pb(), remedy_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let remedy = load_remedy(ctx.conn(), &remedy_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("remedy {remedy_id}")))?;
                let (eval, _) = apply_evaluation(ctx, &pb, &remedy.case_id, &Actor(SYSTEM.into())).await?;
                let prole = policy_role(role)?;
                let entity = format!("case:{}", remedy.case_id);
                match remedy.status {
                    RemedyStatus::PendingApproval => {
                        let reason = check_reason(&reason, 1)?;
                        if !remedy.approvals_needed.iter().any(|r| r == prole.as_str()) {
                            return Err(Refusal::new(403, "approval-not-allowed", "Not an approver of this remedy",
                                format!("this remedy waits for the approval of {}; the {} role cannot give it",
                                    remedy.approvals_needed.join(" and "), prole))
                                .with("approvals_needed", &remedy.approvals_needed)
                                .into());
                        }
                        let needed: Vec<String> = remedy.approvals_needed.iter().filter(|r| *r != prole.as_str()).cloned().collect();
                        let status = if needed.is_empty() { RemedyStatus::Approved } else { RemedyStatus::PendingApproval };
                        insert_approval(ctx, &remedy, &actor, prole.as_str(), "approved", false, remedy.rule_id.as_deref(), &reason).await?;
                        sqlx::query("UPDATE remedies SET status = $1, approvals_needed = $2, updated_at = $3 WHERE id = $4")
                            .bind(status.as_str())
                            .bind(serde_json::to_string(&needed).map_err(corrupt)?)
                            .bind(ctx.now_ms)
                            .bind(&remedy_id)
                            .execute(ctx.conn())
                            .await?;
                        ctx.event(&actor, "remedy.approved", &entity,
                            Some(json!({"remedy_id": remedy_id, "status": remedy.status, "approvals_needed": remedy.approvals_needed})),
                            Some(json!({"remedy_id": remedy_id, "status": status, "approvals_needed": needed, "role": prole, "reason": reason})))
                            .await?;
                    }
                    RemedyStatus::Refused if remedy.rule_id.is_some() && remedy.approvals.is_empty() => {
                        let rule_id = remedy.rule_id.clone().unwrap_or_default();
                        if let Err(e) = may_approve_exception(&eval, &rule_id, prole, &reason) {
                            let status = match e {
                                firewatch_policy::PolicyError::ReasonRequired { .. }
                                | firewatch_policy::PolicyError::ReasonTooLong { .. } => 422,
                                firewatch_policy::PolicyError::RuleNotApplicable { .. }
                                | firewatch_policy::PolicyError::NoExceptions { .. } => 409,
                                _ => 403,
                            };
                            return Err(Refusal::new(status, "exception-not-allowed", "This exception cannot be approved", e.to_string())
                                .with("rule_id", &rule_id)
                                .into());
                        }
                        let reason = reason.trim().to_string();
                        insert_approval(ctx, &remedy, &actor, prole.as_str(), "approved", true, Some(&rule_id), &reason).await?;
                        sqlx::query("UPDATE remedies SET status = 'approved', updated_at = $1 WHERE id = $2")
                            .bind(ctx.now_ms)
                            .bind(&remedy_id)
                            .execute(ctx.conn())
                            .await?;
                        ctx.event(&actor, "remedy.exception_approved", &entity,
                            Some(json!({"remedy_id": remedy_id, "status": remedy.status})),
                            Some(json!({"remedy_id": remedy_id, "status": "approved", "exception_to": rule_id, "role": prole, "reason": reason})))
                            .await?;
                    }
                    other => {
                        return Err(StoreError::Conflict(format!(
                            "remedy {remedy_id} is {}; only a remedy pending approval, or one the playbook refused, can be approved",
                            other.as_str()
                        )));
                    }
                }
                load_remedy(ctx.conn(), &remedy_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("remedy {remedy_id}")))
            })
        })
        .await
    }

    async fn reject_remedy(
        &self,
        remedy_id: &str,
        role: firewatch_domain::Role,
        reason: String,
        actor: &Actor,
    ) -> Result<RemedyRecord> {
        let (remedy_id, actor) = (remedy_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let remedy = load_remedy(ctx.conn(), &remedy_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("remedy {remedy_id}")))?;
                let prole = policy_role(role)?;
                if remedy.status != RemedyStatus::PendingApproval {
                    return Err(StoreError::Conflict(format!(
                        "remedy {remedy_id} is {}; only a remedy pending approval can be rejected",
                        remedy.status.as_str()
                    )));
                }
                if !remedy.approvals_needed.iter().any(|r| r == prole.as_str()) && prole != firewatch_policy::Role::Hq {
                    return Err(Refusal::new(403, "approval-not-allowed", "Not an approver of this remedy",
                        format!("this remedy waits for the approval of {}; the {} role cannot reject it",
                            remedy.approvals_needed.join(" and "), prole))
                        .into());
                }
                let reason = check_reason(&reason, 1)?;
                insert_approval(ctx, &remedy, &actor, prole.as_str(), "rejected", false, remedy.rule_id.as_deref(), &reason).await?;
                sqlx::query("UPDATE remedies SET status = 'refused', updated_at = $1 WHERE id = $2")
                    .bind(ctx.now_ms)
                    .bind(&remedy_id)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(&actor, "remedy.rejected", &format!("case:{}", remedy.case_id),
                    Some(json!({"remedy_id": remedy_id, "status": remedy.status})),
                    Some(json!({"remedy_id": remedy_id, "status": "refused", "role": prole, "reason": reason})))
                    .await?;
                load_remedy(ctx.conn(), &remedy_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("remedy {remedy_id}")))
            })
        })
        .await
    }

    async fn advance_remedy(
        &self,
        remedy_id: &str,
        to: RemedyStatus,
        actor: &Actor,
    ) -> Result<RemedyRecord> {
        let (remedy_id, actor) = (remedy_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let remedy = load_remedy(ctx.conn(), &remedy_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("remedy {remedy_id}")))?;
                if !remedy.status.allowed_next().contains(&to) {
                    let allowed: Vec<&str> = remedy
                        .status
                        .allowed_next()
                        .iter()
                        .map(|s| s.as_str())
                        .collect();
                    return Err(StoreError::Conflict(format!(
                        "a remedy cannot go from {} to {}; allowed: {}",
                        remedy.status.as_str(),
                        to.as_str(),
                        if allowed.is_empty() {
                            "none".to_string()
                        } else {
                            allowed.join(", ")
                        }
                    )));
                }
                sqlx::query("UPDATE remedies SET status = $1, updated_at = $2 WHERE id = $3")
                    .bind(to.as_str())
                    .bind(ctx.now_ms)
                    .bind(&remedy_id)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(
                    &actor,
                    &format!("remedy.{}", to.as_str()),
                    &format!("case:{}", remedy.case_id),
                    Some(json!({"remedy_id": remedy_id, "status": remedy.status})),
                    Some(json!({"remedy_id": remedy_id, "status": to})),
                )
                .await?;
                load_remedy(ctx.conn(), &remedy_id)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("remedy {remedy_id}")))
            })
        })
        .await
    }

    async fn get_remedy(&self, remedy_id: &str) -> Result<Option<RemedyRecord>> {
        let mut conn = self.readers.acquire().await?;
        load_remedy(&mut conn, remedy_id).await
    }

    async fn escalate(
        &self,
        case_id: &str,
        level: Option<Level>,
        reason: String,
        actor: &Actor,
    ) -> Result<EscalationRecord> {
        let (pb, case_id, actor) = (self.pb(), case_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let (_, policy) =
                    apply_evaluation(ctx, &pb, &case_id, &Actor(SYSTEM.into())).await?;
                let reason = check_reason(&reason, 1)?;
                let current = Level::parse(&policy.level).unwrap_or(Level::Agent);
                let to = match level {
                    Some(l) => l,
                    None => next_level(current).ok_or_else(|| {
                        StoreError::Conflict(
                            "the case is already escalated to hq, the top level".into(),
                        )
                    })?,
                };
                if to <= current {
                    return Err(StoreError::Conflict(format!(
                        "the case is already at {current}; an escalation goes higher"
                    )));
                }
                escalate_in_tx(ctx, &case_id, current, to, &reason, "manual", &actor).await
            })
        })
        .await
    }

    async fn complete_task(
        &self,
        case_id: &str,
        task: TaskKind,
        note: Option<String>,
        actor: &Actor,
    ) -> Result<TaskRecord> {
        let (case_id, actor) = (case_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let case = load_case(ctx.conn(), &case_id).await?;
                open_case(&case)?;
                let existing = load_tasks(ctx.conn(), &case_id).await?.into_iter().find(|t| t.task == task.as_str());
                if let Some(t) = &existing
                    && t.status == "done"
                {
                    return Ok(t.clone());
                }
                sqlx::query("INSERT INTO tasks (case_id, task, rule_id, status, note, completed_by, completed_at, created_at) VALUES ($1, $2, NULL, 'done', $3, $4, $5, $5)
                             ON CONFLICT (case_id, task) DO UPDATE SET status = 'done', note = excluded.note, completed_by = excluded.completed_by, completed_at = excluded.completed_at")
                    .bind(&case_id)
                    .bind(task.as_str())
                    .bind(&note)
                    .bind(&actor.0)
                    .bind(ctx.now_ms)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(&actor, "task.completed", &format!("case:{case_id}"),
                    Some(json!({"task": task, "status": existing.as_ref().map(|t| t.status.clone())})),
                    Some(json!({"task": task, "status": "done", "note": note})))
                    .await?;
                load_tasks(ctx.conn(), &case_id)
                    .await?
                    .into_iter()
                    .find(|t| t.task == task.as_str())
                    .ok_or_else(|| StoreError::NotFound(format!("task {task}")))
            })
        })
        .await
    }

    async fn add_custody(
        &self,
        case_id: &str,
        entry: NewCustody,
        actor: &Actor,
    ) -> Result<CustodyRecord> {
        let (case_id, actor) = (case_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                load_case(ctx.conn(), &case_id).await?;
                let id: i64 = sqlx::query("INSERT INTO custody (case_id, holder, location, at, note, recorded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                    .bind(&case_id)
                    .bind(&entry.holder)
                    .bind(&entry.location)
                    .bind(entry.at_ms)
                    .bind(&entry.note)
                    .bind(&actor.0)
                    .bind(ctx.now_ms)
                    .fetch_one(ctx.conn())
                    .await?
                    .try_get(0)?;
                ctx.event(&actor, "custody.recorded", &format!("case:{case_id}"), None, Some(json!({
                    "custody_id": id, "holder": entry.holder, "location": entry.location, "at_ms": entry.at_ms, "note": entry.note,
                })))
                .await?;
                Ok(CustodyRecord {
                    id,
                    case_id,
                    holder: entry.holder,
                    location: entry.location,
                    at_ms: entry.at_ms,
                    note: entry.note,
                    recorded_by: actor.0,
                    created_at_ms: ctx.now_ms,
                })
            })
        })
        .await
    }

    async fn fire_breaches(&self, limit: u32) -> Result<Vec<BreachRecord>> {
        if !self
            .due("SELECT 1 FROM clocks WHERE state = 'running' AND deadline IS NOT NULL AND deadline <= $1 LIMIT 1")
            .await?
        {
            return Ok(Vec::new());
        }
        let pb = self.pb();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                // The claim: one conditional UPDATE. Only rows still `running` flip to
                // `breached`, so a second worker (or a restarted one) finds nothing to fire:
                // on SQLite inside the writer's IMMEDIATE transaction; on PostgreSQL the
                // subquery skips clocks another node is firing (FOR UPDATE SKIP LOCKED) and
                // `claim_recheck!` re-checks `state = 'running'` on the committed row, so
                // each breach fires on exactly one node.
                let claimed = sqlx::query(concat!("UPDATE clocks SET state = 'breached', breached_at = $1, updated_at = $1
                    WHERE id IN (SELECT id FROM clocks WHERE state = 'running' AND deadline IS NOT NULL AND deadline <= $1 ORDER BY deadline LIMIT $2", dialect::skip_locked!(), ")",
                    dialect::claim_recheck!("state = 'running'"), "
                    RETURNING case_id, name, kind, deadline, rule_id, reference"))
                    .bind(ctx.now_ms)
                    .bind(i64::from(limit))
                    .fetch_all(ctx.conn())
                    .await?;
                let actor = Actor(SCHEDULER.into());
                let mut out = Vec::with_capacity(claimed.len());
                for row in claimed {
                    let case_id: String = row.try_get("case_id")?;
                    let name: String = row.try_get("name")?;
                    let kind: String = row.try_get("kind")?;
                    let deadline: i64 = row.try_get("deadline")?;
                    let reference: Option<String> = row.try_get("reference")?;
                    let (eval, policy) = apply_evaluation(ctx, &pb, &case_id, &Actor(SYSTEM.into())).await?;
                    let case = load_case(ctx.conn(), &case_id).await?;
                    let current = Level::parse(&policy.level).unwrap_or(Level::Agent);
                    let escalated = match next_level(current) {
                        Some(to) => {
                            let reason = format!("clock {name} breached its deadline");
                            escalate_in_tx(ctx, &case_id, current, to, &reason, &format!("clock:{name}"), &actor).await?;
                            Some((current.as_str().to_string(), to.as_str().to_string()))
                        }
                        None => None,
                    };
                    let level = escalated.as_ref().map(|(_, to)| to.clone()).unwrap_or_else(|| current.as_str().to_string());
                    let deadline_at = ts(deadline)?.to_string();
                    let mut notified = Vec::new();
                    let mut rows = Vec::new();
                    for plan in eval.notifications_on_breach(&name) {
                        let extra = json!({
                            "clock": {"name": name, "kind": kind, "deadline": deadline_at, "reference": reference},
                            "escalation": {"level": level, "escalated": escalated.is_some()},
                        });
                        let (row, audit) = notification(ctx.now_ms, &case, plan, "clock.breached", extra)?;
                        rows.push(row);
                        notified.push(audit);
                    }
                    let mut batch = Batch::new();
                    push_jobs(&mut batch, ctx.now_ms, &case_id, rows);
                    batch.run(ctx.conn()).await?;
                    ctx.event(&actor, "clock.breached", &format!("case:{case_id}"), Some(json!({"clock": name, "state": "running"})), Some(json!({
                        "clock": name, "state": "breached", "kind": kind, "deadline_ms": deadline,
                        "escalated": escalated, "notifications": notified,
                    })))
                    .await?;
                    out.push(BreachRecord {
                        case_id,
                        clock: name,
                        deadline_ms: deadline,
                        escalated,
                        notifications: notified.len(),
                    });
                }
                Ok(out)
            })
        })
        .await
    }

    async fn claim_jobs(&self, limit: u32, lease_ms: i64, worker: &str) -> Result<Vec<JobRecord>> {
        if !self
            .due("SELECT 1 FROM jobs WHERE kind IN ('webhook', 'email') AND ((state = 'pending' AND run_at <= $1) OR (state = 'running' AND locked_until <= $1)) LIMIT 1")
            .await?
        {
            return Ok(Vec::new());
        }
        let worker = worker.to_string();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                // Due pending jobs, and running ones whose lease expired (a worker died
                // mid-delivery: at-least-once, receivers dedupe on the event id).
                let rows = sqlx::query(concat!("UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until = $1, updated_at = $2
                    WHERE id IN (SELECT id FROM jobs WHERE kind IN ('webhook', 'email')
                                   AND ((state = 'pending' AND run_at <= $2) OR (state = 'running' AND locked_until <= $2))
                                 ORDER BY run_at, id LIMIT $3", dialect::skip_locked!(), ")
                    RETURNING ", job_cols!()))
                    .bind(ctx.now_ms + lease_ms)
                    .bind(ctx.now_ms)
                    .bind(i64::from(limit))
                    .fetch_all(ctx.conn())
                    .await?;
                let jobs: Vec<JobRecord> = rows.iter().map(job_from_row).collect::<Result<_>>()?;
                if !jobs.is_empty() {
                    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
                    ctx.event(&Actor(SCHEDULER.into()), "outbox.claimed", "outbox", None,
                        Some(json!({"jobs": ids, "worker": worker, "lease_ms": lease_ms})))
                        .await?;
                }
                Ok(jobs)
            })
        })
        .await
    }

    async fn finish_job(&self, id: i64, outcome: JobOutcome) -> Result<()> {
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let row = sqlx::query(concat!("SELECT ", job_cols!(), " FROM jobs WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(ctx.conn())
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("job {id}")))?;
                let job = job_from_row(&row)?;
                let (state, run_at, error, kind) = match &outcome {
                    JobOutcome::Delivered => ("done", job.run_at_ms, None, "notification.delivered"),
                    JobOutcome::Retry { error, retry_at_ms } => ("pending", *retry_at_ms, Some(error.clone()), "notification.failed"),
                    JobOutcome::Dead { error } => ("dead", job.run_at_ms, Some(error.clone()), "notification.dead"),
                };
                sqlx::query("UPDATE jobs SET state = $1, run_at = $2, last_error = COALESCE($3, last_error), locked_until = NULL, updated_at = $4 WHERE id = $5")
                    .bind(state)
                    .bind(run_at)
                    .bind(&error)
                    .bind(ctx.now_ms)
                    .bind(id)
                    .execute(ctx.conn())
                    .await?;
                let entity = job.case_id.as_ref().map(|c| format!("case:{c}")).unwrap_or_else(|| "outbox".into());
                ctx.event(&Actor(SCHEDULER.into()), kind, &entity, Some(json!({"job_id": id, "state": job.state})), Some(json!({
                    "job_id": id, "event_id": job.event_id, "channel": job.kind, "target": job.target,
                    "state": state, "attempts": job.attempts, "error": error, "retry_at_ms": (state == "pending").then_some(run_at),
                })))
                .await
            })
        })
        .await
    }

    async fn list_jobs(&self, state: Option<&str>, limit: u32) -> Result<Vec<JobRecord>> {
        sqlx::query(concat!("SELECT ", job_cols!(), " FROM jobs WHERE ($1 IS NULL OR state = $1) AND kind IN ('webhook', 'email') ORDER BY updated_at DESC, id DESC LIMIT $2"))
            .bind(state)
            .bind(i64::from(limit.clamp(1, 1000)))
            .fetch_all(&self.readers)
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    async fn retry_job(&self, id: i64, actor: &Actor) -> Result<JobRecord> {
        let actor = actor.clone();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let row = sqlx::query(concat!("SELECT ", job_cols!(), " FROM jobs WHERE id = $1 AND kind IN ('webhook', 'email')"))
                    .bind(id)
                    .fetch_optional(ctx.conn())
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("notification job {id}")))?;
                let job = job_from_row(&row)?;
                if job.state != "dead" {
                    return Err(StoreError::Conflict(format!("job {id} is {}; only a dead job can be retried", job.state)));
                }
                sqlx::query("UPDATE jobs SET state = 'pending', attempts = 0, run_at = $1, locked_until = NULL, updated_at = $1 WHERE id = $2")
                    .bind(ctx.now_ms)
                    .bind(id)
                    .execute(ctx.conn())
                    .await?;
                let entity = job.case_id.as_ref().map(|c| format!("case:{c}")).unwrap_or_else(|| "outbox".into());
                ctx.event(&actor, "notification.retried", &entity, Some(json!({"job_id": id, "state": "dead", "attempts": job.attempts})),
                    Some(json!({"job_id": id, "state": "pending", "event_id": job.event_id})))
                    .await?;
                let row = sqlx::query(concat!("SELECT ", job_cols!(), " FROM jobs WHERE id = $1"))
                    .bind(id)
                    .fetch_one(ctx.conn())
                    .await?;
                job_from_row(&row)
            })
        })
        .await
    }
}

#[allow(clippy::too_many_arguments)]
async fn insert_approval(
    ctx: &mut WriteCtx,
    remedy: &RemedyRecord,
    actor: &Actor,
    role: &str,
    decision: &str,
    exception: bool,
    rule_id: Option<&str>,
    reason: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO approvals (remedy_id, actor, role, decision, exception, rule_id, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&remedy.id)
        .bind(&actor.0)
        .bind(role)
        .bind(decision)
        .bind(exception as i64)
        .bind(rule_id)
        .bind(reason)
        .bind(ctx.now_ms)
        .execute(ctx.conn())
        .await?;
    Ok(())
}

async fn escalate_in_tx(
    ctx: &mut WriteCtx,
    case_id: &str,
    from: Level,
    to: Level,
    reason: &str,
    cause: &str,
    actor: &Actor,
) -> Result<EscalationRecord> {
    sqlx::query("UPDATE case_policy SET level = $1 WHERE case_id = $2")
        .bind(to.as_str())
        .bind(case_id)
        .execute(ctx.conn())
        .await?;
    let id: i64 = sqlx::query("INSERT INTO escalations (case_id, from_level, level, reason, cause, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
        .bind(case_id)
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(reason)
        .bind(cause)
        .bind(&actor.0)
        .bind(ctx.now_ms)
        .fetch_one(ctx.conn())
        .await?
        .try_get(0)?;
    ctx.event(
        actor,
        "case.escalated",
        &format!("case:{case_id}"),
        Some(json!({"level": from})),
        Some(json!({"level": to, "reason": reason, "cause": cause})),
    )
    .await?;
    Ok(EscalationRecord {
        id,
        case_id: case_id.to_string(),
        from_level: from.as_str().to_string(),
        level: to.as_str().to_string(),
        reason: reason.to_string(),
        cause: cause.to_string(),
        actor: actor.0.clone(),
        created_at_ms: ctx.now_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn potential_hazards_come_from_the_triage_json_without_duplicates() {
        let mut v = Vec::new();
        potential_hazards(
            r#"{"hazards": [
                {"code": "thermal.fire", "modality": "potential"},
                {"code": "thermal.smoke", "modality": "occurred"},
                {"code": "thermal.fire", "modality": "potential"},
                {"code": "no.such", "modality": "potential"}]}"#,
            &mut v,
        );
        assert_eq!(v, [HazardCode::ThermalFire]);
        potential_hazards("not json", &mut v);
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn the_stored_evaluation_keeps_the_trace_and_names_calendars() {
        let pb = Playbook::default_playbook();
        let mut facts = CaseFacts::new(firewatch_domain::Severity::S1);
        facts.market = "FR".into();
        let eval = pb.evaluate(&facts);
        let text = compact_text(&eval).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["trace"].as_array().unwrap().len(), pb.rules().len());
        assert!(v.get("matched").is_none());
        let clocks = v["effects"]["clocks"].as_array().unwrap();
        assert!(!clocks.is_empty());
        assert!(
            clocks.iter().all(|c| c["calendar"].is_string()),
            "{clocks:?}"
        );
        assert_eq!(v["effects"]["team"], "product-safety");
        // Smaller than the full evaluation, which embeds calendars and per-rule effects.
        let full = serde_json::to_string(&eval).unwrap();
        assert!(
            text.len() * 2 < full.len(),
            "{} vs {}",
            text.len(),
            full.len()
        );
    }
}
