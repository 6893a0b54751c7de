//! Bluesky Jetstream over WebSocket (no compression). The cursor is the last stored frame's
//! `time_us`; a reconnect asks Jetstream to replay from a little before it (`rewind_us`), and the
//! sink drops what it already has, so nothing is lost at the seam.

use super::{Backoff, Batch, Connector, CursorStore, Sink, TransportError, flush, sleep_or_stop};
use crate::{MAX_FRAME_BYTES, parse_jetstream_frame};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[derive(Debug, Clone)]
pub struct JetstreamConnector {
    name: String,
    /// `wss://host/subscribe` (or `ws://` for tests).
    pub url: String,
    pub wanted_collections: Vec<String>,
    /// Frames per delivered batch, and the longest a partial batch waits.
    pub batch_max: usize,
    pub flush_every: Duration,
    /// How far before the stored cursor a reconnect replays (Jetstream's own advice: a few s).
    pub rewind_us: i64,
    /// A connection silent this long is presumed dead (no FIN) and reopened.
    pub idle_timeout: Duration,
    pub backoff: Backoff,
}

impl JetstreamConnector {
    pub fn new(url: impl Into<String>) -> Self {
        JetstreamConnector {
            name: "jetstream".into(),
            url: url.into(),
            wanted_collections: vec![
                "app.bsky.feed.post".into(),
                "app.bsky.feed.like".into(),
                "app.bsky.feed.repost".into(),
            ],
            batch_max: 512,
            flush_every: Duration::from_millis(500),
            rewind_us: 2_000_000,
            idle_timeout: Duration::from_secs(90),
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(60)),
        }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The subscribe URL for a resume point.
    pub fn subscribe_url(&self, cursor_us: Option<i64>) -> String {
        let mut url = self.url.clone();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        for c in &self.wanted_collections {
            url.push(sep);
            url.push_str("wantedCollections=");
            url.push_str(c);
            sep = '&';
        }
        if let Some(c) = cursor_us {
            url.push(sep);
            url.push_str(&format!("cursor={}", (c - self.rewind_us).max(0)));
        }
        url
    }
}

impl Connector for JetstreamConnector {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run<S: Sink, C: CursorStore>(
        &mut self,
        sink: &mut S,
        cursors: &C,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), TransportError> {
        let mut cursor: Option<i64> = match cursors.load(&self.name).await? {
            None => None,
            Some(s) => Some(s.parse().map_err(|_| {
                TransportError::Config(format!("stored Jetstream cursor `{s}` is not a time_us"))
            })?),
        };
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(MAX_FRAME_BYTES);
        config.max_frame_size = Some(MAX_FRAME_BYTES);
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let url = self.subscribe_url(cursor);
            let conn = tokio::select! {
                c = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false) => c,
                _ = shutdown.changed() => return Ok(()),
            };
            let mut ws = match conn {
                Ok((ws, _)) => ws,
                Err(e) => {
                    sink.report_error(&self.name, &format!("connect: {e}"))
                        .await;
                    if sleep_or_stop(self.backoff.next_delay(), &mut shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            let mut batch = Batch::default();
            let mut batch_started = Instant::now();
            let mut healthy = false;
            let mut sink_failed = false;
            let mut last_data = Instant::now();
            let reason = loop {
                let msg = tokio::select! {
                    m = tokio::time::timeout(self.flush_every, ws.next()) => m,
                    _ = shutdown.changed() => {
                        // Store what was received; then stop.
                        let _ = flush(sink, &self.name, &mut batch).await;
                        let _ = ws.close(None).await;
                        return Ok(());
                    }
                };
                if msg.is_ok() {
                    last_data = Instant::now();
                } else if last_data.elapsed() >= self.idle_timeout {
                    break format!("no data for {} s", self.idle_timeout.as_secs());
                }
                let text = match msg {
                    Err(_) => None, // idle: flush below
                    Ok(None) => break "the server closed the connection".to_string(),
                    Ok(Some(Err(e))) => break format!("read: {e}"),
                    Ok(Some(Ok(Message::Text(t)))) => Some(t),
                    Ok(Some(Ok(Message::Close(_)))) => {
                        break "the server closed the connection".to_string();
                    }
                    Ok(Some(Ok(_))) => None, // ping/pong/binary: nothing to parse
                };
                if let Some(text) = text {
                    batch.received += 1;
                    match parse_jetstream_frame(text.as_str()) {
                        Ok((item, time_us)) => {
                            batch.items.push(item);
                            if cursor.is_none_or(|c| time_us > c) {
                                cursor = Some(time_us);
                                batch.cursor = Some(time_us.to_string());
                                batch.last_event_us = Some(time_us);
                            }
                        }
                        Err(_) => batch.rejected += 1,
                    }
                }
                if batch.items.len() >= self.batch_max
                    || (batch.received > 0 && batch_started.elapsed() >= self.flush_every)
                {
                    if !flush(sink, &self.name, &mut batch).await {
                        sink_failed = true;
                        break "the sink refused a batch".to_string();
                    }
                    if !healthy {
                        healthy = true;
                        self.backoff.reset();
                    }
                    batch_started = Instant::now();
                }
            };
            // Keep what arrived before the drop; on failure resume from the stored cursor.
            if sink_failed || !flush(sink, &self.name, &mut batch).await {
                cursor = match cursors.load(&self.name).await? {
                    Some(s) => s.parse().ok(),
                    None => None,
                };
            }
            sink.report_error(&self.name, &reason).await;
            if sleep_or_stop(self.backoff.next_delay(), &mut shutdown).await {
                return Ok(());
            }
        }
    }
}
