//! `firewatch backup DEST`: an online, consistent copy of an installation.
//!
//! The database is copied first with SQLite's `VACUUM INTO` (one snapshot, taken while the
//! server keeps writing); the attachments after it. Blobs are immutable and never deleted,
//! and a report's blobs are durable before its transaction commits, so every blob the
//! snapshot references already exists when the blobs are copied.

use crate::cli::open_store;
use crate::config::Settings;
use anyhow::{Context, bail};
use firewatch_store::{AuditVerdict, Store};
use std::path::Path;

pub async fn run(settings: &Settings, dest: &Path) -> anyhow::Result<()> {
    if dest.exists()
        && std::fs::read_dir(dest)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!("{} exists and is not an empty directory", dest.display());
    }
    if let crate::config::Backend::Postgres(_) = settings.backend()? {
        bail!(
            "firewatch backup copies SQLite installations; for PostgreSQL use pg_dump (and copy DATA/blobs)"
        );
    }
    if !settings.data.join("firewatch.sqlite").exists() && settings.database_url.is_none() {
        bail!("no installation in {}", settings.data.display());
    }
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let store = open_store(settings).await?;
    let db = dest.join("firewatch.sqlite");
    store
        .backup_database(&db)
        .await
        .with_context(|| format!("cannot write {}", db.display()))?;
    let blobs = copy_tree(&settings.blob_dir(), &dest.join("blobs"))?;
    let catalog = settings.data.join("catalog.csv");
    if catalog.exists() {
        std::fs::copy(&catalog, dest.join("catalog.csv")).context("cannot copy catalog.csv")?;
    }
    // Check the copy before calling it a backup.
    let copy = firewatch_store::sqlite::SqliteStore::open(&db).await?;
    match copy.verify_audit().await? {
        AuditVerdict::Ok { events } => {
            println!(
                "backup written to {}: database ({events} audit events, chain intact), {blobs} attachment files",
                dest.display()
            );
            Ok(())
        }
        AuditVerdict::Broken(b) => bail!(
            "the backup's audit chain is broken at event {}: {b}",
            b.first_bad_seq()
        ),
    }
}

/// Copies a directory tree, fsyncing each file; returns the number of files.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<u64> {
    if !from.exists() {
        return Ok(0);
    }
    std::fs::create_dir_all(to)?;
    let mut n = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            n += copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() && !entry.file_name().to_string_lossy().starts_with('.') {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
            std::fs::File::open(&target)?.sync_all()?;
            n += 1;
        }
    }
    std::fs::File::open(to)?.sync_all()?;
    Ok(n)
}
