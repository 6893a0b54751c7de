//! Playbooks end to end (issue 5), against the real binary: the story of DESIGN section 1
//! (refused paid replacement, free replacement, resolution gate, custody), a short clock
//! that breaches, escalates once and notifies by webhook (HMAC checked) and e-mail (an SMTP
//! sink on 127.0.0.1), and does not fire again after restarts or with two workers; playbook
//! reload; dead letters and their retry.

use crate::harness::*;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const STORY_FR: &str = "Mon téléphone acheté il y a six jours a commencé à dégager de la fumée, puis la batterie a explosé dans mon sac et tout a pris feu. J'ai dû prendre un extincteur.";
const SECRET: &str = "webhook-test-secret";

#[derive(Clone, Debug)]
struct Hit {
    headers: HeaderMap,
    body: Bytes,
}

impl Hit {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// A webhook receiver on 127.0.0.1 that records every request; answers 500 while `fail`.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<Hit>>>, Arc<AtomicBool>) {
    let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let fail = Arc::new(AtomicBool::new(false));
    let (h, f) = (hits.clone(), fail.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (h, f) = (h.clone(), f.clone());
            async move {
                h.lock().unwrap().push(Hit { headers, body });
                if f.load(Ordering::SeqCst) {
                    AxStatus::INTERNAL_SERVER_ERROR
                } else {
                    AxStatus::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits, fail)
}

/// A minimal SMTP sink on 127.0.0.1: accepts every message and keeps its DATA.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let mails: Arc<Mutex<Vec<String>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let m = mails.clone();
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                return;
            };
            let m = m.clone();
            tokio::spawn(async move {
                let (r, mut w) = conn.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(buf) = data.as_mut() {
                        if line == "." {
                            m.lock().unwrap().push(std::mem::take(buf));
                            data = None;
                            let _ = w.write_all(b"250 queued\r\n").await;
                        } else {
                            buf.push_str(&line);
                            buf.push('\n');
                        }
                        continue;
                    }
                    let up = line.to_ascii_uppercase();
                    let reply: &[u8] = if up.starts_with("EHLO") {
                        b"250-sink\r\n250 8BITMIME\r\n"
                    } else if up.starts_with("DATA") {
                        data = Some(String::new());
                        b"354 go ahead\r\n"
                    } else if up.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (port, mails)
}

fn write_config(dir: &Path, webhook_url: &str, smtp_port: u16, max_attempts: u32) -> String {
    let path = dir.join("firewatch.toml");
    std::fs::write(
        &path,
        format!(
            r#"scheduler_interval_ms = 200

[notifications]
max_attempts = {max_attempts}
backoff_base_ms = 200
backoff_max_ms = 1000
timeout_ms = 3000
# The test receiver listens on loopback, which webhooks refuse unless allowlisted.
allowed_hosts = ["127.0.0.1"]

[notifications.webhooks.default]
url = "{webhook_url}"
secret = "{SECRET}"

[notifications.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
tls = "none"
from = "firewatch@example.test"

[notifications.email.roles]
supervisor = ["supervisor@example.test"]
safety = ["safety@example.test"]
hq = ["hq@example.test"]
"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn signed_ok(hit: &Hit) -> bool {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&hit.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    hit.header("x-firewatch-signature") == expected
}

/// The test's own calls, on the harness's `Api`.
impl Api {
    async fn put_playbook(&self, token: &str, text: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .put(format!("{}/api/v1/playbook?name=test.toml", self.base))
            .bearer_auth(token)
            .header("content-type", "application/toml")
            .body(text.to_string())
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json().await.unwrap())
    }
    async fn report(&self, token: &str, narrative: &str) -> Value {
        let (s, v) = self
            .post(
                "/api/v1/reports",
                token,
                json!({"narrative": narrative, "country": "FR", "channel": "phone", "injuries": "none",
                       "product": {"brand": "Acme", "model": "X1", "price": {"amount": 799.0, "currency": "EUR"}}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v
    }
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

fn clock<'a>(detail: &'a Value, name: &str) -> &'a Value {
    detail["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no clock {name} in {}", detail["clocks"]))
}

fn breach_hits(hits: &Arc<Mutex<Vec<Hit>>>, case_id: &str) -> Vec<Hit> {
    hits.lock()
        .unwrap()
        .iter()
        .filter(|h| {
            let v = h.json();
            v["type"] == "clock.breached" && v["case"]["id"] == case_id
        })
        .cloned()
        .collect()
}

async fn breach_events(data: &Path) -> i64 {
    sql_count(
        data,
        "SELECT COUNT(*) FROM events WHERE kind = 'clock.breached'",
    )
    .await
}

/// The default playbook with a 4-second acknowledgement clock.
fn short_clock_playbook(default_text: &str) -> String {
    let from =
        r#"{ name = "acknowledgement", kind = "internal", duration = "1h", basis = "calendar" }"#;
    assert!(default_text.contains(from), "the default playbook changed");
    default_text.replace(
        from,
        r#"{ name = "acknowledgement", kind = "internal", duration = "4s", basis = "calendar" }"#,
    )
}

crate::on_both!(multi_thread the_story_of_design_section_1_end_to_end);
async fn the_story_of_design_section_1_end_to_end(backend: Backend) {
    let (dir, data) = data_dir();
    if !use_backend(backend, &data).await {
        return;
    }
    let agent = user_with_token(&data, "alice", "agent");
    let supervisor = user_with_token(&data, "sam", "supervisor");
    let hq = user_with_token(&data, "hana", "hq");
    let admin = user_with_token(&data, "root", "admin");
    let (hook_url, hits, _) = webhook_receiver().await;
    let (smtp_port, mails) = smtp_sink().await;
    let config = write_config(dir.path(), &hook_url, smtp_port, 5);
    let env = [("FIREWATCH_CONFIG", config.as_str())];
    let mut server = Server::start(&data, &env);
    let api = Api::new(&server);

    // A 4-second acknowledgement clock, applied through the admin API.
    let active = api.get("/api/v1/playbook", &admin).await;
    assert_eq!(active["version"], 0);
    let text = short_clock_playbook(active["text"].as_str().unwrap());
    let (s, v) = api.put_playbook(&admin, &text).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 1);

    // The French report of smoke, explosion and fire becomes an S1 safety case.
    let receipt = api.report(&agent, STORY_FR).await;
    assert_eq!(receipt["severity"], "S1");
    let hazards: Vec<&str> = receipt["hazards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["code"].as_str().unwrap())
        .collect();
    assert!(
        hazards.contains(&"thermal.explosion") && hazards.contains(&"thermal.fire"),
        "{hazards:?}"
    );
    let case = receipt["case_id"].as_str().unwrap().to_string();
    let case_url = format!("/api/v1/cases/{case}");
    let detail = api.get(&case_url, &agent).await;
    assert_eq!(detail["severity"], "S1");
    let matched: Vec<&str> = detail["policy"]["matched_rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for rule in [
        "safety-cost-free",
        "s1-critical",
        "regulator-report",
        "safety-clocks",
    ] {
        assert!(matched.contains(&rule), "{rule} not in {matched:?}");
    }
    assert!(!matched.contains(&"standard-clocks"));
    assert_eq!(detail["policy"]["team"], "product-safety");
    assert_eq!(detail["policy"]["escalation_level"], "safety");
    // The regulator clock (FR is in the EU group: 48 hours) starts when the firm knew.
    let reg = clock(&detail, "regulator_report");
    assert_eq!(reg["kind"], "regulator");
    assert_eq!(reg["pausable"], false);
    let started: jiff::Timestamp = reg["started_at"].as_str().unwrap().parse().unwrap();
    let deadline: jiff::Timestamp = reg["deadline"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        started.duration_until(deadline),
        jiff::SignedDuration::from_hours(48)
    );
    let received = detail["reports"][0]["received_at"].as_str().unwrap();
    assert_eq!(
        started,
        received.parse::<jiff::Timestamp>().unwrap(),
        "regulator clock starts at receipt"
    );
    assert!(reg["remaining_seconds"].as_i64().unwrap() > 47 * 3600);
    assert_eq!(clock(&detail, "acknowledgement")["state"], "running");
    let tasks: Vec<&str> = detail["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap())
        .collect();
    assert!(
        tasks.contains(&"device_retrieval") && tasks.contains(&"regulator_report"),
        "{tasks:?}"
    );

    // The agent offers a replacement with half the price paid by the customer: refused.
    let remedies = format!("{case_url}/remedies");
    let (s, refusal) = api
        .post(
            &remedies,
            &agent,
            json!({"kind": "replacement", "customer_pays_percent": 50, "note": "half price"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{refusal}");
    assert_eq!(refusal["type"], "/problems/remedy-refused");
    assert_eq!(refusal["rule_id"], "safety-cost-free");
    let explanation = refusal["detail"].as_str().unwrap();
    assert!(
        explanation.contains("50%") && explanation.contains("safety-cost-free"),
        "{explanation}"
    );
    let allowed: Vec<&str> = refusal["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(
        allowed.contains(&"replacement")
            && allowed.contains(&"refund")
            && !allowed.contains(&"discount"),
        "{allowed:?}"
    );
    assert!(
        refusal["allowed"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["max_customer_pays_percent"] == 0)
    );
    let refused_id = refusal["remedy_id"].as_str().unwrap().to_string();

    // Only hq may approve an exception, and only with a written reason.
    let approve = format!("/api/v1/remedies/{refused_id}/approve");
    let (s, v) = api
        .post(
            &approve,
            &supervisor,
            json!({"reason": "the customer agreed to pay half"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["rule_id"], "safety-cost-free");
    let (s, v) = api.post(&approve, &hq, json!({"reason": "ok"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = api
        .post(
            &approve,
            &agent,
            json!({"reason": "I think it is fine really"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = api
        .post(
            &approve,
            &hq,
            json!({"reason": "Customer insists on the premium model; the difference is an upgrade he chose."}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{v}"
    );
    assert_eq!(v["approvals"][0]["exception"], true);
    assert_eq!(v["approvals"][0]["role"], "hq");
    assert_eq!(v["approvals"][0]["rule_id"], "safety-cost-free");
    let (s, _) = api
        .post(
            &approve,
            &hq,
            json!({"reason": "approving it a second time"}),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "an approved remedy is not approved again"
    );

    // A free replacement is accepted.
    let (s, free) = api
        .post(
            &remedies,
            &agent,
            json!({"kind": "replacement", "customer_pays_percent": 0}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{free}");
    assert_eq!(free["status"], "proposed");
    assert_eq!(free["policy"]["decision"], "allowed");
    let free_id = free["id"].as_str().unwrap();
    let (s, v) = api
        .post(
            &format!("/api/v1/remedies/{free_id}/fulfil"),
            &agent,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "fulfil before accept: {v}");
    let (s, v) = api
        .post(
            &format!("/api/v1/remedies/{free_id}/accept"),
            &agent,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("accepted")),
        "{v}"
    );
    // A goodwill gesture waits for a supervisor.
    let (s, gw) = api
        .post(
            &remedies,
            &agent,
            json!({"kind": "goodwill", "customer_pays_percent": 0, "note": "a backpack"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{gw}");
    assert_eq!(gw["approvals_needed"], json!(["supervisor"]));
    let (s, v) = api
        .post(
            &format!("/api/v1/remedies/{}/approve", gw["id"].as_str().unwrap()),
            &supervisor,
            json!({"reason": "the bag burned"}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str()),
        (StatusCode::OK, Some("approved")),
        "{v}"
    );

    // The acknowledgement clock breaches: one escalation (safety -> hq), a signed webhook
    // and an e-mail to the supervisor.
    let detail = wait_for("the acknowledgement breach", 20, async || {
        let d = api.get(&case_url, &agent).await;
        (clock(&d, "acknowledgement")["state"] == "breached").then_some(d)
    })
    .await;
    let by_clock: Vec<&Value> = detail["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["cause"] == "clock:acknowledgement")
        .collect();
    assert_eq!(by_clock.len(), 1, "{}", detail["escalations"]);
    assert_eq!(
        (
            by_clock[0]["from_level"].as_str(),
            by_clock[0]["level"].as_str()
        ),
        (Some("safety"), Some("hq"))
    );
    assert_eq!(detail["policy"]["escalation_level"], "hq");
    let hook = wait_for("the breach webhook", 15, async || {
        breach_hits(&hits, &case).into_iter().next()
    })
    .await;
    assert!(
        signed_ok(&hook),
        "bad signature {}",
        hook.header("x-firewatch-signature")
    );
    let body = hook.json();
    assert_eq!(
        hook.header("idempotency-key"),
        body["event_id"].as_str().unwrap()
    );
    assert_eq!(body["clock"]["name"], "acknowledgement");
    assert_eq!(body["case"]["reference"], receipt["reference"]);
    // The S1 rule's match webhook, built inside the intake transaction.
    let matched_hook = wait_for("the match webhook", 15, async || {
        hits.lock()
            .unwrap()
            .iter()
            .find(|h| h.json()["type"] == "rule.matched")
            .cloned()
    })
    .await;
    assert!(signed_ok(&matched_hook));
    let m = matched_hook.json();
    assert_eq!(
        (m["rule_id"].as_str(), m["case"]["id"].as_str()),
        (Some("s1-critical"), Some(case.as_str()))
    );
    assert_eq!(m["case"]["reference"], receipt["reference"]);
    assert_eq!(
        (
            m["case"]["severity"].as_str(),
            m["case"]["country"].as_str()
        ),
        (Some("S1"), Some("FR"))
    );
    assert!(
        m["case"].get("title").is_none(),
        "no personal data in notifications"
    );
    assert_eq!(body["escalation"]["level"], "hq");
    let mail = wait_for("the breach e-mail", 15, async || {
        mails
            .lock()
            .unwrap()
            .iter()
            .find(|m| m.contains("acknowledgement") && m.contains("supervisor@example.test"))
            .cloned()
    })
    .await;
    assert!(mail.contains("breached"), "{mail}");
    // The S1 match notifications went out too (e-mail to safety and hq, the webhook).
    wait_for("the match e-mails", 15, async || {
        let m = mails.lock().unwrap();
        (m.iter().any(|x| x.contains("safety@example.test"))
            && m.iter().any(|x| x.contains("hq@example.test")))
        .then_some(())
    })
    .await;
    assert_eq!(breach_events(&data).await, 1);

    // Restart, then two workers on the same database: the breach never fires again, and a
    // new breach fires exactly once.
    server.stop();
    let mut a = Server::start(&data, &env);
    let mut b = Server::start(&data, &env);
    let api = Api::new(&a);
    let second = api.report(&agent, STORY_FR).await;
    let case2 = second["case_id"].as_str().unwrap().to_string();
    wait_for("the second breach webhook", 20, async || {
        breach_hits(&hits, &case2).into_iter().next()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // several polls of both workers
    assert_eq!(
        breach_hits(&hits, &case).len(),
        1,
        "the first breach fired again"
    );
    assert_eq!(
        breach_hits(&hits, &case2).len(),
        1,
        "two workers fired one breach twice"
    );
    assert_eq!(breach_events(&data).await, 2);
    let d2 = api.get(&format!("/api/v1/cases/{case2}"), &agent).await;
    assert_eq!(
        d2["escalations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["cause"] == "clock:acknowledgement")
            .count(),
        1
    );
    b.stop();

    // The case cannot be resolved until the device retrieval with custody is recorded.
    let transitions = format!("{case_url}/transitions");
    let (s, v) = api
        .post(&transitions, &agent, json!({"to": "in_progress"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = api
        .post(&transitions, &agent, json!({"to": "resolved"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["type"], "/problems/resolution-blocked");
    let blocked: Vec<&str> = v["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["task"].as_str().unwrap())
        .collect();
    assert!(
        blocked.contains(&"device_retrieval") && blocked.contains(&"safety_review"),
        "{blocked:?}"
    );
    for task in ["safety_review", "regulator_report", "device_retrieval"] {
        let (s, v) = api
            .post(
                &format!("{case_url}/tasks/{task}/complete"),
                &agent,
                json!({"note": "done"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{task}: {v}");
    }
    let (s, v) = api
        .post(&transitions, &agent, json!({"to": "resolved"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["blockers"][0]["missing"], "custody_entry", "{v}");
    assert_eq!(v["blockers"].as_array().unwrap().len(), 1, "{v}");
    let (s, v) = api
        .post(
            &format!("{case_url}/custody"),
            &agent,
            json!({"holder": "", "location": "Lyon"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = api
        .post(&format!("{case_url}/custody"), &agent,
              json!({"holder": "DHL courier", "location": "Lyon, customer's home", "at": "2026-11-20T10:00:00Z"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = api
        .post(&transitions, &agent, json!({"to": "resolved"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let detail = api.get(&case_url, &agent).await;
    assert_eq!(detail["status"], "resolved");
    assert_eq!(clock(&detail, "regulator_report")["state"], "stopped");
    assert_eq!(detail["custody"][0]["holder"], "DHL courier");

    // Everything above is in the audit log, and the chain holds.
    let kinds: Vec<String> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    for k in [
        "case.policy_evaluated",
        "remedy.refused_by_policy",
        "remedy.proposed",
        "remedy.accepted",
        "remedy.approved",
        "clock.breached",
        "case.escalated",
        "notification.delivered",
        "task.completed",
        "custody.recorded",
        "clocks.stopped",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} not in {kinds:?}");
    }
    let (s, v) = api.get_any("/api/v1/audit/verify", &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    a.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playbook_reload_refuses_an_invalid_file_and_dead_letters_can_be_retried() {
    let (dir, data) = data_dir();
    let agent = user_with_token(&data, "alice", "agent");
    let admin = user_with_token(&data, "root", "admin");
    let (hook_url, hits, fail) = webhook_receiver().await;
    let (smtp_port, _mails) = smtp_sink().await;
    let config = write_config(dir.path(), &hook_url, smtp_port, 2);
    let server = Server::start(&data, &[("FIREWATCH_CONFIG", config.as_str())]);
    let api = Api::new(&server);

    // An invalid playbook is refused with lines naming the file, the rule and the field;
    // the old one stays.
    let bad = "name = \"bad\"\n[[rules]]\nid = \"r1\"\nwhen = \"case.severity >\"\n\n[[rules]]\nid = \"r2\"\nwhen = \"true\"\nclocks = [{ name = \"x\", kind = \"internal\", duration = \"24 hours\" }]\n";
    let (s, v) = api.put_playbook(&admin, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["type"], "/problems/invalid-playbook");
    let lines: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("test.toml: rule \"r1\": field when:")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("test.toml: rule \"r2\": field clocks[0].duration:")),
        "{lines:?}"
    );
    let active = api.get("/api/v1/playbook", &admin).await;
    assert_eq!(active["version"], 0);
    assert_eq!(active["name"], "firewatch default");
    let (s, _) = api
        .post("/api/v1/playbook/validate", &admin, json!({"text": bad}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = api.put_playbook(&agent, "name = \"x\"\n").await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // A valid one is applied without restart and audited.
    let good = "name = \"notify-everything\"\nrevision = \"t1\"\n[[rules]]\nid = \"tell-the-hook\"\nwhen = \"true\"\nnotifications = [{ channel = \"webhook\", target = \"endpoint:default\", on = \"match\" }]\n";
    let (s, v) = api
        .post("/api/v1/playbook/validate", &admin, json!({"text": good}))
        .await;
    assert_eq!(
        (s, v["valid"].as_bool()),
        (StatusCode::OK, Some(true)),
        "{v}"
    );
    let (s, v) = api.put_playbook(&admin, good).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 1);
    assert_eq!(
        api.get("/api/v1/playbook", &admin).await["name"],
        "notify-everything"
    );
    assert_eq!(
        sql_count(
            &data,
            "SELECT COUNT(*) FROM events WHERE kind = 'playbook.loaded'"
        )
        .await,
        1
    );

    // The receiver fails: two attempts with backoff, then the dead-letter state.
    fail.store(true, Ordering::SeqCst);
    let receipt = api.report(&agent, "The charger sparked and smoked.").await;
    let case = receipt["case_id"].as_str().unwrap();
    let detail = api.get(&format!("/api/v1/cases/{case}"), &agent).await;
    assert_eq!(detail["policy"]["matched_rules"], json!(["tell-the-hook"]));
    let policy = api
        .get(&format!("/api/v1/cases/{case}/policy"), &agent)
        .await;
    assert_eq!(policy["policy"]["escalation_level"], "agent");
    assert_eq!(policy["policy"]["trace"][0]["rule_id"], "tell-the-hook");
    // Manual escalation: one level up by default, never down.
    let esc = format!("/api/v1/cases/{case}/escalations");
    let (s, v) = api
        .post(
            &esc,
            &agent,
            json!({"reason": "the customer called a journalist"}),
        )
        .await;
    assert_eq!(
        (s, v["level"].as_str()),
        (StatusCode::CREATED, Some("supervisor")),
        "{v}"
    );
    let (s, v) = api
        .post(
            &esc,
            &agent,
            json!({"level": "agent", "reason": "back down"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = api
        .post(&esc, &agent, json!({"level": "boss", "reason": "x"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = api.post(&esc, &agent, json!({"reason": "  "})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let dead = wait_for("a dead letter", 20, async || {
        let v = api.get("/api/v1/notifications?state=dead", &admin).await;
        v["notifications"].as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!(dead["attempts"], 2);
    assert!(
        dead["last_error"].as_str().unwrap().contains("500"),
        "{dead}"
    );
    let attempts: Vec<Hit> = hits.lock().unwrap().clone();
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        attempts[0].header("idempotency-key"),
        attempts[1].header("idempotency-key")
    );
    assert!(attempts.iter().all(signed_ok));

    // An admin retries it once the receiver is back.
    fail.store(false, Ordering::SeqCst);
    let id = dead["id"].as_i64().unwrap();
    let (s, v) = api
        .post(
            &format!("/api/v1/notifications/{id}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, v["state"].as_str()),
        (StatusCode::OK, Some("pending")),
        "{v}"
    );
    let (s, _) = api
        .post(
            &format!("/api/v1/notifications/{id}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "a pending job is not dead");
    wait_for("the retried delivery", 15, async || {
        let v = api.get("/api/v1/notifications?state=done", &admin).await;
        v["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id)
            .then_some(())
    })
    .await;
    assert_eq!(hits.lock().unwrap().len(), 3);
    assert_eq!(
        sql_count(
            &data,
            "SELECT COUNT(*) FROM events WHERE kind = 'notification.dead'"
        )
        .await,
        1
    );
    assert_eq!(
        sql_count(
            &data,
            "SELECT COUNT(*) FROM events WHERE kind = 'notification.retried'"
        )
        .await,
        1
    );

    // The `playbook` setting applies a file at startup; an invalid one stops the start
    // with the problem named, and the stored playbook stays.
    let mut server = server;
    server.stop();
    let file = dir.path().join("configured.toml");
    std::fs::write(
        &file,
        good.replace("revision = \"t1\"", "revision = \"t2\""),
    )
    .unwrap();
    let env = [
        ("FIREWATCH_CONFIG", config.as_str()),
        ("FIREWATCH_PLAYBOOK", file.to_str().unwrap()),
    ];
    let mut server = Server::start(&data, &env);
    let api = Api::new(&server);
    let active = api.get("/api/v1/playbook", &admin).await;
    assert_eq!(
        (active["version"].as_i64(), active["revision"].as_str()),
        (Some(2), Some("t2"))
    );
    server.stop();
    std::fs::write(&file, bad).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .env("FIREWATCH_CONFIG", &config)
        .env("FIREWATCH_PLAYBOOK", &file)
        .env("FIREWATCH_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("configured.toml: rule \"r1\": field when:"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert_eq!(
        sql_count(&data, "SELECT MAX(version) FROM playbooks").await,
        2
    );
}
