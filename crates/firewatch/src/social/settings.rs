//! `[social]` in the config file: forecast and escalation levels, linking, and the connectors.
//!
//! ```toml
//! [social]
//! reach_threshold = 1000        # final reshares worth escalating (later: from the playbook)
//! escalate_p_exceed = 0.5       # escalate when P(final > threshold) reaches this
//! [social.jetstream]
//! url = "wss://jetstream2.us-east.bsky.network/subscribe"
//! [[social.mastodon]]
//! base_url = "https://mastodon.social"
//! public = false
//! hashtags = ["recall"]
//! counts_poll_secs = 300
//! [[social.feeds]]
//! url = "https://example.org/recalls.rss"
//! poll_secs = 900
//! ```

use anyhow::bail;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SocialSettings {
    pub reach_threshold: f64,
    pub escalate_p_exceed: f64,
    pub escalate_on_infinite: bool,
    pub escalate_min_reshares: usize,
    pub escalate_roles: Vec<String>,
    pub n_star: f64,
    /// Followers assumed for a resharer when the source gives none (Bluesky).
    pub default_followers: f64,
    pub link_window_days: u32,
    pub link_min_jaccard: f64,
    /// A connector's cursor alone (nothing else to store) is saved at most this often.
    pub checkpoint_every_ms: u64,
    pub jetstream: Option<JetstreamSettings>,
    pub mastodon: Vec<MastodonSettings>,
    pub feeds: Vec<FeedSettings>,
}

impl Default for SocialSettings {
    fn default() -> Self {
        SocialSettings {
            reach_threshold: 1000.0,
            escalate_p_exceed: 0.5,
            escalate_on_infinite: true,
            escalate_min_reshares: 5,
            escalate_roles: vec!["hq".into(), "pr".into()],
            n_star: 100.0,
            default_followers: 100.0,
            link_window_days: 14,
            link_min_jaccard: 0.2,
            checkpoint_every_ms: 5000,
            jetstream: None,
            mastodon: Vec::new(),
            feeds: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JetstreamSettings {
    pub url: String,
    #[serde(default)]
    pub collections: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MastodonSettings {
    pub base_url: String,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub hashtags: Vec<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    /// Poll the counters of this instance's mentions every N seconds (0: off).
    #[serde(default)]
    pub counts_poll_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeedSettings {
    pub url: String,
    #[serde(default = "default_feed_poll")]
    pub poll_secs: u64,
}

fn default_feed_poll() -> u64 {
    900
}

fn check_url(what: &str, url: &str, schemes: &[&str]) -> anyhow::Result<()> {
    let ok = schemes.iter().any(|s| url.starts_with(&format!("{s}://")))
        && url.len() <= 2000
        && !url.chars().any(char::is_whitespace);
    if !ok {
        bail!(
            "social.{what}: `{url}` must be a {} URL",
            schemes.join(" or ")
        );
    }
    Ok(())
}

impl SocialSettings {
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.reach_threshold.is_finite() && self.reach_threshold > 0.0) {
            bail!("social.reach_threshold must be a number > 0");
        }
        if !(0.0..=1.0).contains(&self.escalate_p_exceed) {
            bail!("social.escalate_p_exceed must be within 0..1");
        }
        if !(self.n_star.is_finite() && self.n_star > 0.0) {
            bail!("social.n_star must be a number > 0");
        }
        if !(self.default_followers.is_finite() && self.default_followers >= 0.0) {
            bail!("social.default_followers must be a number >= 0");
        }
        if !(0.0..=1.0).contains(&self.link_min_jaccard) {
            bail!("social.link_min_jaccard must be within 0..1");
        }
        if self.link_window_days == 0 || self.link_window_days > 366 {
            bail!("social.link_window_days must be within 1..366");
        }
        for r in &self.escalate_roles {
            r.parse::<firewatch_domain::Role>()
                .map_err(|e| anyhow::anyhow!("social.escalate_roles: {e}"))?;
        }
        if self.checkpoint_every_ms > 600_000 {
            bail!("social.checkpoint_every_ms must be <= 600000");
        }
        if let Some(j) = &self.jetstream {
            check_url("jetstream.url", &j.url, &["wss", "ws"])?;
        }
        for m in &self.mastodon {
            check_url("mastodon.base_url", &m.base_url, &["https", "http"])?;
            if m.hashtags.iter().any(|h| h.is_empty() || h.len() > 100) {
                bail!("social.mastodon.hashtags: each has 1..100 characters");
            }
        }
        for f in &self.feeds {
            check_url("feeds.url", &f.url, &["https", "http"])?;
            if f.poll_secs < 10 {
                bail!("social.feeds.poll_secs must be >= 10");
            }
        }
        Ok(())
    }

    pub fn tuning(&self) -> super::processor::Tuning {
        super::processor::Tuning {
            reach_threshold: self.reach_threshold,
            n_star: self.n_star,
            default_followers: self.default_followers,
            escalate_p_exceed: self.escalate_p_exceed,
            escalate_on_infinite: self.escalate_on_infinite,
            escalate_min_reshares: self.escalate_min_reshares,
        }
    }

    pub fn link_policy(&self) -> firewatch_store::social::LinkPolicy {
        firewatch_store::social::LinkPolicy {
            window_ms: self.link_window_days as i64 * 24 * 3600 * 1000,
            min_jaccard: self.link_min_jaccard,
        }
    }
}
