//! The real intake route through the whole axum router (security headers, authorization,
//! body limits, multipart parsing, photo checks, the SQLite store) with `oneshot`. The
//! first byte picks the content type: JSON, or multipart with the boundary `XFUZZX`.
//! Any answer is fine except a 500 or a panic.
#![no_main]
use axum::body::Body;
use axum::http::{Request, StatusCode};
use firewatch_domain::{InjuryLevel, Severity};
use firewatch_store::FsBlobStore;
use firewatch_store::sqlite::SqliteStore;
use firewatch_web::{AppState, Assessment, TriageEngine, WebConfig, app};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

struct NoHazards;
impl TriageEngine for NoHazards {
    fn assess(&self, _: &str, _: Option<&str>, _: InjuryLevel) -> Assessment {
        Assessment {
            hazards: vec![],
            severity: Severity::S4,
            language: None,
            product: None,
            detail: serde_json::Value::Null,
        }
    }
}

/// Photos here are capped lower than in production (1 MiB, 3 photos) to keep each run fast;
/// the code path is the same.
const MAX_INPUT: usize = 4 * 1024 * 1024;

struct Fixture {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        // Under $TMPDIR (the smoke script points it at its scratch directory, removed at the
        // end; a static is never dropped). The store grows by each accepted report.
        let dir = tempfile::tempdir().expect("tempdir");
        let store = rt
            .block_on(SqliteStore::open(&dir.path().join("fuzz.sqlite")))
            .expect("store");
        let state = AppState::new(
            Arc::new(store),
            Arc::new(FsBlobStore::new(dir.path().join("blobs"))),
            Arc::new(NoHazards),
            WebConfig {
                intake_per_minute: 1_000_000,
                intake_burst: 1_000_000,
                max_photo_bytes: 1024 * 1024,
                max_photos: 3,
                ..WebConfig::default()
            },
        );
        Fixture {
            router: app(state),
            rt,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() || data.len() > MAX_INPUT {
        return;
    }
    let f = fixture();
    let (ct, body) = match data[0] % 3 {
        0 => ("application/json", &data[1..]),
        1 => ("multipart/form-data; boundary=XFUZZX", &data[1..]),
        _ => ("multipart/form-data; boundary=\"XFUZZX\"", &data[1..]),
    };
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/reports")
        .header("content-type", ct)
        .body(Body::from(body.to_vec()))
        .expect("request");
    let status = f.rt.block_on(async {
        let resp = f.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let _ = axum::body::to_bytes(resp.into_body(), 1 << 20).await;
        status
    });
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "intake answered 500"
    );
});
