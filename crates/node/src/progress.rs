//! Checkpoints of running `train` jobs, and resuming them on another provider.
//!
//! ```text
//!  worker A: checkpoint at step s ─▶ PUT /blob ─▶ POST /jobs/<id>/progress {step, checkpoint}
//!                                                   │ lease holder? next scheduled step? in the
//!                                                   │ store? decodes under the spec at step s?
//!                                                   ▼
//!                                      job.checkpoints += {s, sha256, A}
//!  A dies ─▶ lease lapses ─▶ requeue ─▶ B claims: Assignment.resume = job.checkpoints
//!                                      job.resumed = {last step, its sha256, B, A}
//!  worker B: fetches them (digest-checked), re-executes the last segment, continues from the
//!            last one; its own checkpoints follow A's in job.checkpoints
//! ```
//!
//! The node holds a checkpoint only once it is present in its store with the size named, and
//! decodes under the job's spec at the step claimed (step 0: the spec's initial state), so
//! what it hands the next provider is at least well formed; whether it is the honest result of
//! training is what the next provider's re-execution of the last segment and the node's
//! sampled audit of the finished trace check.
//!
//! Billing: the provider that failed committed nothing and is paid nothing; the one that
//! commits the result vouches for the whole trace (the failed provider's checkpoints
//! included: the audit and a dispute hold it to all of it) and is paid the whole job's
//! metering, as if it had run every step.
use crate::{Error, Node, Result, node::now_ms, store::JobRow};
use alloy::primitives::Address;
use cairn_compute::api::{CheckpointRef, Progress, Resumed};

impl Node {
    /// The lease holder of a running `train` job uploaded the checkpoint it wrote at
    /// `p.step`: the node records it as the job's latest. Refused (and nothing changed) for an
    /// unknown job (404), one not leased to `signer` (409), a step that is not the next
    /// scheduled one (409) or a checkpoint missing from the store or not at that step (400).
    pub fn progress(&self, signer: Address, id: u64, p: &Progress) -> Result<CheckpointRef> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(&p.checkpoint.sha256, &mut digest).map_err(|_| {
            Error::BadRequest(format!(
                "checkpoint.sha256 {:?} is not 64 hex digits",
                p.checkpoint.sha256
            ))
        })?;
        // What the job expects, read first (no lock is held while the blob is read).
        let spec = {
            let store = self.store();
            let r = store.read();
            let j = r
                .job(id)?
                .ok_or_else(|| Error::NotFound(format!("no job {id} on this node")))?;
            j.spec.train.clone().ok_or_else(|| {
                Error::BadRequest(format!(
                    "job {id} is a {} job; only train jobs report checkpoints",
                    j.spec.kind
                ))
            })?
        };
        let schedule = spec.checkpoint_steps();
        if !schedule.contains(&p.step) {
            return Err(Error::BadRequest(format!(
                "step {} is not one of job {id}'s checkpoint steps (every {} steps up to {})",
                p.step, spec.checkpoint_every, spec.steps
            )));
        }
        let bytes = self
            .shared
            .blobs
            .get(&digest)
            .map_err(|e| Error::io("reading a blob", e))?
            .filter(|b| b.len() as u64 == p.checkpoint.size)
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "checkpoint sha256:{} ({} bytes) is not in the node's store; upload it first",
                    p.checkpoint.sha256, p.checkpoint.size
                ))
            })?;
        let state = cairn_ml::train::TrainState::from_bytes(&bytes, &spec).map_err(|e| {
            Error::BadRequest(format!(
                "checkpoint sha256:{} is not a checkpoint of job {id}: {e}",
                p.checkpoint.sha256
            ))
        })?;
        if state.step != p.step {
            return Err(Error::BadRequest(format!(
                "checkpoint sha256:{} is at step {}, not {}",
                p.checkpoint.sha256, state.step, p.step
            )));
        }
        if p.step == 0 && state != cairn_ml::train::TrainState::init(&spec) {
            return Err(Error::BadRequest(format!(
                "checkpoint sha256:{} is not job {id}'s initial state",
                p.checkpoint.sha256
            )));
        }
        let me = signer.to_string();
        let record = CheckpointRef {
            step: p.step,
            sha256: p.checkpoint.sha256.clone(),
            size: p.checkpoint.size,
            provider: me.clone(),
        };
        let now = now_ms();
        self.store().tx(|t| {
            let mut j = Self::leased_job(t, signer, id)?;
            let index = schedule
                .iter()
                .position(|&s| s == p.step)
                .expect("checked above");
            match place(&j, index, &record) {
                Placed::Again => return Ok(()),
                Placed::Next => {}
                Placed::Restart { failed } => {
                    t.event(
                        id,
                        now,
                        &format!(
                            "{me} restarted from step {} instead of {failed}'s later checkpoints",
                            p.step
                        ),
                    )?;
                    j.checkpoints.truncate(index);
                    j.resumed = None;
                }
                Placed::Refused(why) => return Err(Error::Conflict(why)),
            }
            j.checkpoints.push(record.clone());
            t.put_job(&j)?;
            t.event(
                id,
                now,
                &format!(
                    "checkpoint at step {} of {} stored (sha256:{}) by {me}",
                    p.step, spec.steps, p.checkpoint.sha256
                ),
            )
        })?;
        Ok(record)
    }
}

/// Where a reported checkpoint (the `index`-th of the schedule) goes among the job's.
#[derive(Debug, PartialEq)]
enum Placed {
    /// The next one: appended.
    Next,
    /// Already recorded (a retry after a lost answer): nothing changes.
    Again,
    /// The lease holder starts over below checkpoints another provider left (it would not
    /// vouch for them): those are dropped.
    Restart { failed: String },
    /// Out of order.
    Refused(String),
}

fn place(j: &JobRow, index: usize, c: &CheckpointRef) -> Placed {
    let held = &j.checkpoints;
    if index == held.len() {
        return Placed::Next;
    }
    let last = held.last().map_or(0, |h| h.step);
    if index > held.len() {
        let want = if held.is_empty() {
            "step 0".to_owned()
        } else {
            format!("the one after step {last}")
        };
        return Placed::Refused(format!(
            "job {}: a checkpoint at step {} skips ahead; the node holds checkpoints up to step {last} and expects {want} next",
            j.id, c.step
        ));
    }
    if held[index].sha256 == c.sha256 && held[index].provider == c.provider {
        return Placed::Again;
    }
    if let Some(other) = held[index..].iter().find(|h| h.provider != c.provider)
        && held[index..].iter().all(|h| h.provider != c.provider)
    {
        return Placed::Restart {
            failed: other.provider.clone(),
        };
    }
    Placed::Refused(format!(
        "job {}: a checkpoint at step {} goes backwards; the node already holds checkpoints up to step {last}",
        j.id, c.step
    ))
}

/// A lease on `j` goes to `provider`: the checkpoints to resume from (none for a fresh start),
/// recording the hand-off when another provider wrote them.
pub(crate) fn hand_off(j: &mut JobRow, provider: &str) -> Vec<CheckpointRef> {
    if j.spec.train.is_none() {
        return vec![];
    }
    let Some(last) = j.checkpoints.last() else {
        return vec![];
    };
    if last.provider != provider {
        j.resumed = Some(Resumed {
            step: last.step,
            checkpoint: last.sha256.clone(),
            provider: provider.to_owned(),
            failed: last.provider.clone(),
        });
    }
    j.checkpoints.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(step: u64, sha: &str, by: &str) -> CheckpointRef {
        CheckpointRef {
            step,
            sha256: sha.into(),
            size: 1,
            provider: by.into(),
        }
    }

    #[test]
    fn checkpoints_go_in_order_retries_are_idempotent_and_only_another_providers_are_replaced() {
        let mut j = crate::store::tests::row(1);
        assert_eq!(place(&j, 0, &cp(0, "a", "A")), Placed::Next);
        assert!(
            matches!(place(&j, 1, &cp(10, "b", "A")), Placed::Refused(w) if w.contains("skips ahead") && w.contains("step 0"))
        );
        j.checkpoints = vec![cp(0, "a", "A"), cp(10, "b", "A")];
        assert_eq!(place(&j, 2, &cp(20, "c", "A")), Placed::Next);
        assert_eq!(place(&j, 1, &cp(10, "b", "A")), Placed::Again);
        assert!(
            matches!(place(&j, 1, &cp(10, "x", "A")), Placed::Refused(w) if w.contains("goes backwards"))
        );
        assert!(
            matches!(place(&j, 3, &cp(30, "d", "A")), Placed::Refused(w) if w.contains("up to step 10"))
        );
        // B resumed after A and did not accept A's checkpoints from step 10 on.
        assert_eq!(
            place(&j, 1, &cp(10, "y", "B")),
            Placed::Restart { failed: "A".into() }
        );
        // Once B wrote some, B cannot rewrite its own.
        j.checkpoints.push(cp(20, "c", "B"));
        assert!(matches!(
            place(&j, 1, &cp(10, "y", "B")),
            Placed::Refused(_)
        ));
    }

    #[test]
    fn a_hand_off_names_both_providers_and_the_last_checkpoint() {
        let mut j = crate::store::tests::row(1);
        assert!(hand_off(&mut j, "B").is_empty(), "a wasm job has none");
        let t = cairn_compute::JobFile::from_toml(
            "name = \"t\"\nkind = \"train\"\ninputs = [\"BTCUSDT_1d.csv\"]\n[price]\nper_mfuel = 1\n[train]\nmodel = \"mlp\"\nlearning_rate = 0.01\nsteps = 20\ncheckpoint_every = 10\n[train.data]\nreader = \"market\"\nassets = [\"BTC\"]\n",
        )
        .unwrap();
        let program = t.program().unwrap();
        j.spec = t
            .resolve(
                cairn_compute::BlobRef::of(&program),
                vec![cairn_compute::InputRef {
                    name: "BTCUSDT_1d.csv".into(),
                    blob: cairn_compute::BlobRef::of(b"x"),
                }],
                None,
            )
            .unwrap();
        assert!(hand_off(&mut j, "B").is_empty());
        assert_eq!(j.resumed, None);
        j.checkpoints = vec![cp(0, "a", "A"), cp(10, "b", "A")];
        assert_eq!(hand_off(&mut j, "B").len(), 2);
        let r = j.resumed.clone().unwrap();
        assert_eq!(
            r.to_string(),
            "resumed from step 10 (checkpoint sha256:b) on provider B after provider A failed"
        );
    }
}
