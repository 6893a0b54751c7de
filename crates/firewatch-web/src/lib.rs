//! firewatch's HTTP layer: the only crate that knows HTTP and the wire JSON. Handlers are
//! thin: they parse, check the role (from the route table), call the store or an engine,
//! and map the answer to a DTO.

pub mod api;
pub mod auth;
pub mod csv_import;
pub mod dto;
pub mod error;
pub mod extract;
pub mod ops;
pub mod routes;
pub mod security;
pub mod signals;
pub mod ui;

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use firewatch_domain::{HazardCode, InjuryLevel, Modality, Severity};
use firewatch_store::{BlobStore, Store};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::routes::Access;

/// One hazard as triage found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessedHazard {
    pub code: HazardCode,
    pub modality: Modality,
}

/// What intake needs from triage. The binary plugs the real engine in; the web layer
/// only sees this narrow interface.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub hazards: Vec<AssessedHazard>,
    pub severity: Severity,
    pub language: Option<String>,
    /// The product the incident happened to, as (brand, model), when triage resolved one.
    pub product: Option<(String, String)>,
    /// The full result, stored on the report for review.
    pub detail: serde_json::Value,
}

pub trait TriageEngine: Send + Sync + 'static {
    fn assess(
        &self,
        narrative: &str,
        language_hint: Option<&str>,
        reported_injury: InjuryLevel,
    ) -> Assessment;
}

/// Settings the HTTP layer needs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Anonymous intake requests per minute per client address.
    pub intake_per_minute: u32,
    /// Burst allowance on top of the steady rate.
    pub intake_burst: u32,
    pub max_json_bytes: usize,
    pub max_photo_bytes: usize,
    pub max_photos: usize,
    pub request_timeout: Duration,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            intake_per_minute: 30,
            intake_burst: 10,
            max_json_bytes: 256 * 1024,
            max_photo_bytes: 10 * 1024 * 1024,
            max_photos: 10,
            request_timeout: Duration::from_secs(60),
        }
    }
}

type IpLimiter = governor::DefaultKeyedRateLimiter<std::net::IpAddr>;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn BlobStore>,
    pub triage: Arc<dyn TriageEngine>,
    pub config: Arc<WebConfig>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    /// Products, exposure and defect signals (issue 4); set with [`AppState::with_signals`].
    pub signals: Option<Arc<signals::Signals>>,
    intake_limiter: Arc<IpLimiter>,
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        blobs: Arc<dyn BlobStore>,
        triage: Arc<dyn TriageEngine>,
        config: WebConfig,
    ) -> Self {
        let per_minute = NonZeroU32::new(config.intake_per_minute.max(1)).expect("non-zero");
        let burst = NonZeroU32::new(config.intake_burst.max(1)).expect("non-zero");
        let quota = governor::Quota::per_minute(per_minute).allow_burst(burst);
        AppState {
            store,
            blobs,
            triage,
            config: Arc::new(config),
            metrics: ops::metrics_handle(),
            signals: None,
            intake_limiter: Arc::new(governor::RateLimiter::keyed(quota)),
        }
    }

    pub fn with_signals(mut self, signals: Arc<signals::Signals>) -> Self {
        self.signals = Some(signals);
        self
    }

    /// Ok, or the number of seconds the client must wait.
    pub fn check_intake_rate(&self, ip: std::net::IpAddr) -> Result<(), u64> {
        use governor::clock::{Clock, DefaultClock};
        self.intake_limiter.check_key(&ip).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1)
        })
    }
}

/// Builds the whole application: the route table, the role check, metrics and security
/// headers. Serve it with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new();
    for (path, method_router) in routes::method_routers() {
        router = router.route(path, method_router);
    }
    router
        // Multipart intake carries up to max_photos photos of max_photo_bytes each; every
        // part is capped again while it is read.
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.max_photos * state.config.max_photo_bytes
                + 2 * state.config.max_json_bytes,
        ))
        // No response layer rewrites errors: bad input answers problem+json because every
        // handler's extractors reject that way (`extract`, `api::ApiJson`), and axum's own
        // 404 and 405 are these two fallbacks (tests/it/malformed.rs checks every route).
        .fallback(|| async { ApiError::not_found("this route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this route does not accept that method; see /api/v1/openapi.json",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), authorize))
        .layer(middleware::from_fn(track_metrics))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::internal("handler", "panic").into_response()
        }))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            state.config.request_timeout,
        ))
        // nosniff, Referrer-Policy, X-Frame-Options and a CSP by content type (security.rs).
        .layer(middleware::map_response(security::headers))
        .with_state(state)
}

/// The one place where roles are enforced: the matched route's entry in the route table.
async fn authorize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
    else {
        return next.run(req).await;
    };
    let Some(access) = routes::access_for(req.method(), &path) else {
        // Method not in the table for this path: let axum answer 405.
        return next.run(req).await;
    };
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_string);
    let had_bearer = bearer.is_some();
    let mut principal = match bearer {
        None => None,
        Some(token) => match state
            .store
            .authenticate_token(&auth::token_hash(&token))
            .await
        {
            Ok(Some(user)) => Some(Principal {
                name: user.name,
                role: user.role,
            }),
            Ok(None) => return ApiError::unauthorized().into_response(),
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    // Browser sessions, CSRF and the page answers for anonymous or denied callers (issue 7).
    if let Some(resp) = ui::gate(&state, &mut req, &path, access, &mut principal, had_bearer).await
    {
        return resp;
    }
    match (access, &principal) {
        (Access::Public, _) => {}
        (Access::Roles(_), None) => return ApiError::unauthorized().into_response(),
        (Access::Roles(roles), Some(p)) if !roles.contains(&p.role) => {
            return ApiError::role_denied(format!(
                "{} {} is for the roles {}; you are {}",
                req.method(),
                path,
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                p.role
            ))
            .into_response();
        }
        _ => {}
    }
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    next.run(req).await
}

async fn track_metrics(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!("firewatch_http_requests_total", &labels).increment(1);
    metrics::histogram!("firewatch_http_request_duration_seconds", &labels[..2])
        .record(start.elapsed().as_secs_f64());
    resp
}

/// The client address for rate limiting: the socket peer (no proxy headers are trusted).
pub(crate) fn client_ip(req: &Request) -> std::net::IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}
