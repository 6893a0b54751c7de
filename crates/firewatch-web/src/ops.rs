//! Operations endpoints: health, readiness, Prometheus metrics and the OpenAPI document.

use crate::AppState;
use crate::dto;
use crate::error::ApiError;
use crate::routes::{Access, table};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// The process-wide Prometheus recorder (metrics macros write to one global recorder).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .expect("static buckets")
                .build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => axum::Json(json!({"status": "ready"})).into_response(),
        Err(e) => {
            ApiError::from(firewatch_store::StoreError::Unavailable(e.to_string())).into_response()
        }
    }
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    // Gauges that describe stored state are read at scrape time.
    match state.store.case_counts_by_status().await {
        Ok(counts) => {
            for status in firewatch_domain::CaseStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                metrics::gauge!("firewatch_cases", "status" => status.as_str()).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "case counts unavailable for /metrics"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

fn schema_of<T: schemars::JsonSchema>(defs: &mut Map<String, Value>) {
    let mut generator = schemars::generate::SchemaSettings::openapi3().into_generator();
    let schema = generator.root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
    if let Some(obj) = value.as_object_mut() {
        obj.remove("$schema");
        if let Some(Value::Object(inner)) = obj
            .remove("components")
            .and_then(|mut c| c.get_mut("schemas").map(Value::take))
        {
            defs.extend(inner);
        }
        if let Some(Value::Object(inner)) = obj.remove("$defs") {
            defs.extend(inner);
        }
    }
    defs.insert(T::schema_name().to_string(), value);
}

/// The OpenAPI 3.1 document, built from the route table and the DTO types.
pub fn openapi_document() -> Value {
    let mut schemas = Map::new();
    schema_of::<dto::IntakeRequest>(&mut schemas);
    schema_of::<dto::IntakeResponse>(&mut schemas);
    schema_of::<dto::CaseList>(&mut schemas);
    schema_of::<dto::CaseSummary>(&mut schemas);
    schema_of::<dto::CaseDetail>(&mut schemas);
    schema_of::<dto::TransitionRequest>(&mut schemas);
    schema_of::<dto::NoteRequest>(&mut schemas);
    schema_of::<dto::Note>(&mut schemas);
    schema_of::<dto::AssignRequest>(&mut schemas);
    schema_of::<dto::EventList>(&mut schemas);
    schema_of::<dto::AuditVerification>(&mut schemas);
    schema_of::<dto::Me>(&mut schemas);
    schema_of::<crate::api::products::ProductList>(&mut schemas);
    schema_of::<crate::api::products::ImportResult>(&mut schemas);
    schema_of::<crate::api::signals::SignalList>(&mut schemas);
    schema_of::<crate::api::signals::SignalDetail>(&mut schemas);
    schema_of::<crate::api::signals::SignalOut>(&mut schemas);
    schema_of::<crate::api::playbooks::RemedyRequest>(&mut schemas);
    schema_of::<crate::api::playbooks::DecisionRequest>(&mut schemas);
    schema_of::<crate::api::playbooks::EscalationRequest>(&mut schemas);
    schema_of::<crate::api::playbooks::TaskRequest>(&mut schemas);
    schema_of::<crate::api::playbooks::CustodyRequest>(&mut schemas);
    schema_of::<crate::api::social::MentionList>(&mut schemas);
    schema_of::<crate::api::social::ConnectorList>(&mut schemas);
    schema_of::<crate::api::comms::TemplateRequest>(&mut schemas);
    schema_of::<crate::api::comms::StatementRequest>(&mut schemas);
    schema_of::<crate::api::comms::StatementEdit>(&mut schemas);
    schema_of::<crate::api::comms::StatementDecision>(&mut schemas);
    schema_of::<crate::api::comms::PublishRequest>(&mut schemas);
    schema_of::<crate::api::comms::CheckRequest>(&mut schemas);
    schema_of::<crate::api::comms::NotificationRequest>(&mut schemas);
    schemas.insert(
        "Problem".into(),
        json!({"type": "object", "description": "RFC 9457 problem details",
               "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                              "detail": {"type": "string"},
                              "errors": {"type": "array", "items": {"type": "object", "properties": {
                                  "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}}}}},
               "required": ["type", "title", "status", "detail"]}),
    );
    let mut paths = Map::new();
    for spec in table().iter().filter(|s| !crate::ui::is_page(s.path)) {
        let path = paths
            .entry(spec.path.to_string())
            .or_insert_with(|| json!({}));
        let mut op = json!({
            "summary": spec.summary,
            "responses": {},
        });
        let (status, schema) = spec.response;
        op["responses"][status.to_string()] = match schema {
            Some(name) => {
                json!({"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}})
            }
            None => json!({"description": "success"}),
        };
        op["responses"]["default"] = json!({"description": "error", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
        if let Some(name) = spec.request {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}});
        }
        match spec.access {
            Access::Public => op["security"] = json!([]),
            Access::Roles(roles) => {
                op["security"] = json!([{"bearer": []}]);
                op["x-roles"] = json!(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>());
            }
        }
        let params: Vec<Value> = spec
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        path[spec.method.as_str().to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "firewatch", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Product-safety incident desk. Errors are RFC 9457 problem+json."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
}

pub async fn openapi() -> Response {
    static DOC: OnceLock<Value> = OnceLock::new();
    (
        StatusCode::OK,
        axum::Json(DOC.get_or_init(openapi_document).clone()),
    )
        .into_response()
}
