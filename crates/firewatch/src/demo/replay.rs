//! The live replay of the demo world's social cascade through the real connector path: a
//! Jetstream-compatible WebSocket endpoint (`ws://127.0.0.1:<port>/subscribe`, Jetstream v1
//! frames, `wantedCollections` and `cursor` honoured) that the ordinary
//! [`firewatch_connectors::transport::JetstreamConnector`] subscribes to, exactly as it does to
//! `wss://jetstream2.us-east.bsky.network/subscribe`. The triage, mention linking, SEISMIC
//! forecast and escalation that follow are the server's normal social pipeline.
//!
//! Time is compressed: an event `d` after the original post is sent `d / speed` after the
//! replay starts, but keeps its story time (`time_us`, `createdAt` = start + `d`), so the
//! forecaster sees the cascade's true pace. Story time therefore runs ahead of the wall clock.

use anyhow::Context;
use firewatch_demo::jetstream::Frame;
use futures_util::SinkExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// The running replay endpoint.
#[derive(Clone)]
pub struct Replay {
    /// `ws://127.0.0.1:<port>/subscribe`
    pub url: String,
    /// Wall clock of the original post (its story time is the `t0_us` the frames carry).
    pub started: Instant,
    pub speed: f64,
}

impl Replay {
    /// Story time elapsed at `at`: (wall time since the start) x speed.
    pub fn story_offset(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.started)
            .mul_f64(self.speed)
    }
}

/// Binds 127.0.0.1:0 and serves `frames` (rendered with the original post at now) to every
/// subscriber, paced by `speed`. The replay clock starts now.
pub async fn start(frames: Vec<Frame>, speed: f64) -> anyhow::Result<Replay> {
    anyhow::ensure!(
        speed.is_finite() && speed > 0.0,
        "the replay speed must be a number > 0"
    );
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the demo's Jetstream replay endpoint")?;
    let addr = listener.local_addr()?;
    let replay = Replay {
        url: format!("ws://{addr}/subscribe"),
        started: Instant::now(),
        speed,
    };
    let frames = Arc::new(frames);
    let r = replay.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (frames, r) = (frames.clone(), r.clone());
            tokio::spawn(async move {
                if let Err(e) = subscriber(stream, frames, r).await {
                    tracing::debug!(error = %e, "demo replay subscriber ended");
                }
            });
        }
    });
    Ok(replay)
}

/// `?wantedCollections=a&wantedCollections=b&cursor=123`
fn parse_query(query: &str) -> (Vec<String>, Option<i64>) {
    let mut wanted = Vec::new();
    let mut cursor = None;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("wantedCollections", v)) => wanted.push(v.to_string()),
            Some(("cursor", v)) => cursor = v.parse().ok(),
            _ => {}
        }
    }
    (wanted, cursor)
}

fn collection_of(text: &str) -> Option<&str> {
    let i = text.find("\"collection\":\"")? + 14;
    let rest = &text[i..];
    Some(&rest[..rest.find('"')?])
}

// The handshake callback's error type (an HTTP response) is tungstenite's, not ours.
#[allow(clippy::result_large_err)]
async fn subscriber(
    stream: tokio::net::TcpStream,
    frames: Arc<Vec<Frame>>,
    replay: Replay,
) -> anyhow::Result<()> {
    let mut query = String::new();
    let mut ws = tokio_tungstenite::accept_hdr_async(stream, |req: &Request, resp: Response| {
        if req.uri().path() == "/subscribe" {
            query = req.uri().query().unwrap_or_default().to_string();
            Ok(resp)
        } else {
            let mut r = tokio_tungstenite::tungstenite::http::Response::new(Some(
                "not found: the demo's Jetstream endpoint is /subscribe".to_string(),
            ));
            *r.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::NOT_FOUND;
            Err(r)
        }
    })
    .await?;
    let (wanted, cursor) = parse_query(&query);
    for f in frames.iter() {
        // Jetstream replays from the cursor (inclusive); the consumer drops duplicates.
        if cursor.is_some_and(|c| f.time_us < c) {
            continue;
        }
        if let Some(c) = collection_of(&f.text)
            && !wanted.is_empty()
            && !wanted.iter().any(|w| w == c)
        {
            continue;
        }
        let due =
            replay.started + Duration::from_micros(f.offset_us.max(0) as u64).div_f64(replay.speed);
        tokio::time::sleep_until(due.into()).await;
        ws.send(Message::text(f.text.clone())).await?;
    }
    // The cascade is over: stay connected and quiet, like a firehose with nothing to say
    // about this story (pings keep the connector's idle timer happy).
    loop {
        tokio::time::sleep(Duration::from_secs(20)).await;
        ws.send(Message::Ping(Vec::new().into())).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_names_collections_and_cursor() {
        let (w, c) = parse_query(
            "wantedCollections=app.bsky.feed.post&wantedCollections=app.bsky.feed.like&cursor=42",
        );
        assert_eq!(w, ["app.bsky.feed.post", "app.bsky.feed.like"]);
        assert_eq!(c, Some(42));
        assert_eq!(parse_query("cursor=x").1, None);
        assert_eq!(
            collection_of(r#"{"commit":{"collection":"app.bsky.feed.like","rkey":"k"}}"#),
            Some("app.bsky.feed.like")
        );
    }
}
