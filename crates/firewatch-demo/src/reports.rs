//! Incident reports: how many (from the units in the field and the rates), when and where, in which
//! language, about what, with which narrative, reporter and photos, and their ground truth.

use crate::calendar::{Month, offset_str, rfc3339_utc, unix_seconds};
use crate::catalog::{BRAND, Category, MODELS, ModelSpec};
use crate::exposure::{Exposure, MARKETS};
use crate::photos::{self, PhotoKind};
use crate::text::{self, Inputs, Lang, Plan};
use crate::{DemoReport, Truth, WorldConfig};
use firewatch_domain::{HazardCode as H, Modality};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Map, Value, json};

/// Share of safety reports that are thermal (at baseline).
const THERMAL_SHARE_OF_SAFETY: f64 = 0.7;
/// Share of all reports that only raise a hazard as a risk (no occurred hazard).
const HEDGE_SHARE: f64 = 0.03;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Thermal,
    OtherSafety,
    Complaint,
    Hedge,
}

/// A report before ids and photos are assigned.
pub(crate) struct Draft {
    pub unix: i64,
    pub received_unix: i64,
    pub intake: Value,
    pub truth: Truth,
    pub market: &'static str,
    pub month: Month,
    pub photo_kinds: Vec<PhotoKind>,
    pub story: bool,
}

pub(crate) struct Drafts {
    pub drafts: Vec<Draft>,
    pub thermal_per_million: f64,
}

type Scenario = (u32, u8, &'static [H]);

use crate::text::{ALL, BAT};

const THERMAL: &[Scenario] = &[
    (24, ALL, &[H::ThermalOverheating]),
    (8, ALL, &[H::ThermalOverheating, H::ThermalSmoke]),
    (10, BAT, &[H::BatterySwelling]),
    (4, BAT, &[H::ThermalOverheating, H::BatterySwelling]),
    (7, ALL, &[H::ThermalSmoke]),
    (6, ALL, &[H::ThermalMelting]),
    (5, ALL, &[H::ThermalOverheating, H::ThermalMelting]),
    (5, ALL, &[H::ThermalSmoke, H::ThermalFire]),
    (
        5,
        ALL,
        &[H::ThermalSmoke, H::ThermalFire, H::DamageProperty],
    ),
    (
        3,
        BAT,
        &[H::ThermalExplosion, H::ThermalFire, H::DamageProperty],
    ),
    (3, BAT, &[H::ThermalSmoke, H::ThermalExplosion]),
    (
        2,
        BAT,
        &[
            H::ThermalSmoke,
            H::ThermalExplosion,
            H::ThermalFire,
            H::DamageProperty,
            H::InjuryBurn,
        ],
    ),
    (2, ALL, &[H::ThermalFire, H::InjuryBurn]),
    (3, ALL, &[H::ThermalOverheating, H::InjuryBurn]),
    (1, ALL, &[H::ThermalSmoke, H::ThermalFire, H::InjuryOther]),
    (2, ALL, &[H::ThermalFire, H::DamageProperty]),
];

const OTHER_SAFETY: &[Scenario] = &[
    (8, ALL, &[H::ElectricalSparks]),
    (3, ALL, &[H::ElectricalSparks, H::ElectricalShock]),
    (6, ALL, &[H::ElectricalShock]),
    (5, BAT, &[H::BatteryLeak]),
    (2, ALL, &[H::ElectricalSparks, H::DamageProperty]),
    (2, ALL, &[H::ElectricalShock, H::InjuryOther]),
];

fn pick_scenario<R: Rng>(rng: &mut R, list: &[Scenario], cat: Category) -> &'static [H] {
    let ok = |(_, m, _): &&Scenario| m & cat.bit() != 0;
    let total: u32 = list.iter().filter(ok).map(|s| s.0).sum();
    let mut x = rng.random_range(0..total.max(1));
    for s in list.iter().filter(ok) {
        if x < s.0 {
            return s.2;
        }
        x -= s.0;
    }
    list[0].2
}

/// Non-safety complaints per unit, relative, by category (phones and laptops draw more).
fn complaint_weight(cat: Category) -> f64 {
    match cat {
        Category::Phone => 1.6,
        Category::Laptop => 2.4,
        Category::PowerBank => 0.5,
        Category::Charger => 0.4,
    }
}

/// Language mix of each market's reports (weights), in MARKETS order.
fn languages(market: &str) -> &'static [(Lang, u32)] {
    match market {
        "IN" => &[(Lang::En, 30), (Lang::Hi, 28), (Lang::HiLatn, 42)],
        "FR" => &[
            (Lang::Fr, 72),
            (Lang::It, 12),
            (Lang::En, 8),
            (Lang::Es, 4),
            (Lang::Pt, 4),
        ],
        "US" => &[
            (Lang::En, 62),
            (Lang::Es, 20),
            (Lang::It, 6),
            (Lang::Zh, 5),
            (Lang::Fr, 3),
            (Lang::HiLatn, 2),
            (Lang::Pt, 2),
        ],
        "DE" => &[
            (Lang::De, 72),
            (Lang::It, 14),
            (Lang::En, 8),
            (Lang::Fr, 3),
            (Lang::Es, 3),
        ],
        "BR" => &[(Lang::Pt, 94), (Lang::Es, 4), (Lang::En, 2)],
        "ID" => &[(Lang::Id, 90), (Lang::En, 10)],
        _ => &[(Lang::Zh, 96), (Lang::En, 4)],
    }
}

fn pick_weighted<R: Rng, T: Copy>(rng: &mut R, xs: &[(T, u32)]) -> T {
    let total: u32 = xs.iter().map(|x| x.1).sum();
    let mut k = rng.random_range(0..total.max(1));
    for &(t, w) in xs {
        if k < w {
            return t;
        }
        k -= w;
    }
    xs[0].0
}

/// Standard UTC offset (minutes) of a market in a month (DST approximated by month).
fn utc_offset(market: &str, month: u32) -> i32 {
    let summer = (4..=10).contains(&month);
    match market {
        "IN" => 330,
        "FR" | "DE" => {
            if summer {
                120
            } else {
                60
            }
        }
        "US" => {
            if summer {
                -240
            } else {
                -300
            }
        }
        "BR" => -180,
        "ID" => 420,
        _ => 480,
    }
}

/// Local currency and a shop-style price ("charm pricing") from the EUR list price.
pub(crate) fn local_price(market: &str, eur: f64) -> (f64, &'static str) {
    let (rate, cur, decimals) = match market {
        "IN" => (90.0, "INR", false),
        "US" => (1.08, "USD", true),
        "BR" => (5.9, "BRL", true),
        "ID" => (17_000.0, "IDR", false),
        "CN" => (7.8, "CNY", false),
        _ => return (eur, "EUR"),
    };
    let x: f64 = eur * rate;
    let step = 10f64.powi(x.log10().floor() as i32 - 1).max(1.0);
    let p = (x / step).round() * step;
    let p = if decimals { p - 0.01 } else { p - 1.0 };
    ((p * 100.0).round() / 100.0, cur)
}

/// Randomised rounding: floor(x) plus one with probability frac(x). Keeps totals within one of
/// the expectation per cell, so rates computed from the data match the planted ones.
fn round_random<R: Rng>(rng: &mut R, x: f64) -> usize {
    let f = x.floor();
    f as usize + usize::from(rng.random::<f64>() < x - f)
}

pub(crate) fn generate<R: Rng>(
    rng: &mut R,
    config: &WorldConfig,
    exposure: &Exposure,
    planted: usize,
) -> Drafts {
    let n = config.reports as f64;
    let months = exposure.months;
    // Incidents come from the devices in use: a model's expected reports in a month follow
    // its units in the field then (sold up to and including that month, as the signal engine
    // counts them), not that month's sales. The rates below are per unit in the field per
    // month.
    let in_field: Vec<Vec<f64>> = (0..MODELS.len())
        .map(|m| {
            (0..months)
                .map(|t| exposure.model_in_field(m, t) as f64)
                .collect()
        })
        .collect();
    let total: f64 = in_field.iter().flatten().sum();
    let planted_after: f64 = in_field[planted][config.planted_start..].iter().sum();
    let weighted: f64 = (0..MODELS.len())
        .map(|m| in_field[m].iter().sum::<f64>() * complaint_weight(MODELS[m].category))
        .sum();
    let safety = config.safety_share * n;
    let lambda_thermal =
        THERMAL_SHARE_OF_SAFETY * safety / (total + (config.planted_factor - 1.0) * planted_after);
    let lambda_other = (1.0 - THERMAL_SHARE_OF_SAFETY) * safety / total;
    let lambda_hedge = HEDGE_SHARE * n / total;
    let lambda_complaint = (n - safety - HEDGE_SHARE * n).max(0.0) / weighted;

    let mut drafts = Vec::with_capacity(config.reports + config.reports / 10);
    for (mi, spec) in MODELS.iter().enumerate() {
        for (t, &units) in in_field[mi].iter().enumerate() {
            if units <= 0.0 {
                continue;
            }
            let factor = if mi == planted && t >= config.planted_start {
                config.planted_factor
            } else {
                1.0
            };
            for (kind, expected) in [
                (Kind::Thermal, lambda_thermal * units * factor),
                (Kind::OtherSafety, lambda_other * units),
                (Kind::Hedge, lambda_hedge * units),
                (
                    Kind::Complaint,
                    lambda_complaint * units * complaint_weight(spec.category),
                ),
            ] {
                for _ in 0..round_random(rng, expected) {
                    let market = pick_market(rng, exposure, mi, t);
                    drafts.push(draft(rng, config, exposure, mi, spec, market, t, kind));
                }
            }
        }
    }
    Drafts {
        drafts,
        thermal_per_million: lambda_thermal * 1e6,
    }
}

/// A report's market, in proportion to the model's units in the field per market.
fn pick_market<R: Rng>(rng: &mut R, e: &Exposure, model: usize, t: usize) -> usize {
    let total = e.model_in_field(model, t);
    let mut k = rng.random_range(0..total.max(1));
    for m in 0..MARKETS.len() {
        let u = e.in_field(model, m, t);
        if k < u {
            return m;
        }
        k -= u;
    }
    0
}

/// How the reporter names the product in the narrative.
fn product_mention<R: Rng>(rng: &mut R, spec: &ModelSpec, must_name: bool) -> String {
    let x: f64 = rng.random();
    let alias = spec.aliases.choose(rng).copied().unwrap_or(spec.model);
    if x < 0.33 {
        format!("{BRAND} {}", spec.model)
    } else if x < 0.58 {
        spec.model.to_string()
    } else if x < 0.73 {
        if rng.random::<bool>() {
            format!("{BRAND} {alias}")
        } else {
            alias.to_string()
        }
    } else if x < 0.84 {
        format!("{BRAND} {}", spec.model).to_lowercase()
    } else if x < 0.92 || must_name {
        format!("{BRAND} {}", typo(rng, spec.model))
    } else {
        BRAND.to_string()
    }
}

/// One-character typo in a name (substitution of a letter, a doubled or a dropped letter),
/// never touching digits (model numbers must stay right).
pub(crate) fn typo<R: Rng>(rng: &mut R, name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let letters: Vec<usize> = (1..chars.len())
        .filter(|&i| chars[i].is_ascii_lowercase())
        .collect();
    let Some(&i) = letters.choose(rng) else {
        return name.to_string();
    };
    let mut out = chars.clone();
    match rng.random_range(0..3) {
        0 => out[i] = (b'a' + rng.random_range(0..26u8)) as char,
        1 => out.insert(i, chars[i]),
        _ => {
            out.remove(i);
        }
    }
    out.into_iter().collect()
}

fn serial<R: Rng>(rng: &mut R) -> String {
    const A: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    let tail: String = (0..10)
        .map(|_| A[rng.random_range(0..A.len())] as char)
        .collect();
    format!("VT{tail}")
}

const MAIL_HOSTS: &[&str] = &[
    "postbox.example",
    "mailhub.example",
    "inbox.example",
    "webmail.example",
];

fn phone_number<R: Rng>(rng: &mut R, market: &str) -> String {
    let cc = match market {
        "IN" => "+91",
        "FR" => "+33",
        "US" => "+1",
        "DE" => "+49",
        "BR" => "+55",
        "ID" => "+62",
        _ => "+86",
    };
    // 555-style fictional subscriber numbers.
    format!(
        "{cc} 555 {:03} {:04}",
        rng.random_range(0..1000),
        rng.random_range(0..10_000)
    )
}

#[allow(clippy::too_many_arguments)]
fn draft<R: Rng>(
    rng: &mut R,
    config: &WorldConfig,
    exposure: &Exposure,
    mi: usize,
    spec: &ModelSpec,
    market_idx: usize,
    t: usize,
    kind: Kind,
) -> Draft {
    let market = MARKETS[market_idx];
    let month = exposure.start.plus(t as i32);
    let launch = exposure.start.plus(spec.launch).date(1);
    let first_day = if spec.launch == t as i32 { 3 } else { 1 };
    let date = month.date(rng.random_range(first_day..=month.days()));
    // Incidents cluster in the evening (charging, commuting home).
    let secs: u32 = if rng.random::<f64>() < 0.6 {
        rng.random_range(17 * 3600..24 * 3600)
    } else {
        rng.random_range(0..24 * 3600)
    };
    let offset = utc_offset(market, month.month);
    let unix = unix_seconds(date, secs, offset);
    let received_unix = unix + rng.random_range(600..3 * 86_400);

    let lang = pick_weighted(rng, languages(market));
    let bank = lang.bank();
    let channel = pick_weighted(
        rng,
        &[
            ("web", 50),
            ("phone", 22),
            ("email", 12),
            ("api", 8),
            ("social", 8),
        ],
    );

    // Days since purchase: mostly weeks to months, never before the launch.
    let max_days = (date.to_days() - launch.to_days()).max(1);
    let want = (-(rng.random::<f64>().max(1e-9)).ln() * 80.0).ceil() as i64;
    let days = want.clamp(1, max_days);
    let purchase = date.plus_days(-days);

    let with_product_fields = rng.random::<f64>() < 0.8;
    let mention = product_mention(rng, spec, !with_product_fields);
    let inputs = Inputs {
        category: spec.category,
        product: &mention,
        must_name: !with_product_fields,
        days: days as u32,
        by_phone: channel == "phone",
    };
    let plan = match kind {
        Kind::Thermal => Plan::Safety(pick_scenario(rng, THERMAL, spec.category)),
        Kind::OtherSafety => Plan::Safety(pick_scenario(rng, OTHER_SAFETY, spec.category)),
        Kind::Complaint => Plan::Complaint { hedge: false },
        Kind::Hedge => Plan::Complaint { hedge: true },
    };
    let composed = text::compose(rng, bank, &inputs, &plan);
    let is_safety = composed
        .hazards
        .iter()
        .any(|(_, m)| *m == Modality::Occurred);

    let mut obj = Map::new();
    obj.insert("narrative".into(), Value::String(composed.text));
    if rng.random::<f64>() < 0.4 {
        obj.insert("language".into(), json!(lang.tag()));
    }
    if with_product_fields {
        let mut p = Map::new();
        p.insert("brand".into(), json!(BRAND));
        let model = match rng.random_range(0..20) {
            0 | 1 => spec
                .aliases
                .choose(rng)
                .copied()
                .unwrap_or(spec.model)
                .to_string(),
            2 => spec.model.to_lowercase(),
            _ => spec.model.to_string(),
        };
        p.insert("model".into(), json!(model));
        if rng.random::<f64>() < 0.2 {
            p.insert("serial".into(), json!(serial(rng)));
        }
        if rng.random::<f64>() < 0.6 {
            p.insert("purchase_date".into(), json!(purchase.to_string()));
        }
        if rng.random::<f64>() < 0.5 {
            let (amount, currency) = local_price(market, spec.price_eur);
            p.insert(
                "price".into(),
                json!({"amount": amount, "currency": currency}),
            );
        }
        obj.insert("product".into(), Value::Object(p));
    }
    let hh = secs / 3600;
    let mm = secs / 60 % 60;
    let ss = secs % 60;
    obj.insert(
        "occurred_at".into(),
        json!(format!(
            "{date}T{hh:02}:{mm:02}:{ss:02}{}",
            offset_str(offset)
        )),
    );
    obj.insert("country".into(), json!(market));
    obj.insert("reporter".into(), reporter(rng, bank, market, channel));
    let injuries = injuries_field(rng, &composed.hazards);
    if let Some(i) = injuries {
        obj.insert("injuries".into(), json!(i));
    }
    obj.insert("channel".into(), json!(channel));

    let p_photo = if is_safety {
        (config.photo_share * 2.0).min(1.0)
    } else {
        config.photo_share * 0.45
    };
    let photo_kinds = if rng.random::<f64>() < p_photo {
        let n = if rng.random::<f64>() < 0.3 { 2 } else { 1 };
        (0..n)
            .map(|i| photos::kind_for(spec.category, &composed.hazards, i))
            .collect()
    } else {
        Vec::new()
    };
    let _ = mi;
    Draft {
        unix,
        received_unix,
        intake: Value::Object(obj),
        truth: Truth {
            hazards: composed.hazards,
            product: (BRAND.to_string(), spec.model.to_string()),
            is_safety,
            language: lang.tag().to_string(),
        },
        market,
        month,
        photo_kinds,
        story: false,
    }
}

fn reporter<R: Rng>(rng: &mut R, bank: &text::Bank, market: &str, channel: &str) -> Value {
    let (name, local) = bank.names.choose(rng).copied().unwrap_or(("Alex", "alex"));
    let mut r = Map::new();
    if rng.random::<f64>() < 0.85 {
        r.insert("name".into(), json!(name));
    }
    let n: u32 = rng.random_range(1..100);
    if channel == "social" {
        r.insert(
            "handle".into(),
            json!(format!("@{}{n}", local.replace('.', "_"))),
        );
    } else {
        let host = MAIL_HOSTS.choose(rng).copied().unwrap_or("inbox.example");
        r.insert("email".into(), json!(format!("{local}{n}@{host}")));
    }
    if channel == "phone" && rng.random::<f64>() < 0.7 {
        r.insert("phone".into(), json!(phone_number(rng, market)));
    }
    Value::Object(r)
}

fn injuries_field<R: Rng>(rng: &mut R, hazards: &[(H, Modality)]) -> Option<&'static str> {
    let occurred = |h: H| {
        hazards
            .iter()
            .any(|&(c, m)| c == h && m == Modality::Occurred)
    };
    if occurred(H::InjuryOther) {
        Some(if rng.random::<f64>() < 0.5 {
            "serious"
        } else {
            "minor"
        })
    } else if occurred(H::InjuryBurn) {
        Some(if rng.random::<f64>() < 0.15 {
            "serious"
        } else {
            "minor"
        })
    } else {
        let x: f64 = rng.random();
        if x < 0.65 {
            Some("none")
        } else if x < 0.9 {
            None
        } else {
            Some("unknown")
        }
    }
}

/// The reports, the photos (file name, bytes) and the index of the story's report, if any.
pub(crate) type Finalized = (Vec<DemoReport>, Vec<(String, Vec<u8>)>, Option<usize>);

/// Sorts by incident time, assigns ids, draws the photos. Returns the reports, the photos and
/// the index of the story's report, if any.
pub(crate) fn finalize<R: Rng>(rng: &mut R, mut drafts: Vec<Draft>) -> Finalized {
    drafts.sort_by_key(|d| d.unix);
    let mut reports = Vec::with_capacity(drafts.len());
    let mut files = Vec::new();
    let mut story = None;
    for (i, d) in drafts.into_iter().enumerate() {
        let id = format!("DEMO-{:05}", i + 1);
        let mut idx = Vec::new();
        for (k, kind) in d.photo_kinds.iter().enumerate() {
            let (bytes, ext) = photos::draw(rng, *kind);
            idx.push(files.len());
            files.push((format!("{}-{}.{ext}", id.to_lowercase(), k + 1), bytes));
        }
        if d.story {
            story = Some(i);
        }
        reports.push(DemoReport {
            id,
            intake: d.intake,
            photos: idx,
            truth: d.truth,
            market: d.market.to_string(),
            month: d.month.to_string(),
            received_at: rfc3339_utc(d.received_unix),
        });
    }
    (reports, files, story)
}

/// The local date of a report's incident (for tests).
#[cfg(test)]
pub(crate) fn date_of(occurred_at: &str) -> Option<crate::calendar::Date> {
    let d = occurred_at.get(..10)?;
    let mut it = d.split('-');
    Some(crate::calendar::Date {
        year: it.next()?.parse().ok()?,
        month: it.next()?.parse().ok()?,
        day: it.next()?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn prices_look_like_shop_prices() {
        assert_eq!(local_price("IN", 599.0), (53_999.0, "INR"));
        assert_eq!(local_price("US", 599.0), (649.99, "USD"));
        assert_eq!(local_price("CN", 599.0), (4699.0, "CNY"));
        assert_eq!(local_price("FR", 45.0), (45.0, "EUR"));
        assert_eq!(local_price("US", 19.0), (20.99, "USD"));
    }

    #[test]
    fn typos_change_one_letter_and_keep_digits() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..200 {
            let t = typo(&mut rng, "PowerCell 20K");
            assert!(t.contains("20K"), "{t}");
            assert!((12..=14).contains(&t.len()), "{t}");
        }
    }

    #[test]
    fn scenarios_respect_categories() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..500 {
            let s = pick_scenario(&mut rng, THERMAL, Category::Charger);
            assert!(!s.contains(&H::BatterySwelling) && !s.contains(&H::ThermalExplosion));
        }
        assert!(date_of("2026-03-14T18:00:00+05:30").is_some());
    }
}
