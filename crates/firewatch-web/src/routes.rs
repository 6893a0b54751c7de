//! The route table: every route, its method, who may call it, and its handler. The router
//! is built from this table and the authorization middleware reads it, so a route cannot
//! exist without an access entry. The OpenAPI document is generated from it too.

use crate::AppState;
use crate::api::{audit, cases, intake, social};
use crate::ops;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, post};
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
const MENTION_READERS: &[Role] = &[Pr, Safety, Hq, Supervisor, Agent];

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
            route!(GET "/api/v1/mentions", Access::Roles(MENTION_READERS), "Social and news mentions with their reach forecasts; filters product, hazard, case, min_forecast",
                req: None, resp: 200 Some("MentionList"), get(social::mentions)),
            route!(GET "/api/v1/connectors", Access::Roles(ADMIN), "Social and news connectors: cursor, last event, errors",
                req: None, resp: 200 Some("ConnectorList"), get(social::connectors)),
            route!(GET "/api/v1/openapi.json", Access::Public, "This API description",
                req: None, resp: 200 None, get(ops::openapi)),
            route!(GET "/healthz", Access::Public, "Liveness", req: None, resp: 200 None, get(ops::healthz)),
            route!(GET "/readyz", Access::Public, "Readiness: the database answers", req: None, resp: 200 None, get(ops::readyz)),
            route!(GET "/metrics", Access::Public, "Prometheus metrics", req: None, resp: 200 None, get(ops::metrics)),
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
                        "/metrics"
                    ]
                    .contains(&a.path),
                    "{} is public",
                    a.path
                );
            }
        }
    }
}
