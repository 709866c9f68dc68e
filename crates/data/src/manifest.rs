//! The manifest: every file of a dataset with its digests, plus the root.
//!
//! A [`Manifest`] can only be built through [`Manifest::from_entries`] or
//! [`Manifest::from_json`], both of which check every entry and recompute the
//! dataset root, so a `Manifest` value in memory is always consistent: its
//! root really is the root of its files. That is what lets
//! [`verify`](crate::verify) compare a directory against a manifest file by
//! file and trust the root at the same time.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::digest::{Blake3Hash, Sha256Hash};
use crate::error::{Error, Result};
use crate::file_hash::{CHUNK_MAX, CHUNK_MIN, ChunkRef};
use crate::format::Format;
use crate::merkle::{RootBuilder, audit_path, merkle_root};
use crate::proof::FileProof;
use crate::walk::check_rel_path;

/// Value of the `format` field of a manifest.
pub const FORMAT_NAME: &str = "cairn-data";
/// The format version this crate writes by default (it reads 1 and 2).
pub const FORMAT_VERSION: u32 = 2;

/// One file of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Dataset-relative path: UTF-8, '/'-separated, no empty, `.` or `..` components.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file: always in format v1; in v2 only when asked for
    /// (for users who check single files with other tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256Hash>,
    /// BLAKE3 Merkle root over the file's chunks.
    pub root: Blake3Hash,
    /// Number of chunks.
    pub chunk_count: u64,
    /// The chunks in file order, when recorded (optional in the format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<ChunkRef>>,
}

impl FileEntry {
    /// This file's leaf in the dataset tree of `format` (see [`Format::file_leaf`]).
    pub fn leaf(&self, format: Format) -> Blake3Hash {
        format.file_leaf(&self.path, self.size, &self.root, self.sha256.as_ref())
    }

    /// Whether two entries describe the same content: size, root, and
    /// SHA-256 where both have one. Chunk lists are derived data and not compared.
    pub fn same_content(&self, other: &FileEntry) -> bool {
        let sha_ok = match (&self.sha256, &other.sha256) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.size == other.size && self.root == other.root && sha_ok
    }
}

/// Which paths differ between an expected and an actual dataset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetDiff {
    /// Paths present now but not in the expected manifest.
    pub added: Vec<String>,
    /// Paths in the expected manifest that are missing now.
    pub removed: Vec<String>,
    /// Paths in both whose size or digests differ.
    pub modified: Vec<String>,
}

impl DatasetDiff {
    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }
}

/// The serialized shape of a manifest (field order is the canonical order).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestWire {
    format: String,
    version: u32,
    root: Blake3Hash,
    files: Vec<FileEntry>,
}

/// A checked list of a dataset's files and its root. See the crate docs for
/// the JSON form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ManifestWire", into = "ManifestWire")]
pub struct Manifest {
    format: Format,
    root: Blake3Hash,
    files: Vec<FileEntry>,
}

impl From<Manifest> for ManifestWire {
    fn from(m: Manifest) -> Self {
        ManifestWire {
            format: FORMAT_NAME.to_owned(),
            version: m.format.number(),
            root: m.root,
            files: m.files,
        }
    }
}

impl TryFrom<ManifestWire> for Manifest {
    type Error = Error;

    fn try_from(w: ManifestWire) -> Result<Self> {
        if w.format != FORMAT_NAME {
            return Err(bad(
                "format",
                format!("expected {FORMAT_NAME:?}, found {:?}", w.format),
            ));
        }
        let Some(format) = Format::from_number(w.version) else {
            return Err(bad(
                "version",
                format!(
                    "this build reads versions 1 and 2, found {}; upgrade cairn",
                    w.version
                ),
            ));
        };
        // Stored manifests must already be in canonical (sorted, unique) order,
        // so that one dataset has exactly one manifest text.
        for (i, pair) in w.files.windows(2).enumerate() {
            match pair[0].path.cmp(&pair[1].path) {
                Ordering::Less => {}
                Ordering::Equal => {
                    return Err(bad(
                        format!("files[{}].path", i + 1),
                        format!("duplicate path {:?}", pair[1].path),
                    ));
                }
                Ordering::Greater => {
                    return Err(bad(
                        format!("files[{}].path", i + 1),
                        format!(
                            "{:?} is not after {:?}: files must be sorted byte-wise by path",
                            pair[1].path, pair[0].path
                        ),
                    ));
                }
            }
        }
        let m = Manifest::from_entries_in(format, w.files)?;
        if m.root != w.root {
            return Err(bad(
                "root",
                format!("declared {} but the files give {}", w.root, m.root),
            ));
        }
        Ok(m)
    }
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidManifest {
        field: field.into(),
        reason: reason.into(),
    }
}

fn check_entry(format: Format, i: usize, e: &FileEntry) -> Result<()> {
    let field = |name: &str| format!("files[{i}].{name} ({:?})", e.path);
    check_rel_path(&e.path)
        .map_err(|r| bad(format!("files[{i}].path"), format!("{:?}: {r}", e.path)))?;
    if format.requires_sha256() && e.sha256.is_none() {
        return Err(bad(
            field("sha256"),
            format!("format {format} records the SHA-256 of every file"),
        ));
    }
    if e.size == 0 {
        if e.chunk_count != 0 {
            return Err(bad(field("chunk_count"), "an empty file has 0 chunks"));
        }
        if e.root != format.empty_file_root() {
            return Err(bad(field("root"), "an empty file has the empty-file root"));
        }
    } else {
        let min = e.size.div_ceil(CHUNK_MAX as u64);
        let max = e.size / CHUNK_MIN as u64 + 1;
        if e.chunk_count < min || e.chunk_count > max {
            return Err(bad(
                field("chunk_count"),
                format!(
                    "{} chunks is impossible for {} bytes (must be {min}..={max})",
                    e.chunk_count, e.size
                ),
            ));
        }
    }
    if let Some(chunks) = &e.chunks {
        if chunks.len() as u64 != e.chunk_count {
            return Err(bad(
                field("chunks"),
                format!(
                    "{} chunks listed but chunk_count is {}",
                    chunks.len(),
                    e.chunk_count
                ),
            ));
        }
        let mut total = 0u64;
        let mut root = RootBuilder::new();
        for (j, c) in chunks.iter().enumerate() {
            if c.len == 0 || c.len > CHUNK_MAX as u64 {
                return Err(bad(
                    format!("files[{i}].chunks[{j}].len ({:?})", e.path),
                    format!("{} is outside 1..={CHUNK_MAX}", c.len),
                ));
            }
            total = total.saturating_add(c.len);
            root.push(format.chunk_leaf(&c.hash, c.len));
        }
        if total != e.size {
            return Err(bad(
                field("chunks"),
                format!("chunk lengths add up to {total}, size is {}", e.size),
            ));
        }
        if root.finish().unwrap_or_else(|| format.empty_file_root()) != e.root {
            return Err(bad(
                field("chunks"),
                "the chunk list does not give the file root",
            ));
        }
    }
    Ok(())
}

impl Manifest {
    /// Builds a format v2 manifest from file entries in any order: checks
    /// each entry, sorts by path, rejects duplicates and computes the dataset root.
    pub fn from_entries(files: Vec<FileEntry>) -> Result<Manifest> {
        Manifest::from_entries_in(Format::V2, files)
    }

    /// [`from_entries`](Self::from_entries) for a given format version.
    pub fn from_entries_in(format: Format, mut files: Vec<FileEntry>) -> Result<Manifest> {
        files.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        for (i, e) in files.iter().enumerate() {
            check_entry(format, i, e)?;
            if i > 0 && files[i - 1].path == e.path {
                return Err(bad(
                    format!("files[{i}].path"),
                    format!("duplicate path {:?}", e.path),
                ));
            }
        }
        let leaves: Vec<Blake3Hash> = files.iter().map(|e| e.leaf(format)).collect();
        let root = merkle_root(&leaves).unwrap_or_else(|| format.empty_dataset_root());
        Ok(Manifest {
            format,
            root,
            files,
        })
    }

    /// The format version of this manifest.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether any file entry records its SHA-256.
    pub fn has_sha256(&self) -> bool {
        self.files.iter().any(|e| e.sha256.is_some())
    }

    /// The dataset root.
    pub fn root(&self) -> Blake3Hash {
        self.root
    }

    /// All files, sorted byte-wise by path.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The entry for a dataset-relative path.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.index_of(path).map(|i| &self.files[i])
    }

    fn index_of(&self, path: &str) -> Option<usize> {
        self.files
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
    }

    /// Sum of all file sizes.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|e| e.size).sum()
    }

    /// Pretty-printed JSON for people and files on disk.
    pub fn to_json(&self) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses and fully checks a manifest (format, version, every entry,
    /// canonical order, declared root equal to the computed root).
    ///
    /// Syntax errors and unknown fields are [`Error::Json`]; a well-formed
    /// manifest that breaks a rule is [`Error::InvalidManifest`] naming the field.
    pub fn from_json(s: &str) -> Result<Manifest> {
        let wire: ManifestWire = serde_json::from_str(s).map_err(|source| Error::Json {
            what: "manifest",
            source,
        })?;
        Manifest::try_from(wire)
    }

    /// The canonical byte form: compact JSON (no whitespace) with fields in
    /// the documented order and files sorted by path. Two equal manifests
    /// always give identical bytes; sign or hash these.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// BLAKE3 of [`canonical_bytes`](Self::canonical_bytes): names this exact
    /// manifest text (including optional chunk lists), unlike the dataset
    /// root, which names the dataset's content.
    pub fn digest(&self) -> Blake3Hash {
        blake3::hash(&self.canonical_bytes()).into()
    }

    /// The same manifest without chunk lists (smaller; same root).
    pub fn without_chunk_lists(&self) -> Manifest {
        let files = self
            .files
            .iter()
            .map(|e| FileEntry {
                chunks: None,
                ..e.clone()
            })
            .collect();
        Manifest {
            format: self.format,
            root: self.root,
            files,
        }
    }

    /// Paths that differ from `self` (expected) to `actual`.
    pub fn diff(&self, actual: &Manifest) -> DatasetDiff {
        let mut d = DatasetDiff::default();
        let (mut i, mut j) = (0, 0);
        let (a, b) = (&self.files, &actual.files);
        while i < a.len() || j < b.len() {
            let ord = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => x.path.cmp(&y.path),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            match ord {
                Ordering::Less => {
                    d.removed.push(a[i].path.clone());
                    i += 1;
                }
                Ordering::Greater => {
                    d.added.push(b[j].path.clone());
                    j += 1;
                }
                Ordering::Equal => {
                    if !a[i].same_content(&b[j]) {
                        d.modified.push(a[i].path.clone());
                    }
                    i += 1;
                    j += 1;
                }
            }
        }
        d
    }

    /// A membership proof for one file, from the manifest alone (no file is read).
    pub fn prove(&self, path: &str) -> Result<FileProof> {
        let index = self.index_of(path).ok_or_else(|| Error::FileNotInDataset {
            path: path.to_owned(),
        })?;
        let leaves: Vec<Blake3Hash> = self.files.iter().map(|e| e.leaf(self.format)).collect();
        let audit = audit_path(&leaves, index).unwrap_or_default();
        let e = &self.files[index];
        Ok(FileProof::new(
            self.format,
            self.root,
            index as u64,
            self.files.len() as u64,
            e,
            audit,
        ))
    }
}
