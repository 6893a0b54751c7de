//! The files `firewatch demo --generate-only DIR` writes.

use crate::World;
use serde_json::{Value, json};
use std::path::PathBuf;

/// The world as files (paths relative to the output directory):
/// `catalog.csv`, `exposure.csv`, `reports.jsonl` (one intake JSON per line plus a `photos`
/// array of file names), `photos/*`, `posts.jsonl`, `story.json`, `truth.jsonl` (line N is the
/// id and ground truth of report N), `world.json` (configuration and planted defect) and
/// `README.txt`.
pub fn write_files(world: &World) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = Vec::with_capacity(world.photos.len() + 9);
    out.push(("catalog.csv".into(), world.catalog_csv.clone().into_bytes()));
    out.push((
        "exposure.csv".into(),
        world.exposure_csv.clone().into_bytes(),
    ));
    let mut reports = String::with_capacity(world.reports.len() * 700);
    let mut truth = String::with_capacity(world.reports.len() * 200);
    for r in &world.reports {
        let mut line = r.intake.clone();
        if let Value::Object(o) = &mut line {
            let names: Vec<&str> = r
                .photos
                .iter()
                .filter_map(|&i| world.photos.get(i).map(|(n, _)| n.as_str()))
                .collect();
            o.insert("photos".into(), json!(names));
        }
        reports.push_str(&line.to_string());
        reports.push('\n');
        let t = json!({"id": r.id, "market": r.market, "month": r.month,
                       "received_at": r.received_at, "truth": r.truth});
        truth.push_str(&t.to_string());
        truth.push('\n');
    }
    out.push(("reports.jsonl".into(), reports.into_bytes()));
    out.push(("truth.jsonl".into(), truth.into_bytes()));
    for (name, bytes) in &world.photos {
        out.push((PathBuf::from("photos").join(name), bytes.clone()));
    }
    out.push(("posts.jsonl".into(), world.posts_jsonl.clone().into_bytes()));
    out.push(("story.json".into(), pretty(&json!(world.story))));
    out.push((
        "world.json".into(),
        pretty(&json!({"config": world.config, "planted": world.planted})),
    ));
    out.push(("README.txt".into(), readme(world).into_bytes()));
    out
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s.into_bytes()
}

fn readme(w: &World) -> String {
    let safety = w.reports.iter().filter(|r| r.truth.is_safety).count();
    format!(
        "firewatch demo world (seed {seed}, {start} for {months} months)\n\
         \n\
         A fictional maker, Voltra, with {models} models; every file is generated and fictional.\n\
         \n\
         catalog.csv    products: brand,model,aliases,category,price,currency (aliases |-separated)\n\
         exposure.csv   units sold: brand,model,market,month,units_sold (markets IN FR US DE BR ID CN)\n\
         reports.jsonl  {n} incident reports, one intake JSON per line (POST /api/v1/reports shape)\n\
         \x20              plus \"photos\" (file names under photos/); {safety} state a safety incident\n\
         truth.jsonl    line N: report N's id and ground truth (hazards with modality, product,\n\
         \x20              is_safety, language), its market, month and when the maker received it\n\
         photos/        {p} drawn report photos (PNG and JPEG)\n\
         posts.jsonl    the social cascade ({c} events over {h} hours) about the viral case: firewatch's\n\
         \x20              own post shape for posts, reposts, quotes and replies; likes as Bluesky Jetstream\n\
         \x20              like frames (`firewatch import posts posts.jsonl`)\n\
         story.json     the viral S1 case: the customer's report, the agent's refused 50% paid\n\
         \x20              replacement, head office's free replacement and gift, timeline, statement\n\
         world.json     the configuration and the planted defect\n\
         \n\
         Planted defect: {model} ({class}: thermal.* or battery.swelling) from {pm} at {f}x the\n\
         baseline rate of {b:.1} thermal reports per month per million units in the field (sold\n\
         up to and including the month); every other model stays at the baseline. Reports of\n\
         every kind follow the units in the field. Regenerate with the same seed for\n\
         byte-identical files.\n",
        seed = w.config.seed,
        start = w.config.start_month,
        months = w.config.months,
        models = crate::catalog::MODELS.len(),
        n = w.reports.len(),
        p = w.photos.len(),
        c = w.cascade.len(),
        h = w.config.cascade_hours,
        model = w.planted.model,
        class = w.planted.hazard_class,
        pm = w.planted.start_month,
        f = w.planted.factor,
        b = w.planted.baseline_per_million,
    )
}
