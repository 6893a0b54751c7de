//! The command line (DESIGN section 6). Commands stay thin: parse, load settings, call the
//! store or an engine, print.

use crate::config::{self, Backend, Overrides, Settings};
use crate::{demo, serve, triage_engine};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use firewatch_domain::Role;
use firewatch_store::FullStore;
use firewatch_store::postgres::PgStore;
use firewatch_store::sqlite::SqliteStore;
use firewatch_store::{Actor, AuditVerdict};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(name = "firewatch", version, about = "Product-safety incident desk")]
pub struct Cli {
    /// Config file (TOML); also FIREWATCH_CONFIG.
    #[arg(long, global = true, env = "FIREWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the installation is; every command that works on one takes these.
#[derive(Debug, Args, Clone, Default)]
pub struct Install {
    /// Data directory (SQLite file and attachments); also FIREWATCH_DATA. Default ./firewatch-data
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Database URL (sqlite://PATH or postgres://USER@HOST/DB); also FIREWATCH_DATABASE_URL.
    #[arg(long)]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve {
        #[command(flatten)]
        install: Install,
        /// Address to listen on; also FIREWATCH_LISTEN. Default 127.0.0.1:8080
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Product catalog CSV that seeds an empty stored catalog; also FIREWATCH_CATALOG. Default DATA/catalog.csv if present.
        #[arg(long)]
        catalog: Option<PathBuf>,
    },
    /// Build a demo installation in a fresh data directory and serve it.
    Demo {
        #[command(flatten)]
        install: Install,
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Write the demo world's files (catalog, exposure, reports, photos, posts) to DIR and exit.
        #[arg(long, value_name = "DIR")]
        generate_only: Option<PathBuf>,
        /// Story time per wall-clock time of the live social cascade replay (120: the
        /// cascade's 6 hours in 3 minutes).
        #[arg(long, value_name = "X", default_value_t = demo::DEFAULT_REPLAY_SPEED)]
        replay_speed: f64,
        /// Do not replay the social cascade live.
        #[arg(long)]
        no_replay: bool,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        install: Install,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Triage a text: language, hazards with evidence, injuries, products, severity.
    Triage(TriageArgs),
    /// Statistics on CSV files, for analysts (disproportionality, MaxSPRT, rates, SEISMIC).
    Stats {
        #[command(subcommand)]
        command: crate::stats_cmd::StatsCommand,
    },
    /// Make an online, consistent backup of an installation into DEST (a new directory).
    Backup {
        dest: PathBuf,
        #[command(flatten)]
        install: Install,
    },
    /// Import the product catalog or exposure (units sold) from CSV.
    Import {
        #[command(subcommand)]
        command: crate::import_cmd::ImportCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Copy a whole SQLite installation into an empty PostgreSQL database (issue 8).
    MigrateData {
        /// The SQLite database file (DATA/firewatch.sqlite).
        #[arg(long)]
        from: PathBuf,
        /// The target, postgres://USER@HOST/DB: empty (its migrations are applied here).
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user with a role; the password comes from standard input.
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        install: Install,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for a user and print it once.
    Create {
        name: String,
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        install: Install,
    },
    /// Revoke a token by its id.
    Revoke {
        id: i64,
        #[command(flatten)]
        install: Install,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the hash chain; exits non-zero and names the first bad event if broken.
    Verify {
        #[command(flatten)]
        install: Install,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Json,
    Text,
}

#[derive(Debug, Args)]
pub struct TriageArgs {
    /// Product catalog CSV (brand,model,aliases,category,price,currency).
    #[arg(long)]
    catalog: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Read the text from a file.
    #[arg(long, conflicts_with = "text")]
    file: Option<PathBuf>,
    /// Language hint (ISO 639-1), overriding detection.
    #[arg(long)]
    language: Option<String>,
    /// The text, or `-` for standard input.
    text: Option<String>,
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

fn settings(
    cli_config: Option<&PathBuf>,
    install: &Install,
    listen: Option<SocketAddr>,
    catalog: Option<PathBuf>,
) -> anyhow::Result<Settings> {
    config::load(
        cli_config.map(|p| p.as_path()),
        Overrides {
            data: install.data.clone(),
            listen,
            database_url: install.database_url.clone(),
            catalog,
        },
    )
}

pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn FullStore>> {
    settings.ensure_data_dir()?;
    match settings.backend()? {
        Backend::Sqlite(path) => {
            let store = SqliteStore::open(&path)
                .await
                .with_context(|| format!("cannot open the database {}", path.display()))?;
            Ok(Arc::new(store))
        }
        Backend::Postgres(url) => {
            let store = PgStore::open(&url)
                .await
                .with_context(|| format!("cannot open the database {}", config::redact(&url)))?;
            Ok(Arc::new(store))
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.as_ref();
    match cli.command {
        Command::Serve {
            install,
            listen,
            catalog,
        } => {
            let s = settings(config, &install, listen, catalog)?;
            serve::init_logging(&s.log_format);
            serve::serve(s, None).await
        }
        Command::Demo {
            install,
            listen,
            generate_only,
            replay_speed,
            no_replay,
        } => {
            let s = settings(config, &install, listen, None)?;
            serve::init_logging(&s.log_format);
            let options = demo::DemoOptions {
                generate_only,
                replay_speed: (!no_replay).then_some(replay_speed),
            };
            demo::run(s, options).await
        }
        Command::Migrate { install } => {
            let s = settings(config, &install, None, None)?;
            open_store(&s).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    password_stdin,
                    install,
                },
        } => {
            let s = settings(config, &install, None, None)?;
            validate_user_name(&name)?;
            let hash = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("cannot read the password from standard input")?;
                let password = line.trim_end_matches(['\r', '\n']);
                firewatch_web::auth::check_password_rules(&name, password)?;
                Some(firewatch_web::auth::hash_password(password)?)
            } else {
                None
            };
            let store = open_store(&s).await?;
            let user = store.create_user(&name, role, hash, &Actor::cli()).await?;
            println!("user {} added with role {}", user.name, user.role);
            Ok(())
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    name,
                    label,
                    install,
                },
        } => {
            let s = settings(config, &install, None, None)?;
            let store = open_store(&s).await?;
            let (token, hash) = firewatch_web::auth::new_token();
            let record = store
                .create_token(&name, hash, label, &Actor::cli())
                .await?;
            eprintln!(
                "token {} for {} (shown once; only its hash is stored):",
                record.id, record.user
            );
            println!("{token}");
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Revoke { id, install },
        } => {
            let s = settings(config, &install, None, None)?;
            let store = open_store(&s).await?;
            store.revoke_token(id, &Actor::cli()).await?;
            println!("token {id} revoked");
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { install },
        } => {
            let s = settings(config, &install, None, None)?;
            let store = open_store(&s).await?;
            match store.verify_audit().await? {
                AuditVerdict::Ok { events } => {
                    println!("OK: {events} events, chain intact");
                    Ok(())
                }
                AuditVerdict::Broken(b) => {
                    bail!("audit log BROKEN at event {}: {b}", b.first_bad_seq())
                }
            }
        }
        Command::Triage(args) => triage(args),
        Command::Backup { dest, install } => {
            let s = settings(config, &install, None, None)?;
            crate::backup::run(&s, &dest).await
        }
        Command::Stats { command } => crate::stats_cmd::run(command),
        Command::MigrateData { from, to } => migrate_data(&from, &to).await,
        Command::Import { command } => {
            crate::import_cmd::run(command, |install| settings(config, install, None, None)).await
        }
    }
}

async fn migrate_data(from: &std::path::Path, to: &str) -> anyhow::Result<()> {
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        bail!("--to must be a postgres:// URL");
    }
    let summary = firewatch_store::postgres::migrate_data::sqlite_to_postgres(from, to)
        .await
        .with_context(|| {
            format!(
                "cannot migrate {} to {}",
                from.display(),
                config::redact(to)
            )
        })?;
    for (table, rows) in &summary.tables {
        println!("{table}: {rows} rows");
    }
    let target = PgStore::open(to).await?;
    match firewatch_store::Store::verify_audit(&target).await? {
        AuditVerdict::Ok { events } => println!(
            "copied into {}: {events} audit events, chain intact. Copy the attachments directory (DATA/blobs) to the nodes' blob_dir.",
            config::redact(to)
        ),
        AuditVerdict::Broken(b) => bail!(
            "the copied audit log is BROKEN at event {}: {b}",
            b.first_bad_seq()
        ),
    }
    Ok(())
}

fn validate_user_name(name: &str) -> anyhow::Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
    if !ok {
        bail!("a user name has 1..64 characters among letters, digits and . _ - @");
    }
    Ok(())
}

fn triage(args: TriageArgs) -> anyhow::Result<()> {
    let text = match (&args.file, args.text.as_deref()) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (None, Some("-")) | (None, None) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("cannot read standard input")?;
            s
        }
        (None, Some(t)) => t.to_string(),
    };
    if text.trim().is_empty() {
        bail!("nothing to triage: give a text, --file PATH, or - for standard input");
    }
    let catalog = match &args.catalog {
        Some(p) => triage_engine::load_catalog(Some(p), std::path::Path::new("."))?,
        None => firewatch_triage::Catalog::from_products(Vec::new()),
    };
    let triager = firewatch_triage::Triager::new(catalog);
    let result = triager.triage(&text, args.language.as_deref());
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&result)?),
        Format::Text => print!("{}", result.to_text()),
    }
    Ok(())
}
