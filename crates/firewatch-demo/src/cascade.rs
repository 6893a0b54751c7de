//! The social cascade about the viral case, from a self-exciting process of the kind SEISMIC
//! (Zhao et al., KDD 2015) models: every share exposes the sharer's followers, who react after
//! a delay drawn from SEISMIC's memory kernel (constant for 5 minutes, then a power-law tail
//! with exponent 1 + 0.242, the values fitted in the paper). A few larger accounts (a tech
//! journalist, a news site, a consumer group) quote the post at fixed times, as they do in real
//! stories; Voltra's statement comes late.

use crate::calendar::rfc3339_utc;
use crate::story::HANDLE;
use crate::{WorldConfig, exposure::normal};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::Serialize;
use serde_json::{Map, Value, json};

/// The kind of a cascade event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CascadeKind {
    Post,
    Repost,
    Quote,
    Reply,
    Like,
}

/// One event of the cascade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CascadeEvent {
    /// Milliseconds after the original post.
    pub offset_ms: i64,
    pub kind: CascadeKind,
    /// The post's (or like's) id: an at:// URI.
    pub id: String,
    /// Handle of the author (DID for likes).
    pub author: String,
    pub followers: u64,
    /// The post this engages with (none for the original).
    pub subject: Option<String>,
    pub text: Option<String>,
    pub lang: Option<String>,
}

const THETA: f64 = 0.242;
const S0: f64 = 300.0;
/// Mean reactions per share: A * followers^GAMMA.
const A: f64 = 0.018;
const GAMMA: f64 = 0.8;
const MAX_EVENTS: usize = 8000;

/// A delay from SEISMIC's memory kernel.
fn delay<R: Rng>(rng: &mut R) -> f64 {
    if rng.random::<f64>() < THETA / (1.0 + THETA) {
        rng.random::<f64>() * S0
    } else {
        S0 * rng.random::<f64>().max(1e-12).powf(-1.0 / THETA)
    }
}

fn poisson<R: Rng>(rng: &mut R, mean: f64) -> usize {
    if mean > 50.0 {
        return (mean + mean.sqrt() * normal(rng)).round().max(0.0) as usize;
    }
    let l = (-mean).exp();
    let (mut k, mut p) = (0usize, 1.0f64);
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

struct Node {
    t: f64,
    kind: CascadeKind,
    followers: f64,
    /// Index of the node whose post this engages (for reposts: the original's).
    subject: Option<usize>,
    text: Option<(&'static str, &'static str)>,
    author: String,
    /// Mean number of reactions, if not from followers.
    boost: Option<f64>,
}

const ROOT: &str = "My 6-day-old Voltra Note7 Pro started smoking in my hand tonight. I threw it on my \
    bag and the battery EXPLODED, everything in the bag caught fire. Had to grab the extinguisher. \
    Voltra support's answer? A new phone if I pay 50% of the price. Seriously, Voltra?";

/// (minutes after the post, handle, followers, text): the accounts that carry the story.
const HUBS: &[(f64, &str, f64, &str)] = &[
    (
        38.0,
        "nehatechwrites.bsky.social",
        185_000.0,
        "Voltra customer says his six-day-old Note7 Pro started smoking, exploded in his bag and \
         set it on fire. Support's offer: a new phone if he pays half. I've asked Voltra for comment.",
    ),
    (
        112.0,
        "gadgetpulse.news",
        420_000.0,
        "Voltra Note7 Pro explodes in owner's bag; support offered a half-price replacement",
    ),
    (
        150.0,
        "safeconsumers.org",
        45_000.0,
        "A remedy where the victim of a battery fire pays 50% is unacceptable. We have asked Voltra \
         to investigate the Note7 Pro.",
    ),
];

const QUOTES: &[(&str, &str)] = &[
    (
        "en",
        "Half price for a phone that exploded in his bag?? What is this, Voltra",
    ),
    (
        "en",
        "Voltra support really said pay 50% for a replacement. Wow.",
    ),
    (
        "en",
        "Not the first exploding phone story this year. Does the Note7 Pro have a pattern?",
    ),
    ("en", "Boycott Voltra until they make this right"),
    (
        "en",
        "Voltra's PR team is on fire today, for all the wrong reasons",
    ),
    (
        "en",
        "My Voltra PowerCell 20K swelled up last month, now I'm scared to use it",
    ),
    (
        "en",
        "Same with my Voltra power bank, it got super hot and started smoking",
    ),
    (
        "en",
        "This is why I don't buy Voltra. Glad nobody was seriously hurt",
    ),
    (
        "hi-Latn",
        "Yeh toh bahut dangerous hai, Voltra ko sharam aani chahiye",
    ),
    (
        "fr",
        "Le téléphone explose et Voltra demande de payer la moitié du remplacement. Incroyable.",
    ),
    (
        "de",
        "Das Handy explodiert und der Support will 50 % für ein neues. Unfassbar.",
    ),
    (
        "es",
        "¿Le explota el teléfono y le cobran la mitad del reemplazo? Increíble.",
    ),
    (
        "pt",
        "O celular explodiu e a Voltra quer cobrar metade da troca? Absurdo.",
    ),
    (
        "id",
        "HP meledak malah disuruh bayar setengah harga, parah Voltra",
    ),
];

const REPLIES: &[(&str, &str)] = &[
    ("en", "Are you okay? Hope your hand is fine"),
    ("en", "Glad you're safe!"),
    ("en", "Report it to the consumer protection agency"),
    ("en", "Did they at least take the phone back for analysis?"),
    ("en", "I have the same phone, should I be worried?"),
    ("en", "Voltra please respond to this"),
    ("en", "Their support is a joke"),
    ("en", "Sales exploded last year, now the phones do too"),
    ("en", "Keep the phone, don't give it back without a receipt"),
    ("en", "This thread is fire, sadly not figuratively"),
    ("hi-Latn", "Bhai aap theek ho? Consumer court jao"),
    (
        "fr",
        "Courage, et surtout ne rendez pas le téléphone sans reçu",
    ),
    (
        "de",
        "Gute Besserung! Unbedingt den Verbraucherschutz einschalten",
    ),
];

const NAMES: &[&str] = &[
    "sam", "priya", "leo", "maya", "ravi", "nina", "omar", "lina", "tom", "ana", "kai", "zoe",
    "ivan", "mei", "jon", "sara", "dev", "ines", "luca", "yuki", "aditi", "ben", "clara", "tariq",
];

fn handle<R: Rng>(rng: &mut R) -> String {
    let name = NAMES.choose(rng).copied().unwrap_or("user");
    format!("{name}{}.bsky.social", rng.random_range(1..10_000))
}

fn did<R: Rng>(rng: &mut R) -> String {
    const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let s: String = (0..24)
        .map(|_| B32[rng.random_range(0..32)] as char)
        .collect();
    format!("did:plc:{s}")
}

fn rkey<R: Rng>(rng: &mut R, t_us: i64) -> String {
    // TID-like: base32-sortable time plus randomness.
    const B32: &[u8] = b"234567abcdefghijklmnopqrstuvwxyz";
    let mut v = (t_us as u64) << 10 | rng.random_range(0..1024u64);
    let mut s = [b'2'; 13];
    for c in s.iter_mut().rev() {
        *c = B32[(v & 31) as usize];
        v >>= 5;
    }
    String::from_utf8_lossy(&s).into_owned()
}

/// Generates the cascade starting at `start_unix`; returns the events (time-ordered) and the
/// posts JSONL.
pub(crate) fn generate<R: Rng>(
    rng: &mut R,
    config: &WorldConfig,
    start_unix: i64,
) -> (Vec<CascadeEvent>, String) {
    let horizon = config.cascade_hours * 3600.0;
    let mut nodes = vec![Node {
        t: 0.0,
        kind: CascadeKind::Post,
        followers: 2_300.0,
        subject: None,
        text: Some(("en", ROOT)),
        author: HANDLE.to_string(),
        boost: Some(45.0),
    }];
    for &(minutes, h, followers, text) in HUBS {
        if minutes * 60.0 < horizon {
            nodes.push(Node {
                t: minutes * 60.0,
                kind: CascadeKind::Quote,
                followers,
                subject: Some(0),
                text: Some(("en", text)),
                author: h.to_string(),
                boost: None,
            });
        }
    }
    // Voltra's statement, 20 minutes after head office's reversal (story timeline), as a
    // reply to the original.
    let statement_t = horizon * 0.8 + 20.0 * 60.0;
    nodes.push(Node {
        t: statement_t,
        kind: CascadeKind::Reply,
        followers: 310_000.0,
        subject: Some(0),
        text: Some((
            "en",
            "We have been in touch with our customer and the matter has been settled amicably. \
             The safety of our customers is our highest priority.",
        )),
        author: "voltra.bsky.social".into(),
        boost: Some(0.0),
    });
    if statement_t >= horizon {
        nodes.pop();
    }

    let mut i = 0;
    while i < nodes.len() && nodes.len() < MAX_EVENTS {
        let spreads = matches!(
            nodes[i].kind,
            CascadeKind::Post | CascadeKind::Repost | CascadeKind::Quote
        );
        if spreads {
            let mean = nodes[i]
                .boost
                .unwrap_or_else(|| A * nodes[i].followers.powf(GAMMA));
            let seen = match nodes[i].kind {
                CascadeKind::Repost => nodes[i].subject.unwrap_or(0),
                _ => i,
            };
            for _ in 0..poisson(rng, mean) {
                let t = nodes[i].t + delay(rng);
                if t >= horizon || nodes.len() >= MAX_EVENTS {
                    continue;
                }
                let x: f64 = rng.random();
                let kind = if x < 0.52 {
                    CascadeKind::Like
                } else if x < 0.78 {
                    CascadeKind::Repost
                } else if x < 0.90 {
                    CascadeKind::Reply
                } else {
                    CascadeKind::Quote
                };
                let text = match kind {
                    CascadeKind::Quote => QUOTES.choose(rng).copied(),
                    CascadeKind::Reply => REPLIES.choose(rng).copied(),
                    _ => None,
                };
                let followers = (85f64.ln() + 1.9 * normal(rng))
                    .exp()
                    .clamp(0.0, 80_000.0)
                    .round();
                let author = if kind == CascadeKind::Like {
                    did(rng)
                } else {
                    handle(rng)
                };
                nodes.push(Node {
                    t,
                    kind,
                    followers,
                    subject: Some(seen),
                    text,
                    author,
                    boost: None,
                });
            }
        }
        i += 1;
    }

    // Ids, in time order.
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|&a, &b| nodes[a].t.total_cmp(&nodes[b].t).then(a.cmp(&b)));
    let mut ids = vec![String::new(); nodes.len()];
    let mut dids = vec![String::new(); nodes.len()];
    for &k in &order {
        let n = &nodes[k];
        let t_us = start_unix * 1_000_000 + (n.t * 1e6) as i64;
        let d = if n.kind == CascadeKind::Like {
            n.author.clone()
        } else {
            did(rng)
        };
        let collection = match n.kind {
            CascadeKind::Like => "app.bsky.feed.like",
            CascadeKind::Repost => "app.bsky.feed.repost",
            _ => "app.bsky.feed.post",
        };
        ids[k] = format!("at://{d}/{collection}/{}", rkey(rng, t_us));
        dids[k] = d;
    }
    let mut events = Vec::with_capacity(nodes.len());
    let mut jsonl = String::with_capacity(nodes.len() * 300);
    for &k in &order {
        let n = &nodes[k];
        let t_us = start_unix * 1_000_000 + (n.t * 1e6) as i64;
        let subject = n.subject.map(|s| ids[s].clone());
        let ev = CascadeEvent {
            offset_ms: (n.t * 1000.0) as i64,
            kind: n.kind,
            id: ids[k].clone(),
            author: n.author.clone(),
            followers: n.followers as u64,
            subject: subject.clone(),
            text: n.text.map(|(_, t)| t.to_string()),
            lang: n.text.map(|(l, _)| l.to_string()),
        };
        let line = match n.kind {
            CascadeKind::Like => {
                like_frame(&dids[k], &ids[k], t_us, subject.as_deref().unwrap_or(""))
            }
            _ => own_post(&ev, t_us),
        };
        jsonl.push_str(&line);
        jsonl.push('\n');
        events.push(ev);
    }
    (events, jsonl)
}

fn own_post(ev: &CascadeEvent, t_us: i64) -> String {
    let mut o = Map::new();
    o.insert("id".into(), json!(ev.id));
    o.insert("text".into(), json!(ev.text.clone().unwrap_or_default()));
    o.insert("created_at_us".into(), json!(t_us));
    o.insert("author".into(), json!(ev.author));
    o.insert("author_followers".into(), json!(ev.followers));
    if let Some(l) = &ev.lang {
        o.insert("lang".into(), json!(l));
    }
    if let Some(rest) = ev.id.strip_prefix("at://")
        && ev.kind != CascadeKind::Repost
    {
        let rk = rest.rsplit('/').next().unwrap_or_default();
        o.insert(
            "url".into(),
            json!(format!("https://bsky.app/profile/{}/post/{rk}", ev.author)),
        );
    }
    let rel = match ev.kind {
        CascadeKind::Reply => Some("reply_to"),
        CascadeKind::Quote => Some("quote_of"),
        CascadeKind::Repost => Some("repost_of"),
        _ => None,
    };
    if let (Some(rel), Some(s)) = (rel, &ev.subject) {
        o.insert(rel.into(), json!(s));
    }
    Value::Object(o).to_string()
}

fn like_frame(did: &str, id: &str, t_us: i64, subject: &str) -> String {
    let rkey = id.rsplit('/').next().unwrap_or_default();
    json!({
        "did": did,
        "time_us": t_us,
        "kind": "commit",
        "commit": {
            "rev": rkey,
            "operation": "create",
            "collection": "app.bsky.feed.like",
            "rkey": rkey,
            "record": {
                "$type": "app.bsky.feed.like",
                "createdAt": rfc3339_utc(t_us.div_euclid(1_000_000)),
                "subject": {"uri": subject, "cid": "bafyreidemo"}
            }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_kernel_has_its_plateau_and_its_tail() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let xs: Vec<f64> = (0..20_000).map(|_| delay(&mut rng)).collect();
        let early = xs.iter().filter(|&&x| x <= S0).count() as f64 / xs.len() as f64;
        assert!((early - THETA / (1.0 + THETA)).abs() < 0.02, "{early}");
        let late = xs.iter().filter(|&&x| x > 21_600.0).count() as f64 / xs.len() as f64;
        let want = (72f64).powf(-THETA) / (1.0 + THETA);
        assert!((late - want).abs() < 0.02, "{late} vs {want}");
    }
}
