//! End to end, through the real binary and a real log server: a dataset is content-addressed
//! and attested, a training run and a model and an inference are attested on top of it, and
//! `cairn verify` walks the output back to its training data offline.
mod common;

use common::{cairn, json, log_serve, run, stderr, stdout};
use std::fs;

#[test]
fn from_data_add_to_verify_of_a_model_output() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("cairn");
    let work = tmp.path().join("work");
    fs::create_dir_all(work.join("dataset/sub")).unwrap();
    fs::write(work.join("dataset/a.txt"), b"the quick brown fox\n").unwrap();
    fs::write(
        work.join("dataset/sub/b.csv"),
        "x,y\n1,2\n3,4\n".repeat(5000),
    )
    .unwrap();
    fs::write(work.join("dataset/c.bin"), vec![7u8; 300_000]).unwrap();

    json(cairn(&d).args(["--json", "key", "generate"]));
    let log = log_serve(&d, &[]);

    // Content-address the dataset, then verify and prove one file.
    let added = json(
        cairn(&d)
            .args(["--json", "data", "add"])
            .arg(work.join("dataset")),
    );
    let root = added["root"].as_str().unwrap().to_owned();
    assert!(root.starts_with("blake3:"));
    assert_eq!(added["files"], 3);
    assert_eq!(added["format"], 2);
    assert_eq!(added["sha256PerFile"], false);
    // --sha256 records SHA-256 per file; the root stays the same.
    let with_sha = json(
        cairn(&d)
            .args(["--json", "data", "add", "--sha256"])
            .arg(work.join("dataset")),
    );
    assert_eq!(with_sha["root"], added["root"]);
    assert_eq!(with_sha["sha256PerFile"], true);
    let manifest = fs::read_to_string(with_sha["manifest"].as_str().unwrap()).unwrap();
    assert!(
        manifest.contains(
            "\"sha256\": \"6e459fed18ddb06d57c8e9f0d000c302c7e01389926db6e89884bfbe91a2a5df\""
        ),
        "{manifest}"
    );
    let ok = run(cairn(&d)
        .args(["data", "verify"])
        .arg(work.join("dataset"))
        .args(["--root", &root]));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let proof = work.join("b.proof.json");
    json(
        cairn(&d)
            .args(["--json", "data", "prove"])
            .arg(work.join("dataset"))
            .arg(work.join("dataset/sub/b.csv"))
            .arg("--out")
            .arg(&proof),
    );
    let checked = run(cairn(&d)
        .args(["data", "check-proof"])
        .arg(&proof)
        .arg(work.join("dataset/sub/b.csv"))
        .args(["--root", &root]));
    assert!(checked.status.success(), "{}", stderr(&checked));
    let wrong = run(cairn(&d)
        .args(["data", "check-proof"])
        .arg(&proof)
        .arg(work.join("dataset/a.txt"))
        .args(["--root", &root]));
    assert!(!wrong.status.success());

    // Attest dataset → training run → model → inference, each logged with a bundle.
    let b = |name: &str| work.join(format!("{name}.bundle.json"));
    let attest = |args: &[&str], out: &std::path::Path| {
        let v = json(
            cairn(&d)
                .args(["--json", "attest"])
                .args(args)
                .args(["--log", &log.url])
                .arg("--out")
                .arg(out),
        );
        assert!(out.is_file(), "{v}");
        v
    };
    let ds = work.join("dataset").display().to_string();
    attest(
        &["dataset", &ds, "--name", "demo", "--license", "CC-BY-4.0"],
        &b("dataset"),
    );
    // The dataset subject carries the root (blake3) and the manifest's SHA-256.
    let env_path = work.join("dataset.envelope.json");
    json(
        cairn(&d)
            .args([
                "--json", "attest", "dataset", &ds, "--name", "demo", "--no-log",
            ])
            .arg("--out")
            .arg(&env_path),
    );
    let env: serde_json::Value = serde_json::from_slice(&fs::read(&env_path).unwrap()).unwrap();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    let digest = &st["subject"][0]["digest"];
    assert_eq!(
        format!("blake3:{}", digest["blake3"].as_str().unwrap()),
        root
    );
    assert_eq!(digest["sha256"].as_str().unwrap().len(), 64);
    fs::write(work.join("train.py"), "print('train')\n").unwrap();
    fs::write(work.join("run.log"), "step 1 loss 0.9\nstep 2 loss 0.5\n").unwrap();
    let p = |f: &str| work.join(f).display().to_string();
    attest(
        &[
            "run",
            "--subject",
            &p("run.log"),
            "--job-id",
            "job-1",
            "--dataset",
            &p("dataset.bundle.json"),
            "--code",
            &p("train.py"),
            "--provider",
            "provider-a",
            "--hyper",
            "lr=0.01",
            "--hyper",
            "epochs=3",
            "--verification",
            "verified",
        ],
        &b("run"),
    );
    fs::write(work.join("model.safetensors"), vec![1u8; 4096]).unwrap();
    attest(
        &[
            "model",
            &p("model.safetensors"),
            "--run",
            &p("run.bundle.json"),
            "--format",
            "safetensors",
        ],
        &b("model"),
    );
    fs::write(work.join("prompt.txt"), "2+2?").unwrap();
    fs::write(work.join("answer.txt"), "4").unwrap();
    attest(
        &[
            "inference",
            "--model",
            &p("model.safetensors"),
            "--input",
            &p("prompt.txt"),
            "--output",
            &p("answer.txt"),
        ],
        &b("inference"),
    );

    // Offline: walk the answer back to its training data.
    let v = json(
        cairn(&d)
            .args(["--json", "verify"])
            .arg(work.join("answer.txt"))
            .args(["--log-key", &log.key]),
    );
    let kinds: Vec<&str> = v["lineage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["predicateType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "https://cairn.dev/attestation/inference/v1",
            "https://cairn.dev/attestation/model/v1",
            "https://cairn.dev/attestation/training-run/v1",
            "https://cairn.dev/attestation/dataset/v1",
        ]
    );
    let depths: Vec<u64> = v["lineage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["depth"].as_u64().unwrap())
        .collect();
    assert_eq!(depths, [0, 1, 2, 3]);
    let text = stdout(&run(cairn(&d)
        .arg("verify")
        .arg(work.join("answer.txt"))
        .args(["--log-key", &log.key])));
    assert!(
        text.contains("dataset") && text.contains("demo.manifest.json"),
        "{text}"
    );

    // The wrong log key, or a tampered bundle, fails verification.
    let other = log_serve(&tmp.path().join("other"), &[]);
    let bad = run(cairn(&d)
        .arg("verify")
        .arg(b("model"))
        .args(["--log-key", &other.key]));
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("verification failed"),
        "{}",
        stderr(&bad)
    );
    let mut tampered: serde_json::Value =
        serde_json::from_slice(&fs::read(b("model")).unwrap()).unwrap();
    tampered["entry"]["timeMs"] = serde_json::json!(1);
    fs::write(work.join("tampered.bundle.json"), tampered.to_string()).unwrap();
    let bad = run(cairn(&d)
        .arg("verify")
        .arg(work.join("tampered.bundle.json"))
        .args(["--log-key", &log.key]));
    assert!(stderr(&bad).contains("inclusion"), "{}", stderr(&bad));

    // Lineage index: the dataset root is named by the dataset and by the training run.
    let l = json(cairn(&d).args(["--json", "lineage", &root, "--log", &log.url]));
    let roles: Vec<(&str, &str)> = l["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [("dataset", "subject"), ("training_run", "reference")]
    );

    // A changed file is named by `data verify`.
    fs::write(work.join("dataset/a.txt"), b"the quick brown cat\n").unwrap();
    let changed = run(cairn(&d)
        .args(["data", "verify"])
        .arg(work.join("dataset"))
        .args(["--root", &root]));
    assert_eq!(changed.status.code(), Some(1));
    assert!(
        stdout(&changed).contains("modified a.txt"),
        "{}",
        stdout(&changed)
    );
}
