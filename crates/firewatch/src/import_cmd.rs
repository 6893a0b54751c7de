//! `firewatch import products|exposure FILE`: the catalog and exposure CSVs of DESIGN
//! section 6 into the store, with a progress bar on a terminal. The whole file is checked
//! first (every problem names its line and column); nothing is written unless it is valid.
//! Writes go in chunks, each one transaction; re-running an import is harmless (upserts).

use crate::cli::open_store;
use crate::config::Settings;
use anyhow::{Context, bail};
use firewatch_store::Actor;
use firewatch_store::signals::SignalStore;
use firewatch_web::csv_import::{self, RowError};
use std::io::{IsTerminal, Write};
use std::path::Path;

const CHUNK: usize = 1000;

#[derive(Debug, clap::Subcommand)]
pub enum ImportCommand {
    /// Product catalog CSV: brand,model,aliases,category,price,currency (aliases |-separated).
    Products {
        file: std::path::PathBuf,
        #[command(flatten)]
        install: crate::cli::Install,
    },
    /// Incident reports, JSONL: one intake JSON per line, plus optional `id`, `received_at`
    /// (RFC 3339) and `photos` (file names relative to the file).
    Reports {
        file: std::path::PathBuf,
        #[command(flatten)]
        install: crate::cli::Install,
    },
    /// Posts and engagement, JSONL (Jetstream frames, Mastodon statuses or firewatch's own
    /// post shape); `-` reads standard input.
    Posts(crate::import_posts::PostsArgs),
    /// Exposure CSV: brand,model,market,month,units_sold (market ISO 3166-1, month YYYY-MM).
    Exposure {
        file: std::path::PathBuf,
        #[command(flatten)]
        install: crate::cli::Install,
    },
}

/// A one-line progress bar on stderr, drawn only on a terminal.
struct Progress {
    label: &'static str,
    total: usize,
    on: bool,
    last: usize,
}

impl Progress {
    fn new(label: &'static str, total: usize) -> Progress {
        Progress {
            label,
            total,
            on: std::io::stderr().is_terminal(),
            last: usize::MAX,
        }
    }

    fn set(&mut self, done: usize) {
        if !self.on {
            return;
        }
        let pct = (done * 100).checked_div(self.total).unwrap_or(100).min(100);
        if pct == self.last && done != self.total {
            return;
        }
        self.last = pct;
        let width = 30;
        let filled = pct * width / 100;
        eprint!(
            "\r{:<18} [{}{}] {done}/{} ({pct}%)",
            self.label,
            "#".repeat(filled),
            " ".repeat(width - filled),
            self.total
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(&self) {
        if self.on {
            eprintln!();
        }
    }
}

fn rows_error(path: &Path, errors: &[RowError]) -> anyhow::Error {
    let first = &errors[0];
    let more = if errors.len() > 1 {
        format!(" (and {} more problems)", errors.len() - 1)
    } else {
        String::new()
    };
    anyhow::anyhow!("{}: {first}{more}", path.display())
}

fn read(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| anyhow::anyhow!("{}: not UTF-8 ({e})", path.display()))
}

fn count_lines(text: &str) -> usize {
    text.lines().count().saturating_sub(1)
}

pub async fn run(
    command: ImportCommand,
    settings_for: impl Fn(&crate::cli::Install) -> anyhow::Result<Settings>,
) -> anyhow::Result<()> {
    match command {
        ImportCommand::Products { file, install } => {
            let settings = settings_for(&install)?;
            let text = read(&file)?;
            let mut bar = Progress::new("checking products", count_lines(&text));
            let products = csv_import::parse_products_csv(&text, |n| bar.set(n as usize));
            bar.finish();
            let products = products.map_err(|e| rows_error(&file, &e))?;
            let store = open_store(&settings).await?;
            let mut bar = Progress::new("importing products", products.len());
            let (mut done, mut sum) = (0, firewatch_store::signals::UpsertSummary::default());
            for chunk in products.chunks(CHUNK) {
                let s = store.upsert_products(chunk.to_vec(), &Actor::cli()).await?;
                sum.created += s.created;
                sum.updated += s.updated;
                sum.unchanged += s.unchanged;
                done += chunk.len();
                bar.set(done);
            }
            bar.finish();
            println!(
                "products: {} created, {} updated, {} unchanged",
                sum.created, sum.updated, sum.unchanged
            );
            Ok(())
        }
        ImportCommand::Posts(args) => {
            crate::import_posts::run(
                crate::import_posts::ImportCommand::Posts(args),
                settings_for,
            )
            .await
        }
        ImportCommand::Reports { file, install } => {
            let settings = settings_for(&install)?;
            let reports = crate::import_reports::read_file(&file)?;
            let state = crate::serve::build_state(&settings).await?;
            // As a server would: imported reports' products are evaluated while they come in.
            if let Some(signals) = &state.signals {
                signals.clone().spawn();
            }
            let mut bar = Progress::new("importing reports", reports.len());
            let (created, present) =
                crate::import_reports::ingest_all(&state, reports, |n| bar.set(n)).await?;
            bar.finish();
            println!("reports: {created} created, {present} already present");
            Ok(())
        }
        ImportCommand::Exposure { file, install } => {
            let settings = settings_for(&install)?;
            let text = read(&file)?;
            let mut bar = Progress::new("checking exposure", count_lines(&text));
            let rows = csv_import::parse_exposure_csv(&text, |n| bar.set(n as usize));
            bar.finish();
            let rows = rows.map_err(|e| rows_error(&file, &e))?;
            let store = open_store(&settings).await?;
            let known = SignalStore::list_products(&*store).await?;
            let unknown = firewatch_web::api::exposure::unknown_products(&rows, &known);
            if !unknown.is_empty() {
                return Err(rows_error(&file, &unknown));
            }
            let mut bar = Progress::new("importing exposure", rows.len());
            let (mut done, mut sum) = (0, firewatch_store::signals::UpsertSummary::default());
            for chunk in rows.chunks(CHUNK) {
                let s = store.upsert_exposure(chunk.to_vec(), &Actor::cli()).await?;
                sum.created += s.created;
                sum.updated += s.updated;
                sum.unchanged += s.unchanged;
                done += chunk.len();
                bar.set(done);
            }
            bar.finish();
            if rows.is_empty() {
                bail!("{}: no rows", file.display());
            }
            println!(
                "exposure: {} created, {} updated, {} unchanged",
                sum.created, sum.updated, sum.unchanged
            );
            Ok(())
        }
    }
}

/// At start: when the products table is empty and a catalog CSV is configured (`--catalog`)
/// or present (`DATA/catalog.csv`), imports it. Returns the stored products.
pub async fn seed_products(
    store: &std::sync::Arc<dyn firewatch_store::FullStore>,
    settings: &Settings,
) -> anyhow::Result<Vec<firewatch_store::signals::ProductRecord>> {
    let products = SignalStore::list_products(&**store).await?;
    let default = settings.data.join("catalog.csv");
    let path = match &settings.catalog {
        Some(p) => p.clone(),
        None if default.exists() => default,
        None => return Ok(products),
    };
    if !products.is_empty() {
        tracing::info!(catalog = %path.display(), "the stored catalog is used; the CSV only seeds an empty one (firewatch import products updates it)");
        return Ok(products);
    }
    let text = read(&path)?;
    let parsed =
        csv_import::parse_products_csv(&text, |_| {}).map_err(|e| rows_error(&path, &e))?;
    let n = parsed.len();
    store
        .upsert_products(parsed, &Actor("system:seed".into()))
        .await?;
    tracing::info!(products = n, catalog = %path.display(), "catalog seeded from CSV");
    Ok(SignalStore::list_products(&**store).await?)
}
