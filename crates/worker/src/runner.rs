//! Job runners behind one trait, keyed by job kind.
//!
//! ```text
//!  Assignment ─▶ Runners::get(spec.kind) ─┬─ wasm  ─▶ cairn-sandbox (fuel)
//!                                         ├─ train ─▶ cairn-ml (steps × parameters, checkpoint trace)
//!                                         └─ infer ─▶ cairn-ml (samples × parameters)
//! ```
//!
//! A worker advertises the kinds (and devices) of the runners it holds; the node matches it
//! only with jobs of those kinds. Every runner reports its metering in units a verifier can
//! recompute from the spec and the inputs, and the trace root it commits.
use cairn_compute::{JobKind, JobSpec, StopReason};
use cairn_sandbox::{Limits, Outcome, Sandbox, WasmJob};
use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

/// What a runner gets: the spec and the fetched (digest-checked) blobs.
#[derive(Clone, Debug)]
pub struct RunJob {
    /// The job.
    pub spec: JobSpec,
    /// The module blob (for `train`/`infer`: the canonical JSON of the section).
    pub module: Vec<u8>,
    /// Inputs by name.
    pub inputs: Vec<(String, Vec<u8>)>,
    /// `train`: the checkpoints a failed provider left (from step 0, digest-checked), to
    /// continue from once the last segment re-executes to the same bytes
    /// ([`crate::resume`]); empty: from step 0.
    pub resume: Vec<Vec<u8>>,
    /// `train`: where each checkpoint goes as it is written (the worker uploads it to the node).
    pub checkpoints: Option<crate::resume::CheckpointSink>,
}

impl RunJob {
    /// A job from step 0, its checkpoints kept to itself.
    pub fn new(spec: JobSpec, module: Vec<u8>, inputs: Vec<(String, Vec<u8>)>) -> Self {
        Self {
            spec,
            module,
            inputs,
            resume: vec![],
            checkpoints: None,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RunResult {
    /// Why it stopped without a result (`None`: success).
    pub stop: Option<StopReason>,
    /// Metered units: fuel, `steps × parameters` or `samples × parameters`.
    pub metered: u64,
    /// Wall time.
    pub wall_time: Duration,
    /// Files under `/output`.
    pub outputs: Vec<(String, Vec<u8>)>,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// The trace root to commit; `None`: the worker commits the digest of the outputs and the
    /// metering ([`crate::worker::trace_root`]).
    pub trace_root: Option<[u8; 32]>,
}

/// Why a runner produced no run at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The job cannot run anywhere (bad module, bad inputs): it fails, the requester is told.
    #[error("{0}")]
    Invalid(String),
    /// This host failed: the job goes back for another provider.
    #[error("{0}")]
    Host(String),
}

/// Runs jobs of one kind.
pub trait Runner: Send + Sync {
    /// The kind it runs.
    fn kind(&self) -> JobKind;

    /// The devices it uses (`cpu`, `cuda:0`, ...).
    fn devices(&self) -> Vec<String> {
        vec!["cpu".into()]
    }

    /// Runs `job`, stopping soon after `halt` is set.
    fn run(&self, job: &RunJob, halt: &Arc<AtomicBool>) -> Result<RunResult, RunError>;
}

/// The runners of a worker, by kind.
#[derive(Clone, Default)]
pub struct Runners {
    by_kind: BTreeMap<JobKind, Arc<dyn Runner>>,
}

impl std::fmt::Debug for Runners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_kind.keys()).finish()
    }
}

impl Runners {
    /// No runners.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the runner of its kind.
    pub fn with(mut self, runner: Arc<dyn Runner>) -> Self {
        self.by_kind.insert(runner.kind(), runner);
        self
    }

    /// Every built-in runner (`wasm` on `sandbox`, `train`, `infer`), restricted to `kinds`
    /// unless that is empty.
    pub fn standard(sandbox: Arc<Sandbox>, kinds: &[JobKind]) -> Self {
        let all = Self::new()
            .with(Arc::new(WasmRunner { sandbox }))
            .with(Arc::new(TensorRunner {
                kind: JobKind::Train,
            }))
            .with(Arc::new(TensorRunner {
                kind: JobKind::Infer,
            }));
        if kinds.is_empty() {
            return all;
        }
        Self {
            by_kind: all
                .by_kind
                .into_iter()
                .filter(|(k, _)| kinds.contains(k))
                .collect(),
        }
    }

    /// The kinds, in order.
    pub fn kinds(&self) -> Vec<JobKind> {
        self.by_kind.keys().copied().collect()
    }

    /// The devices of all runners, deduplicated.
    pub fn devices(&self) -> Vec<String> {
        let mut d: Vec<String> = self.by_kind.values().flat_map(|r| r.devices()).collect();
        d.sort();
        d.dedup();
        d
    }

    /// The runner of `kind`.
    pub fn get(&self, kind: JobKind) -> Option<&Arc<dyn Runner>> {
        self.by_kind.get(&kind)
    }
}

/// The stop reason for a sandbox outcome (`None`: success).
pub fn stop_reason(outcome: &Outcome, spec: &JobSpec) -> Option<StopReason> {
    Some(match outcome {
        Outcome::Exited(0) => return None,
        Outcome::Exited(code) => StopReason::Exited { code: *code },
        Outcome::OutOfFuel => StopReason::OutOfFuel {
            limit: spec.limits.fuel,
        },
        Outcome::MemoryLimit => StopReason::MemoryLimit {
            limit_bytes: spec.resources.memory_bytes,
        },
        Outcome::TimedOut => StopReason::TimedOut {
            limit_ms: spec.limits.wall_time_ms,
        },
        Outcome::Trapped(d) => StopReason::Trapped { detail: d.clone() },
        Outcome::Denied(d) => StopReason::Denied { detail: d.clone() },
        Outcome::Cancelled => StopReason::Cancelled,
    })
}

/// `wasm`: the sandbox, metered in fuel.
pub struct WasmRunner {
    /// The shared sandbox (one wasmtime engine).
    pub sandbox: Arc<Sandbox>,
}

impl Runner for WasmRunner {
    fn kind(&self) -> JobKind {
        JobKind::Wasm
    }

    fn run(&self, job: &RunJob, halt: &Arc<AtomicBool>) -> Result<RunResult, RunError> {
        let spec = &job.spec;
        let wasm = WasmJob {
            module: job.module.clone(),
            args: spec.args.clone(),
            inputs: job.inputs.clone(),
        };
        let limits = Limits {
            fuel: spec.limits.fuel,
            memory_bytes: spec.resources.memory_bytes,
            wall_time: Duration::from_millis(spec.limits.wall_time_ms),
            max_output_bytes: spec.limits.max_output_bytes,
        };
        match self.sandbox.run_cancellable(&wasm, &limits, halt) {
            Ok(r) => Ok(RunResult {
                stop: stop_reason(&r.outcome, spec),
                metered: r.fuel_used,
                wall_time: r.wall_time,
                outputs: r.outputs,
                stdout: r.stdout,
                stderr: r.stderr,
                trace_root: None,
            }),
            Err(
                e @ (cairn_sandbox::Error::InvalidModule { .. }
                | cairn_sandbox::Error::ModuleTooLarge { .. }
                | cairn_sandbox::Error::NoEntryPoint
                | cairn_sandbox::Error::InvalidInput { .. }),
            ) => Err(RunError::Invalid(e.to_string())),
            Err(e) => Err(RunError::Host(e.to_string())),
        }
    }
}

/// `train` and `infer`: `cairn-ml` in reproducible mode on the CPU, one thread per core the job
/// asked for, stopped at the job's wall-time limit or on `halt`.
pub struct TensorRunner {
    /// `Train` or `Infer`.
    pub kind: JobKind,
}

impl Runner for TensorRunner {
    fn kind(&self) -> JobKind {
        self.kind
    }

    fn run(&self, job: &RunJob, halt: &Arc<AtomicBool>) -> Result<RunResult, RunError> {
        let spec = &job.spec;
        // Nothing is loaded past the job's memory limit.
        let need = match (&spec.train, &spec.infer) {
            (Some(t), _) => Some(("train job", cairn_ml::job::train_memory(t, &job.inputs))),
            (_, Some(i)) => Some(("infer job", cairn_ml::job::infer_memory(i, &job.inputs))),
            _ => None,
        };
        if let Some((what, need)) = need {
            cairn_ml::job::check_memory(what, need, spec.resources.memory_bytes)
                .map_err(|e| RunError::Invalid(e.to_string()))?;
        }
        let threads = spec.resources.cpu_cores.max(1) as usize;
        let limit = Duration::from_millis(spec.limits.wall_time_ms);
        let start = Instant::now();
        let stop = AtomicBool::new(false);
        let done = AtomicBool::new(false);
        let timed_out = AtomicBool::new(false);
        let mut resumed = None;
        let ran = std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    if halt.load(Ordering::Relaxed) {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if start.elapsed() >= limit {
                        timed_out.store(true, Ordering::Relaxed);
                        stop.store(true, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            });
            let r = match (&spec.train, &spec.infer) {
                (Some(t), _) => crate::resume::check_last_segment(
                    t,
                    &job.inputs,
                    &job.resume,
                    threads,
                    &stop,
                )
                .and_then(|verdict| {
                    if verdict != crate::resume::Verdict::Fresh {
                        tracing::info!(verdict = %verdict.describe(), "resuming a train job");
                    }
                    let sink = job.checkpoints.clone();
                    let earlier = verdict.usable(&job.resume);
                    resumed = Some(verdict.clone());
                    cairn_ml::job::run_train_resumed_observed(
                        t,
                        &job.inputs,
                        threads,
                        &stop,
                        earlier,
                        &mut |step, bytes| {
                            if let Some(sink) = &sink {
                                // The receiver is gone only once the worker stopped caring.
                                let _ = sink.send((step, bytes.to_vec()));
                            }
                        },
                    )
                }),
                (_, Some(i)) => {
                    cairn_ml::run_infer(i, &job.inputs, threads, &stop).map(|r| (r, true))
                }
                _ => Err(cairn_ml::Error::Invalid {
                    key: "kind".into(),
                    detail: format!("a {} job without its section", spec.kind),
                }),
            };
            done.store(true, Ordering::Relaxed);
            r
        });
        let wall_time = start.elapsed();
        let stopped = |reason: StopReason| RunResult {
            stop: Some(reason),
            metered: 0,
            wall_time,
            outputs: vec![],
            stdout: vec![],
            stderr: vec![],
            trace_root: None,
        };
        match ran {
            // A stopped training run: billed for the steps its trace proves (up to its last
            // checkpoint), with those checkpoints as outputs.
            Ok((run, false)) => {
                let reason = if timed_out.load(Ordering::Relaxed) {
                    StopReason::TimedOut {
                        limit_ms: spec.limits.wall_time_ms,
                    }
                } else {
                    StopReason::Cancelled
                };
                Ok(RunResult {
                    stop: Some(reason),
                    metered: run.units,
                    wall_time,
                    outputs: run.outputs,
                    stdout: run.stdout,
                    stderr: vec![],
                    trace_root: Some(run.trace_root),
                })
            }
            Ok((run, true)) => {
                let stderr = match &resumed {
                    Some(v) if *v != crate::resume::Verdict::Fresh => {
                        format!("{}\n", v.describe()).into_bytes()
                    }
                    _ => vec![],
                };
                let size: u64 = run.outputs.iter().map(|(_, b)| b.len() as u64).sum::<u64>()
                    + run.stdout.len() as u64;
                if size > spec.limits.max_output_bytes {
                    let mut r = stopped(StopReason::Denied {
                        detail: format!(
                            "the outputs take {size} bytes, over the job's limit of {}",
                            spec.limits.max_output_bytes
                        ),
                    });
                    r.metered = run.units;
                    return Ok(r);
                }
                Ok(RunResult {
                    stop: None,
                    metered: run.units,
                    wall_time,
                    outputs: run.outputs,
                    stdout: run.stdout,
                    stderr,
                    trace_root: Some(run.trace_root),
                })
            }
            Err(cairn_ml::Error::Cancelled) if timed_out.load(Ordering::Relaxed) => {
                Ok(stopped(StopReason::TimedOut {
                    limit_ms: spec.limits.wall_time_ms,
                }))
            }
            Err(cairn_ml::Error::Cancelled) => Ok(stopped(StopReason::Cancelled)),
            Err(
                e @ (cairn_ml::Error::Invalid { .. }
                | cairn_ml::Error::Market { .. }
                | cairn_ml::Error::Malformed { .. }),
            ) => Err(RunError::Invalid(e.to_string())),
            Err(e) => Err(RunError::Host(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_compute::{BlobRef, InputRef, JobFile};

    fn train_job(extra: &str) -> RunJob {
        let text = format!(
            r#"
name = "vol"
kind = "train"
inputs = ["BTCUSDT_1d.csv"]
[resources]
cpu_cores = 2
[limits]
wall_time_secs = 30
[price]
per_mfuel = 1
[train]
model = "mlp"
hidden = 8
learning_rate = 0.01
steps = {}
checkpoint_every = 10
[train.data]
reader = "market"
assets = ["BTC"]
"#,
            if extra.is_empty() { "20" } else { extra }
        );
        let file = JobFile::from_toml(&text).unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/market");
        let csv = std::fs::read(format!("{dir}/BTCUSDT_1d.csv")).unwrap();
        let program = file.program().unwrap();
        let spec = file
            .resolve(
                BlobRef::of(&program),
                vec![InputRef {
                    name: "BTCUSDT_1d.csv".into(),
                    blob: BlobRef::of(&csv),
                }],
                None,
            )
            .unwrap();
        RunJob::new(spec, program, vec![("BTCUSDT_1d.csv".into(), csv)])
    }

    #[test]
    fn train_jobs_meter_steps_times_parameters_and_commit_their_checkpoint_root() {
        let job = train_job("");
        let runner = TensorRunner {
            kind: JobKind::Train,
        };
        let r = runner.run(&job, &Arc::new(AtomicBool::new(false))).unwrap();
        assert_eq!(r.stop, None);
        let t = job.spec.train.as_ref().unwrap();
        assert_eq!(r.metered, 20 * t.parameters());
        let names: Vec<&str> = r.outputs.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"model.safetensors") && names.contains(&"trace.json"));
        assert_eq!(
            names
                .iter()
                .filter(|n| n.starts_with("checkpoints/"))
                .count(),
            3
        );
        let checkpoints: Vec<Vec<u8>> = r
            .outputs
            .iter()
            .filter(|(n, _)| n.starts_with("checkpoints/"))
            .map(|(_, b)| b.clone())
            .collect();
        assert_eq!(
            r.trace_root,
            Some(cairn_ml::trace::trace_root(&checkpoints))
        );
        // The bill is recomputable from the spec alone.
        assert_eq!(
            job.spec.bill(r.metered, 0),
            t.work_units().div_ceil(1_000_000)
        );
    }

    #[test]
    fn a_train_job_hands_on_its_checkpoints_and_resumes_from_another_providers() {
        let never = || Arc::new(AtomicBool::new(false));
        let runner = TensorRunner {
            kind: JobKind::Train,
        };
        // The first provider's run: every checkpoint goes to the sink as it is written.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut job = train_job("40");
        job.checkpoints = Some(tx);
        let whole = runner.run(&job, &never()).unwrap();
        let mut sent = vec![];
        while let Ok(c) = rx.try_recv() {
            sent.push(c);
        }
        assert_eq!(
            sent.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![0, 10, 20, 30, 40]
        );
        assert!(whole.stderr.is_empty());
        // Another provider resumes from the first three: the same trace root, and only the
        // checkpoints after step 20 are handed on.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut job = train_job("40");
        job.resume = sent[..3].iter().map(|(_, b)| b.clone()).collect();
        job.checkpoints = Some(tx);
        let resumed = runner.run(&job, &never()).unwrap();
        assert_eq!(resumed.stop, None);
        assert_eq!(resumed.trace_root, whole.trace_root);
        let mut again = vec![];
        while let Ok((s, _)) = rx.try_recv() {
            again.push(s);
        }
        assert_eq!(again, vec![30, 40]);
        let note = String::from_utf8(resumed.stderr).unwrap();
        assert!(
            note.contains("resumed from step 20 after re-executing steps 10..20"),
            "{note}"
        );
    }

    #[test]
    fn a_halted_train_job_stops_as_cancelled() {
        let job = train_job("50000");
        let runner = TensorRunner {
            kind: JobKind::Train,
        };
        let halt = Arc::new(AtomicBool::new(true));
        let r = runner.run(&job, &halt).unwrap();
        assert_eq!(r.stop, Some(StopReason::Cancelled));
        let mut bad = train_job("");
        bad.inputs[0].1 = b"not,a,csv\n".to_vec();
        assert!(matches!(
            runner.run(&bad, &Arc::new(AtomicBool::new(false))),
            Err(RunError::Invalid(_))
        ));
    }

    #[test]
    fn a_tensor_job_over_its_memory_limit_is_refused_before_loading_naming_the_key() {
        let mut job = train_job("");
        let runner = TensorRunner {
            kind: JobKind::Train,
        };
        let need = cairn_ml::job::train_memory(job.spec.train.as_ref().unwrap(), &job.inputs);
        // The dataset alone is counted (the CSV is about 100 KiB, its samples more).
        assert!(need > job.inputs[0].1.len() as u64);
        job.spec.resources.memory_bytes = need - 1;
        let Err(RunError::Invalid(e)) = runner.run(&job, &Arc::new(AtomicBool::new(false))) else {
            panic!("a job over its memory limit ran");
        };
        assert!(
            e.contains("resources.memory") && e.contains("raise resources.memory"),
            "{e}"
        );
        // At the estimate it runs.
        job.spec.resources.memory_bytes = need;
        let r = runner.run(&job, &Arc::new(AtomicBool::new(false))).unwrap();
        assert_eq!(r.stop, None);
        // More checkpoints kept for the trace need more memory.
        let mut t = job.spec.train.clone().unwrap();
        let few = cairn_ml::job::train_memory(&t, &job.inputs);
        t.checkpoint_every = 1;
        assert!(cairn_ml::job::train_memory(&t, &job.inputs) > few);
    }

    /// The example `charlm` job (`examples/jobs/charlm`) as the CLI resolves it: every file
    /// of its corpus directory an input.
    fn charlm_job() -> RunJob {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/jobs/charlm");
        let file = JobFile::from_toml(&std::fs::read_to_string(format!("{dir}/job.toml")).unwrap())
            .unwrap();
        let corpus = std::fs::read(format!("{dir}/corpus/cairns.txt")).unwrap();
        let program = file.program().unwrap();
        let input = InputRef {
            name: "cairns.txt".into(),
            blob: BlobRef::of(&corpus),
        };
        RunJob::new(
            file.resolve(BlobRef::of(&program), vec![input], None)
                .unwrap(),
            program,
            vec![("cairns.txt".into(), corpus)],
        )
    }

    #[test]
    fn the_charlm_example_trains_and_its_model_completes_prompts() {
        let job = charlm_job();
        let t = job.spec.train.as_ref().unwrap();
        let train = TensorRunner {
            kind: JobKind::Train,
        };
        let r = train.run(&job, &Arc::new(AtomicBool::new(false))).unwrap();
        assert_eq!(r.stop, None);
        assert_eq!(r.metered, t.work_units());
        let out = |n: &str| {
            r.outputs
                .iter()
                .find(|(name, _)| name == n)
                .unwrap_or_else(|| panic!("no {n}"))
                .1
                .clone()
        };
        let checkpoints: Vec<Vec<u8>> = t
            .checkpoint_steps()
            .into_iter()
            .map(|s| out(&cairn_ml::trace::checkpoint_name(s)))
            .collect();
        assert_eq!(checkpoints.len(), 9);
        assert_eq!(
            r.trace_root,
            Some(cairn_ml::trace::trace_root(&checkpoints))
        );
        // The model, by digest, over prompts.
        let model = out("model.safetensors");
        let text = format!(
            "name = \"complete\"\nkind = \"infer\"\ninputs = [\"prompts.txt\"]\n[price]\nper_mfuel = 1\n[infer]\nmodel = \"sha256:{}\"\ngenerate = 8\n",
            BlobRef::of(&model).sha256
        );
        let file = JobFile::from_toml(&text).unwrap();
        let program = file.program().unwrap();
        let prompts = b"The walker\nA cairn is\n".to_vec();
        let inputs = vec![
            ("model.safetensors".to_owned(), model),
            ("prompts.txt".to_owned(), prompts),
        ];
        let refs = inputs
            .iter()
            .map(|(n, b)| InputRef {
                name: n.clone(),
                blob: BlobRef::of(b),
            })
            .collect();
        let job = RunJob::new(
            file.resolve(BlobRef::of(&program), refs, None).unwrap(),
            program,
            inputs,
        );
        let infer = TensorRunner {
            kind: JobKind::Infer,
        };
        let r = infer.run(&job, &Arc::new(AtomicBool::new(false))).unwrap();
        assert_eq!(r.stop, None);
        assert_eq!(r.outputs[0].0, "completions.jsonl");
        let lines = String::from_utf8(r.outputs[0].1.clone()).unwrap();
        assert_eq!(lines.lines().count(), 2, "{lines}");
        assert!(
            lines.starts_with("{\"prompt\":\"The walker\",\"next\":[{\"symbol\":"),
            "{lines}"
        );
        assert_eq!(r.metered, (10 + 8 + 10 + 8) * t.parameters());
    }

    #[test]
    fn standard_runners_can_be_restricted_by_kind() {
        let sandbox = Arc::new(Sandbox::new().unwrap());
        let all = Runners::standard(sandbox.clone(), &[]);
        assert_eq!(
            all.kinds(),
            vec![JobKind::Wasm, JobKind::Train, JobKind::Infer]
        );
        assert_eq!(all.devices(), vec!["cpu".to_owned()]);
        let wasm = Runners::standard(sandbox, &[JobKind::Wasm]);
        assert_eq!(wasm.kinds(), vec![JobKind::Wasm]);
        assert!(wasm.get(JobKind::Train).is_none());
    }
}
