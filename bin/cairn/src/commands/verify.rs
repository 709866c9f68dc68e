//! `cairn verify` (offline, plus the on-chain anchor when online) and `cairn lineage`.
use super::trust::{Signers, kind_of, market_signed};
use crate::{
    cli::{LineageArgs, VerifyArgs},
    config::Settings,
    output,
};
use anyhow::{Context, Result, anyhow, bail};
use cairn_attest::{Digest, LineageIndex};
use cairn_log_client::{Bundle, LogClient, TrustPolicy, Verified};
use cairn_tlog::{CosignatureVerifier, NoteVerifier, verify_consistency};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::{
    collections::BTreeMap,
    fmt::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

/// The log key to trust: `--log-key`, else the local log's own key, else (online) the key the
/// log at `--log` reports — said out loud, since that is trust on first use.
async fn log_key(settings: &Settings, args: &VerifyArgs) -> Result<(NoteVerifier, &'static str)> {
    if let Some(k) = &args.log_key {
        return Ok((
            NoteVerifier::from_vkey(k).map_err(|e| anyhow!("--log-key: {e}"))?,
            "--log-key",
        ));
    }
    let local = settings.data_dir.join("log/log.key");
    if let Ok(text) = std::fs::read_to_string(&local) {
        let signer = cairn_tlog::NoteSigner::from_skey(text.trim())
            .map_err(|e| anyhow!("{}: {e}", local.display()))?;
        return Ok((signer.verifier(), "the local log key"));
    }
    if let Some(url) = &args.log {
        let info = LogClient::new(url).info().await?;
        let vkey = info["verifierKey"]
            .as_str()
            .ok_or_else(|| anyhow!("{url} did not report a verifier key"))?;
        return Ok((
            NoteVerifier::from_vkey(vkey).map_err(|e| anyhow!("{e}"))?,
            "the key the log reports (trust on first use)",
        ));
    }
    bail!("no log key to verify against: pass --log-key <verifier key> (see `cairn log key`)")
}

/// The witnesses to require when no `--witness-key` is given: the log's own witnesses, from
/// the local log (`<data-dir>/log/witnesses.json`, written by `cairn log serve`) or from the
/// log at `--log`. A log with witnesses is verified against them by default, so a bundle from a
/// fork signed with the log's key does not verify without their cosignatures.
async fn log_witnesses(
    settings: &Settings,
    args: &VerifyArgs,
    log_key: &NoteVerifier,
) -> Result<Vec<CosignatureVerifier>> {
    let parse = |list: &serde_json::Value, from: &str| -> Result<Vec<CosignatureVerifier>> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["verifierKey"].as_str())
            .map(|k| {
                CosignatureVerifier::from_vkey(k)
                    .map_err(|e| anyhow!("{from}: witness key {k:?}: {e}"))
            })
            .collect()
    };
    let local = settings.data_dir.join("log/witnesses.json");
    if let Ok(text) = std::fs::read_to_string(&local) {
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", local.display()))?;
        if v["origin"].as_str() == Some(log_key.name()) {
            return parse(&v["witnesses"], &local.display().to_string());
        }
    }
    if let Some(url) = &args.log {
        let info = LogClient::new(url).info().await?;
        if info["origin"].as_str() == Some(log_key.name()) {
            return parse(&info["witnesses"], url);
        }
    }
    Ok(Vec::new())
}

/// Two verified checkpoints of one log with the same size and different roots prove a split
/// view: the log showed different histories to different clients.
fn split_view(verified: &[(PathBuf, Verified)]) -> Result<()> {
    let mut seen: BTreeMap<(&str, u64), (&Path, [u8; 32])> = BTreeMap::new();
    for (path, v) in verified {
        let cp = &v.checkpoint;
        match seen.get(&(cp.origin.as_str(), cp.size)) {
            Some((other, root)) if *root != cp.root => bail!(
                "split view: {} and {} carry checkpoints of {:?} at size {} with different \
                 roots — the log forked; trust neither and report it",
                other.display(),
                path.display(),
                cp.origin,
                cp.size
            ),
            Some(_) => {}
            None => {
                seen.insert((cp.origin.as_str(), cp.size), (path, cp.root));
            }
        }
    }
    Ok(())
}

fn bundles_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let p = e?.path();
        if p.to_string_lossy().ends_with(".bundle.json") {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

pub(super) async fn run(
    args: &VerifyArgs,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    let (key, key_source) = log_key(settings, args).await?;
    let mut witnesses = args
        .witness_key
        .iter()
        .map(|k| CosignatureVerifier::from_vkey(k).map_err(|e| anyhow!("--witness-key {k:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    if witnesses.is_empty() {
        witnesses = log_witnesses(settings, args, &key).await?;
    }
    let policy = TrustPolicy {
        log_key: key,
        witness_quorum: args.quorum.unwrap_or(witnesses.len()),
        witnesses,
    };

    let target = std::fs::read(&args.target)
        .with_context(|| format!("cannot read {}", args.target.display()))?;
    // A file that claims to be a bundle (by name or content) must parse as one: say why not,
    // instead of treating it as an artifact no statement names.
    let looks_like_bundle = args.target.to_string_lossy().ends_with(".bundle.json")
        || serde_json::from_slice::<serde_json::Value>(&target)
            .is_ok_and(|v| v.get("mediaType").is_some() || v.get("tlogProof").is_some());
    let target_bundle = match Bundle::from_json(&target) {
        Ok(b) => Some(b),
        Err(e) if looks_like_bundle => bail!("{}: {e}", args.target.display()),
        Err(_) => None,
    };
    let mut files: Vec<PathBuf> = Vec::new();
    let dirs = if args.bundles.is_empty() {
        vec![
            args.target
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned(),
        ]
    } else {
        args.bundles.clone()
    };
    for d in &dirs {
        files.extend(bundles_in(d)?);
    }

    // Verify every bundle we might walk through; remember failures to report them if used.
    let mut candidates: Vec<(PathBuf, Result<Bundle, String>)> = Vec::new();
    if let Some(b) = &target_bundle {
        candidates.push((args.target.clone(), Ok(b.clone())));
    }
    let target_real = args.target.canonicalize().ok();
    for f in &files {
        if f.canonicalize().ok() == target_real {
            continue;
        }
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        candidates.push((f.clone(), Bundle::from_json(&bytes)));
    }
    let mut verified: Vec<(PathBuf, Verified)> = Vec::new();
    let mut failures: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut index = LineageIndex::new();
    // Who signed each statement, checked against the signer policy before it is walked.
    let mut signers = Signers::from_args(settings, args)?;
    let mut signed_by: BTreeMap<String, String> = BTreeMap::new();
    for (path, parsed) in candidates {
        let mut checked = parsed.and_then(|b| b.verify(&policy));
        if let Ok(v) = &checked {
            let kind = kind_of(&v.statement.predicate_type);
            if market_signed(kind) && signers.needs_market_key() {
                signers.load_market_key(settings, args).await;
            }
            match signers.check(kind, &v.signer) {
                Ok(who) => {
                    signed_by.insert(v.envelope_digest.to_string(), who);
                }
                Err(e) => checked = Err(e),
            }
        }
        match checked {
            Ok(v) => {
                index.insert(v.envelope_digest.clone(), v.statement.clone());
                verified.push((path, v));
            }
            Err(e) if target_bundle.is_some() && path == args.target => {
                bail!("{}: verification failed: {e}", args.target.display());
            }
            Err(e) => {
                failures.insert(path, e);
            }
        }
    }

    split_view(&verified)?;

    // Start from the bundle's envelope, or from the artifact's SHA-256.
    let start = match &target_bundle {
        Some(b) => b.envelope.digest(),
        None => Digest::from_sha256(Sha256::digest(&target).into()),
    };
    let lineage = index.walk(&start);
    if lineage.steps.is_empty() {
        let mut msg = format!("no verified statement in the bundles names {start}");
        if !failures.is_empty() {
            let _ = write!(msg, "; {} bundle(s) failed to verify:", failures.len());
            for (p, e) in &failures {
                let _ = write!(msg, " {}: {e};", p.display());
            }
        }
        bail!("{msg} (pass --bundles <dir> with the statements' bundles)");
    }
    let by_env: BTreeMap<String, &(PathBuf, Verified)> = verified
        .iter()
        .map(|v| (v.1.envelope_digest.to_string(), v))
        .collect();

    // Online: the checkpoint must be consistent with the chain's latest anchor.
    let mut anchor_report = None;
    if args.anchor {
        let url = args
            .log
            .as_deref()
            .ok_or_else(|| anyhow!("--anchor needs --log <url> to fetch consistency proofs"))?;
        let client = LogClient::new(url);
        let anchorer =
            crate::commands::anchor::anchorer(settings, &args.chain, policy.log_key.name()).await?;
        let first = &by_env[&lineage.steps[0].envelope.to_string()].1;
        let Some(a) = anchorer.latest().await? else {
            bail!(
                "no anchor on chain for log {:?} yet: run `cairn log anchor`",
                policy.log_key.name()
            )
        };
        let cp = &first.checkpoint;
        let (old, new, old_root, new_root) = if a.size <= cp.size {
            (a.size, cp.size, a.root.0, cp.root)
        } else {
            (cp.size, a.size, cp.root, a.root.0)
        };
        let proof = client.consistency(old, new).await?;
        verify_consistency(old, new, &old_root, &new_root, &proof).map_err(|e| {
            anyhow!(
                "the checkpoint is NOT consistent with the on-chain anchor at size {}: {e}",
                a.size
            )
        })?;
        anchor_report = Some(
            json!({ "anchoredSize": a.size, "block": a.block_number, "tx": a.tx_hash.to_string(), "checkpointSize": cp.size }),
        );
    }

    if json_out {
        let steps: Vec<_> = lineage
            .steps
            .iter()
            .map(|s| {
                let (path, v) = by_env[&s.envelope.to_string()];
                json!({
                    "depth": s.depth,
                    "via": s.via.to_string(),
                    "predicateType": s.predicate_type,
                    "envelopeDigest": s.envelope.to_string(),
                    "subject": v.statement.subject,
                    "logIndex": v.index,
                    "checkpointSize": v.checkpoint.size,
                    "witnesses": v.witnesses.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                    "signer": {
                        "keyId": v.signer.key_id(),
                        "publicKey": v.signer.to_base64(),
                        "trustedAs": signed_by.get(&s.envelope.to_string()),
                    },
                    "bundle": path,
                })
            })
            .collect();
        output::json(&json!({
            "verified": true,
            "logKey": policy.log_key.to_vkey(),
            "lineage": steps,
            "notAttested": lineage.unresolved.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
            "anchor": anchor_report,
        }));
    } else {
        let mut s = format!(
            "verified against {key_source}: {}\n",
            policy.log_key.to_vkey()
        );
        for step in &lineage.steps {
            let (path, v) = by_env[&step.envelope.to_string()];
            let name = v
                .statement
                .subject
                .first()
                .map(|x| x.name.as_str())
                .unwrap_or("?");
            let kind = step
                .predicate_type
                .rsplit('/')
                .nth(1)
                .unwrap_or(step.predicate_type);
            let w = if v.witnesses.is_empty() {
                String::new()
            } else {
                format!(
                    ", cosigned by {}",
                    v.witnesses
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let _ = writeln!(
                s,
                "{}{} {kind:<13} {name}  [log index {}, checkpoint {}{w}]  {}",
                "  ".repeat(step.depth),
                if step.depth == 0 { "•" } else { "└─" },
                v.index,
                v.checkpoint.size,
                path.display()
            );
            let _ = writeln!(
                s,
                "{}  signed by {} = {}",
                "  ".repeat(step.depth + 1),
                &v.signer.key_id()[..16],
                signed_by
                    .get(&step.envelope.to_string())
                    .map(String::as_str)
                    .unwrap_or("?")
            );
        }
        for d in &lineage.unresolved {
            // Say which statement points at it: unattested code or inputs are normal, a
            // missing dataset is not.
            let by = verified
                .iter()
                .find(|(_, v)| v.statement.upstream_digests().contains(d))
                .map(|(_, v)| {
                    let kind = v
                        .statement
                        .predicate_type
                        .rsplit('/')
                        .nth(1)
                        .unwrap_or("?")
                        .to_owned();
                    let name = v
                        .statement
                        .subject
                        .first()
                        .map(|x| x.name.clone())
                        .unwrap_or_default();
                    format!(" (named by the {kind} statement of {name})")
                })
                .unwrap_or_default();
            let _ = writeln!(s, "  not attested: {d}{by}");
        }
        if let Some(a) = &anchor_report {
            let _ = writeln!(
                s,
                "anchor: on-chain size {} (block {}) is consistent with checkpoint {}",
                a["anchoredSize"], a["block"], a["checkpointSize"]
            );
        }
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn lineage(args: &LineageArgs, json_out: bool) -> Result<ExitCode> {
    let digest: Digest = args
        .digest
        .parse()
        .map_err(|e| anyhow!("{:?}: {e} (use sha256:<hex> or blake3:<hex>)", args.digest))?;
    let v = LogClient::new(&args.log)
        .lineage(&digest.to_string())
        .await?;
    if json_out {
        output::json(&v);
        return Ok(ExitCode::SUCCESS);
    }
    let entries = v["entries"].as_array().cloned().unwrap_or_default();
    let mut s = format!("{} statement(s) mention {digest}\n", entries.len());
    for e in entries {
        let kind = e["predicateType"].as_str().unwrap_or("?");
        let names: Vec<&str> = e["subject"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["name"].as_str())
            .collect();
        let _ = writeln!(
            s,
            "  index {:<6} {:<9} {:<10} {}  {}",
            e["index"],
            e["role"].as_str().unwrap_or(""),
            e["kind"].as_str().unwrap_or(""),
            names.join(", "),
            kind
        );
    }
    output::print(&s);
    Ok(ExitCode::SUCCESS)
}
