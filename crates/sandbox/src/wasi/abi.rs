//! WASI preview1 ABI constants and guest-memory access.
//!
//! Values and struct layouts are those of `wasi_snapshot_preview1.witx`
//! (see `wasi/api.h` in wasi-libc, which asserts every size and offset used
//! here). Only what the sandbox implements is listed.

/// A WASI error number (`errno`), returned to the guest as the function result.
pub(crate) type Errno = u16;

pub(crate) const ESUCCESS: Errno = 0;
pub(crate) const EBADF: Errno = 8;
pub(crate) const EEXIST: Errno = 20;
pub(crate) const EFAULT: Errno = 21;
pub(crate) const EILSEQ: Errno = 25;
pub(crate) const EINVAL: Errno = 28;
pub(crate) const EISDIR: Errno = 31;
pub(crate) const EMFILE: Errno = 33;
pub(crate) const ENAMETOOLONG: Errno = 37;
pub(crate) const ENOENT: Errno = 44;
pub(crate) const ENOSPC: Errno = 51;
pub(crate) const ENOSYS: Errno = 52;
pub(crate) const ENOTDIR: Errno = 54;
pub(crate) const ENOTEMPTY: Errno = 55;
pub(crate) const ENOTSUP: Errno = 58;
pub(crate) const EOVERFLOW: Errno = 61;
pub(crate) const EROFS: Errno = 68;
pub(crate) const ESPIPE: Errno = 70;
pub(crate) const EXDEV: Errno = 75;

/// `filetype`
pub(crate) const FILETYPE_UNKNOWN: u8 = 0;
pub(crate) const FILETYPE_DIRECTORY: u8 = 3;
pub(crate) const FILETYPE_REGULAR_FILE: u8 = 4;

/// `whence`
pub(crate) const WHENCE_SET: u32 = 0;
pub(crate) const WHENCE_CUR: u32 = 1;
pub(crate) const WHENCE_END: u32 = 2;

/// `oflags`
pub(crate) const OFLAGS_CREAT: u32 = 1 << 0;
pub(crate) const OFLAGS_DIRECTORY: u32 = 1 << 1;
pub(crate) const OFLAGS_EXCL: u32 = 1 << 2;
pub(crate) const OFLAGS_TRUNC: u32 = 1 << 3;

/// `fdflags`
pub(crate) const FDFLAGS_APPEND: u32 = 1 << 0;

/// `rights`: the two the sandbox looks at, and the full set it reports.
pub(crate) const RIGHTS_FD_READ: u64 = 1 << 1;
pub(crate) const RIGHTS_FD_WRITE: u64 = 1 << 6;
pub(crate) const RIGHTS_ALL: u64 = (1 << 30) - 1;
/// What stdout/stderr report: writable, not seekable.
pub(crate) const RIGHTS_STDIO_OUT: u64 = RIGHTS_FD_WRITE | (1 << 27);
/// What stdin reports: readable, not seekable.
pub(crate) const RIGHTS_STDIO_IN: u64 = RIGHTS_FD_READ | (1 << 27);

/// `clockid`
pub(crate) const CLOCK_REALTIME: u32 = 0;
pub(crate) const CLOCK_THREAD_CPUTIME: u32 = 3;

/// `eventtype`
pub(crate) const EVENTTYPE_CLOCK: u8 = 0;
pub(crate) const EVENTTYPE_FD_READ: u8 = 1;
pub(crate) const EVENTTYPE_FD_WRITE: u8 = 2;
/// `subclockflags`
pub(crate) const SUBCLOCK_ABSTIME: u16 = 1 << 0;

/// Sizes of the structs the sandbox reads or writes.
pub(crate) const IOVEC_SIZE: u32 = 8;
pub(crate) const DIRENT_SIZE: usize = 24;
pub(crate) const FILESTAT_SIZE: u32 = 64;
pub(crate) const FDSTAT_SIZE: u32 = 24;
pub(crate) const SUBSCRIPTION_SIZE: u32 = 48;
pub(crate) const EVENT_SIZE: u32 = 32;

/// Bounds-checked little-endian access to the guest's linear memory.
///
/// Every pointer a guest passes is untrusted: an access outside the memory
/// becomes `EFAULT` for the guest, never a host panic.
pub(crate) struct Mem<'a>(pub(crate) &'a mut [u8]);

impl Mem<'_> {
    /// The byte range `[ptr, ptr + len)`, or `EFAULT`.
    pub(crate) fn slice(&self, ptr: u32, len: u32) -> Result<&[u8], Errno> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(EFAULT)?;
        self.0.get(start..end).ok_or(EFAULT)
    }

    /// The mutable byte range `[ptr, ptr + len)`, or `EFAULT`.
    pub(crate) fn slice_mut(&mut self, ptr: u32, len: u32) -> Result<&mut [u8], Errno> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(EFAULT)?;
        self.0.get_mut(start..end).ok_or(EFAULT)
    }

    pub(crate) fn read_u8(&self, ptr: u32) -> Result<u8, Errno> {
        Ok(self.slice(ptr, 1)?[0])
    }

    pub(crate) fn read_u16(&self, ptr: u32) -> Result<u16, Errno> {
        let b = self.slice(ptr, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub(crate) fn read_u32(&self, ptr: u32) -> Result<u32, Errno> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.slice(ptr, 4)?);
        Ok(u32::from_le_bytes(a))
    }

    pub(crate) fn read_u64(&self, ptr: u32) -> Result<u64, Errno> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.slice(ptr, 8)?);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn write(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Errno> {
        let len = u32::try_from(bytes.len()).map_err(|_| EFAULT)?;
        self.slice_mut(ptr, len)?.copy_from_slice(bytes);
        Ok(())
    }

    pub(crate) fn write_u8(&mut self, ptr: u32, v: u8) -> Result<(), Errno> {
        self.write(ptr, &[v])
    }

    pub(crate) fn write_u16(&mut self, ptr: u32, v: u16) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    pub(crate) fn write_u32(&mut self, ptr: u32, v: u32) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    pub(crate) fn write_u64(&mut self, ptr: u32, v: u64) -> Result<(), Errno> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// A guest string (pointer + length) as UTF-8, or `EFAULT`/`EILSEQ`.
    pub(crate) fn str(&self, ptr: u32, len: u32) -> Result<String, Errno> {
        let bytes = self.slice(ptr, len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| EILSEQ)?;
        if s.contains('\0') {
            return Err(EILSEQ);
        }
        Ok(s.to_owned())
    }

    /// The `(ptr, len)` pairs of an iovec array.
    pub(crate) fn iovecs(&self, iovs: u32, count: u32) -> Result<Vec<(u32, u32)>, Errno> {
        let total = count.checked_mul(IOVEC_SIZE).ok_or(EFAULT)?;
        // One bounds check up front, so a huge count fails before any work.
        self.slice(iovs, total)?;
        (0..count)
            .map(|i| {
                let at = iovs + i * IOVEC_SIZE;
                Ok((self.read_u32(at)?, self.read_u32(at + 4)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_bounds_is_efault_not_panic() {
        let mut buf = [0u8; 16];
        let mut mem = Mem(&mut buf);
        assert_eq!(mem.read_u32(13), Err(EFAULT));
        assert_eq!(mem.read_u64(u32::MAX), Err(EFAULT));
        assert_eq!(mem.write_u64(9, 1), Err(EFAULT));
        assert_eq!(mem.iovecs(0, u32::MAX), Err(EFAULT));
        mem.write_u32(12, 0xdead_beef).unwrap();
        assert_eq!(mem.read_u32(12), Ok(0xdead_beef));
        assert_eq!(mem.read_u16(12), Ok(0xbeef));
    }

    #[test]
    fn strings_must_be_utf8_without_nul() {
        let mut buf = *b"ok\xffa\0b";
        let mem = Mem(&mut buf);
        assert_eq!(mem.str(0, 2).as_deref(), Ok("ok"));
        assert_eq!(mem.str(0, 3), Err(EILSEQ));
        assert_eq!(mem.str(3, 3), Err(EILSEQ));
    }
}
