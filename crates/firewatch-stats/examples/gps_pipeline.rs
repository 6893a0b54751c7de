//! The whole Gamma-Poisson Shrinker pipeline on a large table, timed step by step, for the
//! comparison with openEBGM (see docs/bench.md).
//!
//! ```text
//! python3 ../shared/tools/gen_big_table.py --rows 10000000 --outdir /tmp/big
//! CARGO_TARGET_DIR=/tmp/target-stats cargo run --release -p firewatch-stats \
//!     --example gps_pipeline -- /tmp/big/reports_10000000.csv [threads]
//! ```
//!
//! Steps (openEBGM's names in brackets): read + count [processRaw counts], expected counts
//! [processRaw E], squash [autoSquash], fit from the five documented starts [autoHyper],
//! EBGM + EB05 + EB95 for every pair [ebScores with quantiles]. Only the scoring step uses
//! threads (default 2, the machine's core count); everything else is single-threaded.

use std::time::Instant;

use firewatch_stats::counts::{Columns, count_reports};
use firewatch_stats::gps::{
    DEFAULT_STARTS, Scorer, SquashOptions, Theta, auto_hyper_threads, auto_squash,
};
use firewatch_stats::offline::score_pairs;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Process CPU time (user + system) in seconds, from /proc/self/stat (clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // after the command: state is field 3, utime 14, stime 15 (1-based over the whole line)
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

struct Step {
    name: &'static str,
    wall: f64,
    cpu: f64,
}

fn timed<T>(steps: &mut Vec<Step>, name: &'static str, f: impl FnOnce() -> T) -> T {
    let (t, c) = (Instant::now(), cpu_seconds());
    let out = f();
    steps.push(Step {
        name,
        wall: t.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - c,
    });
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: gps_pipeline FILE.csv [threads]")?;
    let threads: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2);
    let mut steps = Vec::new();
    let (t_all, c_all) = (Instant::now(), cpu_seconds());

    let counts = timed(&mut steps, "read + count (processRaw)", || {
        let file = std::fs::File::open(&path)?;
        count_reports(file, &Columns::default(), &mut |_| {})
            .map_err(Box::<dyn std::error::Error>::from)
    })?;
    let e = timed(&mut steps, "expected counts (processRaw)", || {
        counts.expected()
    });
    let squashed = timed(&mut steps, "squash (autoSquash)", || {
        auto_squash(&counts.points(&e), &SquashOptions::default())
    })?;
    let fit = timed(&mut steps, "fit from 5 starts (autoHyper)", || {
        let starts: Vec<Theta> = DEFAULT_STARTS
            .iter()
            .map(|s| Theta::from_array(*s))
            .collect();
        auto_hyper_threads(&squashed, &starts, threads)
    })?;
    let post = timed(&mut steps, "EBGM, EB05, EB95 (ebScores)", || {
        let max_n = counts.pairs.iter().map(|p| p.n).max().unwrap_or(0);
        let scorer = Scorer::new(fit.theta, max_n.min(1 << 16))?;
        let ns: Vec<u32> = counts.pairs.iter().map(|p| p.n).collect();
        Ok::<_, firewatch_stats::StatsError>(score_pairs(&scorer, &ns, &e, threads))
    })?;
    let (wall, cpu) = (t_all.elapsed().as_secs_f64(), cpu_seconds() - c_all);

    let signals = post.iter().filter(|p| p.eb05 >= 2.0).count();
    let checksum: f64 = post.iter().map(|p| p.ebgm + p.eb05 + p.eb95).sum();
    println!("file: {path} (threads: {threads})");
    println!(
        "rows {} reports {} products {} events {} pairs {} squashed points {}",
        counts.rows,
        counts.total_reports,
        counts.products.len(),
        counts.events.len(),
        counts.pairs.len(),
        squashed.len()
    );
    println!(
        "theta {:?} negLL(squashed) {:.6} num_close {}",
        fit.theta.to_array(),
        fit.nll,
        fit.num_close
    );
    for r in &fit.runs {
        println!(
            "  start {:?} -> negLL {:.6} converged {} iterations {} evaluations {}",
            r.start.to_array(),
            r.nll,
            r.converged,
            r.iterations,
            r.evaluations
        );
    }
    println!("pairs with EB05 >= 2: {signals}; checksum of EBGM+EB05+EB95: {checksum:.6}");
    // recall of the generator's planted associations, when its planted_*.csv is beside the input
    let planted = std::path::Path::new(&path).with_file_name(
        std::path::Path::new(&path).file_name().map_or_else(
            || "planted.csv".to_string(),
            |f| f.to_string_lossy().replacen("reports_", "planted_", 1),
        ),
    );
    if let Ok(text) = std::fs::read_to_string(&planted) {
        let index: std::collections::HashMap<(&str, &str), usize> = counts
            .pairs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    (
                        counts.products[p.product as usize].as_str(),
                        counts.events[p.event as usize].as_str(),
                    ),
                    i,
                )
            })
            .collect();
        let (mut found, mut total) = (0, 0);
        for line in text.lines().skip(1) {
            let mut f = line.split(',');
            if let (Some(p), Some(ev)) = (f.next(), f.next()) {
                total += 1;
                if index.get(&(p, ev)).is_some_and(|&i| post[i].eb05 >= 2.0) {
                    found += 1;
                }
            }
        }
        println!(
            "planted pairs with EB05 >= 2: {found} of {total} ({})",
            planted.display()
        );
    }
    println!("| step | wall s | cpu s |");
    println!("| --- | ---: | ---: |");
    for s in &steps {
        println!("| {} | {:.3} | {:.2} |", s.name, s.wall, s.cpu);
    }
    println!("| total | {wall:.3} | {cpu:.2} |");
    if let Some(kib) = peak_rss_kib() {
        println!("peak RSS (VmHWM): {:.1} MiB", kib as f64 / 1024.0);
    }
    Ok(())
}
