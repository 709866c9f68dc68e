//! A provider's failure mid-training, end to end: anvil (`cairn devnet up`), a real
//! `cairn log serve`, a real `cairn node serve`, and two real `cairn worker` processes.
//!
//! The first worker trains and uploads its checkpoints as it writes them; once the node has
//! recorded one past step 0, its process is killed. Its lease lapses, the node hands the job to
//! the second worker with the checkpoints so far; that worker re-executes the last segment,
//! continues from the last checkpoint and commits. The committed trace root is the one of an
//! uninterrupted run of the same job (run here with cairn-ml); the audit passes, the job
//! settles, the second provider is paid and the first one nothing.
mod common;

use cairn_compute::api::JobView;
use common::compute::{
    Net, logs, node_serve, provider, rpc, status_text, submit, train_worker, wait_for,
};
use serde_json::json;

/// The trace root of an uninterrupted run of job `id`'s spec, on its inputs from the node.
async fn uninterrupted_root(node: String, id: u64) -> String {
    let client = cairn_node_client::NodeClient::new(&node);
    let spec = client.spec(id).await.unwrap();
    let mut inputs = vec![];
    for i in &spec.inputs {
        inputs.push((i.name.clone(), client.blob(&i.blob).await.unwrap()));
    }
    let t = spec.train.clone().expect("a train job");
    tokio::task::spawn_blocking(move || {
        let never = std::sync::atomic::AtomicBool::new(false);
        let run = cairn_ml::run_train(&t, &inputs, 1, &never).unwrap();
        run.trace_root
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_train_job_whose_provider_dies_resumes_from_its_last_checkpoint_on_another() {
    let net = Net::start();
    let (d, work, rpc_url) = (net.d.clone(), net.work.clone(), net.rpc_url.clone());
    let log = &net.log;
    let node = node_serve(&d, &log.url, 1500, &["--audit-samples", "2"]);
    let n = node.url.clone();
    // Long enough that the first worker is still training when it is killed.
    let every = 500;
    let job = work.join("vol.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"vol\"\nkind = \"train\"\ndataset = {:?}\n[price]\nper_mfuel = 10\n[train]\nmodel = \"mlp\"\nhidden = 64\nlayers = 2\nbatch_size = 128\nseed = 9\nlearning_rate = 0.003\nsteps = 4000\ncheckpoint_every = {every}\n[train.data]\nreader = \"market\"\nassets = [\"BTC\", \"BNB\"]\n",
            common::repo().join("data/market").display().to_string()
        ),
    )
    .unwrap();

    let (first, first_addr) = train_worker(&d, &n, &work.join("a.key"), &work.join("a.log"), &[]);
    let id = submit(&d, &n, &job);
    // The same job run without interruption, here, meanwhile.
    let reference = tokio::spawn(uninterrupted_root(n.clone(), id));

    // The node records a checkpoint past step 0 from the first worker: kill it.
    let v = wait_for(&d, &n, id, 120, |v| {
        v["progress"]["step"].as_u64().is_some_and(|s| s >= every)
    });
    assert_eq!(v["progress"]["provider"], first_addr.as_str(), "{v:#}");
    assert!(
        v["result"].is_null(),
        "the first worker finished already: {v:#}"
    );
    drop(first);
    let killed_at = v["progress"]["step"].as_u64().unwrap();

    // The second worker gets the job with the checkpoints so far and resumes.
    let (second, second_addr) = train_worker(&d, &n, &work.join("b.key"), &work.join("b.log"), &[]);
    let v = wait_for(&d, &n, id, 60, |v| !v["resumed"].is_null());
    let r = &v["resumed"];
    let step = r["step"].as_u64().unwrap();
    assert!(step >= killed_at && step > 0, "{v:#}");
    assert_eq!(r["provider"], second_addr.as_str());
    assert_eq!(r["failed"], first_addr.as_str());
    let checkpoint = r["checkpoint"].as_str().unwrap().to_owned();

    // It commits, the audit passes, and the trace root is the uninterrupted run's.
    let v = wait_for(&d, &n, id, 180, |v| !v["audit"].is_null());
    assert_eq!(v["audit"]["outcome"], "passed", "{v:#}");
    assert_eq!(v["provider"], second_addr.as_str());
    // Its own checkpoints followed the first worker's on the node, up to the last step.
    assert_eq!(v["progress"]["provider"], second_addr.as_str(), "{v:#}");
    assert_eq!(v["progress"]["step"], 4000, "{v:#}");
    let root = reference.await.unwrap();
    assert_eq!(v["result"]["traceRoot"], root.as_str(), "{v:#}");
    let view: JobView = serde_json::from_value(v.clone()).unwrap();
    let spec = cairn_node_client::NodeClient::new(&n)
        .spec(id)
        .await
        .unwrap();
    let t = spec.train.unwrap();
    // The committing provider is metered for the whole job.
    assert_eq!(view.result.unwrap().fuel_used, t.work_units());
    let b_log = std::fs::read_to_string(work.join("b.log")).unwrap();
    assert!(
        b_log.contains(&format!(
            "resumed from step {step} after re-executing steps {}..{step}",
            step - every
        )),
        "{b_log}"
    );
    let text = status_text(&d, &n, id);
    let line = format!(
        "resumed from step {step} (checkpoint sha256:{checkpoint}) on provider {second_addr} after provider {first_addr} failed"
    );
    assert!(text.contains(&line), "{text}");
    let l = logs(&d, &n, id);
    assert!(
        l.contains(&line) && l.contains("missed its heartbeats"),
        "{l}"
    );

    // Settled: the second provider is paid, the first nothing.
    rpc(&rpc_url, "evm_increaseTime", json!([61])).await;
    let v = wait_for(&d, &n, id, 60, |v| v["state"] == "settled");
    assert!(v["paid"].as_u64().unwrap() > 0, "{v:#}");
    let (first_row, second_row) = (
        provider(&d, &n, &first_addr),
        provider(&d, &n, &second_addr),
    );
    assert_eq!(first_row["earned"], 0, "{first_row:#}");
    assert_eq!(first_row["leasesLost"], 1, "{first_row:#}");
    assert_eq!(second_row["earned"], v["paid"], "{second_row:#}");
    drop(second);
}
