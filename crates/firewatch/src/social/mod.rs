//! The social and news watch in the server (issue 6): connector settings, the pipeline that
//! turns posts into mentions linked to cases, and the connectors' tasks.

pub mod pipeline;
pub mod processor;
pub mod settings;

pub use pipeline::SocialPipeline;
pub use settings::SocialSettings;

use crate::config::Settings;
use firewatch_connectors::transport::{
    Batch, Connector, CursorStore, FeedConnector, JetstreamConnector, MastodonCountsConnector,
    MastodonStreamConnector, MastodonTimeline, Sink, SinkError,
};
use firewatch_store::{Actor, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The connectors' view of the pipeline and the store.
#[derive(Clone)]
pub struct PipelineSink {
    pub pipeline: Arc<SocialPipeline>,
    pub store: Arc<dyn Store>,
}

impl Sink for PipelineSink {
    async fn deliver(&mut self, connector: &str, batch: Batch) -> Result<(), SinkError> {
        self.pipeline
            .ingest(Some(connector), batch)
            .await
            .map(|_| ())
            .map_err(|e| SinkError(e.to_string()))
    }

    async fn report_error(&mut self, connector: &str, error: &str) {
        tracing::warn!(connector, error, "connector");
        if let Err(e) = self
            .store
            .connector_error(connector, error, &Actor(format!("system:{connector}")))
            .await
        {
            tracing::warn!(connector, error = %e, "could not record a connector error");
        }
    }
}

impl CursorStore for PipelineSink {
    async fn load(&self, connector: &str) -> Result<Option<String>, SinkError> {
        let all = self
            .store
            .list_connectors()
            .await
            .map_err(|e| SinkError(e.to_string()))?;
        Ok(all
            .into_iter()
            .find(|c| c.name == connector)
            .and_then(|c| c.cursor))
    }
}

/// The running connectors; [`Running::stop`] signals them and waits.
pub struct Running {
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

fn spawn<C: Connector + 'static>(
    mut connector: C,
    sink: PipelineSink,
    rx: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let name = connector.name().to_string();
        let mut s = sink.clone();
        if let Err(e) = connector.run(&mut s, &sink, rx).await {
            tracing::error!(connector = %name, error = %e, "connector stopped");
            s.report_error(&name, &e.to_string()).await;
        }
    })
}

/// Starts the configured connectors (none when the config names none).
pub async fn start(
    settings: &Settings,
    store: Arc<dyn Store>,
    catalog: firewatch_triage::Catalog,
) -> anyhow::Result<Running> {
    let (tx, rx) = watch::channel(false);
    let social = &settings.social;
    social.validate()?;
    let mut tasks = Vec::new();
    if social.jetstream.is_none() && social.mastodon.is_empty() && social.feeds.is_empty() {
        return Ok(Running {
            shutdown: tx,
            tasks,
        });
    }
    firewatch_connectors::transport::install_crypto_provider();
    // The catalog is the stored one (products API and imports), as for intake.
    let triager = Arc::new(firewatch_triage::Triager::new(catalog));
    let pipeline = Arc::new(
        SocialPipeline::open(
            store.clone(),
            triager,
            social,
            Actor("system:social".into()),
        )
        .await?,
    );
    let sink = PipelineSink {
        pipeline: pipeline.clone(),
        store: store.clone(),
    };
    // Issue 8: nodes sharing a PostgreSQL database run the connectors on one leader only.
    let supervisor = tokio::spawn(lead_and_run(store, social.clone(), pipeline, sink, rx));
    tasks.push(supervisor);
    Ok(Running {
        shutdown: tx,
        tasks,
    })
}

/// How often a node that does not lead the connectors tries to take over.
const LEADER_RETRY: Duration = Duration::from_secs(1);

/// Waits to lead the connectors, runs them while leading, and starts over when the
/// leadership is lost (its database connection failed), until shutdown.
async fn lead_and_run(
    store: Arc<dyn Store>,
    social: SocialSettings,
    pipeline: Arc<SocialPipeline>,
    sink: PipelineSink,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let mut lead = loop {
            match store.try_lead("social-connectors").await {
                Ok(Some(l)) => break l,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot try to lead the connectors"),
            }
            if stop_requested(LEADER_RETRY, &mut shutdown).await {
                return;
            }
        };
        tracing::info!("this node leads the social connectors");
        let (term, term_rx) = watch::channel(false);
        let tasks = spawn_connectors(&social, &pipeline, &sink, term_rx);
        let stop = tokio::select! {
            r = shutdown.changed() => r.is_err() || *shutdown.borrow(),
            _ = lead.lost() => {
                tracing::warn!("lost the connectors' leadership; stopping them");
                false
            }
        };
        let _ = term.send(true);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        drop(lead);
        if stop {
            return;
        }
    }
}

async fn stop_requested(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        r = shutdown.changed() => r.is_err() || *shutdown.borrow(),
    }
}

/// Starts the configured connectors; they stop when `rx` turns true.
fn spawn_connectors(
    social: &SocialSettings,
    pipeline: &Arc<SocialPipeline>,
    sink: &PipelineSink,
    rx: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(j) = &social.jetstream {
        let mut c = JetstreamConnector::new(&j.url);
        if !j.collections.is_empty() {
            c.wanted_collections = j.collections.clone();
        }
        tasks.push(spawn(c, sink.clone(), rx.clone()));
    }
    for m in &social.mastodon {
        let mut timelines = Vec::new();
        if m.public {
            timelines.push(MastodonTimeline::Public);
        }
        timelines.extend(
            m.hashtags
                .iter()
                .map(|h| MastodonTimeline::Hashtag(h.clone())),
        );
        for t in timelines {
            let mut c = MastodonStreamConnector::new(&m.base_url, t);
            c.access_token = m.access_token.clone();
            tasks.push(spawn(c, sink.clone(), rx.clone()));
        }
        if m.counts_poll_secs > 0 {
            let c = MastodonCountsConnector::new(
                &m.base_url,
                Duration::from_secs(m.counts_poll_secs),
                pipeline.mastodon_watch(),
            );
            tasks.push(spawn(c, sink.clone(), rx.clone()));
        }
    }
    for f in &social.feeds {
        let c = FeedConnector::new(&f.url, Duration::from_secs(f.poll_secs));
        tasks.push(spawn(c, sink.clone(), rx.clone()));
    }
    tracing::info!(connectors = tasks.len(), "social connectors started");
    tasks
}
