//! The product catalog: `GET /api/v1/products` (staff) and `POST /api/v1/products`
//! (admin; JSON `{product}`, `{"products": [...]}` or the catalog CSV as `text/csv`).
//! After a write, triage's catalog is swapped before the answer is sent.

use crate::AppState;
use crate::auth::Principal;
use crate::csv_import::{self, RowError};
use crate::dto::rfc3339;
use crate::error::{ApiError, ApiResult};
use axum::Extension;
use axum::extract::{Request, State};
use axum::http::header;
use firewatch_domain::intake::FieldError;
use firewatch_store::Actor;
use firewatch_store::signals::{NewProduct, ProductRecord, UpsertSummary};
use serde::{Deserialize, Serialize};

/// Largest catalog or exposure upload.
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ProductOut {
    pub id: i64,
    pub brand: String,
    pub model: String,
    pub aliases: Vec<String>,
    pub category: String,
    pub price: Option<f64>,
    pub currency: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&ProductRecord> for ProductOut {
    fn from(p: &ProductRecord) -> Self {
        ProductOut {
            id: p.id,
            brand: p.brand.clone(),
            model: p.model.clone(),
            aliases: p.aliases.clone(),
            category: p.category.clone(),
            price: p.price,
            currency: p.currency.clone(),
            created_at: rfc3339(p.created_at_ms),
            updated_at: rfc3339(p.updated_at_ms),
        }
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ProductList {
    pub products: Vec<ProductOut>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImportResult {
    pub rows: usize,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl ImportResult {
    pub fn new(rows: usize, s: UpsertSummary) -> Self {
        ImportResult {
            rows,
            created: s.created,
            updated: s.updated,
            unchanged: s.unchanged,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductIn {
    brand: String,
    model: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    category: String,
    price: Option<f64>,
    currency: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ProductsBody {
    Many { products: Vec<ProductIn> },
    One(ProductIn),
}

pub(crate) fn signals_of(state: &AppState) -> ApiResult<&std::sync::Arc<crate::signals::Signals>> {
    state.signals.as_ref().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "signals-unavailable",
            "Signals are not enabled",
            "this server was started without the signals service",
        )
    })
}

/// Row problems as a 422 naming each line (or JSON index) and column.
pub(crate) fn row_errors(errors: Vec<RowError>, json_list: Option<&str>) -> ApiError {
    ApiError::validation(
        errors
            .into_iter()
            .map(|e| FieldError {
                field: match (json_list, e.column) {
                    (Some(list), Some(c)) => format!("{list}[{}].{c}", e.line.saturating_sub(1)),
                    (Some(list), None) => format!("{list}[{}]", e.line.saturating_sub(1)),
                    (None, Some(c)) => format!("line {}, column {c}", e.line),
                    (None, None) => format!("line {}", e.line),
                },
                code: "value",
                message: e.to_string(),
            })
            .collect(),
    )
}

/// The body and whether it is CSV (`text/csv`) or JSON; anything else is a 415.
pub(crate) async fn read_body(req: Request) -> ApiResult<(bool, axum::body::Bytes)> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let csv = ct.starts_with("text/csv");
    if !csv && !ct.starts_with("application/json") {
        return Err(ApiError::unsupported_media(format!(
            "send text/csv or application/json, not `{}`",
            if ct.is_empty() { "nothing" } else { &ct }
        )));
    }
    let bytes = axum::body::to_bytes(req.into_body(), MAX_IMPORT_BYTES)
        .await
        .map_err(|_| {
            ApiError::too_large(format!(
                "an upload may have at most {MAX_IMPORT_BYTES} bytes"
            ))
        })?;
    Ok((csv, bytes))
}

pub(crate) fn utf8(bytes: &[u8]) -> ApiResult<&str> {
    std::str::from_utf8(bytes)
        .map_err(|e| ApiError::bad_request("malformed-body", format!("the body is not UTF-8: {e}")))
}

pub async fn list(State(state): State<AppState>) -> ApiResult<axum::Json<ProductList>> {
    let signals = signals_of(&state)?;
    let products = signals.store.list_products().await?;
    Ok(axum::Json(ProductList {
        products: products.iter().map(ProductOut::from).collect(),
    }))
}

pub async fn upsert(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    req: Request,
) -> ApiResult<axum::Json<ImportResult>> {
    let signals = signals_of(&state)?.clone();
    let (is_csv, bytes) = read_body(req).await?;
    let products: Vec<NewProduct> = if is_csv {
        csv_import::parse_products_csv(utf8(&bytes)?, |_| {}).map_err(|e| row_errors(e, None))?
    } else {
        let body: ProductsBody = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::bad_request(
                "malformed-json",
                format!("expected a product or {{\"products\": [...]}}: {e}"),
            )
        })?;
        let (items, list) = match body {
            ProductsBody::Many { products } => (products, "products"),
            ProductsBody::One(p) => (vec![p], "product"),
        };
        let mut errors = Vec::new();
        let mut out = Vec::new();
        let mut lines = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let aliases = item.aliases.join("|");
            let price = item.price.map(|p| p.to_string()).unwrap_or_default();
            let cells = [
                item.brand.as_str(),
                item.model.as_str(),
                aliases.as_str(),
                item.category.as_str(),
                price.as_str(),
                item.currency.as_deref().unwrap_or(""),
            ];
            if let Some(p) = csv_import::product_row(&mut errors, i as u64 + 1, cells) {
                out.push(p);
                lines.push(i as u64 + 1);
            }
        }
        if out.is_empty() && errors.is_empty() {
            errors.push(RowError {
                line: 1,
                column: None,
                message: "no products".into(),
            });
        }
        if !errors.is_empty() {
            return Err(row_errors(errors, Some(list)));
        }
        csv_import::no_duplicate_products(&out, &lines).map_err(|e| row_errors(e, Some(list)))?;
        out
    };
    let rows = products.len();
    let summary = signals
        .store
        .upsert_products(products, &Actor(p.name))
        .await?;
    if let Err(e) = signals.reload_catalog_if_changed().await {
        tracing::warn!(error = %e, "the products were stored but triage's catalog was not reloaded yet");
    }
    Ok(axum::Json(ImportResult::new(rows, summary)))
}
