//! Mastodon: the streaming API over SSE (public or hashtag timeline), with a REST backfill on
//! every (re)connect, and REST polling of a status's counters.
//!
//! Mastodon's streaming server does not replay missed events, so the cursor is the newest
//! status id stored; after connecting the stream, the connector first pages the matching REST
//! timeline with `min_id=<cursor>` (oldest first) and only then reads the stream. Posts seen
//! both ways are dropped by the sink by id: no gap, no duplicate.

use super::{Backoff, Batch, Connector, CursorStore, Sink, TransportError, flush, sleep_or_stop};
use crate::{
    Engagement, Item, MAX_FRAME_BYTES, SseDecoder, check_size, parse_mastodon_counts,
    parse_mastodon_status, parse_mastodon_stream_event,
};
use futures_util::StreamExt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Which timeline to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MastodonTimeline {
    Public,
    Hashtag(String),
}

impl MastodonTimeline {
    fn stream_path(&self) -> String {
        match self {
            MastodonTimeline::Public => "/api/v1/streaming/public".into(),
            MastodonTimeline::Hashtag(t) => format!("/api/v1/streaming/hashtag?tag={}", encode(t)),
        }
    }
    fn rest_path(&self) -> String {
        match self {
            MastodonTimeline::Public => "/api/v1/timelines/public?".into(),
            MastodonTimeline::Hashtag(t) => format!("/api/v1/timelines/tag/{}?", encode(t)),
        }
    }
    fn label(&self) -> String {
        match self {
            MastodonTimeline::Public => "public".into(),
            MastodonTimeline::Hashtag(t) => format!("tag:{t}"),
        }
    }
}

/// Percent-encodes a hashtag (letters and digits pass).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.trim_start_matches('#').bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Mastodon ids are decimal snowflakes: longer is newer, then lexicographic.
fn newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

#[derive(serde::Deserialize)]
struct IdOnly {
    id: String,
}

#[derive(Debug, Clone)]
pub struct MastodonStreamConnector {
    name: String,
    /// `https://instance.example`
    pub base_url: String,
    pub timeline: MastodonTimeline,
    pub access_token: Option<String>,
    pub flush_every: Duration,
    pub batch_max: usize,
    /// Backfill pages (40 statuses each) read on a reconnect at most.
    pub max_backfill_pages: usize,
    /// A stream silent this long (Mastodon sends a heartbeat comment every few seconds) is
    /// presumed dead and reopened.
    pub idle_timeout: Duration,
    pub backoff: Backoff,
    client: reqwest::Client,
}

impl MastodonStreamConnector {
    pub fn new(base_url: impl Into<String>, timeline: MastodonTimeline) -> Self {
        let base_url: String = base_url.into().trim_end_matches('/').to_string();
        MastodonStreamConnector {
            name: format!("mastodon:{base_url}:{}", timeline.label()),
            base_url,
            timeline,
            access_token: None,
            flush_every: Duration::from_millis(500),
            batch_max: 256,
            max_backfill_pages: 25,
            idle_timeout: Duration::from_secs(90),
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(60)),
            client: super::http_client(Duration::from_secs(90)),
        }
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let req = self.client.get(url);
        match &self.access_token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// Pages the REST timeline after `cursor`, oldest first, into `batch`.
    async fn backfill(&self, cursor: &mut Option<String>, batch: &mut Batch) -> Result<(), String> {
        let Some(mut min_id) = cursor.clone() else {
            return Ok(()); // first run: start with the stream
        };
        for _ in 0..self.max_backfill_pages {
            let url = format!(
                "{}{}min_id={}&limit=40",
                self.base_url,
                self.timeline.rest_path(),
                min_id
            );
            let resp = self
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("backfill: {e}"))?;
            if !resp.status().is_success() {
                return Err(format!("backfill: HTTP {}", resp.status()));
            }
            let body = read_capped(resp, MAX_FRAME_BYTES * 8).await?;
            let statuses: Vec<&serde_json::value::RawValue> =
                serde_json::from_slice(&body).map_err(|e| format!("backfill: {e}"))?;
            if statuses.is_empty() {
                break;
            }
            // Newest first on the wire: take them oldest first.
            let mut page: Vec<(String, &str)> = Vec::with_capacity(statuses.len());
            for raw in statuses {
                if let Ok(IdOnly { id }) = serde_json::from_str::<IdOnly>(raw.get()) {
                    page.push((id, raw.get()));
                }
            }
            page.sort_by(|a, b| (a.0.len(), &a.0).cmp(&(b.0.len(), &b.0)));
            for (id, raw) in page {
                batch.received += 1;
                match parse_mastodon_status(raw) {
                    Ok(item) => batch.items.push(item),
                    Err(_) => batch.rejected += 1,
                }
                if newer(&id, &min_id) {
                    min_id = id;
                }
            }
            batch.cursor = Some(min_id.clone());
        }
        *cursor = Some(min_id);
        Ok(())
    }
}

async fn read_capped(resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("read: {e}"))?;
        if body.len() + chunk.len() > max {
            return Err(format!("response over {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl Connector for MastodonStreamConnector {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run<S: Sink, C: CursorStore>(
        &mut self,
        sink: &mut S,
        cursors: &C,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), TransportError> {
        let mut cursor = cursors.load(&self.name).await?;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let url = format!("{}{}", self.base_url, self.timeline.stream_path());
            let resp = tokio::select! {
                r = self.get(&url).header("accept", "text/event-stream").send() => r,
                _ = shutdown.changed() => return Ok(()),
            };
            let resp = match resp {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => {
                    sink.report_error(&self.name, &format!("stream: HTTP {}", r.status()))
                        .await;
                    if sleep_or_stop(self.backoff.next_delay(), &mut shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
                Err(e) => {
                    sink.report_error(&self.name, &format!("connect: {e}"))
                        .await;
                    if sleep_or_stop(self.backoff.next_delay(), &mut shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            // The stream is open (events are buffered): close the gap through REST.
            let mut batch = Batch::default();
            if let Err(e) = self.backfill(&mut cursor, &mut batch).await {
                sink.report_error(&self.name, &e).await;
                if sleep_or_stop(self.backoff.next_delay(), &mut shutdown).await {
                    return Ok(());
                }
                continue;
            }
            let mut sink_failed = !flush(sink, &self.name, &mut batch).await;
            let mut bytes = resp.bytes_stream();
            let mut decoder = SseDecoder::new();
            let mut batch_started = Instant::now();
            let mut last_data = Instant::now();
            let reason = loop {
                if sink_failed {
                    break "the sink refused a batch".to_string();
                }
                let chunk = tokio::select! {
                    c = tokio::time::timeout(self.flush_every, bytes.next()) => c,
                    _ = shutdown.changed() => {
                        let _ = flush(sink, &self.name, &mut batch).await;
                        return Ok(());
                    }
                };
                if chunk.is_ok() {
                    last_data = Instant::now();
                } else if last_data.elapsed() >= self.idle_timeout {
                    break format!("no data for {} s", self.idle_timeout.as_secs());
                }
                match chunk {
                    Err(_) => {}
                    Ok(None) => break "the server closed the stream".to_string(),
                    Ok(Some(Err(e))) => break format!("read: {e}"),
                    Ok(Some(Ok(bytes))) => {
                        if let Err(e) = decoder.feed(&bytes) {
                            break format!("stream: {e}");
                        }
                        while let Some(ev) = decoder.next_event() {
                            batch.received += 1;
                            match parse_mastodon_stream_event(&ev.event, &ev.data) {
                                Ok(item) => {
                                    if ev.event == "update"
                                        && let Ok(IdOnly { id }) =
                                            serde_json::from_str::<IdOnly>(&ev.data)
                                        && cursor.as_deref().is_none_or(|c| newer(&id, c))
                                    {
                                        cursor = Some(id.clone());
                                        batch.cursor = Some(id);
                                    }
                                    batch.items.push(item);
                                }
                                Err(_) => batch.rejected += 1,
                            }
                        }
                    }
                }
                if batch.items.len() >= self.batch_max
                    || (batch.received > 0 && batch_started.elapsed() >= self.flush_every)
                {
                    sink_failed = !flush(sink, &self.name, &mut batch).await;
                    if !sink_failed {
                        self.backoff.reset();
                    }
                    batch_started = Instant::now();
                }
            };
            if sink_failed || !flush(sink, &self.name, &mut batch).await {
                cursor = cursors.load(&self.name).await?;
            }
            sink.report_error(&self.name, &reason).await;
            if sleep_or_stop(self.backoff.next_delay(), &mut shutdown).await {
                return Ok(());
            }
        }
    }
}

/// `GET /api/v1/statuses/:id` and its counters as an [`Engagement::Counts`] for `subject`.
pub async fn fetch_status_counts(
    client: &reqwest::Client,
    base_url: &str,
    native_id: &str,
    observed_at_us: i64,
) -> Result<Engagement, String> {
    if !native_id.bytes().all(|b| b.is_ascii_alphanumeric()) || native_id.is_empty() {
        return Err(format!("`{native_id}` is not a Mastodon status id"));
    }
    let url = format!(
        "{}/api/v1/statuses/{native_id}",
        base_url.trim_end_matches('/')
    );
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("counts: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("counts: HTTP {}", resp.status()));
    }
    let body = read_capped(resp, MAX_FRAME_BYTES).await?;
    check_size(body.len(), MAX_FRAME_BYTES).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&body).map_err(|_| "counts: not UTF-8".to_string())?;
    parse_mastodon_counts(text, observed_at_us).map_err(|e| format!("counts: {e}"))
}

/// Polls the counters of the statuses in `watch` (native id on this instance) every `every`.
/// The cursor is the time of the last completed poll; counters are cumulative, so a missed poll
/// loses nothing.
#[derive(Debug, Clone)]
pub struct MastodonCountsConnector {
    name: String,
    pub base_url: String,
    pub every: Duration,
    /// The statuses to poll: (native id). Shared with whoever tracks mentions.
    pub watch: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

impl MastodonCountsConnector {
    pub fn new(
        base_url: impl Into<String>,
        every: Duration,
        watch: Arc<Mutex<Vec<String>>>,
    ) -> Self {
        let base_url: String = base_url.into().trim_end_matches('/').to_string();
        MastodonCountsConnector {
            name: format!("mastodon-counts:{base_url}"),
            base_url,
            every,
            watch,
            client: super::http_client(Duration::from_secs(30)),
        }
    }
}

impl Connector for MastodonCountsConnector {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run<S: Sink, C: CursorStore>(
        &mut self,
        sink: &mut S,
        _cursors: &C,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), TransportError> {
        loop {
            let ids: Vec<String> = self.watch.lock().map(|w| w.clone()).unwrap_or_default();
            let mut batch = Batch::default();
            let now_us = now_us();
            for id in ids.iter().take(1000) {
                batch.received += 1;
                match fetch_status_counts(&self.client, &self.base_url, id, now_us).await {
                    Ok(e) => batch.items.push(Item::Engagement(e)),
                    Err(e) => {
                        batch.rejected += 1;
                        sink.report_error(&self.name, &e).await;
                    }
                }
            }
            batch.cursor = Some(now_us.to_string());
            batch.last_event_us = Some(now_us);
            let _ = flush(sink, &self.name, &mut batch).await;
            if sleep_or_stop(self.every, &mut shutdown).await {
                return Ok(());
            }
        }
    }
}

pub(crate) fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
