//! The crate's single integration-test binary: the labelled evaluation set with its floors,
//! and the JSON contract.

use firewatch_domain::{HazardCode, Modality};
use firewatch_triage::{Catalog, Triager};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

const NARRATIVES: &str = include_str!("../eval/narratives.jsonl");
const HOLDOUT: &str = include_str!("../eval/holdout.jsonl");
const CATALOG: &str = include_str!("../eval/catalog.csv");

#[derive(Deserialize)]
struct Row {
    id: String,
    lang: String,
    text: String,
    hazards: Vec<ExpHazard>,
    products: Vec<ExpProduct>,
    #[allow(dead_code)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct ExpHazard {
    code: HazardCode,
    modality: Modality,
}

#[derive(Deserialize)]
struct ExpProduct {
    brand: String,
    model: String,
}

#[derive(Default, Clone, Copy)]
struct Prf {
    tp: u32,
    fp: u32,
    fn_: u32,
}

impl Prf {
    fn p(&self) -> f64 {
        if self.tp + self.fp == 0 {
            1.0
        } else {
            f64::from(self.tp) / f64::from(self.tp + self.fp)
        }
    }
    fn r(&self) -> f64 {
        if self.tp + self.fn_ == 0 {
            1.0
        } else {
            f64::from(self.tp) / f64::from(self.tp + self.fn_)
        }
    }
    fn f1(&self) -> f64 {
        let (p, r) = (self.p(), self.r());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
    fn add(
        &mut self,
        exp: &BTreeSet<(HazardCode, Modality)>,
        got: &BTreeSet<(HazardCode, Modality)>,
    ) {
        self.tp += exp.intersection(got).count() as u32;
        self.fp += got.difference(exp).count() as u32;
        self.fn_ += exp.difference(got).count() as u32;
    }
}

fn rows(src: &str) -> Vec<Row> {
    src.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("eval line {}: {e}", i + 1))
        })
        .collect()
}

struct Report {
    micro: Prf,
    micro_code_only: Prf,
    per_code: BTreeMap<HazardCode, Prf>,
    per_lang: BTreeMap<String, (Prf, u32, u32)>, // prf, rows, language correct
    products_rows: u32,
    products_top1: u32,
    products_set: Prf,
    negation_fp_rows: u32,
    negation_rows: u32,
    failures: Vec<String>,
}

fn evaluate(src: &str) -> Report {
    let triager = Triager::new(Catalog::from_csv_str(CATALOG).expect("eval catalog parses"));
    let rows = rows(src);
    let mut rep = Report {
        micro: Prf::default(),
        micro_code_only: Prf::default(),
        per_code: BTreeMap::new(),
        per_lang: BTreeMap::new(),
        products_rows: 0,
        products_top1: 0,
        products_set: Prf::default(),
        negation_fp_rows: 0,
        negation_rows: 0,
        failures: Vec::new(),
    };
    let mut ids = BTreeSet::new();
    for row in &rows {
        assert!(ids.insert(row.id.clone()), "duplicate eval id {}", row.id);
        let r = triager.triage(&row.text, None);
        for h in r.hazards.iter().chain(&r.negated) {
            for e in &h.evidence {
                assert_eq!(
                    &row.text[e.start..e.end],
                    e.text,
                    "{}: evidence must be the original slice",
                    row.id
                );
            }
        }
        let exp: BTreeSet<(HazardCode, Modality)> =
            row.hazards.iter().map(|h| (h.code, h.modality)).collect();
        let got: BTreeSet<(HazardCode, Modality)> =
            r.hazards.iter().map(|h| (h.code, h.modality)).collect();
        rep.micro.add(&exp, &got);
        let exp_c: BTreeSet<(HazardCode, Modality)> =
            exp.iter().map(|x| (x.0, Modality::Occurred)).collect();
        let got_c: BTreeSet<(HazardCode, Modality)> =
            got.iter().map(|x| (x.0, Modality::Occurred)).collect();
        rep.micro_code_only.add(&exp_c, &got_c);
        for code in HazardCode::ALL {
            let e: BTreeSet<_> = exp.iter().filter(|x| x.0 == code).copied().collect();
            let g: BTreeSet<_> = got.iter().filter(|x| x.0 == code).copied().collect();
            rep.per_code.entry(code).or_default().add(&e, &g);
        }
        let entry = rep.per_lang.entry(row.lang.clone()).or_default();
        entry.0.add(&exp, &got);
        entry.1 += 1;
        if r.language == row.lang {
            entry.2 += 1;
        }
        if row
            .tags
            .iter()
            .any(|t| t == "negation" || t == "figurative")
        {
            rep.negation_rows += 1;
            if !got.difference(&exp).collect::<Vec<_>>().is_empty() {
                rep.negation_fp_rows += 1;
            }
        }
        let exp_p: Vec<(String, String)> = row
            .products
            .iter()
            .map(|p| (p.brand.clone(), p.model.clone()))
            .collect();
        let got_p: Vec<(String, String)> = r
            .products
            .iter()
            .map(|p| (p.brand.clone(), p.model.clone()))
            .collect();
        if !exp_p.is_empty() {
            rep.products_rows += 1;
            if got_p.first() == exp_p.first() {
                rep.products_top1 += 1;
            }
        }
        rep.products_set.tp += exp_p.iter().filter(|p| got_p.contains(p)).count() as u32;
        rep.products_set.fp += got_p.iter().filter(|p| !exp_p.contains(p)).count() as u32;
        rep.products_set.fn_ += exp_p.iter().filter(|p| !got_p.contains(p)).count() as u32;
        if exp != got || got_p.first() != exp_p.first() || r.language != row.lang {
            let fmt = |s: &BTreeSet<(HazardCode, Modality)>| {
                s.iter()
                    .map(|(c, m)| {
                        format!("{c}:{}", if *m == Modality::Occurred { "o" } else { "p" })
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            rep.failures.push(format!(
                "{} [{}->{}] exp [{}] got [{}] prod exp {:?} got {:?}\n    {}",
                row.id,
                row.lang,
                r.language,
                fmt(&exp),
                fmt(&got),
                exp_p.first(),
                got_p.first(),
                row.text
            ));
        }
    }
    rep
}

fn table(rep: &Report) -> String {
    let mut s = String::new();
    s.push_str("| hazard code | P | R | F1 | TP | FP | FN |\n|---|---|---|---|---|---|---|\n");
    for (code, p) in &rep.per_code {
        s.push_str(&format!(
            "| {code} | {:.3} | {:.3} | {:.3} | {} | {} | {} |\n",
            p.p(),
            p.r(),
            p.f1(),
            p.tp,
            p.fp,
            p.fn_
        ));
    }
    let m = rep.micro;
    s.push_str(&format!(
        "| **micro (code + modality)** | {:.3} | {:.3} | **{:.3}** | {} | {} | {} |\n",
        m.p(),
        m.r(),
        m.f1(),
        m.tp,
        m.fp,
        m.fn_
    ));
    let c = rep.micro_code_only;
    s.push_str(&format!(
        "| micro (code only) | {:.3} | {:.3} | {:.3} | {} | {} | {} |\n\n",
        c.p(),
        c.r(),
        c.f1(),
        c.tp,
        c.fp,
        c.fn_
    ));
    s.push_str("| language | rows | language detected | P | R | F1 |\n|---|---|---|---|---|---|\n");
    for (lang, (p, n, ok)) in &rep.per_lang {
        s.push_str(&format!(
            "| {lang} | {n} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            f64::from(*ok) / f64::from(*n),
            p.p(),
            p.r(),
            p.f1()
        ));
    }
    s.push_str(&format!(
        "\nproducts: incident product first in {}/{} rows ({:.3}); all mentions P {:.3} R {:.3}\n",
        rep.products_top1,
        rep.products_rows,
        f64::from(rep.products_top1) / f64::from(rep.products_rows.max(1)),
        rep.products_set.p(),
        rep.products_set.r()
    ));
    s.push_str(&format!(
        "negation/figurative rows with a spurious hazard: {}/{}\n",
        rep.negation_fp_rows, rep.negation_rows
    ));
    s
}

#[test]
fn eval_set_meets_the_floors() {
    let rep = evaluate(NARRATIVES);
    assert!(
        rep.per_lang.values().map(|x| x.1).sum::<u32>() >= 300,
        "the eval set must have at least 300 rows"
    );
    println!(
        "## development set (eval/narratives.jsonl)\n\n{}",
        table(&rep)
    );
    if std::env::var_os("TRIAGE_EVAL_VERBOSE").is_some() {
        for f in &rep.failures {
            println!("{f}");
        }
    }
    // Floors: see README.md "Evaluation" for why these numbers. This is the development
    // set (the lexicons were tuned on it), so the floors are regression guards set a few
    // points under the measured values, and never under the 0.90 micro-F1 of the issue.
    assert!(
        rep.micro.f1() >= 0.95,
        "micro-F1 {:.3} < 0.95",
        rep.micro.f1()
    );
    for (lang, (p, _, _)) in &rep.per_lang {
        assert!(p.f1() >= 0.90, "{lang}: F1 {:.3} < 0.90", p.f1());
    }
    for (lang, (_, n, ok)) in &rep.per_lang {
        assert!(
            f64::from(*ok) / f64::from(*n) >= 0.95,
            "{lang}: language detection below 0.95"
        );
    }
    for (code, p) in &rep.per_code {
        if p.tp + p.fn_ >= 10 {
            assert!(p.f1() >= 0.85, "{code}: F1 {:.3} < 0.85", p.f1());
        }
    }
    let top1 = f64::from(rep.products_top1) / f64::from(rep.products_rows.max(1));
    assert!(
        top1 >= 0.95,
        "incident product first in {top1:.3} < 0.95 of rows"
    );
    assert!(
        rep.products_set.f1() >= 0.95,
        "product mention F1 {:.3} < 0.95",
        rep.products_set.f1()
    );
    assert!(
        rep.negation_fp_rows <= 4,
        "{} negation/figurative rows raised a hazard",
        rep.negation_fp_rows
    );
}

#[test]
fn holdout_set_meets_its_floor() {
    let rep = evaluate(HOLDOUT);
    println!("## held-out set (eval/holdout.jsonl)\n\n{}", table(&rep));
    if std::env::var_os("TRIAGE_EVAL_VERBOSE").is_some() {
        for f in &rep.failures {
            println!("{f}");
        }
    }
    // Written after the lexicons were tuned on the development set and never tuned on;
    // the floor was fixed before the first run (README.md "Evaluation").
    assert!(
        rep.micro.f1() >= 0.80,
        "held-out micro-F1 {:.3} < 0.80",
        rep.micro.f1()
    );
}

#[test]
fn json_output_has_the_documented_shape() {
    let triager = Triager::new(Catalog::from_csv_str(CATALOG).expect("eval catalog parses"));
    let text = "My Galaxy Note7 exploded and burned my hand. No smoke though.";
    let r = triager.triage(text, None);
    let v: serde_json::Value = serde_json::to_value(&r).expect("serialises");
    assert_eq!(v["language"], "en");
    assert_eq!(v["severity"], "S1");
    let hazards = v["hazards"].as_array().expect("hazards array");
    assert!(
        hazards
            .iter()
            .any(|h| h["code"] == "thermal.explosion" && h["modality"] == "occurred")
    );
    assert!(hazards.iter().any(|h| h["code"] == "injury.burn"));
    let ev = &hazards[0]["evidence"][0];
    let (s, e) = (
        ev["start"].as_u64().unwrap() as usize,
        ev["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[s..e], ev["text"].as_str().unwrap());
    assert_eq!(v["negated"][0]["code"], "thermal.smoke");
    assert_eq!(v["injuries"][0]["kind"], "burn");
    assert_eq!(v["products"][0]["brand"], "Samsung");
    assert_eq!(v["products"][0]["model"], "Galaxy Note7");
    assert!(v["products"][0]["score"].as_f64().unwrap() > 0.5);
    // round trip
    let back: firewatch_triage::TriageResult = serde_json::from_value(v).expect("deserialises");
    assert_eq!(back, r);
    let text_out = r.to_text();
    assert!(
        text_out.contains("thermal.explosion (occurred)"),
        "{text_out}"
    );
    assert!(text_out.contains("Samsung Galaxy Note7"), "{text_out}");
}

#[test]
fn triager_is_send_and_sync_for_sharing_in_an_arc() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Triager>();
}
