//! The state behind the WASI calls of one run, and the calls themselves.
//!
//! Each method takes the guest memory as a [`Mem`] plus the raw call
//! arguments and returns `Ok(())`, an errno for the guest, or a [`Stop`]
//! that ends the run. Nothing here touches the host: files live in [`Fs`],
//! stdout/stderr go to capped buffers, clocks are virtual and randomness
//! comes from a seeded stream, which is what makes a run reproducible.

use super::Fault;
use super::abi::*;
use super::fs::{Area, Fs, NodeId, Resolved};

/// Most descriptors open at once (`EMFILE` beyond).
const MAX_FDS: usize = 1024;
/// Virtual wall clock at the start of every run: 2024-01-01T00:00:00Z.
pub(crate) const VIRTUAL_EPOCH_NS: u64 = 1_704_067_200 * 1_000_000_000;

/// A capped capture of stdout or stderr: bytes beyond the cap are counted, not kept.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub(crate) bytes: Vec<u8>,
    cap: usize,
    pub(crate) dropped: u64,
}

impl Capture {
    fn new(cap: usize) -> Self {
        Capture {
            bytes: Vec::new(),
            cap,
            dropped: 0,
        }
    }

    fn push(&mut self, data: &[u8]) {
        let room = self.cap.saturating_sub(self.bytes.len());
        let keep = room.min(data.len());
        self.bytes.extend_from_slice(&data[..keep]);
        self.dropped += (data.len() - keep) as u64;
    }
}

#[derive(Debug, Clone, Copy)]
struct OpenNode {
    id: NodeId,
    pos: u64,
    write: bool,
    append: bool,
    /// Set for the three preopened directories (fds 3, 4, 5).
    preopen: Option<Area>,
}

#[derive(Debug, Clone, Copy)]
enum Fd {
    Stdin,
    Stdout,
    Stderr,
    Node(OpenNode),
}

/// Everything a run's WASI calls read and change.
#[derive(Debug)]
pub(crate) struct WasiCtx {
    pub(crate) fs: Fs,
    fds: Vec<Option<Fd>>,
    /// argv, each NUL-terminated.
    args: Vec<Vec<u8>>,
    pub(crate) stdout: Capture,
    pub(crate) stderr: Capture,
    rng: blake3::OutputReader,
    /// Fuel consumed so far; the glue sets it before each call (the virtual clock).
    pub(crate) fuel_consumed: u64,
    /// Virtual nanoseconds skipped by `poll_oneoff` sleeps.
    slept_ns: u64,
    /// Bytes moved by the current call, charged as fuel by the glue.
    work: u64,
}

impl WasiCtx {
    /// A context with stdio, the three preopens, `args` (argv including argv[0])
    /// and a random stream seeded by `seed`.
    pub(crate) fn new(fs: Fs, args: &[String], seed: [u8; 32], max_output: usize) -> Self {
        let mut fds = vec![Some(Fd::Stdin), Some(Fd::Stdout), Some(Fd::Stderr)];
        for area in Area::ALL {
            fds.push(Some(Fd::Node(OpenNode {
                id: fs.root(area),
                pos: 0,
                write: false,
                append: false,
                preopen: Some(area),
            })));
        }
        let args = args
            .iter()
            .map(|a| {
                let mut v = a.as_bytes().to_vec();
                v.push(0);
                v
            })
            .collect();
        let mut hasher = blake3::Hasher::new_derive_key("cairn-sandbox 2024 random_get");
        hasher.update(&seed);
        WasiCtx {
            fs,
            fds,
            args,
            stdout: Capture::new(max_output),
            stderr: Capture::new(max_output),
            rng: hasher.finalize_xof(),
            fuel_consumed: 0,
            slept_ns: 0,
            work: 0,
        }
    }

    /// Bytes moved since the last call (resets the counter).
    pub(crate) fn take_work(&mut self) -> u64 {
        std::mem::take(&mut self.work)
    }

    fn fd(&self, fd: u32) -> Result<Fd, Errno> {
        self.fds.get(fd as usize).copied().flatten().ok_or(EBADF)
    }

    fn node_fd(&self, fd: u32) -> Result<OpenNode, Errno> {
        match self.fd(fd)? {
            Fd::Node(n) => Ok(n),
            _ => Err(EBADF),
        }
    }

    fn set_pos(&mut self, fd: u32, pos: u64) {
        if let Some(Some(Fd::Node(n))) = self.fds.get_mut(fd as usize) {
            n.pos = pos;
        }
    }

    /// The directory behind a descriptor used as the base of a path.
    fn dir_fd(&self, fd: u32) -> Result<NodeId, Errno> {
        let n = self.node_fd(fd)?;
        if self.fs.is_dir(n.id) {
            Ok(n.id)
        } else {
            Err(ENOTDIR)
        }
    }

    /// A path argument resolved to (directory, last name, existing node).
    ///
    /// Used by calls that create, remove or rename, which need a real last
    /// name: a path ending in `.` or `..` is `EINVAL`.
    fn locate(
        &self,
        mem: &Mem<'_>,
        fd: u32,
        ptr: u32,
        len: u32,
    ) -> Result<(NodeId, String, Option<NodeId>), Fault> {
        let start = self.dir_fd(fd)?;
        let path = mem.str(ptr, len)?;
        let resolved = self.fs.resolve(start, &path)?;
        let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if last.is_empty() || last == "." || last == ".." {
            return Err(EINVAL.into());
        }
        match resolved {
            Resolved::Missing { dir, name } => Ok((dir, name, None)),
            Resolved::Existing(id) => {
                let dir = self.fs.parent(id).ok_or(EINVAL)?;
                Ok((dir, last.to_owned(), Some(id)))
            }
        }
    }

    fn alloc_fd(&mut self, fd: Fd) -> Result<u32, Errno> {
        let slot = match self.fds.iter().position(Option::is_none) {
            Some(i) => i,
            None if self.fds.len() < MAX_FDS => {
                self.fds.push(None);
                self.fds.len() - 1
            }
            None => return Err(EMFILE),
        };
        self.fds[slot] = Some(fd);
        Ok(slot as u32)
    }

    /// Drops a node that was unlinked once no descriptor refers to it any more.
    fn release(&mut self, id: NodeId) {
        let held = self
            .fds
            .iter()
            .any(|f| matches!(f, Some(Fd::Node(n)) if n.id == id));
        if !held {
            self.fs.release_if_orphan(id);
        }
    }

    /// Virtual time of `clock`, in nanoseconds: fuel consumed (one fuel = one
    /// nanosecond) plus time slept, plus the fixed epoch for the realtime clock.
    fn now(&self, clock: u32) -> Result<u64, Errno> {
        let monotonic = self.fuel_consumed.saturating_add(self.slept_ns);
        match clock {
            CLOCK_REALTIME => Ok(VIRTUAL_EPOCH_NS.saturating_add(monotonic)),
            1..=CLOCK_THREAD_CPUTIME => Ok(monotonic),
            _ => Err(EINVAL),
        }
    }

    // ---- args, environment, clocks, randomness, process -------------------------------

    pub(crate) fn args_sizes_get(
        &mut self,
        mem: &mut Mem<'_>,
        argc: u32,
        size: u32,
    ) -> Result<(), Fault> {
        let total: usize = self.args.iter().map(Vec::len).sum();
        mem.write_u32(argc, self.args.len() as u32)?;
        mem.write_u32(size, u32::try_from(total).map_err(|_| EOVERFLOW)?)?;
        Ok(())
    }

    pub(crate) fn args_get(&mut self, mem: &mut Mem<'_>, argv: u32, buf: u32) -> Result<(), Fault> {
        let mut at = buf;
        for (i, arg) in self.args.iter().enumerate() {
            mem.write_u32(argv + 4 * i as u32, at)?;
            mem.write(at, arg)?;
            at += arg.len() as u32;
        }
        self.work += u64::from(at - buf);
        Ok(())
    }

    pub(crate) fn environ_sizes_get(
        &mut self,
        mem: &mut Mem<'_>,
        count: u32,
        size: u32,
    ) -> Result<(), Fault> {
        mem.write_u32(count, 0)?;
        mem.write_u32(size, 0)?;
        Ok(())
    }

    pub(crate) fn environ_get(
        &mut self,
        _mem: &mut Mem<'_>,
        _environ: u32,
        _buf: u32,
    ) -> Result<(), Fault> {
        Ok(())
    }

    pub(crate) fn clock_res_get(
        &mut self,
        mem: &mut Mem<'_>,
        clock: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        self.now(clock)?;
        mem.write_u64(ret, 1)?;
        Ok(())
    }

    pub(crate) fn clock_time_get(
        &mut self,
        mem: &mut Mem<'_>,
        clock: u32,
        _precision: u64,
        ret: u32,
    ) -> Result<(), Fault> {
        let now = self.now(clock)?;
        mem.write_u64(ret, now)?;
        Ok(())
    }

    pub(crate) fn random_get(
        &mut self,
        mem: &mut Mem<'_>,
        buf: u32,
        len: u32,
    ) -> Result<(), Fault> {
        self.rng.fill(mem.slice_mut(buf, len)?);
        self.work += u64::from(len);
        Ok(())
    }

    pub(crate) fn sched_yield(&mut self, _mem: &mut Mem<'_>) -> Result<(), Fault> {
        Ok(())
    }

    pub(crate) fn proc_raise(&mut self, _mem: &mut Mem<'_>, _signal: u32) -> Result<(), Fault> {
        Err(ENOSYS.into())
    }

    /// Sleeps advance the virtual clock instead of waiting; descriptors are always ready.
    pub(crate) fn poll_oneoff(
        &mut self,
        mem: &mut Mem<'_>,
        subs: u32,
        events: u32,
        count: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        if count == 0 {
            return Err(EINVAL.into());
        }
        mem.slice(subs, count.checked_mul(SUBSCRIPTION_SIZE).ok_or(EFAULT)?)?;
        mem.slice(events, count.checked_mul(EVENT_SIZE).ok_or(EFAULT)?)?;
        struct Event {
            userdata: u64,
            errno: Errno,
            kind: u8,
            nbytes: u64,
        }
        let mut ready = Vec::new();
        let mut clocks = Vec::new();
        for i in 0..count {
            let at = subs + i * SUBSCRIPTION_SIZE;
            let userdata = mem.read_u64(at)?;
            let kind = mem.read_u8(at + 8)?;
            match kind {
                EVENTTYPE_CLOCK => {
                    let clock = mem.read_u32(at + 16)?;
                    let timeout = mem.read_u64(at + 24)?;
                    let flags = mem.read_u16(at + 40)?;
                    match self.now(clock) {
                        Ok(now) => {
                            // Deadline on the monotonic scale.
                            let wait = if flags & SUBCLOCK_ABSTIME != 0 {
                                timeout.saturating_sub(now)
                            } else {
                                timeout
                            };
                            clocks.push((userdata, wait));
                        }
                        Err(errno) => ready.push(Event {
                            userdata,
                            errno,
                            kind,
                            nbytes: 0,
                        }),
                    }
                }
                EVENTTYPE_FD_READ | EVENTTYPE_FD_WRITE => {
                    let fd = mem.read_u32(at + 16)?;
                    let (errno, nbytes) = match self.fd(fd) {
                        Ok(Fd::Node(n)) if kind == EVENTTYPE_FD_READ => {
                            (ESUCCESS, self.fs.stat(n.id).size.saturating_sub(n.pos))
                        }
                        Ok(_) => (ESUCCESS, 0),
                        Err(e) => (e, 0),
                    };
                    ready.push(Event {
                        userdata,
                        errno,
                        kind,
                        nbytes,
                    });
                }
                _ => return Err(EINVAL.into()),
            }
        }
        if ready.is_empty() {
            let shortest = clocks.iter().map(|c| c.1).min().unwrap_or(0);
            self.slept_ns = self.slept_ns.saturating_add(shortest);
            ready.extend(clocks.iter().filter(|c| c.1 == shortest).map(|c| Event {
                userdata: c.0,
                errno: ESUCCESS,
                kind: EVENTTYPE_CLOCK,
                nbytes: 0,
            }));
        }
        for (i, ev) in ready.iter().enumerate() {
            let at = events + i as u32 * EVENT_SIZE;
            mem.write(at, &[0; EVENT_SIZE as usize])?;
            mem.write_u64(at, ev.userdata)?;
            mem.write_u16(at + 8, ev.errno)?;
            mem.write_u8(at + 10, ev.kind)?;
            mem.write_u64(at + 16, ev.nbytes)?;
        }
        mem.write_u32(ret, ready.len() as u32)?;
        Ok(())
    }

    // ---- descriptors -------------------------------------------------------------------

    pub(crate) fn fd_prestat_get(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        let area = self.node_fd(fd)?.preopen.ok_or(EBADF)?;
        mem.write_u32(ret, 0)?; // tag: directory (and padding)
        mem.write_u32(ret + 4, area.mount().len() as u32)?;
        Ok(())
    }

    pub(crate) fn fd_prestat_dir_name(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> Result<(), Fault> {
        let area = self.node_fd(fd)?.preopen.ok_or(EBADF)?;
        let name = area.mount().as_bytes();
        if (len as usize) < name.len() {
            return Err(ENAMETOOLONG.into());
        }
        mem.write(path, name)?;
        Ok(())
    }

    pub(crate) fn fd_close(&mut self, _mem: &mut Mem<'_>, fd: u32) -> Result<(), Fault> {
        let old = self.fd(fd)?;
        self.fds[fd as usize] = None;
        if let Fd::Node(n) = old {
            self.release(n.id);
        }
        Ok(())
    }

    pub(crate) fn fd_renumber(
        &mut self,
        _mem: &mut Mem<'_>,
        from: u32,
        to: u32,
    ) -> Result<(), Fault> {
        let moving = self.fd(from)?;
        let replaced = self.fd(to)?;
        if from == to {
            return Ok(());
        }
        self.fds[to as usize] = Some(moving);
        self.fds[from as usize] = None;
        if let Fd::Node(n) = replaced {
            self.release(n.id);
        }
        Ok(())
    }

    pub(crate) fn fd_fdstat_get(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        let (filetype, flags, base, inheriting) = match self.fd(fd)? {
            // Not a character device, so libc buffers stdout fully rather than per line.
            Fd::Stdin => (FILETYPE_UNKNOWN, 0, RIGHTS_STDIO_IN, 0),
            Fd::Stdout | Fd::Stderr => (FILETYPE_UNKNOWN, 0, RIGHTS_STDIO_OUT, 0),
            Fd::Node(n) => {
                let flags = if n.append { FDFLAGS_APPEND as u16 } else { 0 };
                if self.fs.is_dir(n.id) {
                    (FILETYPE_DIRECTORY, flags, RIGHTS_ALL, RIGHTS_ALL)
                } else {
                    (FILETYPE_REGULAR_FILE, flags, RIGHTS_ALL, 0)
                }
            }
        };
        mem.write(ret, &[0; FDSTAT_SIZE as usize])?;
        mem.write_u8(ret, filetype)?;
        mem.write_u16(ret + 2, flags)?;
        mem.write_u64(ret + 8, base)?;
        mem.write_u64(ret + 16, inheriting)?;
        Ok(())
    }

    pub(crate) fn fd_fdstat_set_flags(
        &mut self,
        _mem: &mut Mem<'_>,
        fd: u32,
        flags: u32,
    ) -> Result<(), Fault> {
        match self.fds.get_mut(fd as usize) {
            Some(Some(Fd::Node(n))) => {
                n.append = flags & FDFLAGS_APPEND != 0;
                Ok(())
            }
            Some(Some(_)) => Ok(()),
            _ => Err(EBADF.into()),
        }
    }

    pub(crate) fn fd_fdstat_set_rights(
        &mut self,
        _mem: &mut Mem<'_>,
        fd: u32,
        _base: u64,
        _inh: u64,
    ) -> Result<(), Fault> {
        self.fd(fd)?;
        Ok(())
    }

    fn write_filestat(
        mem: &mut Mem<'_>,
        ret: u32,
        ino: u64,
        filetype: u8,
        size: u64,
    ) -> Result<(), Errno> {
        // dev, nlink and the three timestamps are constant: 0, 1, 0.
        mem.write(ret, &[0; FILESTAT_SIZE as usize])?;
        mem.write_u64(ret + 8, ino)?;
        mem.write_u8(ret + 16, filetype)?;
        mem.write_u64(ret + 24, 1)?;
        mem.write_u64(ret + 32, size)?;
        Ok(())
    }

    pub(crate) fn fd_filestat_get(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        match self.fd(fd)? {
            Fd::Node(n) => {
                let st = self.fs.stat(n.id);
                Self::write_filestat(mem, ret, st.ino, st.filetype, st.size)?;
            }
            _ => Self::write_filestat(mem, ret, 0, FILETYPE_UNKNOWN, 0)?,
        }
        Ok(())
    }

    fn writable_file(&self, fd: u32) -> Result<OpenNode, Errno> {
        let n = self.node_fd(fd)?;
        if self.fs.is_dir(n.id) {
            return Err(EISDIR);
        }
        if !n.write {
            return Err(EBADF);
        }
        Ok(n)
    }

    pub(crate) fn fd_filestat_set_size(
        &mut self,
        _mem: &mut Mem<'_>,
        fd: u32,
        size: u64,
    ) -> Result<(), Fault> {
        let n = self.writable_file(fd)?;
        self.fs.set_size(n.id, size)?;
        Ok(())
    }

    pub(crate) fn fd_allocate(
        &mut self,
        _mem: &mut Mem<'_>,
        fd: u32,
        offset: u64,
        len: u64,
    ) -> Result<(), Fault> {
        let n = self.writable_file(fd)?;
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end > self.fs.stat(n.id).size {
            self.fs.set_size(n.id, end)?;
        }
        Ok(())
    }

    /// Timestamps are always zero (so they cannot differ between providers); setting them is a no-op.
    pub(crate) fn fd_filestat_set_times(
        &mut self,
        _mem: &mut Mem<'_>,
        fd: u32,
        _atim: u64,
        _mtim: u64,
        _flags: u32,
    ) -> Result<(), Fault> {
        self.fd(fd)?;
        Ok(())
    }

    pub(crate) fn fd_advise(
        &mut self,
        _mem: &mut Mem<'_>,
        fd: u32,
        _offset: u64,
        _len: u64,
        _advice: u32,
    ) -> Result<(), Fault> {
        self.fd(fd)?;
        Ok(())
    }

    pub(crate) fn fd_sync(&mut self, _mem: &mut Mem<'_>, fd: u32) -> Result<(), Fault> {
        self.fd(fd)?;
        Ok(())
    }

    pub(crate) fn fd_datasync(&mut self, mem: &mut Mem<'_>, fd: u32) -> Result<(), Fault> {
        self.fd_sync(mem, fd)
    }

    /// Reads from `n` at `offset` into the iovecs; returns bytes read.
    fn read_into(
        &mut self,
        mem: &mut Mem<'_>,
        n: OpenNode,
        iovs: u32,
        count: u32,
        offset: u64,
    ) -> Result<u64, Fault> {
        if self.fs.is_dir(n.id) {
            return Err(EISDIR.into());
        }
        let mut done: u64 = 0;
        for (ptr, len) in mem.iovecs(iovs, count)? {
            let room = u64::from(u32::MAX) - done;
            let want = u64::from(len).min(room) as usize;
            let chunk = self.fs.read_at(n.id, offset + done, want)?;
            let got = chunk.len();
            mem.write(ptr, chunk)?;
            done += got as u64;
            if got < want || done == u64::from(u32::MAX) {
                break;
            }
        }
        self.work += done;
        Ok(done)
    }

    pub(crate) fn fd_read(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        count: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        let read = match self.fd(fd)? {
            Fd::Stdin => 0,
            Fd::Stdout | Fd::Stderr => return Err(EBADF.into()),
            Fd::Node(n) => {
                let read = self.read_into(mem, n, iovs, count, n.pos)?;
                self.set_pos(fd, n.pos + read);
                read
            }
        };
        mem.write_u32(ret, read as u32)?;
        Ok(())
    }

    pub(crate) fn fd_pread(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        ret: u32,
    ) -> Result<(), Fault> {
        let read = match self.fd(fd)? {
            Fd::Node(n) => self.read_into(mem, n, iovs, count, offset)?,
            _ => return Err(ESPIPE.into()),
        };
        mem.write_u32(ret, read as u32)?;
        Ok(())
    }

    /// The bytes an iovec array points at, concatenated.
    fn gather(&mut self, mem: &Mem<'_>, iovs: u32, count: u32) -> Result<Vec<u8>, Errno> {
        let mut data = Vec::new();
        for (ptr, len) in mem.iovecs(iovs, count)? {
            if data.len() as u64 + u64::from(len) > u64::from(u32::MAX) {
                return Err(EINVAL);
            }
            data.extend_from_slice(mem.slice(ptr, len)?);
        }
        self.work += data.len() as u64;
        Ok(data)
    }

    pub(crate) fn fd_write(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        count: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        let target = self.fd(fd)?;
        let data = self.gather(mem, iovs, count)?;
        match target {
            Fd::Stdin => return Err(EBADF.into()),
            Fd::Stdout => self.stdout.push(&data),
            Fd::Stderr => self.stderr.push(&data),
            Fd::Node(_) => {
                let n = self.writable_file(fd)?;
                let at = if n.append {
                    self.fs.stat(n.id).size
                } else {
                    n.pos
                };
                self.fs.write_at(n.id, at, &data)?;
                self.set_pos(fd, at + data.len() as u64);
            }
        }
        mem.write_u32(ret, data.len() as u32)?;
        Ok(())
    }

    pub(crate) fn fd_pwrite(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        iovs: u32,
        count: u32,
        offset: u64,
        ret: u32,
    ) -> Result<(), Fault> {
        let Fd::Node(_) = self.fd(fd)? else {
            return Err(ESPIPE.into());
        };
        let n = self.writable_file(fd)?;
        let data = self.gather(mem, iovs, count)?;
        self.fs.write_at(n.id, offset, &data)?;
        mem.write_u32(ret, data.len() as u32)?;
        Ok(())
    }

    pub(crate) fn fd_seek(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        offset: i64,
        whence: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        let n = match self.fd(fd)? {
            Fd::Node(n) if !self.fs.is_dir(n.id) => n,
            Fd::Node(_) => return Err(EBADF.into()),
            _ => return Err(ESPIPE.into()),
        };
        let base = match whence {
            WHENCE_SET => 0,
            WHENCE_CUR => n.pos,
            WHENCE_END => self.fs.stat(n.id).size,
            _ => return Err(EINVAL.into()),
        };
        let pos = base.checked_add_signed(offset).ok_or(EINVAL)?;
        if pos > i64::MAX as u64 {
            return Err(EINVAL.into());
        }
        self.set_pos(fd, pos);
        mem.write_u64(ret, pos)?;
        Ok(())
    }

    pub(crate) fn fd_tell(&mut self, mem: &mut Mem<'_>, fd: u32, ret: u32) -> Result<(), Fault> {
        match self.fd(fd)? {
            Fd::Node(n) => {
                mem.write_u64(ret, n.pos)?;
                Ok(())
            }
            _ => Err(ESPIPE.into()),
        }
    }

    /// Directory entries in `dirent` records, from `cookie` on; the last
    /// record is cut off when the buffer is full, as preview1 specifies.
    pub(crate) fn fd_readdir(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        buf: u32,
        len: u32,
        cookie: u64,
        ret: u32,
    ) -> Result<(), Fault> {
        let n = self.node_fd(fd)?;
        let entries = self.fs.entries(n.id)?;
        let mut out = Vec::new();
        let skip = usize::try_from(cookie).unwrap_or(usize::MAX);
        for (i, e) in entries.iter().enumerate().skip(skip) {
            if out.len() >= len as usize {
                break;
            }
            let mut header = [0u8; DIRENT_SIZE];
            header[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            header[8..16].copy_from_slice(&e.ino.to_le_bytes());
            header[16..20].copy_from_slice(&(e.name.len() as u32).to_le_bytes());
            header[20] = e.filetype;
            out.extend_from_slice(&header);
            out.extend_from_slice(e.name.as_bytes());
        }
        out.truncate(len as usize);
        mem.write(buf, &out)?;
        mem.write_u32(ret, out.len() as u32)?;
        self.work += out.len() as u64;
        Ok(())
    }

    // ---- paths -------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)] // the preview1 signature
    pub(crate) fn path_open(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        _dirflags: u32,
        path: u32,
        path_len: u32,
        oflags: u32,
        rights: u64,
        _inheriting: u64,
        fdflags: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        let start = self.dir_fd(fd)?;
        let path = mem.str(path, path_len)?;
        let resolved = self.fs.resolve(start, &path)?;
        let append = fdflags & FDFLAGS_APPEND != 0;
        let trunc = oflags & OFLAGS_TRUNC != 0;
        let write = rights & RIGHTS_FD_WRITE != 0 || append || trunc;
        let id = match resolved {
            Resolved::Existing(id) => {
                if oflags & OFLAGS_CREAT != 0 && oflags & OFLAGS_EXCL != 0 {
                    return Err(EEXIST.into());
                }
                id
            }
            Resolved::Missing { dir, name } => {
                if oflags & OFLAGS_CREAT == 0 {
                    return Err(ENOENT.into());
                }
                if oflags & OFLAGS_DIRECTORY != 0 {
                    return Err(EINVAL.into());
                }
                self.fs.check_creatable(dir, &name)?;
                self.fs.create_file(dir, &name)?
            }
        };
        let is_dir = self.fs.is_dir(id);
        if oflags & OFLAGS_DIRECTORY != 0 && !is_dir {
            return Err(ENOTDIR.into());
        }
        if is_dir && write {
            return Err(EISDIR.into());
        }
        if write && self.fs.area(id) == Area::Input {
            return Err(EROFS.into());
        }
        if trunc {
            self.fs.set_size(id, 0)?;
        }
        let new_fd = self.alloc_fd(Fd::Node(OpenNode {
            id,
            pos: 0,
            write,
            append,
            preopen: None,
        }))?;
        mem.write_u32(ret, new_fd)?;
        Ok(())
    }

    pub(crate) fn path_filestat_get(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        _flags: u32,
        path: u32,
        len: u32,
        ret: u32,
    ) -> Result<(), Fault> {
        let start = self.dir_fd(fd)?;
        let path = mem.str(path, len)?;
        let id = self.fs.lookup(start, &path)?;
        let st = self.fs.stat(id);
        Self::write_filestat(mem, ret, st.ino, st.filetype, st.size)?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // the preview1 signature
    pub(crate) fn path_filestat_set_times(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        _flags: u32,
        path: u32,
        len: u32,
        _atim: u64,
        _mtim: u64,
        _fst: u32,
    ) -> Result<(), Fault> {
        let start = self.dir_fd(fd)?;
        let path = mem.str(path, len)?;
        self.fs.lookup(start, &path)?;
        Ok(())
    }

    pub(crate) fn path_create_directory(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> Result<(), Fault> {
        let (dir, name, existing) = self.locate(mem, fd, path, len)?;
        if existing.is_some() {
            return Err(EEXIST.into());
        }
        self.fs.check_creatable(dir, &name)?;
        self.fs.create_dir(dir, &name)?;
        Ok(())
    }

    fn remove(
        &mut self,
        mem: &Mem<'_>,
        fd: u32,
        path: u32,
        len: u32,
        want_dir: bool,
    ) -> Result<(), Fault> {
        let (dir, name, existing) = self.locate(mem, fd, path, len)?;
        if existing.is_none() {
            return Err(ENOENT.into());
        }
        let id = self.fs.remove(dir, &name, want_dir)?;
        self.release(id);
        Ok(())
    }

    pub(crate) fn path_unlink_file(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> Result<(), Fault> {
        self.remove(mem, fd, path, len, false)
    }

    pub(crate) fn path_remove_directory(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        path: u32,
        len: u32,
    ) -> Result<(), Fault> {
        self.remove(mem, fd, path, len, true)
    }

    #[allow(clippy::too_many_arguments)] // the preview1 signature
    pub(crate) fn path_rename(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        old: u32,
        old_len: u32,
        new_fd: u32,
        new: u32,
        new_len: u32,
    ) -> Result<(), Fault> {
        let (from_dir, from_name, existing) = self.locate(mem, fd, old, old_len)?;
        let (to_dir, to_name, _) = self.locate(mem, new_fd, new, new_len)?;
        if existing.is_none() {
            return Err(ENOENT.into());
        }
        if let Some(replaced) = self.fs.rename(from_dir, &from_name, to_dir, &to_name)? {
            self.release(replaced);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // the preview1 signature
    pub(crate) fn path_link(
        &mut self,
        mem: &mut Mem<'_>,
        old_fd: u32,
        _flags: u32,
        old: u32,
        old_len: u32,
        new_fd: u32,
        new: u32,
        new_len: u32,
    ) -> Result<(), Fault> {
        // Resolve both so that an escape attempt is reported as one.
        self.locate(mem, old_fd, old, old_len)?;
        self.locate(mem, new_fd, new, new_len)?;
        Err(ENOTSUP.into())
    }

    pub(crate) fn path_symlink(
        &mut self,
        mem: &mut Mem<'_>,
        _target: u32,
        _target_len: u32,
        fd: u32,
        new: u32,
        new_len: u32,
    ) -> Result<(), Fault> {
        self.locate(mem, fd, new, new_len)?;
        Err(ENOTSUP.into())
    }

    #[allow(clippy::too_many_arguments)] // the preview1 signature
    pub(crate) fn path_readlink(
        &mut self,
        mem: &mut Mem<'_>,
        fd: u32,
        path: u32,
        len: u32,
        _buf: u32,
        _buf_len: u32,
        _ret: u32,
    ) -> Result<(), Fault> {
        let start = self.dir_fd(fd)?;
        let path = mem.str(path, len)?;
        self.fs.lookup(start, &path)?;
        Err(EINVAL.into()) // exists, but nothing here is a symbolic link
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> WasiCtx {
        let fs = Fs::new(&[("in.txt".into(), b"hello world".to_vec())], 64, 64).unwrap();
        WasiCtx::new(fs, &["job".into(), "x".into()], [7; 32], 8)
    }

    /// Writes a path at 0 and returns its length.
    fn put(mem: &mut Mem<'_>, s: &str) -> u32 {
        mem.write(0, s.as_bytes()).unwrap();
        s.len() as u32
    }

    fn errno(r: Result<(), Fault>) -> Errno {
        match r {
            Err(Fault::Errno(e)) => e,
            other => panic!("expected an errno, got {other:?}"),
        }
    }

    #[test]
    fn preopens_are_fds_3_to_5_then_ebadf() {
        let mut c = ctx();
        let mut buf = vec![0u8; 256];
        let mut mem = Mem(&mut buf);
        for (fd, name) in [(3, "/input"), (4, "/output"), (5, "/scratch")] {
            c.fd_prestat_get(&mut mem, fd, 100).unwrap();
            assert_eq!(mem.read_u32(104).unwrap(), name.len() as u32);
            c.fd_prestat_dir_name(&mut mem, fd, 120, 16).unwrap();
            assert_eq!(mem.slice(120, name.len() as u32).unwrap(), name.as_bytes());
        }
        assert_eq!(errno(c.fd_prestat_get(&mut mem, 6, 100)), EBADF);
        assert_eq!(errno(c.fd_prestat_get(&mut mem, 1, 100)), EBADF);
    }

    #[test]
    fn open_read_seek_and_readonly_input() {
        let mut c = ctx();
        let mut buf = vec![0u8; 256];
        let mut mem = Mem(&mut buf);
        let n = put(&mut mem, "in.txt");
        c.path_open(&mut mem, 3, 0, 0, n, 0, RIGHTS_FD_READ, 0, 0, 40)
            .unwrap();
        let fd = mem.read_u32(40).unwrap();
        assert_eq!(fd, 6);
        // iovec {ptr 100, len 5}
        mem.write_u32(48, 100).unwrap();
        mem.write_u32(52, 5).unwrap();
        c.fd_read(&mut mem, fd, 48, 1, 44).unwrap();
        assert_eq!(mem.read_u32(44).unwrap(), 5);
        assert_eq!(mem.slice(100, 5).unwrap(), b"hello");
        c.fd_seek(&mut mem, fd, -5, WHENCE_END, 56).unwrap();
        assert_eq!(mem.read_u64(56).unwrap(), 6);
        c.fd_read(&mut mem, fd, 48, 1, 44).unwrap();
        assert_eq!(mem.slice(100, 5).unwrap(), b"world");
        assert_eq!(errno(c.fd_seek(&mut mem, fd, -1, WHENCE_SET, 56)), EINVAL);
        assert_eq!(errno(c.fd_write(&mut mem, fd, 48, 1, 44)), EBADF);
        // Opening an input for writing is refused as on a read-only mount.
        let e = c.path_open(&mut mem, 3, 0, 0, n, 0, RIGHTS_FD_WRITE, 0, 0, 40);
        assert_eq!(errno(e), EROFS);
        let n = put(&mut mem, "new.txt");
        let e = c.path_open(
            &mut mem,
            3,
            0,
            0,
            n,
            OFLAGS_CREAT,
            RIGHTS_FD_WRITE,
            0,
            0,
            40,
        );
        assert_eq!(errno(e), EROFS);
    }

    #[test]
    fn stdout_is_capped_and_the_guest_is_not_told() {
        let mut c = ctx();
        let mut buf = vec![0u8; 256];
        let mut mem = Mem(&mut buf);
        mem.write(100, b"0123456789abc").unwrap();
        mem.write_u32(48, 100).unwrap();
        mem.write_u32(52, 13).unwrap();
        c.fd_write(&mut mem, 1, 48, 1, 44).unwrap();
        assert_eq!(mem.read_u32(44).unwrap(), 13);
        assert_eq!(c.stdout.bytes, b"01234567");
        assert_eq!(c.stdout.dropped, 5);
    }

    #[test]
    fn readdir_is_sorted_and_resumable_by_cookie() {
        let fs = Fs::new(
            &[
                ("b".into(), vec![]),
                ("a".into(), vec![]),
                ("c".into(), vec![]),
            ],
            0,
            0,
        )
        .unwrap();
        let mut c = WasiCtx::new(fs, &[], [0; 32], 0);
        let mut buf = vec![0u8; 512];
        let mut mem = Mem(&mut buf);
        let mut names = Vec::new();
        let mut cookie = 0;
        // A buffer for one record plus part of the next forces resumption.
        loop {
            c.fd_readdir(&mut mem, 3, 100, 30, cookie, 40).unwrap();
            let used = mem.read_u32(40).unwrap();
            if used < DIRENT_SIZE as u32 {
                break;
            }
            cookie = mem.read_u64(100).unwrap();
            let namlen = mem.read_u32(116).unwrap();
            names.push(String::from_utf8(mem.slice(124, namlen).unwrap().to_vec()).unwrap());
        }
        assert_eq!(names, [".", "..", "a", "b", "c"]);
    }

    #[test]
    fn clocks_and_random_are_virtual() {
        let mut a = ctx();
        let mut b = ctx();
        let mut buf = vec![0u8; 256];
        let mut mem = Mem(&mut buf);
        a.fuel_consumed = 1234;
        a.clock_time_get(&mut mem, 1, 0, 0).unwrap();
        assert_eq!(mem.read_u64(0).unwrap(), 1234);
        a.clock_time_get(&mut mem, 0, 0, 0).unwrap();
        assert_eq!(mem.read_u64(0).unwrap(), VIRTUAL_EPOCH_NS + 1234);
        assert_eq!(errno(a.clock_time_get(&mut mem, 9, 0, 0)), EINVAL);
        a.random_get(&mut mem, 0, 32).unwrap();
        let first = mem.slice(0, 32).unwrap().to_vec();
        b.random_get(&mut mem, 0, 32).unwrap();
        assert_eq!(mem.slice(0, 32).unwrap(), &first[..]);
        a.random_get(&mut mem, 0, 32).unwrap();
        assert_ne!(mem.slice(0, 32).unwrap(), &first[..]);
    }

    #[test]
    fn sleeping_advances_the_virtual_clock() {
        let mut c = ctx();
        let mut buf = vec![0u8; 256];
        let mut mem = Mem(&mut buf);
        // One relative clock subscription of 5 s on the monotonic clock.
        mem.write_u64(0, 77).unwrap();
        mem.write_u8(8, EVENTTYPE_CLOCK).unwrap();
        mem.write_u32(16, 1).unwrap();
        mem.write_u64(24, 5_000_000_000).unwrap();
        c.poll_oneoff(&mut mem, 0, 64, 1, 200).unwrap();
        assert_eq!(mem.read_u32(200).unwrap(), 1);
        assert_eq!(mem.read_u64(64).unwrap(), 77);
        c.clock_time_get(&mut mem, 1, 0, 208).unwrap();
        assert_eq!(mem.read_u64(208).unwrap(), 5_000_000_000);
    }

    #[test]
    fn unlinked_open_file_stays_readable_until_closed() {
        let mut c = ctx();
        let mut buf = vec![0u8; 256];
        let mut mem = Mem(&mut buf);
        let n = put(&mut mem, "t");
        c.path_open(
            &mut mem,
            5,
            0,
            0,
            n,
            OFLAGS_CREAT,
            RIGHTS_FD_WRITE | RIGHTS_FD_READ,
            0,
            0,
            40,
        )
        .unwrap();
        let fd = mem.read_u32(40).unwrap();
        mem.write(100, b"data").unwrap();
        mem.write_u32(48, 100).unwrap();
        mem.write_u32(52, 4).unwrap();
        c.fd_write(&mut mem, fd, 48, 1, 44).unwrap();
        c.path_unlink_file(&mut mem, 5, 0, n).unwrap();
        assert_eq!(
            errno(c.path_filestat_get(&mut mem, 5, 0, 0, n, 120)),
            ENOENT
        );
        c.fd_pread(&mut mem, fd, 48, 1, 0, 44).unwrap();
        assert_eq!(mem.read_u32(44).unwrap(), 4);
        c.fd_close(&mut mem, fd).unwrap();
        assert_eq!(errno(c.fd_close(&mut mem, fd)), EBADF);
    }
}
