//! Finding the files of a dataset and their dataset-relative paths.
//!
//! Why so strict: a dataset root must mean the same bytes on every machine.
//! So links are never followed (a link could make the root depend on files
//! outside the tree, or loop), non-UTF-8 names are rejected instead of being
//! mangled, and FIFOs/sockets/devices are rejected instead of being read (a
//! FIFO would block forever). Empty directories carry no bytes and are not
//! part of a dataset.

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What to do with a symbolic link found inside the dataset directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SymlinkPolicy {
    /// Fail with [`Error::Symlink`] naming the link (the default: a dataset
    /// silently missing a file is worse than a clear error).
    #[default]
    Error,
    /// Leave links out of the dataset; their paths are listed in
    /// [`Stats::skipped_symlinks`](crate::Stats::skipped_symlinks).
    Skip,
}

/// One regular file found by the walk.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// Dataset-relative path, '/'-separated.
    pub(crate) rel: String,
    /// Path to open.
    pub(crate) abs: PathBuf,
    /// `lstat` of the file at walk time.
    pub(crate) meta: Metadata,
}

/// The result of walking a dataset path.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    /// Files sorted by `rel` (byte-wise).
    pub(crate) files: Vec<Found>,
    /// Links that were skipped, sorted.
    pub(crate) skipped_symlinks: Vec<String>,
}

/// Identity of a directory to leave out of the walk (the cache directory when
/// it lies inside the dataset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirId {
    dev: u64,
    ino: u64,
}

impl DirId {
    pub(crate) fn of(path: &Path) -> Option<DirId> {
        let m = fs::metadata(path).ok()?;
        file_id(&m).map(|(dev, ino)| DirId { dev, ino })
    }
}

#[cfg(unix)]
pub(crate) fn file_id(m: &Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
pub(crate) fn file_id(_m: &Metadata) -> Option<(u64, u64)> {
    None
}

/// Walks `root`. A directory gives all regular files below it; a file gives
/// a one-file dataset whose path is the file's name. `root` itself may be a
/// link (the user named it explicitly); links below it follow `policy`.
pub(crate) fn walk(root: &Path, policy: SymlinkPolicy, exclude: Option<DirId>) -> Result<Walk> {
    let meta = fs::metadata(root).map_err(|e| Error::io("read metadata of", root, e))?;
    let mut out = Walk::default();
    if meta.is_file() {
        let name = root
            .file_name()
            .ok_or_else(|| Error::InvalidPath {
                path: root.display().to_string(),
                reason: "a file dataset needs a path that ends in a file name",
            })?
            .to_str()
            .ok_or_else(|| Error::NonUtf8Path { path: root.into() })?;
        out.files.push(Found {
            rel: name.to_owned(),
            abs: root.to_path_buf(),
            meta,
        });
        return Ok(out);
    }
    if !meta.is_dir() {
        return Err(Error::UnsupportedFileType {
            path: root.into(),
            kind: kind_name(&meta),
        });
    }
    walk_dir(root, "", policy, exclude, &mut out)?;
    // Byte-wise order of the whole path string (not per component): "a-b" < "a/b".
    out.files.sort_unstable_by(|a, b| a.rel.cmp(&b.rel));
    out.skipped_symlinks.sort_unstable();
    Ok(out)
}

fn walk_dir(
    dir: &Path,
    prefix: &str,
    policy: SymlinkPolicy,
    exclude: Option<DirId>,
    out: &mut Walk,
) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let abs = entry.path();
        let name = entry.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| Error::NonUtf8Path { path: abs.clone() })?;
        let rel = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        // lstat: never follows a link.
        let meta = entry
            .metadata()
            .map_err(|e| Error::io("read metadata of", &abs, e))?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            match policy {
                SymlinkPolicy::Error => return Err(Error::Symlink { path: abs }),
                SymlinkPolicy::Skip => out.skipped_symlinks.push(rel),
            }
        } else if ft.is_dir() {
            let id = file_id(&meta).map(|(dev, ino)| DirId { dev, ino });
            if exclude.is_some() && id == exclude {
                continue;
            }
            walk_dir(&abs, &rel, policy, exclude, out)?;
        } else if ft.is_file() {
            out.files.push(Found { rel, abs, meta });
        } else {
            return Err(Error::UnsupportedFileType {
                path: abs,
                kind: kind_name(&meta),
            });
        }
    }
    Ok(())
}

fn kind_name(meta: &Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let ft = meta.file_type();
        if ft.is_fifo() {
            return "FIFO";
        }
        if ft.is_socket() {
            return "socket";
        }
        if ft.is_block_device() {
            return "block device";
        }
        if ft.is_char_device() {
            return "character device";
        }
    }
    let _ = meta;
    "special file"
}

/// Checks a dataset-relative path against the format's rules (used when
/// reading manifests and proofs, which come from outside).
pub(crate) fn check_rel_path(path: &str) -> std::result::Result<(), &'static str> {
    if path.is_empty() {
        return Err("path is empty");
    }
    if path.starts_with('/') {
        return Err("path must be relative (no leading '/')");
    }
    if path.contains('\0') {
        return Err("path contains a NUL byte");
    }
    for comp in path.split('/') {
        match comp {
            "" => return Err("path has an empty component ('//' or a trailing '/')"),
            "." | ".." => return Err("path has a '.' or '..' component"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_path_rules() {
        assert!(check_rel_path("a/b.bin").is_ok());
        assert!(check_rel_path("ünïcödé/x").is_ok());
        for bad in ["", "/a", "a//b", "a/", "./a", "a/../b", "a\0b"] {
            assert!(check_rel_path(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
