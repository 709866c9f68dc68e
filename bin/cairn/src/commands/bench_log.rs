//! `cairn bench log`, `cairn bench data` and `cairn bench wasm`.
use crate::{
    cli::{BenchDataArgs, BenchDedupArgs, BenchLogArgs, BenchWasmArgs},
    config::Settings,
    output,
};
use anyhow::{Result, anyhow};
use std::process::ExitCode;

pub(super) fn log(args: &BenchLogArgs, settings: &Settings, json: bool) -> Result<ExitCode> {
    let scratch = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            tempfile::tempdir_in(d)?
        }
        None => {
            let base = settings.data_dir.join("bench");
            std::fs::create_dir_all(&base)?;
            tempfile::tempdir_in(base)?
        }
    };
    let rt = tokio::runtime::Handle::current();
    let r = tokio::task::block_in_place(|| {
        rt.block_on(cairn_log_server::bench::bench_log(
            scratch.path(),
            args.entries,
            args.submitters,
        ))
    })
    .map_err(|e| anyhow!(e))?;
    let http = match args.http {
        Some(n) => Some(tokio::task::block_in_place(|| {
            rt.block_on(http_bench(scratch.path(), n))
        })?),
        None => None,
    };
    let witnessed = match args.witnessed {
        Some(n) => Some(
            tokio::task::block_in_place(|| {
                rt.block_on(cairn_log_server::bench::bench_witnessed(
                    scratch.path(),
                    n,
                    64,
                ))
            })
            .map_err(|e| anyhow!(e))?,
        ),
        None => None,
    };
    let restart = match args.restart {
        Some(n) => Some(
            tokio::task::block_in_place(|| {
                rt.block_on(cairn_log_server::bench::bench_restart(scratch.path(), n))
            })
            .map_err(|e| anyhow!(e))?,
        ),
        None => None,
    };
    if json {
        output::json(&serde_json::json!({
            "log": r,
            "httpAddsPerSec": http,
            "witnessed": witnessed,
            "restart": restart.map(|s| serde_json::json!({ "entries": args.restart, "seconds": s })),
        }));
    } else {
        let mut s = format!(
            "durable appends     {:>12.0} entries/s   ({} entries, group commit + fdatasync, lineage index on)\n\
             add → integrated    p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms\n\
             inclusion proofs    {:>12.0} verifications/s on one core (tree of {} entries)\n",
            r.appends_per_sec,
            r.entries,
            r.integrate_ms[0],
            r.integrate_ms[1],
            r.integrate_ms[2],
            r.integrate_ms[3],
            r.proof_verifications_per_sec,
            r.proof_tree_size
        );
        if let Some(h) = http {
            s.push_str(&format!(
                "HTTP adds           {h:>12.0} adds/s (JSON + Ed25519 verification + journal)\n"
            ));
        }
        if let Some(w) = &witnessed {
            s.push_str(&format!(
                "witnessed bundles   {:>11.1} % cosigned ({} of {} bundles; {:.0} adds/s, 64 clients, witness-gated)\n\
                 served checkpoint   age p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms\n\
                 add → cosigned      p50 {:.0} ms  p99 {:.0} ms  max {:.0} ms\n",
                w.cosigned_share * 100.0,
                w.cosigned,
                w.bundles,
                w.adds_per_sec,
                w.served_age_ms[0],
                w.served_age_ms[1],
                w.served_age_ms[2],
                w.add_to_cosigned_bundle_ms[0],
                w.add_to_cosigned_bundle_ms[1],
                w.add_to_cosigned_bundle_ms[2],
            ));
        }
        if let (Some(n), Some(secs)) = (args.restart, restart) {
            s.push_str(&format!(
                "restart             {secs:>12.2} s to reopen a log of {n} entries\n"
            ));
        }
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}

async fn http_bench(dir: &std::path::Path, n: u64) -> Result<f64> {
    use cairn_log::{Log, LogConfig};
    let config = LogConfig::new(dir.join("http-log"), "bench.cairn.local/http").with_mentions(
        std::sync::Arc::new(|e: &[u8]| cairn_log_server::mentions_of(e)),
    );
    let log = Log::open(
        config,
        cairn_tlog::NoteSigner::generate("bench.cairn.local/http").map_err(|e| anyhow!("{e}"))?,
    )?;
    let blobs = cairn_log_server::BlobStore::new(dir.join("http-blobs"))?;
    // Unlimited: the benchmark is one client address sending as fast as it can.
    let app = cairn_log_server::router(cairn_log_server::AppState::new(
        log.clone(),
        blobs,
        Default::default(),
        cairn_log_server::ServerConfig {
            rate_limits: cairn_log_server::RateLimits::unlimited(),
            ..Default::default()
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let rate = cairn_log_server::bench::bench_http(&url, n, 64)
        .await
        .map_err(|e| anyhow!(e))?;
    server.abort();
    log.close();
    Ok(rate)
}

pub(super) fn data(args: &BenchDataArgs, json: bool) -> Result<ExitCode> {
    let format = cairn_data::Format::from_number(args.format)
        .ok_or_else(|| anyhow!("--format {}: use 1 or 2", args.format))?;
    let mut options = cairn_data::Options::default()
        .with_format(format)
        .with_sha256(args.sha256);
    if let Some(n) = args.threads {
        options = options.with_threads(n);
    }
    let r = cairn_data::bench_hash(&args.path, &options, args.runs).map_err(|e| anyhow!("{e}"))?;
    if json {
        output::json(&r);
    } else {
        let st = &r.stages;
        output::print(&format!(
            "{} files, {:.2} GB, {} threads, format {}{}, {} runs each, alternating (median; best)\n\
             cairn dataset hashing {:>6.0} MB/s = {:.0} MB/s per core   ({:.3} s; {:.3} s)   {:.0} MB per CPU second\n\
             BLAKE3 only (ceiling) {:>6.0} MB/s = {:.0} MB/s per core   ({:.3} s; {:.3} s)   {:.0} MB per CPU second\n\
             cairn / ceiling       {:>6.2} (wall)   {:.2} (CPU)\n\
             one core, in memory:  chunker v2 ({}) {:.0} MB/s, scalar {:.0} MB/s, FastCDC {:.0} MB/s,\n\
             \x20                     BLAKE3 (64 KiB) {:.0} MB/s, SHA-256 {:.0} MB/s, v2 pipeline {:.0} MB/s\n\
             root                  {}\n",
            r.files,
            r.bytes as f64 / 1e9,
            r.threads,
            r.format,
            if r.sha256 && r.format == 2 {
                " + SHA-256"
            } else {
                ""
            },
            r.runs,
            r.cairn.bytes_per_sec / 1e6,
            r.cairn.bytes_per_sec_per_core / 1e6,
            r.cairn.median.as_secs_f64(),
            r.cairn.best.as_secs_f64(),
            r.cairn.bytes_per_cpu_sec / 1e6,
            r.blake3_only.bytes_per_sec / 1e6,
            r.blake3_only.bytes_per_sec_per_core / 1e6,
            r.blake3_only.median.as_secs_f64(),
            r.blake3_only.best.as_secs_f64(),
            r.blake3_only.bytes_per_cpu_sec / 1e6,
            r.fraction_of_blake3,
            r.fraction_of_blake3_cpu,
            st.kernel,
            st.cdc_v2 / 1e6,
            st.cdc_v2_scalar / 1e6,
            st.fastcdc / 1e6,
            st.blake3_chunks / 1e6,
            st.sha256 / 1e6,
            st.pipeline / 1e6,
            r.root
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn dedup(args: &BenchDedupArgs, json: bool) -> Result<ExitCode> {
    if args.mib == 0 {
        return Err(anyhow!("--mib 0: the file must have at least 1 MiB"));
    }
    let reports = cairn_data::bench_dedup(args.mib << 20, args.edits, args.seed, args.files);
    if json {
        output::json(&reports);
    } else {
        let mut s = format!(
            "{} files of {} MiB per kind, {} edits each (insert/delete 1 B-4 KiB, move 1-256 KiB \
             blocks), seeds {}..\n\
             data    chunker          chunks  avg size  chunks reused  bytes reused\n",
            args.files, args.mib, args.edits, args.seed
        );
        for r in &reports {
            for (name, c) in [("v2", &r.v2), ("FastCDC v2020", &r.fastcdc_v2020)] {
                s.push_str(&format!(
                    "{:<7} {:<15} {:>7} {:>9} {:>13.2}% {:>12.2}%\n",
                    r.data,
                    name,
                    c.chunks_after,
                    c.avg_chunk,
                    c.chunks_reused * 100.0,
                    c.bytes_reused * 100.0
                ));
            }
            s.push_str(&format!(
                "{:<7} v2 / FastCDC chunks-reused ratio {:.3} (lowest single file {:.3})\n",
                r.data, r.ratio, r.min_file_ratio
            ));
        }
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn wasm(args: &BenchWasmArgs, json: bool) -> Result<ExitCode> {
    let kernels: Vec<&str> = match args.kernel.as_str() {
        "all" => vec!["matmul", "qgemm"],
        k @ ("matmul" | "qgemm") => vec![k],
        other => return Err(anyhow!("--kernel {other:?}: use matmul, qgemm or all")),
    };
    let kargs = vec![args.n.to_string(), args.reps.to_string()];
    let mut results = Vec::new();
    for k in kernels {
        let (wasm, native) = (
            args.jobs.join(format!("{k}.wasm")),
            args.jobs.join(format!("{k}-native")),
        );
        if !wasm.is_file() || !native.is_file() {
            return Err(anyhow!(
                "{} or {} is missing: run `make jobs`",
                wasm.display(),
                native.display()
            ));
        }
        let b = cairn_sandbox::bench_kernel(&wasm, &native, &kargs, args.runs)
            .map_err(|e| anyhow!("{k}: {e}"))?;
        results.push((k, b));
    }
    if json {
        let v: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|(k, b)| (k.to_string(), serde_json::to_value(b).unwrap_or_default()))
            .collect();
        output::json(&v);
    } else {
        let mut s = String::new();
        for (k, b) in &results {
            s.push_str(&format!(
                "{k:<7} n={} reps={}  wasm {:.3} s  native {:.3} s  ratio {:.2}x  outputs {}  ({:.2e} fuel/s)\n",
                args.n,
                args.reps,
                b.wasm_time.as_secs_f64(),
                b.native_time.as_secs_f64(),
                b.ratio,
                if b.outputs_match { "identical" } else { "DIFFERENT" },
                b.fuel_per_sec
            ));
        }
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}

/// `cairn bench train`: the reproducible trainer against plain candle, and inference.
pub(super) fn train(args: &crate::cli::BenchTrainArgs, json: bool) -> Result<ExitCode> {
    let spec = cairn_ml::bench::bench_spec(args.steps, args.hidden);
    let mut inputs = Vec::new();
    for name in ["BTCUSDT_1d.csv", "BNBUSDT_1d.csv"] {
        let path = args.data.join(name);
        let bytes = std::fs::read(&path).map_err(|e| {
            anyhow!(
                "{}: {e} (pass --data <dir with the candles>)",
                path.display()
            )
        })?;
        inputs.push((name.to_owned(), bytes));
    }
    let data = cairn_ml::data::market_samples(&spec.data, "train.data", &inputs)
        .map_err(|e| anyhow!("{e}"))?;
    let rates = cairn_ml::bench::bench(&spec, &data, args.steps, args.passes, &[1, 2])
        .map_err(|e| anyhow!("{e}"))?;
    if json {
        output::json(&serde_json::json!({
            "parameters": spec.parameters(),
            "batch": spec.batch_size,
            "samples": data.n,
            "steps": args.steps,
            "rates": rates,
        }));
    } else {
        let mut s = format!(
            "MLP {} parameters, batch {}, {} samples, {} steps\n",
            spec.parameters(),
            spec.batch_size,
            data.n,
            args.steps
        );
        for r in &rates {
            s.push_str(&format!(
                "{:<32} {:>12.1} {}/s\n",
                r.what, r.per_sec, r.unit
            ));
        }
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}
