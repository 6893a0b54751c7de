//! `firewatch import posts FILE|-`: a JSONL file of posts and engagement (firewatch's post
//! shape, Jetstream frames, Mastodon statuses or streaming messages; see
//! `firewatch_connectors::parse_posts_jsonl_line`) through the same pipeline as the connectors:
//! triage, mentions linked to cases, engagement, forecasts and escalation. Every line is
//! checked first: one bad line stops the import before anything is stored.

use crate::cli::{Install, open_store};
use crate::config::Settings;
use crate::social::SocialPipeline;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use firewatch_connectors::transport::Batch;
use firewatch_connectors::{Item, parse_posts_jsonl_line};
use firewatch_store::{Actor, Store};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

/// Largest accepted import: 256 MiB.
const MAX_IMPORT_BYTES: u64 = 256 << 20;
/// Items per store transaction.
const CHUNK: usize = 500;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import posts and engagement from JSONL (one JSON object per line); `-` reads stdin.
    Posts(PostsArgs),
}

#[derive(Debug, Args)]
pub struct PostsArgs {
    /// The JSONL file, or `-` for standard input.
    pub file: PathBuf,
    #[command(flatten)]
    pub install: Install,
}

pub async fn run(
    command: ImportCommand,
    settings: impl FnOnce(&Install) -> anyhow::Result<Settings>,
) -> anyhow::Result<()> {
    let ImportCommand::Posts(args) = command;
    let s = settings(&args.install)?;
    s.social.validate()?;
    let text = read_input(&args.file)?;
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_posts_jsonl_line(line) {
            Ok(Item::Ignored(_)) => {}
            Ok(item) => items.push(item),
            Err(e) => bail!(
                "{} line {}: {e}; nothing was imported",
                args.file.display(),
                i + 1
            ),
        }
    }
    let sqlite = open_store(&s).await?;
    // Posts are matched against the stored catalog (seeded from DATA/catalog.csv when empty).
    let products = crate::import_cmd::seed_products(&sqlite, &s).await?;
    let triager = Arc::new(firewatch_triage::Triager::new(
        crate::triage_engine::catalog_of(&products),
    ));
    let store: Arc<dyn Store> = sqlite;
    let pipeline = SocialPipeline::open(store, triager, &s.social, Actor::cli()).await?;
    let total = items.len();
    let (mut mentions, mut linked, mut engagements, mut escalations) = (0, 0, 0, 0);
    let mut iter = items.into_iter().peekable();
    while iter.peek().is_some() {
        let chunk: Vec<Item> = iter.by_ref().take(CHUNK).collect();
        let r = pipeline
            .ingest(
                None,
                Batch {
                    received: chunk.len(),
                    items: chunk,
                    ..Batch::default()
                },
            )
            .await
            .context("storing the posts")?;
        mentions += r.mentions;
        linked += r.mentions_on_existing_cases;
        engagements += r.engagements;
        escalations += r.escalations;
    }
    println!(
        "{total} items: {mentions} new mentions ({linked} joined existing cases), {engagements} engagement events, {escalations} escalations"
    );
    Ok(())
}

fn read_input(path: &PathBuf) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(MAX_IMPORT_BYTES + 1)
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
    } else {
        let f =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        f.take(MAX_IMPORT_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    if bytes.len() as u64 > MAX_IMPORT_BYTES {
        bail!(
            "{} is over {} MiB; split it",
            path.display(),
            MAX_IMPORT_BYTES >> 20
        );
    }
    String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("{} is not UTF-8", path.display()))
}
