//! Records of the social and news watch (issue 6): mentions, engagement, connector state and
//! escalations. The linking and escalation rules run inside the store's write transaction
//! (`common/social.rs`), so a mention, its case and its audit events commit together.

use crate::Actor;
use crate::records::{IntakeCommand, ReceiptHazard};
use serde::Serialize;

/// A post that names a catalog product with a hazard, ready to be linked to a case.
#[derive(Debug, Clone)]
pub struct NewMention {
    /// The platform's global post id; also the idempotency key of the case it may open.
    pub post_id: String,
    pub source: String,
    /// Mastodon's instance-local status id, when known.
    pub native_id: Option<String>,
    pub author: String,
    pub followers: Option<i64>,
    pub text: String,
    pub url: Option<String>,
    pub lang: Option<String>,
    pub created_at_us: i64,
    /// The connectors' `text_fingerprint` of the text, as 16 hex digits.
    pub fingerprint: String,
    pub product: (String, String),
    pub hazards: Vec<ReceiptHazard>,
    /// The intake to run when no case matches (channel social, key = post id).
    pub intake: IntakeCommand,
}

/// One interaction with a mention. `id` is the dedupe key.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEngagement {
    pub id: String,
    pub post_id: String,
    /// like | repost | reply | quote | copy | counts
    pub kind: String,
    pub actor: Option<String>,
    pub followers: Option<i64>,
    pub at_us: i64,
    /// 1, or for a counts poll the reshares added since the previous poll.
    pub amount: i64,
}

/// The latest forecast of a mention (reshares; `f64::INFINITY` for supercritical).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MentionForecast {
    pub predicted_final: f64,
    pub lower: f64,
    pub upper: f64,
    pub p_exceed: f64,
    pub infinite: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForecastUpdate {
    pub post_id: String,
    pub forecast: MentionForecast,
}

/// Where a connector stands; saved with the batch it produced, so a restart resumes exactly
/// after what was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorCheckpoint {
    pub name: String,
    pub cursor: Option<String>,
    pub last_event_ms: Option<i64>,
    /// Events received since the previous checkpoint.
    pub events: i64,
}

/// The linking rules' settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkPolicy {
    /// How far back an open case may be to take a mention by product, hazard and text.
    pub window_ms: i64,
    /// Minimum token Jaccard between the mention and the case's texts.
    pub min_jaccard: f64,
}

impl Default for LinkPolicy {
    fn default() -> Self {
        LinkPolicy {
            window_ms: 14 * 24 * 3600 * 1000,
            min_jaccard: 0.2,
        }
    }
}

/// One write of the social pipeline: new mentions, engagement, forecasts and the connector's
/// cursor, in one transaction.
#[derive(Debug, Clone)]
pub struct SocialBatch {
    pub checkpoint: Option<ConnectorCheckpoint>,
    pub mentions: Vec<NewMention>,
    pub engagements: Vec<NewEngagement>,
    pub forecasts: Vec<ForecastUpdate>,
    pub link: LinkPolicy,
    pub actor: Actor,
}

/// Why a mention joined its case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkReason {
    ReporterHandle,
    SimilarOpenCase,
    NewCase,
}

impl LinkReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkReason::ReporterHandle => "reporter_handle",
            LinkReason::SimilarOpenCase => "similar_open_case",
            LinkReason::NewCase => "new_case",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MentionLink {
    pub post_id: String,
    pub case_id: String,
    pub reason: LinkReason,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocialOutcome {
    /// Mentions stored by this batch (those already stored are skipped).
    pub linked: Vec<MentionLink>,
    pub engagements_stored: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MentionRecord {
    pub post_id: String,
    pub case_id: String,
    pub source: String,
    pub native_id: Option<String>,
    pub author: String,
    pub followers: Option<i64>,
    pub text: String,
    pub url: Option<String>,
    pub lang: Option<String>,
    pub created_at_us: i64,
    pub fingerprint: String,
    pub product_brand: String,
    pub product_model: String,
    pub hazards: Vec<ReceiptHazard>,
    pub link_reason: String,
    pub engagements: i64,
    pub forecast: Option<MentionForecast>,
    pub escalated_at_ms: Option<i64>,
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngagementRecord {
    pub id: String,
    pub post_id: String,
    pub kind: String,
    pub followers: Option<i64>,
    pub at_us: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectorRecord {
    pub name: String,
    pub cursor: Option<String>,
    pub last_event_at_ms: Option<i64>,
    pub events: i64,
    pub errors: i64,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    pub updated_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationRecord {
    pub id: i64,
    pub case_id: String,
    pub post_id: String,
    pub roles: Vec<String>,
    pub reason: String,
    pub created_at_ms: i64,
}

/// Filters of `GET /api/v1/mentions`. Typed values, never SQL text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MentionFilter {
    /// `Brand Model` or the model alone, case-insensitive.
    pub product: Option<String>,
    /// A hazard code.
    pub hazard: Option<String>,
    pub case_id: Option<String>,
    /// Minimum predicted final size (infinite passes any minimum).
    pub min_forecast: Option<f64>,
    pub limit: u32,
}

/// Lower-case word tokens of a text (letters and digits), for the Jaccard similarity.
pub fn tokens(text: &str) -> std::collections::BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .take(2000)
        .map(|w| w.to_lowercase())
        .collect()
}

/// Token Jaccard similarity in [0, 1].
pub fn jaccard(
    a: &std::collections::BTreeSet<String>,
    b: &std::collections::BTreeSet<String>,
) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let inter = a.intersection(b).count() as f64;
    inter / (a.len() as f64 + b.len() as f64 - inter)
}

/// A handle as compared for linking: no leading `@`, lower case.
pub fn normalise_handle(h: &str) -> String {
    h.trim().trim_start_matches('@').to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaccard_is_intersection_over_union() {
        let a = tokens("my voltra phone exploded");
        let b = tokens("the voltra phone exploded today");
        // {voltra, phone, exploded} / {my, voltra, phone, exploded, the, today}
        assert!((jaccard(&a, &b) - 3.0 / 6.0).abs() < 1e-12);
        assert_eq!(jaccard(&a, &tokens("nothing alike here")), 0.0);
        assert!((jaccard(&a, &a) - 1.0).abs() < 1e-12);
    }
}
