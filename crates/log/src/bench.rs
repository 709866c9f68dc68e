//! Restart time: how long a log of many entries takes to open (`cairn bench log --restart`).
//!
//! The log is filled first (not timed) with envelopes of a realistic size — the log stores
//! bytes, so their content does not matter to replay — with two lineage mentions each, closed,
//! and reopened; the reopen is timed.
use crate::{AddRequest, Log, LogConfig, Mention, Result, Role, StatementKind};
use cairn_tlog::NoteSigner;
use std::{path::Path, time::Instant};

/// Results of the restart benchmark.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestartBench {
    /// Entries in the log.
    pub entries: u64,
    /// Size of the journal, bytes.
    pub journal_bytes: u64,
    /// Seconds to fill the log (not the measurement).
    pub fill_secs: f64,
    /// Seconds from `Log::open` to a log that serves and accepts entries.
    pub open_secs: f64,
}

/// Fills a log in `dir` with `entries` entries of `envelope_bytes` bytes, then times reopening
/// it. Needs a multi-threaded Tokio runtime.
pub async fn bench_restart(
    dir: &Path,
    entries: u64,
    envelope_bytes: usize,
) -> Result<RestartBench> {
    let origin = "bench.cairn.local/restart";
    let signer = NoteSigner::generate(origin)?;
    let config = || LogConfig::new(dir.join("restart-log"), origin);
    let log = Log::open(config(), signer.clone())?;
    let started = Instant::now();
    let mut next = 0u64;
    while next < entries {
        let batch = (entries - next).min(8192);
        let mut waits = Vec::with_capacity(batch as usize);
        for i in next..next + batch {
            let mut envelope = format!("{{\"bench\":{i},\"pad\":\"").into_bytes();
            envelope.resize(envelope_bytes.saturating_sub(2).max(envelope.len()), b'x');
            envelope.extend_from_slice(b"\"}");
            let digest: [u8; 32] = sha256(&envelope);
            let req = AddRequest {
                envelope_sha256: digest,
                envelope,
                kind: StatementKind::Dataset,
                signer_key_hash: [7; 32],
                mentions: Some(vec![
                    Mention {
                        digest: format!("sha256:{}", hex::encode(digest)),
                        role: Role::Subject,
                    },
                    Mention {
                        digest: format!("sha256:{}", hex::encode([(i % 251) as u8; 32])),
                        role: Role::Reference,
                    },
                ]),
            };
            let log = log.clone();
            waits.push(tokio::spawn(async move { log.add(req).await }));
        }
        for w in waits {
            w.await
                .map_err(|e| crate::Error::Closed(format!(": {e}")))??;
        }
        next += batch;
    }
    if entries > 0 {
        log.wait_integrated(entries - 1).await?;
    }
    // Let the lineage index catch up, as a long-running log would have.
    log.lineage("sha256:none")?;
    let fill_secs = started.elapsed().as_secs_f64();
    log.close();
    drop(log);
    let journal_bytes = std::fs::metadata(dir.join("restart-log/journal"))
        .map(|m| m.len())
        .unwrap_or(0);
    let t = Instant::now();
    let log = Log::open(config(), signer)?;
    let open_secs = t.elapsed().as_secs_f64();
    if log.size() != entries || log.halted().is_some() {
        return Err(crate::Error::Closed(format!(
            ": reopened with {} entries (read-only: {:?}), not {entries}",
            log.size(),
            log.halted()
        )));
    }
    log.close();
    Ok(RestartBench {
        entries,
        journal_bytes,
        fill_secs,
        open_secs,
    })
}

fn sha256(data: &[u8]) -> [u8; 32] {
    // The tree's leaf hash is SHA-256 too; reuse tlog's rather than adding a dependency.
    cairn_tlog::leaf_hash(data)
}
