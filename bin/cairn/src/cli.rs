//! Command-line surface: `cairn <noun> <verb>`.
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Cairn: verifiable compute, data lineage and a risk-aware DCA agent on EVM chains.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Configuration file (TOML). Default: ./cairn.toml when it exists.
    #[arg(long, global = true, env = "CAIRN_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory for devnet state, manifests, logs and blobs. Default: ./.cairn
    #[arg(long, global = true, env = "CAIRN_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start the whole local network: devnet, witnessed and anchored log, compute node,
    /// workers, a sample dataset and job; Ctrl-C stops it.
    Up(UpArgs),
    /// Run the local Ethereum devnet (anvil + Uniswap V2 + test tokens).
    #[command(subcommand)]
    Devnet(DevnetCmd),
    /// Inspect or deploy to any EVM chain by RPC URL.
    #[command(subcommand)]
    Chain(ChainCmd),
    /// Run or use the transparency log of signed AI statements.
    #[command(subcommand)]
    Log(LogCmd),
    /// Run a witness that cosigns log checkpoints after checking consistency.
    #[command(subcommand)]
    Witness(WitnessCmd),
    /// Manage the Ed25519 key that signs attestations.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Create, sign and log typed in-toto statements about datasets, models, runs, inferences
    /// and agent decisions.
    #[command(subcommand)]
    Attest(AttestKind),
    /// Content-address datasets: add, verify, prove membership of one file.
    #[command(subcommand)]
    Data(DataCmd),
    /// Verify a statement bundle (or an artifact, through the bundles beside it) offline and
    /// print its lineage: output → model → training run → datasets.
    Verify(VerifyArgs),
    /// List the log entries whose statements mention a digest.
    Lineage(LineageArgs),
    /// The risk-aware DCA agent: backtest, sweep and walk forward a plan on real candles; its
    /// on-chain vault (`cairn agent vault`).
    #[command(subcommand)]
    Agent(AgentCmd),
    /// The devnet's market: `cairn market replay` moves the pools and price feeds along real
    /// candles.
    #[command(subcommand)]
    Market(MarketCmd),
    /// Benchmarks (`cairn bench backtest`: bar x configuration steps per second).
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Run a compute node: job API, matching, leases, escrow settlement, receipts.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Share this machine as a compute provider (`cairn worker --node URL --key FILE`), or show
    /// its jobs and earnings (`cairn worker status`).
    Worker(WorkerArgs),
    /// Submit compute jobs and follow them: submit, list, status, logs, result, cancel, recover.
    #[command(subcommand)]
    Job(JobCmd),
    /// The providers a node knows: capacity, asks, reputation, whether they are online.
    #[command(subcommand)]
    Provider(ProviderCmd),
    /// A staked referee of refereed bisection disputes: register, run (rule every dispute
    /// assigned to it), status.
    #[command(subcommand)]
    Referee(RefereeCmd),
}

#[derive(Debug, Subcommand)]
pub(crate) enum RefereeCmd {
    /// Bond stake (USDT base units; at least the market's minimum) as a referee.
    Register {
        /// USDT base units to bond.
        #[arg(long)]
        stake: String,
        #[command(flatten)]
        who: RefereeArgs,
    },
    /// Rule every dispute assigned to this referee, recomputing one segment each, until
    /// stopped.
    Run {
        #[command(flatten)]
        who: RefereeArgs,
        /// One pass, then exit.
        #[arg(long)]
        once: bool,
        /// Threads for the recomputation (the result is the same with any number).
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// The referee's stake, open disputes and the disputes assigned to it.
    Status {
        #[command(flatten)]
        who: RefereeArgs,
    },
}

/// Who the referee is and where the market is.
#[derive(Debug, Args)]
pub(crate) struct RefereeArgs {
    /// File with the referee's hex private key.
    #[arg(long, env = "CAIRN_REFEREE_KEY")]
    pub(crate) key: Option<PathBuf>,
    /// URL of the node (its market and content store).
    #[arg(long, default_value = DEFAULT_NODE_URL, env = "CAIRN_NODE_URL")]
    pub(crate) node: String,
    /// JSON-RPC URL of the chain. Default: the one the node reports.
    #[arg(long, alias = "rpc", env = "CAIRN_RPC_URL")]
    pub(crate) rpc_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DevnetCmd {
    /// Start anvil (or reuse the running one), deploy the contracts, seed the pools, write the
    /// deployment manifest.
    Up(DevnetArgs),
    /// Stop the devnet (its state file keeps the contracts for the next `up`).
    Down,
    /// Report chain id, block height and contract addresses of the running devnet.
    Status,
}

#[derive(Debug, Args)]
pub(crate) struct DevnetArgs {
    /// Port for anvil's JSON-RPC (0: any free port).
    #[arg(long, env = "CAIRN_DEVNET_PORT")]
    pub(crate) port: Option<u16>,
    /// Interface to listen on.
    #[arg(long, env = "CAIRN_DEVNET_HOST")]
    pub(crate) host: Option<String>,
    /// Chain id of the devnet.
    #[arg(long, env = "CAIRN_DEVNET_CHAIN_ID")]
    pub(crate) chain_id: Option<u64>,
    /// Seconds between blocks (0: mine a block per transaction).
    #[arg(long, env = "CAIRN_DEVNET_BLOCK_TIME")]
    pub(crate) block_time: Option<u64>,
    /// Deploy a new stack when the manifest names contracts the chain no longer has (its state
    /// was lost); the old manifest is kept beside the new one.
    #[arg(long)]
    pub(crate) redeploy: bool,
    /// Path to the anvil binary. Default: node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil.
    #[arg(long, env = "CAIRN_ANVIL")]
    pub(crate) anvil: Option<PathBuf>,
    /// Do not keep chain state across restarts.
    #[arg(long)]
    pub(crate) no_state: bool,
    /// Directory of daily candles whose last close seeds the pools.
    #[arg(long, env = "CAIRN_PRICES_DIR")]
    pub(crate) prices_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChainCmd {
    /// Check that the RPC answers on the expected chain; show head block and account balance.
    Status(ChainArgs),
    /// Deploy Uniswap V2, the test tokens and seeded pools to the chain (for test networks),
    /// writing the deployment manifest.
    Deploy(ChainArgs),
    /// Chain profiles (built in: bnb, base; more under [chains.NAME] in cairn.toml): chain id,
    /// block time, stablecoin, assets with their feeds, routers. No network access.
    Profiles {
        /// Show only this profile.
        name: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ChainArgs {
    /// JSON-RPC URL of the chain.
    #[arg(long, env = "CAIRN_RPC_URL")]
    pub(crate) rpc_url: Option<String>,
    /// Chain id the RPC must report.
    #[arg(long, env = "CAIRN_CHAIN_ID")]
    pub(crate) chain_id: Option<u64>,
    /// File holding the hex private key that signs transactions (else $CAIRN_PRIVATE_KEY).
    #[arg(long, env = "CAIRN_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// Seconds to wait for each RPC answer.
    #[arg(long, env = "CAIRN_RPC_TIMEOUT")]
    pub(crate) timeout: Option<u64>,
    /// Directory of daily candles whose last close seeds the pools (deploy only).
    #[arg(long, env = "CAIRN_PRICES_DIR")]
    pub(crate) prices_dir: Option<PathBuf>,
}

/// Default address of `cairn log serve`.
pub(crate) const DEFAULT_LOG_LISTEN: &str = "127.0.0.1:7300";
/// Default URL clients use for the log.
pub(crate) const DEFAULT_LOG_URL: &str = "http://127.0.0.1:7300";
/// Default log origin (checkpoint origin line and key name).
pub(crate) const DEFAULT_ORIGIN: &str = "cairn.local/log";

#[derive(Debug, Subcommand)]
pub(crate) enum LogCmd {
    /// Serve the log over HTTP (tlog-tiles, add, proofs, lineage), cosigned by witnesses and
    /// anchored on chain when configured.
    Serve(LogServeArgs),
    /// Sign a statement (or take a signed DSSE envelope) and append it; prints the index at once,
    /// then writes the bundle with its inclusion proof.
    Add(LogAddArgs),
    /// Print the latest signed checkpoint.
    Checkpoint(LogUrlArgs),
    /// Anchor the log's latest checkpoint in the ProvenanceAnchor contract.
    Anchor(LogAnchorArgs),
    /// Print the log's verifier key (creating the log key if needed).
    Key(LogKeyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LogServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = DEFAULT_LOG_LISTEN, env = "CAIRN_LOG_LISTEN")]
    pub(crate) listen: String,
    /// Log directory. Default: <data-dir>/log
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Checkpoint origin (also the log key's name).
    #[arg(long, default_value = DEFAULT_ORIGIN, env = "CAIRN_LOG_ORIGIN")]
    pub(crate) origin: String,
    /// A witness to ask for cosignatures, as URL=VERIFIER_KEY (repeatable).
    #[arg(long)]
    pub(crate) witness: Vec<String>,
    /// Anchor the latest checkpoint on chain every this many seconds (0: never).
    #[arg(long, env = "CAIRN_ANCHOR_INTERVAL")]
    pub(crate) anchor_interval: Option<u64>,
    /// A bearer token that may upload blobs no logged statement names yet (repeatable).
    /// Without one, PUT /blob takes only blobs a logged statement references.
    #[arg(long, env = "CAIRN_LOG_UPLOAD_TOKEN", hide_env_values = true)]
    pub(crate) upload_token: Vec<String>,
    /// Sustained adds a second allowed per client address and per signer key (bursts of 5x);
    /// 0 lifts the limit (a log fed only by trusted hosts).
    #[arg(long, env = "CAIRN_LOG_ADDS_PER_SEC", default_value_t = cairn_log_server::DEFAULT_ADDS_PER_SEC_PER_ADDRESS)]
    pub(crate) adds_per_sec: f64,
    #[command(flatten)]
    pub(crate) chain: AnchorArgs,
}

#[derive(Debug, Args)]
pub(crate) struct LogKeyArgs {
    /// Log directory. Default: <data-dir>/log
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Checkpoint origin.
    #[arg(long, default_value = DEFAULT_ORIGIN, env = "CAIRN_LOG_ORIGIN")]
    pub(crate) origin: String,
}

#[derive(Debug, Args)]
pub(crate) struct LogUrlArgs {
    /// URL of the log.
    #[arg(long, default_value = DEFAULT_LOG_URL, env = "CAIRN_LOG_URL")]
    pub(crate) log: String,
}

#[derive(Debug, Args)]
pub(crate) struct LogAddArgs {
    /// An in-toto statement (signed with --key) or a DSSE envelope (JSON).
    pub(crate) file: PathBuf,
    /// URL of the log.
    #[arg(long, default_value = DEFAULT_LOG_URL, env = "CAIRN_LOG_URL")]
    pub(crate) log: String,
    /// Attestation key file. Default: $CAIRN_ATTEST_KEY or <data-dir>/keys/attest.key
    #[arg(long)]
    pub(crate) key: Option<PathBuf>,
    /// Where to write the bundle. Default: <file stem>.bundle.json beside the input.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct LogAnchorArgs {
    /// URL of the log.
    #[arg(long, default_value = DEFAULT_LOG_URL, env = "CAIRN_LOG_URL")]
    pub(crate) log: String,
    /// The log's verifier key to check the checkpoint with. Default: the key the log reports.
    #[arg(long)]
    pub(crate) log_key: Option<String>,
    #[command(flatten)]
    pub(crate) chain: AnchorArgs,
}

/// Where anchors go: a chain (default: the local devnet) and the contract.
#[derive(Debug, Args)]
pub(crate) struct AnchorArgs {
    #[command(flatten)]
    pub(crate) chain: ChainArgs,
    /// ProvenanceAnchor address. Default: from the deployment manifest.
    #[arg(long, env = "CAIRN_ANCHOR_CONTRACT")]
    pub(crate) anchor_contract: Option<alloy::primitives::Address>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum WitnessCmd {
    /// Serve the tlog-witness add-checkpoint API.
    Serve(WitnessServeArgs),
    /// Print the witness's cosignature verifier key (creating the key if needed).
    Key(WitnessKeyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct WitnessServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:7301", env = "CAIRN_WITNESS_LISTEN")]
    pub(crate) listen: String,
    /// Witness directory (key and state). Default: <data-dir>/witness
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// The witness's name (its key name).
    #[arg(long, default_value = "cairn.local/witness")]
    pub(crate) name: String,
    /// Verifier key of a log to witness (repeatable).
    #[arg(long)]
    pub(crate) log_key: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct WitnessKeyArgs {
    /// Witness directory. Default: <data-dir>/witness
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// The witness's name.
    #[arg(long, default_value = "cairn.local/witness")]
    pub(crate) name: String,
}

/// `cairn up`: the whole local network.
#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Compute workers to start on this machine (one core each).
    #[arg(long, default_value_t = 2)]
    pub(crate) workers: u32,
    /// Memory each worker offers.
    #[arg(long, default_value = "1 GiB")]
    pub(crate) worker_memory: String,
    /// Where the log listens.
    #[arg(long, env = "CAIRN_LOG_LISTEN", default_value = "127.0.0.1:7300")]
    pub(crate) log_listen: String,
    /// Where the witness listens.
    #[arg(long, env = "CAIRN_WITNESS_LISTEN", default_value = "127.0.0.1:7301")]
    pub(crate) witness_listen: String,
    /// Where the compute node listens.
    #[arg(long, env = "CAIRN_NODE_LISTEN", default_value = "127.0.0.1:7400")]
    pub(crate) node_listen: String,
    /// Anchor the log's checkpoint on chain every this many seconds (0: never).
    #[arg(long, default_value_t = 60)]
    pub(crate) anchor_interval: u64,
    /// Start the network without registering the sample dataset and running the sample job.
    #[arg(long)]
    pub(crate) no_sample: bool,
    /// Leave the devnet running when the network stops.
    #[arg(long)]
    pub(crate) keep_devnet: bool,
    /// Start the network without the wallet agent (its vault, the market replay and
    /// `agent run --live`).
    #[arg(long)]
    pub(crate) no_agent: bool,
    /// How fast the market replay moves the devnet's pools and feeds along the candles in
    /// data/market (market time per wall time, as `cairn market replay --speed`).
    #[arg(long, default_value = "1d=5s", value_name = "MARKET=WALL")]
    pub(crate) agent_speed: String,
    /// Port of the agent's own devnet (data in <data-dir>/market): the market replay moves its
    /// clock a candle per step, which would expire the compute market's jobs on the main chain.
    #[arg(long, env = "CAIRN_AGENT_CHAIN_PORT", default_value_t = 8546)]
    pub(crate) agent_chain_port: u16,
    #[command(flatten)]
    pub(crate) devnet: DevnetArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCmd {
    /// Create a new Ed25519 attestation key (mode 0600; never printed).
    Generate {
        /// Where to write it. Default: <data-dir>/keys/attest.key
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the public half of the attestation key.
    Show {
        /// Key file. Default: $CAIRN_ATTEST_KEY or <data-dir>/keys/attest.key
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// A bundle (`*.bundle.json`) or an artifact file whose SHA-256 a statement names.
    pub(crate) target: PathBuf,
    /// Directories with the bundles of upstream statements. Default: the target's directory.
    #[arg(long)]
    pub(crate) bundles: Vec<PathBuf>,
    /// The log's verifier key. Default: the local log's key, else the key the --log reports.
    #[arg(long, env = "CAIRN_LOG_KEY")]
    pub(crate) log_key: Option<String>,
    /// A witness whose cosignature is required (repeatable).
    #[arg(long)]
    pub(crate) witness_key: Vec<String>,
    /// How many of the --witness-key witnesses must have cosigned. Default: all of them.
    #[arg(long)]
    pub(crate) quorum: Option<usize>,
    /// The log's URL (online checks only).
    #[arg(long, env = "CAIRN_LOG_URL")]
    pub(crate) log: Option<String>,
    /// Also check (online) that the checkpoint is consistent with the latest on-chain anchor.
    #[arg(long)]
    pub(crate) anchor: bool,
    /// A key trusted to sign statements: `KEY`, or `KIND[,KIND]=KEY` for some kinds only
    /// (dataset, model, training-run, inference, decision); hex or base64 (repeatable). Your
    /// own attestation key is always trusted.
    #[arg(long)]
    pub(crate) signer: Vec<String>,
    /// A trust file: TOML `[[signer]]` tables with `key`, optional `name` and `kinds`.
    #[arg(long, env = "CAIRN_TRUST_FILE")]
    pub(crate) trust: Option<PathBuf>,
    /// The receipt key job receipts must be signed with. Default: the one the ComputeMarket
    /// publishes on chain (`receiptKey`), read from --rpc-url or the running devnet.
    #[arg(long)]
    pub(crate) market_key: Option<String>,
    /// The ComputeMarket whose receipt key signs job receipts. Default: from the deployment
    /// manifest.
    #[arg(long, env = "CAIRN_MARKET_CONTRACT")]
    pub(crate) market_contract: Option<alloy::primitives::Address>,
    #[command(flatten)]
    pub(crate) chain: AnchorArgs,
}

#[derive(Debug, Args)]
pub(crate) struct LineageArgs {
    /// A digest: sha256:<hex> or blake3:<hex>.
    pub(crate) digest: String,
    /// URL of the log.
    #[arg(long, default_value = DEFAULT_LOG_URL, env = "CAIRN_LOG_URL")]
    pub(crate) log: String,
}

/// Options every `cairn attest` kind shares.
#[derive(Debug, Args)]
pub(crate) struct AttestCommon {
    /// Attestation key file. Default: $CAIRN_ATTEST_KEY or <data-dir>/keys/attest.key
    #[arg(long)]
    pub(crate) key: Option<PathBuf>,
    /// URL of the log to append the statement to.
    #[arg(long, default_value = DEFAULT_LOG_URL, env = "CAIRN_LOG_URL")]
    pub(crate) log: String,
    /// Where to write the bundle (or, with --no-log, the envelope).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Only sign: write the DSSE envelope instead of logging it.
    #[arg(long)]
    pub(crate) no_log: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AttestKind {
    /// A dataset was registered (hashes the directory; the manifest is the subject).
    Dataset {
        /// The dataset directory or file.
        dir: PathBuf,
        /// Dataset name.
        #[arg(long)]
        name: String,
        /// License (SPDX id or text).
        #[arg(long)]
        license: Option<String>,
        /// Where the data came from.
        #[arg(long)]
        source: Option<String>,
        #[command(flatten)]
        common: AttestCommon,
    },
    /// A model was produced by a training run.
    Model {
        /// The model file (the subject).
        file: PathBuf,
        /// The training run: its bundle file or envelope digest.
        #[arg(long)]
        run: String,
        /// Model format (safetensors, gguf, onnx...).
        #[arg(long)]
        format: String,
        /// Number of parameters.
        #[arg(long)]
        parameters: Option<u64>,
        #[command(flatten)]
        common: AttestCommon,
    },
    /// A training run happened.
    Run {
        /// The run's record (a file: log, config, trace): the subject.
        #[arg(long)]
        subject: PathBuf,
        /// Compute job id.
        #[arg(long)]
        job_id: String,
        /// Dataset root (blake3:<hex>) or dataset bundle (repeatable).
        #[arg(long, required = true)]
        dataset: Vec<String>,
        /// Training code: a file or a digest.
        #[arg(long)]
        code: String,
        /// Provider that ran it (repeatable).
        #[arg(long, required = true)]
        provider: Vec<String>,
        /// Hyper-parameter KEY=VALUE (repeatable).
        #[arg(long)]
        hyper: Vec<String>,
        /// Root of the step trace (a digest or file).
        #[arg(long)]
        step_trace_root: Option<String>,
        /// Verification outcome: verified, failed or unverified.
        #[arg(long, default_value = "unverified")]
        verification: String,
        #[command(flatten)]
        common: AttestCommon,
    },
    /// An inference was served.
    Inference {
        /// The model: file, digest or model bundle.
        #[arg(long)]
        model: String,
        /// The input: file or digest.
        #[arg(long)]
        input: String,
        /// The output file (the subject).
        #[arg(long)]
        output: PathBuf,
        /// Provider that served it.
        #[arg(long)]
        provider: Option<String>,
        /// Compute job id.
        #[arg(long)]
        job_id: Option<String>,
        #[command(flatten)]
        common: AttestCommon,
    },
    /// The wallet agent decided something.
    Decision {
        /// The decision record (the subject).
        #[arg(long)]
        subject: PathBuf,
        /// The plan: file or digest.
        #[arg(long)]
        plan: String,
        /// The market snapshot the decision saw: file or digest.
        #[arg(long)]
        inputs: String,
        /// buy, sell, skip, pause or resume.
        #[arg(long)]
        kind: String,
        /// ASSET=BASE_UNITS (repeatable).
        #[arg(long)]
        amount: Vec<String>,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Risk metric NAME=NUMBER (repeatable).
        #[arg(long)]
        risk: Vec<String>,
        #[command(flatten)]
        common: AttestCommon,
    },
}

impl AttestKind {
    pub(crate) fn common(&self) -> &AttestCommon {
        match self {
            Self::Dataset { common, .. }
            | Self::Model { common, .. }
            | Self::Run { common, .. }
            | Self::Inference { common, .. }
            | Self::Decision { common, .. } => common,
        }
    }

    /// File stem for default output names.
    pub(crate) fn default_stem(&self) -> String {
        match self {
            Self::Dataset { name, .. } => format!("dataset-{name}"),
            Self::Model { file, .. } => format!("model-{}", stem(file)),
            Self::Run { job_id, .. } => format!("run-{job_id}"),
            Self::Inference { output, .. } => format!("inference-{}", stem(output)),
            Self::Decision { subject, .. } => format!("decision-{}", stem(subject)),
        }
    }
}

fn stem(p: &std::path::Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "x".into())
}

#[derive(Debug, Subcommand)]
pub(crate) enum DataCmd {
    /// Content-address a directory or file; print its root and write its manifest.
    Add {
        /// Directory or file.
        path: PathBuf,
        /// Where to write the manifest. Default: <data-dir>/datasets/<root>.json
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Hash even files the cache says are unchanged.
        #[arg(long)]
        no_cache: bool,
        /// Also record each file's SHA-256 in the manifest (for checking single files with other
        /// tools; slower: SHA-256 is the costliest stage).
        #[arg(long)]
        sha256: bool,
    },
    /// Check a directory against a root (or a manifest, for exact per-file differences).
    Verify {
        /// Directory or file.
        path: PathBuf,
        /// Expected root (blake3:<hex>); its manifest is looked up under <data-dir>/datasets.
        #[arg(long)]
        root: Option<String>,
        /// Expected manifest file.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// Emit a proof that one file belongs to the dataset (checkable without the rest).
    Prove {
        /// The dataset directory.
        dir: PathBuf,
        /// The file inside it.
        file: PathBuf,
        /// Where to write the proof. Default: stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a file proof against a file and a root.
    CheckProof {
        /// The proof (JSON).
        proof: PathBuf,
        /// The file.
        file: PathBuf,
        /// The dataset root it must lead to.
        #[arg(long)]
        root: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCmd {
    /// Replay a plan over historical candles with a DEX cost model; report metrics, JSON and
    /// charts, or sweep a parameter grid (--sweep) or walk it forward (--walk-forward N).
    Backtest(BacktestArgs),
    /// The AgentVault: the owner's stablecoin, spent by the agent key only within an on-chain
    /// policy (allow-listed router and paths, budget per period, oracle-bounded slippage).
    #[command(subcommand)]
    Vault(VaultCmd),
    /// Run a plan on live prices (pool reserves and oracles): --paper fills from the reserves,
    /// --live buys through the vault with the agent key. One decision per schedule slot on
    /// chain time; slots are kept in SQLite and never bought twice.
    Run(AgentRunArgs),
    /// Holdings, average cost, next buy, and the last decisions with why.
    Status(AgentStatusArgs),
    /// Serve the agent over the Model Context Protocol (stdio, or streamable HTTP with
    /// --http): read tools (prices, risk_metrics, portfolio, backtest) and write tools
    /// (propose_plan, execute_next_buy, pause) whose arguments the plan and the vault bound.
    Mcp(AgentMcpArgs),
    /// Lift an agent-side pause (the MCP `pause` tool without the owner key).
    Resume(AgentResumeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AgentResumeArgs {
    /// The plan (TOML) whose agent to resume.
    pub(crate) plan: PathBuf,
    #[command(flatten)]
    pub(crate) mode: AgentModeArgs,
}

/// Which agent state: paper, or live for a vault.
#[derive(Debug, Args)]
pub(crate) struct AgentModeArgs {
    /// Simulated fills from the pools' reserves; nothing is sent.
    #[arg(long, conflicts_with = "live")]
    pub(crate) paper: bool,
    /// Buy through the vault with --agent-key.
    #[arg(long)]
    pub(crate) live: bool,
    /// The agent's state database. Default: <data-dir>/agent/<plan file stem>-paper.sqlite or
    /// -live-<vault>.sqlite.
    #[arg(long, value_name = "FILE")]
    pub(crate) state: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) target: VaultTarget,
}

/// What an agent needs to act: the plan, paper or live, the agent key, where decisions go.
#[derive(Debug, Args)]
pub(crate) struct AgentSetupArgs {
    /// The plan (TOML).
    pub(crate) plan: PathBuf,
    #[command(flatten)]
    pub(crate) mode: AgentModeArgs,
    /// File holding the agent's hex private key (live).
    #[arg(long, value_name = "FILE")]
    pub(crate) agent_key: Option<PathBuf>,
    /// Transparency log for the signed decision statements. Default: the local log
    /// (http://127.0.0.1:7300) when it answers; otherwise decisions stay in the state database.
    #[arg(long, value_name = "URL", env = "CAIRN_LOG_URL")]
    pub(crate) log: Option<String>,
    /// Do not send decision statements to any log (overrides --log and CAIRN_LOG_URL).
    #[arg(long)]
    pub(crate) no_log: bool,
    /// The attestation key that signs decisions. Default: <data-dir>/keys/attest.key or
    /// CAIRN_ATTEST_KEY.
    #[arg(long, value_name = "FILE")]
    pub(crate) attest_key: Option<PathBuf>,
    /// Longest accepted age of a feed answer (seconds, or 1h, 1d).
    #[arg(long, default_value = "1h")]
    pub(crate) heartbeat: String,
    /// Give up after the chain has been unreachable this long (seconds, or 10m, 1h).
    #[arg(long, default_value = "10m")]
    pub(crate) max_outage: String,
    /// Where buys go: `best` (the route whose pool pays the most for each order), `uniswap-v2`
    /// or `pancake` (the vault must allow-list its router). Default: the plan's
    /// `execution.venue`, else `best`.
    #[arg(long, value_name = "ROUTE")]
    pub(crate) venue: Option<String>,
    /// A volatility model (a `train` job's safetensors, `market` reader) whose forecast the
    /// risk rules read instead of the realised volatility: a file, or `sha256:<hex>` fetched
    /// from the compute node's content store (--node). Each decision names its digest.
    #[arg(long, value_name = "FILE|DIGEST")]
    pub(crate) vol_model: Option<String>,
    /// The length of the bars the volatility model was trained on (1d, 4h, …): the plan's
    /// slots must be as long.
    #[arg(long, value_name = "DURATION", default_value = "1d")]
    pub(crate) vol_model_bars: String,
    /// The compute node a `--vol-model` digest is fetched from.
    #[arg(long, value_name = "URL", default_value = DEFAULT_NODE_URL, env = "CAIRN_NODE_URL")]
    pub(crate) node: String,
}

#[derive(Debug, Args)]
pub(crate) struct AgentRunArgs {
    #[command(flatten)]
    pub(crate) setup: AgentSetupArgs,
    /// Stop after N slots are completed (default: run until interrupted).
    #[arg(long, value_name = "N")]
    pub(crate) slots: Option<u64>,
    /// Milliseconds between looks at the chain clock.
    #[arg(long, default_value_t = 250)]
    pub(crate) poll_ms: u64,
}

#[derive(Debug, Args)]
pub(crate) struct AgentMcpArgs {
    #[command(flatten)]
    pub(crate) setup: AgentSetupArgs,
    /// File holding the vault owner's hex private key: the `pause` tool then pauses the vault on
    /// chain. Without it, `pause` pauses the agent (its state).
    #[arg(long, value_name = "FILE")]
    pub(crate) owner_key: Option<PathBuf>,
    /// Candle files for the `backtest` tool (<SYMBOL><QUOTE>_*.csv).
    #[arg(long, value_name = "DIR", default_value = "data/market")]
    pub(crate) market_dir: PathBuf,
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio (loopback hosts only).
    #[arg(long, value_name = "ADDR")]
    pub(crate) http: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct AgentStatusArgs {
    /// The plan (TOML) whose state to show.
    pub(crate) plan: PathBuf,
    #[command(flatten)]
    pub(crate) mode: AgentModeArgs,
    /// How many of the last decisions to show.
    #[arg(long, default_value_t = 10)]
    pub(crate) last: usize,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MarketCmd {
    /// Move the devnet's pools (arbitrage swaps by the faucet account) and its feeds
    /// (updateAnswer) along real candles, advancing chain time one candle per step.
    Replay(ReplayArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ReplayArgs {
    /// OHLCV CSV files, one per asset: PATH (symbol from the file name, BTCUSDT_1d.csv -> BTC)
    /// or SYMBOL=PATH.
    #[arg(long, required = true, num_args = 1.., value_name = "CSV")]
    pub(crate) data: Vec<String>,
    /// First candle (YYYY-MM-DD).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Last candle (YYYY-MM-DD).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// At most this many candles.
    #[arg(long, value_name = "N")]
    pub(crate) steps: Option<usize>,
    /// Market time per wall time: `1d=2s` replays a day of candles every two seconds.
    #[arg(long, default_value = "1d=2s")]
    pub(crate) speed: String,
    /// Leave a pool alone when it is within this many basis points of the candle.
    #[arg(long, default_value_t = 1)]
    pub(crate) tolerance_bps: u32,
}

#[derive(Debug, Subcommand)]
pub(crate) enum VaultCmd {
    /// Deploy a vault owned by --owner-key for the agent key, and allow-list the routers, the
    /// stablecoin → asset paths and their price feeds (on the devnet: Router02 and the Pancake
    /// router, USDT → WBTC and
    /// USDT → WBNB, the BTC/USD and BNB/USD feeds). On the devnet, missing key files are
    /// created and funded with gas.
    Deploy(VaultDeployArgs),
    /// Move stablecoin from the owner's wallet into the vault (approving exactly that amount).
    Deposit(VaultAmountArgs),
    /// Send tokens from the vault to the owner (or --to). Works while paused.
    Withdraw(VaultWithdrawArgs),
    /// Stop the agent's buys.
    Pause(VaultOwnerArgs),
    /// Let the agent buy again.
    Unpause(VaultOwnerArgs),
    /// Replace the agent key (the old one stops working at once).
    RotateKey(VaultRotateArgs),
    /// Balances, budget left this period, paused, agent, routers, paths and feeds.
    Status(VaultTarget),
}

/// Which vault, on which chain.
#[derive(Debug, Args)]
pub(crate) struct VaultTarget {
    /// The vault. Default: the one `cairn agent vault deploy` recorded for this chain
    /// (<data-dir>/agent-vault-<chain id>.json).
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) vault: Option<String>,
    /// JSON-RPC URL of the chain. Default: the running devnet.
    #[arg(long, env = "CAIRN_RPC_URL")]
    pub(crate) rpc_url: Option<String>,
    /// Chain id the RPC must report.
    #[arg(long, env = "CAIRN_CHAIN_ID")]
    pub(crate) chain_id: Option<u64>,
    /// Seconds to wait for each RPC answer.
    #[arg(long, env = "CAIRN_RPC_TIMEOUT")]
    pub(crate) timeout: Option<u64>,
}

/// A vault command the owner signs.
#[derive(Debug, Args)]
pub(crate) struct VaultOwnerArgs {
    #[command(flatten)]
    pub(crate) target: VaultTarget,
    /// File holding the owner's hex private key.
    #[arg(long, value_name = "FILE")]
    pub(crate) owner_key: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct VaultDeployArgs {
    #[command(flatten)]
    pub(crate) target: VaultTarget,
    /// A chain profile (`cairn chain profiles`: bnb, base, or one in cairn.toml): its
    /// stablecoin, routers, assets and feeds (with their heartbeats) are the defaults, and the
    /// RPC must answer its chain id.
    #[arg(long, value_name = "NAME")]
    pub(crate) chain: Option<String>,
    /// File holding the owner's hex private key (it pays for the deployment and owns the vault).
    #[arg(long, value_name = "FILE")]
    pub(crate) owner_key: PathBuf,
    /// File holding the agent's hex private key (only its address is used here).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "agent",
        required_unless_present = "agent"
    )]
    pub(crate) agent_key: Option<PathBuf>,
    /// The agent's address, instead of its key file.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) agent: Option<String>,
    /// Most stablecoin the agent may spend per period, in whole units (e.g. 1000 or 250.5).
    #[arg(long, value_name = "AMOUNT")]
    pub(crate) budget: String,
    /// Length of a budget period: seconds, or a number with s, m, h, d or w (1d).
    #[arg(long, default_value = "1d", value_name = "DURATION")]
    pub(crate) period: String,
    /// Slippage cap under the oracle price, in basis points (100 = 1%; at most 5000).
    #[arg(long, default_value_t = 100, value_name = "BPS")]
    pub(crate) slippage_bps: u16,
    /// Longest accepted age of a feed's answer: seconds, or a number with s, m, h, d or w.
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub(crate) heartbeat: String,
    /// The stablecoin: a symbol from the deployment manifest or an address.
    #[arg(long, default_value = "USDT", value_name = "TOKEN")]
    pub(crate) stable: String,
    /// A router to allow (repeatable). Default: the manifest's routers (Uniswap V2 Router02,
    /// and the Pancake router on the devnet).
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) router: Vec<String>,
    /// An asset to buy with its price feed, ASSET=FEED (symbols or addresses; repeatable).
    /// Default: every feed in the deployment manifest (WBTC and WBNB on the devnet).
    #[arg(long, value_name = "ASSET=FEED")]
    pub(crate) feed: Vec<String>,
    /// A path to allow, tokens separated by commas: stablecoin,asset or stablecoin,hop,asset
    /// (repeatable). Default: stablecoin,asset for every feed.
    #[arg(long, value_name = "TOKENS")]
    pub(crate) path: Vec<String>,
    /// --budget is in base units (an integer), not whole tokens.
    #[arg(long)]
    pub(crate) base_units: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VaultAmountArgs {
    /// The amount in whole tokens (e.g. 1000 or 0.5), or base units with --base-units.
    pub(crate) amount: String,
    #[command(flatten)]
    pub(crate) owner: VaultOwnerArgs,
    /// The amount is in base units (an integer), not whole tokens.
    #[arg(long)]
    pub(crate) base_units: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VaultWithdrawArgs {
    /// The amount in whole tokens, base units with --base-units, or `all`.
    pub(crate) amount: String,
    #[command(flatten)]
    pub(crate) owner: VaultOwnerArgs,
    /// The token: a symbol from the deployment manifest or an address. Default: the stablecoin.
    #[arg(long, value_name = "TOKEN")]
    pub(crate) token: Option<String>,
    /// Who receives it. Default: the owner.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) to: Option<String>,
    /// The amount is in base units (an integer), not whole tokens.
    #[arg(long)]
    pub(crate) base_units: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VaultRotateArgs {
    #[command(flatten)]
    pub(crate) owner: VaultOwnerArgs,
    /// File holding the new agent's hex private key (only its address is used; on the devnet a
    /// missing file is created).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "agent",
        required_unless_present = "agent"
    )]
    pub(crate) agent_key: Option<PathBuf>,
    /// The new agent's address, instead of its key file.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) agent: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct BacktestArgs {
    /// The plan (TOML), e.g. examples/plans/risk-gated-btc60-bnb40.toml.
    pub(crate) plan: PathBuf,
    /// OHLCV CSV files, one per asset: PATH (symbol from a ticker column or the file name,
    /// BTCUSDT_1d.csv -> BTC) or SYMBOL=PATH.
    #[arg(long, required = true, num_args = 1.., value_name = "CSV")]
    pub(crate) data: Vec<String>,
    /// Reject files with gaps (missing bars), inconsistent OHLC rows or outliers instead of
    /// warning about them (gaps are then intervals without trading).
    #[arg(long)]
    pub(crate) strict: bool,
    /// Use each file as the symbol given (SYMBOL=PATH) or named by its file name even when its
    /// ticker column names another instrument (by default such a file is refused).
    #[arg(long)]
    pub(crate) ignore_ticker: bool,
    /// First date to simulate (YYYY-MM-DD, or YYYY-MM-DD HH:MM).
    #[arg(long)]
    pub(crate) from: Option<String>,
    /// Last date to simulate, inclusive: YYYY-MM-DD includes that whole day, also on intraday
    /// data (or YYYY-MM-DD HH:MM, that bar).
    #[arg(long)]
    pub(crate) to: Option<String>,
    /// Directory for the charts (SVG and PNG). Default: <data-dir>/backtests/<plan name>.
    #[arg(long, value_name = "DIR")]
    pub(crate) charts: Option<PathBuf>,
    /// Do not write charts.
    #[arg(long)]
    pub(crate) no_charts: bool,
    /// Run the plan's [sweep.grid] (or a default grid) in parallel and rank the results.
    #[arg(long)]
    pub(crate) sweep: bool,
    /// Walk-forward validation with N folds: sweep on each window, test the best on the next.
    #[arg(long, value_name = "N")]
    pub(crate) walk_forward: Option<usize>,
    /// Metric to rank by: sharpe, sortino, calmar, pnl, cagr, max_drawdown, ulcer.
    #[arg(long, default_value = "sharpe")]
    pub(crate) rank_by: String,
    /// Rows of the ranking to show (0: all).
    #[arg(long, default_value_t = 10)]
    pub(crate) top: usize,
    /// Worker threads for sweeps (default: one per core).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// No progress bar on stderr.
    #[arg(long)]
    pub(crate) no_progress: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCmd {
    /// Sweep the risk-gated plan over the daily and 4-hour candles; report bar x configuration
    /// steps per second.
    Backtest(BenchBacktestArgs),
    /// Durable appends/s, add → integrated latency, inclusion-proof verifications/s, and (with
    /// --http) end-to-end HTTP adds/s of the transparency log.
    Log(BenchLogArgs),
    /// Dataset hashing throughput (MB/s, per core) on a directory, beside BLAKE3-only hashing of
    /// the same files (the ceiling).
    Data(BenchDataArgs),
    /// Deduplication after edits: the share of chunks the v2 chunker and FastCDC v2020 reuse.
    Dedup(BenchDedupArgs),
    /// Compute node: submit→running latency over N jobs on a devnet with 1 s blocks, and
    /// matching + settlement bookkeeping throughput (jobs/s, chain batched).
    Compute(BenchComputeArgs),
    /// Gas of one AgentVault buy against the same swap sent straight to Router02, on a scratch
    /// devnet.
    Vault(BenchVaultArgs),
    /// How fast the live agent acts: decision → broadcast of each buy, and blocks until mined,
    /// on a scratch devnet.
    Agent(BenchAgentArgs),
    /// A numeric kernel in the wasm sandbox against the same C built natively (`make jobs`).
    Wasm(BenchWasmArgs),
    /// Training steps/s of the reproducible trainer (1 and 2 threads) against plain candle on
    /// the same MLP, and inference samples/s, on the BTC and BNB daily candles.
    Train(BenchTrainArgs),
    /// Verification overhead (all compute ÷ useful compute), cheats caught and missed, and
    /// honest providers slashed, on a simulated workload run through the node's verification
    /// policy (a model: no chain, no jobs are run).
    Verify(BenchVerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct BenchVerifyArgs {
    /// Jobs in the workload.
    #[arg(long, default_value_t = cairn_compute::verify::sim::DEFAULT_JOBS)]
    pub(crate) jobs: u64,
    /// Providers (default: one per 10 jobs, at least 20).
    #[arg(long)]
    pub(crate) providers: Option<u64>,
    /// Share of providers with no history (always checked at first).
    #[arg(long, default_value_t = cairn_compute::verify::sim::DEFAULT_NEW_SHARE)]
    pub(crate) new_share: f64,
    /// Share of providers that cheat.
    #[arg(long, default_value_t = cairn_compute::verify::sim::DEFAULT_CHEATER_SHARE)]
    pub(crate) cheater_share: f64,
    /// Share of a cheater's jobs it cheats on.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) cheat_rate: f64,
    /// Share of jobs that are `wasm` (replicated when checked; the rest are `train`, audited).
    #[arg(long, default_value_t = cairn_compute::verify::sim::DEFAULT_WASM_SHARE)]
    pub(crate) wasm_share: f64,
    /// Segments a sampled step audit re-executes (k).
    #[arg(long, short = 'k', default_value_t = cairn_compute::verify::DEFAULT_SAMPLES)]
    pub(crate) samples: u32,
    /// Floor of the check probability (1: check every result).
    #[arg(long, default_value_t = cairn_compute::verify::DEFAULT_P_MIN)]
    pub(crate) check_floor: f64,
    /// Results always checked after a provider's start or its last invalid result.
    #[arg(long, default_value_t = cairn_compute::verify::DEFAULT_PROBATION)]
    pub(crate) check_probation: u64,
    /// A slash, in payments of a job of mean length.
    #[arg(long, default_value_t = cairn_compute::verify::sim::DEFAULT_SLASH_PAYMENTS)]
    pub(crate) slash: f64,
    /// Seed of the workload and of every decision.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Workloads to run, with seeds seed, seed+1, ...; the report gives each and their range.
    #[arg(long, default_value_t = 1)]
    pub(crate) runs: u32,
}

#[derive(Debug, Args)]
pub(crate) struct BenchTrainArgs {
    /// Training steps per measurement.
    #[arg(long, default_value_t = 500)]
    pub(crate) steps: u64,
    /// Inference passes over the dataset per measurement.
    #[arg(long, default_value_t = 20)]
    pub(crate) passes: usize,
    /// Units per hidden layer of the MLP (2 hidden layers).
    #[arg(long, default_value_t = 64)]
    pub(crate) hidden: u32,
    /// Directory with BTCUSDT_1d.csv and BNBUSDT_1d.csv.
    #[arg(long, default_value = "data/market")]
    pub(crate) data: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct BenchAgentArgs {
    /// The plan the agent runs (its assets' daily candles are replayed).
    #[arg(long, default_value = "examples/plans/daily-btc60-bnb40.toml")]
    pub(crate) plan: PathBuf,
    /// Slots (days of candles) to run.
    #[arg(long, default_value_t = 5)]
    pub(crate) slots: u64,
    /// Wall time per candle (seconds, or 3s).
    #[arg(long, default_value = "3s")]
    pub(crate) step: String,
    /// Directory with <SYMBOL>USDT_1d.csv for the plan's assets.
    #[arg(long, default_value = "data/market")]
    pub(crate) data: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct BenchVaultArgs {
    /// USDT per swap, in whole units.
    #[arg(long, default_value = "100")]
    pub(crate) amount: String,
    /// The asset bought: WBTC or WBNB.
    #[arg(long, default_value = "WBTC")]
    pub(crate) asset: String,
    /// The venue: uniswap-v2 (Router02) or pancake (PancakeSwap's pairs and the router built
    /// for them).
    #[arg(long, default_value = "uniswap-v2")]
    pub(crate) venue: String,
    /// Swaps per side (the first warms the recipient's balance; the median of the rest is
    /// reported).
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: u32,
}

#[derive(Debug, Args)]
pub(crate) struct BenchWasmArgs {
    /// Kernels to run: matmul (f64, pays NaN canonicalization), qgemm (int8 → int32), or all.
    #[arg(long, default_value = "all")]
    pub(crate) kernel: String,
    /// Matrix size.
    #[arg(long, default_value_t = 512)]
    pub(crate) n: u32,
    /// Multiplications per run.
    #[arg(long, default_value_t = 2)]
    pub(crate) reps: u32,
    /// Runs per side (the best is reported).
    #[arg(long, default_value_t = 5)]
    pub(crate) runs: u32,
    /// Directory with the built jobs. Default: target/jobs
    #[arg(long, default_value = "target/jobs")]
    pub(crate) jobs: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct BenchLogArgs {
    /// Entries to append in the throughput run.
    #[arg(long, default_value_t = 200_000)]
    pub(crate) entries: u64,
    /// Concurrent submitters.
    #[arg(long, default_value_t = 512)]
    pub(crate) submitters: u64,
    /// Scratch directory on the disk to measure. Default: a temporary directory under <data-dir>.
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Also measure end-to-end HTTP adds against a log served in process (this many entries).
    #[arg(long)]
    pub(crate) http: Option<u64>,
    /// Also measure witness-gated publishing under HTTP load (this many entries): the share of
    /// bundles carrying the witness cosignature and the age of the served checkpoint.
    #[arg(long)]
    pub(crate) witnessed: Option<u64>,
    /// Also measure restart time of a log holding this many entries (built first).
    #[arg(long)]
    pub(crate) restart: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct BenchDataArgs {
    /// The directory to hash.
    pub(crate) path: PathBuf,
    /// Runs of each side, alternating (median and best are reported; the page cache is warmed
    /// first).
    #[arg(long, default_value_t = 3)]
    pub(crate) runs: u32,
    /// Worker threads. Default: one per core.
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Dataset format to hash in: 2 (default) or 1 (FastCDC + SHA-256 per file).
    #[arg(long, default_value_t = 2)]
    pub(crate) format: u32,
    /// Also compute SHA-256 of every file (as `data add --sha256`).
    #[arg(long)]
    pub(crate) sha256: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BenchDedupArgs {
    /// Size of each generated file, in MiB.
    #[arg(long, default_value_t = 64)]
    pub(crate) mib: usize,
    /// Random edits (insertions, deletions, moved blocks) to apply to each file.
    #[arg(long, default_value_t = 150)]
    pub(crate) edits: u32,
    /// Files per kind of data, each with its own content and edits (seeds SEED, SEED+1, ...).
    #[arg(long, default_value_t = 6)]
    pub(crate) files: u32,
    /// Seed of the first file's data and edit script.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
}

#[derive(Debug, Args)]
pub(crate) struct BenchBacktestArgs {
    /// Directory with <SYMBOL>USDT_1d.csv and <SYMBOL>USDT_4h.csv. Default:
    /// ../shared/data/market when it has 4-hour files, else data/market.
    #[arg(long, value_name = "DIR")]
    pub(crate) market: Option<PathBuf>,
    /// Plan to sweep (default: the built-in risk-gated BTC 60 / BNB 40 plan).
    #[arg(long)]
    pub(crate) plan: Option<PathBuf>,
    /// Repetitions per dataset.
    #[arg(long, default_value_t = 3)]
    pub(crate) repeat: usize,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// No progress bar on stderr.
    #[arg(long)]
    pub(crate) no_progress: bool,
}

/// Default URL of `cairn node serve`.
pub(crate) const DEFAULT_NODE_URL: &str = "http://127.0.0.1:7400";

#[derive(Debug, Subcommand)]
pub(crate) enum NodeCmd {
    /// Serve the compute node's HTTP API; prints {"listening": URL, ...} first with --json.
    Serve(NodeServeArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NodeServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = cairn_node::DEFAULT_LISTEN, env = "CAIRN_NODE_LISTEN")]
    pub(crate) listen: String,
    /// Node directory (database, blobs, receipt key). Default: <data-dir>/node
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Transparency log that receives the job receipts. Default: the local log
    /// (http://127.0.0.1:7300) when it answers; receipts are off otherwise.
    #[arg(long, env = "CAIRN_LOG_URL")]
    pub(crate) log: Option<String>,
    /// Milliseconds between worker heartbeats.
    #[arg(long, default_value_t = 1000)]
    pub(crate) heartbeat_ms: u64,
    /// A provider silent this many milliseconds loses its jobs to others.
    #[arg(long, default_value_t = 3000)]
    pub(crate) lease_ms: u64,
    /// Segments of each `train` result's checkpoint trace the node re-executes before the job
    /// settles (the last one, plus ones drawn from a seed the provider cannot know when it
    /// commits); a mismatch disputes the result: challenge, refund, slash. 0: no audits.
    #[arg(long, default_value_t = cairn_node::DEFAULT_AUDIT_SAMPLES)]
    pub(crate) audit_samples: u32,
    /// Floor of the probability that a `train` or `wasm` result of a provider with a long
    /// valid streak n is checked (a `train` result audited, a `wasm` one replicated): after
    /// probation each result is checked with probability max(floor, 1/n), decided from the
    /// node's signature over the commitment (1: check every result).
    #[arg(long, default_value_t = cairn_compute::verify::DEFAULT_P_MIN)]
    pub(crate) check_floor: f64,
    /// Results of a provider always checked after its start or its last invalid result.
    #[arg(long, default_value_t = cairn_compute::verify::DEFAULT_PROBATION)]
    pub(crate) check_probation: u64,
    /// Do not replicate `wasm` results. By default a `wasm` result the policy checks (same
    /// probability as an audit) is run again on another provider, escrowed by the operator
    /// from its own funds, and settles only if the results agree.
    #[arg(long)]
    pub(crate) no_replication: bool,

    /// Sustained signed writes a second allowed per client address and per signing key
    /// (bursts of 5x; over it: 429 with Retry-After); 0 lifts the limit.
    #[arg(long, env = "CAIRN_NODE_WRITES_PER_SEC", default_value_t = cairn_node::DEFAULT_WRITES_PER_SEC_PER_ADDRESS)]
    pub(crate) writes_per_sec: f64,
    /// A job still running this many milliseconds past its wall-time cap, without a result,
    /// is taken from its provider (which loses reputation) and given to another.
    #[arg(long, default_value_t = 60_000)]
    pub(crate) overrun_grace_ms: u64,
    /// Take providers' claimed cores and GPUs as they are, without calibration (a closed pool
    /// of machines the operator runs; an open market must not).
    #[arg(long)]
    pub(crate) trust_claims: bool,
    /// A wallet agent's state database (`cairn agent run`'s SQLite, read only): served at
    /// GET /agent and GET /agent/decisions, and drawn by the dashboard.
    #[arg(long, value_name = "FILE", env = "CAIRN_AGENT_STATE")]
    pub(crate) agent_state: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) market: MarketArgs,
}

/// Which chain, key and ComputeMarket (default: the local devnet and its manifest).
#[derive(Debug, Args)]
pub(crate) struct MarketArgs {
    #[command(flatten)]
    pub(crate) chain: ChainArgs,
    /// ComputeMarket address. Default: from the deployment manifest.
    #[arg(long, env = "CAIRN_MARKET_CONTRACT")]
    pub(crate) market_contract: Option<alloy::primitives::Address>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct WorkerArgs {
    #[command(subcommand)]
    pub(crate) command: Option<WorkerCmd>,
    #[command(flatten)]
    pub(crate) run: WorkerRunArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProviderCmd {
    /// Every provider the node knows, with capacity, free resources, asks and reputation.
    List {
        #[command(flatten)]
        node: NodeUrlArgs,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum WorkerCmd {
    /// Stake, advertise, heartbeat and run jobs until stopped (the default).
    Run(WorkerRunArgs),
    /// The worker's jobs and earnings (local state, refreshed from the node), and on chain its
    /// balances and stake.
    Status(WorkerStatusArgs),
    /// Start unbonding stake (it stays slashable until withdrawn after the unbonding delay).
    Unstake {
        /// USDT base units to unbond (`all`: everything bonded).
        amount: String,
        #[command(flatten)]
        who: WorkerStatusArgs,
    },
    /// Withdraw stake whose unbonding delay has passed.
    Withdraw {
        #[command(flatten)]
        who: WorkerStatusArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct WorkerRunArgs {
    /// URL of the node.
    #[arg(long, default_value = DEFAULT_NODE_URL, env = "CAIRN_NODE_URL")]
    pub(crate) node: String,
    /// File with the provider's hex private key (created on the devnet when missing).
    #[arg(long, env = "CAIRN_WORKER_KEY")]
    pub(crate) key: Option<PathBuf>,
    /// CPU cores to offer (at most the detected ones).
    #[arg(long)]
    pub(crate) cores: Option<u32>,
    /// Memory to offer, e.g. "4 GiB" (at most the detected MemTotal).
    #[arg(long)]
    pub(crate) memory: Option<String>,
    /// GPUs to offer (at most the ones NVML reports).
    #[arg(long)]
    pub(crate) gpus: Option<u32>,
    /// Ask: USDT base units per million fuel units.
    #[arg(long, default_value_t = 1)]
    pub(crate) ask_mfuel: u64,
    /// Ask: USDT base units per second of wall time.
    #[arg(long, default_value_t = 0)]
    pub(crate) ask_second: u64,
    /// Stake to bond, USDT base units. Default: the market's minimum.
    #[arg(long)]
    pub(crate) stake: Option<String>,
    /// JSON-RPC URL of the chain. Default: the one the node reports.
    #[arg(long, env = "CAIRN_RPC_URL")]
    pub(crate) rpc_url: Option<String>,
    /// Job kinds to run, comma-separated (wasm, train, infer). Default: all of them.
    #[arg(long, value_delimiter = ',')]
    pub(crate) kinds: Vec<cairn_compute::JobKind>,
}

#[derive(Debug, Args)]
pub(crate) struct WorkerStatusArgs {
    /// The provider's key file (to find its state). Default: the only worker under <data-dir>.
    #[arg(long, env = "CAIRN_WORKER_KEY")]
    pub(crate) key: Option<PathBuf>,
    /// JSON-RPC URL of the chain. Default: the one the node reports.
    #[arg(long, env = "CAIRN_RPC_URL")]
    pub(crate) rpc_url: Option<String>,
}

/// The node a job command talks to.
#[derive(Debug, Args)]
pub(crate) struct NodeUrlArgs {
    /// URL of the node.
    #[arg(long, default_value = DEFAULT_NODE_URL, env = "CAIRN_NODE_URL")]
    pub(crate) node: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobCmd {
    /// Upload the module and inputs to the node, escrow the payment on chain, submit; prints
    /// the job id.
    Submit {
        /// The job file (TOML).
        file: PathBuf,
        /// Escrow even when no provider online can take the job now (it waits in the queue
        /// until one can, or until its acceptance window ends and it is refunded).
        #[arg(long)]
        force: bool,
        /// Escrow a bid more than 10x the highest ask of the providers that could take it.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        node: NodeUrlArgs,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// Your jobs on the node, newest first (`--all`: everyone's).
    List {
        /// Every requester's jobs, not only yours.
        #[arg(long)]
        all: bool,
        /// Only jobs in this state (queued, assigned, running, committed, settled, failed,
        /// expired, cancelled).
        #[arg(long)]
        state: Option<String>,
        /// How many (1 to 500).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Jobs older than this id (the next page).
        #[arg(long)]
        before: Option<u64>,
        #[command(flatten)]
        node: NodeUrlArgs,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// The job's state, and why it is waiting, stuck or stopped.
    Status {
        /// Job id.
        id: u64,
        #[command(flatten)]
        node: NodeUrlArgs,
    },
    /// The job's history and the run's stdout and stderr.
    Logs {
        /// Job id.
        id: u64,
        #[command(flatten)]
        node: NodeUrlArgs,
    },
    /// Download the outputs and the receipt bundle (for `cairn verify`).
    Result {
        /// Job id.
        id: u64,
        /// Directory to write into. Default: ./job-<id>
        #[arg(long)]
        out: Option<PathBuf>,
        /// Wait until the job has ended (paid, with its receipt, or stopped), at most this
        /// many seconds (e.g. `--wait 300`).
        #[arg(long, value_name = "SECS")]
        wait: Option<u64>,
        #[command(flatten)]
        node: NodeUrlArgs,
    },
    /// Re-run the sampled step audit of a `train` job from its public artefacts (spec, the
    /// trace root committed on chain, checkpoints with inclusion proofs, dataset, model) and
    /// check its receipt's signer; prints what was checked. Exit 0: the result holds up; 1: it
    /// does not (the failure names the steps).
    Verify {
        /// Job id.
        id: u64,
        /// Segments to re-execute (default: as many as the node's audit, else 2).
        #[arg(long)]
        samples: Option<u32>,
        /// Sampling seed (default: the node's audit's, so the same audit is re-run; else random).
        #[arg(long)]
        seed: Option<u64>,
        /// Offline: the directory `cairn job result <id> --out DIR` wrote (job.json, spec.json,
        /// input/, output/, receipt.bundle.json) instead of the node; the chain commitment is
        /// then not checked.
        #[arg(long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        #[command(flatten)]
        node: NodeUrlArgs,
    },
    /// Re-execute every segment of your `train` job's result from its committed checkpoints
    /// and, where one gives another checkpoint, dispute it on chain by refereed bisection
    /// (bond from your account) and answer its rounds until it ends. Exit 0: nothing to
    /// dispute, or the provider was found wrong (refund, slash and bond to you); 1: the result
    /// stands; 3: still open when --wait ran out (run it again to keep answering).
    Dispute {
        /// Job id.
        id: u64,
        /// Seconds to stay and answer rounds (each round must be answered inside the market's
        /// dispute window).
        #[arg(long, default_value_t = 600)]
        wait: u64,
        /// Threads for the re-execution (the result is the same bytes on any count).
        #[arg(long, default_value_t = 1)]
        threads: usize,
        #[command(flatten)]
        node: NodeUrlArgs,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// Stop the job and refund the escrow (signed by the requester's key).
    Cancel {
        /// Job id.
        id: u64,
        #[command(flatten)]
        node: NodeUrlArgs,
        #[command(flatten)]
        chain: ChainArgs,
    },
    /// Take the escrow back on chain, without the node: cancels a job nobody was assigned, or
    /// refunds one whose deadline passed without a result (any job the node gave up on).
    Recover {
        /// Job id (on the ComputeMarket).
        id: u64,
        #[command(flatten)]
        market: MarketArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct BenchComputeArgs {
    /// Jobs in the submit→running latency run.
    #[arg(long, default_value_t = 100)]
    pub(crate) jobs: usize,
    /// Jobs in the bookkeeping throughput run.
    #[arg(long, default_value_t = 1000)]
    pub(crate) throughput_jobs: usize,
    /// Seconds between devnet blocks for the latency run.
    #[arg(long, default_value_t = 1)]
    pub(crate) block_time: u64,
    /// Scratch directory. Default: a temporary directory under <data-dir>.
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
}
