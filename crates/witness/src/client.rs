//! The log side of tlog-witness: ask a witness to cosign a checkpoint.
use crate::AddCheckpoint;
use cairn_tlog::{Hash, NoteSignature};
use std::time::Duration;

/// Why a cosignature request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The witness could not be reached.
    #[error("witness {url} unreachable: {reason}")]
    Unreachable {
        /// Witness URL.
        url: String,
        /// Transport error.
        reason: String,
    },
    /// The witness has another latest size for this log; retry from it.
    #[error("witness {url} last cosigned size {size}")]
    Conflict {
        /// Witness URL.
        url: String,
        /// Its latest cosigned size.
        size: u64,
    },
    /// The witness refused.
    #[error("witness {url} refused ({status}): {body}")]
    Refused {
        /// Witness URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Its explanation.
        body: String,
    },
}

/// Sends `checkpoint` with a consistency proof from `old_size` to the witness at `url`
/// (its submission prefix) and returns the signature lines it answered with.
pub async fn submit_checkpoint(
    client: &reqwest::Client,
    url: &str,
    old_size: u64,
    proof: Vec<Hash>,
    checkpoint: &str,
) -> Result<Vec<NoteSignature>, ClientError> {
    let body = AddCheckpoint {
        old_size,
        proof,
        checkpoint: checkpoint.to_owned(),
    }
    .encode();
    let endpoint = format!("{}/add-checkpoint", url.trim_end_matches('/'));
    let unreachable = |e: reqwest::Error| ClientError::Unreachable {
        url: url.to_owned(),
        reason: e.to_string(),
    };
    let resp = client
        .post(&endpoint)
        .timeout(Duration::from_secs(10))
        .body(body)
        .send()
        .await
        .map_err(unreachable)?;
    let status = resp.status().as_u16();
    let is_size = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/x.tlog.size"));
    let text = resp.text().await.map_err(unreachable)?;
    if status == 409
        && is_size
        && let Ok(size) = text.trim_end_matches('\n').parse::<u64>()
    {
        if size == old_size {
            // Our old size was the witness's: what conflicts is the root (tlog-witness).
            return Err(ClientError::Refused {
                url: url.to_owned(),
                status,
                body: format!(
                    "the witness cosigned another root at size {size}: the log forked, or this \
                     checkpoint is not the log's"
                ),
            });
        }
        return Err(ClientError::Conflict {
            url: url.to_owned(),
            size,
        });
    }
    if status != 200 {
        return Err(ClientError::Refused {
            url: url.to_owned(),
            status,
            body: text.trim().to_owned(),
        });
    }
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            NoteSignature::parse_line(l).map_err(|e| ClientError::Refused {
                url: url.to_owned(),
                status,
                body: format!("unparseable signature line: {e}"),
            })
        })
        .collect()
}
