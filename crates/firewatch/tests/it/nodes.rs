//! Several firewatch nodes on one PostgreSQL database (issue 8). Runs only on PostgreSQL
//! (see `harness::use_backend`). The scheduled-work half (a breach fires exactly once with
//! two servers on one database) is `playbook::the_story_of_design_section_1_end_to_end`,
//! which runs on both backends.

use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Two data directories on one fresh PostgreSQL database; `None` without PostgreSQL.
async fn two_nodes(root: &Path) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    let (a, b) = (root.join("a"), root.join("b"));
    if !use_backend(Backend::Postgres, &a).await {
        return None;
    }
    set_database_url(&b, &database_url(&a).unwrap());
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_take_intake_keep_one_chain_and_serve_each_others_photos() {
    let dir = tempfile::tempdir().unwrap();
    let Some((a, b)) = two_nodes(dir.path()).await else {
        return;
    };
    let agent = user_with_token(&a, "alice", "agent");
    // The attachments live in one directory both nodes point at.
    let blobs = dir.path().join("shared-blobs");
    let blobs = blobs.to_str().unwrap();
    let env = [("FIREWATCH_BLOB_DIR", blobs)];
    let node_a = Server::start(&a, &env);
    let node_b = Server::start(&b, &env);
    let http = client();

    // Intake on both nodes at once, and one idempotency key sent to both nodes together.
    let mut calls = Vec::new();
    for i in 0..30 {
        let node = if i % 2 == 0 { &node_a } else { &node_b };
        let key = if i >= 28 {
            "same-key".to_string()
        } else {
            format!("k{i}")
        };
        let req = http
            .post(node.url("/api/v1/reports"))
            .bearer_auth(&agent)
            .header("idempotency-key", key)
            .json(&json!({"narrative": if i >= 28 { "the charger melted".to_string() } else { format!("report {i}: the charger melted") }}));
        calls.push(async move { req.send().await.unwrap() });
    }
    let responses = futures_util::future::join_all(calls).await;
    let mut numbers = BTreeSet::new();
    let mut same_key = Vec::new();
    for (i, r) in responses.into_iter().enumerate() {
        assert!(r.status().is_success(), "{}", r.status());
        let v: Value = r.json().await.unwrap();
        if i >= 28 {
            same_key.push(v["reference"].as_str().unwrap().to_string());
        }
        numbers.insert(v["reference"].as_str().unwrap().to_string());
    }
    assert_eq!(
        same_key[0], same_key[1],
        "one key, one case, on either node"
    );
    assert_eq!(numbers.len(), 29, "distinct case references: {numbers:?}");
    assert_eq!(sql_count(&a, "SELECT COUNT(*) FROM cases").await, 29);
    // One linear chain: every event's prev_hash is the previous event's hash.
    let out = cli(&b, &["audit", "verify"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = sql_count(&a, "SELECT COUNT(*) FROM events").await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("OK: {events} events")),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A photo uploaded through node A is served by node B.
    let form = intake_form(
        &json!({"narrative": "The case cracked and smoked."}),
        vec![photo_part(png(40, 30), "p.png", "image/png")],
    );
    let resp = post_multipart(&http, &node_a.url("/api/v1/reports"), form).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v: Value = resp.json().await.unwrap();
    let att = v["attachment_ids"][0].as_str().unwrap().to_string();
    let resp = http
        .get(node_b.url(&format!("/api/v1/attachments/{att}")))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let img = image::load_from_memory(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (40, 30));
}

/// An RSS endpoint per node (`/a`, `/b`) counting its fetches.
async fn feed_server() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    use axum::routing::get;
    const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link><description>d</description></channel></rss>"#;
    let (hits_a, hits_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (ha, hb) = (hits_a.clone(), hits_b.clone());
    let app = axum::Router::new()
        .route(
            "/a",
            get(move || {
                ha.fetch_add(1, Ordering::SeqCst);
                async { ([("content-type", "application/rss+xml")], RSS) }
            }),
        )
        .route(
            "/b",
            get(move || {
                hb.fetch_add(1, Ordering::SeqCst);
                async { ([("content-type", "application/rss+xml")], RSS) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), hits_a, hits_b)
}

async fn wait_until(what: &str, secs: u64, f: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if f() {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within {secs} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connectors_run_on_one_leader_and_another_node_takes_over_after_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let Some((a, b)) = two_nodes(dir.path()).await else {
        return;
    };
    let (feeds, hits_a, hits_b) = feed_server().await;
    // Each node's config names its own feed URL, so the fetches show which node leads.
    let config = |node: &str| {
        let path = dir.path().join(format!("{node}.toml"));
        std::fs::write(
            &path,
            format!("[[social.feeds]]\nurl = \"{feeds}/{node}\"\npoll_secs = 10\n"),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let (conf_a, conf_b) = (config("a"), config("b"));
    let mut node_a = Server::start(&a, &[("FIREWATCH_CONFIG", &conf_a)]);
    wait_until("node A leads and fetches", 15, || {
        hits_a.load(Ordering::SeqCst) > 0
    })
    .await;
    let node_b = Server::start(&b, &[("FIREWATCH_CONFIG", &conf_b)]);
    // B retries every second; while A lives it never leads.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        hits_b.load(Ordering::SeqCst),
        0,
        "node B must not run the connectors"
    );

    node_a.kill();
    let took = wait_until("node B takes over", 15, || {
        hits_b.load(Ordering::SeqCst) > 0
    })
    .await;
    assert!(took < Duration::from_secs(5), "takeover took {took:?}");
    let a_after = hits_a.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hits_a.load(Ordering::SeqCst), a_after, "A is dead");
    drop(node_b);
}

/// Runs `firewatch migrate-data` (it takes no --data).
fn migrate_data(from: &Path, to: &str) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(["migrate-data", "--from"])
        .arg(from)
        .args(["--to", to])
        .env("FIREWATCH_LOG", "warn")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_data_moves_a_sqlite_installation_with_its_chain_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("sqlite"), dir.path().join("pg"));
    if !use_backend(Backend::Postgres, &new).await {
        return;
    }
    let url = database_url(&new).unwrap();
    // A SQLite installation with cases, reports, a photo, a note, a transition, a catalog.
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(
        old.join("catalog.csv"),
        "brand,model,aliases,category,price,currency\nVoltra,PowerCell 20K,PowerCell,power_bank,49,EUR\n",
    )
    .unwrap();
    let agent = user_with_token(&old, "alice", "agent");
    let mut server = Server::start(&old, &[]);
    let http = client();
    let mut cases = Vec::new();
    for i in 0..3 {
        let v: Value = post_json(&http, &server.url("/api/v1/reports"), &agent, &json!({"narrative": format!("My Voltra PowerCell 20K swelled and smoked ({i})."), "country": "FR"})).await
            .json()
            .await
            .unwrap();
        cases.push(v["case_id"].as_str().unwrap().to_string());
    }
    let form = intake_form(
        &json!({"narrative": "The charger melted."}),
        vec![photo_part(png(20, 10), "m.png", "image/png")],
    );
    let v: Value = post_multipart(&http, &server.url("/api/v1/reports"), form)
        .await
        .json()
        .await
        .unwrap();
    let att = v["attachment_ids"][0].as_str().unwrap().to_string();
    let resp = post_json(
        &http,
        &server.url(&format!("/api/v1/cases/{}/notes", cases[0])),
        &agent,
        &json!({"body": "called the customer"}),
    )
    .await;
    assert!(resp.status().is_success(), "{}", resp.status());
    server.stop();

    let out = migrate_data(&old.join("firewatch.sqlite"), &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(printed.contains("chain intact"), "{printed}");
    for sql in [
        "SELECT COUNT(*) FROM cases",
        "SELECT COUNT(*) FROM reports",
        "SELECT COUNT(*) FROM attachments",
        "SELECT COUNT(*) FROM notes",
        "SELECT COUNT(*) FROM users",
        "SELECT COUNT(*) FROM tokens",
        "SELECT COUNT(*) FROM products",
        "SELECT COUNT(*) FROM signal_reports",
        "SELECT COUNT(*) FROM clocks",
        "SELECT COUNT(*) FROM events",
        "SELECT MAX(seq) FROM events",
    ] {
        let (a, b) = (sql_count(&old, sql).await, sql_count(&new, sql).await);
        assert_eq!(a, b, "{sql}");
        assert!(b > 0, "{sql}: nothing to compare");
    }
    let verify = cli(&new, &["audit", "verify"], None);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let events = sql_count(&old, "SELECT COUNT(*) FROM events").await;
    assert!(String::from_utf8_lossy(&verify.stdout).contains(&format!("OK: {events} events")));

    // The moved installation serves: the old token works, the photo is there (same blob
    // directory), and new cases continue the numbering and the chain.
    let blobs = old.join("blobs");
    let server = Server::start(&new, &[("FIREWATCH_BLOB_DIR", blobs.to_str().unwrap())]);
    let resp = http
        .get(server.url(&format!("/api/v1/attachments/{att}")))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = post_json(
        &http,
        &server.url("/api/v1/reports"),
        &agent,
        &json!({"narrative": "It overheated."}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["reference"], "FW-000005", "{v}");
    let verify = cli(&new, &["audit", "verify"], None);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // A second run refuses: the target is not empty.
    let again = migrate_data(&old.join("firewatch.sqlite"), &url);
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("not empty"), "{err}");
}
