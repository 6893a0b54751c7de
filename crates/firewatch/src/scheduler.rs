//! The background worker of `firewatch serve`: polls the persisted clocks and jobs. Every
//! step is a claim in a database transaction, so several workers (or a restarted one)
//! never fire a breach twice; deliveries are at least once, with a stable event id that
//! receivers use to drop duplicates.

use crate::notify::{Notifier, backoff};
use firewatch_store::Store;
use firewatch_store::playbooks::JobOutcome;
use std::sync::Arc;
use std::time::Duration;

/// How many rows one step handles before the next poll.
const BATCH: u32 = 200;
/// Deliveries leased per poll (sent concurrently).
const DELIVERIES: u32 = 16;

pub async fn run(store: Arc<dyn Store>, notifier: Arc<Notifier>, interval: Duration) {
    let worker = format!("pid-{}", std::process::id());
    let interval = interval.max(Duration::from_millis(50));
    let mut warned = std::collections::HashSet::new();
    loop {
        if let Err(e) = tick(&store, &notifier, &worker, &mut warned).await {
            tracing::warn!(error = %e, "scheduler step failed; retrying at the next poll");
        }
        tokio::time::sleep(interval).await;
    }
}

async fn tick(
    store: &Arc<dyn Store>,
    notifier: &Arc<Notifier>,
    worker: &str,
    warned: &mut std::collections::HashSet<String>,
) -> Result<(), firewatch_store::StoreError> {
    let pbs = store.playbooks();
    pbs.refresh_playbook().await?;
    while pbs.run_evaluations(BATCH).await? == BATCH as usize {}
    loop {
        let fired = pbs.fire_breaches(BATCH).await?;
        for b in &fired {
            tracing::info!(case = %b.case_id, clock = %b.clock, escalated = ?b.escalated,
                notifications = b.notifications, "clock breached");
            metrics::counter!("firewatch_clock_breaches_total").increment(1);
        }
        if fired.len() < BATCH as usize {
            break;
        }
    }
    let lease_ms = i64::try_from(notifier.settings().timeout_ms)
        .unwrap_or(60_000)
        .saturating_mul(3)
        .max(5_000);
    let jobs = pbs.claim_jobs(DELIVERIES, lease_ms, worker).await?;
    let results =
        futures_util::future::join_all(jobs.iter().map(|job| notifier.deliver(job))).await;
    let max = i64::from(notifier.settings().max_attempts.max(1));
    for (job, result) in jobs.iter().zip(results) {
        let outcome = match result {
            Ok(()) => {
                metrics::counter!("firewatch_notifications_delivered_total", "channel" => job.kind.clone()).increment(1);
                JobOutcome::Delivered
            }
            Err(e) if e.permanent || job.attempts >= max => {
                // An unconfigured target dead-letters every notification to it: warn once
                // per target and reason, the dead-letter list has them all.
                if warned.len() > 1000 {
                    warned.clear();
                }
                if warned.insert(format!("{}\u{0}{}", job.target, e.message)) {
                    tracing::warn!(job = job.id, target = %job.target, error = %e, "notification dead-lettered (further ones like it are logged at debug level)");
                } else {
                    tracing::debug!(job = job.id, target = %job.target, error = %e, "notification dead-lettered");
                }
                metrics::counter!("firewatch_notifications_dead_total", "channel" => job.kind.clone()).increment(1);
                JobOutcome::Dead {
                    error: format!("{e} (attempt {} of {max})", job.attempts),
                }
            }
            Err(e) => {
                let delay = backoff(notifier.settings(), job.attempts);
                let retry_at_ms = jiff::Timestamp::now().as_millisecond()
                    + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                tracing::info!(job = job.id, target = %job.target, error = %e, ?delay, "notification failed; will retry");
                JobOutcome::Retry {
                    error: e.to_string(),
                    retry_at_ms,
                }
            }
        };
        pbs.finish_job(job.id, outcome).await?;
    }
    Ok(())
}

/// Applies the playbook file named by the `playbook` setting when its text differs from
/// the active one (stored as a new version, audited). An invalid file stops the start.
pub async fn apply_configured_playbook(
    settings: &crate::config::Settings,
    state: &firewatch_web::AppState,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use firewatch_store::playbooks::PutPlaybook;
    let Some(path) = &settings.playbook else {
        return Ok(());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the playbook {}", path.display()))?;
    let pbs = state.store.playbooks();
    if pbs.active_playbook().text == text {
        return Ok(());
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "playbook.toml".into());
    match pbs
        .put_playbook(
            &name,
            &text,
            &firewatch_store::Actor("system:config".into()),
        )
        .await?
    {
        PutPlaybook::Applied(a) => {
            tracing::info!(version = a.version, file = %path.display(), "playbook applied from the configuration");
            Ok(())
        }
        PutPlaybook::Invalid(e) => anyhow::bail!(
            "the configured playbook is invalid: {}",
            e.lines().join("; ")
        ),
    }
}
