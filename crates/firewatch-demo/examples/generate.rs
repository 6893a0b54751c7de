//! Generates the default demo world, prints what it contains and how long it took, and
//! (given a directory) writes its files there, as `firewatch demo --generate-only DIR` does.
//!
//! `cargo run --release -p firewatch-demo --example generate [DIR|-] [SEED]`

use std::time::Instant;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().filter(|d| !d.is_empty() && d != "-");
    let seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(2026);
    let config = firewatch_demo::WorldConfig {
        seed,
        ..Default::default()
    };
    let mut times = Vec::new();
    let mut world = None;
    for _ in 0..5 {
        let t = Instant::now();
        world = Some(firewatch_demo::generate(&config));
        times.push(t.elapsed());
    }
    times.sort();
    let world = world.expect("generated");
    let no_photos = firewatch_demo::WorldConfig {
        photo_share: 0.0,
        ..config.clone()
    };
    let mut bare = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let w = firewatch_demo::generate(&no_photos);
        bare.push(t.elapsed());
        assert!(w.photos.len() <= 2);
    }
    bare.sort();
    println!("without photos: median {:?}", bare[2]);
    let t = Instant::now();
    let files = firewatch_demo::write_files(&world);
    let t_files = t.elapsed();
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    println!(
        "generate: median {:?} (min {:?}) over 5 runs; write_files {:?}",
        times[2], times[0], t_files
    );
    println!(
        "{} reports ({} safety), {} photos, {} cascade events, {} files, {} KiB",
        world.reports.len(),
        world.reports.iter().filter(|r| r.truth.is_safety).count(),
        world.photos.len(),
        world.cascade.len(),
        files.len(),
        bytes / 1024
    );
    if let Some(dir) = dir {
        for (path, bytes) in &files {
            let p = std::path::Path::new(&dir).join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(p, bytes)?;
        }
        println!("wrote {dir}");
    }
    Ok(())
}
