//! Social watch end to end: `firewatch import posts` of a JSONL cascade about a catalog
//! product joins an existing case (reporter handle), a second report of the same incident joins
//! it by product, hazard and text, copies and reposts count as engagement, the forecast rises
//! as the cascade grows, the case escalates to hq and pr once, and a re-import changes nothing.

use crate::harness::*;
use serde_json::{Value, json};

const CATALOG: &str = "brand,model,aliases,category,price,currency\nVoltra,Note7 Pro,N7P,phone,499,EUR\nVoltra,PowerCell 20K,PowerCell,power_bank,49,EUR\n";

const T0: i64 = 1_767_000_000_000_000; // unix µs

fn line(v: Value) -> String {
    format!("{v}\n")
}

/// The original post, a second witness, a copy, non-mentions, and `reposts` of the original
/// from `from_s` to `to_s` seconds after it, with `followers` each.
fn cascade_part(start: usize, n: usize, from_s: i64, to_s: i64, followers: u64) -> String {
    let mut out = String::new();
    for i in 0..n {
        let at = T0 + (from_s + (to_s - from_s) * i as i64 / n.max(1) as i64) * 1_000_000;
        out += &line(
            json!({"id": format!("at://repost/{}", start + i), "text": "", "repost_of": "at://maria/post/1",
                             "author": format!("user{}", start + i), "author_followers": followers, "created_at_us": at}),
        );
    }
    out
}

fn originals() -> String {
    let mut out = String::new();
    out += &line(
        json!({"id": "at://maria/post/1", "author": "maria.bsky.social", "author_followers": 800,
        "text": "My Voltra Note7 Pro caught fire on the charger last night, flames and smoke everywhere",
        "created_at_us": T0, "lang": "en", "source": "bluesky"}),
    );
    // Not mentions: negated, figurative, no product.
    out += &line(
        json!({"id": "at://x/neg", "author": "x", "text": "My Voltra Note7 Pro did not catch fire, all good", "created_at_us": T0 + 1_000_000, "lang": "en"}),
    );
    out += &line(
        json!({"id": "at://x/fig", "author": "y", "text": "This Voltra Note7 Pro deal is fire, the price is smoking hot", "created_at_us": T0 + 2_000_000, "lang": "en"}),
    );
    out += &line(
        json!({"id": "at://x/none", "author": "z", "text": "Lovely weather today", "created_at_us": T0 + 3_000_000, "lang": "en"}),
    );
    // The same text posted by someone else: grouped with the original as a copy.
    out += &line(
        json!({"id": "at://copycat/post/9", "author": "copycat", "author_followers": 50,
        "text": "My Voltra Note7 Pro caught fire on the charger last night, flames and smoke everywhere",
        "created_at_us": T0 + 60_000_000, "lang": "en"}),
    );
    // A reply to the original.
    out += &line(
        json!({"id": "at://fan/reply/1", "author": "fan", "text": "oh no, are you ok?", "reply_to": "at://maria/post/1", "created_at_us": T0 + 90_000_000, "lang": "en"}),
    );
    // Another witness of the same incident (no handle match): same product, hazard, similar text.
    out += &line(
        json!({"id": "at://bob/post/2", "author": "bob.example", "author_followers": 120,
        "text": "Saw a Voltra Note7 Pro catch fire on the charger, flames and smoke everywhere at my friend's place",
        "created_at_us": T0 + 120_000_000, "lang": "en"}),
    );
    out
}

fn import(data: &std::path::Path, config: &std::path::Path, jsonl: &str) -> String {
    let cfg = config.to_str().unwrap();
    let out = cli(
        data,
        &["--config", cfg, "import", "posts", "-"],
        Some(jsonl),
    );
    assert!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

crate::on_both!(an_imported_cascade_joins_the_reporters_case_forecasts_and_escalates_once);
async fn an_imported_cascade_joins_the_reporters_case_forecasts_and_escalates_once(
    backend: Backend,
) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    if !use_backend(backend, &data).await {
        return;
    }
    std::fs::write(data.join("catalog.csv"), CATALOG).unwrap();
    let config = data.join("fw.toml");
    std::fs::write(
        &config,
        "[social]\nreach_threshold = 150\nescalate_p_exceed = 0.5\n",
    )
    .unwrap();
    let agent = user_with_token(&data, "alice", "agent");
    let pr = user_with_token(&data, "paul", "pr");
    let admin = user_with_token(&data, "root", "admin");
    let server = Server::start(&data, &[("FIREWATCH_CONFIG", config.to_str().unwrap())]);
    let http = client();

    // The existing case: Maria reported the incident through the web form with her handle.
    let resp = http
        .post(server.url("/api/v1/reports"))
        .json(&json!({"narrative": "My Voltra Note7 Pro phone caught fire while charging overnight.",
                      "reporter": {"handle": "@Maria.bsky.social"}, "product": {"brand": "Voltra", "model": "Note7 Pro"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let case_id = resp.json::<Value>().await.unwrap()["case_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cases_before = sql_count(&data, "SELECT COUNT(*) FROM cases").await;

    // Part 1: the posts and a slow start (5 reposts by big accounts in 20 minutes).
    let part1 = originals() + &cascade_part(0, 5, 300, 1200, 20_000);
    let out = import(&data, &config, &part1);
    assert!(
        out.contains("2 new mentions (2 joined existing cases)"),
        "{out}"
    );
    assert_eq!(
        sql_count(&data, "SELECT COUNT(*) FROM cases").await,
        cases_before,
        "no new case"
    );
    assert_eq!(sql_count(&data, "SELECT COUNT(*) FROM mentions").await, 2);
    // copy + reply + 5 reposts
    assert_eq!(
        sql_count(&data, "SELECT COUNT(*) FROM engagements").await,
        7
    );
    assert_eq!(
        sql_count(
            &data,
            "SELECT COUNT(*) FROM engagements WHERE kind = 'copy'"
        )
        .await,
        1
    );

    let mention = |http: reqwest::Client, url: String, token: String| async move {
        get_json(&http, &url, &token).await
    };
    let list_url = server.url(&format!("/api/v1/mentions?case={case_id}"));
    let v = mention(http.clone(), list_url.clone(), pr.clone()).await;
    let ms = v["mentions"].as_array().unwrap();
    assert_eq!(ms.len(), 2, "{v}");
    let maria = ms
        .iter()
        .find(|m| m["post_id"] == "at://maria/post/1")
        .unwrap();
    assert_eq!(maria["link_reason"], "reporter_handle");
    assert_eq!(maria["product"], "Voltra Note7 Pro");
    let bob = ms
        .iter()
        .find(|m| m["post_id"] == "at://bob/post/2")
        .unwrap();
    assert_eq!(bob["link_reason"], "similar_open_case");
    let p1 = maria["forecast"]["p_exceed"].as_f64().unwrap();
    assert!(maria["escalated_at"].is_null(), "not yet: {maria}");
    assert!(p1 < 0.5, "{maria}");

    // Part 2: the cascade takes off (300 reposts by small accounts over the next 100 minutes).
    let part2 = cascade_part(5, 300, 1300, 7200, 60);
    let out = import(&data, &config, &part2);
    assert!(out.contains("1 escalations"), "{out}");
    let v = mention(http.clone(), list_url.clone(), pr.clone()).await;
    let maria = v["mentions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["post_id"] == "at://maria/post/1")
        .unwrap()
        .clone();
    let p2 = maria["forecast"]["p_exceed"].as_f64().unwrap();
    assert!(
        p2 > p1 && p2 >= 0.5,
        "the forecast rose: {p1} -> {p2}: {maria}"
    );
    assert!(maria["escalated_at"].is_string());
    assert_eq!(maria["engagements"], 307);

    // The case detail shows its mentions and the escalation to hq and pr.
    let detail: Value = get_json(
        &http,
        &server.url(&format!("/api/v1/cases/{case_id}")),
        &agent,
    )
    .await;
    assert_eq!(detail["mentions"].as_array().unwrap().len(), 2);
    let esc = detail["mention_escalations"].as_array().unwrap();
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0]["roles"], json!(["hq", "pr"]));
    assert_eq!(esc[0]["post_id"], "at://maria/post/1");
    assert!(
        detail["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "case.escalated")
    );

    // Re-importing everything changes nothing: same rows, still one escalation.
    // The running server's scheduler writes outbox events (dead-lettered notifications) at
    // its own pace; count everything else.
    let events_before = sql_count(
        &data,
        "SELECT COUNT(*) FROM events WHERE actor <> 'system:scheduler'",
    )
    .await;
    let out = import(&data, &config, &(part1 + &part2));
    assert!(
        out.contains("0 new mentions")
            && out.contains("0 engagement events")
            && out.contains("0 escalations"),
        "{out}"
    );
    assert_eq!(sql_count(&data, "SELECT COUNT(*) FROM mentions").await, 2);
    assert_eq!(
        sql_count(&data, "SELECT COUNT(*) FROM engagements").await,
        307
    );
    // The S1 rule's escalation at intake, and viral-risk's to hq when the mention escalated.
    assert_eq!(
        sql_count(&data, "SELECT COUNT(*) FROM escalations").await,
        2
    );
    assert_eq!(
        sql_count(
            &data,
            "SELECT COUNT(*) FROM escalations WHERE level = 'hq' AND cause = 'rule:viral-risk'"
        )
        .await,
        1
    );
    assert!(
        sql_count(
            &data,
            "SELECT COUNT(*) FROM events WHERE actor <> 'system:scheduler'"
        )
        .await
            <= events_before + 1
    );

    // Filters, roles and bad input.
    let v = mention(
        http.clone(),
        server.url(
            "/api/v1/mentions?product=Voltra%20Note7%20Pro&hazard=thermal.fire&min_forecast=10",
        ),
        agent.clone(),
    )
    .await;
    assert_eq!(v["mentions"].as_array().unwrap().len(), 1, "{v}");
    let v = mention(
        http.clone(),
        server.url("/api/v1/mentions?product=PowerCell%2020K"),
        agent.clone(),
    )
    .await;
    assert_eq!(v["mentions"].as_array().unwrap().len(), 0);
    let r = http
        .get(server.url("/api/v1/mentions"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .get(server.url("/api/v1/mentions?min_forecast=-1"))
        .bearer_auth(&pr)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = http
        .get(server.url("/api/v1/connectors"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A bad line stops the import before anything is stored.
    let before = sql_count(
        &data,
        "SELECT COUNT(*) FROM events WHERE actor <> 'system:scheduler'",
    )
    .await;
    let bad = line(
        json!({"id": "at://new/1", "author": "n", "text": "My Voltra Note7 Pro exploded", "created_at_us": T0}),
    ) + "{not json\n";
    let out = cli(
        &data,
        &["--config", config.to_str().unwrap(), "import", "posts", "-"],
        Some(&bad),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.lines().count() == 1, "{err}");
    assert_eq!(
        sql_count(
            &data,
            "SELECT COUNT(*) FROM events WHERE actor <> 'system:scheduler'"
        )
        .await,
        before
    );
    assert_eq!(sql_count(&data, "SELECT COUNT(*) FROM mentions").await, 2);
}

// ---- The server's Jetstream connector, killed and restarted ----

const CORPUS: &str = include_str!(
    "../../../firewatch-connectors/tests/fixtures/jetstream/jetstream_v1_corpus_152.jsonl"
);

/// The real frames with strictly increasing `time_us`, plus a post naming a catalog product with
/// a hazard and 6 likes and 6 reposts of it (real like/repost frames re-pointed at it), spread
/// through the stream.
fn jetstream_stream() -> Vec<(i64, String)> {
    let real: Vec<Value> = CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |c: &str| -> Vec<Value> {
        real.iter()
            .filter(|v| v["commit"]["collection"] == c && v["commit"]["operation"] == "create")
            .cloned()
            .collect()
    };
    let mut post = of("app.bsky.feed.post")[0].clone();
    post["commit"]["record"]["text"] =
        json!("My Voltra Note7 Pro exploded on the charger and caught fire, flames everywhere");
    post["commit"]["record"]["langs"] = json!(["en"]);
    let uri = format!(
        "at://{}/app.bsky.feed.post/{}",
        post["did"].as_str().unwrap(),
        post["commit"]["rkey"].as_str().unwrap()
    );
    let mut engagement = Vec::new();
    for c in ["app.bsky.feed.like", "app.bsky.feed.repost"] {
        for mut e in of(c).into_iter().take(6) {
            e["commit"]["record"]["subject"]["uri"] = json!(uri);
            engagement.push(e);
        }
    }
    let mut frames: Vec<Value> = real;
    frames.insert(5, post);
    // One engagement frame every 12 real frames after the post.
    for (i, e) in engagement.into_iter().enumerate() {
        frames.insert(10 + i * 12, e);
    }
    frames
        .into_iter()
        .enumerate()
        .map(|(i, mut v)| {
            let t = 1_767_000_000_000_000 + i as i64 * 1_000_000; // 1 s apart
            v["time_us"] = json!(t);
            (t, v.to_string())
        })
        .collect()
}

/// Jetstream stand-in: frames with `time_us >= cursor`; connection 1 is cut after 40 frames,
/// connection 2 stops sending (stays open) at frame `pause`, later ones send everything.
async fn jetstream_server(
    frames: Vec<(i64, String)>,
    pause: usize,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use futures_util::{SinkExt, StreamExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let queries = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let q = queries.clone();
    tokio::spawn(async move {
        let frames = std::sync::Arc::new(frames);
        let mut n = 0usize;
        while let Ok((tcp, _)) = listener.accept().await {
            n += 1;
            let (frames, q) = (frames.clone(), q.clone());
            tokio::spawn(async move {
                let mut query = String::new();
                #[allow(clippy::result_large_err)]
                let cb = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                          resp: tokio_tungstenite::tungstenite::handshake::server::Response| {
                    query = req.uri().query().unwrap_or("").to_string();
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else {
                    return;
                };
                q.lock().unwrap().push(query.clone());
                let cursor: i64 = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("cursor="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(i64::MIN);
                for (sent, (i, (_, f))) in frames
                    .iter()
                    .enumerate()
                    .filter(|(_, (t, _))| *t >= cursor)
                    .enumerate()
                {
                    if (n == 1 && sent == 40) || (n == 2 && i >= pause) {
                        if n == 1 {
                            return; // dropped mid-stream
                        }
                        break;
                    }
                    if ws.send(f.as_str().into()).await.is_err() {
                        return;
                    }
                }
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    (format!("ws://{addr}/subscribe"), queries)
}

async fn wait_for(data: &std::path::Path, sql: &'static str, want: i64) -> i64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let n = sql_count(data, sql).await;
        if n >= want || std::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_servers_jetstream_connector_survives_a_drop_and_a_kill_with_no_gap_and_no_duplicate() {
    let frames = jetstream_stream();
    let total = frames.len() as i64;
    let last_time = frames.last().unwrap().0;
    let (url, queries) = jetstream_server(frames, 60).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    std::fs::write(data.join("catalog.csv"), CATALOG).unwrap();
    let config = data.join("fw.toml");
    std::fs::write(
        &config,
        format!("[social]\ncheckpoint_every_ms = 0\n[social.jetstream]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    let admin = user_with_token(&data, "root", "admin");
    let env = [("FIREWATCH_CONFIG", config.to_str().unwrap())];

    let mut server = Server::start(&data, &env);
    // The post (frame 5) and the engagement frames before the pause at frame 60 (10, 22, 34, 46, 58).
    assert_eq!(wait_for(&data, "SELECT COUNT(*) FROM mentions", 1).await, 1);
    assert_eq!(
        wait_for(&data, "SELECT COUNT(*) FROM engagements", 5).await,
        5
    );
    // The reconnect replays from 2 s before the cursor (Jetstream's advice): 3 frames again.
    let events = wait_for(&data, "SELECT COALESCE(SUM(events), 0) FROM connectors", 63).await;
    assert_eq!(
        events, 63,
        "the frames before the pause, and the seam's replay"
    );
    let v: Value = client()
        .get(server.url("/api/v1/connectors"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = &v["connectors"][0];
    assert_eq!(c["name"], "jetstream");
    assert!(
        c["errors"].as_i64().unwrap() >= 1,
        "the drop is visible: {v}"
    );
    assert!(c["last_event_at"].is_string());
    server.kill(); // SIGKILL: no shutdown code runs

    let server = Server::start(&data, &env);
    assert_eq!(
        wait_for(&data, "SELECT COUNT(*) FROM engagements", 12).await,
        12
    );
    let cursor_sql = "SELECT CAST(cursor AS INTEGER) FROM connectors WHERE name = 'jetstream'";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while sql_count(&data, cursor_sql).await != last_time && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        sql_count(&data, cursor_sql).await,
        last_time,
        "the cursor reached the end"
    );
    assert_eq!(sql_count(&data, "SELECT COUNT(*) FROM mentions").await, 1);
    assert_eq!(
        sql_count(&data, "SELECT COUNT(*) FROM engagements").await,
        12
    );
    assert_eq!(
        sql_count(&data, "SELECT engagements FROM mentions").await,
        12
    );
    assert_eq!(
        sql_count(&data, "SELECT COUNT(*) FROM cases WHERE channel = 'social'").await,
        1,
        "the mention opened a social case"
    );
    // Every frame was received; each of the two seams replayed 3 frames.
    let events = sql_count(
        &data,
        "SELECT events FROM connectors WHERE name = 'jetstream'",
    )
    .await;
    assert_eq!(events, total + 6, "{events} of {total}");
    let q = queries.lock().unwrap();
    assert!(q.len() >= 3, "{q:?}");
    assert!(!q[0].contains("cursor="));
    assert!(q[1..].iter().all(|x| x.contains("cursor=")), "{q:?}");
    drop(server);
}
