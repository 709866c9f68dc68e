//! Where tiles, entry bundles and the checkpoint live.
//!
//! Everything here is derived from the journal, so a backend needs no durability of its own:
//! after a crash the log rewrites whatever is missing or stale. That keeps the trait small
//! enough for an object store or PostgreSQL backend to implement later.
use crate::{Error, Result};
use std::{
    io::Write,
    path::{Component, Path, PathBuf},
};

/// Storage for a log's published resources, addressed by their tlog-tiles paths
/// (`checkpoint`, `tile/0/x001/234`, `tile/entries/007.p/3`, ...).
pub trait LogStorage: Send + Sync + 'static {
    /// Stores `bytes` at `path`, replacing what was there. Readers see either the old or the new
    /// bytes, never a mix.
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()>;
    /// The bytes at `path`, or `None`.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>>;
    /// Removes `path` and everything under it (a partial tile's `<tile>.p` directory once the
    /// full tile exists). Missing paths are fine. The default keeps everything.
    fn delete(&self, path: &str) -> Result<()> {
        let _ = path;
        Ok(())
    }
}

/// A directory on the local file system.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
}

impl FsStorage {
    /// Storage rooted at `root` (created if missing).
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        Ok(Self { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn resolve(&self, path: &str) -> Result<PathBuf> {
        let rel = Path::new(path);
        let clean = !path.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !clean {
            return Err(Error::BadPath(path.to_owned()));
        }
        Ok(self.root.join(rel))
    }
}

impl LogStorage for FsStorage {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let full = self.resolve(path)?;
        let dir = full.parent().expect("resolved paths have a parent");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        // Temp file in the same directory, then rename: atomic replacement on POSIX.
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
        tmp.write_all(bytes).map_err(|e| Error::io(&full, e))?;
        tmp.persist(&full).map_err(|e| Error::io(&full, e.error))?;
        Ok(())
    }

    fn delete(&self, path: &str) -> Result<()> {
        let full = self.resolve(path)?;
        let gone = match std::fs::symlink_metadata(&full) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&full),
            Ok(_) => std::fs::remove_file(&full),
            Err(e) => Err(e),
        };
        match gone {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&full, e)),
        }
    }

    fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let full = self.resolve(path)?;
        match std::fs::read(&full) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&full, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_replaces_atomically_and_rejects_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStorage::new(dir.path()).unwrap();
        assert_eq!(s.get("tile/0/000").unwrap(), None);
        s.put("tile/0/000", b"a").unwrap();
        s.put("tile/0/000", b"bb").unwrap();
        assert_eq!(s.get("tile/0/000").unwrap().unwrap(), b"bb");
        for bad in ["../x", "/etc/passwd", "tile/../../x", ""] {
            assert!(matches!(s.put(bad, b"x"), Err(Error::BadPath(_))), "{bad}");
        }
    }
}
