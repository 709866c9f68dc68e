//! Builds against current contract artifacts, compiling them first when they are missing or
//! stale.
//!
//! `contracts/build.mjs` (run by `make contracts`) compiles the Solidity sources and writes
//! `contracts/out/STAMP`, a SHA-256 over every source file. This script recomputes the same hash;
//! a missing stamp (a fresh checkout) or a mismatch (someone edited a `.sol` file) means the
//! bindings below would describe no or old bytecode. When the npm packages are installed
//! (`node_modules/solc`), the script runs `node contracts/build.mjs` itself, so a plain
//! `cargo build` works on a fresh checkout; otherwise it stops and says to run `npm ci`.
use sha2::{Digest, Sha256};
use std::{fs, path::Path, process::Command};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let src = root.join("contracts/src");
    let out = root.join("contracts/out");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed={}", out.join("STAMP").display());
    println!(
        "cargo:rerun-if-changed={}",
        root.join("contracts/build.mjs").display()
    );

    let want = source_hash(&src);
    let Err(what) = check(&out, &want) else {
        return;
    };
    if !root.join("node_modules/solc").exists() {
        fail(&format!(
            "{what}, and the npm packages that compile them are not installed (node_modules/).\n       Run `npm ci` in the repository root once (or `make contracts`), then build again"
        ));
    }
    println!("cargo:warning={what}; compiling them with `node contracts/build.mjs`");
    let node = std::env::var("NODE").unwrap_or_else(|_| "node".into());
    match Command::new(&node)
        .arg("contracts/build.mjs")
        .current_dir(&root)
        .status()
    {
        Ok(s) if s.success() => {}
        Ok(s) => fail(&format!(
            "{what}, and `node contracts/build.mjs` failed ({s}); see its output above"
        )),
        Err(e) => fail(&format!(
            "{what}, and `{node}` cannot be run ({e}); install Node.js 18 or later"
        )),
    }
    if let Err(still) = check(&out, &want) {
        fail(&format!("after `node contracts/build.mjs`: {still}"));
    }
}

/// SHA-256 over the sorted `.sol` files, each prefixed by its name and length (the same bytes
/// `contracts/build.mjs` hashes into the stamp).
fn source_hash(src: &Path) -> String {
    let mut names: Vec<_> = fs::read_dir(src)
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
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `Err` with what is wrong when the stamp is missing or does not match `want`.
fn check(out: &Path, want: &str) -> Result<(), &'static str> {
    match fs::read_to_string(out.join("STAMP")) {
        Err(_) => Err("contract artifacts are missing (contracts/out/STAMP)"),
        Ok(have) if have.trim() != want => {
            Err("contract artifacts are stale (contracts/src changed since the last compile)")
        }
        Ok(_) if !out.join("pancake/PancakeRouter.json").exists() => {
            Err("contract artifacts are incomplete (no contracts/out/pancake/PancakeRouter.json)")
        }
        Ok(_) => Ok(()),
    }
}

fn fail(what: &str) -> ! {
    eprintln!("error: {what}.");
    std::process::exit(1);
}
