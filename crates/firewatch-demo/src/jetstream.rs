//! The cascade as Bluesky Jetstream v1 frames (`{did, time_us, kind, commit|identity}`), the
//! shape `wss://jetstream*.bsky.network/subscribe` sends, so that a replay can go through the
//! real Jetstream connector. Times are the caller's: `t0_us` is the original post's `time_us`
//! and every event keeps its offset from it.
//!
//! Jetstream carries no follower counts; an `identity` frame precedes each author's first
//! post (Jetstream sends one when an account's handle is (re)announced), so the desk can show
//! handles and match the story's author to the case's reporter.

use crate::calendar::rfc3339_utc;
use crate::cascade::{CascadeEvent, CascadeKind};
use serde_json::{Value, json};
use std::collections::HashSet;

/// One frame to send: when (microseconds after the original post) and the JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub offset_us: i64,
    pub time_us: i64,
    pub text: String,
}

/// `at://did/collection/rkey` -> (did, collection, rkey).
fn split_uri(uri: &str) -> Option<(&str, &str, &str)> {
    let rest = uri.strip_prefix("at://")?;
    let mut parts = rest.splitn(3, '/');
    Some((parts.next()?, parts.next()?, parts.next()?))
}

fn created_at(time_us: i64) -> String {
    // Jetstream records carry millisecond RFC 3339 times.
    let base = rfc3339_utc(time_us.div_euclid(1_000_000));
    let ms = time_us.rem_euclid(1_000_000) / 1000;
    format!("{}.{ms:03}Z", base.trim_end_matches('Z'))
}

fn strong_ref(uri: &str) -> Value {
    json!({"uri": uri, "cid": "bafyreidemo"})
}

/// The cascade's frames in time order, with the original post at `t0_us`.
pub fn jetstream_frames(cascade: &[CascadeEvent], t0_us: i64) -> Vec<Frame> {
    let mut announced: HashSet<&str> = HashSet::new();
    let mut out = Vec::with_capacity(cascade.len() + 64);
    let root = cascade.first().map(|e| e.id.as_str()).unwrap_or_default();
    for ev in cascade {
        let Some((did, collection, rkey)) = split_uri(&ev.id) else {
            continue;
        };
        let offset_us = ev.offset_ms * 1000;
        let time_us = t0_us + offset_us;
        let at = created_at(time_us);
        let is_post = collection == "app.bsky.feed.post";
        if is_post && !ev.author.starts_with("did:") && announced.insert(did) {
            out.push(Frame {
                offset_us,
                time_us,
                text: json!({
                    "did": did, "time_us": time_us, "kind": "identity",
                    "identity": {"did": did, "handle": ev.author, "seq": out.len() as i64 + 1, "time": at}
                })
                .to_string(),
            });
        }
        let subject = ev.subject.as_deref().unwrap_or(root);
        let record = match ev.kind {
            CascadeKind::Like => json!({
                "$type": "app.bsky.feed.like", "createdAt": at, "subject": strong_ref(subject)
            }),
            CascadeKind::Repost => json!({
                "$type": "app.bsky.feed.repost", "createdAt": at, "subject": strong_ref(subject)
            }),
            CascadeKind::Post | CascadeKind::Reply | CascadeKind::Quote => {
                let mut r = json!({
                    "$type": "app.bsky.feed.post",
                    "createdAt": at,
                    "text": ev.text.clone().unwrap_or_default(),
                    "langs": ev.lang.iter().collect::<Vec<_>>(),
                });
                if ev.kind == CascadeKind::Reply {
                    r["reply"] = json!({"root": strong_ref(root), "parent": strong_ref(subject)});
                }
                if ev.kind == CascadeKind::Quote {
                    r["embed"] =
                        json!({"$type": "app.bsky.embed.record", "record": strong_ref(subject)});
                }
                r
            }
        };
        out.push(Frame {
            offset_us,
            time_us,
            text: json!({
                "did": did,
                "time_us": time_us,
                "kind": "commit",
                "commit": {
                    "rev": rkey, "operation": "create", "collection": collection,
                    "rkey": rkey, "record": record, "cid": "bafyreidemo"
                }
            })
            .to_string(),
        });
    }
    out
}

/// When the cascade's reach (reposts and quotes, the reshares SEISMIC forecasts) reaches
/// `share` (e.g. 0.9) of its final value, in milliseconds after the original post.
pub fn reach_time_ms(cascade: &[CascadeEvent], share: f64) -> Option<i64> {
    let reshares: Vec<i64> = cascade
        .iter()
        .filter(|e| matches!(e.kind, CascadeKind::Repost | CascadeKind::Quote))
        .map(|e| e.offset_ms)
        .collect();
    if reshares.is_empty() {
        return None;
    }
    let k = ((reshares.len() as f64 * share).ceil() as usize).clamp(1, reshares.len());
    Some(reshares[k - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{WorldConfig, generate};

    #[test]
    fn frames_cover_the_cascade_in_order_and_name_the_story_author() {
        let world = generate(&WorldConfig {
            reports: 200,
            cascade_hours: 1.0,
            ..Default::default()
        });
        let frames = jetstream_frames(&world.cascade, 1_000_000);
        let commits = frames
            .iter()
            .filter(|f| f.text.contains("\"kind\":\"commit\""))
            .count();
        assert_eq!(commits, world.cascade.len());
        assert!(frames.windows(2).all(|w| w[0].time_us <= w[1].time_us));
        let first: Value = serde_json::from_str(&frames[0].text).unwrap();
        assert_eq!(first["kind"], "identity");
        assert_eq!(first["identity"]["handle"], world.story.handle.as_str());
        assert!(reach_time_ms(&world.cascade, 0.9).is_some_and(|t| t > 0));
    }
}
