//! A content-addressed blob store on the local file system (`sha256/<hex>`).
//!
//! Envelopes live in the log's journal; this store holds everything else a verifier fetches by
//! digest: signers' public keys (whose SHA-256 is the entry's signer key hash) and dataset
//! manifests. Writes are atomic and durable before they are acknowledged.
use sha2::{Digest, Sha256};
use std::{io::Write, path::PathBuf};

/// The blob store.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// A store under `root`.
    pub fn new(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(root.join("sha256"))?;
        Ok(Self { root })
    }

    fn path(&self, hex: &str) -> PathBuf {
        self.root.join("sha256").join(hex)
    }

    /// Stores `bytes`; returns their SHA-256. Storing the same bytes twice is a no-op.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<[u8; 32]> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let path = self.path(&hex::encode(digest));
        if path.exists() {
            return Ok(digest);
        }
        let dir = path.parent().expect("has a parent");
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(digest)
    }

    /// The size of the blob with this SHA-256, if stored, without reading it (the name is the
    /// digest, checked when it was stored).
    pub fn size(&self, digest: &[u8; 32]) -> std::io::Result<Option<u64>> {
        match std::fs::metadata(self.path(&hex::encode(digest))) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The blob with this SHA-256, if stored.
    pub fn get(&self, digest: &[u8; 32]) -> std::io::Result<Option<Vec<u8>>> {
        match std::fs::read(self.path(&hex::encode(digest))) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}
