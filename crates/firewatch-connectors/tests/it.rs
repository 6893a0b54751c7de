//! Integration tests: every real fixture parses, fields match what the payloads say, and hostile
//! input fails cleanly.

use firewatch_connectors::{
    Engagement, Item, MAX_FRAME_BYTES, ParseError, Source, SseDecoder, html_to_text, parse_feed,
    parse_jetstream_frame, parse_mastodon_counts, parse_mastodon_status,
    parse_mastodon_stream_event, parse_mastodon_ws_message, parse_posts_jsonl_line,
    parse_rfc3339_us, text_fingerprint,
};
use serde_json::Value;

#[path = "it/transport.rs"]
mod transport;

const CORPUS: &str = include_str!("fixtures/jetstream/jetstream_v1_corpus_152.jsonl");
const GOLDEN: &str = include_str!("fixtures/jetstream/jetstream_v1_golden_10.jsonl");
const TALKS: &str = include_str!("fixtures/jetstream/jetstream_v1_frames_from_talks_24.jsonl");
const STATUS: &str = include_str!("fixtures/mastodon/entity_Status_1.json");
const SSE: &str = include_str!("fixtures/mastodon/streaming_sse_events.txt");
const SSE_EXPECTED: &str = include_str!("fixtures/mastodon/streaming_events.jsonl");
const WS: &str = include_str!("fixtures/mastodon/streaming_websocket_messages.jsonl");

fn frames() -> impl Iterator<Item = &'static str> {
    CORPUS
        .lines()
        .chain(GOLDEN.lines())
        .chain(TALKS.lines())
        .filter(|l| !l.trim().is_empty())
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

// ---------------------------------------------------------------- Jetstream

#[test]
fn every_jetstream_frame_parses_and_matches_its_raw_json() {
    let mut posts = 0;
    let mut likes = 0;
    let mut reposts = 0;
    let mut deletes = 0;
    for line in frames() {
        let raw: Value = serde_json::from_str(line).unwrap();
        let (item, cursor) = parse_jetstream_frame(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(cursor, raw["time_us"].as_i64().unwrap());
        let did = raw["did"].as_str().unwrap();
        let commit = &raw["commit"];
        let collection = commit["collection"].as_str().unwrap_or("");
        let uri = format!(
            "at://{did}/{collection}/{}",
            commit["rkey"].as_str().unwrap_or("")
        );
        let record = &commit["record"];
        match item {
            Item::Post(p) => {
                posts += 1;
                assert_eq!(collection, "app.bsky.feed.post");
                assert_eq!(p.source, Source::Bluesky);
                assert_eq!(p.id, uri);
                assert_eq!(p.author_handle, did);
                assert_eq!(Some(p.text.clone()), s(&record["text"]));
                assert_eq!(p.lang, s(&record["langs"][0]));
                assert_eq!(p.reply_to, s(&record["reply"]["parent"]["uri"]));
                assert_eq!(
                    Some(p.created_at_us),
                    parse_rfc3339_us(record["createdAt"].as_str().unwrap())
                );
                assert!(p.url.unwrap().starts_with("https://bsky.app/profile/did:"));
            }
            Item::Engagement(Engagement::Like {
                id,
                subject,
                at_us,
                actor,
            }) => {
                likes += 1;
                assert_eq!(collection, "app.bsky.feed.like");
                assert_eq!(
                    (id, Some(subject), at_us, actor.as_str()),
                    (uri, s(&record["subject"]["uri"]), cursor, did)
                );
            }
            Item::Engagement(Engagement::Repost {
                id,
                subject,
                actor,
                via,
                ..
            }) => {
                reposts += 1;
                assert_eq!(collection, "app.bsky.feed.repost");
                assert_eq!(
                    (id, Some(subject), actor.as_str()),
                    (uri, s(&record["subject"]["uri"]), did)
                );
                assert_eq!(via, s(&record["via"]["uri"]));
            }
            Item::Delete { id } => {
                deletes += 1;
                assert_eq!(commit["operation"], "delete");
                assert_eq!(id, uri);
            }
            Item::Identity { did: d, .. } => {
                assert_eq!((d.as_str(), raw["kind"].as_str()), (did, Some("identity")))
            }
            Item::Ignored(_) => assert!(
                !matches!(
                    collection,
                    "app.bsky.feed.post" | "app.bsky.feed.like" | "app.bsky.feed.repost"
                ),
                "a relevant frame was ignored: {line}"
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
    // corpus 17 + golden 1 + talks 4 posts; 105 + 1 + 11 likes; 15 + 1 + 4 reposts; 1 + 1 post deletes
    assert_eq!((posts, likes, reposts, deletes), (22, 117, 20, 2));
}

#[test]
fn the_golden_reply_post_has_its_parent_and_client_time() {
    let line = GOLDEN.lines().nth(1).unwrap();
    let (Item::Post(p), cursor) = parse_jetstream_frame(line).unwrap() else {
        panic!()
    };
    assert_eq!(cursor, 1_779_719_009_157_119);
    assert_eq!(
        p.id,
        "at://did:plc:q235v55g5unth4zjjdpacfdr/app.bsky.feed.post/3mmoojp4cd223"
    );
    assert_eq!(
        p.reply_to.as_deref(),
        Some("at://did:plc:j76trmiofvaxxpvx2vnb2vwf/app.bsky.feed.post/3mmojbrjwbs26")
    );
    // date -u -d 2026-05-25T14:23:28.757Z +%s -> 1779719008
    assert_eq!(p.created_at_us, 1_779_719_008_757_000);
    assert_eq!(p.lang.as_deref(), Some("en"));
    let replies: Vec<_> = p.engagements().collect();
    assert!(
        matches!(&replies[..], [Engagement::Reply { subject, .. }] if subject.ends_with("3mmojbrjwbs26"))
    );
}

#[test]
fn truncated_jetstream_frames_are_errors_not_panics() {
    for line in frames() {
        for cut in [1, line.len() / 3, line.len() / 2, line.len() - 1] {
            let mut end = cut;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            assert!(
                parse_jetstream_frame(&line[..end]).is_err(),
                "cut at {end}: {}",
                &line[..end]
            );
        }
    }
}

#[test]
fn oversized_and_deeply_nested_input_is_rejected_cleanly() {
    let first = GOLDEN.lines().nth(1).unwrap();
    let big_text = "x".repeat(MAX_FRAME_BYTES);
    let huge = first.replacen("\"text\":\"", &format!("\"text\":\"{big_text}"), 1);
    assert!(matches!(
        parse_jetstream_frame(&huge),
        Err(ParseError::TooLarge { .. })
    ));
    assert!(matches!(
        parse_posts_jsonl_line(&huge),
        Err(ParseError::TooLarge { .. })
    ));
    assert!(matches!(
        parse_mastodon_status(&huge),
        Err(ParseError::TooLarge { .. })
    ));
    // just under the cap is fine
    let fits = first.replacen(
        "\"text\":\"",
        &format!(
            "\"text\":\"{}",
            "y".repeat(MAX_FRAME_BYTES - first.len() - 10)
        ),
        1,
    );
    assert!(matches!(
        parse_jetstream_frame(&fits),
        Ok((Item::Post(_), _))
    ));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        parse_jetstream_frame(&deep),
        Err(ParseError::Json(_))
    ));
    assert!(matches!(
        parse_posts_jsonl_line(&deep),
        Err(ParseError::Json(_))
    ));
    let deep_obj = format!(
        r#"{{"did":"d","time_us":1,"kind":"commit","commit":{}}}"#,
        "{\"a\":".repeat(50_000)
    );
    assert!(parse_jetstream_frame(&deep_obj).is_err());
    assert!(parse_jetstream_frame("\u{0}\u{ffff}").is_err());
}

// ---------------------------------------------------------------- Mastodon

#[test]
fn the_documented_status_becomes_a_post_and_counts() {
    let raw: Value = serde_json::from_str(STATUS).unwrap();
    let Item::Post(p) = parse_mastodon_status(STATUS).unwrap() else {
        panic!()
    };
    assert_eq!(p.source, Source::Mastodon);
    assert_eq!(
        p.id,
        "https://mastodon.social/users/Gargron/statuses/103270115826048975"
    );
    assert_eq!(p.native_id.as_deref(), Some("103270115826048975"));
    assert_eq!(p.author_handle, "Gargron");
    assert_eq!(
        p.author_followers,
        raw["account"]["followers_count"].as_u64()
    );
    assert!(p.author_followers.is_some());
    assert!(p.text.starts_with("\"I lost my inheritance with one wrong digit on my sort code\"\nhttps://www.theguardian.com/money/2019/dec/07/"), "{}", p.text);
    assert_eq!(p.lang.as_deref(), Some("en"));
    assert_eq!(
        p.url.as_deref(),
        Some("https://mastodon.social/@Gargron/103270115826048975")
    );
    assert_eq!(
        p.created_at_us,
        parse_rfc3339_us("2019-12-08T03:48:33.901Z").unwrap()
    );
    assert_eq!((p.reply_to, p.quote_of), (None, None));
    let counts = parse_mastodon_counts(STATUS, 42).unwrap();
    assert_eq!(
        counts,
        Engagement::Counts {
            subject: p.id.clone(),
            likes: 11,
            reposts: 6,
            replies: 5,
            at_us: 42
        }
    );
}

#[test]
fn a_boost_is_a_repost_of_the_boosted_status() {
    let boost = format!(
        r#"{{"id":"9","uri":"https://ex.social/users/b/statuses/9/activity","created_at":"2019-12-08T04:00:00.000Z","content":"","account":{{"acct":"b@ex.social","followers_count":3}},"reblog":{STATUS}}}"#
    );
    let item = parse_mastodon_status(&boost).unwrap();
    assert_eq!(
        item,
        Item::Engagement(Engagement::Repost {
            id: "https://ex.social/users/b/statuses/9/activity".into(),
            subject: "https://mastodon.social/users/Gargron/statuses/103270115826048975".into(),
            at_us: parse_rfc3339_us("2019-12-08T04:00:00Z").unwrap(),
            actor: "b@ex.social".into(),
            via: None,
        })
    );
    let Engagement::Counts { likes, .. } = parse_mastodon_counts(&boost, 1).unwrap() else {
        panic!()
    };
    assert_eq!(likes, 11, "a boost's counters are the boosted status's");
}

#[test]
fn the_sse_capture_decodes_to_the_expected_events_in_any_chunking() {
    let expected: Vec<Value> = SSE_EXPECTED
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(expected.len(), 18);
    for chunk in [SSE.len(), 4096, 97, 7, 1] {
        let mut d = SseDecoder::new();
        for part in SSE.as_bytes().chunks(chunk) {
            d.feed(part).unwrap();
        }
        let events: Vec<_> = std::iter::from_fn(|| d.next_event()).collect();
        assert_eq!(events.len(), expected.len(), "chunk {chunk}");
        for (ev, exp) in events.iter().zip(&expected) {
            assert_eq!(ev.event, exp["event"].as_str().unwrap());
            match exp["payload"] {
                Value::Null => assert_eq!(Some(ev.data.as_str()), exp["data_raw"].as_str()),
                ref payload => {
                    assert_eq!(&serde_json::from_str::<Value>(&ev.data).unwrap(), payload)
                }
            }
        }
    }
}

#[test]
fn every_streaming_event_becomes_the_right_item() {
    let mut d = SseDecoder::new();
    d.feed(SSE.as_bytes()).unwrap();
    let (mut posts, mut deletes, mut ignored) = (0, 0, 0);
    while let Some(ev) = d.next_event() {
        let item = parse_mastodon_stream_event(&ev.event, &ev.data)
            .unwrap_or_else(|e| panic!("{}: {e}", ev.event));
        match (ev.event.as_str(), item) {
            ("update" | "status.update", Item::Post(p)) => {
                let raw: Value = serde_json::from_str(&ev.data).unwrap();
                assert_eq!(Some(p.id), s(&raw["uri"]));
                assert_eq!(p.native_id, s(&raw["id"]));
                assert_eq!(Some(p.author_handle), s(&raw["account"]["acct"]));
                assert_eq!(p.reply_to, s(&raw["in_reply_to_id"]));
                let body = html_to_text(raw["content"].as_str().unwrap());
                assert!(p.text.ends_with(&body), "{:?} vs {body:?}", p.text);
                posts += 1;
            }
            ("delete", Item::Delete { id }) => {
                assert_eq!(id, ev.data);
                deletes += 1;
            }
            (_, Item::Ignored(_)) => ignored += 1,
            (name, other) => panic!("{name}: {other:?}"),
        }
    }
    // 9 update/status.update, 3 delete; notification, filters_changed, 3 announcement*, conversation
    assert_eq!((posts, deletes, ignored), (9, 3, 6));
}

#[test]
fn websocket_messages_with_double_encoded_payloads_parse() {
    for line in WS.lines().filter(|l| !l.is_empty()) {
        let raw: Value = serde_json::from_str(line).unwrap();
        let payload = raw["payload"].as_str().unwrap_or("");
        match parse_mastodon_ws_message(line).unwrap() {
            Item::Post(p) => {
                let status: Value = serde_json::from_str(payload).unwrap();
                assert_eq!(Some(p.id), s(&status["uri"]));
            }
            Item::Delete { id } => assert_eq!(
                (raw["event"].as_str(), id.as_str()),
                (Some("delete"), payload)
            ),
            Item::Ignored(why) => assert_eq!(raw["event"].as_str(), Some(why)),
            other => panic!("{other:?}"),
        }
        if raw.get("payload").is_some() {
            assert_eq!(
                parse_posts_jsonl_line(line).unwrap(),
                parse_mastodon_ws_message(line).unwrap()
            );
        }
    }
}

#[test]
fn truncated_statuses_are_errors_not_panics() {
    for cut in (1..STATUS.len()).step_by(37) {
        let mut end = cut;
        while !STATUS.is_char_boundary(end) {
            end -= 1;
        }
        assert!(parse_mastodon_status(&STATUS[..end]).is_err());
    }
}

// ---------------------------------------------------------------- Feeds

struct FeedCase {
    input: &'static [u8],
    expected: &'static str,
    name: &'static str,
}

macro_rules! feed_case {
    ($name:literal, $ext:literal) => {
        FeedCase {
            input: include_bytes!(concat!("fixtures/feeds/", $name, ".", $ext)),
            expected: include_str!(concat!("fixtures/feeds/", $name, ".serde.json")),
            name: $name,
        }
    };
}

fn feed_cases() -> Vec<FeedCase> {
    vec![
        feed_case!("atom_example_reddit", "xml"),
        feed_case!("atom_spec_1", "xml"),
        feed_case!("atom_mediarss_youtube_1", "xml"),
        feed_case!("rss_0.91_spec_1", "xml"),
        feed_case!("rss_0.92_spec_1", "xml"),
        feed_case!("rss_0.91_missing_id", "xml"),
        feed_case!("rss_1.0_spec_1", "xml"),
        feed_case!("rss_1.0_iso8859", "xml"),
        feed_case!("rss_2.0_wirecutter", "xml"),
        feed_case!("rss_2.0_bbc", "xml"),
        feed_case!("rss_2.0_spiegel", "xml"),
        feed_case!("jsonfeed_spec_1", "json"),
        feed_case!("jsonfeed_elastic_1.1", "json"),
    ]
}

#[test]
fn every_feed_fixture_matches_feed_rs_expected_parse() {
    for case in feed_cases() {
        let posts = parse_feed(case.input).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let expected: Value = serde_json::from_str(case.expected).unwrap();
        let exp_entries = expected["entries"].as_array().unwrap();
        assert_eq!(posts.len(), exp_entries.len(), "{}", case.name);
        assert!(!posts.is_empty(), "{}", case.name);
        for (p, e) in posts.iter().zip(exp_entries) {
            assert_eq!(p.source, Source::Feed);
            let links = e["links"].as_array().unwrap();
            if links.is_empty() {
                assert!(
                    p.id.starts_with("fw-") || p.id == e["id"].as_str().unwrap(),
                    "{}: {}",
                    case.name,
                    p.id
                );
            } else {
                assert_eq!(Some(p.id.as_str()), e["id"].as_str(), "{}", case.name);
                let alt = links
                    .iter()
                    .find(|l| l["rel"].is_null() || l["rel"] == "alternate")
                    .unwrap_or(&links[0]);
                assert_eq!(p.url.as_deref(), alt["href"].as_str(), "{}", case.name);
            }
            let when = e["published"].as_str().or(e["updated"].as_str());
            assert_eq!(
                p.created_at_us,
                when.map_or(0, |w| parse_rfc3339_us(w).unwrap()),
                "{}",
                case.name
            );
            if let Some(title) = e["title"]["content"].as_str() {
                let title_text = if e["title"]["content_type"]
                    .as_str()
                    .unwrap_or("")
                    .contains("html")
                {
                    html_to_text(title)
                } else {
                    title.trim().to_string()
                };
                assert!(
                    p.text.starts_with(&title_text),
                    "{}: {:?} !~ {title_text:?}",
                    case.name,
                    p.text
                );
            }
            let lang = e["language"].as_str().or(expected["language"].as_str());
            assert_eq!(p.lang.as_deref(), lang, "{}", case.name);
        }
    }
}

#[test]
fn feed_text_is_html_free_and_names_an_author() {
    let wirecutter = parse_feed(include_bytes!("fixtures/feeds/rss_2.0_wirecutter.xml")).unwrap();
    let first = &wirecutter[0];
    assert!(
        first
            .text
            .starts_with("How to Teach Someone a Board Game (and Even Have Fun Doing It)\n\n")
    );
    assert!(
        !first.text.contains("<figure") && !first.text.contains("&amp;"),
        "{}",
        first.text
    );
    assert_eq!(first.author_handle, "James Austin");
    assert_eq!(
        first.created_at_us,
        parse_rfc3339_us("2022-09-20T11:00:17Z").unwrap()
    );
    let spiegel = parse_feed(include_bytes!("fixtures/feeds/rss_2.0_spiegel.xml")).unwrap();
    assert!(spiegel.iter().all(|p| p.lang.as_deref() == Some("de")));
}

#[test]
fn broken_or_hostile_feeds_fail_without_panicking() {
    let broken = include_bytes!("fixtures/feeds/rss_2.0_invalid_1.xml");
    match parse_feed(broken) {
        Err(ParseError::Feed(msg)) => assert!(!msg.is_empty()),
        Ok(posts) => assert!(posts.iter().all(|p| !p.id.is_empty())),
        Err(other) => panic!("{other}"),
    }
    let input = include_bytes!("fixtures/feeds/rss_2.0_bbc.xml");
    for cut in (1..input.len()).step_by(211) {
        let _ = parse_feed(&input[..cut]);
    }
    let bomb = format!(
        "<rss version=\"2.0\"><channel>{}</channel></rss>",
        "<item><title>x</title></item>".repeat(20_000)
    );
    assert_eq!(parse_feed(bomb.as_bytes()).unwrap().len(), 20_000);
    let nested = format!("<rss version=\"2.0\"><channel>{}", "<x>".repeat(100_000));
    let _ = parse_feed(nested.as_bytes());
    // "billion laughs": internal entities must not be expanded into gigabytes
    let mut dtd = String::from("<!DOCTYPE rss [<!ENTITY a0 \"lol\">");
    for i in 1..10 {
        dtd.push_str(&format!(
            "<!ENTITY a{i} \"{}\">",
            format!("&a{};", i - 1).repeat(10)
        ));
    }
    dtd.push(']');
    dtd.push('>');
    let bomb = format!(
        "<?xml version=\"1.0\"?>{dtd}<rss version=\"2.0\"><channel><title>&a9;</title><item><title>&a9;</title></item></channel></rss>"
    );
    match parse_feed(bomb.as_bytes()) {
        Ok(posts) => assert!(
            posts.iter().all(|p| p.text.len() < 1 << 20),
            "entities were expanded"
        ),
        Err(ParseError::Feed(_)) => {}
        Err(other) => panic!("{other}"),
    }
}

// ---------------------------------------------------------------- JSONL and grouping

#[test]
fn a_mixed_jsonl_import_recognises_each_shape() {
    let golden_post = GOLDEN.lines().nth(1).unwrap();
    let status_line: String =
        serde_json::to_string(&serde_json::from_str::<Value>(STATUS).unwrap()).unwrap();
    let own = r#"{"id":"import-1","text":"Power bank caught fire in my bag","created_at":"2026-03-01T10:00:00Z","author":"@carol","repost_of":"import-0"}"#;
    let items: Vec<Item> = [golden_post, status_line.as_str(), own, ""]
        .iter()
        .map(|l| parse_posts_jsonl_line(l).unwrap())
        .collect();
    assert!(matches!(&items[0], Item::Post(p) if p.source == Source::Bluesky));
    assert!(matches!(&items[1], Item::Post(p) if p.source == Source::Mastodon));
    let Item::Post(p) = &items[2] else { panic!() };
    assert_eq!(
        (p.source, p.repost_of.as_deref()),
        (Source::Import, Some("import-0"))
    );
    assert!(matches!(
        p.engagements().next(),
        Some(Engagement::Repost { .. })
    ));
    assert_eq!(items[3], Item::Ignored("blank line"));
}

#[test]
fn the_same_text_posted_on_two_networks_groups_together() {
    let bluesky = "My @Anker power bank EXPLODED on the train https://bsky.app/x";
    let mastodon_html = "<p>my <span class=\"h-card\"><a href=\"https://m.s/@anker\">@<span>anker</span></a></span> power bank exploded on the train!</p>";
    let mastodon_text = html_to_text(mastodon_html);
    assert_eq!(mastodon_text, "my @anker power bank exploded on the train!");
    assert_eq!(text_fingerprint(bluesky), text_fingerprint(&mastodon_text));
}

#[test]
fn a_replay_of_the_real_frames_parses_with_the_same_mix() {
    let seeds: Vec<&str> = frames().collect();
    let kinds = |items: &mut dyn Iterator<Item = String>, n: usize, monotone: bool| {
        let mut counts = [0usize; 5];
        let mut last = i64::MIN;
        for frame in items.take(n) {
            let (item, cursor) =
                parse_jetstream_frame(&frame).unwrap_or_else(|e| panic!("{e}: {frame}"));
            assert!(!monotone || cursor > last, "replayed cursors must increase");
            last = cursor;
            counts[match item {
                Item::Post(_) => 0,
                Item::Engagement(_) => 1,
                Item::Delete { .. } => 2,
                Item::Identity { .. } => 3,
                _ => 4,
            }] += 1;
        }
        counts
    };
    let once = kinds(&mut seeds.iter().map(|s| s.to_string()), seeds.len(), false);
    let mut replay = firewatch_connectors::FrameReplay::new(seeds.iter().copied()).unwrap();
    let ten_times = kinds(&mut replay, seeds.len() * 10, true);
    assert_eq!(ten_times, once.map(|c| c * 10));
}
