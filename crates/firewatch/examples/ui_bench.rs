//! Web UI benchmark (issue 7): stores N cases (default 100,000) through the real intake API
//! of the release binary, logs in through the login form, then measures the latency of the
//! queue page (first page, filters, a deep page) and of case pages (random cases), one
//! request at a time, as p50/p95/max. A benchmark, not a test.
//!
//!     cargo build --release -p firewatch --bins --examples
//!     BENCH_DIR=/tmp target/release/examples/ui_bench [--cases 100000] [--clients 32] [--samples 300]
//!
//! Uses target/release/firewatch (or FIREWATCH_BIN). Prints a Markdown table for
//! crates/firewatch-web/docs/ui-bench.md.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

const CATALOG: &str = "brand,model,aliases,category,price,currency
Voltra,Note7 Pro,N7P,phone,499,EUR
Voltra,PowerCell 20K,PowerCell,power_bank,49,EUR
Voltra,FastCharge 65W,FC65,charger,39,EUR
Voltra,AirBook 14,AirBook,laptop,1099,EUR
";

/// Narratives of every severity (S1 fire and explosion .. S4 no hazard), several languages.
const NARRATIVES: &[&str] = &[
    "My Voltra Note7 Pro started smoking in my bag, then the battery exploded and the bag caught fire.",
    "Mon chargeur FastCharge 65W a fait des étincelles et a fondu.",
    "La batería del PowerCell 20K se hinchó y la carcasa se levantó.",
    "Das Netzteil wurde extrem heiß, kein Rauch.",
    "The screen flickers after the last update, otherwise fine.",
    "My AirBook 14 gets too hot to hold on my lap.",
    "The charger cable frayed and I got a small electric shock.",
    "Baterai laptop saya menggembung.",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cases = arg("--cases", 100_000);
    let clients = arg("--clients", 32) as usize;
    let samples = arg("--samples", 300) as usize;
    let bin = std::env::var("FIREWATCH_BIN").unwrap_or_else(|_| "target/release/firewatch".into());
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into()))?;
    let data = dir.path();
    let run = |args: &[&str], stdin: Option<&str>| -> anyhow::Result<String> {
        let mut child = Command::new(&bin)
            .args(args)
            .arg("--data")
            .arg(data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes())?;
        }
        drop(child.stdin.take());
        let out = child.wait_with_output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    };
    std::fs::create_dir_all(data)?;
    std::fs::write(data.join("catalog.csv"), CATALOG)?;
    run(
        &[
            "user",
            "add",
            "bench",
            "--role",
            "agent",
            "--password-stdin",
        ],
        Some("bench-walnut-3141\n"),
    )?;
    let token = run(&["token", "create", "bench"], None)?;
    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .env("FIREWATCH_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("server exited"))??;
        if let Some(a) = line.strip_prefix("firewatch listening on ") {
            break a.to_string();
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // --- store the cases through intake (the API the product uses)
    let t0 = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, token, next, url) = (
            http.clone(),
            token.clone(),
            next.clone(),
            format!("{base}/api/v1/reports"),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= cases {
                    return Ok::<(), anyhow::Error>(());
                }
                let body = json!({"narrative": format!("{} (#{n})", NARRATIVES[n as usize % NARRATIVES.len()]), "country": "FR", "channel": "phone"});
                let resp = http.post(&url).bearer_auth(&token).json(&body).send().await?;
                anyhow::ensure!(resp.status() == 201, "intake answered {}", resp.status());
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let load_s = t0.elapsed().as_secs_f64();
    eprintln!("{cases} cases stored in {load_s:.0} s");

    // --- log in through the form
    let resp = http.get(format!("{base}/login")).send().await?;
    let csrf = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("fw_csrf="))
        .and_then(|c| c.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("no csrf cookie"))?
        .to_string();
    let resp = http
        .post(format!("{base}/login"))
        .header("cookie", format!("fw_csrf={csrf}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "user=bench&password=bench-walnut-3141&csrf={csrf}&next=%2Fqueue"
        ))
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 303, "login answered {}", resp.status());
    let cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("fw_session="))
        .and_then(|c| c.split(';').next())
        .ok_or_else(|| anyhow::anyhow!("no session cookie"))?
        .to_string();

    // Case ids to open: spread over the whole table.
    let mut ids = Vec::new();
    let stride = (cases / samples.max(1) as u64).max(1);
    let mut offset = 0;
    while ids.len() < samples && offset < cases {
        let v: Value = http
            .get(format!("{base}/api/v1/cases?limit=1&offset={offset}"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        if let Some(id) = v["cases"][0]["id"].as_str() {
            ids.push(id.to_string());
        }
        offset += stride;
    }

    let measure = |paths: Vec<String>| {
        let (http, cookie, base) = (http.clone(), cookie.clone(), base.clone());
        async move {
            let mut lat = Vec::new();
            let mut bytes = 0usize;
            for p in paths {
                let t = Instant::now();
                let resp = http
                    .get(format!("{base}{p}"))
                    .header("cookie", &cookie)
                    .send()
                    .await?;
                anyhow::ensure!(resp.status() == 200, "{p} answered {}", resp.status());
                bytes += resp.bytes().await?.len();
                lat.push(t.elapsed());
            }
            lat.sort();
            Ok::<_, anyhow::Error>((lat, bytes))
        }
    };
    let scenarios: Vec<(&str, Vec<String>)> = vec![
        ("queue, first page", vec!["/queue".to_string(); samples]),
        (
            "queue, severity S2",
            vec!["/queue?severity=S2".to_string(); samples],
        ),
        (
            "queue, status new",
            vec!["/queue?status=new".to_string(); samples],
        ),
        (
            "queue, status closed (none: the whole index is scanned)",
            vec!["/queue?status=closed&closed=1".to_string(); samples],
        ),
        (
            "queue, only mine (none assigned)",
            vec!["/queue?mine=1".to_string(); samples],
        ),
        (
            "queue, page 21 (offset 1000)",
            vec!["/queue?offset=1000".to_string(); samples],
        ),
        (
            "case page (random cases)",
            ids.iter().map(|i| format!("/cases/{i}")).collect(),
        ),
    ];
    // Warm-up.
    let _ = measure(vec!["/queue".into(); 20]).await?;
    println!("| page | requests | p50 ms | p95 ms | max ms | avg KiB |");
    println!("|---|---|---|---|---|---|");
    for (name, paths) in scenarios {
        let (lat, bytes) = measure(paths).await?;
        println!(
            "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.1} |",
            lat.len(),
            percentile(&lat, 0.50),
            percentile(&lat, 0.95),
            lat.last().map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0),
            bytes as f64 / lat.len().max(1) as f64 / 1024.0
        );
    }
    println!("\n{cases} cases stored through intake in {load_s:.0} s with {clients} clients.");
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}
