//! Processor + store: one store transaction per batch, then the escalations it made due.

use super::processor::{Pending, Processor};
use super::settings::SocialSettings;
use firewatch_connectors::transport::Batch;
use firewatch_store::social::{ConnectorCheckpoint, LinkPolicy, SocialBatch};
use firewatch_store::{Actor, Store, StoreError};
use firewatch_triage::Triager;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::sync::Mutex as AsyncMutex;

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub items: usize,
    pub mentions: usize,
    pub mentions_on_existing_cases: usize,
    pub engagements: usize,
    pub escalations: usize,
}

pub struct SocialPipeline {
    store: Arc<dyn Store>,
    triager: Arc<Triager>,
    settings: SocialSettings,
    link: LinkPolicy,
    actor: Actor,
    processor: AsyncMutex<Processor>,
    /// Mastodon statuses whose counters are polled (instance-local ids).
    watch: Arc<Mutex<Vec<String>>>,
    /// Per connector: when its cursor was last stored, and the events received since.
    held: Mutex<std::collections::HashMap<String, (std::time::Instant, i64)>>,
}

impl SocialPipeline {
    /// Loads the stored mentions and engagement and rebuilds the forecasters.
    pub async fn open(
        store: Arc<dyn Store>,
        triager: Arc<Triager>,
        settings: &SocialSettings,
        actor: Actor,
    ) -> Result<Self, StoreError> {
        let processor = Self::rebuild(&*store, &triager, settings).await?;
        Ok(SocialPipeline {
            store,
            triager,
            settings: settings.clone(),
            link: settings.link_policy(),
            actor,
            watch: Arc::new(Mutex::new(processor.native_ids())),
            processor: AsyncMutex::new(processor),
            held: Mutex::new(Default::default()),
        })
    }

    async fn rebuild(
        store: &dyn Store,
        triager: &Arc<Triager>,
        settings: &SocialSettings,
    ) -> Result<Processor, StoreError> {
        let mut p = Processor::new(triager.clone(), settings.tuning());
        let mut mentions = Vec::new();
        // All mentions, newest first in pages of the list call's maximum.
        let all = store
            .list_mentions(&firewatch_store::social::MentionFilter {
                limit: u32::MAX,
                ..Default::default()
            })
            .await?;
        mentions.extend(all);
        let engagements = store.all_engagements().await?;
        p.restore(&mentions, &engagements);
        Ok(p)
    }

    pub fn mastodon_watch(&self) -> Arc<Mutex<Vec<String>>> {
        self.watch.clone()
    }

    /// Processes and stores one batch (with the connector's cursor when `connector` is given),
    /// then escalates the mentions whose forecast crossed the level, once each.
    pub async fn ingest(
        &self,
        connector: Option<&str>,
        batch: Batch,
    ) -> Result<IngestReport, StoreError> {
        let mut processor = self.processor.lock().await;
        let mut pending = Pending::default();
        let now_ms = jiff::Timestamp::now().as_millisecond();
        let mut report = IngestReport {
            items: batch.items.len(),
            ..Default::default()
        };
        for item in batch.items {
            processor.process(item, &self.actor, now_ms, &mut pending);
        }
        let (forecasts, due) = processor.take_forecasts();
        let mut checkpoint = connector.map(|name| ConnectorCheckpoint {
            name: name.to_string(),
            cursor: batch.cursor.clone(),
            last_event_ms: batch.last_event_us.map(|us| us / 1000),
            events: batch.received as i64,
        });
        // A batch that changes nothing but the cursor (most of a firehose) is stored at most
        // every `checkpoint_every_ms` per connector: fewer writes and audit events, and a
        // restart replays at most that much (the store drops what it already has).
        if let Some(cp) = checkpoint.as_mut()
            && pending.mentions.is_empty()
            && pending.engagements.is_empty()
            && forecasts.is_empty()
        {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            let entry = held
                .entry(cp.name.clone())
                .or_insert((std::time::Instant::now(), 0));
            if (entry.0.elapsed().as_millis() as u64) < self.settings.checkpoint_every_ms {
                entry.1 += cp.events;
                return Ok(report);
            }
            cp.events += entry.1;
            *entry = (std::time::Instant::now(), 0);
        } else if let Some(cp) = checkpoint.as_mut() {
            let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(entry) = held.get_mut(&cp.name) {
                cp.events += entry.1;
                *entry = (std::time::Instant::now(), 0);
            }
        }
        let outcome = self
            .store
            .social_ingest(SocialBatch {
                checkpoint,
                mentions: pending.mentions,
                engagements: pending.engagements,
                forecasts,
                link: self.link,
                actor: self.actor.clone(),
            })
            .await;
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                // Nothing was stored: rebuild the in-memory state from the store so that the
                // retry (from the stored cursor) counts everything again.
                *processor = Self::rebuild(&*self.store, &self.triager, &self.settings).await?;
                return Err(e);
            }
        };
        report.mentions = outcome.linked.len();
        report.mentions_on_existing_cases = outcome
            .linked
            .iter()
            .filter(|l| l.reason != firewatch_store::social::LinkReason::NewCase)
            .count();
        report.engagements = outcome.engagements_stored;
        if report.mentions > 0
            && let Ok(mut w) = self.watch.lock()
        {
            *w = processor.native_ids();
        }
        for d in due {
            let reason = json!({
                "p_exceed": d.forecast.p_exceed,
                "predicted_final": if d.forecast.infinite { None } else { Some(d.forecast.predicted_final) },
                "infinite": d.forecast.infinite,
                "lower": d.forecast.lower.is_finite().then_some(d.forecast.lower),
                "upper": d.forecast.upper.is_finite().then_some(d.forecast.upper),
                "reshares": d.reshares,
                "threshold": d.threshold,
                "level": self.settings.escalate_p_exceed,
            });
            match self
                .store
                .escalate_case_for_mention(
                    &d.post_id,
                    self.settings.escalate_roles.clone(),
                    reason,
                    &self.actor,
                )
                .await
            {
                Ok(Some(_)) => {
                    report.escalations += 1;
                    processor.mark_escalated(&d.post_id);
                }
                Ok(None) => processor.mark_escalated(&d.post_id),
                Err(e) => {
                    tracing::warn!(post = %d.post_id, error = %e, "escalation failed; retried on the next event")
                }
            }
        }
        Ok(report)
    }
}
