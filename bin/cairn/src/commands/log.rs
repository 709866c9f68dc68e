//! `cairn log serve|add|checkpoint|anchor|key` and `cairn witness serve|key`.
use crate::{
    cli::{LogCmd, WitnessCmd},
    config::Settings,
    output,
};
use anyhow::{Context, Result, anyhow, bail};
use cairn_attest::{Envelope, Key, Limits};
use cairn_log::{Log, LogConfig};
use cairn_log_client::{LogClient, Submission};
use cairn_log_server::{
    AppState, BlobStore, ServerConfig, StartingRouter, WitnessEndpoint, anchor_loop, anchor_once,
    cosign_loop, mentions_of, router,
};
use cairn_tlog::{CosignatureVerifier, Cosigner, NoteSigner, NoteVerifier};
use cairn_witness::{Witness, WitnessConfig};
use serde_json::json;
use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

/// Loads a signing key file written by an earlier run, or creates one (mode 0600).
fn load_or_create<T>(
    path: &Path,
    parse: impl Fn(&str) -> Result<T>,
    create: impl Fn() -> Result<(T, String)>,
) -> Result<T> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(text.trim()).with_context(|| format!("reading key {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (key, secret) = create()?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options
                .open(path)
                .with_context(|| format!("creating key {}", path.display()))?;
            f.write_all(format!("{secret}\n").as_bytes())?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading key {}", path.display())),
    }
}

pub(crate) fn log_signer(dir: &Path, origin: &str) -> Result<NoteSigner> {
    let signer = load_or_create(
        &dir.join("log.key"),
        |t| NoteSigner::from_skey(t).map_err(|e| anyhow!("{e}")),
        || {
            let s =
                NoteSigner::generate(origin).map_err(|e| anyhow!("log origin {origin:?}: {e}"))?;
            let skey = s.to_skey();
            Ok((s, skey))
        },
    )?;
    if signer.name() != origin {
        bail!(
            "the log in {} is {:?}, not {origin:?}; pass --origin {:?} or use another --dir",
            dir.display(),
            signer.name(),
            signer.name()
        );
    }
    Ok(signer)
}

fn witness_cosigner(dir: &Path, name: &str) -> Result<Cosigner> {
    load_or_create(
        &dir.join("witness.key"),
        |t| Cosigner::from_skey(t).map_err(|e| anyhow!("{e}")),
        || {
            let c = Cosigner::generate(name).map_err(|e| anyhow!("witness name {name:?}: {e}"))?;
            let skey = c.to_skey();
            Ok((c, skey))
        },
    )
}

/// Parses `URL=VKEY` (a witness for the log to ask).
fn parse_witness(spec: &str) -> Result<WitnessEndpoint> {
    let (url, vkey) = spec.split_once('=').ok_or_else(|| {
        anyhow!("--witness {spec:?}: expected URL=VERIFIER_KEY (see `cairn witness key`)")
    })?;
    let verifier =
        CosignatureVerifier::from_vkey(vkey).map_err(|e| anyhow!("--witness {url}: {e}"))?;
    Ok(WitnessEndpoint {
        url: url.to_owned(),
        verifier,
    })
}

async fn bind(listen: &str) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {listen}: the address is busy or invalid; pass --listen HOST:PORT"
            )
        })
}

fn announce(what: &str, addr: std::net::SocketAddr, key: &str, json: bool) {
    if json {
        // One line, so a supervisor can read the address before the service runs.
        let line = json!({ "listening": format!("http://{addr}"), "verifierKey": key });
        output::print(&format!("{line}\n"));
    } else {
        output::print(&format!(
            "{what} listening on http://{addr}\nverifier key: {key}\n"
        ));
    }
}

pub(super) async fn run(cmd: &LogCmd, settings: &Settings, json: bool) -> Result<ExitCode> {
    match cmd {
        LogCmd::Serve(a) => {
            let dir = a
                .dir
                .clone()
                .unwrap_or_else(|| settings.data_dir.join("log"));
            let signer = log_signer(&dir, &a.origin)?;
            let witnesses = a
                .witness
                .iter()
                .map(|w| parse_witness(w))
                .collect::<Result<Vec<_>>>()?;
            // Remember the witnesses beside the log, so `cairn verify` requires them by default.
            let list = json!({
                "origin": a.origin,
                "witnesses": witnesses
                    .iter()
                    .map(|w| json!({ "name": w.verifier.name(), "verifierKey": w.verifier.to_vkey() }))
                    .collect::<Vec<_>>(),
            });
            std::fs::write(dir.join("witnesses.json"), format!("{list:#}\n"))
                .with_context(|| format!("writing {}", dir.join("witnesses.json").display()))?;
            // With witnesses, serve only checkpoints they all cosigned (witness-gated).
            let config = LogConfig::new(&dir, &a.origin)
                .with_mentions(Arc::new(|env: &[u8]| mentions_of(env)))
                .with_witness_gating(!witnesses.is_empty());
            let blobs =
                BlobStore::new(dir.join("blobs")).with_context(|| format!("{}", dir.display()))?;
            let mut server_config = ServerConfig {
                witnesses: witnesses
                    .iter()
                    .map(|w| (w.verifier.name().to_owned(), w.verifier.to_vkey()))
                    .collect(),
                anchor: None,
                anchoring: None,
                upload_tokens: a.upload_token.clone(),
                rate_limits: match a.adds_per_sec {
                    r if r <= 0.0 || !r.is_finite() => cairn_log_server::RateLimits {
                        adds_per_sec_per_address: f64::INFINITY,
                        add_burst_per_address: f64::INFINITY,
                        adds_per_sec_per_key: f64::INFINITY,
                        add_burst_per_key: f64::INFINITY,
                        ..cairn_log_server::RateLimits::default()
                    },
                    r => cairn_log_server::RateLimits {
                        adds_per_sec_per_address: r,
                        add_burst_per_address: 5.0 * r,
                        adds_per_sec_per_key: r,
                        add_burst_per_key: 5.0 * r,
                        ..cairn_log_server::RateLimits::default()
                    },
                },
            };
            let anchoring = match a.anchor_interval.filter(|&s| s > 0) {
                Some(secs) => {
                    let anchorer =
                        crate::commands::anchor::anchorer(settings, &a.chain, &a.origin).await?;
                    server_config.anchor = Some(json!({
                        "intervalSecs": secs,
                        "contract": anchorer.contract().to_checksum(None),
                        "chainId": anchorer.chain_id(),
                    }));
                    let watch = cairn_log_server::AnchorWatch::for_anchorer(
                        &anchorer,
                        Duration::from_secs(secs),
                    );
                    server_config.anchoring = Some(watch.clone());
                    Some((anchorer, secs, watch))
                }
                None => None,
            };
            // Serve the published checkpoint and tiles at once; everything else once the
            // journal is replayed.
            let starting = StartingRouter::new(&dir)
                .with_context(|| format!("opening the log in {}", dir.display()))?;
            let listener = bind(&a.listen).await?;
            let addr = listener.local_addr()?;
            // Connect info: rate limits apply per client address.
            let app = starting
                .router()
                .into_make_service_with_connect_info::<std::net::SocketAddr>();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => {}
                            _ = stopped => {}
                        }
                    })
                    .await
            });
            announce("log", addr, &signer.to_vkey(), json);
            let opened = {
                let signer = signer.clone();
                tokio::task::spawn_blocking(move || Log::open(config, signer)).await?
            };
            let log = match opened {
                Ok(log) => log,
                Err(e) => {
                    let _ = stop.send(());
                    let _ = server.await;
                    return Err(anyhow!(e))
                        .with_context(|| format!("opening the log in {}", dir.display()));
                }
            };
            if let Some((anchorer, secs, watch)) = anchoring {
                tokio::spawn(anchor_loop(
                    log.clone(),
                    anchorer,
                    Duration::from_secs(secs),
                    watch,
                ));
            }
            tokio::spawn(cosign_loop(log.clone(), witnesses));
            let state = AppState::new(log.clone(), blobs, Limits::default(), server_config);
            starting.ready(router(state));
            server.await??;
            drop(stop);
            log.close();
        }
        LogCmd::Key(a) => {
            let dir = a
                .dir
                .clone()
                .unwrap_or_else(|| settings.data_dir.join("log"));
            let signer = log_signer(&dir, &a.origin)?;
            output::print(&format!("{}\n", signer.to_vkey()));
        }
        LogCmd::Add(a) => {
            let text = std::fs::read(&a.file)
                .with_context(|| format!("cannot read {}", a.file.display()))?;
            let key = crate::commands::keys::signing_key(settings, a.key.as_deref())?;
            let envelope = envelope_from_file(&text, &a.file, &key)?;
            let out = a.out.clone().unwrap_or_else(|| bundle_path(&a.file));
            let resp = submit(&LogClient::new(&a.log), envelope, &key, &out, json).await?;
            if json {
                output::json(&resp);
            }
        }
        LogCmd::Checkpoint(a) => {
            output::print(&LogClient::new(&a.log).checkpoint().await?);
        }
        LogCmd::Anchor(a) => {
            let client = LogClient::new(&a.log);
            let info = client.info().await?;
            let origin = info["origin"]
                .as_str()
                .ok_or_else(|| anyhow!("the log did not say its origin"))?;
            let vkey = info["verifierKey"]
                .as_str()
                .ok_or_else(|| anyhow!("the log did not say its key"))?;
            let log_key = match &a.log_key {
                Some(k) => NoteVerifier::from_vkey(k).map_err(|e| anyhow!("--log-key: {e}"))?,
                None => NoteVerifier::from_vkey(vkey).map_err(|e| anyhow!("log key: {e}"))?,
            };
            let anchorer = crate::commands::anchor::anchorer(settings, &a.chain, origin).await?;
            let status = anchor_once(&anchorer, &client.checkpoint().await?, &log_key)
                .await
                .map_err(|e| anyhow!(e))?;
            if json {
                output::json(&status);
            } else {
                output::print(&match status {
                    cairn_log_server::AnchorStatus::Anchored(x) => format!(
                        "anchored size {} in block {} (tx {}, {} gas)\n",
                        x.anchor.size, x.anchor.block_number, x.anchor.tx_hash, x.gas_used
                    ),
                    cairn_log_server::AnchorStatus::UpToDate { anchored_size } => {
                        format!("already anchored at size {anchored_size}\n")
                    }
                });
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `<file>.bundle.json` beside the input (`statement.json` → `statement.bundle.json`).
pub(crate) fn bundle_path(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "statement".into());
    file.with_file_name(format!("{stem}.bundle.json"))
}

/// A statement file is signed with `key`; an envelope file is submitted as it is.
fn envelope_from_file(text: &[u8], path: &Path, key: &Key) -> Result<Envelope> {
    let value: serde_json::Value = serde_json::from_slice(text).map_err(|e| {
        anyhow!(
            "{}: not JSON ({e}); expected an in-toto statement or a DSSE envelope",
            path.display()
        )
    })?;
    if value.get("payloadType").is_some() {
        return Envelope::from_json(text).map_err(|e| anyhow!("{}: {e}", path.display()));
    }
    let statement = cairn_attest::parse_known_statement(text)
        .map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Envelope::sign_statement(&statement, key).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Submits `envelope`: prints the index as soon as it is sequenced, then waits for the
/// inclusion proof and writes the offline bundle to `out`.
pub(crate) async fn submit(
    client: &LogClient,
    envelope: Envelope,
    key: &Key,
    out: &Path,
    json: bool,
) -> Result<serde_json::Value> {
    let sub = Submission {
        envelope: serde_json::to_value(&envelope)?,
        public_key: key.public().to_base64(),
    };
    let started = Instant::now();
    let resp = client.add(&sub, false).await?;
    if !json {
        let dup = if resp.duplicate {
            " (already logged)"
        } else {
            ""
        };
        output::print(&format!(
            "sequenced at index {}{dup}  {}\n",
            resp.index, resp.envelope_digest
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let bundle = loop {
        match client.bundle(resp.index).await {
            Ok(b) => break b,
            Err(cairn_log_client::ClientError::Api { status: 404, .. })
                if Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    // When the log has witnesses, wait (briefly) for their cosignatures so the bundle carries
    // them: a verifier that requires witnesses can then check it offline.
    let witnesses = client
        .info()
        .await
        .ok()
        .and_then(|i| i["witnesses"].as_array().map(Vec::len))
        .unwrap_or(0);
    let mut bundle = bundle;
    let cosign_deadline = Instant::now() + Duration::from_secs(5);
    while witnesses > 0 && Instant::now() < cosign_deadline {
        let signed = cairn_tlog::TlogProof::parse(&bundle.tlog_proof)
            .ok()
            .and_then(|p| cairn_tlog::Note::parse(&p.checkpoint).ok())
            .map_or(0, |n| n.signatures.len());
        if signed > witnesses {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        bundle = client.bundle(resp.index).await?;
    }
    let waited = started.elapsed();
    std::fs::write(out, bundle.to_json() + "\n")
        .with_context(|| format!("writing {}", out.display()))?;
    if !json {
        output::print(&format!(
            "integrated after {:.0} ms; bundle (inclusion proof + checkpoint) written to {}\n",
            waited.as_secs_f64() * 1000.0,
            out.display()
        ));
    }
    Ok(json!({
        "index": resp.index,
        "duplicate": resp.duplicate,
        "envelopeDigest": resp.envelope_digest,
        "bundle": out,
        "integratedAfterMs": waited.as_millis() as u64,
    }))
}

pub(super) async fn witness(cmd: &WitnessCmd, settings: &Settings, json: bool) -> Result<ExitCode> {
    match cmd {
        WitnessCmd::Serve(a) => {
            let dir = a
                .dir
                .clone()
                .unwrap_or_else(|| settings.data_dir.join("witness"));
            let cosigner = witness_cosigner(&dir, &a.name)?;
            if a.log_key.is_empty() {
                bail!(
                    "a witness needs the logs it watches: pass --log-key <verifier key> (see `cairn log key`)"
                );
            }
            let logs = a
                .log_key
                .iter()
                .map(|k| NoteVerifier::from_vkey(k).map_err(|e| anyhow!("--log-key {k:?}: {e}")))
                .collect::<Result<Vec<_>>>()?;
            let vkey = cosigner.to_vkey();
            let w = Witness::open(
                WitnessConfig {
                    state_file: dir.join("state.json"),
                    logs,
                },
                cosigner,
            )
            .map_err(|e| anyhow!("{e}"))?;
            let listener = bind(&a.listen).await?;
            announce("witness", listener.local_addr()?, &vkey, json);
            axum::serve(listener, cairn_witness::router(Arc::new(w)))
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
        }
        WitnessCmd::Key(a) => {
            let dir = a
                .dir
                .clone()
                .unwrap_or_else(|| settings.data_dir.join("witness"));
            output::print(&format!("{}\n", witness_cosigner(&dir, &a.name)?.to_vkey()));
        }
    }
    Ok(ExitCode::SUCCESS)
}
