//! Resuming a `train` job another provider left unfinished, and handing on this run's
//! checkpoints so that another provider can resume it in turn.
//!
//! ```text
//!  Assignment.resume (checkpoint refs) ─▶ fetch (digest-checked) ─▶ check_last_segment
//!      ─▶ accepted: run_train_resumed from the last one   rejected: train from step 0
//!  every checkpoint this run writes ─▶ CheckpointSink ─▶ PUT /blob + POST /jobs/<id>/progress
//! ```
//!
//! The provider that commits the result vouches for the whole trace, so it does not take the
//! failed provider's work on trust: it re-executes the last segment (from the second-to-last
//! checkpoint to the last: `checkpoint_every` steps, at most one segment's cost) and resumes
//! only if that reproduces the last checkpoint bit for bit. The earlier segments are what the
//! node's sampled audit of the finished trace covers, as for any result. If the last segment
//! does not reproduce, it trains from step 0 instead (and the node drops the failed provider's
//! checkpoints as this run's replace them).
use cairn_compute::TrainSpec;
use cairn_ml::train::{TrainState, Trainer};
use std::sync::atomic::AtomicBool;

/// Where a running `train` job's checkpoints go as they are written: `(step, bytes)`.
pub type CheckpointSink = tokio::sync::mpsc::UnboundedSender<(u64, Vec<u8>)>;

/// What the check of a resume point found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to resume from.
    Fresh,
    /// The last segment reproduced (or there is only the initial state): resume from
    /// `step`.
    Accepted {
        /// The step of the last checkpoint.
        step: u64,
        /// Steps re-executed to check it (`from..step`; none when `from == step`).
        from: u64,
    },
    /// The checkpoints do not decode under the spec: train from step 0.
    Unusable {
        /// Why.
        detail: String,
    },
    /// The last checkpoint is not what its segment produces: train from step 0.
    Rejected {
        /// The step of the last checkpoint.
        step: u64,
        /// Where the re-execution started.
        from: u64,
    },
}

impl Verdict {
    /// The checkpoints to resume from: all of `earlier` when accepted, none otherwise.
    pub fn usable<'a>(&self, earlier: &'a [Vec<u8>]) -> &'a [Vec<u8>] {
        match self {
            Verdict::Accepted { .. } => earlier,
            _ => &[],
        }
    }

    /// One line for the run's stderr and the worker's log.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Fresh => "trained from step 0".into(),
            Verdict::Accepted { step, from } if from == step => {
                format!("resumed from step {step} (the initial state)")
            }
            Verdict::Accepted { step, from } => format!(
                "resumed from step {step} after re-executing steps {from}..{step}: they reproduce the checkpoint bit for bit"
            ),
            Verdict::Unusable { detail } => {
                format!("the resume point was unusable ({detail}); trained from step 0 instead")
            }
            Verdict::Rejected { step, from } => format!(
                "re-executing steps {from}..{step} did not reproduce the checkpoint left at step {step}; trained from step 0 instead"
            ),
        }
    }
}

/// Checks the resume point `earlier` (checkpoints from step 0, in order) of a `train` job:
/// re-executes its last segment from the checkpoint before and compares the bytes. Checkpoints
/// that do not decode under `spec` at their scheduled steps (the first: the initial state) make
/// it [`Verdict::Unusable`] (the failed provider's fault, not the job's); errors are the job's
/// (bad data) or [`cairn_ml::Error::Cancelled`].
pub fn check_last_segment(
    spec: &TrainSpec,
    inputs: &[(String, Vec<u8>)],
    earlier: &[Vec<u8>],
    threads: usize,
    halt: &AtomicBool,
) -> cairn_ml::Result<Verdict> {
    let Some(last) = earlier.last() else {
        return Ok(Verdict::Fresh);
    };
    let unusable = |e: cairn_ml::Error| Verdict::Unusable {
        detail: e.to_string(),
    };
    // What `train::resume` requires: each at its scheduled step, the first the initial state.
    let schedule = spec.checkpoint_steps();
    if earlier.len() > schedule.len() {
        return Ok(Verdict::Unusable {
            detail: format!("{} checkpoints for {} steps", earlier.len(), schedule.len()),
        });
    }
    for (i, (bytes, &at)) in earlier.iter().zip(&schedule).enumerate() {
        let s = match TrainState::from_bytes(bytes, spec) {
            Ok(s) => s,
            Err(e) => return Ok(unusable(e)),
        };
        if s.step != at || (i == 0 && s != TrainState::init(spec)) {
            return Ok(Verdict::Unusable {
                detail: format!("checkpoint {i} is not the spec's state at step {at}"),
            });
        }
    }
    let step = schedule[earlier.len() - 1];
    let Some(before) = earlier.len().checked_sub(2).map(|i| &earlier[i]) else {
        // Only the initial state, checked above.
        return Ok(Verdict::Accepted { step, from: step });
    };
    let mut state = TrainState::from_bytes(before, spec)?;
    let from = state.step;
    let data = cairn_ml::data::samples(&spec.data, "train.data", inputs)?;
    let trainer = Trainer::new(spec, &data, threads)?;
    trainer.run_to(&mut state, step, halt)?;
    Ok(if state.to_bytes() == *last {
        Verdict::Accepted { step, from }
    } else {
        Verdict::Rejected { step, from }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_compute::JobFile;

    fn spec_and_inputs() -> (TrainSpec, Vec<(String, Vec<u8>)>) {
        let file = JobFile::from_toml(
            "name = \"v\"\nkind = \"train\"\ninputs = [\"BTCUSDT_1d.csv\"]\n[price]\nper_mfuel = 1\n[train]\nmodel = \"mlp\"\nhidden = 8\nlearning_rate = 0.01\nsteps = 30\ncheckpoint_every = 10\n[train.data]\nreader = \"market\"\nassets = [\"BTC\"]\n",
        )
        .unwrap();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/market");
        let csv = std::fs::read(format!("{dir}/BTCUSDT_1d.csv")).unwrap();
        let spec = file.train.clone().unwrap();
        (spec, vec![("BTCUSDT_1d.csv".into(), csv)])
    }

    #[test]
    fn an_honest_resume_point_is_accepted_and_a_forged_last_checkpoint_rejected() {
        let (spec, inputs) = spec_and_inputs();
        let never = AtomicBool::new(false);
        let whole = cairn_ml::run_train(&spec, &inputs, 1, &never).unwrap();
        let checkpoints: Vec<Vec<u8>> = spec
            .checkpoint_steps()
            .iter()
            .map(|s| {
                let name = cairn_ml::trace::checkpoint_name(*s);
                whole
                    .outputs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap()
                    .1
                    .clone()
            })
            .collect();
        let check = |e: &[Vec<u8>]| check_last_segment(&spec, &inputs, e, 1, &never).unwrap();
        assert_eq!(check(&[]), Verdict::Fresh);
        assert_eq!(
            check(&checkpoints[..1]),
            Verdict::Accepted { step: 0, from: 0 }
        );
        let v = check(&checkpoints[..3]);
        assert_eq!(v, Verdict::Accepted { step: 20, from: 10 });
        assert_eq!(v.usable(&checkpoints[..3]).len(), 3);
        // The failed provider's last checkpoint nudged: re-execution exposes it.
        let mut forged = checkpoints[..3].to_vec();
        let mut s = TrainState::from_bytes(&forged[2], &spec).unwrap();
        s.params[0] += 0.5;
        forged[2] = s.to_bytes();
        let v = check(&forged);
        assert_eq!(v, Verdict::Rejected { step: 20, from: 10 });
        assert!(v.usable(&forged).is_empty());
        assert!(
            v.describe().contains("did not reproduce"),
            "{}",
            v.describe()
        );
        // Bytes that are no checkpoint of this spec: train from step 0.
        let v = check(&[b"junk".to_vec()]);
        assert!(matches!(v, Verdict::Unusable { .. }), "{v:?}");
        assert!(v.usable(&[b"junk".to_vec()]).is_empty());
        // Out of schedule, or not starting at the initial state: the same.
        for bad in [
            vec![checkpoints[0].clone(), checkpoints[2].clone()],
            vec![checkpoints[1].clone()],
        ] {
            let v = check(&bad);
            assert!(
                matches!(&v, Verdict::Unusable { detail } if detail.contains("is not the spec's state")),
                "{v:?}"
            );
        }
    }
}
