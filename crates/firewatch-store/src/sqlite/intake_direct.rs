//! SQLite's intake, on the writer's direct path ([`super::direct`]): every statement is a
//! cached prepared statement stepped on the writer thread, with no thread hand-off. Reports
//! (API, form, import) come through [`intake`]; a social mention that opens a case calls
//! [`intake_rows`] from its sqlx job through `intake_in_tx` (mod.rs), so SQLite has one intake.
//!
//! PostgreSQL's intake (`postgres/mod.rs`: `intake_in_tx`, `count_report`, `after_intake`
//! with the shared `store_evaluation` of common/playbooks.rs) writes the same rows and events
//! with sqlx; this file is their SQLite counterpart on the direct path. The conformance suite runs the same
//! intake cases on both backends and compares rows, events and receipts.

use super::direct::{DirectCtx, v};
use super::playbooks::{self, PreEvaluated};
use super::title_of;
use crate::playbooks::PlaybookCell;
use crate::records::{IntakeCommand, IntakeOutcome, IntakeReceipt};
use crate::signals::{ALL_REPORTS, Attribution};
use crate::{Actor, Result, StoreError};
use firewatch_policy::{ClockKind, Level};
use serde_json::{Value, json};

/// Takes one report in: [`intake_rows`], then the new case's playbook evaluation and its
/// audit events.
pub(crate) fn intake(
    d: &mut DirectCtx<'_>,
    cell: &PlaybookCell,
    cmd: IntakeCommand,
    pre: PreEvaluated,
) -> Result<IntakeOutcome> {
    let outcome = intake_rows(d, cmd)?;
    if let IntakeOutcome::Created(receipt) = &outcome {
        after_intake(d, cell, receipt, pre)?;
    }
    Ok(outcome)
}

/// Idempotency, case, report, attachments, key, signal counters and the `case.opened` event.
pub(crate) fn intake_rows(d: &mut DirectCtx<'_>, cmd: IntakeCommand) -> Result<IntakeOutcome> {
    if let Some(key) = &cmd.idempotency_key {
        let prior = d.row(
            "SELECT request_hash, receipt FROM idempotency WHERE key = ?1",
            &[v(key)],
            |r| Ok((r.text(0).unwrap_or_default(), r.text(1).unwrap_or_default())),
        )?;
        if let Some((hash, receipt)) = prior {
            if hash != cmd.request_hash {
                return Ok(IntakeOutcome::KeyReused);
            }
            let receipt =
                serde_json::from_str(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            return Ok(IntakeOutcome::Replayed(receipt));
        }
    }
    let case_id = uuid::Uuid::now_v7().to_string();
    let report_id = uuid::Uuid::now_v7().to_string();
    let r = &cmd.report;
    let hazards_json = serde_json::to_string(&cmd.hazards).expect("strings serialise");
    let number = d.take_case_number()?;
    let attachment_ids: Vec<String> = cmd
        .attachments
        .iter()
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let receipt = IntakeReceipt {
        report_id: report_id.clone(),
        case_id: case_id.clone(),
        case_number: number,
        hazards: cmd.hazards.clone(),
        reported_hazards: cmd.reported_hazards.clone(),
        severity: cmd.severity.as_str().to_string(),
        attachment_ids: attachment_ids.clone(),
    };
    let title = title_of(&r.narrative);
    d.exec(
        "INSERT INTO cases (id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        &[
            v(&case_id),
            v(number),
            v("new"),
            v(cmd.severity.as_str()),
            v(&hazards_json),
            v(&title),
            v(&r.country),
            v(r.channel.as_str()),
            v(&cmd.case_product.0),
            v(&cmd.case_product.1),
            v(&r.reporter.handle),
            v(cmd.received_at_ms),
            v(cmd.received_at_ms),
        ],
    )?;
    let product_json = serde_json::to_string(&r.product).expect("serialisable");
    let reporter_json = serde_json::to_string(&r.reporter).expect("serialisable");
    d.exec(
        "INSERT INTO reports (id, case_id, received_at, channel, narrative, language, country, occurred_at, injuries, product, reporter, triage, severity, idempotency_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        &[
            v(&report_id),
            v(&case_id),
            v(cmd.received_at_ms),
            v(r.channel.as_str()),
            v(&r.narrative),
            v(&r.language),
            v(&r.country),
            v(&r.occurred_at),
            v(r.injuries.as_str()),
            v(&product_json),
            v(&reporter_json),
            v(&cmd.triage_json),
            v(cmd.severity.as_str()),
            v(&cmd.idempotency_key),
        ],
    )?;
    for (a, id) in cmd.attachments.iter().zip(&attachment_ids) {
        d.exec(
            "INSERT INTO attachments (id, report_id, sha256, clean_sha256, media_type, size, width, height, filename, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            &[
                v(id),
                v(&report_id),
                v(&a.sha256),
                v(&a.clean_sha256),
                v(&a.media_type),
                v(a.size),
                v(a.width),
                v(a.height),
                v(&a.filename),
                v(cmd.received_at_ms),
            ],
        )?;
    }
    if let Some(key) = &cmd.idempotency_key {
        let receipt_json = serde_json::to_string(&receipt).expect("serialisable");
        d.exec(
            "INSERT INTO idempotency (key, request_hash, receipt, created_at) VALUES (?1, ?2, ?3, ?4)",
            &[
                v(key),
                v(&cmd.request_hash),
                v(&receipt_json),
                v(cmd.received_at_ms),
            ],
        )?;
    }
    count_report(d, &cmd, &product_json, &case_id, &report_id)?;
    // Personal data (narrative, reporter) stays in the report row; the event records the
    // facts of the change and the report's content hash, so the log proves what was received.
    d.event(
        &cmd.actor,
        "case.opened",
        &format!("case:{case_id}"),
        None,
        Some(json!({
            "report_id": report_id, "number": number, "status": "new",
            "severity": cmd.severity, "hazards": cmd.hazards, "channel": r.channel,
            "country": r.country, "attachments": receipt.attachment_ids.len(),
            "content_sha256": cmd.request_hash,
        })),
    );
    Ok(IntakeOutcome::Created(receipt))
}

/// `signals::resolve_product` on the direct path.
fn resolve_product(d: &mut DirectCtx<'_>, candidates: &[(String, String)]) -> Result<Option<i64>> {
    for (brand, model) in candidates {
        let id = if brand.is_empty() {
            let mut ids = Vec::with_capacity(2);
            d.run(
                "SELECT id FROM products WHERE model = ?1 LIMIT 2",
                &[v(model)],
                |r| {
                    ids.push(r.int(0));
                    Ok(true)
                },
            )?;
            if ids.len() == 1 { Some(ids[0]) } else { None }
        } else {
            d.row(
                "SELECT id FROM products WHERE brand = ?1 AND model = ?2",
                &[v(brand), v(model)],
                |r| Ok(r.int(0)),
            )?
        };
        if id.is_some() {
            return Ok(id);
        }
    }
    Ok(None)
}

/// PostgreSQL's `count_report` (postgres/mod.rs) on the direct path: the counters (the product's report total and
/// one row per hazard), the report's attribution, and the product's re-evaluation mark.
fn count_report(
    d: &mut DirectCtx<'_>,
    cmd: &IntakeCommand,
    product_json: &str,
    case_id: &str,
    report_id: &str,
) -> Result<()> {
    let a = Attribution::of_report(
        &cmd.triage_json,
        product_json,
        cmd.report.country.as_deref(),
        cmd.received_at_ms,
    );
    let Some(product_id) = resolve_product(d, &a.candidates)? else {
        return Ok(());
    };
    let rows = std::iter::once((ALL_REPORTS, "report"))
        .chain(a.occurred.iter().map(|h| (h.as_str(), "occurred")))
        .chain(a.potential.iter().map(|h| (h.as_str(), "potential")));
    for (hazard, modality) in rows {
        d.exec(
            "INSERT INTO signal_counts (product_id, hazard, modality, market, day, n) VALUES (?1, ?2, ?3, ?4, ?5, 1) ON CONFLICT (product_id, hazard, modality, market, day) DO UPDATE SET n = n + excluded.n",
            &[v(product_id), v(hazard), v(modality), v(&a.market), v(a.day)],
        )?;
    }
    let occurred = serde_json::to_string(&a.occurred).unwrap_or_else(|_| "[]".into());
    let potential = serde_json::to_string(&a.potential).unwrap_or_else(|_| "[]".into());
    d.exec(
        "INSERT INTO signal_reports (report_id, case_id, product_id, market, day, occurred, potential) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            v(report_id),
            v(case_id),
            v(product_id),
            v(&a.market),
            v(a.day),
            v(&occurred),
            v(&potential),
        ],
    )?;
    let now = d.now_ms;
    d.exec(
        "INSERT INTO signal_dirty (product_id, marked_at) VALUES (?1, ?2) ON CONFLICT (product_id) DO UPDATE SET marked_at = excluded.marked_at",
        &[v(product_id), v(now)],
    )?;
    Ok(())
}

/// PostgreSQL's `after_intake` (postgres/mod.rs) on the direct path: the new case's evaluation (computed before
/// the write), its severity floor, escalation, tasks, clocks, notifications and policy row,
/// and the `case.policy_evaluated` event.
fn after_intake(
    d: &mut DirectCtx<'_>,
    cell: &PlaybookCell,
    receipt: &IntakeReceipt,
    pre: PreEvaluated,
) -> Result<()> {
    // A reload that landed between the evaluation and this transaction: evaluate again
    // with the playbook now in force (rare; the reload also re-queues stale cases).
    let pb = cell.current();
    let (eval, text) = if pre.version == pb.version {
        (pre.eval, pre.text)
    } else {
        let eval = pb.playbook.evaluate(&pre.eval.facts);
        let text = playbooks::compact_text(&eval)?;
        (eval, text)
    };
    let actor = Actor(playbooks::SYSTEM.into());
    let mut case = pre.case;
    case.id = receipt.case_id.clone();
    case.number = receipt.case_number;
    let case_id = case.id.clone();
    // The firm knew when the report was received.
    let first_received_ms = case.created_at_ms;
    let now = d.now_ms;

    // Severity floor.
    let mut severity_change = Value::Null;
    if eval.effects.severity < case.severity {
        d.exec(
            "UPDATE cases SET severity = ?1, updated_at = ?2 WHERE id = ?3",
            &[v(eval.effects.severity.as_str()), v(now), v(&case_id)],
        )?;
        severity_change = json!({"from": case.severity, "to": eval.effects.severity});
        case.severity = eval.effects.severity;
    }

    // Escalation level (`on_match`).
    let prev_level = Level::Agent;
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
        d.exec(
            "INSERT INTO escalations (case_id, from_level, level, reason, cause, actor, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                v(&case_id),
                v(prev_level.as_str()),
                v(to.as_str()),
                v(&reason),
                v(&cause),
                v(&actor.0),
                v(now),
            ],
        )?;
        escalated = json!({"from": prev_level, "to": to, "reason": reason, "cause": cause});
    }

    // Tasks required before resolution: a new case gets them all.
    let mut tasks_added: Vec<String> = Vec::new();
    for t in &eval.effects.tasks {
        d.exec(
            "INSERT INTO tasks (case_id, task, rule_id, status, created_at) VALUES (?1, ?2, ?3, 'open', ?4) ON CONFLICT (case_id, task) DO NOTHING",
            &[v(&case_id), v(t.task.as_str()), v(&t.rule_id), v(now)],
        )?;
        tasks_added.push(t.task.as_str().to_string());
    }

    // Clocks: all new; regulator clocks start when the firm knew, the others when the case
    // was created (the same instant for a new case).
    let mut clock_changes = Vec::new();
    for plan in &eval.effects.clocks {
        let (kind, basis) = (
            playbooks::name_of(&plan.kind),
            playbooks::name_of(&plan.basis),
        );
        let duration = plan.duration.to_string();
        let calendar = plan.calendar.name().to_string();
        let started_ms = if plan.kind == ClockKind::Regulator {
            first_received_ms
        } else {
            case.created_at_ms
        };
        let (state, deadline) = playbooks::planned(plan, started_ms, &[])?;
        d.exec(
            "INSERT INTO clocks (case_id, name, kind, basis, duration, pausable, calendar, rule_id, reference, started_at, deadline, state, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            &[
                v(&case_id),
                v(&plan.name),
                v(&kind),
                v(&basis),
                v(&duration),
                v(plan.pausable),
                v(&calendar),
                v(&plan.rule_id),
                v(&plan.reference),
                v(started_ms),
                v(deadline),
                v(state),
                v(now),
            ],
        )?;
        clock_changes.push(
            json!({"clock": plan.name, "change": "started", "kind": kind,
            "started_at_ms": started_ms, "deadline_ms": deadline, "state": state}),
        );
    }

    // Notifications of the rules that match.
    let mut notified = Vec::new();
    for plan in eval.notifications_on_match() {
        let extra = json!({"escalation": {"level": level}});
        let ((event_id, channel, target, payload), audit) =
            playbooks::notification(now, &case, plan, "rule.matched", extra)?;
        d.exec(
            "INSERT INTO jobs (event_id, kind, case_id, target, payload, state, attempts, run_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, ?6)",
            &[v(&event_id), v(channel), v(&case_id), v(&target), v(&payload), v(now)],
        )?;
        notified.push(audit);
    }

    let matched: Vec<String> = eval.matched.iter().map(|m| m.rule_id.clone()).collect();
    let matched_json =
        serde_json::to_string(&matched).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    d.exec(
        "INSERT INTO case_policy (case_id, playbook_version, evaluation, matched, level, evaluated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (case_id) DO UPDATE SET playbook_version = excluded.playbook_version, evaluation = excluded.evaluation, \
         matched = excluded.matched, level = excluded.level, evaluated_at = excluded.evaluated_at",
        &[
            v(&case_id),
            v(pb.version),
            v(&text),
            v(&matched_json),
            v(level.as_str()),
            v(now),
        ],
    )?;
    let errors: Vec<&str> = eval.errors().map(|t| t.rule_id.as_str()).collect();
    d.event(
        &actor,
        "case.policy_evaluated",
        &format!("case:{case_id}"),
        None,
        Some(json!({
            "playbook_version": pb.version, "matched": matched, "rule_errors": errors,
            "severity": case.severity, "severity_raised": severity_change,
            "team": eval.effects.team, "level": level, "escalated": escalated,
            "tasks_added": tasks_added, "clocks": clock_changes, "notifications": notified,
        })),
    );
    Ok(())
}
