//! Pipelined group commit: acknowledge a committed group only once its WAL frames are on
//! disk, without holding the writer while the disk flushes.
//!
//! With `synchronous = FULL` every COMMIT waits for its own fsync inside SQLite, so the single
//! writer idles for the whole flush and the next group cannot start. The writer connection
//! runs with `synchronous = NORMAL` instead (in WAL mode: COMMIT writes the frames, the WAL is
//! synced before every checkpoint) and hands each committed group's acknowledgements to this
//! thread, which calls `fdatasync` on the WAL file and only then answers the callers. One
//! flush covers every group committed before it started, so while it runs the writer commits
//! the next groups and they share the next flush.
//!
//! Invariants:
//! - No caller hears "stored" before the frames of its transaction were flushed: a group is
//!   handed over after its COMMIT returned, and the flush starts after the hand-over.
//! - A failed flush is final. Linux may drop the failed pages from the cache and report the
//!   next flush as fine, and WAL recovery stops at the first bad frame, losing every later
//!   group too; so after one failure nothing is acknowledged again and the writer refuses
//!   every write until the process restarts (PostgreSQL panics for the same reason).
//! - The WAL is kept open on one descriptor from start-up (reopened only if SQLite replaced
//!   the file): a descriptor sees write-back errors raised after it was opened, even when
//!   SQLite's own descriptor saw them first (the checkpointer's connection, or the CLI's
//!   store on the same file).
//!
//! What this does not give: readers may see a committed group up to one flush before it is
//! durable. A power cut inside that window (not a process crash: the frames are in the OS
//! page cache) can lose a group that no caller was told was stored but a reader saw.

use crate::StoreError;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// An acknowledgement waiting for the flush: `None` means stored.
pub(super) type Deliver = Box<dyn FnOnce(Option<StoreError>) + Send>;

const FAILED: &str = "an earlier flush of the database to disk failed, so nothing more can be \
     confirmed as stored; check the disk and restart firewatch";

/// The sending side; dropping it ends the thread after it has answered what it holds.
pub(super) struct WalSync {
    tx: mpsc::Sender<Vec<Deliver>>,
    failed: Arc<AtomicBool>,
    wal: PathBuf,
}

/// The WAL of the database at `db`: `<db>-wal` next to the file SQLite opens, i.e. after
/// resolving symbolic links as SQLite does.
fn wal_path(db: &Path) -> std::io::Result<PathBuf> {
    let mut wal = std::fs::canonicalize(db)?.into_os_string();
    wal.push("-wal");
    Ok(PathBuf::from(wal))
}

/// What every write hears once a flush failed.
pub(super) fn final_failure() -> StoreError {
    StoreError::Unavailable(FAILED.into())
}

impl WalSync {
    /// Starts the flushing thread for the database at `db` (its WAL: [`wal_path`]).
    pub(super) fn start(db: &Path) -> std::io::Result<WalSync> {
        let wal = wal_path(db)?;
        let mut file = WalFile::new(wal.clone());
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        let (tx, rx) = mpsc::channel::<Vec<Deliver>>();
        std::thread::Builder::new()
            .name("firewatch-walsync".into())
            .spawn(move || {
                while let Ok(mut waiting) = rx.recv() {
                    // Everything already committed shares this flush.
                    while let Ok(more) = rx.try_recv() {
                        waiting.extend(more);
                    }
                    if !flag.load(Ordering::Acquire) {
                        match file.flush() {
                            Ok(()) => {
                                waiting.into_iter().for_each(|d| d(None));
                                continue;
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "flushing the WAL failed; no write will be confirmed until restart");
                                flag.store(true, Ordering::Release);
                            }
                        }
                    }
                    for d in waiting {
                        d(Some(final_failure()));
                    }
                }
            })?;
        Ok(WalSync { tx, failed, wal })
    }

    /// True once a flush failed: the writer then refuses every write.
    pub(super) fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// The WAL file this flushes (the checkpointer watches the same one).
    pub(super) fn wal(&self) -> &Path {
        &self.wal
    }

    /// Answers `deliveries` once everything committed so far is on disk.
    pub(super) fn after_flush(&self, deliveries: Vec<Deliver>) {
        if let Err(mpsc::SendError(deliveries)) = self.tx.send(deliveries) {
            for d in deliveries {
                d(Some(StoreError::Unavailable(
                    "the WAL flusher has stopped".into(),
                )));
            }
        }
    }
}

/// The WAL file, open on one descriptor; reopened only when the path names another file.
struct WalFile {
    path: PathBuf,
    open: Option<(File, u64)>,
}

impl WalFile {
    fn new(path: PathBuf) -> WalFile {
        let mut f = WalFile { path, open: None };
        // The WAL exists once the migrations ran; open it now so this descriptor sees every
        // write-back error from here on. If it does not exist yet, the first flush opens it.
        let _ = f.current();
        f
    }

    fn current(&mut self) -> std::io::Result<&File> {
        let ino = std::fs::metadata(&self.path)?.ino();
        if self.open.as_ref().map(|(_, i)| *i) != Some(ino) {
            self.open = Some((File::open(&self.path)?, ino));
        }
        Ok(&self.open.as_ref().expect("just opened").0)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.current()?.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(sync: &WalSync) -> bool {
        let (tx, rx) = std::sync::mpsc::channel();
        sync.after_flush(vec![Box::new(move |e| tx.send(e.is_none()).unwrap())]);
        rx.recv().unwrap()
    }

    #[test]
    fn answers_after_the_flush_and_a_failed_flush_is_final() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.sqlite");
        std::fs::write(&db, b"db").unwrap();
        std::fs::write(dir.path().join("x.sqlite-wal"), b"frames").unwrap();
        let sync = WalSync::start(&db).unwrap();
        assert!(answer(&sync), "a flushed group is answered as stored");
        assert!(!sync.has_failed());

        // Without a WAL file the flush fails: the caller hears it, and so does every later
        // caller even once the file is back.
        std::fs::remove_file(dir.path().join("x.sqlite-wal")).unwrap();
        assert!(!answer(&sync), "a failed flush is not answered as stored");
        std::fs::write(dir.path().join("x.sqlite-wal"), b"frames").unwrap();
        assert!(!answer(&sync), "nothing is confirmed after a failed flush");
        assert!(sync.has_failed(), "the writer is told to refuse writes");
    }

    #[test]
    fn the_wal_of_a_linked_database_is_the_one_next_to_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.sqlite");
        std::fs::write(&real, b"db").unwrap();
        let link = dir.path().join("link.sqlite");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        // Only the real WAL exists: a flush of `link.sqlite-wal` would fail.
        std::fs::write(dir.path().join("real.sqlite-wal"), b"frames").unwrap();
        let sync = WalSync::start(&link).unwrap();
        assert!(answer(&sync));
    }
}
