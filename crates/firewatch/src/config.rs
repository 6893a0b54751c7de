//! Settings: built-in defaults, then the config file, then `FIREWATCH_*` variables, then
//! command-line flags (each layer overrides the one before).

use anyhow::{Context, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Data directory: the SQLite file and the attachments.
    pub data: PathBuf,
    pub listen: SocketAddr,
    /// `sqlite://PATH` (default: DATA/firewatch.sqlite) or `postgres://...` (issue 8). With
    /// PostgreSQL, `data` still holds the attachments (`DATA/blobs`): nodes sharing one
    /// database must share that directory too (a shared mount).
    pub database_url: Option<String>,
    /// Product catalog CSV used by triage (default: DATA/catalog.csv when present).
    pub catalog: Option<PathBuf>,
    /// Anonymous intake requests per minute per client address, and the burst above it.
    pub intake_per_minute: u32,
    pub intake_burst: u32,
    /// `text` or `json` logs on stderr.
    pub log_format: String,
    /// Playbook TOML file applied at startup when it differs from the active one (issue 5).
    pub playbook: Option<PathBuf>,
    /// How often the scheduler polls clocks and the outbox, in milliseconds.
    pub scheduler_interval_ms: u64,
    /// Webhook endpoints, SMTP and retries (`[notifications]`).
    #[serde(default)]
    pub notifications: crate::notify::NotifySettings,
    /// `[social]`: social and news watch (connectors, forecast, escalation).
    #[serde(default)]
    pub social: crate::social::SocialSettings,
    /// Attachment directory (default DATA/blobs); also FIREWATCH_BLOB_DIR. Nodes sharing a
    /// PostgreSQL database must all point at the same directory (a shared mount).
    #[serde(default)]
    pub blob_dir: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data: PathBuf::from("./firewatch-data"),
            listen: "127.0.0.1:8080".parse().expect("static address"),
            database_url: None,
            catalog: None,
            intake_per_minute: 30,
            intake_burst: 10,
            log_format: "text".into(),
            playbook: None,
            scheduler_interval_ms: 1000,
            notifications: crate::notify::NotifySettings::default(),
            social: Default::default(),
            blob_dir: None,
        }
    }
}

/// Flags that override settings; `None` leaves the lower layers in force.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<PathBuf>,
}

/// The settings that `FIREWATCH_*` variables may set (others, such as FIREWATCH_LOG, are
/// read elsewhere and must not trip the unknown-key check).
const SETTING_KEYS: [&str; 10] = [
    "blob_dir",
    "playbook",
    "scheduler_interval_ms",
    "data",
    "listen",
    "database_url",
    "catalog",
    "intake_per_minute",
    "intake_burst",
    "log_format",
];

pub fn load(config_file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Settings> {
    let mut fig = Figment::from(Serialized::defaults(Settings::default()));
    if let Some(path) = config_file {
        if !path.exists() {
            bail!("config file {} does not exist", path.display());
        }
        fig = fig.merge(Toml::file(path));
    }
    let settings: Settings = fig
        .merge(Env::prefixed("FIREWATCH_").only(&SETTING_KEYS))
        .merge(Serialized::defaults(overrides))
        .extract()
        .map_err(|e| anyhow::anyhow!("bad configuration: {e}"))?;
    Ok(settings)
}

/// Where the store lives.
pub enum Backend {
    Sqlite(PathBuf),
    /// A PostgreSQL URL (issue 8).
    Postgres(String),
}

impl Settings {
    pub fn backend(&self) -> anyhow::Result<Backend> {
        match &self.database_url {
            None => Ok(Backend::Sqlite(self.data.join("firewatch.sqlite"))),
            Some(url) if url.starts_with("sqlite://") || url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                Ok(Backend::Sqlite(PathBuf::from(path)))
            }
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Backend::Postgres(url.clone()))
            }
            Some(url) => bail!(
                "unsupported database URL `{}`: expected sqlite://PATH or postgres://...",
                redact(url)
            ),
        }
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.blob_dir
            .clone()
            .unwrap_or_else(|| self.data.join("blobs"))
    }

    pub fn ensure_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data)
            .with_context(|| format!("cannot create the data directory {}", self.data.display()))
    }
}

/// Hides a password in a URL before it is printed.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fw.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9999\"\nintake_per_minute = 5\n",
        )
        .unwrap();
        let s = load(Some(&file), Overrides::default()).unwrap();
        assert_eq!(s.listen.port(), 9999);
        assert_eq!(s.intake_per_minute, 5);
        let s = load(
            Some(&file),
            Overrides {
                listen: Some("127.0.0.1:7777".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(s.listen.port(), 7777);
    }

    #[test]
    fn an_unknown_key_in_the_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fw.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        let err = load(Some(&file), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
    }

    #[test]
    fn passwords_in_database_urls_are_redacted() {
        assert_eq!(redact("postgres://fw:secret@db/fw"), "postgres://***@db/fw");
    }
}
