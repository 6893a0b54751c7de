//! `firewatch serve`: wires the store, the blob store and triage into the HTTP app.

use crate::cli::open_store;
use crate::config::Settings;
use crate::triage_engine;
use anyhow::Context;
use firewatch_store::FsBlobStore;
use firewatch_web::{AppState, WebConfig};
use std::net::SocketAddr;
use std::sync::Arc;

pub fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("FIREWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// The application state, without background work: the signal job starts in [`serve`], once
/// the configured playbook was accepted, so a server that refuses to start has nothing to
/// cancel (and its one-line error stays one line).
pub async fn build_state(settings: &Settings) -> anyhow::Result<AppState> {
    let store = open_store(settings).await?;
    let blobs = Arc::new(FsBlobStore::new(settings.blob_dir()));
    // The catalog lives in the store; DATA/catalog.csv (or --catalog) seeds an empty one.
    let products = crate::import_cmd::seed_products(&store, settings).await?;
    let engine = Arc::new(triage_engine::SwappableEngine::new(&products));
    let triage: Arc<dyn firewatch_web::TriageEngine> = engine.clone();
    let thresholds = firewatch_policy::Playbook::default_playbook()
        .signals()
        .clone();
    let signals = Arc::new(firewatch_web::signals::Signals::new(
        store.clone(),
        thresholds,
        Some(engine),
    ));
    let web = WebConfig {
        intake_per_minute: settings.intake_per_minute,
        intake_burst: settings.intake_burst,
        ..WebConfig::default()
    };
    Ok(AppState::new(store, blobs, triage, web).with_signals(signals))
}

/// Serves until SIGINT or SIGTERM. `on_ready` runs once the socket is bound.
pub async fn serve(settings: Settings, state: Option<AppState>) -> anyhow::Result<()> {
    let state = match state {
        Some(s) => s,
        None => build_state(&settings).await?,
    };
    crate::scheduler::apply_configured_playbook(&settings, &state).await?;
    if let Some(signals) = &state.signals {
        signals.clone().spawn();
    }
    let notifier = Arc::new(crate::notify::Notifier::new(&settings.notifications)?);
    tokio::spawn(crate::scheduler::run(
        state.store.clone(),
        notifier,
        std::time::Duration::from_millis(settings.scheduler_interval_ms),
    ));
    let catalog = match &state.signals {
        Some(signals) => crate::triage_engine::catalog_of(&signals.store.list_products().await?),
        None => crate::triage_engine::load_catalog(settings.catalog.as_deref(), &settings.data)?,
    };
    let social = crate::social::start(&settings, state.store.clone(), catalog).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to find the port when listening on :0.
    println!("firewatch listening on http://{addr}");
    tracing::info!(%addr, data = %settings.data.display(), "serving");
    let app = firewatch_web::app(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server error")?;
    social.stop().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
