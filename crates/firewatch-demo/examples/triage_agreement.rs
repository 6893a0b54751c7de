//! Runs firewatch-triage over the default demo world and compares it with the ground truth:
//! safety / non-safety, occurred hazard codes, product and language, per narrative language.
//! Prints a table and, with `-v`, the first disagreements per language.
//!
//! `cargo run --release -p firewatch-demo --example triage_agreement [-v]`

use firewatch_domain::{HazardCode, Modality};
use firewatch_triage::{Catalog, Triager};
use std::collections::BTreeMap;

#[derive(Default)]
struct Tally {
    n: usize,
    safety_tp: usize,
    safety_fp: usize,
    safety_fn: usize,
    codes_exact: usize,
    product_ok: usize,
    product_named: usize,
    lang_ok: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let verbose = std::env::args().any(|a| a == "-v");
    let world = firewatch_demo::generate(&firewatch_demo::WorldConfig::default());
    let triager = Triager::new(Catalog::from_csv_str(&world.catalog_csv)?);
    let mut by_lang: BTreeMap<String, Tally> = BTreeMap::new();
    let mut shown: BTreeMap<String, usize> = BTreeMap::new();
    for r in &world.reports {
        let text = r.intake["narrative"].as_str().unwrap_or_default();
        let got = triager.triage(text, None);
        let t = by_lang.entry(r.truth.language.clone()).or_default();
        t.n += 1;
        let got_safety = !got.occurred_codes().is_empty();
        match (r.truth.is_safety, got_safety) {
            (true, true) => t.safety_tp += 1,
            (false, true) => t.safety_fp += 1,
            (true, false) => t.safety_fn += 1,
            _ => {}
        }
        let mut want: Vec<HazardCode> = r
            .truth
            .hazards
            .iter()
            .filter(|(_, m)| *m == Modality::Occurred)
            .map(|(h, _)| *h)
            .collect();
        want.sort();
        want.dedup();
        let exact = want == got.occurred_codes();
        if exact {
            t.codes_exact += 1;
        }
        let lang_want = r.truth.language.split('-').next().unwrap_or_default();
        if got.language == lang_want {
            t.lang_ok += 1;
        }
        let model_named = text
            .to_lowercase()
            .contains(&r.truth.product.1.to_lowercase());
        if model_named {
            t.product_named += 1;
            if got.products.first().map(|p| p.model.as_str()) == Some(r.truth.product.1.as_str()) {
                t.product_ok += 1;
            }
        }
        let k = shown.entry(r.truth.language.clone()).or_default();
        if verbose && !exact && *k < 6 {
            *k += 1;
            println!(
                "[{}] want {:?} got {:?}\n    {}",
                r.truth.language,
                want.iter().map(|h| h.as_str()).collect::<Vec<_>>(),
                got.occurred_codes()
                    .iter()
                    .map(|h| h.as_str())
                    .collect::<Vec<_>>(),
                text
            );
        }
    }
    println!(
        "{:8} {:>5} {:>7} {:>7} {:>11} {:>9} {:>9}",
        "lang", "n", "safe P", "safe R", "codes exact", "product", "language"
    );
    let pct = |a: usize, b: usize| {
        if b == 0 {
            0.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    for (lang, t) in &by_lang {
        println!(
            "{:8} {:>5} {:>6.1}% {:>6.1}% {:>10.1}% {:>8.1}% {:>8.1}%",
            lang,
            t.n,
            pct(t.safety_tp, t.safety_tp + t.safety_fp),
            pct(t.safety_tp, t.safety_tp + t.safety_fn),
            pct(t.codes_exact, t.n),
            pct(t.product_ok, t.product_named),
            pct(t.lang_ok, t.n),
        );
    }
    Ok(())
}
