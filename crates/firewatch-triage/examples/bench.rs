//! Throughput of full triage versus a bare Aho-Corasick scan of the same automaton, on one
//! core, over a deterministic mixed-language corpus built from the evaluation set.
//!
//! `cargo run --release -p firewatch-triage --example bench [-- TARGET_MB]`

use firewatch_triage::{Catalog, Triager};
use std::hint::black_box;
use std::time::Instant;

const NARRATIVES: &str = include_str!("../eval/narratives.jsonl");
const HOLDOUT: &str = include_str!("../eval/holdout.jsonl");
const CATALOG: &str = include_str!("../eval/catalog.csv");

#[derive(serde::Deserialize)]
struct Row {
    text: String,
}

/// Deterministic variations of the eval texts: original, upper-cased first letters, a
/// prefix/suffix sentence in the same style, and joined pairs (longer posts), until
/// `target` bytes.
fn corpus(target: usize) -> Vec<String> {
    let base: Vec<String> = NARRATIVES
        .lines()
        .chain(HOLDOUT.lines())
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Row>(l)
                .map(|r| r.text)
                .unwrap_or_default()
        })
        .collect();
    let mut out = Vec::new();
    let mut total = 0;
    let mut round = 0usize;
    // a small LCG so the corpus is the same on every run
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    while total < target {
        for (i, t) in base.iter().enumerate() {
            let v = match (round + i) % 4 {
                0 => t.clone(),
                1 => t.to_uppercase(),
                2 => format!("Update #{}: {t} Any advice welcome.", next() % 1000),
                _ => format!("{t} {}", base[next() % base.len()]),
            };
            total += v.len();
            out.push(v);
            if total >= target {
                break;
            }
        }
        round += 1;
    }
    out
}

/// CPU time of this thread: the machine is shared, so wall time under load says more
/// about the neighbours than about this code.
fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Best of `runs` (thread CPU seconds), with the wall time of that run.
fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> (f64, usize) {
    let mut best = f64::INFINITY;
    let mut sink = 0;
    for _ in 0..runs {
        let c = thread_cpu_seconds();
        let _t = Instant::now();
        sink = black_box(f());
        best = best.min(thread_cpu_seconds() - c);
    }
    (best, sink)
}

fn main() {
    let target_mb: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4.0);
    let docs = corpus((target_mb * 1_000_000.0) as usize);
    let bytes: usize = docs.iter().map(String::len).sum();
    let mb = bytes as f64 / 1e6;

    let t = Instant::now();
    let catalog = if std::env::var_os("BENCH_NO_CATALOG").is_some() {
        Catalog::default()
    } else {
        Catalog::from_csv_str(CATALOG).expect("catalog")
    };
    let triager = Triager::new(catalog);
    let build = t.elapsed().as_secs_f64();

    if std::env::var_os("BENCH_PROFILE_FULL").is_some() {
        let (full, _) = best_of(10, || {
            docs.iter()
                .map(|d| triager.triage(d, None).hazards.len())
                .sum()
        });
        println!(
            "full triage: {:.1} MB/s, automaton {:.1} MB",
            mb / full,
            triager.automaton_bytes() as f64 / 1e6
        );
        if std::env::var_os("BENCH_PROFILE_DETECT").is_some() {
            let langs: Vec<String> = docs
                .iter()
                .map(|d| triager.triage(d, None).language)
                .collect();
            let (own, _) = best_of(10, || {
                docs.iter()
                    .zip(&langs)
                    .map(|(d, l)| triager.triage(d, Some(l)).hazards.len())
                    .sum()
            });
            println!(
                "full triage, each text's detected language as hint: {:.1} MB/s",
                mb / own
            );
        }
        return;
    }
    let plain = aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(triager.plain_patterns())
        .expect("plain automaton");
    let (plain_t, plain_matches) =
        best_of(5, || docs.iter().map(|d| plain.find_iter(d).count()).sum());
    let (bare, matches) = best_of(5, || docs.iter().map(|d| triager.bare_scan(d)).sum());
    let (norm_t, _) = best_of(5, || docs.iter().map(|d| triager.normalize_only(d)).sum());
    let (scan_t, hits) = best_of(5, || {
        docs.iter().map(|d| triager.normalize_and_scan(d)).sum()
    });
    let normed: Vec<String> = docs.iter().map(|d| triager.normalized_text(d)).collect();
    let (bare_norm, _) = best_of(5, || normed.iter().map(|d| triager.bare_scan(d)).sum());
    let (scan_only, _) = best_of(5, || normed.iter().map(|d| triager.scan_only(d)).sum());
    let (full, hazards) = best_of(5, || {
        docs.iter()
            .map(|d| triager.triage(d, None).hazards.len())
            .sum()
    });
    let (hinted, _) = best_of(5, || {
        docs.iter()
            .map(|d| triager.triage(d, Some("en")).hazards.len())
            .sum()
    });

    println!(
        "corpus: {} narratives, {:.2} MB (mean {:.0} bytes)",
        docs.len(),
        mb,
        bytes as f64 / docs.len() as f64
    );
    println!(
        "automaton: {} patterns, {:.1} MB, built in {:.1} ms",
        triager.pattern_count(),
        triager.automaton_bytes() as f64 / 1e6,
        build * 1e3
    );
    println!("| run | MB/s | narratives/s | note |");
    println!("|---|---|---|---|");
    println!(
        "| bare Aho-Corasick scan | {:.1} | {:.0} | {} matches |",
        mb / bare,
        docs.len() as f64 / bare,
        matches
    );
    println!(
        "| bare scan of the normalised corpus | {:.1} | {:.0} | |",
        mb / bare_norm,
        docs.len() as f64 / bare_norm
    );
    println!(
        "| scan with boundary checks, normalised corpus | {:.1} | {:.0} | |",
        mb / scan_only,
        docs.len() as f64 / scan_only
    );
    println!(
        "| normalisation only | {:.1} | {:.0} | |",
        mb / norm_t,
        docs.len() as f64 / norm_t
    );
    println!(
        "| normalisation + scan | {:.1} | {:.0} | {} accepted hits |",
        mb / scan_t,
        docs.len() as f64 / scan_t,
        hits
    );
    println!(
        "| full triage | {:.1} | {:.0} | {} hazard findings |",
        mb / full,
        docs.len() as f64 / full,
        hazards
    );
    println!(
        "| full triage, language hint given | {:.1} | {:.0} | |",
        mb / hinted,
        docs.len() as f64 / hinted
    );
    println!(
        "| plain Aho-Corasick of the lexicon terms (no sentinel, default kind), raw corpus | {:.1} | {:.0} | {} matches |",
        mb / plain_t,
        docs.len() as f64 / plain_t,
        plain_matches
    );
    println!(
        "full triage / bare scan (same automaton, raw corpus): {:.0}%",
        100.0 * bare / full
    );
    println!(
        "full triage / plain lexicon automaton: {:.0}%",
        100.0 * plain_t / full
    );
}
