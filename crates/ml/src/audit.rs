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
use std::sync::atomic::AtomicBool;

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
    /// The model file is not the last checkpoint's parameters under this spec.
    ModelMismatch,
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
    match model_file::decode(claim.model) {
        Ok((s, params)) if &s == spec && params == last.params => {}
        _ => report.findings.push(Finding::ModelMismatch),
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
