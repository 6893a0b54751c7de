//! Durability: SIGKILL the server while 8 clients submit reports, restart it, let the clients
//! retry with their idempotency keys, and check that every report that got a 201 is stored
//! exactly once, with the id that was acknowledged.

use crate::harness::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_report_survives_a_sigkill_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let token = user_with_token(dir.path(), "loader", "agent");
    let server = Server::start(dir.path(), &[]);
    let base = Arc::new(Mutex::new(server.base.clone()));
    // key -> report_id acknowledged with 201
    let acked: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let http = client();

    let mut clients = Vec::new();
    for c in 0..8 {
        let (base, acked, stop, http, token) = (
            base.clone(),
            acked.clone(),
            stop.clone(),
            http.clone(),
            token.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("c{c}-r{n}");
                let body = json!({"narrative": format!("client {c} report {n}: the charger smoked"), "country": "FR"});
                // Retry the same key until it is acknowledged: the client's side of the contract.
                loop {
                    let url = format!("{}/api/v1/reports", base.lock().unwrap());
                    let sent = http
                        .post(url)
                        .bearer_auth(&token)
                        .header("idempotency-key", &key)
                        .json(&body)
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    if let Ok(resp) = sent
                        && resp.status() == 201
                        && let Ok(v) = resp.json::<Value>().await
                    {
                        let id = v["report_id"].as_str().unwrap().to_string();
                        let prior = acked.lock().unwrap().insert(key.clone(), id.clone());
                        assert!(prior.is_none_or(|p| p == id), "key {key} acknowledged with two ids");
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                n += 1;
            }
        }));
    }

    let mut server = server;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before_kill = acked.lock().unwrap().len();
    server.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restarted = Server::start(dir.path(), &[]);
    *base.lock().unwrap() = restarted.base.clone();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        tokio::time::timeout(Duration::from_secs(60), c)
            .await
            .expect("client finished")
            .unwrap();
    }
    let mut restarted = restarted;
    restarted.stop();

    let acked = acked.lock().unwrap().clone();
    assert!(
        before_kill > 50,
        "the load ran before the kill ({before_kill} acknowledged)"
    );
    assert!(
        acked.len() > before_kill,
        "clients kept going after the restart"
    );
    let stored = sql_count(dir.path(), "SELECT COUNT(*) FROM reports").await;
    assert_eq!(
        stored as usize,
        acked.len(),
        "stored reports = acknowledged reports"
    );
    let dupes = sql_count(
        dir.path(),
        "SELECT COUNT(*) FROM (SELECT idempotency_key FROM reports GROUP BY idempotency_key HAVING COUNT(*) > 1)",
    )
    .await;
    assert_eq!(dupes, 0);
    // Each acknowledged id is the stored one for its key.
    {
        use sqlx::{Connection, Row};
        let url = format!(
            "sqlite://{}?mode=ro",
            dir.path().join("firewatch.sqlite").display()
        );
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let rows = sqlx::query("SELECT idempotency_key, id FROM reports")
            .fetch_all(&mut c)
            .await
            .unwrap();
        let stored: HashMap<String, String> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        assert_eq!(stored, acked);
    }
    let out = cli(dir.path(), &["audit", "verify"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "durability: {before_kill} acknowledged before SIGKILL, {} in all, all stored once",
        acked.len()
    );
}
