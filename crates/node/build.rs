//! Embeds the dashboard: the repository's `web/` files and the npm packages it draws with
//! (installed by `npm ci` into `node_modules/`, never copied into the repository).
//!
//! Writes `$OUT_DIR/dashboard_assets.rs`: a table of (URL path under `/dashboard/`, content
//! type, bytes via `include_bytes!`). A missing npm package stops the build with the command
//! that installs it.
use std::{fmt::Write as _, path::Path};

/// Files from npm packages, served under `/dashboard/vendor/`.
const NPM_FILES: &[(&str, &str)] = &[
    ("uplot/dist/uPlot.iife.min.js", "vendor/uPlot.iife.min.js"),
    ("uplot/dist/uPlot.min.css", "vendor/uPlot.min.css"),
];

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let web = root.join("web");
    println!("cargo:rerun-if-changed={}", web.display());
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&web)
        .unwrap_or_else(|e| panic!("reading the dashboard's files in {}: {e}", web.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in entries {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        files.push((name, path));
    }
    for (package_file, served) in NPM_FILES {
        let path = root.join("node_modules").join(package_file);
        println!("cargo:rerun-if-changed={}", path.display());
        if !path.exists() {
            println!(
                "cargo:warning=the dashboard needs {} from npm, which is not installed",
                path.display()
            );
            eprintln!(
                "error: the dashboard needs node_modules/{package_file} (npm package {}).\n       Run `npm ci` in the repository root once, then build again",
                package_file.split('/').next().unwrap_or(package_file)
            );
            std::process::exit(1);
        }
        files.push(((*served).to_owned(), path));
    }
    let mut out = String::from("&[\n");
    for (name, path) in &files {
        let abs = path.canonicalize().unwrap();
        writeln!(
            out,
            "    ({name:?}, {:?}, include_bytes!({:?})),",
            content_type(name),
            abs.display().to_string()
        )
        .unwrap();
    }
    out.push_str("]\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("dashboard_assets.rs");
    std::fs::write(&dest, out).unwrap();
}
