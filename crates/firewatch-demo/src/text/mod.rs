//! Narratives, built compositionally from per-language phrase banks: openings, purchase,
//! circumstances, what happened (one bank per hazard), negations, hedges, injuries, requests,
//! non-safety complaints and figurative uses. Every sentence that states a hazard is tagged
//! with it, so the ground truth is exact by construction.

use crate::catalog::Category;
use firewatch_domain::{HazardCode as H, Modality};
use rand::Rng;
use rand::seq::IndexedRandom;

mod de;
mod en;
mod es;
mod fr;
mod hi;
mod hi_latn;
mod id;
mod it;
mod pt;
mod zh;

/// Category masks of the phrase banks.
pub(crate) const P: u8 = 1;
pub(crate) const L: u8 = 2;
pub(crate) const B: u8 = 4;
pub(crate) const C: u8 = 8;
pub(crate) const BAT: u8 = P | L | B;
pub(crate) const ALL: u8 = P | L | B | C;
/// Marks a damage sentence that says things burned: only after a fire (DESIGN counts
/// "burned things around it" as thermal.fire).
pub(crate) const F: u8 = 16;

/// The ten narrative languages: the nine triage languages, Hindi in two scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Lang {
    En,
    Fr,
    Es,
    De,
    Pt,
    It,
    /// Hindi in Devanagari.
    Hi,
    /// Romanised Hindi (Hinglish).
    HiLatn,
    Zh,
    Id,
}

impl Lang {
    pub const ALL: [Lang; 10] = [
        Lang::En,
        Lang::Fr,
        Lang::Es,
        Lang::De,
        Lang::Pt,
        Lang::It,
        Lang::Hi,
        Lang::HiLatn,
        Lang::Zh,
        Lang::Id,
    ];

    /// BCP 47 tag (`hi-Latn` for Hinglish).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::De => "de",
            Lang::Pt => "pt",
            Lang::It => "it",
            Lang::Hi => "hi",
            Lang::HiLatn => "hi-Latn",
            Lang::Zh => "zh",
            Lang::Id => "id",
        }
    }

    /// The triage language (one of firewatch-triage's nine).
    pub fn triage_lang(self) -> &'static str {
        match self {
            Lang::HiLatn => "hi",
            other => other.tag(),
        }
    }

    pub(crate) fn bank(self) -> &'static Bank {
        match self {
            Lang::En => &en::BANK,
            Lang::Fr => &fr::BANK,
            Lang::Es => &es::BANK,
            Lang::De => &de::BANK,
            Lang::Pt => &pt::BANK,
            Lang::It => &it::BANK,
            Lang::Hi => &hi::BANK,
            Lang::HiLatn => &hi_latn::BANK,
            Lang::Zh => &zh::BANK,
            Lang::Id => &id::BANK,
        }
    }
}

type Masked = (u8, &'static str);

/// One language's phrases. Placeholders: `{p}` product as named by the reporter, `{n}` the
/// category noun (subject form, with article), `{a}` the same as an object (German
/// accusative), `{d}` a number of days.
pub(crate) struct Bank {
    pub lang: Lang,
    /// Sentence separator ("" for Chinese).
    pub sep: &'static str,
    /// Phone, laptop, power bank, charger.
    pub nouns: [&'static str; 4],
    pub nouns_acc: [&'static str; 4],
    pub openings: &'static [&'static str],
    pub bought: &'static [&'static str],
    pub mention: &'static [&'static str],
    pub circumstances: &'static [Masked],
    /// Sentences stating that a hazard occurred.
    pub events: &'static [(H, u8, &'static str)],
    /// Sentences denying a hazard.
    pub negations: &'static [(H, &'static str)],
    pub no_injury: &'static [&'static str],
    /// Sentences raising a hazard as a risk.
    pub hedges: &'static [(H, &'static str)],
    pub safety_requests: &'static [&'static str],
    /// Requests that the maker pay for damage: only when property was damaged.
    pub damage_requests: &'static [&'static str],
    pub complaints: &'static [Masked],
    pub details: &'static [Masked],
    /// Hazard words used figuratively: no hazard.
    pub figurative: &'static [&'static str],
    pub requests: &'static [&'static str],
    pub closings: &'static [&'static str],
    /// Prefixes of narratives typed by an agent during a call.
    pub call_prefix: &'static [&'static str],
    /// (display name, ASCII e-mail local part)
    pub names: &'static [(&'static str, &'static str)],
}

/// What a narrative must say.
pub(crate) enum Plan<'a> {
    /// A safety incident: these hazards occurred, in narrative order.
    Safety(&'a [H]),
    /// A non-safety complaint; `hedge` adds a hazard raised only as a risk.
    Complaint { hedge: bool },
}

pub(crate) struct Composed {
    pub text: String,
    pub hazards: Vec<(H, Modality)>,
}

pub(crate) struct Inputs<'a> {
    pub category: Category,
    /// How the reporter names the product, e.g. "Voltra Note7 Pro" or "note 7 pro".
    pub product: &'a str,
    /// The narrative must name the product (the form's product fields are empty).
    pub must_name: bool,
    pub days: u32,
    pub by_phone: bool,
}

fn pick<'a, R: Rng>(rng: &mut R, xs: &'a [&'static str]) -> Option<&'a str> {
    xs.choose(rng).copied()
}

fn pick_masked<R: Rng>(rng: &mut R, xs: &[Masked], cat: u8) -> Option<&'static str> {
    let n = xs.iter().filter(|(m, _)| m & cat != 0).count();
    if n == 0 {
        return None;
    }
    let k = rng.random_range(0..n);
    xs.iter()
        .filter(|(m, _)| m & cat != 0)
        .nth(k)
        .map(|(_, s)| *s)
}

fn pick_event<R: Rng>(rng: &mut R, bank: &Bank, code: H, cat: u8) -> Option<&'static str> {
    let n = bank
        .events
        .iter()
        .filter(|(h, m, _)| *h == code && m & cat != 0)
        .count();
    if n == 0 {
        return None;
    }
    let k = rng.random_range(0..n);
    bank.events
        .iter()
        .filter(|(h, m, _)| *h == code && m & cat != 0)
        .nth(k)
        .map(|(_, _, s)| *s)
}

fn pick_coded<R: Rng>(
    rng: &mut R,
    xs: &[(H, &'static str)],
    allowed: impl Fn(H) -> bool,
) -> Option<(H, &'static str)> {
    let n = xs.iter().filter(|(h, _)| allowed(*h)).count();
    if n == 0 {
        return None;
    }
    let k = rng.random_range(0..n);
    xs.iter().filter(|(h, _)| allowed(*h)).nth(k).copied()
}

const THERMAL_WORSE: [H; 3] = [H::ThermalFire, H::ThermalExplosion, H::ThermalMelting];

/// Composes a narrative. The hazards returned are exactly the ones the sentences state.
pub(crate) fn compose<R: Rng>(
    rng: &mut R,
    bank: &Bank,
    inp: &Inputs<'_>,
    plan: &Plan<'_>,
) -> Composed {
    let cat = inp.category.bit();
    let mut parts: Vec<&'static str> = Vec::with_capacity(12);
    let mut hazards: Vec<(H, Modality)> = Vec::new();
    let p = |rng: &mut R, prob: f64| rng.random::<f64>() < prob;

    if inp.by_phone && p(rng, 0.6) {
        parts.extend(pick(rng, bank.call_prefix));
    }
    if p(rng, 0.4) {
        parts.extend(pick(rng, bank.openings));
    }
    let named = if p(rng, 0.7) {
        parts.extend(pick(rng, bank.bought));
        true
    } else {
        false
    };
    if !named && (inp.must_name || p(rng, 0.3)) {
        parts.extend(pick(rng, bank.mention));
    }
    match plan {
        Plan::Safety(codes) => {
            if p(rng, 0.6) {
                parts.extend(pick_masked(rng, bank.circumstances, cat));
            }
            for &code in codes.iter() {
                let burned = hazards.iter().any(|(c, _)| *c == H::ThermalFire);
                let mask = if burned { cat | F } else { cat };
                if let Some(s) = pick_event(rng, bank, code, mask) {
                    parts.push(s);
                    hazards.push((code, Modality::Occurred));
                }
            }
            let has = |h: H, hz: &[(H, Modality)]| hz.iter().any(|(c, _)| *c == h);
            let severe = hazards.iter().any(|(c, _)| THERMAL_WORSE.contains(c));
            if p(rng, 0.35) {
                let hz = hazards.clone();
                let neg = pick_coded(rng, bank.negations, |h| {
                    let implied = severe && matches!(h, H::ThermalOverheating | H::ThermalSmoke);
                    let swelling_after_blast =
                        has(H::ThermalExplosion, &hz) && h == H::BatterySwelling;
                    !(has(h, &hz) || implied || swelling_after_blast)
                });
                parts.extend(neg.map(|(_, s)| s));
            }
            if !hazards.iter().any(|(c, _)| c.is_injury()) && p(rng, 0.3) {
                parts.extend(pick(rng, bank.no_injury));
            }
            if p(rng, 0.2) {
                let hz = hazards.clone();
                if let Some((h, s)) = pick_coded(rng, bank.hedges, |h| !has(h, &hz) && !severe) {
                    parts.push(s);
                    hazards.push((h, Modality::Potential));
                }
            }
            if has(H::DamageProperty, &hazards) && p(rng, 0.6) {
                parts.extend(pick(rng, bank.damage_requests));
            } else if p(rng, 0.75) {
                parts.extend(pick(rng, bank.safety_requests));
            }
        }
        Plan::Complaint { hedge } => {
            parts.extend(pick_masked(rng, bank.complaints, cat));
            if p(rng, 0.5) {
                parts.extend(pick_masked(rng, bank.complaints, cat));
                parts.dedup();
            }
            for _ in 0..rng.random_range(0..3) {
                parts.extend(pick_masked(rng, bank.details, cat));
            }
            parts.dedup();
            if p(rng, 0.2) {
                parts.extend(pick_coded(rng, bank.negations, |_| true).map(|(_, s)| s));
            }
            if p(rng, 0.15) {
                parts.extend(pick(rng, bank.figurative));
            }
            if *hedge && let Some((h, s)) = pick_coded(rng, bank.hedges, |_| true) {
                parts.push(s);
                hazards.push((h, Modality::Potential));
            }
            if p(rng, 0.7) {
                parts.extend(pick(rng, bank.requests));
            }
        }
    }
    if p(rng, 0.3) {
        parts.extend(pick(rng, bank.closings));
    }

    let ci = inp.category.index();
    let days = inp.days.to_string();
    let mut text = String::with_capacity(400);
    for part in parts {
        if !text.is_empty() {
            text.push_str(bank.sep);
        }
        let start = text.len();
        fill(
            &mut text,
            part,
            inp.product,
            bank.nouns[ci],
            bank.nouns_acc[ci],
            &days,
        );
        capitalise_at(&mut text, start);
    }
    if matches!(bank.lang, Lang::En | Lang::HiLatn | Lang::Id) && p(rng, 0.08) {
        // Typed in a hurry on a phone: all lower case, product name included.
        text = text.to_lowercase();
    }
    Composed { text, hazards }
}

fn fill(out: &mut String, template: &str, product: &str, noun: &str, noun_acc: &str, days: &str) {
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        let (value, len) = if after.starts_with("{p}") {
            (product, 3)
        } else if after.starts_with("{n}") {
            (noun, 3)
        } else if after.starts_with("{a}") {
            (noun_acc, 3)
        } else if after.starts_with("{d}") {
            (days, 3)
        } else {
            ("{", 1)
        };
        out.push_str(value);
        rest = &after[len..];
    }
    out.push_str(rest);
}

fn capitalise_at(text: &mut String, start: usize) {
    if let Some(c) = text[start..].chars().next()
        && c.is_lowercase()
    {
        let upper: String = c.to_uppercase().collect();
        text.replace_range(start..start + c.len_utf8(), &upper);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_bank_is_complete() {
        for lang in Lang::ALL {
            let b = lang.bank();
            assert_eq!(b.lang, lang);
            for code in H::ALL {
                for cat in crate::catalog::Category::ALL {
                    let exists = b
                        .events
                        .iter()
                        .any(|(h, m, _)| *h == code && m & cat.bit() != 0);
                    let battery_only = matches!(code, H::BatterySwelling | H::BatteryLeak);
                    assert!(
                        exists || (battery_only && cat == Category::Charger),
                        "{lang:?} has no {code} sentence for {cat:?}"
                    );
                }
            }
            for (name, list) in [
                ("openings", b.openings),
                ("bought", b.bought),
                ("mention", b.mention),
                ("no_injury", b.no_injury),
                ("safety_requests", b.safety_requests),
                ("damage_requests", b.damage_requests),
                ("figurative", b.figurative),
                ("requests", b.requests),
                ("closings", b.closings),
                ("call_prefix", b.call_prefix),
            ] {
                assert!(list.len() >= 2, "{lang:?} {name}");
            }
            for s in b.bought.iter().chain(b.mention) {
                assert!(s.contains("{p}"), "{lang:?}: {s}");
            }
            for cat in crate::catalog::Category::ALL {
                assert!(
                    b.complaints
                        .iter()
                        .filter(|(m, _)| m & cat.bit() != 0)
                        .count()
                        >= 4
                );
                assert!(b.circumstances.iter().any(|(m, _)| m & cat.bit() != 0));
            }
            assert!(b.negations.len() >= 4 && b.hedges.len() >= 3 && b.names.len() >= 6);
        }
    }

    #[test]
    fn compose_fills_placeholders_and_tags_hazards() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for lang in Lang::ALL {
            for _ in 0..50 {
                let inp = Inputs {
                    category: Category::PowerBank,
                    product: "Voltra PowerCell 20K",
                    must_name: true,
                    days: 12,
                    by_phone: false,
                };
                let c = compose(
                    &mut rng,
                    lang.bank(),
                    &inp,
                    &Plan::Safety(&[H::ThermalSmoke, H::ThermalFire]),
                );
                assert!(!c.text.contains('{'), "{}", c.text);
                assert!(
                    c.text.to_lowercase().contains("powercell 20k"),
                    "{lang:?}: {}",
                    c.text
                );
                let occurred: Vec<H> = c
                    .hazards
                    .iter()
                    .filter(|(_, m)| *m == Modality::Occurred)
                    .map(|(h, _)| *h)
                    .collect();
                assert_eq!(occurred, [H::ThermalSmoke, H::ThermalFire]);
            }
        }
    }

    #[test]
    fn burnt_property_is_only_said_after_a_fire() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        for lang in Lang::ALL {
            let b = lang.bank();
            let burnt: Vec<&str> = b
                .events
                .iter()
                .filter(|(h, m, _)| *h == H::DamageProperty && *m == F)
                .map(|(_, _, s)| *s)
                .collect();
            assert!(!burnt.is_empty(), "{lang:?}");
            let inp = Inputs {
                category: Category::Charger,
                product: "GaN 65W",
                must_name: false,
                days: 3,
                by_phone: true,
            };
            let mut after_fire = 0;
            for _ in 0..200 {
                let c = compose(
                    &mut rng,
                    b,
                    &inp,
                    &Plan::Safety(&[H::ElectricalSparks, H::DamageProperty]),
                );
                assert!(burnt.iter().all(|s| !c.text.contains(s)), "{}", c.text);
                let c = compose(
                    &mut rng,
                    b,
                    &inp,
                    &Plan::Safety(&[H::ThermalFire, H::DamageProperty]),
                );
                after_fire += usize::from(burnt.iter().any(|s| c.text.contains(s)));
            }
            assert!(after_fire > 50, "{lang:?}: {after_fire}");
        }
    }
}
