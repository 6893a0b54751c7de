//! Intake benchmark: acknowledged reports per second and latency percentiles with N
//! concurrent clients against the real release binary, next to the raw rate of durable
//! single-row SQLite inserts (WAL, synchronous=FULL, one transaction per row) on the same disk.
//!
//!     cargo build --release -p firewatch
//!     cargo run --release -p firewatch --example intake_bench -- [--clients 16] [--seconds 10]
//!         [--database-url postgres://USER@HOST:PORT/EMPTY_DB]
//!
//! With `--database-url` the server runs on that (empty) PostgreSQL database, and the raw
//! comparison is single-row inserts committed one at a time on the same server.
//!
//! Uses target/release/firewatch (or FIREWATCH_BIN). Prints a Markdown table for BENCHMARKS.md.

use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// A catalog, so that product resolution and signal counting run as in production.
const CATALOG: &str = "brand,model,aliases,category,price,currency
Voltra,Note7 Pro,N7P,phone,499,EUR
Voltra,PowerCell 20K,PowerCell,power_bank,49,EUR
Voltra,FastCharge 65W,FC65,charger,39,EUR
Voltra,AirBook 14,AirBook,laptop,1099,EUR
";

const NARRATIVES: &[&str] = &[
    "My Voltra Note7 Pro started smoking in my bag, then the battery exploded and the bag caught fire.",
    "Mon chargeur FastCharge 65W a fait des étincelles et a fondu.",
    "La batería del PowerCell 20K se hinchó y la carcasa se levantó.",
    "Das Netzteil wurde extrem heiß, kein Rauch.",
    "मेरा फोन चार्ज करते समय बहुत गरम हो गया और धुआं निकला।",
    "The screen flickers after the last update, otherwise fine.",
    "充电宝鼓包了，还冒烟。",
    "Baterai laptop saya menggembung.",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // reqwest is built with rustls without a default provider: install ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let clients = arg("--clients", 16) as usize;
    let seconds = arg("--seconds", 10);
    let bin = std::env::var("FIREWATCH_BIN").unwrap_or_else(|_| "target/release/firewatch".into());
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into()))?;
    let data = dir.path();
    let args: Vec<String> = std::env::args().collect();
    let pg_url: Option<String> = args
        .iter()
        .position(|a| a == "--database-url")
        .and_then(|i| args.get(i + 1).cloned());
    let db_args: Vec<String> = match &pg_url {
        Some(u) => vec!["--database-url".into(), u.clone()],
        None => vec![],
    };

    let run = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(&bin)
            .args(args)
            .arg("--data")
            .arg(data)
            .args(&db_args)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8(out.stdout)?.trim().to_string())
    };
    std::fs::create_dir_all(data)?;
    std::fs::write(data.join("catalog.csv"), CATALOG)?;
    run(&["user", "add", "bench", "--role", "agent"])?;
    let token = run(&["token", "create", "bench"])?;

    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(&db_args)
        .env("FIREWATCH_LOG", "warn")
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
        .build()?;
    let url = Arc::new(format!("{base}/api/v1/reports"));

    // Warm-up.
    for i in 0..50 {
        http.post(url.as_str())
            .bearer_auth(&token)
            .json(&json!({"narrative": NARRATIVES[i % NARRATIVES.len()]}))
            .send()
            .await?;
    }

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut n = 0usize;
            while Instant::now() < deadline {
                let body =
                    json!({"narrative": NARRATIVES[(c + n) % NARRATIVES.len()], "country": "FR"});
                let t = Instant::now();
                let resp = http
                    .post(url.as_str())
                    .bearer_auth(&token)
                    .header("idempotency-key", format!("bench-{c}-{n}"))
                    .json(&body)
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == 201 => lat.push(t.elapsed()),
                    _ => errors += 1,
                }
                n += 1;
            }
            (lat, errors)
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64().max(seconds as f64);
    let _ = child.kill();
    let _ = child.wait();
    all.sort();
    let rate = all.len() as f64 / elapsed;

    // Raw durable single-row inserts on the same disk, same settings as the store's writer.
    let raw_rate = if let Some(url) = &pg_url {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query("CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)")
            .execute(&mut conn)
            .await?;
        let body = "x".repeat(300);
        let end = Instant::now() + Duration::from_secs(seconds.min(5));
        let t0 = Instant::now();
        let mut n = 0u64;
        while Instant::now() < end {
            let mut tx = conn.begin().await?;
            sqlx::query("INSERT INTO bench_raw (body) VALUES ($1)")
                .bind(&body)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            n += 1;
        }
        sqlx::query("DROP TABLE bench_raw")
            .execute(&mut conn)
            .await?;
        n as f64 / t0.elapsed().as_secs_f64()
    } else {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        use sqlx::{ConnectOptions, Connection};
        let opts = SqliteConnectOptions::new()
            .filename(data.join("raw.sqlite"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let mut conn = opts.connect().await?;
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .execute(&mut conn)
            .await?;
        let body = "x".repeat(300);
        let end = Instant::now() + Duration::from_secs(seconds.min(5));
        let t0 = Instant::now();
        let mut n = 0u64;
        while Instant::now() < end {
            let mut tx = conn.begin().await?;
            sqlx::query("INSERT INTO t (body) VALUES ($1)")
                .bind(&body)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            n += 1;
        }
        n as f64 / t0.elapsed().as_secs_f64()
    };

    println!(
        "backend: {}",
        if pg_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!(
        "| clients | seconds | acknowledged | errors | reports/s | p50 ms | p99 ms | max ms | raw durable inserts/s | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {clients} | {seconds} | {} | {errors} | {rate:.0} | {:.2} | {:.2} | {:.2} | {raw_rate:.0} | {:.0}% |",
        all.len(),
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        100.0 * rate / raw_rate
    );
    Ok(())
}
