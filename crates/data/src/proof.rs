//! Membership proofs: "this file, with these bytes, is part of the dataset
//! with that root", checkable with the one file and nothing else.
//!
//! A proof carries the file's leaf data (path, size, file root, SHA-256) and
//! the RFC 9162 audit path from that leaf to the dataset root. Checking it
//! re-hashes only the one file, rebuilds its leaf and walks the path up.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::{Blake3Hash, Sha256Hash};
use crate::error::{Error, ProofFailure, Result};
use crate::file_hash::{FileDigest, hash_bytes, hash_file};
use crate::manifest::{FORMAT_VERSION, FileEntry};
use crate::merkle::{file_leaf, root_from_audit_path};
use crate::walk::check_rel_path;

/// Value of the `format` field of a file proof.
pub const PROOF_FORMAT_NAME: &str = "cairn-data-proof";

/// The file a proof is about: exactly the data of its dataset-tree leaf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenFile {
    /// Dataset-relative path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file.
    pub sha256: Sha256Hash,
    /// BLAKE3 chunk Merkle root of the file.
    pub root: Blake3Hash,
}

/// A proof that one file belongs to a dataset. JSON-serializable; see the
/// crate docs for the exact form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileProof {
    /// Always [`PROOF_FORMAT_NAME`].
    pub format: String,
    /// Format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// The dataset root this proof leads to.
    pub dataset_root: Blake3Hash,
    /// Position of the file's leaf (files sorted byte-wise by path).
    pub index: u64,
    /// Number of files in the dataset.
    pub tree_size: u64,
    /// The file's leaf data.
    pub file: ProvenFile,
    /// Sibling hashes from the leaf up to the root (RFC 9162 §2.1.3).
    pub audit_path: Vec<Blake3Hash>,
}

/// The bytes of the file a proof is checked against.
#[derive(Debug, Clone, Copy)]
pub enum FileSource<'a> {
    /// The file's content in memory.
    Bytes(&'a [u8]),
    /// A path to read (only this file is read).
    Path(&'a Path),
}

impl<'a> From<&'a [u8]> for FileSource<'a> {
    fn from(b: &'a [u8]) -> Self {
        FileSource::Bytes(b)
    }
}

impl<'a> From<&'a Vec<u8>> for FileSource<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        FileSource::Bytes(b)
    }
}

impl<'a> From<&'a Path> for FileSource<'a> {
    fn from(p: &'a Path) -> Self {
        FileSource::Path(p)
    }
}

impl<'a> From<&'a std::path::PathBuf> for FileSource<'a> {
    fn from(p: &'a std::path::PathBuf) -> Self {
        FileSource::Path(p)
    }
}

impl FileProof {
    pub(crate) fn new(
        dataset_root: Blake3Hash,
        index: u64,
        tree_size: u64,
        e: &FileEntry,
        audit_path: Vec<Blake3Hash>,
    ) -> Self {
        FileProof {
            format: PROOF_FORMAT_NAME.to_owned(),
            version: FORMAT_VERSION,
            dataset_root,
            index,
            tree_size,
            file: ProvenFile {
                path: e.path.clone(),
                size: e.size,
                sha256: e.sha256,
                root: e.root,
            },
            audit_path,
        }
    }

    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses a proof and checks its form (not yet against any file or root).
    pub fn from_json(s: &str) -> Result<FileProof> {
        let p: FileProof = serde_json::from_str(s).map_err(|source| Error::Json {
            what: "file proof",
            source,
        })?;
        p.check_form()?;
        Ok(p)
    }

    fn check_form(&self) -> Result<()> {
        if self.format != PROOF_FORMAT_NAME {
            return Err(Error::InvalidProof {
                field: "format",
                reason: format!("expected {PROOF_FORMAT_NAME:?}, found {:?}", self.format),
            });
        }
        if self.version != FORMAT_VERSION {
            return Err(Error::InvalidProof {
                field: "version",
                reason: format!(
                    "this build reads version {FORMAT_VERSION}, found {}; upgrade cairn",
                    self.version
                ),
            });
        }
        check_rel_path(&self.file.path).map_err(|r| Error::InvalidProof {
            field: "file.path",
            reason: format!("{:?}: {r}", self.file.path),
        })?;
        if self.index >= self.tree_size {
            return Err(Error::InvalidProof {
                field: "index",
                reason: format!("{} is not below tree_size {}", self.index, self.tree_size),
            });
        }
        Ok(())
    }

    /// The file's leaf hash in the dataset tree.
    pub fn leaf(&self) -> Blake3Hash {
        file_leaf(
            &self.file.path,
            self.file.size,
            &self.file.root,
            &self.file.sha256,
        )
    }
}

/// Checks that `file` is the file `proof` speaks of and that it belongs to
/// the dataset with root `root`. Reads (or hashes) only that one file.
///
/// Checks, in order: the proof's form; that it names `root`; that its audit
/// path leads from its leaf to `root`; then the file's size, SHA-256 and
/// chunk root against the proof. The first failure is returned as
/// [`Error::ProofMismatch`] (or [`Error::InvalidProof`] for a malformed proof).
pub fn verify_file_proof<'a>(
    proof: &FileProof,
    file: impl Into<FileSource<'a>>,
    root: &Blake3Hash,
) -> Result<()> {
    proof.check_form()?;
    let fail = |failure| Error::ProofMismatch {
        path: proof.file.path.clone(),
        failure,
    };
    if proof.dataset_root != *root {
        return Err(fail(ProofFailure::ProofForOtherRoot {
            expected: *root,
            in_proof: proof.dataset_root,
        }));
    }
    let computed = root_from_audit_path(
        &proof.leaf(),
        proof.index,
        proof.tree_size,
        &proof.audit_path,
    )
    .ok_or_else(|| {
        fail(ProofFailure::PathShape {
            index: proof.index,
            tree_size: proof.tree_size,
        })
    })?;
    if computed != *root {
        return Err(fail(ProofFailure::AuditPath {
            expected: *root,
            computed,
        }));
    }
    let digest: FileDigest = match file.into() {
        FileSource::Bytes(b) => hash_bytes(b, false),
        FileSource::Path(p) => {
            // Cheap size check first: no need to hash a file of the wrong size.
            let meta = std::fs::metadata(p).map_err(|e| Error::io("read metadata of", p, e))?;
            if meta.len() != proof.file.size {
                return Err(fail(ProofFailure::Size {
                    expected: proof.file.size,
                    actual: meta.len(),
                }));
            }
            hash_file(p, false)?
        }
    };
    if digest.size != proof.file.size {
        return Err(fail(ProofFailure::Size {
            expected: proof.file.size,
            actual: digest.size,
        }));
    }
    if digest.sha256 != proof.file.sha256 {
        return Err(fail(ProofFailure::Sha256));
    }
    if digest.root != proof.file.root {
        return Err(fail(ProofFailure::FileRoot {
            expected: proof.file.root,
            actual: digest.root,
        }));
    }
    Ok(())
}
