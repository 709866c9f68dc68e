//! Job specs in two shapes.
//!
//! ```text
//!  job.toml ──JobFile::from_toml──▶ JobFile (paths)  ──CLI reads + uploads──▶ JobFile::resolve
//!                                                                                  │
//!  node, worker, chain ◀──────────── JobSpec (content digests; its SHA-256 is escrowed) ◀──┘
//! ```
//!
//! A [`JobFile`] is what a requester writes: a module path, input files or a dataset directory,
//! resources, limits and a bid. Reading and uploading the files is the CLI's business (this
//! crate does no I/O); the result is a [`JobSpec`], which names every byte by SHA-256. The spec's
//! own SHA-256 ([`JobSpec::digest`]) is what the requester escrows payment against on chain, what
//! the worker runs, and what the receipt cites, so all three agree on exactly one job.
use crate::{
    ByteSize, Error, Price, Resources, Result,
    error::check_u64,
    resources::MAX_PRICE,
    tensor::{INFER_MODEL_INPUT, InferSpec, TrainSpec},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Default CPU cores a job asks for.
pub const DEFAULT_CPU_CORES: u32 = 1;
/// Default memory cap of a job (256 MiB).
pub const DEFAULT_MEMORY: ByteSize = ByteSize::mib(256);
/// Default fuel budget (10^9 units, roughly a second of wasm on a current core).
pub const DEFAULT_FUEL: u64 = 1_000_000_000;
/// Default wall-time cap in seconds.
pub const DEFAULT_WALL_TIME_SECS: u64 = 60;
/// Default cap on the bytes a job may write (stdout, stderr and /output together).
pub const DEFAULT_MAX_OUTPUT: ByteSize = ByteSize::mib(16);
/// Default seconds a job waits for a provider before it expires and is refunded.
pub const DEFAULT_ACCEPT_WITHIN_SECS: u64 = 600;
/// Default seconds from submission until a result must be on chain.
pub const DEFAULT_DEADLINE_SECS: u64 = 3_600;

/// Most input files one job may name.
pub const MAX_INPUTS: usize = 1_024;
/// Most arguments one job may pass.
pub const MAX_ARGS: usize = 64;
/// Longest argument in bytes.
pub const MAX_ARG_BYTES: usize = 4_096;
/// Longest job name in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Most fuel a job may ask for (10^13).
pub const MAX_FUEL: u64 = 10_000_000_000_000;
/// Longest wall time a job may ask for (one day).
pub const MAX_WALL_TIME_SECS: u64 = 86_400;
/// Largest memory a job may ask for (1 TiB).
pub const MAX_MEMORY: u64 = 1 << 40;
/// Smallest memory a job may ask for (1 MiB).
pub const MIN_MEMORY: u64 = 1 << 20;
/// Largest output cap (256 MiB): each output file, stdout and stderr is stored as one blob on
/// the node, whose blobs are at most this large, so a job can never produce what the node
/// cannot take.
pub const MAX_OUTPUT: u64 = 256 << 20;

/// What runs a job: each kind has its own runner on the worker, and providers advertise the
/// kinds they run.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// A WASI preview-1 module under wasmtime with fuel metering.
    #[default]
    Wasm,
    /// Training a model (`[train]`) on a dataset, metered in `steps × parameters`.
    Train,
    /// A trained model over inputs (`[infer]`), metered in `samples × parameters`.
    Infer,
}

impl JobKind {
    /// Every kind, in order.
    pub const ALL: [JobKind; 3] = [JobKind::Wasm, JobKind::Train, JobKind::Infer];

    /// The name in `job.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wasm => "wasm",
            Self::Train => "train",
            Self::Infer => "infer",
        }
    }

    /// What the metered units of this kind count (the unit `price.per_mfuel` is quoted in
    /// millions of).
    pub fn meter(self) -> &'static str {
        match self {
            Self::Wasm => "fuel",
            Self::Train => "steps × parameters",
            Self::Infer => "samples × parameters",
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown job kind {s:?}; known: wasm, train, infer"))
    }
}

/// `[resources]` in `job.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourcesToml {
    /// CPU cores (1 to 256).
    #[serde(default = "default_cores")]
    pub cpu_cores: u32,
    /// Memory cap (1 MiB to 1 TiB), e.g. `"256 MiB"`.
    #[serde(default = "default_memory")]
    pub memory: ByteSize,
    /// GPUs (0 to 16).
    #[serde(default)]
    pub gpus: u32,
}

/// `[limits]` in `job.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsToml {
    /// Fuel budget (10^3 to 10^13 units).
    #[serde(default = "default_fuel")]
    pub fuel: u64,
    /// Wall-time cap in seconds (1 to 86400).
    #[serde(default = "default_wall")]
    pub wall_time_secs: u64,
    /// Cap on output bytes (0 to 256 MiB, the node's largest blob).
    #[serde(default = "default_max_output")]
    pub max_output: ByteSize,
}

/// `[schedule]` in `job.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleToml {
    /// Seconds the job may wait for a provider before it expires and is refunded (10 to 604800).
    #[serde(default = "default_accept")]
    pub accept_within_secs: u64,
    /// Seconds from submission until the result must be committed (at least
    /// `accept_within_secs + limits.wall_time_secs`, at most 30 days).
    #[serde(default = "default_deadline")]
    pub deadline_secs: u64,
    /// Lowest provider reputation accepted (0 to 1).
    #[serde(default)]
    pub min_reputation: f64,
}

fn default_cores() -> u32 {
    DEFAULT_CPU_CORES
}
fn default_memory() -> ByteSize {
    DEFAULT_MEMORY
}
fn default_fuel() -> u64 {
    DEFAULT_FUEL
}
fn default_wall() -> u64 {
    DEFAULT_WALL_TIME_SECS
}
fn default_max_output() -> ByteSize {
    DEFAULT_MAX_OUTPUT
}
fn default_accept() -> u64 {
    DEFAULT_ACCEPT_WITHIN_SECS
}
fn default_deadline() -> u64 {
    DEFAULT_DEADLINE_SECS
}

impl Default for ResourcesToml {
    fn default() -> Self {
        Self {
            cpu_cores: DEFAULT_CPU_CORES,
            memory: DEFAULT_MEMORY,
            gpus: 0,
        }
    }
}

impl Default for LimitsToml {
    fn default() -> Self {
        Self {
            fuel: DEFAULT_FUEL,
            wall_time_secs: DEFAULT_WALL_TIME_SECS,
            max_output: DEFAULT_MAX_OUTPUT,
        }
    }
}

impl Default for ScheduleToml {
    fn default() -> Self {
        Self {
            accept_within_secs: DEFAULT_ACCEPT_WITHIN_SECS,
            deadline_secs: DEFAULT_DEADLINE_SECS,
            min_reputation: 0.0,
        }
    }
}

/// A `job.toml` as the requester wrote it: files are paths, relative to the file's directory.
///
/// ```toml
/// name = "wordcount"
/// module = "wordcount.wasm"     # .wasm or .wat
/// args = ["--top", "10"]
/// dataset = "data"              # every file under the directory, under /input
/// [resources]
/// memory = "128 MiB"
/// [limits]
/// fuel = 2_000_000_000
/// wall_time_secs = 30
/// [price]
/// per_mfuel = 5                 # bid: USDT base units per million fuel units
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    /// A short name (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// How to run it.
    #[serde(default)]
    pub kind: JobKind,
    /// Path of the module (`wasm` jobs; the other kinds describe their work in `[train]` or
    /// `[infer]`).
    #[serde(default)]
    pub module: String,
    /// Arguments (`argv[1..]`).
    #[serde(default)]
    pub args: Vec<String>,
    /// Input files, each visible under `/input/<file name>`.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// A dataset directory: every file under it is an input, at its relative path.
    #[serde(default)]
    pub dataset: Option<String>,
    /// Resources.
    #[serde(default)]
    pub resources: ResourcesToml,
    /// Limits.
    #[serde(default)]
    pub limits: LimitsToml,
    /// The bid. The payment escrowed is the most the job can cost at this bid.
    #[serde(default)]
    pub price: Price,
    /// Timing and provider requirements.
    #[serde(default)]
    pub schedule: ScheduleToml,
    /// What to train (`kind = "train"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainSpec>,
    /// What to infer (`kind = "infer"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infer: Option<InferSpec>,
}

/// A blob in the node's content-addressed store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlobRef {
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    /// Length in bytes.
    pub size: u64,
}

impl BlobRef {
    /// The reference for `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            sha256: hex::encode(Sha256::digest(bytes)),
            size: bytes.len() as u64,
        }
    }

    /// The digest as 32 bytes (validated references always have one).
    pub fn digest(&self) -> Option<[u8; 32]> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(&self.sha256, &mut out).ok()?;
        Some(out)
    }

    /// `sha256:<hex>`.
    pub fn uri(&self) -> String {
        format!("sha256:{}", self.sha256)
    }

    /// Whether `bytes` are what this reference names.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.size && hex::encode(Sha256::digest(bytes)) == self.sha256
    }

    fn validate(&self, key: &str) -> Result<()> {
        if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(Error::invalid(
                format!("{key}.sha256"),
                format!("{:?} is not 64 lowercase hex digits", self.sha256),
            ));
        }
        Ok(())
    }
}

/// One input file of a resolved spec.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputRef {
    /// Path under `/input` (relative, `/`-separated).
    pub name: String,
    /// Its bytes.
    pub blob: BlobRef,
}

/// Sandbox limits of a resolved spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Fuel budget.
    pub fuel: u64,
    /// Wall-time cap in milliseconds.
    pub wall_time_ms: u64,
    /// Cap on output bytes.
    pub max_output_bytes: u64,
}

/// A job as node, workers and the chain see it: every file named by digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JobSpec {
    /// Short name.
    pub name: String,
    /// How to run it.
    pub kind: JobKind,
    /// The module.
    pub module: BlobRef,
    /// Arguments.
    pub args: Vec<String>,
    /// Inputs, sorted by name.
    pub inputs: Vec<InputRef>,
    /// Root (`blake3:<hex>`, as `cairn data add` prints it) of the dataset the inputs are, when
    /// they came from a dataset directory: the receipt links the job to the dataset's statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_root: Option<String>,
    /// Resources it needs.
    pub resources: Resources,
    /// Limits.
    pub limits: Limits,
    /// The bid.
    pub price: Price,
    /// USDT base units escrowed: `price.cost(limits.fuel, wall-time seconds)`.
    pub payment: u64,
    /// Seconds it may wait for a provider.
    pub accept_within_secs: u64,
    /// Seconds from submission until the result must be committed.
    pub deadline_secs: u64,
    /// Lowest provider reputation accepted.
    pub min_reputation: f64,
    /// What to train (`train` jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainSpec>,
    /// What to infer (`infer` jobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infer: Option<InferSpec>,
}

impl JobFile {
    /// Parses and validates `job.toml` text.
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: JobFile = toml::from_str(text).map_err(|e| {
            // toml's message carries the line, the key and (for unknown keys) the allowed ones;
            // fold it onto one line for a CLI's single `error:` line.
            Error::Parse(
                e.to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
        file.validate()?;
        Ok(file)
    }

    /// Checks every value against its allowed range.
    pub fn validate(&self) -> Result<()> {
        validate_name(&self.name)?;
        validate_kind_sections(self.kind, self.train.as_ref(), self.infer.as_ref())?;
        match self.kind {
            JobKind::Wasm if self.module.trim().is_empty() => {
                return Err(Error::invalid(
                    "module",
                    "must name the module file (.wasm or .wat)",
                ));
            }
            JobKind::Train | JobKind::Infer if !self.module.is_empty() => {
                return Err(Error::invalid(
                    "module",
                    format!(
                        "a {} job runs no module; describe the work in [{}]",
                        self.kind, self.kind
                    ),
                ));
            }
            JobKind::Train | JobKind::Infer if self.dataset.is_none() && self.inputs.is_empty() => {
                return Err(Error::invalid(
                    "dataset",
                    format!(
                        "a {} job needs a dataset: set dataset = \"<directory>\" (or inputs = [...]): one OHLCV CSV per asset for the market reader, text files for the text reader",
                        self.kind
                    ),
                ));
            }
            _ => {}
        }
        if let Some(t) = &self.train
            && self.limits.fuel < t.work_units()
        {
            return Err(Error::range(
                "limits.fuel",
                self.limits.fuel,
                format!(
                    "at least {} units for this train job (train.steps {} × {} parameters); the units of a train job are steps × parameters",
                    t.work_units(),
                    t.steps,
                    t.parameters()
                ),
            ));
        }
        validate_args(&self.args)?;
        if self.inputs.len() > MAX_INPUTS {
            return Err(Error::range(
                "inputs",
                format!("{} files", self.inputs.len()),
                format!("at most {MAX_INPUTS} files"),
            ));
        }
        let r = &self.resources;
        check_u64(
            "resources.cpu_cores",
            r.cpu_cores.into(),
            1,
            256,
            "1 to 256 cores",
        )?;
        if !(MIN_MEMORY..=MAX_MEMORY).contains(&r.memory.0) {
            return Err(Error::range("resources.memory", r.memory, "1 MiB to 1 TiB"));
        }
        check_u64("resources.gpus", r.gpus.into(), 0, 16, "0 to 16 GPUs")?;
        let l = &self.limits;
        check_u64(
            "limits.fuel",
            l.fuel,
            1_000,
            MAX_FUEL,
            "1000 to 10000000000000 fuel units",
        )?;
        check_u64(
            "limits.wall_time_secs",
            l.wall_time_secs,
            1,
            MAX_WALL_TIME_SECS,
            "1 to 86400 seconds",
        )?;
        if l.max_output.0 > MAX_OUTPUT {
            return Err(Error::range(
                "limits.max_output",
                l.max_output,
                "0 to 256 MiB (the node stores each output as one blob of at most 256 MiB)",
            ));
        }
        self.price.validate("price")?;
        let s = &self.schedule;
        check_u64(
            "schedule.accept_within_secs",
            s.accept_within_secs,
            10,
            604_800,
            "10 to 604800 seconds (a week)",
        )?;
        let min_deadline = s.accept_within_secs + l.wall_time_secs;
        check_u64(
            "schedule.deadline_secs",
            s.deadline_secs,
            min_deadline,
            2_592_000,
            &format!(
                "{min_deadline} (schedule.accept_within_secs + limits.wall_time_secs) to 2592000 seconds"
            ),
        )?;
        if !(0.0..=1.0).contains(&s.min_reputation) {
            return Err(Error::range(
                "schedule.min_reputation",
                s.min_reputation,
                "0 to 1",
            ));
        }
        match self.payment() {
            None => Err(Error::invalid(
                "price",
                "the most this job can cost overflows; lower the price or the limits",
            )),
            Some(0) => Err(Error::invalid(
                "price",
                "the job would pay nothing; set price.per_mfuel (USDT base units per million fuel units) or price.per_second above 0",
            )),
            Some(_) => Ok(()),
        }
    }

    /// USDT base units to escrow: the most the job can cost at its bid.
    pub fn payment(&self) -> Option<u64> {
        self.price
            .cost(self.limits.fuel, self.limits.wall_time_secs)
    }

    /// The program blob of a `train` or `infer` job: the canonical JSON of its section, which
    /// the requester uploads in place of a module (`None` for `wasm`).
    pub fn program(&self) -> Option<Vec<u8>> {
        match (&self.train, &self.infer) {
            (Some(t), _) => Some(t.canonical_json()),
            (_, Some(i)) => Some(i.canonical_json()),
            _ => None,
        }
    }

    /// The resolved spec, given the uploaded module and inputs (sorted here by name) and the
    /// dataset's root when the inputs are a dataset directory.
    pub fn resolve(
        &self,
        module: BlobRef,
        inputs: Vec<InputRef>,
        dataset_root: Option<String>,
    ) -> Result<JobSpec> {
        let mut inputs = inputs;
        inputs.sort_by(|a, b| a.name.cmp(&b.name));
        let spec = JobSpec {
            name: self.name.clone(),
            kind: self.kind,
            module,
            args: self.args.clone(),
            inputs,
            dataset_root,
            resources: Resources {
                cpu_cores: self.resources.cpu_cores,
                memory_bytes: self.resources.memory.0,
                gpus: self.resources.gpus,
            },
            limits: Limits {
                fuel: self.limits.fuel,
                wall_time_ms: self.limits.wall_time_secs * 1000,
                max_output_bytes: self.limits.max_output.0,
            },
            price: self.price,
            payment: self.payment().unwrap_or(0),
            accept_within_secs: self.schedule.accept_within_secs,
            deadline_secs: self.schedule.deadline_secs,
            min_reputation: self.schedule.min_reputation,
            train: self.train.clone(),
            infer: self.infer.clone(),
        };
        spec.validate()?;
        Ok(spec)
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(Error::range(
            "name",
            format!("{name:?}"),
            format!("1 to {MAX_NAME_BYTES} letters, digits, '.', '_' or '-'"),
        ));
    }
    Ok(())
}

/// A `train` job has exactly `[train]`, an `infer` job exactly `[infer]`, a `wasm` job neither.
fn validate_kind_sections(
    kind: JobKind,
    train: Option<&TrainSpec>,
    infer: Option<&InferSpec>,
) -> Result<()> {
    match (kind, train, infer) {
        (JobKind::Wasm, None, None) => Ok(()),
        (JobKind::Train, Some(t), None) => t.validate(),
        (JobKind::Infer, None, Some(i)) => i.validate(),
        (JobKind::Train, None, _) => Err(Error::invalid(
            "train",
            "a train job needs a [train] section (model, learning_rate, steps, [train.data])",
        )),
        (JobKind::Infer, _, None) => Err(Error::invalid(
            "infer",
            "an infer job needs an [infer] section (model = \"sha256:<hex>\")",
        )),
        (_, Some(_), _) => Err(Error::invalid(
            "train",
            format!("[train] belongs to kind = \"train\" jobs, not {kind}"),
        )),
        (_, _, Some(_)) => Err(Error::invalid(
            "infer",
            format!("[infer] belongs to kind = \"infer\" jobs, not {kind}"),
        )),
    }
}

fn validate_args(args: &[String]) -> Result<()> {
    if args.len() > MAX_ARGS {
        return Err(Error::range(
            "args",
            format!("{} arguments", args.len()),
            format!("at most {MAX_ARGS} arguments"),
        ));
    }
    for (i, a) in args.iter().enumerate() {
        if a.len() > MAX_ARG_BYTES || a.contains('\0') {
            return Err(Error::range(
                format!("args[{i}]"),
                format!("{} bytes", a.len()),
                format!("at most {MAX_ARG_BYTES} bytes without NUL characters"),
            ));
        }
    }
    Ok(())
}

/// Checks a path under `/input`: relative, `/`-separated, no `.`/`..`/empty components, no
/// control characters, at most 255 bytes per component and 1024 in all.
pub fn validate_input_name(key: &str, name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid(key, format!("input name {name:?} {why}")));
    if name.is_empty() || name.len() > 1024 {
        return bad("must be 1 to 1024 bytes");
    }
    if name.starts_with('/') {
        return bad("must be relative (it is placed under /input)");
    }
    if name.chars().any(|c| c.is_control() || c == '\\') {
        return bad("must not contain control characters or backslashes");
    }
    for part in name.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return bad("must not contain empty, '.' or '..' path components");
        }
        if part.len() > 255 {
            return bad("has a component longer than 255 bytes");
        }
    }
    Ok(())
}

impl JobSpec {
    /// What a run that used `fuel_used` metered units (fuel for `wasm`, `steps × parameters`
    /// for `train`, `samples × parameters` for `infer`) in `wall_time_ms` costs at the job's
    /// price: units
    /// rounded up to the base unit, time in started seconds, each capped at the job's limits,
    /// the whole at most the escrowed payment. Integer base units; a verifier recomputes it
    /// from the metering (fuel is deterministic).
    pub fn bill(&self, fuel_used: u64, wall_time_ms: u64) -> u64 {
        let fuel = fuel_used.min(self.limits.fuel);
        let secs = wall_time_ms.min(self.limits.wall_time_ms).div_ceil(1000);
        self.price
            .cost(fuel, secs)
            .unwrap_or(u64::MAX)
            .min(self.payment)
    }

    /// Checks a spec received from elsewhere (the node re-checks every submission).
    pub fn validate(&self) -> Result<()> {
        validate_name(&self.name)?;
        self.module.validate("module")?;
        validate_kind_sections(self.kind, self.train.as_ref(), self.infer.as_ref())?;
        let program = match (&self.train, &self.infer) {
            (Some(t), _) => Some(t.canonical_json()),
            (_, Some(i)) => Some(i.canonical_json()),
            _ => None,
        };
        if let Some(p) = program
            && !self.module.matches(&p)
        {
            return Err(Error::invalid(
                "module",
                format!(
                    "a {} job's module must be the canonical JSON of its [{}] section",
                    self.kind, self.kind
                ),
            ));
        }
        validate_args(&self.args)?;
        if self.inputs.len() > MAX_INPUTS {
            return Err(Error::range(
                "inputs",
                format!("{} files", self.inputs.len()),
                format!("at most {MAX_INPUTS} files"),
            ));
        }
        for (i, input) in self.inputs.iter().enumerate() {
            let key = format!("inputs[{i}]");
            validate_input_name(&key, &input.name)?;
            input.blob.validate(&key)?;
            if i > 0 && self.inputs[i - 1].name >= input.name {
                return Err(Error::invalid(
                    key,
                    format!(
                        "input {:?} is duplicated or out of order; inputs are unique and sorted by name",
                        input.name
                    ),
                ));
            }
        }
        let names: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
        if let Some(t) = &self.train {
            t.data.files_for("train.data", &names)?;
            if self.limits.fuel < t.work_units() {
                return Err(Error::range(
                    "limits.fuel",
                    self.limits.fuel,
                    format!("at least {} (train.steps × parameters)", t.work_units()),
                ));
            }
        }
        if let Some(i) = &self.infer {
            let model = self.inputs.iter().find(|x| x.name == INFER_MODEL_INPUT);
            if model.map(|m| m.blob.sha256.as_str()) != i.model_sha256() {
                return Err(Error::invalid(
                    "infer.model",
                    format!(
                        "the inputs must hold the model as {INFER_MODEL_INPUT} with digest {}",
                        i.model
                    ),
                ));
            }
        }
        if let Some(root) = &self.dataset_root {
            let hex = root.strip_prefix("blake3:").unwrap_or("");
            if hex.len() != 64
                || !hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(Error::invalid(
                    "datasetRoot",
                    format!("{root:?} is not blake3:<64 lowercase hex digits>"),
                ));
            }
        }
        let r = &self.resources;
        check_u64(
            "resources.cpu_cores",
            r.cpu_cores.into(),
            1,
            256,
            "1 to 256 cores",
        )?;
        check_u64(
            "resources.memory_bytes",
            r.memory_bytes,
            MIN_MEMORY,
            MAX_MEMORY,
            "1048576 to 1099511627776 bytes (1 MiB to 1 TiB)",
        )?;
        check_u64("resources.gpus", r.gpus.into(), 0, 16, "0 to 16 GPUs")?;
        let l = &self.limits;
        check_u64(
            "limits.fuel",
            l.fuel,
            1_000,
            MAX_FUEL,
            "1000 to 10000000000000 fuel units",
        )?;
        check_u64(
            "limits.wall_time_ms",
            l.wall_time_ms,
            1_000,
            MAX_WALL_TIME_SECS * 1000,
            "1000 to 86400000 ms",
        )?;
        check_u64(
            "limits.max_output_bytes",
            l.max_output_bytes,
            0,
            MAX_OUTPUT,
            "0 to 256 MiB (the node stores each output as one blob of at most 256 MiB)",
        )?;
        check_u64(
            "price.per_mfuel",
            self.price.per_mfuel,
            0,
            MAX_PRICE,
            "0 to 10^12",
        )?;
        check_u64(
            "price.per_second",
            self.price.per_second,
            0,
            MAX_PRICE,
            "0 to 10^12",
        )?;
        let expected = self.price.cost(l.fuel, l.wall_time_ms.div_ceil(1000));
        if expected != Some(self.payment) || self.payment == 0 {
            return Err(Error::invalid(
                "payment",
                format!(
                    "{} does not equal the bid times the limits ({}); it must be above 0",
                    self.payment,
                    expected.map_or("overflow".into(), |e| e.to_string())
                ),
            ));
        }
        check_u64(
            "acceptWithinSecs",
            self.accept_within_secs,
            10,
            604_800,
            "10 to 604800 seconds",
        )?;
        let min_deadline = self.accept_within_secs + l.wall_time_ms.div_ceil(1000);
        check_u64(
            "deadlineSecs",
            self.deadline_secs,
            min_deadline,
            2_592_000,
            &format!("{min_deadline} to 2592000 seconds"),
        )?;
        if !(0.0..=1.0).contains(&self.min_reputation) {
            return Err(Error::range("minReputation", self.min_reputation, "0 to 1"));
        }
        Ok(())
    }

    /// The canonical bytes: compact JSON in field order (deterministic, since every collection
    /// is an ordered list).
    pub fn canonical_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a spec always serializes")
    }

    /// SHA-256 of [`JobSpec::canonical_json`]: the digest escrowed on chain.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_json()).into()
    }

    /// Every blob the worker must fetch: the module, then the inputs.
    pub fn blobs(&self) -> impl Iterator<Item = &BlobRef> {
        std::iter::once(&self.module).chain(self.inputs.iter().map(|i| &i.blob))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "name = \"wc\"\nmodule = \"wc.wasm\"\n[price]\nper_mfuel = 5\n";

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let f = JobFile::from_toml(MIN).unwrap();
        assert_eq!(f.resources.memory, DEFAULT_MEMORY);
        assert_eq!(f.limits.fuel, DEFAULT_FUEL);
        assert_eq!(f.payment(), Some(5_000));
        let spec = f.resolve(BlobRef::of(b"(module)"), vec![], None).unwrap();
        assert_eq!(spec.payment, 5_000);
        assert_eq!(spec.limits.wall_time_ms, DEFAULT_WALL_TIME_SECS * 1000);
    }

    #[test]
    fn every_bad_value_names_its_key_and_range() {
        let cases = [
            (
                "[resources]\nmemory = \"512 KiB\"",
                "`resources.memory` = 512 KiB is out of range; allowed: 1 MiB to 1 TiB",
            ),
            (
                "[resources]\ncpu_cores = 0",
                "`resources.cpu_cores` = 0 is out of range; allowed: 1 to 256",
            ),
            ("[resources]\ngpus = 17", "`resources.gpus` = 17"),
            ("[limits]\nfuel = 5", "`limits.fuel` = 5 is out of range"),
            (
                "[limits]\nwall_time_secs = 0",
                "`limits.wall_time_secs` = 0",
            ),
            (
                "[limits]\nmax_output = \"300 MiB\"",
                "`limits.max_output` = 300 MiB",
            ),
            (
                "[schedule]\naccept_within_secs = 1",
                "`schedule.accept_within_secs` = 1",
            ),
            (
                "[schedule]\ndeadline_secs = 100",
                "`schedule.deadline_secs` = 100 is out of range; allowed: 660",
            ),
            (
                "[schedule]\nmin_reputation = 1.5",
                "`schedule.min_reputation` = 1.5",
            ),
        ];
        for (extra, expected) in cases {
            let text = format!("{MIN}{extra}\n");
            let e = JobFile::from_toml(&text).unwrap_err().to_string();
            assert!(e.contains(expected), "{extra}: {e}");
        }
        let e = JobFile::from_toml("name = \"a b\"\nmodule = \"m\"\n[price]\nper_mfuel = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`name`"), "{e}");
        let e = JobFile::from_toml("name = \"x\"\nmodule = \"m\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`price`") && e.contains("pay nothing"), "{e}");
        let e = JobFile::from_toml(&format!("{MIN}[limits]\nfule = 3\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("fule") && e.contains("fuel"), "{e}");
        let e = JobFile::from_toml(&MIN.replace("name", "kind = \"docker\"\nname"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("docker") && e.contains("wasm"), "{e}");
    }

    #[test]
    fn input_names_cannot_escape_input() {
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a\nb",
            "a\\b",
        ] {
            assert!(validate_input_name("inputs[0]", bad).is_err(), "{bad:?}");
        }
        for good in ["a.txt", "sub/b.csv", "..a", "x..y/z"] {
            validate_input_name("inputs[0]", good).unwrap();
        }
    }

    #[test]
    fn specs_are_rechecked_and_digests_are_stable() {
        let f = JobFile::from_toml(MIN).unwrap();
        let inputs = vec![
            InputRef {
                name: "b".into(),
                blob: BlobRef::of(b"2"),
            },
            InputRef {
                name: "a".into(),
                blob: BlobRef::of(b"1"),
            },
        ];
        let spec = f.resolve(BlobRef::of(b"m"), inputs, None).unwrap();
        assert_eq!(spec.inputs[0].name, "a");
        let back: JobSpec = serde_json::from_slice(&spec.canonical_json()).unwrap();
        assert_eq!(back.digest(), spec.digest());

        let mut dup = spec.clone();
        dup.inputs[1].name = "a".into();
        assert!(
            dup.validate()
                .unwrap_err()
                .to_string()
                .contains("inputs[1]")
        );
        let mut cheap = spec.clone();
        cheap.payment -= 1;
        assert!(
            cheap
                .validate()
                .unwrap_err()
                .to_string()
                .contains("`payment`")
        );
        let mut evil = spec.clone();
        evil.inputs[0].name = "../../etc/passwd".into();
        assert!(evil.validate().is_err());
        let mut bad_hash = spec;
        bad_hash.module.sha256 = "XYZ".into();
        assert!(
            bad_hash
                .validate()
                .unwrap_err()
                .to_string()
                .contains("module.sha256")
        );
    }
}
