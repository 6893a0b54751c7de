//! Social pipeline benchmark (issue 6, item 7): frames per second on one core through parse,
//! triage, match and engagement update (with the forecasters), over a replayed Jetstream
//! stream, with peak RSS; and the SEISMIC forecaster's cost per event.
//!
//!     cargo run --release -p firewatch --example social_bench -- [--frames 1000000]
//!
//! The stream is `FrameReplay` over the 186 real Jetstream frames of the connectors' fixtures
//! plus one post naming a catalog product with a hazard and 12 likes/reposts of it (real frames
//! with their subject pointed at that post), so every replayed copy creates a mention and
//! engages it. The catalog is the demo world's (firewatch-demo). Frames are generated in
//! chunks ahead of the timed section (generation is not timed; the chunk bounds the memory).
//! Runs on one thread (the measurement is per core). No store: the pipeline's in-memory part
//! (`src/social/processor.rs`, included as is); the store takes its output in batches.

#[path = "../src/social/processor.rs"]
#[allow(dead_code)]
mod processor;

use firewatch_connectors::{FrameReplay, parse_jetstream_frame};
use firewatch_forecast::CascadeForecaster;
use firewatch_store::Actor;
use processor::{Pending, Processor, Tuning};
use std::sync::Arc;
use std::time::Instant;

const CORPUS: &str = include_str!(
    "../../firewatch-connectors/tests/fixtures/jetstream/jetstream_v1_corpus_152.jsonl"
);
const GOLDEN: &str = include_str!(
    "../../firewatch-connectors/tests/fixtures/jetstream/jetstream_v1_golden_10.jsonl"
);
const TALKS: &str = include_str!(
    "../../firewatch-connectors/tests/fixtures/jetstream/jetstream_v1_frames_from_talks_24.jsonl"
);

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The real frames, plus a hazard post and likes/reposts of it made from real frames.
fn seeds() -> Vec<String> {
    let real: Vec<&str> = CORPUS
        .lines()
        .chain(GOLDEN.lines())
        .chain(TALKS.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    let mut out: Vec<String> = real.iter().map(|s| s.to_string()).collect();
    let of = |collection: &str| -> Vec<serde_json::Value> {
        real.iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| {
                v["commit"]["collection"] == collection && v["commit"]["operation"] == "create"
            })
            .collect()
    };
    let mut post = of("app.bsky.feed.post")
        .into_iter()
        .next()
        .expect("a real post frame");
    post["commit"]["record"]["text"] = serde_json::Value::from(
        "My Voltra Note7 Pro caught fire on the charger last night, flames and smoke everywhere",
    );
    post["commit"]["record"]["langs"] = serde_json::json!(["en"]);
    let uri = format!(
        "at://{}/app.bsky.feed.post/{}",
        post["did"].as_str().unwrap_or_default(),
        post["commit"]["rkey"].as_str().unwrap_or_default()
    );
    out.push(post.to_string());
    for collection in ["app.bsky.feed.like", "app.bsky.feed.repost"] {
        for mut e in of(collection).into_iter().take(6) {
            e["commit"]["record"]["subject"]["uri"] = serde_json::Value::from(uri.clone());
            out.push(e.to_string());
        }
    }
    out
}

fn main() {
    let total = arg("--frames", 1_000_000) as usize;
    let chunk = arg("--chunk", 100_000) as usize;
    let catalog = firewatch_triage::Catalog::from_csv_str(&firewatch_demo::catalog::catalog_csv())
        .expect("demo catalog");
    let products = catalog.products().len();
    let triager = Arc::new(firewatch_triage::Triager::new(catalog));
    let seeds = seeds();
    let mut replay = FrameReplay::new(seeds.iter().map(String::as_str)).expect("seeds");
    let mut processor = Processor::new(triager, Tuning::default());
    let actor = Actor("bench".into());
    let mut pending = Pending::default();
    let (mut frames, mut bytes, mut rejected) = (0usize, 0usize, 0usize);
    let mut timed = std::time::Duration::ZERO;
    let (mut stored_mentions, mut stored_engagements, mut forecasts) = (0usize, 0usize, 0usize);
    let mut buf: Vec<String> = Vec::with_capacity(chunk);
    while frames < total {
        buf.clear();
        buf.extend(replay.by_ref().take(chunk.min(total - frames)));
        let start = Instant::now();
        for (i, frame) in buf.iter().enumerate() {
            bytes += frame.len();
            match parse_jetstream_frame(frame) {
                Ok((item, _cursor)) => processor.process(item, &actor, 0, &mut pending),
                Err(_) => rejected += 1,
            }
            // The server hands a batch to the store every 512 frames: drain as it would.
            if i % 512 == 511 {
                let (f, _due) = processor.take_forecasts();
                forecasts += f.len();
                stored_mentions += pending.mentions.len();
                stored_engagements += pending.engagements.len();
                pending.mentions.clear();
                pending.engagements.clear();
            }
        }
        timed += start.elapsed();
        frames += buf.len();
    }
    drop(buf);
    let rate = frames as f64 / timed.as_secs_f64();
    let s = processor.stats;
    println!(
        "| frames | seconds | frames/s (one core) | MB/s | posts triaged | mentions | engagement | forecasts | peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {frames} | {:.3} | **{:.0}** | {:.0} | {} | {} ({stored_mentions} handed over) | {} ({stored_engagements} handed over) | {forecasts} | {} MiB |",
        timed.as_secs_f64(),
        rate,
        bytes as f64 / timed.as_secs_f64() / 1e6,
        s.posts_triaged,
        s.mentions,
        s.engagements,
        peak_rss_kib() / 1024
    );
    println!(
        "catalog: {products} products; rejected frames: {rejected}; mentions tracked: {}",
        processor.tracked()
    );

    // The forecaster's cost per event: push + forecast after every push, one cascade.
    let n = arg("--cascade", 20_000) as usize;
    let mut fc = CascadeForecaster::new();
    let start = Instant::now();
    let mut sink = 0.0;
    for i in 0..n {
        let t = i as f64 * (24.0 * 3600.0 / n as f64);
        fc.push(t, 100.0 + (i % 1000) as f64).expect("in order");
        let f = fc.forecast(t, 1000.0, 100.0).expect("forecast");
        sink += f.p_exceed;
    }
    let per_event = start.elapsed().as_secs_f64() / n as f64;
    let start = Instant::now();
    let mut fc2 = CascadeForecaster::new();
    for i in 0..n {
        let t = i as f64 * (24.0 * 3600.0 / n as f64);
        fc2.push(t, 100.0).expect("in order");
    }
    let push_only = start.elapsed().as_secs_f64() / n as f64;
    println!();
    println!("| forecaster | events | per event |");
    println!("| --- | --- | --- |");
    println!(
        "| push + forecast after every push (10-min grid over 24 h) | {n} | {:.2} µs |",
        per_event * 1e6
    );
    println!("| push only | {n} | {:.2} µs |", push_only * 1e6);
    std::hint::black_box(sink);
}
