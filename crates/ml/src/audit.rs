//! Sampled step audits of a training run.
//!
//! A provider commits a trace root over its checkpoints (one every `k` steps) and publishes the
//! checkpoints. An auditor checks cheaply that the checkpoints hash to the committed root, that
//! the first is the spec's initial state, that every one is at its scheduled step, and that the
//! model file holds the last one's parameters; then it re-executes `samples` segments (always
//! including the last, from which the model comes, plus ones drawn without replacement) from
//! their committed starting checkpoint and compares the bytes it gets with the committed end.
//! A provider that faked a fraction `f` of the segments is caught with probability at least
//! `1 − (1 − f)^samples`, at `samples / segments` of the cost of replaying the run.
use crate::{
    data::Samples,
    model_file,
    trace::trace_root,
    train::{SplitMix64, TrainState, Trainer},
};
use cairn_compute::TrainSpec;
use cairn_tlog::{Hash, leaf_hash, verify_inclusion};
use std::{collections::BTreeMap, sync::atomic::AtomicBool};

/// What a provider claims about a run.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    /// The committed trace root.
    pub trace_root: [u8; 32],
    /// The checkpoint files, in step order.
    pub checkpoints: &'a [Vec<u8>],
    /// The model file.
    pub model: &'a [u8],
}

/// Something that did not check out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The checkpoints do not hash to the committed root.
    RootMismatch,
    /// Not one checkpoint per scheduled step.
    CheckpointCount {
        /// Scheduled.
        expected: usize,
        /// Given.
        got: usize,
    },
    /// A checkpoint does not decode, or is not at its scheduled step.
    BadCheckpoint {
        /// Its index.
        index: usize,
        /// Why.
        detail: String,
    },
    /// The first checkpoint is not the spec's initial state.
    WrongInitialState,
    /// The model file is not the last checkpoint's parameters under this spec (with the
    /// dataset's vocabulary, for a text model).
    ModelMismatch,
    /// A checkpoint opened against the trace root does not prove its inclusion (the bytes are
    /// not the ones committed at its index).
    NotInTrace {
        /// Its index.
        index: usize,
        /// Its scheduled step.
        step: u64,
    },
    /// Re-executing a segment from its committed start did not give its committed end.
    StepMismatch {
        /// The segment (checkpoint `segment` to `segment + 1`).
        segment: usize,
        /// Its first step.
        from_step: u64,
        /// The step after its last.
        to_step: u64,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RootMismatch => {
                f.write_str("the checkpoints do not hash to the committed trace root")
            }
            Self::CheckpointCount { expected, got } => {
                write!(f, "{got} checkpoints where the spec schedules {expected}")
            }
            Self::BadCheckpoint { index, detail } => write!(f, "checkpoint {index}: {detail}"),
            Self::WrongInitialState => {
                f.write_str("the checkpoint at step 0 is not the spec's initial state")
            }
            Self::ModelMismatch => f.write_str(
                "the model file is not the last checkpoint's parameters under the job's spec",
            ),
            Self::NotInTrace { index, step } => write!(
                f,
                "the checkpoint at step {step} (leaf {index}) is not the one committed in the trace root"
            ),
            Self::StepMismatch {
                from_step, to_step, ..
            } => write!(
                f,
                "re-executing steps {from_step}..{to_step} from the committed checkpoint at step {from_step} does not give the committed checkpoint at step {to_step}"
            ),
        }
    }
}

/// The outcome of an audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Segments re-executed.
    pub segments_checked: Vec<usize>,
    /// Steps re-executed in all.
    pub steps_replayed: u64,
    /// What failed; empty when the claim holds up.
    pub findings: Vec<Finding>,
}

impl AuditReport {
    /// Whether nothing failed.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// The segments an audit with `samples` samples and `seed` checks among `segments`: the last,
/// then distinct ones drawn uniformly (a partial Fisher–Yates shuffle), in ascending order.
pub fn sample_segments(segments: usize, samples: usize, seed: u64) -> Vec<usize> {
    if segments == 0 {
        return vec![];
    }
    let mut rest: Vec<usize> = (0..segments - 1).collect();
    let mut rng = SplitMix64::new(seed);
    let want = samples.saturating_sub(1).min(rest.len());
    for i in 0..want {
        let j = i + rng.below(rest.len() - i);
        rest.swap(i, j);
    }
    let mut out: Vec<usize> = rest[..want].to_vec();
    out.push(segments - 1);
    out.sort_unstable();
    out
}

/// The probability that an audit of `samples` segments, drawn with replacement, catches a
/// provider that faked a fraction `faked` of them: `1 − (1 − f)^samples` (drawing without
/// replacement, as [`sample_segments`] does, only does better).
pub fn detection_probability(faked: f64, samples: u32) -> f64 {
    1.0 - (1.0 - faked).powi(samples as i32)
}

/// Audits `claim` for `spec` over `data`, re-executing `samples` segments chosen by `seed`.
pub fn audit(
    spec: &TrainSpec,
    data: &Samples,
    claim: Claim<'_>,
    samples: usize,
    seed: u64,
    threads: usize,
) -> crate::Result<AuditReport> {
    let mut report = AuditReport {
        segments_checked: vec![],
        steps_replayed: 0,
        findings: vec![],
    };
    let steps = spec.checkpoint_steps();
    if claim.checkpoints.len() != steps.len() {
        report.findings.push(Finding::CheckpointCount {
            expected: steps.len(),
            got: claim.checkpoints.len(),
        });
        return Ok(report);
    }
    if trace_root(claim.checkpoints) != claim.trace_root {
        report.findings.push(Finding::RootMismatch);
        return Ok(report);
    }
    let mut states = Vec::with_capacity(steps.len());
    for (i, (bytes, &at)) in claim.checkpoints.iter().zip(&steps).enumerate() {
        match TrainState::from_bytes(bytes, spec) {
            Ok(s) if s.step == at => states.push(s),
            Ok(s) => {
                report.findings.push(Finding::BadCheckpoint {
                    index: i,
                    detail: format!("at step {} instead of {at}", s.step),
                });
                return Ok(report);
            }
            Err(e) => {
                report.findings.push(Finding::BadCheckpoint {
                    index: i,
                    detail: e.to_string(),
                });
                return Ok(report);
            }
        }
    }
    if states[0] != TrainState::init(spec) {
        report.findings.push(Finding::WrongInitialState);
    }
    let last = states.last().expect("at least two checkpoints");
    if !model_file::holds(claim.model, spec, &last.params, data.vocab.as_ref()) {
        report.findings.push(Finding::ModelMismatch);
    }
    let trainer = Trainer::new(spec, data, threads)?;
    let never = AtomicBool::new(false);
    for seg in sample_segments(steps.len() - 1, samples, seed) {
        let mut state = states[seg].clone();
        trainer.run_to(&mut state, steps[seg + 1], &never)?;
        report.steps_replayed += steps[seg + 1] - steps[seg];
        report.segments_checked.push(seg);
        if state.to_bytes() != claim.checkpoints[seg + 1] {
            report.findings.push(Finding::StepMismatch {
                segment: seg,
                from_step: steps[seg],
                to_step: steps[seg + 1],
            });
        }
    }
    Ok(report)
}

/// One checkpoint of a trace, as an auditor fetches it: its bytes and the RFC 6962 inclusion
/// proof of its leaf under the committed trace root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opening {
    /// The checkpoint bytes.
    pub bytes: Vec<u8>,
    /// The inclusion proof of leaf `index` in the tree of all checkpoints.
    pub proof: Vec<Hash>,
}

/// The checkpoint indices an audit of `segments` (from [`sample_segments`]) needs among `n`
/// checkpoints: the first (the initial state), the last (the model) and both ends of every
/// sampled segment.
pub fn needed_checkpoints(n: usize, segments: &[usize]) -> Vec<usize> {
    let mut need: Vec<usize> = vec![0, n.saturating_sub(1)];
    for &s in segments {
        need.push(s);
        need.push(s + 1);
    }
    need.sort_unstable();
    need.dedup();
    need
}

/// Audits a run from its committed trace root alone, fetching only the checkpoints it needs
/// ([`needed_checkpoints`]) through `open`, each with its inclusion proof: the cost of the
/// audit is the `samples` re-executed segments plus `samples + 2` checkpoint downloads, never
/// the whole trace. `open(index)` may fail (the checkpoint cannot be fetched): that error is
/// returned as is.
#[allow(clippy::too_many_arguments)]
pub fn audit_openings(
    spec: &TrainSpec,
    data: &Samples,
    trace_root: [u8; 32],
    model: &[u8],
    samples: usize,
    seed: u64,
    threads: usize,
    mut open: impl FnMut(usize) -> crate::Result<Opening>,
) -> crate::Result<AuditReport> {
    let mut report = AuditReport {
        segments_checked: vec![],
        steps_replayed: 0,
        findings: vec![],
    };
    let steps = spec.checkpoint_steps();
    let n = steps.len();
    let chosen = sample_segments(n - 1, samples, seed);
    let mut states = BTreeMap::new();
    let mut bytes = BTreeMap::new();
    for i in needed_checkpoints(n, &chosen) {
        let o = open(i)?;
        if verify_inclusion(
            &leaf_hash(&o.bytes),
            i as u64,
            n as u64,
            &o.proof,
            &trace_root,
        )
        .is_err()
        {
            report.findings.push(Finding::NotInTrace {
                index: i,
                step: steps[i],
            });
            continue;
        }
        match TrainState::from_bytes(&o.bytes, spec) {
            Ok(s) if s.step == steps[i] => {
                states.insert(i, s);
                bytes.insert(i, o.bytes);
            }
            Ok(s) => report.findings.push(Finding::BadCheckpoint {
                index: i,
                detail: format!("at step {} instead of {}", s.step, steps[i]),
            }),
            Err(e) => report.findings.push(Finding::BadCheckpoint {
                index: i,
                detail: format!("(step {}) {e}", steps[i]),
            }),
        }
    }
    if states.get(&0).is_some_and(|s| *s != TrainState::init(spec)) {
        report.findings.push(Finding::WrongInitialState);
    }
    if let Some(last) = states.get(&(n - 1))
        && !model_file::holds(model, spec, &last.params, data.vocab.as_ref())
    {
        report.findings.push(Finding::ModelMismatch);
    }
    let trainer = Trainer::new(spec, data, threads)?;
    let never = AtomicBool::new(false);
    for seg in chosen {
        let (Some(start), Some(end)) = (states.get(&seg), bytes.get(&(seg + 1))) else {
            continue; // already a finding
        };
        let mut state = start.clone();
        trainer.run_to(&mut state, steps[seg + 1], &never)?;
        report.steps_replayed += steps[seg + 1] - steps[seg];
        report.segments_checked.push(seg);
        if state.to_bytes() != *end {
            report.findings.push(Finding::StepMismatch {
                segment: seg,
                from_step: steps[seg],
                to_step: steps[seg + 1],
            });
        }
    }
    Ok(report)
}

/// What a referee's recomputation of one disputed segment gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentCheck {
    /// The leaf hash of the recomputed checkpoint at `lo + 1`.
    pub leaf: Hash,
    /// Steps re-executed (the segment's length).
    pub steps_replayed: u64,
}

/// A refereed bisection ended with both sides agreeing on checkpoint `lo` (leaf `lo_leaf`;
/// for `lo = 0` the spec's initial state, which the referee builds itself) and differing at
/// `lo + 1`: re-executes that one segment from the agreed state and returns the leaf it ends
/// at, for the referee to compare with each side's. `lo_checkpoint` (the agreed checkpoint's
/// bytes; ignored for `lo = 0`) must hash to `lo_leaf`, decode under `spec` and be at its
/// scheduled step.
pub fn recompute_segment(
    spec: &TrainSpec,
    data: &Samples,
    lo: usize,
    lo_leaf: &Hash,
    lo_checkpoint: Option<&[u8]>,
    threads: usize,
) -> crate::Result<SegmentCheck> {
    let steps = spec.checkpoint_steps();
    if lo + 1 >= steps.len() {
        return Err(crate::Error::malformed(
            "disputed segment",
            format!(
                "checkpoint {lo} has no successor in a trace of {}",
                steps.len()
            ),
        ));
    }
    let mut state = if lo == 0 {
        TrainState::init(spec)
    } else {
        let bytes = lo_checkpoint.ok_or_else(|| {
            crate::Error::malformed("disputed segment", format!("checkpoint {lo} is missing"))
        })?;
        if leaf_hash(bytes) != *lo_leaf {
            return Err(crate::Error::malformed(
                "disputed segment",
                format!("checkpoint {lo}'s bytes do not hash to the agreed leaf"),
            ));
        }
        let s = TrainState::from_bytes(bytes, spec)?;
        if s.step != steps[lo] {
            return Err(crate::Error::malformed(
                "disputed segment",
                format!(
                    "checkpoint {lo} is at step {} instead of {}",
                    s.step, steps[lo]
                ),
            ));
        }
        s
    };
    let trainer = Trainer::new(spec, data, threads)?;
    trainer.run_to(&mut state, steps[lo + 1], &AtomicBool::new(false))?;
    Ok(SegmentCheck {
        leaf: leaf_hash(&state.to_bytes()),
        steps_replayed: steps[lo + 1] - steps[lo],
    })
}
