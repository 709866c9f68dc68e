//! `cairn data add|verify|prove|check-proof`, and the dataset statement `cairn attest dataset`
//! builds.
use crate::{cli::DataCmd, config::Settings, output};
use anyhow::{Context, Result, anyhow};
use cairn_data::{Blake3Hash, Expected, FileProof, Manifest, Options, verify_file_proof};
use serde_json::json;
use std::{fmt::Write, path::Path, process::ExitCode};

/// Draws a progress bar on stderr (only when it is a terminal) while a dataset is hashed.
struct Bar(indicatif::ProgressBar);

impl cairn_data::Progress for Bar {
    fn update(&self, done: u64, total: u64, _current: &str) {
        self.0.set_length(total);
        self.0.set_position(done);
    }
}

fn options(settings: &Settings, cache: bool) -> Options {
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let o = Options::default().with_progress(Bar(bar));
    if cache {
        o.with_cache_dir(settings.data_dir.join("cache/data"))
    } else {
        o
    }
}

fn manifest_path(settings: &Settings, root: &Blake3Hash) -> std::path::PathBuf {
    settings
        .data_dir
        .join("datasets")
        .join(format!("{}.json", root.to_hex()))
}

fn save_manifest(path: &Path, m: &Manifest) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, m.to_json() + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Hashes `dir` and builds a `dataset/v1` statement; returns it with the manifest bytes the
/// statement's subject digest covers. The subject carries `sha256` of those canonical manifest
/// bytes (for SHA-256-only tools) and `blake3`, the dataset root.
pub(crate) fn dataset_statement(
    dir: &Path,
    name: &str,
    license: Option<&str>,
    source: Option<&str>,
) -> Result<(serde_json::Value, Vec<u8>)> {
    let report = cairn_data::add(dir, &Options::default()).map_err(|e| anyhow!("{e}"))?;
    let m = report.manifest;
    let bytes = m.canonical_bytes();
    let sha = cairn_attest::Digest::sha256_of(&bytes);
    Ok((
        json!({
            "_type": cairn_attest::STATEMENT_TYPE_V1,
            "subject": [{
                "name": format!("{name}.manifest.json"),
                "digest": { "sha256": sha.hex(), "blake3": m.root().to_hex() },
            }],
            "predicateType": cairn_attest::predicate::DATASET_V1,
            "predicate": {
                "name": name,
                "root": m.root().to_string(),
                "fileCount": m.files().len(),
                "totalBytes": m.total_size(),
                "manifest": sha.to_string(),
                "license": license,
                "source": source,
            },
        }),
        bytes,
    ))
}

pub(super) fn run(cmd: &DataCmd, settings: &Settings, json_out: bool) -> Result<ExitCode> {
    match cmd {
        DataCmd::Add {
            path,
            manifest,
            no_cache,
            sha256,
        } => {
            let r = cairn_data::add(path, &options(settings, !no_cache).with_sha256(*sha256))
                .map_err(|e| anyhow!("{e}"))?;
            let root = r.manifest.root();
            let out = manifest
                .clone()
                .unwrap_or_else(|| manifest_path(settings, &root));
            save_manifest(&out, &r.manifest)?;
            let s = &r.stats;
            if json_out {
                output::json(&json!({
                    "root": root.to_string(),
                    "format": r.manifest.format().number(),
                    "sha256PerFile": r.manifest.has_sha256(),
                    "files": s.files_total,
                    "bytes": s.bytes_total,
                    "filesHashed": s.files_hashed,
                    "filesReused": s.files_reused,
                    "bytesHashed": s.bytes_hashed,
                    "seconds": s.elapsed.as_secs_f64(),
                    "manifest": out,
                }));
            } else {
                output::print(&format!(
                    "{root}\n{} files, {} bytes; hashed {} files ({} bytes), reused {} from cache, {:.2} s ({:.0} MB/s)\nmanifest {}\n",
                    s.files_total,
                    s.bytes_total,
                    s.files_hashed,
                    s.bytes_hashed,
                    s.files_reused,
                    s.elapsed.as_secs_f64(),
                    s.hashed_bytes_per_sec() / 1e6,
                    out.display()
                ));
            }
        }
        DataCmd::Verify {
            path,
            root,
            manifest,
        } => {
            let expected_manifest = match (manifest, root) {
                (Some(m), _) => Some(read_manifest(m)?),
                (None, Some(r)) => {
                    let root: Blake3Hash = r.parse().map_err(|e| anyhow!("--root {r:?}: {e}"))?;
                    let p = manifest_path(settings, &root);
                    if p.exists() {
                        Some(read_manifest(&p)?)
                    } else {
                        None
                    }
                }
                (None, None) => {
                    return Err(anyhow!("pass --root <blake3:hex> or --manifest <file>"));
                }
            };
            let root_only = match root {
                Some(r) => Some(
                    r.parse::<Blake3Hash>()
                        .map_err(|e| anyhow!("--root {r:?}: {e}"))?,
                ),
                None => None,
            };
            let expected = match (&expected_manifest, root_only) {
                (Some(m), _) => Expected::Manifest(m),
                (None, Some(r)) => Expected::Root(r),
                (None, None) => {
                    return Err(anyhow!("pass --root <blake3:hex> or --manifest <file>"));
                }
            };
            let report = cairn_data::verify(path, expected, &options(settings, true))
                .map_err(|e| anyhow!("{e}"))?;
            if let (Some(m), Some(r)) = (&expected_manifest, root_only)
                && m.root() != r
            {
                return Err(anyhow!(
                    "--manifest has root {}, not the --root {r}",
                    m.root()
                ));
            }
            let ok = report.matches();
            if json_out {
                output::json(&json!({
                    "matches": ok,
                    "expectedRoot": report.expected_root.to_string(),
                    "actualRoot": report.actual.root().to_string(),
                    "diff": report.diff,
                }));
            } else {
                let mut s = String::new();
                if ok {
                    let _ = writeln!(s, "OK {} matches", report.actual.root());
                } else {
                    let _ = writeln!(
                        s,
                        "MISMATCH: expected {}, found {}",
                        report.expected_root,
                        report.actual.root()
                    );
                    match &report.diff {
                        Some(d) => {
                            for p in &d.added {
                                let _ = writeln!(s, "  added    {p}");
                            }
                            for p in &d.removed {
                                let _ = writeln!(s, "  removed  {p}");
                            }
                            for p in &d.modified {
                                let _ = writeln!(s, "  modified {p}");
                            }
                        }
                        None => {
                            let _ = writeln!(
                                s,
                                "  (no manifest for the expected root: pass --manifest to list the files that differ)"
                            );
                        }
                    }
                }
                output::print(&s);
            }
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        DataCmd::Prove { dir, file, out } => {
            let proof = cairn_data::prove(dir, file, &options(settings, true))
                .map_err(|e| anyhow!("{e}"))?;
            let text = proof.to_json() + "\n";
            match out {
                Some(p) => {
                    std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
                    if json_out {
                        output::json(
                            &json!({ "proof": p, "path": proof.file.path, "root": proof.dataset_root.to_string() }),
                        );
                    } else {
                        output::print(&format!(
                            "proof that {} is in {} written to {}\n",
                            proof.file.path,
                            proof.dataset_root,
                            p.display()
                        ));
                    }
                }
                None => output::print(&text),
            }
        }
        DataCmd::CheckProof { proof, file, root } => {
            let text = std::fs::read_to_string(proof)
                .with_context(|| format!("cannot read {}", proof.display()))?;
            let p = FileProof::from_json(&text).map_err(|e| anyhow!("{}: {e}", proof.display()))?;
            let root: Blake3Hash = root.parse().map_err(|e| anyhow!("--root {root:?}: {e}"))?;
            verify_file_proof(&p, file.as_path(), &root).map_err(|e| anyhow!("{e}"))?;
            if json_out {
                output::json(
                    &json!({ "valid": true, "path": p.file.path, "root": root.to_string() }),
                );
            } else {
                output::print(&format!(
                    "OK {} is file {} of dataset {root}\n",
                    file.display(),
                    p.file.path
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_manifest(p: &Path) -> Result<Manifest> {
    let text = std::fs::read_to_string(p)
        .with_context(|| format!("cannot read manifest {}", p.display()))?;
    Manifest::from_json(&text).map_err(|e| anyhow!("{}: {e}", p.display()))
}
