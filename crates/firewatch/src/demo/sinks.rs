//! Local notification sinks for the demo, on 127.0.0.1: a webhook receiver for the playbook's
//! `endpoint:default` and an SMTP sink for `role:<role>` e-mail. The default playbook notifies
//! hq, safety, pr and a webhook; with no endpoint configured every such notification would be
//! dead-lettered, which is correct for a real install (an unconfigured target is a
//! configuration error an admin must see) but only noise in a demo. So the demo delivers them
//! here, through the real outbox and delivery code, and prints one line per delivery about an
//! open case. Settings the user configured are left alone.

use crate::config::Settings;
use crate::notify::{EmailSettings, WebhookEndpoint};
use axum::routing::post;
use firewatch_domain::Role;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Notifications delivered to the sinks (webhook + e-mail).
pub static DELIVERED: AtomicUsize = AtomicUsize::new(0);

/// Configures the sinks for what the settings leave unconfigured.
pub async fn configure(settings: &mut Settings) -> anyhow::Result<()> {
    let n = &mut settings.notifications;
    if !n.webhooks.contains_key("default") {
        let url = webhook_sink().await?;
        n.webhooks.insert(
            "default".into(),
            WebhookEndpoint {
                url,
                secret: "demo-webhook-secret".into(),
            },
        );
    }
    if n.email.is_none() {
        let port = smtp_sink().await?;
        n.email = Some(EmailSettings {
            smtp_host: "127.0.0.1".into(),
            smtp_port: port,
            tls: "none".into(),
            username: None,
            password: None,
            from: "firewatch-demo@localhost".into(),
            roles: Role::ALL
                .iter()
                .map(|r| (r.to_string(), vec![format!("demo-{r}@localhost")]))
                .collect(),
        });
    }
    Ok(())
}

/// Ids and references (FW-000123) of the history cases the demo closed: notifications about
/// them (sent when those cases came in) are delivered but not printed.
static HISTORY: OnceLock<HashSet<String>> = OnceLock::new();
static HISTORY_NOTED: AtomicBool = AtomicBool::new(false);

/// Names the closed history cases (once, after loading).
pub fn set_history(cases: HashSet<String>) {
    let _ = HISTORY.set(cases);
}

fn note(case: &str, line: String) {
    DELIVERED.fetch_add(1, Ordering::Relaxed);
    if HISTORY.get().is_some_and(|h| h.contains(case)) {
        if !HISTORY_NOTED.swap(true, Ordering::Relaxed) {
            println!(
                "notified: (the history's own notifications, sent when those cases came in, are delivered to the local sinks without a line each)"
            );
        }
        return;
    }
    println!("notified: {line}");
}

async fn webhook_sink() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/hook",
        post(|body: axum::body::Bytes| async move {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let case = v
                .pointer("/case/id")
                .and_then(|e| e.as_str())
                .unwrap_or("?");
            note(
                case,
                format!(
                    "webhook {} (rule {}) about case {case}",
                    v.get("type").and_then(|e| e.as_str()).unwrap_or("?"),
                    v.get("rule_id").and_then(|e| e.as_str()).unwrap_or("?"),
                ),
            );
            axum::http::StatusCode::NO_CONTENT
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the demo's webhook sink stopped");
        }
    });
    Ok(url)
}

async fn smtp_sink() -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let (r, mut w) = conn.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 firewatch-demo ESMTP sink\r\n").await;
                let mut data: Option<(String, String)> = None;
                let to = Arc::new(std::sync::Mutex::new(String::new()));
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some((subject, _)) = data.as_mut() {
                        if line == "." {
                            let (subject, _) = data.take().unwrap_or_default();
                            let rcpt = to.lock().map(|t| t.clone()).unwrap_or_default();
                            let case = subject
                                .split_whitespace()
                                .find(|w| w.starts_with("FW-"))
                                .unwrap_or("?")
                                .to_string();
                            note(&case, format!("e-mail to {rcpt}: {subject}"));
                            let _ = w.write_all(b"250 queued\r\n").await;
                        } else if let Some(s) = line.strip_prefix("Subject: ") {
                            *subject = s.to_string();
                        }
                        continue;
                    }
                    let up = line.to_ascii_uppercase();
                    let reply: &[u8] = if up.starts_with("EHLO") {
                        b"250-firewatch-demo\r\n250 8BITMIME\r\n"
                    } else if up.starts_with("RCPT TO:") {
                        if let Ok(mut t) = to.lock() {
                            *t = line[8..].trim().trim_matches(['<', '>']).to_string();
                        }
                        b"250 OK\r\n"
                    } else if up.starts_with("DATA") {
                        data = Some(Default::default());
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
    Ok(port)
}
