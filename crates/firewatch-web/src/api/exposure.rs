//! `POST /api/v1/exposure`: units sold per product, market and month, as the exposure CSV
//! (`text/csv`) or JSON rows (`[{brand, model, market, month, units_sold}]` or
//! `{"rows": [...]}`). Idempotent per (product, market, month); audited.

use super::products::{ImportResult, read_body, row_errors, signals_of, utf8};
use crate::AppState;
use crate::auth::Principal;
use crate::csv_import::{self, RowError};
use crate::error::{ApiError, ApiResult};
use axum::Extension;
use axum::extract::{Request, State};
use firewatch_store::Actor;
use firewatch_store::signals::NewExposure;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExposureIn {
    brand: String,
    model: String,
    market: String,
    month: String,
    units_sold: serde_json::Value,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ExposureBody {
    Wrapped { rows: Vec<ExposureIn> },
    Bare(Vec<ExposureIn>),
}

/// Names the rows whose product is not in the catalog (line and column `model`).
pub fn unknown_products(
    rows: &[NewExposure],
    known: &[firewatch_store::signals::ProductRecord],
) -> Vec<RowError> {
    let known: std::collections::HashSet<(String, String)> = known
        .iter()
        .map(|p| (p.brand.to_lowercase(), p.model.to_lowercase()))
        .collect();
    rows.iter()
        .filter(|r| !known.contains(&(r.brand.to_lowercase(), r.model.to_lowercase())))
        .take(20)
        .map(|r| RowError {
            line: r.line,
            column: Some("model"),
            message: format!(
                "product `{} {}` is not in the catalog (import it first)",
                r.brand, r.model
            ),
        })
        .collect()
}

pub async fn import(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    req: Request,
) -> ApiResult<axum::Json<ImportResult>> {
    let signals = signals_of(&state)?.clone();
    let (is_csv, bytes) = read_body(req).await?;
    let (rows, list) = if is_csv {
        (
            csv_import::parse_exposure_csv(utf8(&bytes)?, |_| {})
                .map_err(|e| row_errors(e, None))?,
            None,
        )
    } else {
        let body: ExposureBody = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request("malformed-json", format!("expected [{{brand, model, market, month, units_sold}}] or {{\"rows\": [...]}}: {e}"))
        })?;
        let items = match body {
            ExposureBody::Wrapped { rows } | ExposureBody::Bare(rows) => rows,
        };
        let mut errors = Vec::new();
        let mut out = Vec::new();
        for (i, r) in items.iter().enumerate() {
            let units = match &r.units_sold {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let cells = [
                r.brand.as_str(),
                r.model.as_str(),
                r.market.as_str(),
                r.month.as_str(),
                units.as_str(),
            ];
            if let Some(row) = csv_import::exposure_row(&mut errors, i as u64 + 1, cells) {
                out.push(row);
            }
        }
        if out.is_empty() && errors.is_empty() {
            errors.push(RowError {
                line: 1,
                column: None,
                message: "no rows".into(),
            });
        }
        if !errors.is_empty() {
            return Err(row_errors(errors, Some("rows")));
        }
        csv_import::no_duplicate_exposure(&out).map_err(|e| row_errors(e, Some("rows")))?;
        (out, Some("rows"))
    };
    let known = signals.store.list_products().await?;
    let unknown = unknown_products(&rows, &known);
    if !unknown.is_empty() {
        return Err(row_errors(unknown, list));
    }
    let n = rows.len();
    let summary = signals.store.upsert_exposure(rows, &Actor(p.name)).await?;
    Ok(axum::Json(ImportResult::new(n, summary)))
}
