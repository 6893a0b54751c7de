//! Content-addressed blob storage for attachments. A blob is durable (file and directory
//! fsynced) before `put` returns, so a report that references it can be acknowledged.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob storage I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a blob id: {0}")]
    BadId(String),
}

pub trait BlobStore: Send + Sync + 'static {
    /// Stores bytes durably and returns their SHA-256 (hex), which is also their id.
    fn put(&self, bytes: &[u8]) -> Result<String, BlobError>;
    fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError>;
}

/// Blobs under `root/ab/cdef…`, named by their SHA-256.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    root: PathBuf,
}

impl FsBlobStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FsBlobStore { root: root.into() }
    }

    fn path_for(&self, sha256: &str) -> Result<PathBuf, BlobError> {
        // Only lowercase hex of the right length: an id can never escape the root.
        if sha256.len() != 64
            || !sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(BlobError::BadId(sha256.chars().take(80).collect()));
        }
        Ok(self.root.join(&sha256[..2]).join(&sha256[2..]))
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

impl BlobStore for FsBlobStore {
    fn put(&self, bytes: &[u8]) -> Result<String, BlobError> {
        let sha = hex::encode(Sha256::digest(bytes));
        let path = self.path_for(&sha)?;
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().expect("blob path has a parent");
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{}.tmp-{}", &sha[2..10], std::process::id()));
        {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        sync_dir(dir)?;
        Ok(sha)
    }

    fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.path_for(sha256)?;
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_by_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::new(dir.path());
        let id = store.put(b"hello").unwrap();
        assert_eq!(
            id,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(store.get(&id).unwrap().unwrap(), b"hello");
        assert_eq!(store.put(b"hello").unwrap(), id);
    }

    #[test]
    fn ids_that_are_not_hashes_cannot_reach_outside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsBlobStore::new(dir.path());
        for bad in [
            "../../etc/passwd",
            "",
            &"A".repeat(64),
            &format!("{}/", "a".repeat(63)),
        ] {
            assert!(matches!(store.get(bad), Err(BlobError::BadId(_))), "{bad}");
        }
        assert_eq!(store.get(&"a".repeat(64)).unwrap(), None);
    }
}
