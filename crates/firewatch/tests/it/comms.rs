//! Statements, recall notices and regulator exports end to end (issue 11), against the
//! real binary: admin template edits (an invalid one changes nothing), statements drafted
//! in the report's language with an English fallback, edits, pr and hq approvals,
//! publication and its audit trail; recall notices with minimising words refused with the
//! checker's findings; CPSC 15(b) and EU SBG exports validated against their schemas and
//! compared with golden files; a submitted notification stops the regulator clock for good;
//! the printable dossier escapes hostile narratives.

use crate::harness::*;
use firewatch_comms::export::{CPSC_15B_SCHEMA, EU_SBG_ACCIDENT_SCHEMA};
use firewatch_comms::schema::Schema;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STORY_FR: &str = "Mon téléphone acheté il y a six jours a commencé à dégager de la fumée, puis la batterie a explosé dans mon sac et tout a pris feu.";
const STORY_EN: &str = "My phone started smoking and then the battery exploded and caught fire on the desk. <script>alert('x')</script>";
const STORY_IT: &str =
    "Il mio telefono ha iniziato a fumare e poi la batteria è esplosa e ha preso fuoco.";

/// The test's own calls, on the harness's `Api`.
impl Api {
    /// An anonymous web report; its case id.
    async fn public_report(&self, narrative: &str, language: &str, country: &str) -> String {
        let (s, v) = self.post("/api/v1/reports", "", json!({
                    "narrative": narrative, "language": language, "country": country,
                    "channel": "web", "injuries": "none", "occurred_at": "2026-01-15T09:30:00Z",
                    "reporter": {"name": "Camille Martin"},
                    "product": {"brand": "Acme", "model": "X1", "price": {"amount": 799.0, "currency": "EUR"}},
                }))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["case_id"].as_str().unwrap().to_string()
    }

    /// An export's body, asserting 200 and that its `header` passes the check.
    async fn export(
        &self,
        path: &str,
        token: &str,
        (header, check): (&str, impl Fn(&str) -> bool),
    ) -> String {
        let resp = self.text(path, Some(token)).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let value = resp.headers()[header].to_str().unwrap().to_string();
        assert!(check(&value), "{path}: {header}: {value}");
        resp.text().await.unwrap()
    }

    /// The kinds of the case's audit events, in order.
    async fn event_kinds(&self, token: &str, case: &str) -> Vec<String> {
        let v = self
            .ok(
                "GET",
                &format!("/api/v1/audit?entity=case:{case}&limit=1000"),
                token,
                None,
            )
            .await;
        v["events"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_string())
            .collect()
    }
}

struct World {
    _dir: tempfile::TempDir,
    server: Server,
    api: Api,
    admin: String,
    agent: String,
    pr: String,
    hq: String,
    safety: String,
}

fn world(config: Option<&str>) -> World {
    let (dir, data) = data_dir();
    let admin = user_with_token(&data, "root", "admin");
    let agent = user_with_token(&data, "alice", "agent");
    let pr = user_with_token(&data, "pat", "pr");
    let hq = user_with_token(&data, "hana", "hq");
    let safety = user_with_token(&data, "sid", "safety");
    let mut env = Vec::new();
    let config_path = dir.path().join("firewatch.toml");
    if let Some(c) = config {
        std::fs::write(&config_path, c).unwrap();
        env.push(("FIREWATCH_CONFIG", config_path.to_str().unwrap()));
        // The control breach dead-letters its notifications (none configured): expected.
        env.push(("FIREWATCH_LOG", "error"));
    }
    let server = Server::start(&data, &env);
    let api = Api::new(&server);
    World {
        _dir: dir,
        server,
        api,
        admin,
        agent,
        pr,
        hq,
        safety,
    }
}

pub(crate) fn profile() -> Value {
    json!({
        "firm": {
            "name": "Acme Devices SAS", "role": "manufacturer",
            "address": {"street": "1 rue de la Paix", "postal_code": "75002", "city": "Paris", "region": null, "country": "FR"},
            "contact": {"name": "Dana Safety", "title": "Product safety officer", "phone": "+33 1 23 45 67 89", "email": "safety@acme.example"}
        },
        "contact": {"organisation": "Acme Devices", "phone": "0800 123 456", "email": "recall@acme.example",
                    "url": "https://acme.example/recall", "hours": null}
    })
}

pub(crate) fn facts(lang: &str) -> Value {
    let (desc, todo) = match lang {
        "fr" => (
            "La batterie peut surchauffer, prendre feu et exploser.",
            "Cessez d'utiliser le téléphone et débranchez-le.",
        ),
        _ => (
            "The battery can overheat, catch fire and explode.",
            "Stop using the phone and unplug it.",
        ),
    };
    json!({
        "hazard_description": desc,
        "what_to_do": todo,
        "product": {
            "description": "smartphone", "batches": ["B2025-11"], "gtin": "3760000000017",
            "picture_url": "https://acme.example/img/x1.jpg", "country_of_origin": "CN",
            "sold_from": "2025-06-01", "sold_to": "2026-01-31"
        },
        "remedy": {"kinds": ["replacement", "refund"], "details": null},
        "corrective_action": {"measures": ["recall_from_consumers", "replacement", "refund"],
                              "description": "Recall of batch B2025-11 with free replacement or refund.",
                              "started_on": "2026-02-01"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn templates_statements_approvals_publication_and_dossier() {
    let w = world(None);
    let api = &w.api;

    // An invalid template is refused with the line, and nothing changes.
    let (s, v) = api
        .put(
            "/api/v1/templates/public_statement/fr",
            &w.admin,
            json!({"body": "Communiqué\n{{ product.gtni }}\n"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["type"], "/problems/invalid-template", "{v}");
    assert_eq!(v["template"], "public_statement.fr", "{v}");
    assert_eq!(v["line"], 2, "{v}");
    let t = api
        .ok(
            "GET",
            "/api/v1/templates/public_statement/fr",
            &w.admin,
            None,
        )
        .await;
    assert_eq!(t["builtin"], true, "{t}");
    assert_eq!(t["history"].as_array().unwrap().len(), 0);
    assert_eq!(t["body"], t["builtin_body"]);
    assert_eq!(
        sql_count(
            &w.server.data,
            "SELECT COUNT(*) FROM events WHERE kind = 'template.updated'"
        )
        .await,
        0
    );
    // Only admins edit templates.
    let (s, _) = api
        .put(
            "/api/v1/templates/public_statement/fr",
            &w.pr,
            json!({"body": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A valid edit: the built-in with a heading line; the previous version stays.
    let edited = format!(
        "COMMUNIQUÉ OFFICIEL {{{{ reference }}}}\n{}",
        t["builtin_body"].as_str().unwrap()
    );
    let v1 = api
        .ok(
            "PUT",
            "/api/v1/templates/public_statement/fr",
            &w.admin,
            Some(json!({"body": edited})),
        )
        .await;
    let v2 = api
        .ok(
            "PUT",
            "/api/v1/templates/public_statement/fr",
            &w.admin,
            Some(json!({"body": edited.replace("OFFICIEL", "DE PRESSE")})),
        )
        .await;
    let t = api
        .ok("GET", "/api/v1/templates/public_statement/fr", &w.pr, None)
        .await;
    assert_eq!(t["builtin"], false);
    let history: Vec<i64> = t["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        history,
        vec![v1["id"].as_i64().unwrap(), v2["id"].as_i64().unwrap()]
    );
    assert!(
        t["body"]
            .as_str()
            .unwrap()
            .starts_with("COMMUNIQUÉ DE PRESSE")
    );

    api.ok("PUT", "/api/v1/comms/profile", &w.admin, Some(profile()))
        .await;
    let case_fr = api.public_report(STORY_FR, "fr", "FR").await;
    api.ok(
        "PUT",
        &format!("/api/v1/cases/{case_fr}/comms-facts"),
        &w.safety,
        Some(facts("fr")),
    )
    .await;

    // Drafted in the report's language (fr) from the admin's latest version.
    let (s, st) = api
        .post(
            &format!("/api/v1/cases/{case_fr}/statements"),
            &w.pr,
            json!({"kind": "public_statement"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{st}");
    assert_eq!(st["lang"], "fr");
    assert_eq!(st["fell_back"], false);
    assert_eq!(st["template_id"], v2["id"]);
    assert_eq!(st["version"], 1);
    assert_eq!(st["status"], "draft");
    let body = st["body"].as_str().unwrap().to_string();
    assert!(body.starts_with("COMMUNIQUÉ DE PRESSE FW-000001"), "{body}");
    assert!(body.contains("Acme X1"), "{body}");
    let id = st["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/statements/{id}");

    // No Italian template: English is used and the fallback is said.
    let case_it = api.public_report(STORY_IT, "it", "IT").await;
    let it = api
        .ok(
            "POST",
            &format!("/api/v1/cases/{case_it}/statements"),
            &w.agent,
            Some(json!({"kind": "customer_reply"})),
        )
        .await;
    assert_eq!(
        (
            it["lang"].as_str(),
            it["requested_lang"].as_str(),
            it["fell_back"].as_bool()
        ),
        (Some("en"), Some("it"), Some(true)),
        "{it}"
    );
    // A bad kind is a 422 naming the field; nothing is drafted.
    let (s, v) = api
        .post(
            &format!("/api/v1/cases/{case_it}/statements"),
            &w.agent,
            json!({"kind": "press_release"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"][0]["field"], "kind");

    // hq approves version 1; an edit makes version 2 and voids it.
    let a = api
        .ok("POST", &format!("{path}/approve"), &w.hq, Some(json!({})))
        .await;
    assert_eq!(a["approvals_missing"], json!(["pr"]));
    let (s, v) = api.post(&format!("{path}/approve"), &w.hq, json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let new_body = format!("{body}\nNous tiendrons nos clients informés.");
    let e = api
        .ok(
            "PATCH",
            &path,
            &w.pr,
            Some(json!({"body": new_body, "version": 1})),
        )
        .await;
    assert_eq!(e["version"], 2);
    assert_eq!(e["approvals_missing"], json!(["pr", "hq"]));
    // A stale edit is a conflict.
    let (s, _) = api
        .send(
            "PATCH",
            &path,
            &w.pr,
            Some(json!({"body": "autre", "version": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // An agent cannot approve a public statement; nobody publishes it before pr and hq.
    let (s, v) = api
        .post(&format!("{path}/approve"), &w.agent, json!({}))
        .await;
    assert_eq!(
        (s, v["type"].as_str()),
        (StatusCode::FORBIDDEN, Some("/problems/approval-role")),
        "{v}"
    );
    api.ok(
        "POST",
        &format!("{path}/approve"),
        &w.pr,
        Some(json!({"reason": "ton juste"})),
    )
    .await;
    let (s, v) = api.post(&format!("{path}/publish"), &w.pr, json!({})).await;
    assert_eq!(
        (s, v["type"].as_str()),
        (StatusCode::CONFLICT, Some("/problems/approvals-missing")),
        "{v}"
    );
    assert_eq!(v["approvals_missing"], json!(["hq"]));
    api.ok("POST", &format!("{path}/approve"), &w.hq, Some(json!({})))
        .await;
    let p = api
        .ok("POST", &format!("{path}/publish"), &w.pr, Some(json!({})))
        .await;
    assert_eq!(p["status"], "published");
    assert_eq!(p["published_by"], "pat");
    assert_eq!(p["body"], new_body);
    let (s, _) = api
        .send(
            "PATCH",
            &path,
            &w.pr,
            Some(json!({"body": "changed after publication"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Attached to its case.
    let list = api
        .ok(
            "GET",
            &format!("/api/v1/cases/{case_fr}/statements"),
            &w.agent,
            None,
        )
        .await;
    let published: Vec<&Value> = list["statements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "published")
        .collect();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["id"], id.as_str());

    // The audit log shows draft, approvals, edit, publication in order; the chain verifies.
    let kinds: Vec<String> = api
        .event_kinds(&w.hq, &case_fr)
        .await
        .into_iter()
        .filter(|k| k.starts_with("statement."))
        .collect();
    assert_eq!(
        kinds,
        [
            "statement.drafted",
            "statement.approved",
            "statement.edited",
            "statement.approved",
            "statement.approved",
            "statement.published"
        ]
    );
    let approvals = sql_count(
        &w.server.data,
        "SELECT COUNT(*) FROM events WHERE kind = 'statement.approved' AND after LIKE '%\"role\":\"pr\"%'",
    )
    .await;
    assert_eq!(approvals, 1);
    let out = cli(&w.server.data, &["audit", "verify"], None);
    assert!(
        out.status.success(),
        "audit verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The dossier: hostile text comes out as text; styles come from a linked file.
    let case_en = api.public_report(STORY_EN, "en", "US").await;
    let resp = api
        .text(&format!("/cases/{case_en}/dossier"), Some(&w.agent))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("style-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<script"), "{html}");
    assert!(html.contains("&lt;script&gt;alert("), "{html}");
    assert!(
        !html.contains("<style") && !html.contains("style="),
        "{html}"
    );
    assert!(html.contains("rel=\"stylesheet\""), "{html}");
    assert!(
        html.contains("<mark>"),
        "triage evidence is highlighted: {html}"
    );
    assert!(html.contains("Audit log: verified"), "{html}");
    assert!(
        html.contains("regulator_report"),
        "clocks are listed: {html}"
    );
    let resp = api.text("/static/dossier.css", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("@media print"));
    // The French case's dossier shows its published statement and its timeline.
    let html = api
        .text(&format!("/cases/{case_fr}/dossier"), Some(&w.hq))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("statement.published"), "{html}");
    assert!(
        html.contains("Nous tiendrons nos clients informés."),
        "{html}"
    );
    let resp = api
        .text(&format!("/cases/{case_fr}/dossier"), Some(&w.admin))
        .await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_notices_with_minimising_words_are_refused_with_findings() {
    let w = world(None);
    let api = &w.api;
    api.ok("PUT", "/api/v1/comms/profile", &w.admin, Some(profile()))
        .await;
    let case_en = api.public_report(STORY_EN, "en", "US").await;
    let case_fr = api.public_report(STORY_FR, "fr", "FR").await;
    for (case, lang) in [(&case_en, "en"), (&case_fr, "fr")] {
        api.ok(
            "PUT",
            &format!("/api/v1/cases/{case}/comms-facts"),
            &w.safety,
            Some(facts(lang)),
        )
        .await;
    }

    // The drafted notice is clean: the checker finds no blocking problem.
    let mut notices = Vec::new();
    for case in [&case_en, &case_fr] {
        let st = api
            .ok(
                "POST",
                &format!("/api/v1/cases/{case}/statements"),
                &w.pr,
                Some(json!({"kind": "recall_notice"})),
            )
            .await;
        let id = st["id"].as_str().unwrap().to_string();
        let check = api
            .ok(
                "POST",
                &format!("/api/v1/statements/{id}/check"),
                &w.pr,
                Some(json!({})),
            )
            .await;
        assert_eq!(check["blocking"], 0, "{}", check["findings"]);
        notices.push((id, st["body"].as_str().unwrap().to_string()));
    }

    for ((id, body), (word, lang)) in notices
        .iter()
        .zip([("voluntary", "en"), ("précautionnaire", "fr")])
    {
        let path = format!("/api/v1/statements/{id}");
        let bad = match lang {
            "en" => format!("{body}\nThis is a voluntary recall."),
            _ => format!("{body}\nIl s'agit d'un rappel précautionnaire."),
        };
        api.ok("PATCH", &path, &w.pr, Some(json!({"body": bad})))
            .await;
        // The checker shows the finding in place (byte and UTF-16 spans).
        let check = api
            .ok("POST", &format!("{path}/check"), &w.agent, Some(json!({})))
            .await;
        let f = check["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "notice.minimising")
            .unwrap_or_else(|| panic!("{check}"));
        assert_eq!(f["excerpt"], word, "{f}");
        let start = f["span"]["start"].as_u64().unwrap() as usize;
        assert_eq!(&bad[start..start + word.len()], word);
        let u16_start = f["span_utf16"]["start"].as_u64().unwrap() as usize;
        assert_eq!(u16_start, bad[..start].encode_utf16().count());

        for who in [&w.pr, &w.hq] {
            api.ok("POST", &format!("{path}/approve"), who, Some(json!({})))
                .await;
        }
        let (s, v) = api.post(&format!("{path}/publish"), &w.pr, json!({})).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["type"], "/problems/notice-check-failed");
        assert!(
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["rule"] == "notice.minimising"
                    && f["span"]["start"].as_u64() == Some(start as u64)),
            "{v}"
        );
        assert!(v["detail"].as_str().unwrap().contains(word), "{v}");
        let st = api.ok("GET", &path, &w.pr, None).await;
        assert_eq!(st["status"], "draft");
        // pr cannot override; hq can, with a reason, and the override is recorded.
        let (s, v) = api
            .post(
                &format!("{path}/publish"),
                &w.pr,
                json!({"override_reason": "legal approved"}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        if lang == "fr" {
            let p = api
                .ok(
                    "POST",
                    &format!("{path}/publish"),
                    &w.hq,
                    Some(json!({"override_reason": "wording imposed by the authority"})),
                )
                .await;
            assert_eq!(p["status"], "published");
            assert_eq!(p["override_reason"], "wording imposed by the authority");
        }
    }
    let kinds = api.event_kinds(&w.hq, &case_en).await;
    assert!(
        !kinds.contains(&"statement.published".to_string()),
        "{kinds:?}"
    );
    let kinds = api.event_kinds(&w.hq, &case_fr).await;
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("statement.published")
    );
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/comms")
}

/// Replaces what changes from run to run (ids, today's date) with placeholders.
fn normalise(text: &str, replacements: &[(String, &str)]) -> String {
    let mut out = text.to_string();
    for (from, to) in replacements {
        out = out.replace(from.as_str(), to);
    }
    out
}

fn compare_golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (regenerate with UPDATE_GOLDEN=1)", path.display()));
    assert_eq!(
        actual, expected,
        "{name} differs from its golden file (UPDATE_GOLDEN=1 regenerates)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_exports_validate_against_their_schemas_and_match_golden_files() {
    let w = world(None);
    let api = &w.api;
    api.ok(
        "POST",
        "/api/v1/products",
        &w.admin,
        Some(json!({"brand": "Acme", "model": "X1", "category": "phone", "price": 799.0, "currency": "EUR"})),
    )
    .await;
    api.ok(
        "POST",
        "/api/v1/exposure",
        &w.admin,
        Some(json!([
            {"brand": "Acme", "model": "X1", "market": "FR", "month": "2025-07", "units_sold": 1200},
            {"brand": "Acme", "model": "X1", "market": "FR", "month": "2025-08", "units_sold": 800},
            {"brand": "Acme", "model": "X1", "market": "US", "month": "2025-08", "units_sold": 3000},
        ])),
    )
    .await;
    let case = api.public_report(STORY_FR, "fr", "FR").await;

    // Incomplete: no firm profile, no corrective action. Refused, naming the fields.
    let (s, v) = api
        .get_any(
            &format!("/api/v1/cases/{case}/exports/cpsc-15b.json"),
            &w.safety,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["type"], "/problems/export-incomplete");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        fields.iter().any(|f| f.starts_with("corrective_action")),
        "{fields:?}"
    );
    assert!(fields.iter().any(|f| f.starts_with("firm")), "{fields:?}");
    // Unknown exports are 404; pr may not export.
    let (s, _) = api
        .get_any(
            &format!("/api/v1/cases/{case}/exports/rapex.xml"),
            &w.safety,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = api
        .get_any(
            &format!("/api/v1/cases/{case}/exports/cpsc-15b.json"),
            &w.pr,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    api.ok("PUT", "/api/v1/comms/profile", &w.admin, Some(profile()))
        .await;
    let mut f = facts("en");
    let detail = api
        .ok("GET", &format!("/api/v1/cases/{case}"), &w.safety, None)
        .await;
    let report_id = detail["reports"][0]["id"].as_str().unwrap().to_string();
    f["incident_descriptions"] = json!({ report_id.clone(): "The phone's battery exploded in a bag and caught fire; no one was hurt." });
    api.ok(
        "PUT",
        &format!("/api/v1/cases/{case}/comms-facts"),
        &w.safety,
        Some(f),
    )
    .await;

    let today = {
        let ms = jiff::Timestamp::now().as_millisecond();
        let d = jiff::civil::Date::new(1970, 1, 1)
            .unwrap()
            .checked_add(jiff::Span::new().days(ms.div_euclid(86_400_000)))
            .unwrap();
        d.to_string()
    };
    let replacements = [
        (report_id.clone(), "REPORT-1"),
        (case.clone(), "CASE-ID"),
        (today.clone(), "TODAY"),
    ];
    for (export, schema) in [
        ("cpsc-15b", CPSC_15B_SCHEMA),
        ("eu-sbg", EU_SBG_ACCIDENT_SCHEMA),
    ] {
        let schema = Schema::parse(schema).unwrap();
        let json_text = api
            .export(
                &format!("/api/v1/cases/{case}/exports/{export}.json"),
                &w.safety,
                ("content-disposition", |v| {
                    v.contains(&format!("FW-000001-{export}.json"))
                }),
            )
            .await;
        let doc: Value = serde_json::from_str(&json_text).unwrap();
        let violations = schema.validate(&doc);
        assert!(violations.is_empty(), "{export}: {violations:?}");
        compare_golden(
            &format!("case_{export}.json"),
            &normalise(&json_text, &replacements),
        );
        let csv_text = api
            .export(
                &format!("/api/v1/cases/{case}/exports/{export}.csv"),
                &w.hq,
                ("content-type", |v| v.starts_with("text/csv")),
            )
            .await;
        assert!(csv_text.starts_with("field,value\r\n"), "{csv_text}");
        compare_golden(
            &format!("case_{export}.csv"),
            &normalise(&csv_text, &replacements),
        );
    }
    // Each export generated is in the audit log.
    assert_eq!(
        sql_count(
            &w.server.data,
            "SELECT COUNT(*) FROM events WHERE kind = 'export.generated'"
        )
        .await,
        4
    );
}

async fn wait_for<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn regulator_clock(policy: &Value) -> Value {
    policy["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "regulator")
        .cloned()
        .unwrap_or_else(|| panic!("no regulator clock in {}", policy["clocks"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitted_notification_stops_the_regulator_clock_for_good() {
    let w = world(Some("scheduler_interval_ms = 200\n"));
    let api = &w.api;
    // The EU regulator deadline shortened to 6 seconds.
    let active = api.ok("GET", "/api/v1/playbook", &w.admin, None).await;
    let text = active["text"].as_str().unwrap();
    let from =
        r#"regulator_clock = { duration = "48h", basis = "calendar", reference = "GPSR Art. 20"#;
    assert!(text.contains(from), "the default playbook changed");
    let text = text.replace(
        from,
        r#"regulator_clock = { duration = "6s", basis = "calendar", reference = "GPSR Art. 20"#,
    );
    let resp = client()
        .put(w.server.url("/api/v1/playbook?name=short.toml"))
        .bearer_auth(&w.admin)
        .header("content-type", "application/toml")
        .body(text)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let submitted = api.public_report(STORY_FR, "fr", "FR").await;
    let control = api.public_report(STORY_FR, "fr", "FR").await;
    let policy = api
        .ok(
            "GET",
            &format!("/api/v1/cases/{submitted}/policy"),
            &w.safety,
            None,
        )
        .await;
    assert_eq!(regulator_clock(&policy)["state"], "running");

    // Bad input changes nothing.
    let (s, v) = api
        .post(
            &format!("/api/v1/cases/{submitted}/regulator-notifications"),
            &w.safety,
            json!({"regulator": "rapex", "reference": ""}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["errors"].as_array().unwrap().len(), 2, "{v}");
    let (s, _) = api
        .post(
            &format!("/api/v1/cases/{submitted}/regulator-notifications"),
            &w.agent,
            json!({"regulator": "eu_sbg", "reference": "SBG-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, n) = api
        .post(
            &format!("/api/v1/cases/{submitted}/regulator-notifications"),
            &w.safety,
            json!({"regulator": "eu_sbg", "reference": "SBG-2026-000123"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{n}");
    assert_eq!(n["clocks_stopped"], json!(["regulator_report"]));
    assert_eq!(n["submitted_by"], "sid");
    assert_eq!(n["reference"], "SBG-2026-000123");

    // The control case's clock breaches; the submitted case's never does.
    wait_for("the control case's regulator breach", 30, async || {
        let p = api
            .ok(
                "GET",
                &format!("/api/v1/cases/{control}/policy"),
                &w.safety,
                None,
            )
            .await;
        (regulator_clock(&p)["state"] == "breached").then_some(())
    })
    .await;
    // One more scheduler round after the deadline of both.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let policy = api
        .ok(
            "GET",
            &format!("/api/v1/cases/{submitted}/policy"),
            &w.safety,
            None,
        )
        .await;
    let clock = regulator_clock(&policy);
    assert_eq!(clock["state"], "stopped", "{clock}");
    assert!(clock["breached_at"].is_null());
    let task = policy["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["task"] == "regulator_report")
        .cloned()
        .unwrap_or_else(|| panic!("{}", policy["tasks"]));
    assert_eq!(task["status"], "done");
    let kinds = api.event_kinds(&w.hq, &submitted).await;
    assert!(!kinds.contains(&"clock.breached".to_string()), "{kinds:?}");
    let at = |k: &str| kinds.iter().position(|x| x == k).unwrap_or(usize::MAX);
    assert!(
        at("regulator.notification_submitted") < at("clocks.stopped")
            && at("clocks.stopped") < usize::MAX,
        "{kinds:?}"
    );
    let kinds = api.event_kinds(&w.hq, &control).await;
    assert!(kinds.contains(&"clock.breached".to_string()), "{kinds:?}");

    // Listed with the case's statements; the audit chain verifies.
    let list = api
        .ok(
            "GET",
            &format!("/api/v1/cases/{submitted}/statements"),
            &w.agent,
            None,
        )
        .await;
    assert_eq!(
        list["regulator_notifications"][0]["reference"],
        "SBG-2026-000123"
    );
    let out = cli(&w.server.data, &["audit", "verify"], None);
    assert!(out.status.success());
}
