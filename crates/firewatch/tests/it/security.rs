//! Security end to end: personal data never reaches the logs (even at trace level), and
//! webhooks to loopback are refused unless the admin allowlists the address.

use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `firewatch serve` with its stderr captured to a file (the harness inherits it).
pub struct LoggedServer {
    server: Server,
    pub log: PathBuf,
}

impl LoggedServer {
    pub fn start(data: &Path, log: &Path, env: &[(&str, &str)]) -> LoggedServer {
        let file = std::fs::File::create(log).unwrap();
        LoggedServer {
            server: Server::start_with_stderr(data, env, std::process::Stdio::from(file)),
            log: log.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// SIGTERM, wait, and return everything the server wrote to stderr.
    pub fn stop(&mut self) -> String {
        self.server.stop();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_never_reaches_the_logs_even_at_trace_level() {
    let (dir, data) = data_dir();
    let agent = user_with_token(&data, "alice", "agent");
    let log = dir.path().join("stderr.log");
    let mut server = LoggedServer::start(&data, &log, &[("FIREWATCH_LOG", "trace")]);
    let http = client();
    let email = "qz.canary.4711@redaction-test.example";
    let phone = "+33 6 47 11 47 11";
    let name = "Quillonia Canarywood";
    let narrative_marker = "CANARYNARRATIVE9931";
    let body = json!({
        "narrative": format!("{narrative_marker}: the charger of my scooter caught fire in the hall"),
        "country": "FR",
        "injuries": "minor",
        "reporter": {"name": name, "email": email, "phone": phone}
    });
    let resp = http
        .post(server.url("/api/v1/reports"))
        .header("idempotency-key", "redact-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let receipt: Value = resp.json().await.unwrap();
    // The same key with another body: a conflict that must not log either body.
    let mut other = body.clone();
    other["narrative"] = json!(format!("{narrative_marker} changed"));
    let resp = http
        .post(server.url("/api/v1/reports"))
        .header("idempotency-key", "redact-1")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    // A refused report (bad e-mail) carrying the same data.
    let mut bad = body.clone();
    bad["reporter"]["email"] = json!(format!("{email} not-an-address"));
    let resp = http
        .post(server.url("/api/v1/reports"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Staff read the case (the data is in the answer, not in the log).
    let case = receipt["case_id"].as_str().unwrap();
    let resp = http
        .get(server.url(&format!("/api/v1/cases/{case}")))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let detail = resp.text().await.unwrap();
    assert!(
        detail.contains(email),
        "the case holds the reporter's e-mail"
    );
    let logs = server.stop();
    // The log is really there and verbose, so the absence below means something.
    assert!(
        logs.lines().count() > 20 && logs.contains("TRACE"),
        "expected a trace-level log, got {} lines",
        logs.lines().count()
    );
    for secret in [
        email,
        "qz.canary.4711",
        phone,
        "47 11 47 11",
        name,
        "Canarywood",
        narrative_marker,
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` appears in the server log:\n{}",
            logs.lines()
                .filter(|l| l.contains(secret))
                .take(3)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// A receiver on 127.0.0.1 counting the requests it gets.
async fn counting_receiver() -> (String, Arc<Mutex<usize>>) {
    let hits: Arc<Mutex<usize>> = Arc::default();
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let h = h.clone();
            async move {
                *h.lock().unwrap() += 1;
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    (format!("{}/hook", serve_local(app).await), hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_to_loopback_is_refused_unless_allowlisted() {
    let (dir, data) = data_dir();
    let agent = user_with_token(&data, "alice", "agent");
    let admin = user_with_token(&data, "root", "admin");
    let (hook, hits) = counting_receiver().await;
    // Named endpoint and a literal URL in the playbook, both on loopback; no allowlist.
    let config = write_config(
        dir.path(),
        &format!(
            "scheduler_interval_ms = 100\n[notifications]\nmax_attempts = 3\nbackoff_base_ms = 100\nbackoff_max_ms = 200\ntimeout_ms = 2000\nwebhook_secret = \"s\"\n[notifications.webhooks.default]\nurl = \"{hook}\"\nsecret = \"s\"\n"
        ),
    );
    let server = Server::start(&data, &[("FIREWATCH_CONFIG", &config)]);
    let http = client();
    let metadata = "http://169.254.169.254/latest/meta-data/";
    let playbook = format!(
        "name = \"hooks\"\n[[rules]]\nid = \"tell\"\nwhen = \"true\"\nnotifications = [{{ channel = \"webhook\", target = \"endpoint:default\", on = \"match\" }}, {{ channel = \"webhook\", target = \"{metadata}\", on = \"match\" }}]\n"
    );
    let resp = put_playbook(&http, &server, &admin, "hooks.toml", &playbook).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );
    let resp = post_json(
        &http,
        &server.url("/api/v1/reports"),
        &agent,
        &json!({"narrative": "The charger sparked.", "country": "FR"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // Both are dead-lettered at the first attempt (refusal is permanent) with a clear reason.
    let deadline = Instant::now() + Duration::from_secs(20);
    let dead = loop {
        let v = get_json(
            &http,
            &server.url("/api/v1/notifications?state=dead"),
            &admin,
        )
        .await;
        let list = v["notifications"].as_array().cloned().unwrap_or_default();
        if list.len() >= 2 || Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(dead.len(), 2, "{dead:?}");
    for d in &dead {
        let err = d["last_error"].as_str().unwrap_or_default();
        assert!(
            err.contains("allowed_hosts")
                && (err.contains("127.0.0.1") || err.contains("169.254.169.254")),
            "{d}"
        );
        assert_eq!(d["attempts"], 1, "{d}");
    }
    assert_eq!(*hits.lock().unwrap(), 0, "the loopback receiver was called");
}

/// Peak resident memory of a process, in MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

/// A real decompression bomb: a 315 KB PNG (valid CRCs, real zlib stream) that decodes to a
/// 9000 x 9000 RGBA canvas, 324 MB. Sent four at a time, it is refused before it is
/// inflated, and the server's peak memory stays far below one decoded copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_png_decompression_bomb_is_refused_without_inflating_it() {
    use reqwest::multipart::Part;
    let bomb = include_bytes!("fixtures/bomb_9000x9000_rgba.png");
    let (dir, data) = data_dir();
    let log = dir.path().join("stderr.log");
    let server = LoggedServer::start(&data, &log, &[]);
    let http = client();
    let started = Instant::now();
    let mut sends = Vec::new();
    for i in 0..4 {
        let form = intake_form(
            &json!({"narrative": format!("bomb {i}: the lamp flickered"), "country": "FR"}),
            vec![
                Part::bytes(bomb.to_vec()).file_name("lamp.png"),
                Part::bytes(bomb.to_vec()).file_name("lamp2.png"),
            ],
        );
        let req = http.post(server.url("/api/v1/reports")).multipart(form);
        sends.push(tokio::spawn(req.send()));
    }
    for s in sends {
        let resp = s.await.unwrap().unwrap();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["errors"][0]["field"], "photos[0]", "{v}");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("within limits"),
            "{v}"
        );
    }
    let elapsed = started.elapsed();
    let peak = peak_rss_mib(server.server.pid());
    assert!(
        peak < 300,
        "peak RSS {peak} MiB: a bomb was inflated (one copy is 309 MiB)"
    );
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    let resp = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    eprintln!(
        "security/bomb: 8 bombs (4 requests) refused in {elapsed:?}, server peak RSS {peak} MiB"
    );
}
