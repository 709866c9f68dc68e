//! Reading large files through a memory map: the hashing pipeline reads the page cache in
//! place instead of copying every byte into a buffer first (the copy was over half the cycles
//! of `data add` on a warm cache).
//!
//! The crate's second and last use of unsafe code. Mapping a file is unsafe because the bytes
//! can change under the map while it is read. What that can do here is bounded: a file
//! rewritten while it is hashed gives a digest of neither version, which the size and
//! modification-time check around every hash turns into [`crate::Error::FileChanged`] (as it does
//! for the buffered path); a file *truncated* while mapped makes the kernel end the process with
//! SIGBUS, as it does for `b3sum` and ripgrep, which read the same way. Files below
//! [`MAP_MIN`] bytes, and files that cannot be mapped, take the buffered path.
#![allow(unsafe_code)]

use std::fs::File;

/// Files at least this large are mapped; smaller ones are cheaper to read.
pub const MAP_MIN: u64 = 4 << 20;

/// A read-only map of a whole file.
pub(crate) struct Mapped(memmap2::Mmap);

impl Mapped {
    /// Maps `file` when it is large enough and the platform allows it; `None` otherwise (the
    /// caller reads it instead).
    pub(crate) fn of(file: &File, len: u64) -> Option<Self> {
        if len < MAP_MIN || usize::try_from(len).is_err() {
            return None;
        }
        // SAFETY: the map is read-only and private to this process; concurrent changes to the
        // file are detected by the caller's before/after metadata check (see the module docs
        // for truncation).
        let map = unsafe { memmap2::MmapOptions::new().map(file) }.ok()?;
        let _ = map.advise(memmap2::Advice::Sequential);
        Some(Mapped(map))
    }

    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}
