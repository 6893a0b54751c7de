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

#[tokio::test]
async fn an_imported_cascade_joins_the_reporters_case_forecasts_and_escalates_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
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
        let v: Value = http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v
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
    let detail: Value = http
        .get(server.url(&format!("/api/v1/cases/{case_id}")))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["mentions"].as_array().unwrap().len(), 2);
    let esc = detail["escalations"].as_array().unwrap();
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
    let events_before = sql_count(&data, "SELECT COUNT(*) FROM events").await;
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
    assert_eq!(
        sql_count(&data, "SELECT COUNT(*) FROM escalations").await,
        1
    );
    assert!(sql_count(&data, "SELECT COUNT(*) FROM events").await <= events_before + 1);

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
    let before = sql_count(&data, "SELECT COUNT(*) FROM events").await;
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
        sql_count(&data, "SELECT COUNT(*) FROM events").await,
        before
    );
    assert_eq!(sql_count(&data, "SELECT COUNT(*) FROM mentions").await, 2);
}
