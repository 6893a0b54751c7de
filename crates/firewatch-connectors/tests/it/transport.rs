//! The transports against servers this test starts on 127.0.0.1, serving the real fixture
//! payloads: a dropped connection mid-stream and a restart resume from the stored cursor with
//! no gap, and the sink (deduplicating by id, as the store does) ends with each item once.

use firewatch_connectors::transport::{
    Backoff, Batch, Connector, CursorStore, FeedConnector, JetstreamConnector,
    MastodonStreamConnector, MastodonTimeline, Sink, SinkError,
};
use firewatch_connectors::{Engagement, Item, parse_feed, parse_jetstream_frame};
use futures_util::{SinkExt, StreamExt};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// An in-memory store: items by id (duplicates ignored, as the database's unique keys do) and
/// cursors saved with the batch that reached them.
#[derive(Clone, Default)]
struct MemSink(Arc<Mutex<MemState>>);

#[derive(Default)]
struct MemState {
    items: BTreeMap<String, Item>,
    delivered: usize,
    duplicates: usize,
    cursors: BTreeMap<String, String>,
    errors: Vec<String>,
}

fn key(item: &Item) -> String {
    match item {
        Item::Post(p) => format!("post {}", p.id),
        Item::Engagement(Engagement::Like { id, .. })
        | Item::Engagement(Engagement::Repost { id, .. }) => {
            format!("eng {id}")
        }
        other => format!("{other:?}"),
    }
}

impl MemSink {
    fn count(&self) -> usize {
        self.0.lock().unwrap().items.len()
    }
    fn cursor(&self, name: &str) -> Option<String> {
        self.0.lock().unwrap().cursors.get(name).cloned()
    }
    fn keys(&self) -> BTreeSet<String> {
        self.0.lock().unwrap().items.keys().cloned().collect()
    }
}

impl Sink for MemSink {
    async fn deliver(&mut self, connector: &str, batch: Batch) -> Result<(), SinkError> {
        let mut s = self.0.lock().unwrap();
        for item in batch.items {
            s.delivered += 1;
            let k = key(&item);
            if let std::collections::btree_map::Entry::Vacant(v) = s.items.entry(k) {
                v.insert(item);
            } else {
                s.duplicates += 1;
            }
        }
        if let Some(c) = batch.cursor {
            s.cursors.insert(connector.to_string(), c);
        }
        Ok(())
    }
    async fn report_error(&mut self, _connector: &str, error: &str) {
        self.0.lock().unwrap().errors.push(error.to_string());
    }
}

impl CursorStore for MemSink {
    async fn load(&self, connector: &str) -> Result<Option<String>, SinkError> {
        Ok(self.cursor(connector))
    }
}

/// Runs `connector` until `done` holds (or 20 s pass), then shuts it down.
async fn run_until<C: Connector + 'static>(
    mut connector: C,
    sink: &MemSink,
    done: impl Fn(&MemSink) -> bool,
) {
    let (tx, rx) = watch::channel(false);
    let (mut s, c) = (sink.clone(), sink.clone());
    let task = tokio::spawn(async move { connector.run(&mut s, &c, rx).await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(sink) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send(true).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the connector stops on shutdown");
    res.unwrap().unwrap();
}

fn jetstream_frames() -> Vec<(i64, String)> {
    let mut frames: Vec<(i64, String)> = [super::CORPUS, super::GOLDEN, super::TALKS]
        .iter()
        .flat_map(|f| f.lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| (parse_jetstream_frame(l).unwrap().1, l.to_string()))
        .collect();
    frames.sort_by_key(|f| f.0);
    frames
}

/// A Jetstream stand-in: replays frames with `time_us >= cursor`; the first connection is cut
/// (no close frame) after `cut` frames, the second one pauses (stays open, silent) after the
/// first `pause` frames of the stream. Records each connection's query string.
async fn jetstream_server(
    frames: Vec<(i64, String)>,
    cut: usize,
    pause: usize,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let queries = Arc::new(Mutex::new(Vec::new()));
    let q = queries.clone();
    tokio::spawn(async move {
        let frames = Arc::new(frames);
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
                    if n == 2 && i >= pause {
                        break;
                    }
                    if n == 1 && sent == cut {
                        return; // drop the TCP connection mid-stream
                    }
                    if ws.send(f.as_str().into()).await.is_err() {
                        return;
                    }
                }
                // Live: stay open until the client goes.
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    (format!("ws://{addr}/subscribe"), queries)
}

#[tokio::test]
async fn jetstream_resumes_after_a_drop_and_a_restart_with_no_gap_and_no_duplicate() {
    let frames = jetstream_frames();
    let expected: BTreeSet<String> = frames
        .iter()
        .map(|(_, f)| key(&parse_jetstream_frame(f).unwrap().0))
        .collect();
    let (url, queries) = jetstream_server(frames.clone(), 60, 120).await;
    let first_120: BTreeSet<String> = frames[..120]
        .iter()
        .map(|(_, f)| key(&parse_jetstream_frame(f).unwrap().0))
        .collect();
    let sink = MemSink::default();
    let connector = |url: &str| {
        let mut c = JetstreamConnector::new(url);
        c.flush_every = Duration::from_millis(30);
        c.batch_max = 16;
        c.rewind_us = 0;
        c.backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
        c
    };
    // First run: cut after 60 frames, reconnects by itself; stopped while the stream pauses.
    run_until(connector(&url), &sink, |s| s.count() >= first_120.len()).await;
    assert_eq!(sink.keys(), first_120, "no gap across the drop");
    let cursor: i64 = sink.cursor("jetstream").unwrap().parse().unwrap();
    {
        let q = queries.lock().unwrap();
        assert!(q.len() >= 2, "the drop forced a reconnect: {q:?}");
        assert!(
            !q[0].contains("cursor="),
            "a fresh start has no cursor: {}",
            q[0]
        );
        assert!(
            q[1].contains("cursor="),
            "the reconnect resumes from the cursor: {}",
            q[1]
        );
        assert!(q[0].contains("wantedCollections=app.bsky.feed.post"));
    }
    // Restart: a new connector resumes from the stored cursor.
    let before = queries.lock().unwrap().len();
    run_until(connector(&url), &sink, |s| s.count() >= expected.len()).await;
    let q = queries.lock().unwrap();
    assert_eq!(
        q[before],
        format!(
            "wantedCollections=app.bsky.feed.post&wantedCollections=app.bsky.feed.like&wantedCollections=app.bsky.feed.repost&cursor={cursor}"
        )
    );
    drop(q);
    assert_eq!(sink.keys(), expected, "every frame stored exactly once");
    let s = sink.0.lock().unwrap();
    // The replay from an inclusive cursor re-sends the last frame: the store's keys absorb it.
    assert!(s.duplicates >= 1);
    assert_eq!(s.delivered, s.items.len() + s.duplicates);
    assert!(
        s.errors
            .iter()
            .any(|e| e.contains("read") || e.contains("closed")),
        "{:?}",
        s.errors
    );
}

// ---- Mastodon SSE ----

fn mastodon_events() -> Vec<(String, String)> {
    let mut dec = firewatch_connectors::SseDecoder::new();
    dec.feed(super::SSE.as_bytes()).unwrap();
    let mut out = Vec::new();
    while let Some(e) = dec.next_event() {
        out.push((e.event, e.data));
    }
    out
}

fn sse_body(events: &[(String, String)]) -> String {
    events
        .iter()
        .map(|(e, d)| format!(":thump\nevent: {e}\ndata: {d}\n\n"))
        .collect()
}

#[derive(Default)]
struct MastoLog {
    streams: usize,
    backfills: Vec<String>,
}

async fn mastodon_server(events: Vec<(String, String)>) -> (String, Arc<Mutex<MastoLog>>) {
    use axum::extract::{RawQuery, State};
    use axum::routing::get;
    let log = Arc::new(Mutex::new(MastoLog::default()));
    let events = Arc::new(events);
    // The events of the first connection, and where the second one's live part starts: the
    // updates in between are only reachable through the REST backfill.
    let first_end = events.iter().position(|(e, _)| e == "update").unwrap() + 8; // through the 2nd update
    let live_from = first_end + 4; // past the 3rd update
    type St = (Arc<Vec<(String, String)>>, Arc<Mutex<MastoLog>>);
    let app = axum::Router::new()
        .route(
            "/api/v1/streaming/public",
            get(move |State((events, log)): State<St>| async move {
                let n = {
                    let mut l = log.lock().unwrap();
                    l.streams += 1;
                    l.streams
                };
                let body = if n == 1 {
                    sse_body(&events[..first_end])
                } else {
                    sse_body(&events[live_from..])
                };
                let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(body)]);
                // The second connection stays open (live) after its events.
                let tail = futures_util::stream::pending::<Result<String, std::io::Error>>();
                let body = if n == 1 {
                    axum::body::Body::from_stream(stream)
                } else {
                    axum::body::Body::from_stream(stream.chain(tail))
                };
                ([("content-type", "text/event-stream")], body)
            }),
        )
        .route(
            "/api/v1/timelines/public",
            get(
                move |State((events, log)): State<St>, RawQuery(q): RawQuery| async move {
                    let q = q.unwrap_or_default();
                    log.lock().unwrap().backfills.push(q.clone());
                    let min_id: u128 = q
                        .split('&')
                        .find_map(|kv| kv.strip_prefix("min_id="))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    // Newest first, as Mastodon answers; at most 2 a page to exercise paging.
                    let mut page: Vec<(u128, &str)> = events
                        .iter()
                        .filter(|(e, _)| e == "update")
                        .map(|(_, d)| {
                            let v: serde_json::Value = serde_json::from_str(d).unwrap();
                            (v["id"].as_str().unwrap().parse().unwrap(), d.as_str())
                        })
                        .filter(|(id, _)| *id > min_id)
                        .collect();
                    page.sort_by_key(|p| p.0);
                    page.truncate(2);
                    page.reverse();
                    let body = format!(
                        "[{}]",
                        page.iter().map(|p| p.1).collect::<Vec<_>>().join(",")
                    );
                    ([("content-type", "application/json")], body)
                },
            ),
        )
        .with_state((events.clone(), log.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), log)
}

#[tokio::test]
async fn mastodon_stream_reconnects_and_backfills_the_gap_through_rest() {
    let events = mastodon_events();
    assert_eq!(events.len(), 18);
    let update_ids: BTreeSet<String> = events
        .iter()
        .filter(|(e, _)| e == "update")
        .map(|(_, d)| {
            let v: serde_json::Value = serde_json::from_str(d).unwrap();
            format!("post {}", v["uri"].as_str().unwrap())
        })
        .collect();
    assert_eq!(update_ids.len(), 4);
    let (base, log) = mastodon_server(events).await;
    let sink = MemSink::default();
    let mut c = MastodonStreamConnector::new(&base, MastodonTimeline::Public);
    c.flush_every = Duration::from_millis(30);
    c.backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
    let name = c.name().to_string();
    let has_all = |s: &MemSink| {
        let k = s.keys();
        update_ids.iter().all(|u| k.contains(u))
    };
    run_until(c, &sink, has_all).await;
    let stored: BTreeSet<String> = sink
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("post "))
        .collect();
    // The updates' posts are there once each (status.update edits re-deliver the same post id).
    assert!(update_ids.is_subset(&stored), "{stored:?}");
    let l = log.lock().unwrap();
    assert!(l.streams >= 2, "the closed stream was reopened");
    assert!(
        l.backfills
            .first()
            .is_some_and(|q| q.contains("min_id=108914354907984653")),
        "the backfill starts after the last stored status: {:?}",
        l.backfills
    );
    assert!(l.backfills.len() >= 2, "paged: {:?}", l.backfills);
    assert_eq!(sink.cursor(&name).as_deref(), Some("108914430312582020"));
    let s = sink.0.lock().unwrap();
    assert!(
        s.duplicates >= 1,
        "the 4th update came by REST and by the stream; stored once"
    );
}

// ---- Feeds with ETag / Last-Modified ----

const BBC: &[u8] = include_bytes!("../fixtures/feeds/rss_2.0_bbc.xml");
const ATOM: &[u8] = include_bytes!("../fixtures/feeds/atom_spec_1.xml");

#[derive(Default)]
struct FeedLog {
    requests: usize,
    not_modified: usize,
    conditional: Vec<(Option<String>, Option<String>)>,
}

#[tokio::test]
async fn feeds_poll_with_conditional_get_and_resume_their_validators_after_a_restart() {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    let log = Arc::new(Mutex::new(FeedLog::default()));
    let version = Arc::new(Mutex::new(1u8));
    let (l2, v2) = (log.clone(), version.clone());
    let app = axum::Router::new().route(
        "/feed.xml",
        get(move |headers: HeaderMap| {
            let (log, version) = (l2.clone(), v2.clone());
            async move {
                let mut l = log.lock().unwrap();
                l.requests += 1;
                let h = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                l.conditional
                    .push((h("if-none-match"), h("if-modified-since")));
                if l.requests == 1 {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response(); // a failure first
                }
                let v = *version.lock().unwrap();
                let etag = format!("\"v{v}\"");
                if h("if-none-match").as_deref() == Some(etag.as_str()) {
                    l.not_modified += 1;
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                let body = if v == 1 { BBC } else { ATOM };
                (
                    [
                        ("etag", etag),
                        ("last-modified", format!("Wed, 0{v} Jan 2025 00:00:00 GMT")),
                    ],
                    body,
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/feed.xml");
    let ids = |b: &[u8]| -> BTreeSet<String> {
        parse_feed(b)
            .unwrap()
            .into_iter()
            .map(|p| format!("post {}", p.id))
            .collect()
    };
    let (bbc, atom) = (ids(BBC), ids(ATOM));
    let make = || {
        let mut c = FeedConnector::new(&url, Duration::from_millis(40));
        c.backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
        c
    };
    let sink = MemSink::default();
    let n = bbc.len();
    run_until(make(), &sink, |_| log.lock().unwrap().not_modified >= 2).await;
    assert_eq!(sink.count(), n);
    // The feed changes while firewatch is down; a restart sends the stored validators.
    *version.lock().unwrap() = 2;
    let before = log.lock().unwrap().requests;
    run_until(make(), &sink, |_| log.lock().unwrap().not_modified >= 4).await;
    let l = log.lock().unwrap();
    assert_eq!(l.conditional[0], (None, None));
    assert_eq!(
        l.conditional[before],
        (
            Some("\"v1\"".into()),
            Some("Wed, 01 Jan 2025 00:00:00 GMT".into())
        ),
        "the restart resumed the validators"
    );
    let all: BTreeSet<String> = bbc.union(&atom).cloned().collect();
    assert_eq!(sink.keys(), all);
    let s = sink.0.lock().unwrap();
    // 304s deliver nothing: each item arrived exactly once.
    assert_eq!(s.duplicates, 0);
    assert_eq!(s.delivered, all.len());
    assert!(s.errors.iter().any(|e| e.contains("503")), "{:?}", s.errors);
}

// ---- Mastodon counters by REST polling ----

#[tokio::test]
async fn mastodon_counters_are_polled_for_the_watched_statuses() {
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    use firewatch_connectors::transport::MastodonCountsConnector;
    let polls = Arc::new(Mutex::new(Vec::<String>::new()));
    let p2 = polls.clone();
    let app = axum::Router::new().route(
        "/api/v1/statuses/{id}",
        get(move |Path(id): Path<String>| {
            let polls = p2.clone();
            async move {
                polls.lock().unwrap().push(id.clone());
                if id == "103270115826048975" {
                    ([("content-type", "application/json")], super::STATUS).into_response()
                } else {
                    StatusCode::NOT_FOUND.into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let watch = Arc::new(Mutex::new(vec![
        "103270115826048975".to_string(),
        "404".to_string(),
    ]));
    let c =
        MastodonCountsConnector::new(format!("http://{addr}"), Duration::from_millis(30), watch);
    let sink = MemSink::default();
    // Two rounds of polls, each yields one counts item (at a new time) and one error.
    run_until(c, &sink, |_| polls.lock().unwrap().len() >= 4).await;
    let s = sink.0.lock().unwrap();
    let counts: Vec<&Item> = s
        .items
        .values()
        .filter(|i| matches!(i, Item::Engagement(Engagement::Counts { .. })))
        .collect();
    assert!(!counts.is_empty());
    match counts[0] {
        Item::Engagement(Engagement::Counts {
            subject,
            likes,
            reposts,
            replies,
            ..
        }) => {
            assert_eq!(
                subject,
                "https://mastodon.social/users/Gargron/statuses/103270115826048975"
            );
            assert_eq!((*likes, *reposts, *replies), (11, 6, 5));
        }
        _ => unreachable!(),
    }
    assert!(s.errors.iter().any(|e| e.contains("404")), "{:?}", s.errors);
    let p = polls.lock().unwrap();
    assert!(
        p.iter().all(|id| id == "103270115826048975" || id == "404"),
        "{p:?}"
    );
}

#[tokio::test]
async fn a_silent_jetstream_connection_is_presumed_dead_and_reopened_from_the_cursor() {
    let frames = jetstream_frames();
    let expected: BTreeSet<String> = frames
        .iter()
        .map(|(_, f)| key(&parse_jetstream_frame(f).unwrap().0))
        .collect();
    // Connection 1 is cut after 10 frames; connection 2 goes silent at frame 20 without closing.
    let (url, queries) = jetstream_server(frames, 10, 20).await;
    let mut c = JetstreamConnector::new(&url);
    c.flush_every = Duration::from_millis(20);
    c.idle_timeout = Duration::from_millis(200);
    c.backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
    let sink = MemSink::default();
    run_until(c, &sink, |s| s.count() >= expected.len()).await;
    assert_eq!(sink.keys(), expected);
    assert!(queries.lock().unwrap().len() >= 3);
    let s = sink.0.lock().unwrap();
    assert!(
        s.errors.iter().any(|e| e.starts_with("no data for")),
        "{:?}",
        s.errors
    );
}
