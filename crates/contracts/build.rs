//! Refuses to build against missing or stale contract artifacts.
//!
//! `contracts/build.mjs` (run by `make contracts`) compiles the Solidity sources and writes
//! `contracts/out/STAMP`, a SHA-256 over every source file. This script recomputes the same hash;
//! a mismatch means someone edited a `.sol` file without recompiling, and the bindings below
//! would silently describe old bytecode.
use sha2::{Digest, Sha256};
use std::{fs, path::Path};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let src = root.join("contracts/src");
    let out = root.join("contracts/out");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed={}", out.join("STAMP").display());

    let mut names: Vec<_> = fs::read_dir(&src)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", src.display())))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sol"))
        .collect();
    names.sort();

    let mut hasher = Sha256::new();
    for name in &names {
        let body = fs::read(src.join(name)).unwrap_or_else(|e| fail(&format!("read {name}: {e}")));
        hasher.update(format!("{name}\n{}\n", body.len()).as_bytes());
        hasher.update(&body);
    }
    let want: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();

    match fs::read_to_string(out.join("STAMP")) {
        Err(_) => fail("contract artifacts are missing (contracts/out/STAMP)"),
        Ok(have) if have.trim() != want => {
            fail("contract artifacts are stale: contracts/src changed since the last compile")
        }
        Ok(_) => {}
    }
}

fn fail(what: &str) -> ! {
    eprintln!(
        "error: {what}.\n       Run `make contracts` (npm ci && node contracts/build.mjs) and build again."
    );
    std::process::exit(1);
}
