//! RSS, Atom and JSON Feed by polling with conditional GET: the cursor keeps the validators
//! (`ETag`, `Last-Modified`) of the last stored fetch, sent back as `If-None-Match` /
//! `If-Modified-Since`; a 304 costs nothing. Items already stored are dropped by the sink by id.

use super::mastodon::now_us;
use super::{Backoff, Batch, Connector, CursorStore, Sink, TransportError, flush, sleep_or_stop};
use crate::{Item, MAX_FEED_BYTES, parse_feed};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::watch;

/// The stored validators of a feed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedCursor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

#[derive(Debug, Clone)]
pub struct FeedConnector {
    name: String,
    pub url: String,
    pub every: Duration,
    pub backoff: Backoff,
    client: reqwest::Client,
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    NotModified,
    Items(Batch),
}

impl FeedConnector {
    pub fn new(url: impl Into<String>, every: Duration) -> Self {
        let url = url.into();
        FeedConnector {
            name: format!("feed:{url}"),
            url,
            every,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(900)),
            client: super::http_client(Duration::from_secs(60)),
        }
    }

    /// One conditional GET.
    pub async fn poll(&self, cursor: &FeedCursor) -> Result<Poll, String> {
        let mut req = self.client.get(&self.url).header(
            "accept",
            "application/rss+xml, application/atom+xml, application/feed+json, application/json, application/xml;q=0.9, */*;q=0.5",
        );
        if let Some(e) = &cursor.etag {
            req = req.header("if-none-match", e);
        }
        if let Some(lm) = &cursor.last_modified {
            req = req.header("if-modified-since", lm);
        }
        let resp = req.send().await.map_err(|e| format!("fetch: {e}"))?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(Poll::NotModified);
        }
        if !resp.status().is_success() {
            return Err(format!("fetch: HTTP {}", resp.status()));
        }
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(200).collect::<String>())
        };
        let next = FeedCursor {
            etag: header("etag"),
            last_modified: header("last-modified"),
        };
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_FEED_BYTES as u64)
        {
            return Err(format!("feed over {MAX_FEED_BYTES} bytes"));
        }
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("read: {e}"))?;
            if body.len() + chunk.len() > MAX_FEED_BYTES {
                return Err(format!("feed over {MAX_FEED_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let posts = parse_feed(&body).map_err(|e| e.to_string())?;
        let fetched = now_us();
        let mut batch = Batch {
            received: posts.len(),
            cursor: Some(serde_json::to_string(&next).unwrap_or_default()),
            last_event_us: Some(fetched),
            ..Batch::default()
        };
        for mut p in posts {
            if p.created_at_us == 0 {
                p.created_at_us = fetched;
            }
            batch.items.push(Item::Post(p));
        }
        Ok(Poll::Items(batch))
    }
}

impl Connector for FeedConnector {
    fn name(&self) -> &str {
        &self.name
    }

    async fn run<S: Sink, C: CursorStore>(
        &mut self,
        sink: &mut S,
        cursors: &C,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), TransportError> {
        let mut cursor: FeedCursor = match cursors.load(&self.name).await? {
            Some(s) => serde_json::from_str(&s).unwrap_or_default(),
            None => FeedCursor::default(),
        };
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let wait = match self.poll(&cursor).await {
                Ok(Poll::NotModified) => {
                    self.backoff.reset();
                    self.every
                }
                Ok(Poll::Items(mut batch)) => {
                    let next: Option<FeedCursor> = batch
                        .cursor
                        .as_deref()
                        .and_then(|c| serde_json::from_str(c).ok());
                    if flush(sink, &self.name, &mut batch).await {
                        if let Some(n) = next {
                            cursor = n;
                        }
                        self.backoff.reset();
                        self.every
                    } else {
                        self.backoff.next_delay()
                    }
                }
                Err(e) => {
                    sink.report_error(&self.name, &e).await;
                    self.backoff.next_delay().max(Duration::from_millis(1))
                }
            };
            if sleep_or_stop(wait, &mut shutdown).await {
                return Ok(());
            }
        }
    }
}
