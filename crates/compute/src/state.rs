//! The life of a job, and why one stops.
//!
//! ```text
//!            ┌──────── lease lost / provider released it ─────────┐
//!            ▼                                                     │
//!  submit ─▶ Queued ──match──▶ Assigned ──worker starts──▶ Running ─┤
//!            │   ▲                 │                         │     │
//!            │   └─────────────────┘ (lease lost)            │     │
//!            │                                     result committed on chain
//!            │                                               ▼     │
//!            │                                           Committed ──challenge window──▶ Settled
//!            │                                                     │
//!            ├── acceptance deadline, nobody took it ─▶ Expired    │ (refunded)
//!            ├── requester cancels ──────────────────▶ Cancelled   │ (refunded)
//!            └── module fault / deadline missed ─────▶ Failed ◀────┘ (refunded)
//! ```
//!
//! The chain only escrows and settles; the node keeps this finer state machine and records
//! *why* a job stopped as a [`StopReason`], which is what `cairn job status` prints.
use crate::{ByteSize, Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Escrowed and waiting for a provider.
    Queued,
    /// Leased to a provider that has not started it yet.
    Assigned,
    /// A provider is running it.
    Running,
    /// The result is committed on chain; payment settles after the challenge window.
    Committed,
    /// The provider was paid.
    Settled,
    /// The job stopped without a result (module fault, deadline missed); refunded.
    Failed,
    /// Nobody took it before its acceptance deadline; refunded.
    Expired,
    /// The requester cancelled it; refunded.
    Cancelled,
}

impl JobState {
    /// Every state, in life order.
    pub const ALL: [JobState; 8] = [
        Self::Queued,
        Self::Assigned,
        Self::Running,
        Self::Committed,
        Self::Settled,
        Self::Failed,
        Self::Expired,
        Self::Cancelled,
    ];

    /// The lowercase name (also the JSON and database form).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Assigned => "assigned",
            Self::Running => "running",
            Self::Committed => "committed",
            Self::Settled => "settled",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses [`JobState::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether nothing more happens to the job.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Settled | Self::Failed | Self::Expired | Self::Cancelled
        )
    }

    /// Whether a provider holds a lease on it.
    pub fn is_leased(self) -> bool {
        matches!(self, Self::Assigned | Self::Running)
    }

    /// Whether the job may move from `self` to `to`.
    pub fn can_become(self, to: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, to),
            (Queued, Assigned | Expired | Cancelled | Failed)
                | (
                    Assigned,
                    Running | Queued | Committed | Failed | Expired | Cancelled
                )
                | (Running, Queued | Committed | Failed | Expired | Cancelled)
                | (Committed, Settled | Failed)
        )
    }

    /// `Ok` if [`JobState::can_become`], else [`Error::Transition`] naming the job.
    pub fn check(self, job: u64, to: JobState) -> Result<()> {
        if self.can_become(to) {
            Ok(())
        } else {
            Err(Error::Transition {
                job,
                from: self,
                to,
            })
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a job stopped without paying its provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum StopReason {
    /// The module used its whole fuel budget (an endless loop ends here).
    OutOfFuel {
        /// The budget.
        limit: u64,
    },
    /// The module tried to grow its memory past the cap.
    MemoryLimit {
        /// The cap in bytes.
        limit_bytes: u64,
    },
    /// The module ran past its wall-time cap.
    TimedOut {
        /// The cap in milliseconds.
        limit_ms: u64,
    },
    /// The module tried something the sandbox forbids (file outside its directories, network).
    Denied {
        /// What it tried, as the sandbox reported it.
        detail: String,
    },
    /// The module trapped (unreachable, bad memory access, failed to instantiate).
    Trapped {
        /// The trap.
        detail: String,
    },
    /// The sandbox refused to start the job: the module is not a valid WASI command, or an
    /// input cannot be placed.
    InvalidJob {
        /// The sandbox's explanation.
        detail: String,
    },
    /// The module exited with a non-zero status.
    Exited {
        /// The status.
        code: i32,
    },
    /// Nobody took the job before its acceptance deadline.
    NobodyCanTake {
        /// Why, as the matcher explained it.
        why: String,
    },
    /// The provider did not commit a result before the deadline.
    DeadlineMissed,
    /// The requester cancelled the job.
    Cancelled,
    /// The provider committed a charge larger than its own metering bills; the result was
    /// challenged and the payment refunded.
    Overcharged {
        /// The charge committed on chain (base units).
        charged: u64,
        /// What the reported fuel and time bill at the job's price.
        billed: u64,
    },
    /// A sampled step audit re-executed part of the committed trace and got other bytes: the
    /// result was challenged, the payment refunded and the provider slashed.
    AuditFailed {
        /// What did not check out (naming the step).
        detail: String,
    },
    /// Replicas of the job on other providers agreed on another result: the result was
    /// challenged, the payment refunded and the provider slashed.
    ReplicaMismatch {
        /// The replicas and what they committed.
        detail: String,
    },
}

impl StopReason {
    /// Whether the module itself caused the stop (as opposed to scheduling or the requester).
    pub fn is_module_fault(&self) -> bool {
        matches!(
            self,
            Self::OutOfFuel { .. }
                | Self::MemoryLimit { .. }
                | Self::TimedOut { .. }
                | Self::Denied { .. }
                | Self::Trapped { .. }
                | Self::InvalidJob { .. }
                | Self::Exited { .. }
        )
    }

    /// Whether the provider is paid for the work metered before this stop: a fault of the
    /// module, or the requester cancelling while it ran. Not for stops the provider caused or
    /// that happened before any work (expiry, missed deadline, nobody took it).
    pub fn is_billable(&self) -> bool {
        self.is_module_fault() || matches!(self, Self::Cancelled)
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfFuel { limit } => write!(
                f,
                "out of fuel: the module used its whole budget of {limit} fuel units (an endless loop?); raise limits.fuel if the work is real"
            ),
            Self::MemoryLimit { limit_bytes } => write!(
                f,
                "memory limit: the module tried to grow past {}; raise resources.memory if it needs more",
                ByteSize(*limit_bytes)
            ),
            Self::TimedOut { limit_ms } => write!(
                f,
                "timed out: still running after {} s of wall time; raise limits.wall_time_secs",
                limit_ms.div_ceil(1000)
            ),
            Self::Denied { detail } => write!(f, "denied: {detail}"),
            Self::Trapped { detail } => write!(f, "trapped: {detail}"),
            Self::InvalidJob { detail } => write!(f, "invalid job: {detail}"),
            Self::Exited { code } => write!(f, "the module exited with status {code}"),
            Self::NobodyCanTake { why } => {
                write!(f, "expired: nobody took the job in time: {why}")
            }
            Self::DeadlineMissed => f.write_str("no result was committed before the deadline"),
            Self::Cancelled => f.write_str("cancelled by the requester"),
            Self::Overcharged { charged, billed } => write!(
                f,
                "the provider committed a charge of {} but its metering bills {}; challenged and refunded",
                crate::fmt_usdt(*charged),
                crate::fmt_usdt(*billed)
            ),
            Self::AuditFailed { detail } => write!(
                f,
                "disputed: the sampled step audit failed ({detail}); challenged, refunded and the provider slashed"
            ),
            Self::ReplicaMismatch { detail } => write!(
                f,
                "disputed: replicas on other providers agree on another result ({detail}); challenged, refunded and the provider slashed"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_go_nowhere_and_names_round_trip() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
            if s.is_terminal() {
                assert!(JobState::ALL.iter().all(|&t| !s.can_become(t)), "{s}");
            }
        }
        assert!(JobState::Running.can_become(JobState::Queued));
        assert!(!JobState::Committed.can_become(JobState::Queued));
        let e = JobState::Settled.check(7, JobState::Running).unwrap_err();
        assert_eq!(e.to_string(), "job 7: cannot go from settled to running");
    }

    #[test]
    fn reasons_say_what_happened_in_words() {
        let r = StopReason::MemoryLimit {
            limit_bytes: 64 << 20,
        };
        assert!(r.to_string().starts_with("memory limit"));
        assert!(r.to_string().contains("64 MiB"));
        assert!(
            StopReason::OutOfFuel { limit: 5 }
                .to_string()
                .starts_with("out of fuel")
        );
        assert!(
            StopReason::TimedOut { limit_ms: 1500 }
                .to_string()
                .contains("2 s")
        );
        assert!(r.is_module_fault());
        assert!(!StopReason::Cancelled.is_module_fault());
        let json = serde_json::to_string(&StopReason::Denied {
            detail: "network".into(),
        })
        .unwrap();
        assert_eq!(json, r#"{"kind":"denied","detail":"network"}"#);
    }
}
