//! The demo world against issue 9's requirements, measured on the generated data.

use firewatch_demo::{CascadeKind, World, WorldConfig, generate, write_files};
use firewatch_domain::Modality;
use firewatch_domain::intake::{Channel, validate_report};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let t = Instant::now();
        let w = generate(&WorldConfig::default());
        eprintln!(
            "default world: {} reports ({} with photos), {} photos, {} cascade events in {:?}",
            w.reports.len(),
            w.reports.iter().filter(|r| !r.photos.is_empty()).count(),
            w.photos.len(),
            w.cascade.len(),
            t.elapsed()
        );
        w
    })
}

#[test]
fn the_same_seed_gives_byte_identical_files_and_another_seed_does_not() {
    let a = write_files(world());
    let b = write_files(&generate(&WorldConfig::default()));
    assert_eq!(a.len(), b.len());
    for ((pa, ba), (pb, bb)) in a.iter().zip(&b) {
        assert_eq!(pa, pb);
        assert!(ba == bb, "{} differs between two runs", pa.display());
    }
    let c = write_files(&generate(&WorldConfig {
        seed: 7,
        reports: 500,
        ..Default::default()
    }));
    let reports = |f: &[(std::path::PathBuf, Vec<u8>)]| {
        f.iter()
            .find(|(p, _)| p.ends_with("reports.jsonl"))
            .map(|(_, b)| b.clone())
    };
    assert_ne!(reports(&a), reports(&c));
}

#[test]
fn about_five_thousand_reports_over_the_ten_language_variants() {
    let w = world();
    let n = w.reports.len();
    assert!((4500..=5600).contains(&n), "{n} reports");
    let mut per_lang: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &w.reports {
        *per_lang.entry(r.truth.language.as_str()).or_default() += 1;
    }
    eprintln!("reports per language: {per_lang:?}");
    for tag in [
        "en", "fr", "es", "de", "pt", "it", "hi", "hi-Latn", "zh", "id",
    ] {
        let k = per_lang.get(tag).copied().unwrap_or(0);
        assert!(k >= 100, "{tag}: only {k} reports");
    }
    assert_eq!(per_lang.len(), 10);
    let safety = w.reports.iter().filter(|r| r.truth.is_safety).count() as f64 / n as f64;
    assert!((0.30..=0.42).contains(&safety), "safety share {safety}");
    // Varied, not one template: nearly every narrative is distinct.
    let distinct: HashSet<&str> = w
        .reports
        .iter()
        .filter_map(|r| r.intake["narrative"].as_str())
        .collect();
    assert!(
        distinct.len() as f64 > 0.97 * n as f64,
        "{} distinct of {n}",
        distinct.len()
    );
    // Hedged-only and complaint reports exist; figurative or negated hazards carry no hazard.
    let hedge_only = w
        .reports
        .iter()
        .filter(|r| !r.truth.is_safety && !r.truth.hazards.is_empty())
        .count();
    assert!(hedge_only > 50, "{hedge_only}");
    assert!(w.reports.iter().filter(|r| !r.truth.is_safety).all(|r| {
        r.truth
            .hazards
            .iter()
            .all(|(_, m)| *m == Modality::Potential)
    }));
}

/// Units in the field per (model, month) from the exposure CSV, as the signal engine counts
/// them: sold in every month up to and including that one.
fn units(w: &World) -> HashMap<(String, String), f64> {
    let mut sold: BTreeMap<(String, String), f64> = BTreeMap::new();
    for line in w.exposure_csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        let n: f64 = f[4].parse().unwrap();
        *sold
            .entry((f[1].to_string(), f[3].to_string()))
            .or_default() += n;
    }
    // The map is in (model, month) order: a running sum per model.
    let mut u = HashMap::new();
    let mut run: Option<(String, f64)> = None;
    for ((model, month), n) in sold {
        let before = match &run {
            Some((m, s)) if *m == model => *s,
            _ => 0.0,
        };
        run = Some((model.clone(), before + n));
        u.insert((model, month), before + n);
    }
    u
}

#[test]
fn other_seeds_keep_the_planted_rate_the_languages_and_the_cascade() {
    for seed in [1, 2, 3] {
        let w = generate(&WorldConfig {
            seed,
            photo_share: 0.0,
            ..Default::default()
        });
        let (after, before, others) = planted_rates(&w);
        eprintln!(
            "seed {seed}: {after:.1} / {before:.1} / {others:.1} per million; {} cascade events",
            w.cascade.len()
        );
        assert!((3.0..=5.0).contains(&(after / before)), "seed {seed}");
        assert!((3.0..=5.0).contains(&(after / others)), "seed {seed}");
        assert!(w.cascade.len() > 500, "seed {seed}: {}", w.cascade.len());
        let langs: HashSet<&str> = w
            .reports
            .iter()
            .map(|r| r.truth.language.as_str())
            .collect();
        assert_eq!(langs.len(), 10);
    }
}

/// Thermal reports per million units: the planted model from its start month, before it, and
/// every other model.
fn planted_rates(w: &World) -> (f64, f64, f64) {
    let units = units(w);
    let mut thermal: HashMap<(&str, &str), f64> = HashMap::new();
    for r in &w.reports {
        if r.truth.is_thermal() {
            *thermal.entry((&r.truth.product.1, &r.month)).or_default() += 1.0;
        }
    }
    let start = w.planted.start_month.as_str();
    let rate = |pred: &dyn Fn(&str, &str) -> bool| {
        let (mut c, mut u) = (0.0, 0.0);
        for ((m, month), n) in &units {
            if pred(m, month) {
                u += n;
                c += thermal
                    .get(&(m.as_str(), month.as_str()))
                    .copied()
                    .unwrap_or(0.0);
            }
        }
        1e6 * c / u
    };
    let p = w.planted.model.as_str();
    (
        rate(&|m, mo| m == p && mo >= start),
        rate(&|m, mo| m == p && mo < start),
        rate(&|m, _| m != p),
    )
}

/// Incidents come from the devices in use: a model launched during the world reports, in its
/// first three months, at the rate of its units in the field, like the models of its category
/// on sale before the world began (not in proportion to its launch sales, which would put it
/// several times above them while few of its units are in the field).
#[test]
fn new_models_report_in_proportion_to_their_units_in_the_field() {
    use firewatch_demo::catalog::{MODELS, ModelSpec};
    let w = world();
    let units = units(w);
    let mut reports: HashMap<(&str, &str), f64> = HashMap::new();
    for r in &w.reports {
        *reports
            .entry((r.truth.product.1.as_str(), r.month.as_str()))
            .or_default() += 1.0;
    }
    let spec = |model: &str| -> &ModelSpec { MODELS.iter().find(|s| s.model == model).unwrap() };
    // Per category: (reports, units) of the new models in their first three months and of
    // the models on sale before the world (the planted one aside) after the first month.
    let mut new: HashMap<_, (f64, f64)> = HashMap::new();
    let mut old: HashMap<_, (f64, f64)> = HashMap::new();
    for ((model, month), u) in &units {
        if *model == w.planted.model {
            continue;
        }
        let n = reports
            .get(&(model.as_str(), month.as_str()))
            .copied()
            .unwrap_or(0.0);
        let t = (0..w.config.months as i32)
            .find(|t| w.exposure.start.plus(*t).to_string() == *month)
            .unwrap();
        let s = spec(model);
        let group = if s.launch >= 1 && t - s.launch < 3 {
            &mut new
        } else if s.launch <= 0 && t >= 1 {
            &mut old
        } else {
            continue;
        };
        let e = group.entry(s.category.as_str()).or_default();
        (e.0, e.1) = (e.0 + n, e.1 + u);
    }
    let observed: f64 = new.values().map(|x| x.0).sum();
    let expected: f64 = new.iter().map(|(c, (_, u))| u * old[c].0 / old[c].1).sum();
    eprintln!(
        "new models' first three months: {observed} reports, {expected:.1} at the rate per \
         unit in the field of their categories' older models"
    );
    assert!(observed >= 30.0, "{observed} reports");
    assert!(
        (0.7..=1.4).contains(&(observed / expected)),
        "{observed} vs {expected:.1}"
    );
}

#[test]
fn the_planted_model_runs_at_four_times_the_baseline_thermal_rate_from_month_ten() {
    let w = world();
    let units = units(w);
    let planted = &w.planted.model;
    let start = &w.planted.start_month;
    assert_eq!(start, "2026-03");
    let mut thermal: HashMap<(String, String), f64> = HashMap::new();
    for r in &w.reports {
        if r.truth.is_thermal() {
            *thermal
                .entry((r.truth.product.1.clone(), r.month.clone()))
                .or_default() += 1.0;
        }
    }
    let rate = |pred: &dyn Fn(&str, &str) -> bool| {
        let (mut c, mut u) = (0.0, 0.0);
        for ((m, month), n) in &units {
            if pred(m, month) {
                u += n;
                c += thermal
                    .get(&(m.clone(), month.clone()))
                    .copied()
                    .unwrap_or(0.0);
            }
        }
        (c, 1e6 * c / u)
    };
    let (c_after, after) = rate(&|m, mo| m == planted && mo >= start.as_str());
    let (c_before, before) = rate(&|m, mo| m == planted && mo < start.as_str());
    let (_, others) = rate(&|m, _| m != planted);
    let (_, others_after) = rate(&|m, mo| m != planted && mo >= start.as_str());
    let (_, others_before) = rate(&|m, mo| m != planted && mo < start.as_str());
    eprintln!(
        "{planted}: {after:.1}/M from {start} ({c_after} reports), {before:.1}/M before \
         ({c_before}); other models {others:.1}/M"
    );
    assert!(
        (3.0..=5.0).contains(&(after / before)),
        "{after} vs {before}"
    );
    assert!(
        (3.0..=5.0).contains(&(after / others)),
        "{after} vs {others}"
    );
    assert!((0.8..=1.25).contains(&(others_after / others_before)));
    assert!(
        (0.8..=1.25).contains(&(before / others)),
        "{before} vs {others}"
    );
    // Month by month too, from month 10 on.
    let mut months: Vec<&String> = units
        .keys()
        .filter(|(m, mo)| m == planted && mo >= start)
        .map(|(_, mo)| mo)
        .collect();
    months.sort();
    assert_eq!(months.len(), 9);
    for mo in months {
        let (c, r) = rate(&|m, x| m == planted && x == mo.as_str());
        assert!(
            c >= 8.0 && (2.5..=5.5).contains(&(r / others)),
            "{mo}: {c} reports, {r}/M"
        );
    }
    // Reports follow the units in the field: more units, more reports.
    let per_month = |m: &str| {
        let mut v: Vec<(f64, f64)> = units
            .iter()
            .filter(|((mm, _), _)| mm == m)
            .map(|((_, mo), u)| {
                let n = w
                    .reports
                    .iter()
                    .filter(|r| r.truth.product.1 == m && &r.month == mo)
                    .count() as f64;
                (*u, n)
            })
            .collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    };
    let v = per_month("Nova 5 Lite");
    let half = v.len() / 2;
    let low: f64 = v[..half].iter().map(|x| x.1).sum();
    let high: f64 = v[half..].iter().map(|x| x.1).sum();
    assert!(high > 1.5 * low, "{low} {high}");
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

#[test]
fn every_report_has_the_intake_shape() {
    let w = world();
    let catalog: HashSet<&str> = w
        .catalog_csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(1))
        .collect();
    let names: HashMap<&str, Vec<String>> = w
        .catalog_csv
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let mut v = vec![f.get(1)?.to_lowercase()];
            v.extend(f.get(2)?.split('|').map(str::to_lowercase));
            Some((*f.get(1)?, v))
        })
        .collect();
    let mut ids = HashSet::new();
    for r in &w.reports {
        assert!(ids.insert(r.id.as_str()));
        let v = validate_report(&r.intake, Channel::Web)
            .unwrap_or_else(|e| panic!("{}: {e:?}\n{}", r.id, r.intake));
        let chars = v.narrative.chars().count();
        assert!((1..=20_000).contains(&chars));
        assert_eq!(v.country.as_deref(), Some(r.market.as_str()));
        let occurred = r.intake["occurred_at"].as_str().unwrap();
        assert!(is_date(&occurred[..10]), "{occurred}");
        assert_eq!(&occurred[..7], r.month);
        if let Some(d) = &v.product.purchase_date {
            assert!(
                is_date(d) && d.as_str() <= &occurred[..10],
                "{d} {occurred}"
            );
        }
        if let Some(l) = &v.language {
            assert_eq!(l, &r.truth.language);
        }
        assert!(catalog.contains(r.truth.product.1.as_str()));
        // The product is named somewhere: the form's fields or the narrative.
        let text = v.narrative.to_lowercase();
        let named = v.product.model.is_some()
            || text.contains("voltra")
            || names[r.truth.product.1.as_str()]
                .iter()
                .any(|n| text.contains(n.as_str()));
        assert!(named, "{}: {}", r.id, v.narrative);
        assert!(r.received_at.ends_with('Z'));
        for &p in &r.photos {
            assert!(p < w.photos.len());
        }
    }
    // Time order (of the instants; local months may interleave at a month's edge).
    let times: Vec<jiff::Timestamp> = w
        .reports
        .iter()
        .map(|r| r.intake["occurred_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|p| p[0] <= p[1]));
}

#[test]
fn photos_decode_as_images() {
    let w = world();
    assert!(w.photos.len() >= 100, "{}", w.photos.len());
    let mut total = 0;
    for (name, bytes) in &w.photos {
        total += bytes.len();
        let img = image::load_from_memory(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(img.width() >= 100 && img.height() >= 100);
        assert!(name.ends_with(".png") || name.ends_with(".jpg"), "{name}");
    }
    eprintln!("{} photos, {} KiB", w.photos.len(), total / 1024);
    let with = w.reports.iter().filter(|r| !r.photos.is_empty()).count();
    let safety_with = w
        .reports
        .iter()
        .filter(|r| r.truth.is_safety && !r.photos.is_empty())
        .count();
    assert!(safety_with * 2 > with, "{safety_with} of {with}");
}

#[test]
fn the_cascade_is_time_ordered_viral_and_parses_through_the_connector() {
    let w = world();
    let c = &w.cascade;
    assert!(c.windows(2).all(|p| p[0].offset_ms <= p[1].offset_ms));
    assert_eq!(c[0].kind, CascadeKind::Post);
    assert_eq!(c[0].offset_ms, 0);
    let engagements = c.iter().filter(|e| e.kind != CascadeKind::Post).count();
    assert!(engagements >= 500, "{engagements}");
    let hours = w.config.cascade_hours;
    let within = |h: f64| {
        c.iter()
            .filter(|e| (e.offset_ms as f64) < h * 3.6e6)
            .count()
    };
    eprintln!(
        "cascade: {} events; after 1h {}, 2h {}, 3h {}, 6h {}; likes {}, reposts {}, quotes {}, replies {}",
        c.len(),
        within(1.0),
        within(2.0),
        within(3.0),
        within(6.0),
        c.iter().filter(|e| e.kind == CascadeKind::Like).count(),
        c.iter().filter(|e| e.kind == CascadeKind::Repost).count(),
        c.iter().filter(|e| e.kind == CascadeKind::Quote).count(),
        c.iter().filter(|e| e.kind == CascadeKind::Reply).count(),
    );
    assert!(within(hours) >= 3 * within(1.0));
    assert!(c.last().unwrap().offset_ms as f64 <= hours * 3.6e6);
    let mut seen = HashSet::new();
    let mut lines = 0;
    for line in w.posts_jsonl.lines() {
        lines += 1;
        let item = firewatch_connectors::parse_posts_jsonl_line(line)
            .unwrap_or_else(|e| panic!("{e}: {line}"));
        match item {
            firewatch_connectors::Item::Post(p) => {
                for e in p.engagements() {
                    let subject = match &e {
                        firewatch_connectors::Engagement::Reply { subject, .. }
                        | firewatch_connectors::Engagement::Quote { subject, .. }
                        | firewatch_connectors::Engagement::Repost { subject, .. } => subject,
                        other => panic!("{other:?}"),
                    };
                    assert!(seen.contains(subject), "{subject} not seen before");
                }
                seen.insert(p.id);
            }
            firewatch_connectors::Item::Engagement(firewatch_connectors::Engagement::Like {
                subject,
                ..
            }) => assert!(seen.contains(&subject)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(lines, c.len());
}

#[test]
fn the_story_is_replayable() {
    let w = world();
    let s = &w.story;
    let r = &w.reports[s.report_index];
    assert_eq!(r, &s.report);
    assert_eq!(r.truth.product.1, "Note7 Pro");
    assert!(r.truth.is_safety && r.truth.is_thermal());
    assert_eq!(r.photos.len(), 2);
    assert_eq!(s.remedies[0].customer_pays_percent, 50);
    assert_eq!(s.remedies[0].expected, "refused");
    assert_eq!(s.remedies[0].proposal()["kind"], "replacement");
    assert!(s.remedies[1..].iter().all(|m| m.customer_pays_percent == 0));
    assert_eq!(w.cascade[0].id, s.root_post_id);
    assert_eq!(w.cascade[0].author, s.handle);
    // The report and the post name the same handle, so that they can be linked.
    assert_eq!(r.intake["reporter"]["handle"], s.handle.as_str());
    assert!(s.called_at < s.posted_at);
    assert!(r.month == w.planted.start_month);
    let files = write_files(w);
    let names: HashSet<String> = files
        .iter()
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .collect();
    for f in [
        "catalog.csv",
        "exposure.csv",
        "reports.jsonl",
        "posts.jsonl",
        "story.json",
        "truth.jsonl",
        "world.json",
        "README.txt",
    ] {
        assert!(names.contains(f), "{f}");
    }
    let reports = files
        .iter()
        .find(|(p, _)| p.ends_with("reports.jsonl"))
        .map(|(_, b)| String::from_utf8(b.clone()).unwrap())
        .unwrap();
    assert_eq!(reports.lines().count(), w.reports.len());
    let story_line: serde_json::Value =
        serde_json::from_str(reports.lines().nth(s.report_index).unwrap()).unwrap();
    for p in story_line["photos"].as_array().unwrap() {
        assert!(names.contains(&format!("photos/{}", p.as_str().unwrap())));
    }
}

#[test]
fn seismic_sees_the_cascade_coming_before_it_gets_there() {
    use firewatch_forecast::{CascadeForecaster, Prediction};
    let w = world();
    let shares: Vec<(f64, f64)> = w
        .cascade
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                CascadeKind::Post | CascadeKind::Repost | CascadeKind::Quote
            )
        })
        .map(|e| (e.offset_ms as f64 / 1000.0, e.followers as f64))
        .collect();
    let threshold = 300.0;
    let mut f = CascadeForecaster::new();
    let mut next = 0;
    let mut first_alarm = None;
    let mut predicted = Vec::new();
    for minutes in (15..=360).step_by(15) {
        let now = f64::from(minutes) * 60.0;
        while next < shares.len() && shares[next].0 <= now {
            f.push(shares[next].0, shares[next].1).unwrap();
            next += 1;
        }
        let fc = f.forecast(now, threshold, 100.0).unwrap();
        if let Prediction::Finite(x) = fc.predicted_final {
            predicted.push(x);
        }
        if first_alarm.is_none() && fc.p_exceed >= 0.9 {
            first_alarm = Some((minutes, fc.observed));
        }
    }
    let (minutes, observed) = first_alarm.expect("the forecast never crossed 0.9");
    eprintln!("p(> {threshold} reshares) >= 0.9 at {minutes} min with {observed} shares seen");
    assert!(
        minutes <= 180 && (observed as f64) < threshold,
        "{minutes} {observed}"
    );
    assert!(
        shares.len() as f64 > threshold,
        "the cascade does pass the threshold"
    );
    assert!(predicted.last() > predicted.first(), "{predicted:?}");
}
