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
use crate::file_hash::{FileDigest, HashSpec, hash_bytes_with, hash_file_with};
use crate::format::Format;
use crate::manifest::FileEntry;
use crate::merkle::root_from_audit_path;
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
    /// SHA-256 of the file: present in format v1 proofs (it is part of the
    /// v1 leaf), absent in v2 (the v2 leaf does not cover it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Hash>,
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
    /// Format version of the dataset (1 or 2).
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
        format: Format,
        dataset_root: Blake3Hash,
        index: u64,
        tree_size: u64,
        e: &FileEntry,
        audit_path: Vec<Blake3Hash>,
    ) -> Self {
        FileProof {
            format: PROOF_FORMAT_NAME.to_owned(),
            version: format.number(),
            dataset_root,
            index,
            tree_size,
            file: ProvenFile {
                path: e.path.clone(),
                size: e.size,
                sha256: if format.requires_sha256() {
                    e.sha256
                } else {
                    None
                },
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

    /// The dataset format version the proof is for.
    pub fn dataset_format(&self) -> Result<Format> {
        Format::from_number(self.version).ok_or_else(|| Error::InvalidProof {
            field: "version",
            reason: format!(
                "this build reads versions 1 and 2, found {}; upgrade cairn",
                self.version
            ),
        })
    }

    fn check_form(&self) -> Result<Format> {
        if self.format != PROOF_FORMAT_NAME {
            return Err(Error::InvalidProof {
                field: "format",
                reason: format!("expected {PROOF_FORMAT_NAME:?}, found {:?}", self.format),
            });
        }
        let format = self.dataset_format()?;
        match (format.requires_sha256(), self.file.sha256.is_some()) {
            (true, false) => {
                return Err(Error::InvalidProof {
                    field: "file.sha256",
                    reason: format!("format {format} proofs carry the file's SHA-256"),
                });
            }
            (false, true) => {
                return Err(Error::InvalidProof {
                    field: "file.sha256",
                    reason: format!(
                        "format {format} proofs carry no SHA-256 (the v2 leaf does not cover it)"
                    ),
                });
            }
            _ => {}
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
        Ok(format)
    }

    /// The file's leaf hash in the dataset tree (format v2 unless the
    /// proof says version 1).
    pub fn leaf(&self) -> Blake3Hash {
        let format = self.dataset_format().unwrap_or_default();
        format.file_leaf(
            &self.file.path,
            self.file.size,
            &self.file.root,
            self.file.sha256.as_ref(),
        )
    }
}

/// Checks that `file` is the file `proof` speaks of and that it belongs to
/// the dataset with root `root`. Reads (or hashes) only that one file.
///
/// Checks, in order: the proof's form; that it names `root`; that its audit
/// path leads from its leaf to `root`; then the file's size, SHA-256
/// (format v1 proofs) and chunk root against the proof, re-hashing the file
/// with the proof's format version. The first failure is returned as
/// [`Error::ProofMismatch`] (or [`Error::InvalidProof`] for a malformed proof).
pub fn verify_file_proof<'a>(
    proof: &FileProof,
    file: impl Into<FileSource<'a>>,
    root: &Blake3Hash,
) -> Result<()> {
    let format = proof.check_form()?;
    let spec = match format {
        Format::V1 => HashSpec::v1(),
        Format::V2 => HashSpec::v2(),
    };
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
        FileSource::Bytes(b) => hash_bytes_with(b, &spec),
        FileSource::Path(p) => {
            // Cheap size check first: no need to hash a file of the wrong size.
            let meta = std::fs::metadata(p).map_err(|e| Error::io("read metadata of", p, e))?;
            if meta.len() != proof.file.size {
                return Err(fail(ProofFailure::Size {
                    expected: proof.file.size,
                    actual: meta.len(),
                }));
            }
            hash_file_with(p, &spec)?
        }
    };
    if digest.size != proof.file.size {
        return Err(fail(ProofFailure::Size {
            expected: proof.file.size,
            actual: digest.size,
        }));
    }
    if proof.file.sha256.is_some() && digest.sha256 != proof.file.sha256 {
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
