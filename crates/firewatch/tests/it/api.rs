//! The JSON API over HTTP against the real binary.

use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const CATALOG: &str = "brand,model,aliases,category,price,currency\nVoltra,Note7 Pro,N7P,phone,499,EUR\nVoltra,PowerCell 20K,PowerCell,power_bank,49,EUR\n";

const STORY_FR: &str = "Mon Voltra Note 7 pro a commencé à fumer dans mon sac, puis la batterie a explosé et le sac a pris feu. J'ai dû prendre un extincteur.";

struct Ctx {
    server: Server,
    _dir: tempfile::TempDir,
    agent: String,
    pr: String,
    admin: String,
    http: reqwest::Client,
}

fn setup(env: &[(&str, &str)]) -> Ctx {
    setup_in(tempfile::tempdir().unwrap(), env)
}

/// `setup` on `backend`; `None` when PostgreSQL is not installed (see `use_backend`).
async fn setup_on(backend: Backend, env: &[(&str, &str)]) -> Option<Ctx> {
    let dir = tempfile::tempdir().unwrap();
    use_backend(backend, dir.path())
        .await
        .then(|| setup_in(dir, env))
}

fn setup_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Ctx {
    let data = dir.path().to_path_buf();
    std::fs::write(data.join("catalog.csv"), CATALOG).unwrap();
    let agent = user_with_token(&data, "alice", "agent");
    let pr = user_with_token(&data, "paul", "pr");
    let admin = user_with_token(&data, "root", "admin");
    let server = Server::start(&data, env);
    Ctx {
        server,
        _dir: dir,
        agent,
        pr,
        admin,
        http: client(),
    }
}

impl Ctx {
    /// GETs `path` as the holder of `token`; its JSON.
    async fn get(&self, token: &str, path: &str) -> Value {
        get_json(&self.http, &self.server.url(path), token).await
    }

    /// Reports `narrative` as the agent; the case id.
    async fn open_case(&self, narrative: &str) -> String {
        let body = json!({ "narrative": narrative }).to_string();
        let v: Value = self.post_report(&body, None).await.json().await.unwrap();
        v["case_id"].as_str().unwrap().to_string()
    }

    /// POSTs `body` as JSON to `url` as the holder of `token`.
    async fn post(&self, token: &str, url: &str, body: Value) -> reqwest::Response {
        post_json(&self.http, url, token, &body).await
    }

    async fn post_report(&self, body: &str, key: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.server.url("/api/v1/reports"))
            .header("content-type", "application/json")
            .bearer_auth(&self.agent)
            .body(body.to_string());
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        req.send().await.unwrap()
    }

    async fn case_count(&self) -> usize {
        let v = self.get(&self.agent, "/api/v1/cases?limit=500").await;
        v["cases"].as_array().unwrap().len()
    }
}

async fn problem(resp: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], status.as_u16());
    assert!(v["type"].as_str().unwrap().starts_with("/problems/"));
    assert!(!v["detail"].as_str().unwrap().is_empty());
    v
}

fn fields(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

crate::on_both!(the_french_story_becomes_an_s1_case_with_its_hazards);
async fn the_french_story_becomes_an_s1_case_with_its_hazards(backend: Backend) {
    let Some(ctx) = setup_on(backend, &[]).await else {
        return;
    };
    let body =
        json!({"narrative": STORY_FR, "country": "FR", "injuries": "none", "channel": "phone"});
    let resp = ctx.post_report(&body.to_string(), None).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["severity"], "S1");
    let codes: Vec<&str> = v["hazards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["code"].as_str().unwrap())
        .collect();
    for want in ["thermal.smoke", "thermal.explosion", "thermal.fire"] {
        assert!(codes.contains(&want), "{want} not in {codes:?}");
    }
    assert!(v["reference"].as_str().unwrap().starts_with("FW-"));
    let case_url = format!("/api/v1/cases/{}", v["case_id"].as_str().unwrap());
    let case = ctx.get(&ctx.agent, &case_url).await;
    assert_eq!(case["severity"], "S1");
    assert_eq!(case["status"], "new");
    // The reporter named no product: the case takes the one triage resolved from the text
    // (spacing and case variant of the catalog's "Note7 Pro"), the report keeps what was said.
    assert_eq!(case["product_brand"], "Voltra");
    assert_eq!(case["product_model"], "Note7 Pro");
    assert!(case["reports"][0]["product"].get("model").is_none());
    assert_eq!(case["reports"][0]["narrative"], STORY_FR);
    assert_eq!(case["reports"][0]["channel"], "phone");
    assert_eq!(case["timeline"][0]["kind"], "case.opened");
    assert_eq!(case["timeline"][0]["actor"], "alice");
}

crate::on_both!(an_idempotency_key_replays_the_first_answer_and_refuses_a_different_body);
async fn an_idempotency_key_replays_the_first_answer_and_refuses_a_different_body(
    backend: Backend,
) {
    let Some(ctx) = setup_on(backend, &[]).await else {
        return;
    };
    let body = json!({"narrative": "The charger sparked.", "country": "US"}).to_string();
    let first: Value = ctx
        .post_report(&body, Some("key-1"))
        .await
        .json()
        .await
        .unwrap();
    // Same content, different whitespace and key order: still the same request.
    let same = json!({"country": "US", "narrative": "The charger sparked."}).to_string();
    let resp = ctx.post_report(&format!("  {same}\n"), Some("key-1")).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let second: Value = resp.json().await.unwrap();
    assert_eq!(first["report_id"], second["report_id"]);
    assert_eq!(first["case_id"], second["case_id"]);
    let other = json!({"narrative": "Different report", "country": "US"}).to_string();
    let v = problem(
        ctx.post_report(&other, Some("key-1")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(v["type"], "/problems/idempotency-key-reused");
    assert_eq!(ctx.case_count().await, 1);
}

#[tokio::test]
async fn bad_input_is_a_clear_problem_and_changes_nothing() {
    let ctx = setup(&[]);
    ctx.post_report(&json!({"narrative": "baseline"}).to_string(), None)
        .await;
    let before = ctx.case_count().await;

    let v = problem(
        ctx.post_report("{\"narrative\": ", None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(v["type"], "/problems/malformed-json");

    let v = problem(
        ctx.post_report(
            &json!({"narrative": 42, "country": "ZZ", "occurred_at": "last tuesday",
                    "product": {"purchase_date": "2026-13-01", "price": {"amount": -1, "currency": "EUR"}},
                    "injuries": "some", "colour": "red"})
            .to_string(),
            None,
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let f = fields(&v);
    for want in [
        "narrative",
        "country",
        "occurred_at",
        "product.purchase_date",
        "product.price.amount",
        "injuries",
        "colour",
    ] {
        assert!(f.contains(&want.to_string()), "{want} not named in {f:?}");
    }

    let v = problem(
        ctx.post_report(&json!({"country": "FR"}).to_string(), None)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(fields(&v), ["narrative"]);

    let long = "a".repeat(20_001);
    let v = problem(
        ctx.post_report(&json!({ "narrative": long }).to_string(), None)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(v["errors"][0]["code"], "too_long");

    let huge = format!("{{\"narrative\": \"{}\"}}", "a".repeat(300_000));
    problem(
        ctx.post_report(&huge, None).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;

    let resp = ctx
        .http
        .post(ctx.server.url("/api/v1/reports"))
        .header("content-type", "text/plain")
        .bearer_auth(&ctx.agent)
        .body("it exploded")
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;

    let resp = ctx
        .http
        .post(ctx.server.url("/api/v1/reports"))
        .header("content-type", "application/json")
        .header("idempotency-key", "bad key with spaces")
        .bearer_auth(&ctx.agent)
        .body(json!({"narrative": "x"}).to_string())
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::BAD_REQUEST).await;

    assert_eq!(
        ctx.case_count().await,
        before,
        "bad input must not create anything"
    );
}

#[tokio::test]
async fn roles_are_checked_on_every_route() {
    let ctx = setup(&[]);
    let resp = ctx
        .http
        .get(ctx.server.url("/api/v1/cases"))
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::UNAUTHORIZED).await;
    let resp = ctx
        .http
        .get(ctx.server.url("/api/v1/cases"))
        .bearer_auth("fw_not_a_token")
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::UNAUTHORIZED).await;
    // pr may read cases but not change their status; admin does not work cases.
    let case = ctx.open_case("smoke from the charger").await;
    let resp = ctx
        .http
        .get(ctx.server.url("/api/v1/cases"))
        .bearer_auth(&ctx.pr)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = ctx
        .post(
            &ctx.pr,
            &ctx.server.url(&format!("/api/v1/cases/{case}/transitions")),
            json!({"to": "triaged"}),
        )
        .await;
    problem(resp, StatusCode::FORBIDDEN).await;
    let resp = ctx
        .http
        .get(ctx.server.url("/api/v1/cases"))
        .bearer_auth(&ctx.admin)
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::FORBIDDEN).await;
    // The public routes answer anonymously.
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        let resp = ctx.http.get(ctx.server.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
    // A revoked token stops working at once.
    let me: Value = ctx.get(&ctx.agent, "/api/v1/me").await;
    assert_eq!(me["role"], "agent");
    let out = cli(&ctx.server.data, &["token", "revoke", "1"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp = ctx
        .http
        .get(ctx.server.url("/api/v1/me"))
        .bearer_auth(&ctx.agent)
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::UNAUTHORIZED).await;
}

crate::on_both!(case_work_follows_the_transition_table_and_is_audited);
async fn case_work_follows_the_transition_table_and_is_audited(backend: Backend) {
    let Some(ctx) = setup_on(backend, &[]).await else {
        return;
    };
    let case = ctx.open_case("The power bank swelled.").await;
    let url = |p: &str| ctx.server.url(&format!("/api/v1/cases/{case}/{p}"));

    let resp = ctx
        .post(&ctx.agent, &url("transitions"), json!({"to": "resolved"}))
        .await;
    let v = problem(resp, StatusCode::CONFLICT).await;
    assert_eq!(v["allowed"], json!(["triaged", "in_progress", "closed"]));

    let resp = ctx
        .post(&ctx.agent, &url("transitions"), json!({"to": "flying"}))
        .await;
    problem(resp, StatusCode::UNPROCESSABLE_ENTITY).await;
    let resp = ctx
        .post(
            &ctx.agent,
            &url("transitions"),
            json!({"to": "triaged", "extra": 1}),
        )
        .await;
    problem(resp, StatusCode::UNPROCESSABLE_ENTITY).await;

    for to in ["triaged", "in_progress", "waiting_customer", "in_progress"] {
        let resp = ctx
            .post(&ctx.agent, &url("transitions"), json!({ "to": to }))
            .await;
        assert_eq!(resp.status(), StatusCode::OK, "to {to}");
    }
    let resp = ctx
        .post(
            &ctx.agent,
            &url("notes"),
            json!({"body": "Called the customer"}),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let resp = ctx
        .post(&ctx.agent, &url("assign"), json!({"assignee": "alice"}))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = ctx
        .post(&ctx.agent, &url("assign"), json!({"assignee": "paul"}))
        .await;
    problem(resp, StatusCode::FORBIDDEN).await;

    let detail: Value = ctx.get(&ctx.agent, &format!("/api/v1/cases/{case}")).await;
    assert_eq!(detail["status"], "in_progress");
    assert_eq!(detail["assignee"], "alice");
    assert_eq!(detail["notes"][0]["body"], "Called the customer");
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "case.opened",
            // the playbook evaluates the new case (rules, tasks, clocks)
            "case.policy_evaluated",
            "case.transitioned",
            "case.transitioned",
            "case.transitioned",
            // entering and leaving waiting_customer pauses and resumes courtesy clocks
            "case.policy_evaluated",
            "case.transitioned",
            "case.policy_evaluated",
            "case.note_added",
            "case.assigned"
        ]
    );
}

crate::on_both!(audit_verify_passes_then_names_a_tampered_event);
async fn audit_verify_passes_then_names_a_tampered_event(backend: Backend) {
    let Some(ctx) = setup_on(backend, &[]).await else {
        return;
    };
    for i in 0..3 {
        ctx.post_report(
            &json!({ "narrative": format!("report {i}: it overheated") }).to_string(),
            None,
        )
        .await;
    }
    let v: Value = ctx.get(&ctx.admin, "/api/v1/audit/verify").await;
    assert_eq!(v["status"], "ok");
    let out = cli(&ctx.server.data, &["audit", "verify"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("OK"));

    sql_exec(
        &ctx.server.data,
        "UPDATE events SET actor = 'mallory' WHERE seq = 5",
    )
    .await;
    let v: Value = ctx.get(&ctx.admin, "/api/v1/audit/verify").await;
    assert_eq!(v["status"], "broken");
    assert_eq!(v["first_bad_seq"], 5);
    let out = cli(&ctx.server.data, &["audit", "verify"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("event 5"), "{err}");
    assert_eq!(err.lines().count(), 1, "one-line error: {err}");
}

#[tokio::test]
async fn anonymous_intake_is_rate_limited_per_address() {
    let ctx = setup(&[
        ("FIREWATCH_INTAKE_PER_MINUTE", "2"),
        ("FIREWATCH_INTAKE_BURST", "3"),
    ]);
    let mut statuses = Vec::new();
    for i in 0..5 {
        let resp = ctx
            .http
            .post(ctx.server.url("/api/v1/reports"))
            .json(&json!({ "narrative": format!("anonymous {i}") }))
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            let wait: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(wait >= 1);
        }
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429]);
    // Authenticated intake (agents entering phone calls) is not throttled.
    let resp = ctx
        .post_report(&json!({"narrative": "phone call"}).to_string(), None)
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn operations_endpoints_describe_the_service() {
    let ctx = setup(&[]);
    ctx.post_report(&json!({"narrative": "it caught fire"}).to_string(), None)
        .await;
    let doc: Value = ctx
        .http
        .get(ctx.server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/v1/reports",
        "/api/v1/cases",
        "/api/v1/cases/{id}/transitions",
        "/api/v1/audit/verify",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["schemas"]["IntakeRequest"]["properties"]["narrative"].is_object());
    let metrics = ctx
        .http
        .get(ctx.server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "firewatch_http_requests_total",
        "firewatch_http_request_duration_seconds",
        "firewatch_reports_accepted_total",
        "firewatch_cases{status=\"new\"} 1",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    let resp = ctx.http.get(ctx.server.url("/nope")).send().await.unwrap();
    problem(resp, StatusCode::NOT_FOUND).await;
    let resp = ctx
        .http
        .delete(ctx.server.url("/api/v1/reports"))
        .send()
        .await
        .unwrap();
    problem(resp, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn the_cli_refuses_bad_input_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["user", "add", "bob", "--role", "boss"], None);
    assert!(!out.status.success());
    let out = cli(
        dir.path(),
        &["user", "add", "bob", "--role", "agent", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 12 characters"), "{err}");
    assert_eq!(err.trim().lines().count(), 1);
    let out = cli(
        dir.path(),
        &["user", "add", "bob", "--role", "agent", "--password-stdin"],
        Some("a long enough password\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(dir.path(), &["user", "add", "bob", "--role", "agent"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = cli(dir.path(), &["token", "create", "nobody"], None);
    assert!(!out.status.success());
}
