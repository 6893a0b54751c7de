//! The route table: every route, its method, who may call it, and its handler. The router
//! is built from this table and the authorization middleware reads it, so a route cannot
//! exist without an access entry. The OpenAPI document is generated from it too.

use crate::AppState;
use crate::api::comms;
use crate::api::{audit, cases, exposure, intake, playbooks, products, signals, social};
use crate::ops;
use crate::ui;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use firewatch_domain::Role;
use firewatch_domain::Role::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, including anonymous callers (intake, health, metrics, the API description).
    Public,
    /// Only these roles, authenticated.
    Roles(&'static [Role]),
}

/// Casework: the roles that read and work cases.
const CASEWORK: &[Role] = &[Agent, Supervisor, Safety, Hq];
const READ_CASES: &[Role] = &[Agent, Supervisor, Safety, Hq, Pr];
const AUDITORS: &[Role] = &[Safety, Hq, Admin];
const ALL_STAFF: &[Role] = &[Agent, Supervisor, Safety, Hq, Pr, Admin];
const ADMIN: &[Role] = &[Admin];
const EXPOSURE_WRITERS: &[Role] = &[Admin, Safety];
const SIGNAL_READERS: &[Role] = &[Supervisor, Safety, Hq, Pr, Admin];
const SIGNAL_WORKERS: &[Role] = &[Safety, Hq];
/// Who may approve or reject a remedy (the playbook then decides which of them may).
const APPROVERS: &[Role] = &[Agent, Supervisor, Safety, Hq, Admin];
const MENTION_READERS: &[Role] = &[Pr, Safety, Hq, Supervisor, Agent];
/// Statements (issue 11): who drafts, edits, approves and publishes them (the store then
/// decides by kind: pr and hq for public statements and recall notices).
const STATEMENT_WORKERS: &[Role] = &[Agent, Supervisor, Safety, Hq, Pr];
const SIGNAL_STATEMENT_WORKERS: &[Role] = &[Safety, Hq, Pr];
const FACTS_WRITERS: &[Role] = &[Supervisor, Safety, Hq, Pr];
/// Regulator exports and notifications.
const REGULATORY: &[Role] = &[Safety, Hq];

pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// Request body schema name in the OpenAPI components, if any.
    pub request: Option<&'static str>,
    /// Success response: status and schema name.
    pub response: (u16, Option<&'static str>),
    pub handler: fn() -> MethodRouter<AppState>,
}

macro_rules! route {
    ($method:ident $path:literal, $access:expr, $summary:literal, req: $req:expr, resp: $status:literal $resp:expr, $handler:expr) => {
        RouteSpec {
            method: Method::$method,
            path: $path,
            access: $access,
            summary: $summary,
            request: $req,
            response: ($status, $resp),
            handler: || $handler,
        }
    };
}

pub fn table() -> &'static [RouteSpec] {
    static TABLE: std::sync::OnceLock<Vec<RouteSpec>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        vec![
            route!(POST "/api/v1/reports", Access::Public, "Submit an incident report (JSON or multipart with photos); honours Idempotency-Key",
                req: Some("IntakeRequest"), resp: 201 Some("IntakeResponse"), post(intake::submit)),
            route!(GET "/api/v1/cases", Access::Roles(READ_CASES), "The case queue, most severe first, with filters",
                req: None, resp: 200 Some("CaseList"), get(cases::list)),
            route!(GET "/api/v1/cases/{id}", Access::Roles(READ_CASES), "One case with its reports, notes, photos and timeline",
                req: None, resp: 200 Some("CaseDetail"), get(cases::detail)),
            route!(POST "/api/v1/cases/{id}/transitions", Access::Roles(CASEWORK), "Change a case's status (409 names the allowed ones)",
                req: Some("TransitionRequest"), resp: 200 Some("CaseSummary"), post(cases::transition)),
            route!(POST "/api/v1/cases/{id}/notes", Access::Roles(READ_CASES), "Add a note to a case",
                req: Some("NoteRequest"), resp: 201 Some("Note"), post(cases::add_note)),
            route!(POST "/api/v1/cases/{id}/assign", Access::Roles(CASEWORK), "Assign a case (agents may only take a case themselves)",
                req: Some("AssignRequest"), resp: 200 Some("CaseSummary"), post(cases::assign)),
            route!(GET "/api/v1/cases/{id}/policy", Access::Roles(READ_CASES), "The case's clocks, remedies, escalations, tasks, custody, matched rules and resolution blockers",
                req: None, resp: 200 None, get(playbooks::case_policy)),
            route!(POST "/api/v1/cases/{id}/evaluate", Access::Roles(&[Safety, Hq, Admin]), "Evaluate the active playbook on the case again",
                req: None, resp: 200 None, post(playbooks::evaluate)),
            route!(POST "/api/v1/cases/{id}/remedies", Access::Roles(CASEWORK), "Propose a remedy: 201 allowed, 202 waits for approval, 422 refused with the rule id",
                req: Some("RemedyRequest"), resp: 201 None, post(playbooks::propose_remedy)),
            route!(POST "/api/v1/remedies/{id}/approve", Access::Roles(APPROVERS), "Approve a remedy (a role it waits for) or an exception to the rule that refused it (safety cases: hq only, written reason)",
                req: Some("DecisionRequest"), resp: 200 None, post(playbooks::approve_remedy)),
            route!(POST "/api/v1/remedies/{id}/reject", Access::Roles(APPROVERS), "Reject a remedy that waits for approval",
                req: Some("DecisionRequest"), resp: 200 None, post(playbooks::reject_remedy)),
            route!(POST "/api/v1/remedies/{id}/accept", Access::Roles(CASEWORK), "The customer accepted the remedy",
                req: None, resp: 200 None, post(playbooks::accept_remedy)),
            route!(POST "/api/v1/remedies/{id}/fulfil", Access::Roles(CASEWORK), "The remedy was delivered",
                req: None, resp: 200 None, post(playbooks::fulfil_remedy)),
            route!(POST "/api/v1/cases/{id}/escalations", Access::Roles(CASEWORK), "Escalate a case (default one level up)",
                req: Some("EscalationRequest"), resp: 201 None, post(playbooks::escalate)),
            route!(POST "/api/v1/cases/{id}/tasks/{task}/complete", Access::Roles(CASEWORK), "Mark a task done (device_retrieval, injury_follow_up, safety_review, regulator_report)",
                req: Some("TaskRequest"), resp: 200 None, post(playbooks::complete_task)),
            route!(POST "/api/v1/cases/{id}/custody", Access::Roles(CASEWORK), "Record a chain-of-custody entry: who held the device, when, where",
                req: Some("CustodyRequest"), resp: 201 None, post(playbooks::add_custody)),
            route!(GET "/api/v1/playbook", Access::Roles(&[Safety, Hq, Admin]), "The active playbook: version, rules and text",
                req: None, resp: 200 None, get(playbooks::get_playbook)),
            route!(POST "/api/v1/playbook/validate", Access::Roles(ADMIN), "Validate a playbook (TOML body or JSON {text}) without applying it",
                req: None, resp: 200 None, post(playbooks::validate_playbook)),
            route!(PUT "/api/v1/playbook", Access::Roles(ADMIN), "Replace the active playbook without restart (an invalid one is refused, the old one stays; audited)",
                req: None, resp: 200 None, put(playbooks::put_playbook)),
            route!(GET "/api/v1/notifications", Access::Roles(ADMIN), "Outgoing notifications (webhooks, e-mail) by state, e.g. ?state=dead",
                req: None, resp: 200 None, get(playbooks::list_notifications)),
            route!(POST "/api/v1/notifications/{id}/retry", Access::Roles(ADMIN), "Put a dead notification back in the queue",
                req: None, resp: 200 None, post(playbooks::retry_notification)),
            route!(GET "/api/v1/attachments/{id}", Access::Roles(READ_CASES), "A photo, re-encoded without EXIF/GPS",
                req: None, resp: 200 None, get(cases::attachment)),
            route!(GET "/api/v1/audit", Access::Roles(AUDITORS), "Audit events in order, optionally for one entity",
                req: None, resp: 200 Some("EventList"), get(audit::list)),
            route!(GET "/api/v1/audit/verify", Access::Roles(AUDITORS), "Verify the audit hash chain",
                req: None, resp: 200 Some("AuditVerification"), get(audit::verify)),
            route!(GET "/api/v1/me", Access::Roles(ALL_STAFF), "Who the token belongs to",
                req: None, resp: 200 Some("Me"), get(audit::me)),
            route!(DELETE "/api/v1/tokens/{id}", Access::Roles(ADMIN), "Revoke a token",
                req: None, resp: 204 None, delete(audit::revoke_token)),
            route!(GET "/api/v1/products", Access::Roles(ALL_STAFF), "The product catalog",
                req: None, resp: 200 Some("ProductList"), get(products::list)),
            route!(POST "/api/v1/products", Access::Roles(ADMIN), "Create or update products (JSON, or the catalog CSV as text/csv); triage's catalog follows",
                req: None, resp: 200 Some("ImportResult"), post(products::upsert)),
            route!(POST "/api/v1/exposure", Access::Roles(EXPOSURE_WRITERS), "Units sold per product, market and month (CSV or JSON rows); idempotent upsert",
                req: None, resp: 200 Some("ImportResult"), post(exposure::import)),
            route!(GET "/api/v1/signals", Access::Roles(SIGNAL_READERS), "Defect signals with counts, rates, disproportionality, EBGM and MaxSPRT per window",
                req: None, resp: 200 Some("SignalList"), get(signals::list)),
            route!(GET "/api/v1/signals/{id}", Access::Roles(SIGNAL_READERS), "One signal: statistics per window and market, linked cases, monthly observed vs expected, timeline",
                req: None, resp: 200 Some("SignalDetail"), get(signals::detail)),
            route!(POST "/api/v1/signals/{id}/transitions", Access::Roles(SIGNAL_WORKERS), "Move a signal through new, investigating, confirmed, recall, dismissed (409 names the allowed ones)",
                req: Some("TransitionRequest"), resp: 200 Some("SignalOut"), post(signals::transition)),
            route!(GET "/api/v1/mentions", Access::Roles(MENTION_READERS), "Social and news mentions with their reach forecasts; filters product, hazard, case, min_forecast",
                req: None, resp: 200 Some("MentionList"), get(social::mentions)),
            route!(GET "/api/v1/connectors", Access::Roles(ADMIN), "Social and news connectors: cursor, last event, errors",
                req: None, resp: 200 Some("ConnectorList"), get(social::connectors)),
            // Statements, recall notices and regulator exports (issue 11; api/comms.rs).
            route!(GET "/api/v1/templates", Access::Roles(ALL_STAFF), "Every statement template in force (built-in or admin-saved), by kind and language",
                req: None, resp: 200 None, get(comms::list_templates)),
            route!(GET "/api/v1/templates/{kind}/{lang}", Access::Roles(ALL_STAFF), "One template with its stored versions and the built-in default",
                req: None, resp: 200 None, get(comms::get_template)),
            route!(PUT "/api/v1/templates/{kind}/{lang}", Access::Roles(ADMIN), "Save a template version (validated in the sandbox; 422 names the line; the previous version stays)",
                req: Some("TemplateRequest"), resp: 200 None, put(comms::put_template)),
            route!(GET "/api/v1/comms/profile", Access::Roles(ALL_STAFF), "The firm and public contact used in statements and exports",
                req: None, resp: 200 None, get(comms::get_profile)),
            route!(PUT "/api/v1/comms/profile", Access::Roles(ADMIN), "Set the firm and public contact used in statements and exports",
                req: None, resp: 200 None, put(comms::put_profile)),
            route!(GET "/api/v1/cases/{id}/comms-facts", Access::Roles(READ_CASES), "What the case's statements and exports say: hazard description, instructions, identifiers, remedy, corrective action",
                req: None, resp: 200 None, get(comms::case_facts)),
            route!(PUT "/api/v1/cases/{id}/comms-facts", Access::Roles(FACTS_WRITERS), "Set the case's communication facts",
                req: None, resp: 200 None, put(comms::put_case_facts)),
            route!(GET "/api/v1/signals/{id}/comms-facts", Access::Roles(SIGNAL_READERS), "What the signal's statements and exports say",
                req: None, resp: 200 None, get(comms::signal_facts)),
            route!(PUT "/api/v1/signals/{id}/comms-facts", Access::Roles(SIGNAL_STATEMENT_WORKERS), "Set the signal's communication facts",
                req: None, resp: 200 None, put(comms::put_signal_facts)),
            route!(GET "/api/v1/cases/{id}/statements", Access::Roles(READ_CASES), "The case's statements and regulator notifications",
                req: None, resp: 200 None, get(comms::list_case_statements)),
            route!(POST "/api/v1/cases/{id}/statements", Access::Roles(STATEMENT_WORKERS), "Draft a statement from a template in the report's language (English when none exists)",
                req: Some("StatementRequest"), resp: 201 None, post(comms::draft_case_statement)),
            route!(GET "/api/v1/signals/{id}/statements", Access::Roles(SIGNAL_READERS), "The signal's statements and regulator notifications",
                req: None, resp: 200 None, get(comms::list_signal_statements)),
            route!(POST "/api/v1/signals/{id}/statements", Access::Roles(SIGNAL_STATEMENT_WORKERS), "Draft a public statement or recall notice for a signal",
                req: Some("StatementRequest"), resp: 201 None, post(comms::draft_signal_statement)),
            route!(GET "/api/v1/statements/{id}", Access::Roles(STATEMENT_WORKERS), "One statement with its approvals and, for recall notices, the checker's findings",
                req: None, resp: 200 None, get(comms::get_statement)),
            route!(PATCH "/api/v1/statements/{id}", Access::Roles(STATEMENT_WORKERS), "Edit a statement's text (a new version; earlier approvals no longer count)",
                req: Some("StatementEdit"), resp: 200 None, patch(comms::edit_statement)),
            route!(POST "/api/v1/statements/{id}/approve", Access::Roles(STATEMENT_WORKERS), "Approve the current version (public statements and recall notices: pr and hq; replies: one casework role)",
                req: Some("StatementDecision"), resp: 200 None, post(comms::approve_statement)),
            route!(POST "/api/v1/statements/{id}/reject", Access::Roles(STATEMENT_WORKERS), "Reject the current version (back to the author)",
                req: Some("StatementDecision"), resp: 200 None, post(comms::reject_statement)),
            route!(POST "/api/v1/statements/{id}/publish", Access::Roles(STATEMENT_WORKERS), "Publish an approved statement; a recall notice must pass the checker (or an hq override with a reason)",
                req: Some("PublishRequest"), resp: 200 None, post(comms::publish_statement)),
            route!(POST "/api/v1/statements/{id}/check", Access::Roles(STATEMENT_WORKERS), "Run the recall-notice checker on the statement (or on unsaved text): findings with spans",
                req: Some("CheckRequest"), resp: 200 None, post(comms::check_statement)),
            route!(GET "/api/v1/cases/{id}/exports/{file}", Access::Roles(REGULATORY), "Regulator export of a case: cpsc-15b.json, cpsc-15b.csv, eu-sbg.json, eu-sbg.csv (schema-validated; audited)",
                req: None, resp: 200 None, get(comms::export_case)),
            route!(GET "/api/v1/signals/{id}/exports/{file}", Access::Roles(REGULATORY), "Regulator export of a signal: cpsc-15b.json|csv, eu-sbg.json|csv",
                req: None, resp: 200 None, get(comms::export_signal)),
            route!(POST "/api/v1/cases/{id}/regulator-notifications", Access::Roles(REGULATORY), "Mark a regulator notification submitted (who, when, reference); stops the case's regulator clocks",
                req: Some("NotificationRequest"), resp: 201 None, post(comms::submit_case_notification)),
            route!(POST "/api/v1/signals/{id}/regulator-notifications", Access::Roles(REGULATORY), "Mark a regulator notification about a signal submitted",
                req: Some("NotificationRequest"), resp: 201 None, post(comms::submit_signal_notification)),
            route!(GET "/cases/{id}/dossier", Access::Roles(READ_CASES), "Printable case dossier (HTML): timeline, photos, triage evidence, remedies, clocks, statements, audit status",
                req: None, resp: 200 None, get(comms::dossier)),
            route!(GET "/static/dossier.css", Access::Public, "The dossier's stylesheet (screen and print)",
                req: None, resp: 200 None, get(comms::dossier_css)),
            route!(GET "/api/v1/openapi.json", Access::Public, "This API description",
                req: None, resp: 200 None, get(ops::openapi)),
            route!(GET "/healthz", Access::Public, "Liveness", req: None, resp: 200 None, get(ops::healthz)),
            route!(GET "/readyz", Access::Public, "Readiness: the database answers", req: None, resp: 200 None, get(ops::readyz)),
            route!(GET "/metrics", Access::Public, "Prometheus metrics", req: None, resp: 200 None, get(ops::metrics)),
            // Web UI pages (issue 7): the same table, the same `authorize`.
            route!(GET "/", Access::Public, "Page: home (redirects by role)", req: None, resp: 303 None, get(ui::auth::home)),
            route!(GET "/static/{file}", Access::Public, "Page asset (content-hashed CSS)", req: None, resp: 200 None, get(ui::statics::serve)),
            route!(GET "/login", Access::Public, "Page: log in", req: None, resp: 200 None, get(ui::auth::login_form)),
            route!(POST "/login", Access::Public, "Page: log in (rate limited, lockout)", req: None, resp: 303 None, post(ui::auth::login)),
            route!(POST "/logout", Access::Roles(ALL_STAFF), "Page: log out", req: None, resp: 303 None, post(ui::auth::logout)),
            route!(POST "/lang", Access::Public, "Page: choose the language", req: None, resp: 303 None, post(ui::auth::set_lang)),
            route!(GET "/report", Access::Public, "Page: the public report form", req: None, resp: 200 None, get(ui::public::show)),
            route!(POST "/report", Access::Public, "Page: submit the public report form", req: None, resp: 201 None, post(ui::public::submit)),
            route!(GET "/queue", Access::Roles(READ_CASES), "Page: the agents' queue", req: None, resp: 200 None, get(ui::queue::page)),
            route!(GET "/cases/{id}", Access::Roles(READ_CASES), "Page: one case", req: None, resp: 200 None, get(ui::case::page)),
            route!(POST "/cases/{id}/remedies", Access::Roles(CASEWORK), "Page: propose a remedy", req: None, resp: 303 None, post(ui::case::propose)),
            route!(POST "/cases/{id}/notes", Access::Roles(READ_CASES), "Page: add a note", req: None, resp: 303 None, post(ui::case::add_note)),
            route!(POST "/cases/{id}/transition", Access::Roles(CASEWORK), "Page: change a case's status", req: None, resp: 303 None, post(ui::case::transition)),
            route!(POST "/remedies/{id}/approve", Access::Roles(APPROVERS), "Page: approve a remedy or an exception", req: None, resp: 303 None, post(ui::case::approve)),
            route!(POST "/remedies/{id}/reject", Access::Roles(APPROVERS), "Page: reject a remedy", req: None, resp: 303 None, post(ui::case::reject)),
            // Statements in the UI (issue 11): the same roles as the API's statement routes.
            route!(POST "/cases/{id}/statements", Access::Roles(STATEMENT_WORKERS), "Page: draft a statement of the case", req: None, resp: 303 None, post(ui::statements::draft)),
            route!(GET "/statements/{id}", Access::Roles(STATEMENT_WORKERS), "Page: one statement with the checker's findings highlighted in place", req: None, resp: 200 None, get(ui::statements::page)),
            route!(POST "/statements/{id}/approve", Access::Roles(STATEMENT_WORKERS), "Page: approve a statement's current version", req: None, resp: 303 None, post(ui::statements::approve)),
            route!(POST "/statements/{id}/reject", Access::Roles(STATEMENT_WORKERS), "Page: reject a statement's current version", req: None, resp: 303 None, post(ui::statements::reject)),
            route!(POST "/statements/{id}/publish", Access::Roles(STATEMENT_WORKERS), "Page: publish an approved statement (recall notices: the checker gate)", req: None, resp: 303 None, post(ui::statements::publish)),
            route!(GET "/safety", Access::Roles(SIGNAL_READERS), "Page: the safety dashboard", req: None, resp: 200 None, get(ui::dashboard::page)),
            route!(GET "/safety/signals/{id}", Access::Roles(SIGNAL_READERS), "Page: one signal and its chart", req: None, resp: 200 None, get(ui::dashboard::signal_page)),
            route!(GET "/social", Access::Roles(MENTION_READERS), "Page: the social monitor", req: None, resp: 200 None, get(ui::social::page)),
            route!(GET "/admin", Access::Roles(ADMIN), "Page: administration", req: None, resp: 200 None, get(ui::admin::page)),
            route!(POST "/admin/users", Access::Roles(ADMIN), "Page: add a user", req: None, resp: 303 None, post(ui::admin::add_user)),
            route!(POST "/admin/users/{name}/password", Access::Roles(ADMIN), "Page: set a user's password (ends their sessions)", req: None, resp: 303 None, post(ui::admin::set_password)),
            route!(POST "/admin/tokens", Access::Roles(ADMIN), "Page: create an API token for a user (shown once; only its SHA-256 is stored)", req: None, resp: 200 None, post(ui::admin::create_token)),
            route!(POST "/admin/tokens/{id}/revoke", Access::Roles(ADMIN), "Page: revoke an API token", req: None, resp: 303 None, post(ui::admin::revoke_token)),
            route!(POST "/admin/playbook", Access::Roles(ADMIN), "Page: validate or apply a playbook", req: None, resp: 200 None, post(ui::admin::playbook)),
            route!(POST "/admin/exposure", Access::Roles(ADMIN), "Page: upload exposure CSV", req: None, resp: 200 None, post(ui::admin::exposure)),
            route!(POST "/admin/notifications/{id}/retry", Access::Roles(ADMIN), "Page: retry a dead notification", req: None, resp: 303 None, post(ui::admin::retry)),
        ]
    })
}

/// One method router per path, merging the table's methods.
pub fn method_routers() -> Vec<(&'static str, MethodRouter<AppState>)> {
    let mut out: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for spec in table() {
        match out.iter_mut().find(|(p, _)| *p == spec.path) {
            Some((_, mr)) => *mr = std::mem::take(mr).merge((spec.handler)()),
            None => out.push((spec.path, (spec.handler)())),
        }
    }
    out
}

pub fn access_for(method: &Method, path: &str) -> Option<Access> {
    table()
        .iter()
        .find(|s| {
            s.path == path
                && (s.method == method || (method == Method::HEAD && s.method == Method::GET))
        })
        .map(|s| s.access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_unique_and_only_intake_and_operations_are_public() {
        let t = table();
        for (i, a) in t.iter().enumerate() {
            for b in &t[i + 1..] {
                assert!(
                    !(a.path == b.path && a.method == b.method),
                    "duplicate {} {}",
                    a.method,
                    a.path
                );
            }
            if a.access == Access::Public {
                assert!(
                    [
                        "/api/v1/reports",
                        "/api/v1/openapi.json",
                        "/healthz",
                        "/readyz",
                        "/metrics",
                        "/static/dossier.css",
                        // UI: home, assets, login, language, the public report form
                        "/",
                        "/static/{file}",
                        "/login",
                        "/lang",
                        "/report",
                    ]
                    .contains(&a.path),
                    "{} is public",
                    a.path
                );
            }
        }
    }
}
