//! Intake benchmark: acknowledged reports per second and latency percentiles with N
//! concurrent clients against the real release binary, next to the raw rate of durable
//! single-row SQLite inserts (WAL, synchronous=FULL, one transaction per row) on the same disk.
//!
//!     cargo build --release -p firewatch --bin firewatch --example intake_bench
//!     BENCH_DIR=/tmp target/release/examples/intake_bench --clients 16 --seconds 10
//!
//! Uses target/release/firewatch (or FIREWATCH_BIN). Prints a Markdown table for BENCHMARKS.md.
//!
//! The raw rate is measured with direct SQLite C calls (no driver thread hand-offs), on its
//! own file in the same directory, `journal_mode=WAL`, `synchronous=FULL` (each COMMIT waits
//! for its own fsync: the durability the store gives a report with COMMIT plus its WAL flush
//! before the 201), one `BEGIN IMMEDIATE; INSERT; COMMIT` per row.
//! This disk's fsync rate drifts with other sessions' traffic, so the raw rate is sampled
//! twice right before and twice right after the intake run and the median is the baseline
//! (all four samples are printed). The CPU seconds of the bench client, of the server and of
//! everything else on the machine during the intake run are printed too, so a run where the
//! client or other work held the cores can be told apart.

use serde_json::json;
use std::ffi::{CString, c_int};
use std::io::{BufRead, BufReader};
use std::path::Path;
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

fn string_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// PostgreSQL's counterpart of [`raw_rate`]: single-row inserts, each committed on its own,
/// on the same server the intake run uses.
async fn pg_raw_rate(url: &str, secs: f64) -> anyhow::Result<f64> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_raw (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)",
    )
    .execute(&mut conn)
    .await?;
    let body = "x".repeat(300);
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        let mut tx = conn.begin().await?;
        sqlx::query("INSERT INTO bench_raw (body) VALUES ($1)")
            .bind(&body)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        n += 1;
    }
    Ok(n as f64 / t0.elapsed().as_secs_f64())
}

async fn raw_sample(pg_url: Option<&str>, file: &Path, secs: f64) -> anyhow::Result<f64> {
    match pg_url {
        Some(url) => pg_raw_rate(url, secs).await,
        None => raw_rate(file, secs),
    }
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

/// CPU seconds (user + system) of a process, from /proc (clock ticks of 10 ms).
fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state field.
    (ticks(11) + ticks(12)) / 100.0
}

/// (busy, total) CPU seconds of the whole machine so far, from /proc/stat.
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0.0) + v.get(4).copied().unwrap_or(0.0);
    ((total - idle) / 100.0, total / 100.0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Durable single-row inserts per second for `secs`: one `BEGIN IMMEDIATE; INSERT; COMMIT`
/// per row, WAL, synchronous=FULL, with direct SQLite calls on this thread.
fn raw_rate(file: &Path, secs: f64) -> anyhow::Result<f64> {
    use libsqlite3_sys as ffi;
    struct Db(*mut ffi::sqlite3);
    impl Drop for Db {
        fn drop(&mut self) {
            // SAFETY: the handle was opened by sqlite3_open_v2 and is closed once.
            unsafe { ffi::sqlite3_close(self.0) };
        }
    }
    let check = |db: *mut ffi::sqlite3, rc: c_int| -> anyhow::Result<()> {
        if rc == ffi::SQLITE_OK || rc == ffi::SQLITE_DONE || rc == ffi::SQLITE_ROW {
            Ok(())
        } else {
            // SAFETY: errmsg is valid for an open handle; copied at once.
            let m = unsafe { std::ffi::CStr::from_ptr(ffi::sqlite3_errmsg(db)) };
            anyhow::bail!("sqlite error {rc}: {}", m.to_string_lossy())
        }
    };
    let path = CString::new(file.to_string_lossy().as_bytes())?;
    let mut raw = std::ptr::null_mut();
    // SAFETY: plain C API use on one thread; every pointer passed is valid for the call.
    let rc = unsafe {
        ffi::sqlite3_open_v2(
            path.as_ptr(),
            &mut raw,
            ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE,
            std::ptr::null(),
        )
    };
    let db = Db(raw);
    check(db.0, rc)?;
    let exec = |sql: &str| -> anyhow::Result<()> {
        let sql = CString::new(sql)?;
        // SAFETY: as above.
        let rc = unsafe {
            ffi::sqlite3_exec(
                db.0,
                sql.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        check(db.0, rc)
    };
    exec("PRAGMA journal_mode = WAL")?;
    exec("PRAGMA synchronous = FULL")?;
    exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")?;
    let prep = |sql: &str| -> anyhow::Result<*mut ffi::sqlite3_stmt> {
        let sql = CString::new(sql)?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: as above.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(db.0, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut())
        };
        check(db.0, rc)?;
        Ok(stmt)
    };
    let (begin, insert, commit) = (
        prep("BEGIN IMMEDIATE")?,
        prep("INSERT INTO t (body) VALUES (?1)")?,
        prep("COMMIT")?,
    );
    let body = CString::new("x".repeat(300))?;
    let step = |s: *mut ffi::sqlite3_stmt| -> anyhow::Result<()> {
        // SAFETY: `s` is a live statement of `db`.
        let rc = unsafe { ffi::sqlite3_step(s) };
        unsafe { ffi::sqlite3_reset(s) };
        check(db.0, rc)
    };
    let t0 = Instant::now();
    let mut n = 0u64;
    let mut result = Ok(());
    while result.is_ok() && t0.elapsed().as_secs_f64() < secs {
        // SAFETY: `body` outlives the step; bound as static text.
        unsafe {
            ffi::sqlite3_bind_text(insert, 1, body.as_ptr(), -1, ffi::SQLITE_STATIC());
        }
        result = step(begin)
            .and_then(|()| step(insert))
            .and_then(|()| step(commit));
        n += 1;
    }
    let rate = n as f64 / t0.elapsed().as_secs_f64();
    // SAFETY: finalized once, before the handle closes.
    unsafe {
        ffi::sqlite3_finalize(begin);
        ffi::sqlite3_finalize(insert);
        ffi::sqlite3_finalize(commit);
    }
    result?;
    Ok(rate)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // reqwest is built with rustls without a default provider: install ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let clients = arg("--clients", 16) as usize;
    let seconds = arg("--seconds", 10);
    let raw_secs = arg("--raw-seconds", 2) as f64;
    let bin = std::env::var("FIREWATCH_BIN").unwrap_or_else(|_| "target/release/firewatch".into());
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| ".".into()))?;
    let data = dir.path();
    let load_before = loadavg();
    // `--database-url postgres://…` (an empty database): the server and the raw comparison
    // both run on that PostgreSQL server.
    let pg_url = string_arg("--database-url");
    let db_args: Vec<String> = match &pg_url {
        Some(u) => vec!["--database-url".into(), u.clone()],
        None => vec![],
    };
    println!(
        "backend: {}",
        if pg_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );

    let run = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(&bin)
            .args(args)
            .args(&db_args)
            .arg("--data")
            .arg(data)
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

    // Raw rate, right before the run (its own file, same directory and disk).
    let raw_file = data.join("raw.sqlite");
    let mut raw = vec![
        raw_sample(pg_url.as_deref(), &raw_file, raw_secs).await?,
        raw_sample(pg_url.as_deref(), &raw_file, raw_secs).await?,
    ];

    let mut child = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(&db_args)
        .arg("--data")
        .arg(data)
        .env("FIREWATCH_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let server_pid = child.id().to_string();
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

    let cpu0 = (cpu_seconds("self"), cpu_seconds(&server_pid), machine_cpu());
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
    let cpu1 = (cpu_seconds("self"), cpu_seconds(&server_pid), machine_cpu());
    let _ = child.kill();
    let _ = child.wait();
    all.sort();
    let rate = all.len() as f64 / elapsed;

    // Raw rate, right after the run.
    raw.push(raw_sample(pg_url.as_deref(), &raw_file, raw_secs).await?);
    raw.push(raw_sample(pg_url.as_deref(), &raw_file, raw_secs).await?);
    let mut sorted = raw.clone();
    sorted.sort_by(f64::total_cmp);
    let raw_median = (sorted[1] + sorted[2]) / 2.0;

    let client_cpu = cpu1.0 - cpu0.0;
    let server_cpu = cpu1.1 - cpu0.1;
    let busy = (cpu1.2).0 - (cpu0.2).0;
    let total = (cpu1.2).1 - (cpu0.2).1;
    println!(
        "| load avg before | clients | seconds | acknowledged | errors | reports/s | p50 ms | p99 ms | max ms | raw durable inserts/s (median of 4) | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {load_before} | {clients} | {seconds} | {} | {errors} | {rate:.0} | {:.2} | {:.2} | {:.2} | {raw_median:.0} | {:.0}% |",
        all.len(),
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        100.0 * rate / raw_median
    );
    println!(
        "raw samples (before, before, after, after): {}",
        raw.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "CPU during the run ({elapsed:.1} s, {:.1} cores' worth): bench client {client_cpu:.2} s, server {server_cpu:.2} s, everything else {:.2} s, idle {:.2} s",
        total / elapsed,
        busy - client_cpu - server_cpu,
        total - busy
    );
    println!("load avg after: {}", loadavg());
    Ok(())
}
