//! Transports: the sockets and HTTP that feed the parsers. Every connector implements
//! [`Connector`]: it loads its cursor from a [`CursorStore`], delivers [`Batch`]es (items plus the
//! cursor after them) to a [`Sink`] that stores both in one transaction, reconnects with
//! exponential backoff and jitter after an error or a dropped connection, and stops when the
//! shutdown signal turns true. Because the cursor is saved with the items it covers and the
//! sink ignores ids it already has, a restart or a reconnect leaves no gap and stores no
//! duplicate.

mod backoff;
mod feed;
mod jetstream;
mod mastodon;

pub use backoff::Backoff;
pub use feed::{FeedConnector, FeedCursor};
pub use jetstream::JetstreamConnector;
pub use mastodon::{
    MastodonCountsConnector, MastodonStreamConnector, MastodonTimeline, fetch_status_counts,
};

use crate::Item;
use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// Items from one connector and the cursor to resume after them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    pub items: Vec<Item>,
    /// The resume point after these items (`None`: unchanged).
    pub cursor: Option<String>,
    /// The newest event time in the batch, unix microseconds.
    pub last_event_us: Option<i64>,
    /// Input units received (frames, events, feed items), parsed or not.
    pub received: usize,
    /// Units that did not parse (skipped).
    pub rejected: usize,
}

/// Why a sink refused a batch. The connector keeps the batch's cursor unadvanced and retries.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Where batches go (the social pipeline and its store in the server; a vector in tests).
pub trait Sink: Send {
    /// Stores the items and the cursor, atomically; on error nothing was stored.
    fn deliver(
        &mut self,
        connector: &str,
        batch: Batch,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
    /// Records a transport error (shown to admins); never fails.
    fn report_error(&mut self, connector: &str, error: &str) -> impl Future<Output = ()> + Send;
}

/// Where cursors are read back from after a restart.
pub trait CursorStore: Send + Sync {
    fn load(
        &self,
        connector: &str,
    ) -> impl Future<Output = Result<Option<String>, SinkError>> + Send;
}

/// Why a connector stopped on its own (it otherwise runs until shutdown).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("bad connector settings: {0}")]
    Config(String),
    #[error("cursor store: {0}")]
    Cursor(#[from] SinkError),
}

/// One source of posts and engagement.
pub trait Connector: Send {
    /// Stable name, the key of its cursor (e.g. `jetstream`, `feed:https://...`).
    fn name(&self) -> &str;
    /// Runs until `shutdown` turns true.
    fn run<S: Sink, C: CursorStore>(
        &mut self,
        sink: &mut S,
        cursors: &C,
        shutdown: watch::Receiver<bool>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;
}

/// Installs rustls' ring provider as the process default (once; later calls do nothing).
/// The build has no other provider (no aws-lc, no OpenSSL).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Waits `d`, or less if shutdown turns true; returns whether to stop.
pub(crate) async fn sleep_or_stop(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        r = shutdown.changed() => r.is_err() || *shutdown.borrow(),
    }
}

/// The shared HTTP client settings: rustls (ring), timeouts, a user agent.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(concat!("firewatch/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Flushes `batch` into the sink if it holds anything; returns false if the sink failed (the
/// connector must then reconnect from the last stored cursor).
pub(crate) async fn flush<S: Sink>(sink: &mut S, name: &str, batch: &mut Batch) -> bool {
    if batch.items.is_empty() && batch.cursor.is_none() && batch.received == 0 {
        return true;
    }
    let b = std::mem::take(batch);
    match sink.deliver(name, b).await {
        Ok(()) => true,
        Err(e) => {
            sink.report_error(name, &format!("sink: {e}")).await;
            false
        }
    }
}
