//! `cairn bench log`: the numbers the data-verification layer is held to.
//!
//! * durable appends per second through the group-committed journal (in process, many
//!   concurrent submitters, entries acknowledged only after `fdatasync`);
//! * time from `add` to integrated (covered by a published, signed checkpoint), median and
//!   tail, measured under that same load;
//! * inclusion-proof verifications per second on one core in a tree of 2^20 entries;
//! * end-to-end HTTP adds per second (JSON parsing, Ed25519 verification, the journal), when
//!   asked for.
//!
//! The appended statements are real signed dataset statements with the lineage index on, as
//! `cairn log serve` runs them.
use crate::submit;
use cairn_attest::{Digest, Envelope, Key, Limits, Statement, Subject, predicate::DatasetV1};
use cairn_log::{AddRequest, Log, LogConfig, StatementKind};
use cairn_tlog::{MemoryTree, NoteSigner, inclusion_proof, leaf_hash, verify_inclusion};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::{
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

/// Results of the log benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct LogBench {
    /// Entries appended in the throughput run.
    pub entries: u64,
    /// Durable appends per second.
    pub appends_per_sec: f64,
    /// Add → integrated latency percentiles, milliseconds (p50, p90, p99, max).
    pub integrate_ms: [f64; 4],
    /// Tree size for the proof benchmark.
    pub proof_tree_size: u64,
    /// Inclusion-proof verifications per second on one core.
    pub proof_verifications_per_sec: f64,
}

/// `n` real signed dataset statements, as the service would store them (canonical envelopes).
fn requests(n: u64) -> Result<Vec<AddRequest>, String> {
    let key = Key::generate().map_err(|e| e.to_string())?;
    let signer_key_hash = key.public().key_hash();
    (0..n)
        .map(|i| {
            let env = signed(&key, i)?;
            let envelope = env.canonical_json();
            // What the HTTP handler hands the log: the mentions of the statement it parsed.
            let statement =
                cairn_attest::parse_known_statement(&env.payload).map_err(|e| e.to_string())?;
            Ok(AddRequest {
                mentions: Some(submit::statement_mentions(&statement, &env.digest())),
                envelope_sha256: Sha256::digest(&envelope).into(),
                envelope,
                kind: StatementKind::Dataset,
                signer_key_hash,
            })
        })
        .collect()
}

fn signed(key: &Key, i: u64) -> Result<Envelope, String> {
    let manifest = Digest::sha256_of(format!("bench manifest {i} {}", key.key_id()).as_bytes());
    let p = DatasetV1 {
        name: format!("bench-{i}"),
        root: format!(
            "blake3:{}",
            Digest::sha256_of(format!("bench root {i}").as_bytes()).hex()
        )
        .parse()
        .map_err(|e: cairn_attest::Error| e.to_string())?,
        file_count: 1,
        total_bytes: i,
        manifest: manifest.clone(),
        license: None,
        source: None,
    };
    Envelope::sign_statement(
        &Statement::new(vec![Subject::new("manifest.json", &manifest)], p),
        key,
    )
    .map_err(|e| e.to_string())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// Runs the log benchmarks in `dir` (a scratch directory on the disk to measure).
pub async fn bench_log(dir: &Path, entries: u64, submitters: u64) -> Result<LogBench, String> {
    // The real configuration of `cairn log serve`: lineage index on.
    let config = LogConfig::new(dir.join("log"), "bench.cairn.local/log")
        .with_mentions(Arc::new(|e: &[u8]| submit::mentions_of(e)));
    let signer = NoteSigner::generate("bench.cairn.local/log").map_err(|e| e.to_string())?;
    let log = Log::open(config, signer).map_err(|e| e.to_string())?;
    let requests = requests(entries)?;
    let per = entries.div_ceil(submitters) as usize;
    let mut chunks: Vec<Vec<AddRequest>> = Vec::new();
    let mut it = requests.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(it.by_ref().take(per).collect());
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for (k, req) in chunk.into_iter().enumerate() {
                let t = Instant::now();
                let seq = log.add(req).await.map_err(|e| e.to_string())?;
                // Sample the integration latency of every 64th entry (waiting costs the
                // submitter its turn, so sampling keeps the load on).
                if k % 64 == 0 {
                    log.wait_integrated(seq.index)
                        .await
                        .map_err(|e| e.to_string())?;
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                }
            }
            Ok::<_, String>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed();
    log.close();
    lat.sort_by(|a, b| a.total_cmp(b));

    // Proof verification on one core.
    let size = 1u64 << 20;
    let tree = MemoryTree::from_leaves((0..size).map(|i| leaf_hash(&i.to_le_bytes())));
    let root = tree.root();
    let samples: Vec<(u64, cairn_tlog::Hash, Vec<cairn_tlog::Hash>)> = (0..4096u64)
        .map(|k| {
            let i = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) % size;
            (
                i,
                leaf_hash(&i.to_le_bytes()),
                inclusion_proof(&tree, i, size).expect("in range"),
            )
        })
        .collect();
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < Duration::from_secs(2) {
        for (i, leaf, proof) in &samples {
            verify_inclusion(leaf, *i, size, proof, &root).map_err(|e| e.to_string())?;
            n += 1;
        }
    }
    let proofs_per_sec = n as f64 / t.elapsed().as_secs_f64();

    Ok(LogBench {
        entries,
        appends_per_sec: entries as f64 / elapsed.as_secs_f64(),
        integrate_ms: [
            percentile(&lat, 0.5),
            percentile(&lat, 0.9),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(0.0),
        ],
        proof_tree_size: size,
        proof_verifications_per_sec: proofs_per_sec,
    })
}

/// End-to-end HTTP throughput: `clients` concurrent clients post `entries` pre-signed
/// statements to the service at `url`. Returns adds per second.
pub async fn bench_http(url: &str, entries: u64, clients: u64) -> Result<f64, String> {
    let key = Key::generate().map_err(|e| e.to_string())?;
    let bodies = (0..entries)
        .map(|i| {
            let env = signed(&key, i)?;
            serde_json::to_vec(&submit::Submission {
                envelope: serde_json::to_value(&env).map_err(|e| e.to_string())?,
                public_key: key.public().to_base64(),
            })
            .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<Vec<u8>>, String>>()?;
    // The service must accept them: check one before timing.
    submit::prepare(&bodies[0], &Limits::default()).map_err(|e| e.detail)?;
    let http = reqwest::Client::new();
    let per = (entries.div_ceil(clients)) as usize;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in bodies.chunks(per).map(|c| c.to_vec()) {
        let (http, url) = (http.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            for body in chunk {
                let r = http
                    .post(format!("{url}/add"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!("add failed: {}", r.status()));
                }
            }
            Ok::<_, String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(entries as f64 / started.elapsed().as_secs_f64())
}

/// Results of witness-gated publishing under HTTP load.
#[derive(Debug, Clone, Serialize)]
pub struct WitnessedBench {
    /// Entries appended.
    pub entries: u64,
    /// Bundles fetched (one per sampled entry) and verified with the witness required.
    pub bundles: u64,
    /// Of those, how many carried the witness cosignature.
    pub cosigned: u64,
    /// `cosigned / bundles`.
    pub cosigned_share: f64,
    /// Age of the served checkpoint (time since the log signed it), sampled every 10 ms under
    /// load, milliseconds (p50, p99, max).
    pub served_age_ms: [f64; 3],
    /// Add → a cosigned bundle is available, milliseconds (p50, p99, max).
    pub add_to_cosigned_bundle_ms: [f64; 3],
    /// Adds per second with witness-gated publishing.
    pub adds_per_sec: f64,
}

/// Witness-gated publishing under load: `clients` HTTP clients post `entries` statements to a
/// log served in process whose checkpoints a witness (also in process, on loopback) must
/// cosign; every 8th entry's bundle is fetched as soon as it exists and verified with the
/// witness required.
pub async fn bench_witnessed(
    dir: &Path,
    entries: u64,
    clients: u64,
) -> Result<WitnessedBench, String> {
    use crate::{AppState, BlobStore, Bundle, TrustPolicy, WitnessEndpoint, cosign_loop, router};
    let origin = "bench.cairn.local/witnessed";
    let signer = NoteSigner::generate(origin).map_err(|e| e.to_string())?;
    let cosigner =
        cairn_tlog::Cosigner::generate("bench.cairn.local/witness").map_err(|e| e.to_string())?;
    let witness = cairn_witness::Witness::open(
        cairn_witness::WitnessConfig {
            state_file: dir.join("witness.json"),
            logs: vec![signer.verifier()],
        },
        cosigner.clone(),
    )
    .map_err(|e| e.to_string())?;
    let wl = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let wurl = format!("http://{}", wl.local_addr().map_err(|e| e.to_string())?);
    let wserver =
        tokio::spawn(
            async move { axum::serve(wl, cairn_witness::router(Arc::new(witness))).await },
        );
    let config = LogConfig::new(dir.join("witnessed-log"), origin)
        .with_mentions(Arc::new(|e: &[u8]| submit::mentions_of(e)))
        .with_witness_gating(true);
    let log = Log::open(config, signer.clone()).map_err(|e| e.to_string())?;
    let cosigning = tokio::spawn(cosign_loop(
        log.clone(),
        vec![WitnessEndpoint {
            url: wurl,
            verifier: cosigner.verifier(),
        }],
    ));
    let blobs = BlobStore::new(dir.join("witnessed-blobs")).map_err(|e| e.to_string())?;
    let app = router(AppState::new(
        log.clone(),
        blobs,
        Limits::default(),
        crate::ServerConfig {
            rate_limits: crate::RateLimits::unlimited(),
            ..Default::default()
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let key = Key::generate().map_err(|e| e.to_string())?;
    let bodies = (0..entries)
        .map(|i| {
            let env = signed(&key, i)?;
            serde_json::to_vec(&submit::Submission {
                envelope: serde_json::to_value(&env).map_err(|e| e.to_string())?,
                public_key: key.public().to_base64(),
            })
            .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<Vec<u8>>, String>>()?;
    let policy = TrustPolicy {
        log_key: signer.verifier(),
        witnesses: vec![cosigner.verifier()],
        witness_quorum: 1,
    };
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (log, running) = (log.clone(), running.clone());
        tokio::spawn(async move {
            let mut ages = Vec::new();
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                ages.push(log.served_age().as_secs_f64() * 1e3);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            ages
        })
    };
    let http = reqwest::Client::new();
    let per = entries.div_ceil(clients).max(1) as usize;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in bodies.chunks(per).map(|c| c.to_vec()) {
        let (http, url, policy) = (http.clone(), url.clone(), policy.clone());
        tasks.push(tokio::spawn(async move {
            let (mut checked, mut cosigned, mut lat) = (0u64, 0u64, Vec::new());
            for (k, body) in chunk.into_iter().enumerate() {
                let t = Instant::now();
                let r = http
                    .post(format!("{url}/add"))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!("add failed: {}", r.status()));
                }
                if k % 8 != 0 {
                    continue;
                }
                let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
                let index = v["index"].as_u64().ok_or("add answered no index")?;
                let deadline = Instant::now() + Duration::from_secs(60);
                let bundle = loop {
                    let r = http
                        .get(format!("{url}/bundle/{index}"))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    if r.status().is_success() {
                        break r.bytes().await.map_err(|e| e.to_string())?;
                    }
                    if Instant::now() > deadline {
                        return Err(format!("no bundle for entry {index} after 60 s"));
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                };
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                checked += 1;
                if Bundle::from_json(&bundle)
                    .and_then(|b| b.verify(&policy))
                    .is_ok()
                {
                    cosigned += 1;
                }
            }
            Ok::<_, String>((checked, cosigned, lat))
        }));
    }
    let (mut checked, mut cosigned, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let (c, s, l) = t.await.map_err(|e| e.to_string())??;
        checked += c;
        cosigned += s;
        lat.extend(l);
    }
    let elapsed = started.elapsed();
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut ages = sampler.await.map_err(|e| e.to_string())?;
    server.abort();
    cosigning.abort();
    wserver.abort();
    log.close();
    ages.sort_by(|a, b| a.total_cmp(b));
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok(WitnessedBench {
        entries,
        bundles: checked,
        cosigned,
        cosigned_share: if checked == 0 {
            0.0
        } else {
            cosigned as f64 / checked as f64
        },
        served_age_ms: [
            percentile(&ages, 0.5),
            percentile(&ages, 0.99),
            ages.last().copied().unwrap_or(0.0),
        ],
        add_to_cosigned_bundle_ms: [
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(0.0),
        ],
        adds_per_sec: entries as f64 / elapsed.as_secs_f64(),
    })
}

/// Restart time of a log holding `entries` entries (see [`cairn_log::bench::bench_restart`]):
/// seconds to reopen it.
pub async fn bench_restart(dir: &Path, entries: u64) -> Result<f64, String> {
    cairn_log::bench::bench_restart(dir, entries, 800)
        .await
        .map(|r| r.open_secs)
        .map_err(|e| e.to_string())
}
