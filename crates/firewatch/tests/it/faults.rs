//! Fault injection against the real binary: SIGKILL during a playbook reload and during a
//! webhook delivery, the data directory's disk filling up under intake load, the
//! SQLite file locked by another process, and PostgreSQL restarted (twice) under 8-client
//! intake load on a cluster of the test's own. SIGKILL during connector ingestion is covered by
//! `social::the_servers_jetstream_connector_survives_a_drop_and_a_kill_with_no_gap_and_no_duplicate`,
//! and SIGKILL during intake by `durability::every_acknowledged_report_survives_a_sigkill_exactly_once`.

use crate::harness::*;
use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn audit_verify_ok(data: &Path) {
    let out = cli(data, &["audit", "verify"], None);
    assert!(
        out.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn wait_until<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every acknowledged (201) report is stored, once, under the acknowledged id.
async fn acknowledged_reports_intact(data: &Path, acked: &HashMap<String, String>) {
    use sqlx::{Connection, Row};
    let url = format!(
        "sqlite://{}?mode=ro",
        data.join("firewatch.sqlite").display()
    );
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows =
        sqlx::query("SELECT idempotency_key, id FROM reports WHERE idempotency_key IS NOT NULL")
            .fetch_all(&mut c)
            .await
            .unwrap();
    let stored: HashMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for (key, id) in acked {
        assert_eq!(stored.get(key), Some(id), "acknowledged report {key} lost");
    }
}

// ---------------------------------------------------------------- playbook reload

fn playbook_text(name: &str) -> String {
    format!(
        "name = \"{name}\"\nrevision = \"{name}-r\"\n[[rules]]\nid = \"rule-{name}\"\nwhen = \"true\"\nseverity_floor = \"S3\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_playbook_reload_leaves_the_old_or_the_new_never_a_mix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let admin = user_with_token(&data, "root", "admin");
    let agent = user_with_token(&data, "alice", "agent");
    let http = client();
    let mut server = Server::start(&data, &[]);
    let texts: HashMap<String, String> = ["alpha", "beta"]
        .iter()
        .map(|n| (n.to_string(), playbook_text(n)))
        .collect();
    let mut active = "firewatch default".to_string();
    let (mut saw_old, mut saw_new) = (0, 0);
    // Kill at different points of the reload: before, during and after the commit; the
    // last round kills right after the 200, when the new playbook must be the active one.
    const DELAYS_MS: [u64; 10] = [0, 2, 5, 10, 20, 35, 60, 100, 200, u64::MAX];
    for (round, delay) in DELAYS_MS.into_iter().enumerate() {
        let next = if round % 2 == 0 { "alpha" } else { "beta" };
        let put = http
            .put(server.url("/api/v1/playbook?name=reload.toml"))
            .bearer_auth(&admin)
            .header("content-type", "application/toml")
            .body(texts[next].clone())
            .send();
        let put = tokio::spawn(put);
        let acknowledged = if delay == u64::MAX {
            let resp = put.await.unwrap().unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            true
        } else {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            false
        };
        server.kill();
        server = Server::start(&data, &[]);
        let v = get_json(&http, &server.url("/api/v1/playbook"), &admin).await;
        let name = v["name"].as_str().unwrap().to_string();
        if acknowledged {
            assert_eq!(name, next, "an acknowledged reload survives SIGKILL");
        }
        assert!(
            name == active || name == next,
            "round {round}: active playbook `{name}` is neither the old `{active}` nor the new `{next}`"
        );
        if name == next {
            saw_new += 1;
        } else {
            saw_old += 1;
        }
        // The stored text, the rules and the rules that actually run are one playbook.
        if let Some(text) = texts.get(&name) {
            assert_eq!(v["text"].as_str().unwrap(), text, "round {round}");
            assert_eq!(v["rules"][0]["id"], format!("rule-{name}"));
            let resp = post_json(
                &http,
                &server.url("/api/v1/reports"),
                &agent,
                &json!({"narrative": format!("round {round}: the kettle leaks"), "country": "FR"}),
            )
            .await;
            assert_eq!(resp.status(), StatusCode::CREATED);
            let r: Value = resp.json().await.unwrap();
            let case = r["case_id"].as_str().unwrap();
            let p: Value = get_json(
                &http,
                &server.url(&format!("/api/v1/cases/{case}/policy")),
                &agent,
            )
            .await;
            assert_eq!(
                p["policy"]["trace"][0]["rule_id"],
                format!("rule-{name}"),
                "round {round}: the rules that run are the active playbook's: {p}"
            );
        }
        active = name;
    }
    server.stop();
    audit_verify_ok(&data);
    eprintln!(
        "faults/reload: {} SIGKILLs around PUT /api/v1/playbook: {saw_old} kept the old, {saw_new} had the new, 0 mixed",
        DELAYS_MS.len()
    );
}

// ---------------------------------------------------------------- webhook delivery

#[derive(Default)]
struct Receiver {
    keys: Mutex<Vec<String>>,
    slow: AtomicBool,
}

async fn slow_receiver() -> (String, Arc<Receiver>) {
    let r = Arc::new(Receiver::default());
    r.slow.store(true, Ordering::SeqCst);
    let rr = r.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let r = rr.clone();
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                r.keys.lock().unwrap().push(key);
                if r.slow.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    (format!("{}/hook", serve_local(app).await), r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_webhook_delivery_delivers_again_with_the_same_idempotency_key() {
    let (dir, data) = data_dir();
    let admin = user_with_token(&data, "root", "admin");
    let agent = user_with_token(&data, "alice", "agent");
    let (hook, receiver) = slow_receiver().await;
    let config = write_config(
        dir.path(),
        &format!(
            "scheduler_interval_ms = 100\n[notifications]\nmax_attempts = 8\nbackoff_base_ms = 100\nbackoff_max_ms = 500\ntimeout_ms = 1000\nallowed_hosts = [\"127.0.0.1\"]\n[notifications.webhooks.default]\nurl = \"{hook}\"\nsecret = \"s\"\n"
        ),
    );
    let env = [("FIREWATCH_CONFIG", config.as_str())];
    let mut server = Server::start(&data, &env);
    let http = client();
    let text = "name = \"hook\"\n[[rules]]\nid = \"tell\"\nwhen = \"true\"\nnotifications = [{ channel = \"webhook\", target = \"endpoint:default\", on = \"match\" }]\n";
    let resp = put_playbook(&http, &server, &admin, "hook.toml", text).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = post_json(
        &http,
        &server.url("/api/v1/reports"),
        &agent,
        &json!({"narrative": "The charger smoked.", "country": "FR"}),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    // The receiver holds the first delivery open; kill the server in the middle of it.
    wait_until("the first delivery", 20, async || {
        (!receiver.keys.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    server.kill();
    receiver.slow.store(false, Ordering::SeqCst);
    let server = Server::start(&data, &env);
    // Redelivered after the lease of the dead worker expires, then done.
    let done = wait_until("the delivery to be done", 30, async || {
        let v: Value = http
            .get(server.url("/api/v1/notifications?state=done"))
            .bearer_auth(&admin)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        v["notifications"].as_array()?.first().cloned()
    })
    .await;
    let keys = receiver.keys.lock().unwrap().clone();
    assert!(keys.len() >= 2, "delivered again after the kill: {keys:?}");
    assert!(
        !keys[0].is_empty(),
        "every delivery carries Idempotency-Key"
    );
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    assert_eq!(Some(keys[0].as_str()), done["event_id"].as_str(), "{done}");
    drop(server);
    audit_verify_ok(&data);
    eprintln!(
        "faults/webhook: SIGKILL mid-delivery, {} deliveries, one idempotency key",
        keys.len()
    );
}

// ---------------------------------------------------------------- intake load helper

#[derive(Default)]
struct Load {
    acked: Mutex<HashMap<String, String>>,
    /// status -> count of answers other than 201
    other: Mutex<HashMap<u16, u64>>,
    bad_503: AtomicU64,
    stop: AtomicBool,
}

/// `n` clients submitting reports, each retrying its key until it gets a 201.
fn start_load(
    base: &str,
    token: &str,
    n: usize,
    load: &Arc<Load>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let http = client();
    (0..n)
        .map(|c| {
            let (http, load, base, token) =
                (http.clone(), load.clone(), base.to_string(), token.to_string());
            tokio::spawn(async move {
                let mut i = 0;
                while !load.stop.load(Ordering::Relaxed) {
                    let key = format!("c{c}-{i}");
                    let body = json!({"narrative": format!("client {c} report {i}: the heater smoked {}", "x".repeat(400)), "country": "DE"});
                    loop {
                        let sent = http
                            .post(format!("{base}/api/v1/reports"))
                            .bearer_auth(&token)
                            .header("idempotency-key", &key)
                            .json(&body)
                            .timeout(Duration::from_secs(20))
                            .send()
                            .await;
                        if let Ok(resp) = sent {
                            let status = resp.status().as_u16();
                            let ct = resp
                                .headers()
                                .get("content-type")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string();
                            let retry_after = resp.headers().contains_key("retry-after");
                            let text = resp.text().await.unwrap_or_default();
                            if status == 201 {
                                let v: Value = serde_json::from_str(&text).unwrap();
                                let id = v["report_id"].as_str().unwrap().to_string();
                                load.acked.lock().unwrap().insert(key.clone(), id);
                                break;
                            }
                            *load.other.lock().unwrap().entry(status).or_default() += 1;
                            if status == 503
                                && !(ct.starts_with("application/problem+json")
                                    && retry_after
                                    && text.contains("storage-unavailable"))
                            {
                                load.bad_503.fetch_add(1, Ordering::Relaxed);
                            }
                            if load.stop.load(Ordering::Relaxed) && status != 503 {
                                break;
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(25)).await;
                    }
                    i += 1;
                }
            })
        })
        .collect()
}

impl Load {
    /// Stops the clients and waits (60 s at most) for each to finish.
    async fn finish(&self, clients: Vec<tokio::task::JoinHandle<()>>) {
        self.stop.store(true, Ordering::Relaxed);
        for c in clients {
            tokio::time::timeout(Duration::from_secs(60), c)
                .await
                .expect("client finished")
                .unwrap();
        }
    }

    /// The acknowledged reports (key -> id) and the other answers (status -> count).
    fn answers(&self) -> (HashMap<String, String>, HashMap<u16, u64>) {
        (
            self.acked.lock().unwrap().clone(),
            self.other.lock().unwrap().clone(),
        )
    }
}

/// After a fault under load: every 503 was a storage-unavailable problem with Retry-After,
/// every acknowledged report is stored once under its id, nothing else is stored, and the
/// audit chain verifies.
async fn nothing_lost(data: &Path, load: &Load, acked: &HashMap<String, String>) {
    assert_eq!(
        load.bad_503.load(Ordering::Relaxed),
        0,
        "every 503 is a storage-unavailable problem with Retry-After"
    );
    acknowledged_reports_intact(data, acked).await;
    let stored = sql_count(data, "SELECT COUNT(*) FROM reports").await;
    assert_eq!(stored as usize, acked.len(), "stored = acknowledged");
    audit_verify_ok(data);
}

// ---------------------------------------------------------------- disk full

/// A tmpfs mounted on a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system holding `path` until writes fail with ENOSPC.
fn fill(path: &Path) -> u64 {
    use std::io::Write;
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    let _ = f.sync_all();
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_gives_clear_503s_loses_nothing_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Big enough that the database's own growth (WAL, checkpoints) still fits once the
    // filler is gone: with 8 MB a slow run had filled the disk with acknowledged data itself.
    let _mount = match Tmpfs::mount(&data, "64m") {
        Ok(m) => m,
        Err(why) => {
            eprintln!(
                "\n!!!!! faults/disk-full NOT RUN: cannot mount a tmpfs on the data directory ({why}); run as root (or with CAP_SYS_ADMIN) to test a full disk !!!!!\n"
            );
            assert!(
                std::env::var("FIREWATCH_REQUIRE_FAULTS").as_deref() != Ok("1"),
                "FIREWATCH_REQUIRE_FAULTS=1 but the disk-full test cannot run: {why}"
            );
            return;
        }
    };
    let token = user_with_token(&data, "loader", "agent");
    let mut server = Server::start(&data, &[]);
    let load = Arc::new(Load::default());
    let clients = start_load(&server.base, &token, 4, &load);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before_full = load.acked.lock().unwrap().len();
    // Fill the disk while intake runs.
    let filler = data.join("filler.bin");
    let filled = tokio::task::spawn_blocking({
        let f = filler.clone();
        move || fill(&f)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during_full = load.other.lock().unwrap().get(&503).copied().unwrap_or(0);
    let acked_while_full = load.acked.lock().unwrap().len();
    // Space returns.
    std::fs::remove_file(&filler).unwrap();
    let recovered = wait_until("intake to recover", 90, async || {
        (load.acked.lock().unwrap().len() > acked_while_full + 20).then_some(())
    })
    .await;
    let () = recovered;
    load.finish(clients).await;
    server.stop();
    let (acked, other) = load.answers();
    assert!(
        before_full > 10,
        "load ran before the disk filled ({before_full})"
    );
    assert!(during_full > 0, "a full disk was noticed: {other:?}");
    assert_eq!(
        other.get(&500),
        None,
        "no 500 while the disk was full: {other:?}"
    );
    nothing_lost(&data, &load, &acked).await;
    eprintln!(
        "faults/disk-full: filled {filled} bytes; {before_full} acked before, {during_full} x 503 while full, {} acked in all, 0 lost; answers other than 201: {other:?}",
        acked.len()
    );
}

// ---------------------------------------------------------------- locked database

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_locked_by_another_process_gives_503s_and_recovers() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let token = user_with_token(&data, "loader", "agent");
    let mut server = Server::start(&data, &[]);
    let load = Arc::new(Load::default());
    let clients = start_load(&server.base, &token, 3, &load);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = load.acked.lock().unwrap().len();
    // Another process's connection takes the write lock and holds it.
    let url = format!("sqlite://{}", data.join("firewatch.sqlite").display());
    let mut locker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    // The writer waits busy_timeout (5 s) and then answers 503.
    let saw_503 = wait_until("a 503 while locked", 30, async || {
        (load.other.lock().unwrap().get(&503).copied().unwrap_or(0) > 0).then_some(())
    })
    .await;
    let () = saw_503;
    let during = load.acked.lock().unwrap().len();
    sqlx::raw_sql("COMMIT").execute(&mut locker).await.unwrap();
    locker.close().await.unwrap();
    wait_until("intake to recover", 30, async || {
        (load.acked.lock().unwrap().len() > during + 20).then_some(())
    })
    .await;
    load.finish(clients).await;
    server.stop();
    let (acked, other) = load.answers();
    assert!(before > 5, "load ran before the lock ({before})");
    assert_eq!(other.get(&500), None, "no 500 while locked: {other:?}");
    nothing_lost(&data, &load, &acked).await;
    eprintln!(
        "faults/locked: {before} acked before the lock, {} x 503 while locked, {} acked in all, 0 lost",
        other.get(&503).copied().unwrap_or(0),
        acked.len()
    );
}

// ---------------------------------------------------------------- PostgreSQL restarted

/// Acknowledged reports each client `c` (keys `c{c}-{i}`) has.
fn acked_per_client(load: &Load, clients: usize) -> Vec<usize> {
    let acked = load.acked.lock().unwrap();
    (0..clients)
        .map(|c| {
            let prefix = format!("c{c}-");
            acked.keys().filter(|k| k.starts_with(&prefix)).count()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgresql_restart_under_load_gives_503s_loses_nothing_and_recovers() {
    use sqlx::{Connection, Row};
    const CLIENTS: usize = 8;
    const PER_CLIENT: usize = 40;
    const RESTARTS: usize = 2;
    // Our own cluster: restarting the process-wide one would disturb the other tests.
    let cluster = match firewatch_store::pgtest::PgCluster::start() {
        Ok(c) => c,
        Err(why) => {
            eprintln!(
                "\n!!!!! faults/postgresql-restart NOT RUN: cannot start a PostgreSQL cluster ({why}); install postgresql or set FIREWATCH_PG_BIN !!!!!\n"
            );
            assert!(
                std::env::var("FIREWATCH_REQUIRE_PG").as_deref() != Ok("1"),
                "FIREWATCH_REQUIRE_PG=1 but the PostgreSQL restart test cannot run: {why}"
            );
            return;
        }
    };
    let cluster = Arc::new(cluster);
    let url = cluster.fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    set_database_url(&data, &url);
    let token = user_with_token(&data, "loader", "agent");
    let mut server = Server::start(&data, &[]);
    let load = Arc::new(Load::default());
    let clients = start_load(&server.base, &token, CLIENTS, &load);

    let mut acked_before = Vec::new();
    for _ in 0..RESTARTS {
        let from = load.acked.lock().unwrap().len();
        wait_until("intake to run before the restart", 60, async || {
            (load.acked.lock().unwrap().len() >= from + 40).then_some(())
        })
        .await;
        acked_before.push(load.acked.lock().unwrap().len());
        // Down for 1.5 s, then up again; the server is left alone.
        tokio::task::spawn_blocking({
            let cluster = cluster.clone();
            move || cluster.restart(Duration::from_millis(1500))
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("restarting PostgreSQL: {e}"));
    }
    // The same server process recovers by itself: every client reaches its count.
    wait_until(
        "every client to have its reports acknowledged",
        120,
        async || {
            acked_per_client(&load, CLIENTS)
                .iter()
                .all(|&n| n >= PER_CLIENT)
                .then_some(())
        },
    )
    .await;
    let acked_after_restarts = load.acked.lock().unwrap().len();
    load.finish(clients).await;
    let health = client()
        .get(server.url("/healthz"))
        .send()
        .await
        .map(|r| r.status());
    server.stop();

    let (acked, other) = load.answers();
    let n503 = other.get(&503).copied().unwrap_or(0);
    assert!(
        acked_after_restarts > acked_before[RESTARTS - 1],
        "intake went on after the last restart"
    );
    assert_eq!(
        other.keys().filter(|&&s| s != 503).count(),
        0,
        "only 503 while PostgreSQL was down, never 500: {other:?}"
    );
    assert!(n503 > 0, "the restarts were noticed: {other:?}");
    assert_eq!(
        load.bad_503.load(Ordering::Relaxed),
        0,
        "every 503 is a storage-unavailable problem with Retry-After"
    );
    // Every acknowledged report is stored once, under the acknowledged id.
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT idempotency_key, id FROM reports")
        .fetch_all(&mut db)
        .await
        .unwrap();
    let mut stored: HashMap<String, String> = HashMap::new();
    for r in &rows {
        let key: Option<String> = r.get(0);
        let key = key.expect("every report here was sent with a key");
        assert!(
            stored.insert(key.clone(), r.get(1)).is_none(),
            "key {key} stored twice"
        );
    }
    for (key, id) in &acked {
        assert_eq!(stored.get(key), Some(id), "acknowledged report {key} lost");
    }
    assert_eq!(rows.len(), acked.len(), "stored = acknowledged");
    db.close().await.unwrap();
    audit_verify_ok(&data);
    eprintln!(
        "faults/postgresql-restart: {RESTARTS} restarts (1.5 s down each) with {CLIENTS} clients; acked before each: {acked_before:?}; {n503} x 503 storage-unavailable, no 500; {} acked in all, all stored once, 0 lost; health after: {health:?}; answers other than 201: {other:?}",
        acked.len()
    );
}
