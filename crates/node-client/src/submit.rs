//! The requester's side of a job: check that someone can take it, upload what it runs, escrow
//! its payment on chain against the spec's digest, and hand the spec to the node.
//!
//! ```text
//! job.toml ─precheck─▶ providers online? bid sane? (nothing uploaded or escrowed yet)
//!          ─upload───▶ module, inputs, dataset files ─PUT /blob─▶ node  → JobSpec
//!          ─settlement▶ node's chain, token, market
//!          ─escrow_and_submit─▶ ComputeMarket.postJob(digest, payment) ─POST /jobs─▶ node
//! ```
//!
//! Errors describe the job file and the market; what a user changes to get past one (a flag, a
//! setting) is for the caller to say.
use crate::{ClientError, NodeClient};
use alloy::primitives::{Address, B256, U256};
use cairn_compute::{
    BlobRef, InputRef, JobFile, JobSpec,
    api::{JobView, NodeInfo, SubmitJob},
    fmt_usdt,
};
use cairn_escrow::{Escrow, Posted};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// How long [`precheck`] waits for a first provider to come online.
pub const PROVIDER_WAIT: Duration = Duration::from_secs(20);

/// A bid more than this many times the highest ask of the capable providers is refused unless
/// [`Checks::above_market`] allows it.
pub const FAR_ABOVE_MARKET: u64 = 10;

/// What [`precheck`] lets through.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checks {
    /// Escrow even if nobody can take the job now (it waits for a provider).
    pub without_provider: bool,
    /// Escrow a bid far above the market.
    pub above_market: bool,
}

/// Why a submission stopped.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The node could not be reached or refused.
    #[error(transparent)]
    Node(#[from] ClientError),
    /// No provider online can take the job; nothing was uploaded or escrowed.
    #[error("nobody can take this job now: {why}. Nothing was uploaded or escrowed")]
    NobodyCanTake {
        /// Why, in the terms of the job file.
        why: String,
    },
    /// The bid is far above what the capable providers ask; nothing was uploaded or escrowed.
    #[error(
        "{field} = {bid} is more than {FAR_ABOVE_MARKET}x the highest ask of the providers that could run it ({ask}); the whole payment ({payment}) would be escrowed. Nothing was uploaded or escrowed"
    )]
    FarAboveMarket {
        /// The price field of the job file.
        field: &'static str,
        /// The job's bid.
        bid: u64,
        /// The highest ask.
        ask: u64,
        /// The whole payment, formatted.
        payment: String,
    },
    /// A file the job names could not be read.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// Which of the job's files (module, input, dataset).
        what: String,
        /// Its path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The job file does not make a job (names no file, two inputs of one name, a model the
    /// node lacks, an invalid spec).
    #[error("{0}")]
    Job(String),
    /// The requester's chain is not the node's.
    #[error("the node settles on chain {node} but the requester's chain is {requester}")]
    WrongChain {
        /// The node's chain id.
        node: u64,
        /// The requester's chain id.
        requester: u64,
    },
    /// The node's self-description does not parse.
    #[error("the node's /info names a bad {what} address {value:?}")]
    BadNodeInfo {
        /// Which field.
        what: &'static str,
        /// Its value.
        value: String,
    },
    /// The requester cannot pay.
    #[error("{who} holds {have} of the payment token but the job escrows {need}; fund the account")]
    ShortOfTokens {
        /// The requester.
        who: Address,
        /// Its balance (base units).
        have: U256,
        /// The payment, formatted.
        need: String,
    },
    /// The escrow transaction failed.
    #[error(transparent)]
    Escrow(#[from] cairn_escrow::Error),
}

/// Refuses, before anything is uploaded or escrowed, a job that no provider online can take
/// (naming why, in the terms of the job file), and a bid far above what the providers ask.
/// Providers that are starting count: waits up to [`PROVIDER_WAIT`] for the first.
pub async fn precheck(node: &NodeClient, job: &JobFile, checks: Checks) -> Result<(), SubmitError> {
    let mut providers = node.providers().await?;
    let deadline = std::time::Instant::now() + PROVIDER_WAIT;
    while !providers.iter().any(|p| p.online) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        providers = node.providers().await?;
    }
    let offers: Vec<cairn_compute::Offer> = providers
        .iter()
        .map(|p| cairn_compute::Offer {
            provider: p.address.clone(),
            capacity: p.capacity,
            free: p.free,
            ask: p.ask,
            reputation: p.reputation,
            online: p.online,
            kinds: p.kinds.clone(),
        })
        .collect();
    let demand = cairn_compute::Demand {
        kind: job.kind,
        resources: cairn_compute::Resources {
            cpu_cores: job.resources.cpu_cores,
            memory_bytes: job.resources.memory.0,
            gpus: job.resources.gpus,
        },
        bid: job.price,
        min_reputation: job.schedule.min_reputation,
        exclude: vec![],
    };
    match cairn_compute::choose(&demand, &offers) {
        Err(why) if !why.is_waiting() && !checks.without_provider => {
            return Err(SubmitError::NobodyCanTake {
                why: why.to_string(),
            });
        }
        _ => {}
    }
    // The asks of the providers that have the resources.
    let capable = offers.iter().filter(|o| {
        o.online
            && o.kinds.contains(&demand.kind)
            && o.capacity.covers(&demand.resources)
            && (demand.resources.gpus == 0 || o.capacity.gpus > 0)
    });
    let highest = capable
        .map(|o| o.ask)
        .fold(None, |m: Option<cairn_compute::Price>, a| {
            Some(match m {
                None => a,
                Some(m) => cairn_compute::Price {
                    per_mfuel: m.per_mfuel.max(a.per_mfuel),
                    per_second: m.per_second.max(a.per_second),
                },
            })
        });
    if let Some(h) = highest
        && !checks.above_market
    {
        for (field, bid, ask) in [
            ("price.per_mfuel", job.price.per_mfuel, h.per_mfuel),
            ("price.per_second", job.price.per_second, h.per_second),
        ] {
            if bid > FAR_ABOVE_MARKET.saturating_mul(ask.max(1)) {
                return Err(SubmitError::FarAboveMarket {
                    field,
                    bid,
                    ask,
                    payment: fmt_usdt(job.payment().unwrap_or(0)),
                });
            }
        }
    }
    Ok(())
}

/// Every regular file under `dir`, as (dataset-relative path, absolute path), sorted, and the
/// dataset's root.
fn dataset_files(dir: &Path) -> Result<(Vec<(String, PathBuf)>, String), SubmitError> {
    let report = cairn_data::add(dir, &cairn_data::Options::default())
        .map_err(|e| SubmitError::Job(format!("dataset {}: {e}", dir.display())))?;
    let files = report
        .manifest
        .files()
        .iter()
        .map(|f| (f.path.clone(), dir.join(&f.path)))
        .collect();
    Ok((files, report.manifest.root().to_string()))
}

/// Uploads the job's module and inputs (and its dataset's files) to the node's
/// content-addressed store, signed by the client's key (the node takes blobs only from keys),
/// and returns the resolved spec. Paths in the job file are relative to `base`.
pub async fn upload(node: &NodeClient, job: &JobFile, base: &Path) -> Result<JobSpec, SubmitError> {
    // A train or infer job's "module" is its section's canonical JSON (the recipe).
    let module = match job.program() {
        Some(program) => program,
        None => {
            let path = base.join(&job.module);
            std::fs::read(&path).map_err(|source| SubmitError::File {
                what: "module".into(),
                path,
                source,
            })?
        }
    };
    let module_ref = node.put_blob(module).await?;
    let mut named: Vec<(String, PathBuf)> = Vec::new();
    for (i, p) in job.inputs.iter().enumerate() {
        let path = base.join(p);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| SubmitError::Job(format!("inputs[{i}] {p:?} names no file")))?;
        named.push((name, path));
    }
    let mut root = None;
    if let Some(d) = &job.dataset {
        let (files, r) = dataset_files(&base.join(d))?;
        named.extend(files);
        root = Some(r);
    }
    let mut inputs = Vec::with_capacity(named.len() + 1);
    if let Some(infer) = &job.infer {
        // The model is already in the node's store (a train job's output): name it by digest.
        let sha = infer.model_sha256().ok_or_else(|| {
            SubmitError::Job(format!("infer.model {} is not sha256:<hex>", infer.model))
        })?;
        let size = node.blob_size(sha).await?.ok_or_else(|| {
            SubmitError::Job(format!(
                "infer.model {} is not in the node's store (the model.safetensors of a train job on this node)",
                infer.model
            ))
        })?;
        inputs.push(InputRef {
            name: cairn_compute::tensor::INFER_MODEL_INPUT.to_owned(),
            blob: BlobRef {
                sha256: sha.to_owned(),
                size,
            },
        });
    }
    for (name, path) in named {
        if inputs.iter().any(|i: &InputRef| i.name == name) {
            return Err(SubmitError::Job(format!(
                "two inputs are named {name:?} under /input; rename one"
            )));
        }
        let bytes = std::fs::read(&path).map_err(|source| SubmitError::File {
            what: "input".into(),
            path: path.clone(),
            source,
        })?;
        let blob: BlobRef = node.put_blob(bytes).await?;
        inputs.push(InputRef { name, blob });
    }
    job.resolve(module_ref, inputs, root)
        .map_err(|e| SubmitError::Job(e.to_string()))
}

/// Where the node settles: its payment token and `ComputeMarket`, after checking that `chain`
/// is the node's chain.
pub fn settlement(
    info: &NodeInfo,
    chain: &cairn_chain::Chain,
) -> Result<(Address, Address), SubmitError> {
    if chain.chain_id() != info.chain_id {
        return Err(SubmitError::WrongChain {
            node: info.chain_id,
            requester: chain.chain_id(),
        });
    }
    let parse = |what, value: &str| {
        value.parse().map_err(|_| SubmitError::BadNodeInfo {
            what,
            value: value.to_owned(),
        })
    };
    Ok((parse("token", &info.token)?, parse("market", &info.market)?))
}

/// A job escrowed on chain and accepted by the node.
#[derive(Debug)]
pub struct Submitted {
    /// The node's view of the job.
    pub view: JobView,
    /// The escrow transaction.
    pub posted: Posted,
}

/// Escrows `spec`'s payment on the `ComputeMarket` at `market` (approving exactly what is
/// missing), then hands the spec to the node under the new job id. The client's signer must be
/// the chain's signer: the node checks the escrow's requester.
pub async fn escrow_and_submit(
    node: &NodeClient,
    chain: &cairn_chain::Chain,
    market: Address,
    spec: JobSpec,
) -> Result<Submitted, SubmitError> {
    let me = chain.require_signer().map_err(cairn_escrow::Error::from)?;
    let escrow = Escrow::new(chain.clone(), market);
    let payment = U256::from(spec.payment);
    let have = escrow.token_balance(me).await?;
    if have < payment {
        return Err(SubmitError::ShortOfTokens {
            who: me,
            have,
            need: fmt_usdt(spec.payment),
        });
    }
    escrow.ensure_allowance(payment).await?;
    let now = escrow.chain_time().await?;
    let posted = escrow
        .post_job(
            B256::from(spec.digest()),
            payment,
            now + spec.accept_within_secs,
            now + spec.deadline_secs,
        )
        .await?;
    let view = node
        .submit(&SubmitJob {
            job_id: posted.first(),
            spec,
        })
        .await?;
    Ok(Submitted { view, posted })
}
