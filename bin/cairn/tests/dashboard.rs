//! The dashboard in a real headless Chromium against a running `cairn up`: it loads, shows a
//! job submitted during the test finishing without a reload, verifies a log entry's inclusion
//! proof in the browser, and rejects the entry when its bundle or a hash tile is altered in
//! flight (`tests/browser/dashboard.mjs`, playwright-core driving Debian's chromium).
//! It also shows the disputes count, the log's on-chain anchor covering a verified entry (with
//! its transaction), and the lineage of an agent decision reaching decision → model →
//! training run → dataset (the sample train job's model, which the agent of `cairn up` uses).
//! Screenshots go to `target/browser-artifacts/`; the page's first contentful paint is printed.
mod common;

use common::{
    repo,
    up::{Ports, interrupt, logs, start},
};
use std::{path::Path, process::Command};

const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn dashboard_shows_the_network_and_checks_log_proofs_in_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install Debian's chromium (`apt-get install -y chromium`; `make test` does)"
    );
    assert!(
        repo().join("node_modules/playwright-core").exists(),
        "node_modules/playwright-core is missing: run `npm ci` in the repository root"
    );
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("cairn");
    let (up, ready) = start(&d, &Ports::free(), &[]);
    let dashboard = ready["dashboard"]
        .as_str()
        .expect("cairn up names the dashboard");
    assert_eq!(
        dashboard,
        format!("{}/dashboard/", ready["node"].as_str().unwrap())
    );

    let artifacts = repo().join("target/browser-artifacts");
    let shots = [
        "1-overview",
        "2-job-finished",
        "3-proof-verified",
        "3b-anchored",
        "4-tampered-entry",
        "5-tampered-tile",
        "6-agent",
        "7-lineage",
    ];
    for shot in shots {
        let _ = std::fs::remove_file(artifacts.join(format!("{shot}.png")));
    }
    let out = Command::new("node")
        .current_dir(repo())
        .arg("tests/browser/dashboard.mjs")
        .args(["--dashboard", dashboard])
        .args(["--cairn", env!("CARGO_BIN_EXE_cairn")])
        .arg("--data-dir")
        .arg(&d)
        .arg("--artifacts")
        .arg(&artifacts)
        .args(["--chromium", CHROMIUM])
        .output()
        .expect("node runs (install Node.js 20+)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    if !out.status.success() {
        let services = logs(&d);
        drop(up);
        panic!(
            "the browser test failed ({}); screenshots in {}\n{stdout}\n{stderr}\n{services}",
            out.status,
            artifacts.display()
        );
    }
    for check in [
        "ok: the dashboard loads",
        "appeared and finished live",
        "verifies against the checkpoint",
        "ok: a tampered entry is rejected: ✗",
        "ok: a tampered hash tile is rejected: ✗",
        "verifies again",
        "ok: the page follows the live feed",
        "ok: the agent panel shows its buys",
        "ok: lineage of the sample dataset",
        "ok: lineage of decision entry",
        "ok: the overview shows",
        "ok: the on-chain anchor covers entry",
        "ok: lineage reaches decision",
        "ok: the log's on-chain anchor is shown with its transaction",
        "first-contentful-paint: ",
        "dashboard browser test passed",
    ] {
        assert!(stdout.contains(check), "missing {check:?} in:\n{stdout}");
    }
    for shot in shots {
        let p = artifacts.join(format!("{shot}.png"));
        assert!(
            std::fs::metadata(&p).is_ok_and(|m| m.len() > 0),
            "no screenshot {}",
            p.display()
        );
    }
    interrupt(up);
}

/// The dashboard's JavaScript (web/tlog.js, under Node) against a tree of 70,000 entries whose
/// checkpoint, hash tiles (levels 0 to 2, full and partial) and entry bundles cairn-tlog wrote:
/// the same inclusion proofs, every one verified, none once the upper tiles are altered, and the
/// checkpoint's signature refused under another key; against an anchor of an earlier size (a
/// partial tile at that size read as a prefix of the full one), the same proofs as cairn-tlog's
/// at that size lead to the anchored root, and none to a root with one bit flipped.
#[test]
fn the_dashboards_log_checks_agree_with_cairn_tlog() {
    use cairn_tlog::{
        Checkpoint, MemoryTree, NoteSigner, build_tile, encode_bundle, inclusion_proof, leaf_hash,
        tiles_for_size,
    };
    const SIZE: u64 = 70_000;
    let entries: Vec<Vec<u8>> = (0..SIZE)
        .map(|i| format!("entry {i}").into_bytes())
        .collect();
    let tree = MemoryTree::from_leaves(entries.iter().map(|e| leaf_hash(e)));
    let tmp = tempfile::tempdir().unwrap();
    let write = |path: String, bytes: &[u8]| {
        let p = tmp.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    };
    for tile in tiles_for_size(SIZE) {
        write(tile.path(), &build_tile(&tree, tile).unwrap());
        if tile.level == 0 {
            let r = tile.node_range();
            let bundle: Vec<&[u8]> = entries[r.start as usize..r.end as usize]
                .iter()
                .map(Vec::as_slice)
                .collect();
            write(tile.entries_path(), &encode_bundle(&bundle).unwrap());
        }
    }
    let signer = NoteSigner::generate("example.com/log").unwrap();
    let other = NoteSigner::generate("example.com/log").unwrap();
    let note = Checkpoint::new("example.com/log", SIZE, tree.root())
        .sign(&signer)
        .unwrap();
    write("checkpoint".into(), note.to_string().as_bytes());

    let indexes: [u64; 9] = [0, 1, 255, 256, 12_345, 65_535, 65_536, 69_998, 69_999];
    // An anchor at a size whose last level-0 tile is partial (64 of 256): only the full tile of
    // the later tree is on disk.
    const ANCHORED: u64 = 65_600;
    let anchored_root = tree.root_at(ANCHORED).unwrap();
    let out = Command::new("node")
        .current_dir(repo())
        .env(
            "ANCHOR",
            format!(
                "{ANCHORED}:{}",
                anchored_root
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
        )
        .arg("tests/browser/tlog-check.mjs")
        .arg(tmp.path())
        .arg(signer.to_vkey())
        .arg(other.to_vkey())
        .args(indexes.iter().map(u64::to_string))
        .arg(SIZE.to_string())
        .output()
        .expect("node runs (install Node.js 20+)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5 * (indexes.len() + 1), "{stdout}");
    let hex_proof = |i: u64, size: u64| -> Vec<String> {
        inclusion_proof(&tree, i, size)
            .unwrap()
            .iter()
            .map(|h| h.iter().map(|b| format!("{b:02x}")).collect())
            .collect()
    };
    let mut anchored_checked = 0;
    for l in &lines {
        let i = l["index"].as_u64().unwrap();
        match l["mode"].as_str().unwrap() {
            "anchored" if i < ANCHORED => {
                assert_eq!(l["included"], true, "{l}");
                assert_eq!(
                    l["proof"],
                    serde_json::json!(hex_proof(i, ANCHORED)),
                    "index {i}"
                );
                anchored_checked += 1;
                continue;
            }
            "anchored" | "anchored-wrong-root" => {
                assert_eq!(l["included"], false, "{l}");
                continue;
            }
            _ => {}
        }
        if i == SIZE {
            assert!(
                l["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("not in the checkpoint yet")),
                "{l}"
            );
            continue;
        }
        let expected: Vec<String> = inclusion_proof(&tree, i, SIZE)
            .unwrap()
            .iter()
            .map(|h| h.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        match l["mode"].as_str().unwrap() {
            "clean" => {
                assert_eq!(l["ok"], true, "{l}");
                assert_eq!(l["signedBy"], "example.com/log", "{l}");
                assert_eq!(l["entry"], format!("entry {i}"), "{l}");
                assert_eq!(l["proof"], serde_json::json!(expected), "index {i}");
            }
            "tampered" => {
                assert_eq!(l["included"], false, "{l}");
                assert_eq!(l["ok"], false, "{l}");
            }
            "other-key" => {
                assert_eq!(l["included"], true, "{l}");
                assert_eq!(l["ok"], false, "{l}");
                assert!(
                    l["signatureError"]
                        .as_str()
                        .is_some_and(|e| e.contains("not from key")),
                    "{l}"
                );
            }
            m => panic!("unexpected mode {m}"),
        }
    }
    assert_eq!(
        anchored_checked, 7,
        "indexes below the anchored size: {stdout}"
    );
}
