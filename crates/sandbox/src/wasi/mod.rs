//! WASI preview1 for the sandbox, written for this sandbox.
//!
//! Why not `wasmtime-wasi`: its preview1 layer pulls in the component model,
//! async and tokio (minutes of build on two cores), exposes host directories
//! and real clocks, and reports directory entries in host order. Here the
//! guest gets exactly the calls a batch job needs over an in-memory
//! filesystem ([`fs`]), virtual clocks and seeded randomness ([`ctx`]), and
//! nothing that could differ between two providers.
//!
//! ```text
//!  guest ──call──▶ glue (this file): fuel snapshot, memory + ctx borrow
//!                    │
//!                    ▼
//!                 WasiCtx method ──▶ Ok / errno ──▶ i32 back to the guest
//!                    │
//!                    └──▶ Stop (exit, denied, trap) ──▶ ends the run
//! ```
//!
//! The `sock_*` calls are deliberately absent: a module that imports them is
//! refused before it starts ([`check_imports`]).

pub(crate) mod abi;
pub(crate) mod ctx;
pub(crate) mod fs;

use std::fmt;

use wasmtime::{Caller, Extern, Linker, Module, Trap};

use crate::sandbox::Host;
use abi::{Errno, Mem};
use ctx::WasiCtx;

/// The import module name of WASI preview1.
pub(crate) const MODULE: &str = "wasi_snapshot_preview1";

/// Fuel charged for every WASI call, on top of the guest's instructions.
pub const HOSTCALL_FUEL: u64 = 100;
/// Bytes a WASI call may move per unit of extra fuel.
pub const BYTES_PER_FUEL: u64 = 16;

/// Why a WASI call ends the run instead of returning to the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `proc_exit(code)`.
    Exit(i32),
    /// The guest asked for something outside the sandbox.
    Denied(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Exit(code) => write!(f, "proc_exit({code})"),
            Stop::Denied(why) => write!(f, "denied: {why}"),
        }
    }
}

impl std::error::Error for Stop {}

/// The non-`Ok` result of a WASI call.
#[derive(Debug)]
pub(crate) enum Fault {
    /// Returned to the guest as the call's errno.
    Errno(Errno),
    /// Ends the run.
    Stop(Stop),
}

impl Fault {
    pub(crate) fn denied(why: String) -> Self {
        Fault::Stop(Stop::Denied(why))
    }
}

impl From<Errno> for Fault {
    fn from(e: Errno) -> Self {
        Fault::Errno(e)
    }
}

/// Every preview1 function the linker defines (all of preview1 but `sock_*`).
pub(crate) const PROVIDED: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_advise",
    "fd_allocate",
    "fd_close",
    "fd_datasync",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_fdstat_set_rights",
    "fd_filestat_get",
    "fd_filestat_set_size",
    "fd_filestat_set_times",
    "fd_pread",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "fd_pwrite",
    "fd_read",
    "fd_readdir",
    "fd_renumber",
    "fd_seek",
    "fd_sync",
    "fd_tell",
    "fd_write",
    "path_create_directory",
    "path_filestat_get",
    "path_filestat_set_times",
    "path_link",
    "path_open",
    "path_readlink",
    "path_remove_directory",
    "path_rename",
    "path_symlink",
    "path_unlink_file",
    "poll_oneoff",
    "proc_exit",
    "proc_raise",
    "sched_yield",
    "random_get",
];

/// Refuses modules that import anything but the WASI calls above, with the
/// reason a requester should see (`None` when every import is available).
pub(crate) fn check_imports(module: &Module) -> Option<String> {
    for import in module.imports() {
        let (m, name) = (import.module(), import.name());
        if m == MODULE && name.starts_with("sock_") {
            return Some(format!(
                "the module imports {m}::{name}: network access is not available in the sandbox \
                 (no sockets are provided); remove networking from the job"
            ));
        }
        if m != MODULE {
            return Some(format!(
                "the module imports {m}::{name}: only WASI preview1 ({MODULE}) is provided"
            ));
        }
        if !PROVIDED.contains(&name) {
            return Some(format!(
                "the module imports {m}::{name}, which is not a WASI preview1 function the sandbox provides"
            ));
        }
    }
    None
}

/// Runs one WASI call: hands it the guest memory and the context, charges
/// fuel for the call and the bytes it moved, and turns the result into the
/// guest's errno or a run-ending error.
fn call<F>(caller: &mut Caller<'_, Host>, f: F) -> wasmtime::Result<i32>
where
    F: FnOnce(&mut WasiCtx, &mut Mem<'_>) -> Result<(), Fault>,
{
    let fuel_left = caller.get_fuel()?;
    let memory = caller.get_export("memory").and_then(Extern::into_memory);
    let (result, work) = {
        let (data, host): (&mut [u8], &mut Host) = match memory {
            Some(memory) => memory.data_and_store_mut(&mut *caller),
            None => (&mut [], caller.data_mut()),
        };
        host.wasi.fuel_consumed = host.fuel_limit.saturating_sub(fuel_left);
        let result = f(&mut host.wasi, &mut Mem(data));
        (result, host.wasi.take_work())
    };
    let cost = HOSTCALL_FUEL + work / BYTES_PER_FUEL;
    if cost > fuel_left {
        caller.set_fuel(0)?;
        return Err(Trap::OutOfFuel.into());
    }
    caller.set_fuel(fuel_left - cost)?;
    match result {
        Ok(()) => Ok(0),
        Err(Fault::Errno(e)) => Ok(i32::from(e)),
        Err(Fault::Stop(stop)) => Err(wasmtime::Error::new(stop)),
    }
}

/// Defines `$name` as a call of `WasiCtx::$name`, casting each wasm
/// argument (`i32`/`i64`) to the method's unsigned or signed type.
macro_rules! define {
    ($linker:expr, $name:ident ( $($arg:ident : $ty:ty),* )) => {
        $linker.func_wrap(
            MODULE,
            stringify!($name),
            |mut caller: Caller<'_, Host>, $($arg: $ty),*| -> wasmtime::Result<i32> {
                call(&mut caller, |ctx, mem| ctx.$name(mem, $($arg as _),*))
            },
        )?;
    };
}

/// Adds every function in [`PROVIDED`] to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    define!(linker, args_get(argv: i32, buf: i32));
    define!(linker, args_sizes_get(argc: i32, size: i32));
    define!(linker, environ_get(environ: i32, buf: i32));
    define!(linker, environ_sizes_get(count: i32, size: i32));
    define!(linker, clock_res_get(clock: i32, ret: i32));
    define!(linker, clock_time_get(clock: i32, precision: i64, ret: i32));
    define!(linker, fd_advise(fd: i32, offset: i64, len: i64, advice: i32));
    define!(linker, fd_allocate(fd: i32, offset: i64, len: i64));
    define!(linker, fd_close(fd: i32));
    define!(linker, fd_datasync(fd: i32));
    define!(linker, fd_fdstat_get(fd: i32, ret: i32));
    define!(linker, fd_fdstat_set_flags(fd: i32, flags: i32));
    define!(linker, fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64));
    define!(linker, fd_filestat_get(fd: i32, ret: i32));
    define!(linker, fd_filestat_set_size(fd: i32, size: i64));
    define!(linker, fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, flags: i32));
    define!(linker, fd_pread(fd: i32, iovs: i32, count: i32, offset: i64, ret: i32));
    define!(linker, fd_prestat_get(fd: i32, ret: i32));
    define!(linker, fd_prestat_dir_name(fd: i32, path: i32, len: i32));
    define!(linker, fd_pwrite(fd: i32, iovs: i32, count: i32, offset: i64, ret: i32));
    define!(linker, fd_read(fd: i32, iovs: i32, count: i32, ret: i32));
    define!(linker, fd_readdir(fd: i32, buf: i32, len: i32, cookie: i64, ret: i32));
    define!(linker, fd_renumber(fd: i32, to: i32));
    define!(linker, fd_seek(fd: i32, offset: i64, whence: i32, ret: i32));
    define!(linker, fd_sync(fd: i32));
    define!(linker, fd_tell(fd: i32, ret: i32));
    define!(linker, fd_write(fd: i32, iovs: i32, count: i32, ret: i32));
    define!(linker, path_create_directory(fd: i32, path: i32, len: i32));
    define!(linker, path_filestat_get(fd: i32, flags: i32, path: i32, len: i32, ret: i32));
    define!(
        linker,
        path_filestat_set_times(fd: i32, flags: i32, path: i32, len: i32, atim: i64, mtim: i64, fst: i32)
    );
    define!(
        linker,
        path_link(old_fd: i32, flags: i32, old: i32, old_len: i32, new_fd: i32, new: i32, new_len: i32)
    );
    define!(
        linker,
        path_open(
            fd: i32,
            dirflags: i32,
            path: i32,
            len: i32,
            oflags: i32,
            rights: i64,
            inheriting: i64,
            fdflags: i32,
            ret: i32
        )
    );
    define!(linker, path_readlink(fd: i32, path: i32, len: i32, buf: i32, buf_len: i32, ret: i32));
    define!(linker, path_remove_directory(fd: i32, path: i32, len: i32));
    define!(linker, path_rename(fd: i32, old: i32, old_len: i32, new_fd: i32, new: i32, new_len: i32));
    define!(linker, path_symlink(target: i32, target_len: i32, fd: i32, new: i32, new_len: i32));
    define!(linker, path_unlink_file(fd: i32, path: i32, len: i32));
    define!(linker, poll_oneoff(subs: i32, events: i32, count: i32, ret: i32));
    define!(linker, proc_raise(signal: i32));
    define!(linker, sched_yield());
    define!(linker, random_get(buf: i32, len: i32));
    linker.func_wrap(
        MODULE,
        "proc_exit",
        |_caller: Caller<'_, Host>, code: i32| -> wasmtime::Result<()> {
            Err(wasmtime::Error::new(Stop::Exit(code)))
        },
    )?;
    Ok(())
}
