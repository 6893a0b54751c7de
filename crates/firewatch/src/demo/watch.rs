//! Prints what the desk does with the replayed cascade, read back from the store (so it shows
//! what was stored, not what was sent): mentions linked to the story case, their forecast, and
//! the escalation, each with the wall time since the replay started and the story time.

use super::replay::Replay;
use firewatch_store::Store;
use firewatch_store::social::MentionFilter;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn stamp(replay: &Replay, at: Instant) -> String {
    let wall = at.saturating_duration_since(replay.started).as_secs_f64();
    let story = replay.story_offset(at).as_secs();
    format!(
        "[+{wall:>5.1} s | story +{}h{:02}]",
        story / 3600,
        story / 60 % 60
    )
}

pub async fn run(store: Arc<dyn Store>, replay: Replay, case_id: String, peak_ms: Option<i64>) {
    let mut seen: HashSet<String> = HashSet::new();
    let mut escalated = false;
    let mut last_forecast: Option<(f64, f64)> = None;
    let mut last_print = Instant::now() - Duration::from_secs(60);
    let mut other_mentions = 0usize;
    let mut others: HashSet<String> = HashSet::new();
    let mut printed_others = 0usize;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Ok(mentions) = store
            .list_mentions(&MentionFilter {
                limit: 10_000,
                ..Default::default()
            })
            .await
        else {
            continue;
        };
        let now = Instant::now();
        for m in mentions.iter().rev() {
            if m.case_id != case_id {
                if others.insert(m.post_id.clone()) {
                    other_mentions += 1;
                }
                if other_mentions <= 5
                    && others.len() == other_mentions
                    && !m.post_id.is_empty()
                    && printed_others < other_mentions
                {
                    printed_others = other_mentions;
                    println!(
                        "{} mention on case {}: @{} on {} {} ({} other so far)",
                        stamp(&replay, now),
                        m.case_id,
                        m.author,
                        m.product_brand,
                        m.product_model,
                        other_mentions
                    );
                }
                continue;
            }
            if seen.insert(m.post_id.clone()) {
                println!(
                    "{} mention seen on the story case {case_id}: @{} \"{}\" ({})",
                    stamp(&replay, now),
                    m.author,
                    m.text.chars().take(70).collect::<String>(),
                    m.link_reason
                );
            }
            if let Some(f) = &m.forecast {
                let shown = if f.infinite {
                    "unbounded (supercritical)".to_string()
                } else {
                    format!("{:.0} reshares", f.predicted_final)
                };
                let changed = last_forecast.is_none_or(|(p, q)| {
                    (p - f.p_exceed).abs() >= 0.1
                        || (q - f.predicted_final).abs() > 0.25 * q.abs().max(1.0)
                });
                if changed && now.duration_since(last_print) >= Duration::from_secs(2) {
                    println!(
                        "{} forecast: final reach {shown}, P(> threshold) = {:.2}, {} engagements so far",
                        stamp(&replay, now),
                        f.p_exceed,
                        m.engagements
                    );
                    last_forecast = Some((f.p_exceed, f.predicted_final));
                    last_print = now;
                }
            }
            if !escalated && let Some(at_ms) = m.escalated_at_ms {
                escalated = true;
                let wall_ms = jiff::Timestamp::now().as_millisecond();
                let at = now
                    .checked_sub(Duration::from_millis((wall_ms - at_ms).max(0) as u64))
                    .unwrap_or(now);
                let story_min = replay.story_offset(at).as_secs() / 60;
                let before = peak_ms
                    .map(|p| {
                        let p = p / 60_000;
                        if (story_min as i64) < p {
                            format!(
                                "{} min before the reach peaks (90% at story +{p} min)",
                                p - story_min as i64
                            )
                        } else {
                            format!("after the reach peaked (90% at story +{p} min)")
                        }
                    })
                    .unwrap_or_default();
                println!(
                    "{} ESCALATED to hq and pr: case {case_id} at story +{story_min} min, {before}",
                    stamp(&replay, at)
                );
            }
        }
    }
}
