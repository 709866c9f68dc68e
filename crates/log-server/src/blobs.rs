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

    /// A temporary file beside the blobs, for an upload streamed to disk before its digest is
    /// known; [`BlobStore::persist`] moves it into place.
    pub fn temp(&self) -> std::io::Result<tempfile::NamedTempFile> {
        tempfile::NamedTempFile::new_in(self.root.join("sha256"))
    }

    /// Makes a streamed upload (`tmp`, whose SHA-256 the caller computed while writing it) the
    /// blob `digest`, durably. Storing the same bytes twice is a no-op.
    pub fn persist(&self, tmp: tempfile::NamedTempFile, digest: &[u8; 32]) -> std::io::Result<()> {
        let path = self.path(&hex::encode(digest));
        if path.exists() {
            return Ok(());
        }
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        std::fs::File::open(self.root.join("sha256"))?.sync_all()
    }

    /// Every stored blob: its digest and when it was written.
    pub fn list(&self) -> std::io::Result<Vec<([u8; 32], std::time::SystemTime)>> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.root.join("sha256"))? {
            let e = e?;
            let mut d = [0u8; 32];
            let name = e.file_name();
            if hex::decode_to_slice(name.to_string_lossy().as_bytes(), &mut d).is_err() {
                continue; // a temporary file of an upload in progress
            }
            out.push((d, e.metadata()?.modified()?));
        }
        Ok(out)
    }

    /// Deletes a blob (no error if it is already gone).
    pub fn remove(&self, digest: &[u8; 32]) -> std::io::Result<()> {
        match std::fs::remove_file(self.path(&hex::encode(digest))) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
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
