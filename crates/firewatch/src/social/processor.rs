//! The social pipeline's in-memory part: every post is triaged; a post that names a catalog
//! product with a hazard (occurred or potential; triage already drops negated and figurative
//! ones) becomes a mention; likes, reposts, quotes, replies, Mastodon counters and copies of the
//! same text (by `text_fingerprint`) become engagement of the mention; reshares feed one SEISMIC
//! forecaster per mention.
//!
//! No I/O here: [`Processor::process`] appends what must be stored to a [`Pending`], and the
//! caller writes it in one store transaction. The benchmark example includes this file as is.

use firewatch_connectors::{Engagement, Item, Post, Source, text_fingerprint};
use firewatch_domain::intake::{Channel, NewReport, ProductDetails, Reporter};
use firewatch_domain::{InjuryLevel, Modality};
use firewatch_forecast::{CascadeForecaster, Prediction};
use firewatch_store::social::{
    EngagementRecord, ForecastUpdate, MentionForecast, MentionRecord, NewEngagement, NewMention,
};
use firewatch_store::{Actor, IntakeCommand, ReceiptHazard};
use firewatch_triage::Triager;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Arc;

/// Longest post text kept (characters); longer texts are cut before triage.
pub const MAX_POST_CHARS: usize = 10_000;
/// DID -> handle entries kept (cleared when full).
const MAX_HANDLES: usize = 1_000_000;
/// Reshares a single counters poll may add to a forecaster.
const MAX_COUNTS_DELTA: u64 = 10_000;

/// The forecast and escalation settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// The case's reach threshold: final reshares whose crossing is worth escalating.
    pub reach_threshold: f64,
    /// SEISMIC's n* (mean follower scale of the network).
    pub n_star: f64,
    /// Followers assumed when the source gives none (Jetstream carries no counts).
    pub default_followers: f64,
    /// Escalate when P(final > threshold) reaches this.
    pub escalate_p_exceed: f64,
    /// Escalate when the point forecast is supercritical (infinite).
    pub escalate_on_infinite: bool,
    /// Reshares a mention needs before it may escalate (a forecast on 2 shares is noise).
    pub escalate_min_reshares: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            reach_threshold: 1000.0,
            n_star: 100.0,
            default_followers: 100.0,
            escalate_p_exceed: 0.5,
            escalate_on_infinite: true,
            escalate_min_reshares: 5,
        }
    }
}

struct Tracked {
    t0_us: i64,
    author: String,
    fc: CascadeForecaster,
    /// Seconds after the original of the latest reshare pushed (pushes must be in order).
    last_s: f64,
    /// The latest event seen, seconds after the original: the forecast's "now".
    now_s: f64,
    reshares: usize,
    seen: HashSet<u64>,
    counts_reposts: u64,
    escalated: bool,
    dirty: bool,
}

/// What to store after processing some items.
#[derive(Debug, Default)]
pub struct Pending {
    pub mentions: Vec<NewMention>,
    pub engagements: Vec<NewEngagement>,
}

/// A mention whose forecast crossed the escalation level.
#[derive(Debug, Clone, PartialEq)]
pub struct EscalationDue {
    pub post_id: String,
    pub forecast: MentionForecast,
    pub reshares: usize,
    pub threshold: f64,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub items: u64,
    pub posts_triaged: u64,
    pub mentions: u64,
    pub engagements: u64,
    pub reshares_pushed: u64,
}

pub struct Processor {
    triager: Arc<Triager>,
    pub tuning: Tuning,
    tracked: HashMap<String, Tracked>,
    by_fingerprint: HashMap<u64, String>,
    /// Mastodon instance-local id -> post id (replies name the parent's local id).
    by_native: HashMap<String, String>,
    /// Copies (same text, other author) -> the mention they copy: their likes and reposts
    /// count for the mention too.
    aliases: HashMap<String, String>,
    /// Bluesky DID -> handle, from Jetstream identity frames (Jetstream posts carry only the
    /// DID), so a mention's author can match a case's reporter handle. Bounded.
    handles: HashMap<String, String>,
    hasher: std::collections::hash_map::RandomState,
    pub stats: Stats,
}

fn is_reshare(kind: &str) -> bool {
    matches!(kind, "repost" | "quote" | "copy")
}

fn to_forecast(f: &firewatch_forecast::Forecast) -> MentionForecast {
    let v = |p: Prediction| p.as_f64();
    MentionForecast {
        predicted_final: v(f.predicted_final),
        lower: v(f.lower),
        upper: v(f.upper),
        p_exceed: f.p_exceed,
        infinite: f.infinite,
    }
}

impl Processor {
    pub fn new(triager: Arc<Triager>, tuning: Tuning) -> Self {
        Processor {
            triager,
            tuning,
            tracked: HashMap::new(),
            by_fingerprint: HashMap::new(),
            by_native: HashMap::new(),
            aliases: HashMap::new(),
            handles: HashMap::new(),
            hasher: Default::default(),
            stats: Stats::default(),
        }
    }

    /// Mentions tracked in memory.
    #[allow(dead_code)] // used by the benchmark example
    pub fn tracked(&self) -> usize {
        self.tracked.len()
    }

    fn key(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        post_id: &str,
        t0_us: i64,
        author: &str,
        followers: f64,
        fingerprint: u64,
        native: Option<&str>,
        escalated: bool,
    ) {
        let mut fc = CascadeForecaster::new();
        let _ = fc.push(0.0, followers.max(0.0));
        self.tracked.insert(
            post_id.to_string(),
            Tracked {
                t0_us,
                author: author.to_string(),
                fc,
                last_s: 0.0,
                now_s: 0.0,
                reshares: 0,
                seen: HashSet::new(),
                counts_reposts: 0,
                escalated,
                dirty: false,
            },
        );
        self.by_fingerprint
            .entry(fingerprint)
            .or_insert_with(|| post_id.to_string());
        if let Some(n) = native {
            self.by_native.insert(n.to_string(), post_id.to_string());
        }
    }

    /// Rebuilds the forecasters from the store (at start-up).
    pub fn restore(&mut self, mentions: &[MentionRecord], engagements: &[EngagementRecord]) {
        for m in mentions {
            let fp = u64::from_str_radix(&m.fingerprint, 16).unwrap_or(0);
            let followers = m
                .followers
                .map(|f| f as f64)
                .unwrap_or(self.tuning.default_followers);
            self.track(
                &m.post_id,
                m.created_at_us,
                &m.author,
                followers,
                fp,
                m.native_id.as_deref(),
                m.escalated_at_ms.is_some(),
            );
        }
        for e in engagements {
            let id_key = self.key(&e.id);
            let default_followers = self.tuning.default_followers;
            if e.kind == "copy" {
                self.aliases.insert(e.id.clone(), e.post_id.clone());
            }
            let Some(t) = self.tracked.get_mut(&e.post_id) else {
                continue;
            };
            t.seen.insert(id_key);
            let at_s = ((e.at_us - t.t0_us) as f64 / 1e6).max(t.last_s);
            t.now_s = t.now_s.max(at_s);
            let followers = e.followers.map(|f| f as f64).unwrap_or(default_followers);
            if e.kind == "counts" {
                t.counts_reposts += e.amount.max(0) as u64;
            }
            if is_reshare(&e.kind) || e.kind == "counts" {
                for _ in 0..e.amount.clamp(0, MAX_COUNTS_DELTA as i64) {
                    if t.fc.push(at_s, followers).is_ok() {
                        t.last_s = at_s;
                        t.reshares += 1;
                    }
                }
            }
            t.dirty = true;
        }
    }

    /// Processes one parsed item; what must be stored goes to `out`.
    pub fn process(&mut self, item: Item, actor: &Actor, received_at_ms: i64, out: &mut Pending) {
        self.stats.items += 1;
        match item {
            Item::Post(p) => self.post(p, actor, received_at_ms, out),
            Item::Engagement(e) => self.engagement(e, out),
            Item::Identity {
                did,
                handle: Some(handle),
                ..
            } => {
                if self.handles.len() >= MAX_HANDLES {
                    self.handles.clear();
                }
                self.handles.insert(did, handle);
            }
            Item::Delete { .. } | Item::Identity { .. } | Item::Ignored(_) => {}
        }
    }

    fn resolve(&self, subject: &str) -> Option<String> {
        if self.tracked.contains_key(subject) {
            Some(subject.to_string())
        } else {
            self.by_native
                .get(subject)
                .or_else(|| self.aliases.get(subject))
                .cloned()
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn engage(
        &mut self,
        id: &str,
        subject: &str,
        kind: &str,
        actor: Option<&str>,
        followers: Option<u64>,
        at_us: i64,
        amount: u64,
        out: &mut Pending,
    ) -> bool {
        let Some(post_id) = self.resolve(subject) else {
            return false;
        };
        let key = self.key(id);
        let default_followers = self.tuning.default_followers;
        let Some(t) = self.tracked.get_mut(&post_id) else {
            return false;
        };
        if !t.seen.insert(key) {
            return true; // already counted (a replay after a reconnect)
        }
        let at_s = ((at_us - t.t0_us) as f64 / 1e6).max(t.last_s);
        t.now_s = t.now_s.max(at_s);
        if is_reshare(kind) || kind == "counts" {
            let f = followers.map(|f| f as f64).unwrap_or(default_followers);
            for _ in 0..amount.min(MAX_COUNTS_DELTA) {
                if t.fc.push(at_s, f).is_ok() {
                    t.last_s = at_s;
                    t.reshares += 1;
                    self.stats.reshares_pushed += 1;
                }
            }
        }
        t.dirty = true;
        self.stats.engagements += 1;
        out.engagements.push(NewEngagement {
            id: id.to_string(),
            post_id,
            kind: kind.to_string(),
            actor: actor.map(str::to_string),
            followers: followers.map(|f| f.min(i64::MAX as u64) as i64),
            at_us,
            amount: amount as i64,
        });
        true
    }

    fn engagement(&mut self, e: Engagement, out: &mut Pending) {
        match e {
            Engagement::Like {
                id,
                subject,
                at_us,
                actor,
            } => {
                self.engage(&id, &subject, "like", Some(&actor), None, at_us, 1, out);
            }
            Engagement::Repost {
                id,
                subject,
                at_us,
                actor,
                ..
            } => {
                self.engage(&id, &subject, "repost", Some(&actor), None, at_us, 1, out);
            }
            Engagement::Reply {
                subject,
                post,
                at_us,
                actor,
            } => {
                self.engage(&post, &subject, "reply", Some(&actor), None, at_us, 1, out);
            }
            Engagement::Quote {
                subject,
                post,
                at_us,
                actor,
            } => {
                self.engage(&post, &subject, "quote", Some(&actor), None, at_us, 1, out);
            }
            Engagement::Counts {
                subject,
                reposts,
                at_us,
                ..
            } => {
                let Some(post_id) = self.resolve(&subject) else {
                    return;
                };
                let before = self
                    .tracked
                    .get(&post_id)
                    .map(|t| t.counts_reposts)
                    .unwrap_or(0);
                if reposts > before {
                    if let Some(t) = self.tracked.get_mut(&post_id) {
                        t.counts_reposts = reposts;
                    }
                    let id = format!("counts:{post_id}:{at_us}");
                    self.engage(
                        &id,
                        &post_id,
                        "counts",
                        None,
                        None,
                        at_us,
                        reposts - before,
                        out,
                    );
                }
            }
        }
    }

    fn post(&mut self, mut p: Post, actor: &Actor, received_at_ms: i64, out: &mut Pending) {
        if self.tracked.contains_key(&p.id) {
            return; // already a mention (a replay)
        }
        if p.author_handle.starts_with("did:")
            && let Some(h) = self.handles.get(&p.author_handle)
        {
            p.author_handle = h.clone();
        }
        // Replies, quotes and reposts of a mention are its engagement.
        let mut engaged = false;
        let followers = p.author_followers;
        for e in p.engagements().collect::<Vec<_>>() {
            engaged |= match e {
                Engagement::Reply {
                    subject,
                    post,
                    at_us,
                    actor,
                } => self.engage(
                    &post,
                    &subject,
                    "reply",
                    Some(&actor),
                    followers,
                    at_us,
                    1,
                    out,
                ),
                Engagement::Quote {
                    subject,
                    post,
                    at_us,
                    actor,
                } => self.engage(
                    &post,
                    &subject,
                    "quote",
                    Some(&actor),
                    followers,
                    at_us,
                    1,
                    out,
                ),
                Engagement::Repost {
                    id,
                    subject,
                    at_us,
                    actor,
                    ..
                } => self.engage(
                    &id,
                    &subject,
                    "repost",
                    Some(&actor),
                    followers,
                    at_us,
                    1,
                    out,
                ),
                _ => false,
            };
        }
        if engaged {
            return;
        }
        if p.text.chars().count() > MAX_POST_CHARS {
            p.text = p.text.chars().take(MAX_POST_CHARS).collect();
        }
        // The same text posted by someone else: a copy, grouped with the first mention.
        let fp = text_fingerprint(&p.text);
        if let Some(original) = self.by_fingerprint.get(&fp).cloned()
            && self
                .tracked
                .get(&original)
                .is_some_and(|t| t.author != p.author_handle)
        {
            self.aliases.insert(p.id.clone(), original.clone());
            self.engage(
                &p.id,
                &original,
                "copy",
                Some(&p.author_handle),
                followers,
                p.created_at_us,
                1,
                out,
            );
            return;
        }
        self.stats.posts_triaged += 1;
        let result = self.triager.triage(&p.text, p.lang.as_deref());
        let Some(product) = result.primary_product() else {
            return;
        };
        if result.hazards.is_empty() {
            return;
        }
        let hazards: Vec<ReceiptHazard> = result
            .hazards
            .iter()
            .map(|h| ReceiptHazard {
                code: h.code.as_str().to_string(),
                modality: match h.modality {
                    Modality::Occurred => "occurred".into(),
                    Modality::Potential => "potential".into(),
                },
            })
            .collect();
        let occurred: Vec<String> = result
            .hazards
            .iter()
            .filter(|h| h.modality == Modality::Occurred)
            .map(|h| h.code.as_str().to_string())
            .collect();
        let product = (product.brand.clone(), product.model.clone());
        let language = p
            .lang
            .clone()
            .or_else(|| (result.language != "und").then(|| result.language.clone()));
        let channel = if p.source == Source::Feed {
            Channel::News
        } else {
            Channel::Social
        };
        let report = NewReport {
            narrative: p.text.clone(),
            language: language.clone(),
            product: ProductDetails {
                brand: Some(product.0.clone()),
                model: Some(product.1.clone()),
                ..ProductDetails::default()
            },
            occurred_at: None,
            country: None,
            reporter: Reporter {
                handle: Some(p.author_handle.clone()),
                ..Reporter::default()
            },
            injuries: InjuryLevel::Unknown,
            channel,
        };
        let intake = IntakeCommand {
            idempotency_key: Some(p.id.clone()),
            request_hash: format!("social:{fp:016x}"),
            report,
            hazards: occurred,
            reported_hazards: hazards.clone(),
            case_product: (Some(product.0.clone()), Some(product.1.clone())),
            triage_json: serde_json::to_string(&result).unwrap_or_else(|_| "{}".into()),
            severity: result.severity_with(InjuryLevel::Unknown),
            attachments: Vec::new(),
            received_at_ms,
            actor: actor.clone(),
        };
        let followers_f = followers
            .map(|f| f as f64)
            .unwrap_or(self.tuning.default_followers);
        self.track(
            &p.id,
            p.created_at_us,
            &p.author_handle,
            followers_f,
            fp,
            p.native_id.as_deref(),
            false,
        );
        if let Some(t) = self.tracked.get_mut(&p.id) {
            t.dirty = true;
        }
        self.stats.mentions += 1;
        out.mentions.push(NewMention {
            post_id: p.id,
            source: p.source.as_str().to_string(),
            native_id: p.native_id,
            author: p.author_handle,
            followers: followers.map(|f| f.min(i64::MAX as u64) as i64),
            text: p.text,
            url: p.url,
            lang: language,
            created_at_us: p.created_at_us,
            fingerprint: format!("{fp:016x}"),
            product,
            hazards,
            intake,
        });
    }

    /// Forecasts of the mentions changed since the last call, and those whose forecast crossed
    /// the escalation level (not yet escalated).
    pub fn take_forecasts(&mut self) -> (Vec<ForecastUpdate>, Vec<EscalationDue>) {
        let tuning = self.tuning;
        let mut updates = Vec::new();
        let mut due = Vec::new();
        for (post_id, t) in self.tracked.iter_mut().filter(|(_, t)| t.dirty) {
            t.dirty = false;
            let Ok(f) =
                t.fc.forecast(t.now_s, tuning.reach_threshold, tuning.n_star)
            else {
                continue;
            };
            let forecast = to_forecast(&f);
            updates.push(ForecastUpdate {
                post_id: post_id.clone(),
                forecast,
            });
            let crossed = forecast.p_exceed >= tuning.escalate_p_exceed
                || (tuning.escalate_on_infinite && forecast.infinite);
            if crossed && !t.escalated && t.reshares >= tuning.escalate_min_reshares {
                due.push(EscalationDue {
                    post_id: post_id.clone(),
                    forecast,
                    reshares: t.reshares,
                    threshold: tuning.reach_threshold,
                });
            }
        }
        (updates, due)
    }

    /// Records that the mention's case was escalated (never again for this mention).
    pub fn mark_escalated(&mut self, post_id: &str) {
        if let Some(t) = self.tracked.get_mut(post_id) {
            t.escalated = true;
        }
    }

    /// Instance-local ids of the Mastodon mentions (their counters are polled).
    pub fn native_ids(&self) -> Vec<String> {
        self.by_native.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firewatch_connectors::parse_posts_jsonl_line;

    fn processor() -> Processor {
        let catalog = firewatch_triage::Catalog::from_csv_str(
            "brand,model,aliases,category,price,currency\nVoltra,Note7 Pro,N7P,phone,499,EUR\n",
        )
        .unwrap();
        Processor::new(
            Arc::new(Triager::new(catalog)),
            Tuning {
                escalate_min_reshares: 1,
                ..Tuning::default()
            },
        )
    }

    fn feed(p: &mut Processor, lines: &[serde_json::Value]) -> Pending {
        let mut out = Pending::default();
        for l in lines {
            let item = parse_posts_jsonl_line(&l.to_string()).unwrap();
            p.process(item, &Actor("t".into()), 0, &mut out);
        }
        out
    }

    #[test]
    fn only_product_hazard_posts_become_mentions_and_replays_count_once() {
        let mut p = processor();
        let t0 = 1_767_000_000_000_000i64;
        let post = |id: &str, author: &str, text: &str| serde_json::json!({"id": id, "author": author, "text": text, "created_at_us": t0, "lang": "en"});
        let out = feed(
            &mut p,
            &[
                post("a", "ann", "My Voltra Note7 Pro exploded and caught fire"),
                post(
                    "b",
                    "bob",
                    "My Voltra Note7 Pro did not catch fire, all good",
                ),
                post("c", "cat", "This Voltra Note7 Pro deal is fire"),
                post("d", "dan", "My phone exploded and caught fire"),
            ],
        );
        let ids: Vec<&str> = out.mentions.iter().map(|m| m.post_id.as_str()).collect();
        assert_eq!(
            ids,
            ["a"],
            "negated, figurative and product-less posts are not mentions"
        );
        assert_eq!(out.mentions[0].intake.idempotency_key.as_deref(), Some("a"));
        let repost = serde_json::json!({"id": "r1", "author": "eve", "text": "", "repost_of": "a",
                                        "created_at_us": t0 + 60_000_000});
        let copy = post("a2", "fay", "My Voltra Note7 Pro exploded and caught fire!");
        let out = feed(&mut p, &[repost.clone(), copy, repost]);
        let kinds: Vec<&str> = out.engagements.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["repost", "copy"], "the replayed repost counts once");
        assert!(out.mentions.is_empty());
        // A reply to the copy counts for the original mention.
        let out = feed(
            &mut p,
            &[
                serde_json::json!({"id": "x", "author": "gus", "text": "wow", "reply_to": "a2", "created_at_us": t0 + 1}),
            ],
        );
        assert_eq!(out.engagements[0].post_id, "a");
        let (updates, _) = p.take_forecasts();
        assert_eq!(updates.len(), 1);
        assert_eq!(
            p.stats.reshares_pushed, 2,
            "repost + copy; the replay and the reply are not reshares"
        );
        // A Bluesky identity frame names the DID's handle: the mention's author is the handle.
        let mut out = Pending::default();
        p.process(
            Item::Identity {
                did: "did:plc:maria".into(),
                handle: Some("maria.bsky.social".into()),
                at_us: t0,
            },
            &Actor("t".into()),
            0,
            &mut out,
        );
        let out = feed(
            &mut p,
            &[post(
                "m",
                "did:plc:maria",
                "Voltra Note7 Pro battery swelled and smoked",
            )],
        );
        assert_eq!(out.mentions[0].author, "maria.bsky.social");
    }
}
