//! `firewatch backup` under load, then a restore that serves and verifies.

use crate::harness::*;
use reqwest::multipart::{Form, Part};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn png(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(3, 3, image::Rgb([seed, 40, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let token = user_with_token(&data, "loader", "agent");
    let server = Server::start(&data, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..4u8 {
        let (http, url, token, stop, sent) = (
            client(),
            server.url("/api/v1/reports"),
            token.clone(),
            stop.clone(),
            sent.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut n = 0u8;
            while !stop.load(Ordering::Relaxed) {
                let report = json!({"narrative": format!("client {c} report {n}: the power bank swelled"), "country": "DE"});
                let req = http.post(&url).bearer_auth(&token);
                let resp = if n.is_multiple_of(3) {
                    let form = Form::new()
                        .part("report", Part::text(report.to_string()).mime_str("application/json").unwrap())
                        .part("photos", Part::bytes(png(n.wrapping_mul(7).wrapping_add(c))).file_name("p.png"));
                    req.multipart(form).send().await
                } else {
                    req.json(&report).send().await
                };
                if resp.is_ok_and(|r| r.status() == 201) {
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                n = n.wrapping_add(1);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let dest = dir.path().join("backup");
    let out = cli(&data, &["backup", dest.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let during = sent.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(
        during > 20,
        "the load was running during the backup ({during} reports)"
    );

    // A second backup into a non-empty directory is refused with one line.
    let again = cli(&data, &["backup", dest.to_str().unwrap()], None);
    assert!(!again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stderr)
            .trim()
            .lines()
            .count(),
        1
    );

    // Restore = serve the backup directory; the chain verifies and every photo is there.
    let backed_up = sql_count(&dest, "SELECT COUNT(*) FROM reports").await;
    let live = sql_count(&data, "SELECT COUNT(*) FROM reports").await;
    assert!(
        backed_up > 0 && backed_up <= live,
        "backup {backed_up}, live {live}"
    );
    let verify = cli(&dest, &["audit", "verify"], None);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    {
        use sqlx::{Connection, Row};
        let url = format!(
            "sqlite://{}?mode=ro",
            dest.join("firewatch.sqlite").display()
        );
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let rows = sqlx::query("SELECT sha256, clean_sha256 FROM attachments")
            .fetch_all(&mut c)
            .await
            .unwrap();
        assert!(!rows.is_empty());
        for row in rows {
            for col in [0, 1] {
                let sha: String = row.get(col);
                assert!(
                    dest.join("blobs").join(&sha[..2]).join(&sha[2..]).exists(),
                    "blob {sha} missing from the backup"
                );
            }
        }
    }
    drop(server);
    let restored = Server::start(&dest, &[]);
    let http = client();
    let resp = http
        .get(restored.url("/api/v1/cases?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the restored installation serves with the same tokens"
    );
}
