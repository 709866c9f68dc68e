//! `dispute/v1`: one step of a refereed bisection dispute over a committed result, as the
//! market's node saw it on chain — opened, a side that failed to answer in time, the referee's
//! ruling, the payout. The subject is the provider's committed trace root; the predicate names
//! the transaction that did it, so a verifier can check every statement against the chain.
use super::{DISPUTE_V1, Predicate, job_receipt::address, require_subject};
use crate::{Digest, FieldError, Subject, check, digest::SHA256};
use serde::{Deserialize, Serialize};

/// What happened, in the order a dispute can see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeEvent {
    /// The challenger opened the dispute with its own trace root and posted its bond.
    Opened,
    /// A side did not reveal its leaf before the round's deadline (see `failedToAnswer`).
    Timeout,
    /// The referee recomputed the disputed segment and ruled (see `verdict`).
    Ruled,
    /// The contract paid out (see `outcome`).
    Resolved,
}

/// Predicate of [`DISPUTE_V1`] (`https://cairn.dev/attestation/dispute/v1`).
///
/// ```json
/// {"jobId": "7", "market": "0x…", "event": "resolved", "provider": "0x…",
///  "challenger": "0x…", "traceRoot": "sha256:…", "challengerRoot": "sha256:…",
///  "lo": 4, "hi": 5, "rounds": 4, "outcome": "provider_wrong", "slashed": "50000000",
///  "tx": "0x…"}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisputeV1 {
    /// The job's id in the market.
    pub job_id: String,
    /// The `ComputeMarket` contract.
    pub market: String,
    /// What this statement records.
    pub event: DisputeEvent,
    /// The provider whose result is disputed.
    pub provider: String,
    /// Who disputes it.
    pub challenger: String,
    /// The provider's committed trace root (also the statement's subject).
    pub trace_root: Digest,
    /// The challenger's trace root.
    pub challenger_root: Digest,
    /// The checkpoint both sides agree on (so far).
    pub lo: u32,
    /// The checkpoint they differ at (so far).
    pub hi: u32,
    /// Bisection rounds completed.
    pub rounds: u32,
    /// The referee (once assigned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referee: Option<String>,
    /// `provider` or `challenger`: the side that did not answer in time (`timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_to_answer: Option<String>,
    /// The referee's verdict (`ruled`): `provider_right`, `challenger_right`, `neither_right`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// How it ended (`resolved`): `provider_wrong`, `challenger_wrong`, `both_wrong`,
    /// `no_ruling`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Token base units slashed from the provider (`resolved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slashed: Option<String>,
    /// The transaction that did it (`0x` + 64 hex).
    pub tx: String,
}

impl DisputeV1 {
    /// [`DISPUTE_V1`].
    pub const PREDICATE_TYPE: &'static str = DISPUTE_V1;
}

fn one_of(path: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), FieldError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(FieldError::new(
            path,
            format!("must be one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

fn required(path: &str, present: bool, event: &str) -> Result<(), FieldError> {
    if present {
        Ok(())
    } else {
        Err(FieldError::new(
            path,
            format!("is required for a {event} statement"),
        ))
    }
}

impl Predicate for DisputeV1 {
    fn predicate_type(&self) -> &'static str {
        DISPUTE_V1
    }

    fn validate(&self) -> Result<(), FieldError> {
        check::text("predicate.jobId", &self.job_id)?;
        address("predicate.market", &self.market)?;
        address("predicate.provider", &self.provider)?;
        address("predicate.challenger", &self.challenger)?;
        if let Some(r) = &self.referee {
            address("predicate.referee", r)?;
        }
        check::algorithm("predicate.traceRoot", &self.trace_root, SHA256)?;
        check::algorithm("predicate.challengerRoot", &self.challenger_root, SHA256)?;
        if self.hi <= self.lo {
            return Err(FieldError::new("predicate.hi", "must be greater than lo"));
        }
        one_of(
            "predicate.failedToAnswer",
            self.failed_to_answer.as_deref(),
            &["provider", "challenger"],
        )?;
        one_of(
            "predicate.verdict",
            self.verdict.as_deref(),
            &["provider_right", "challenger_right", "neither_right"],
        )?;
        one_of(
            "predicate.outcome",
            self.outcome.as_deref(),
            &[
                "provider_wrong",
                "challenger_wrong",
                "both_wrong",
                "no_ruling",
            ],
        )?;
        if let Some(s) = &self.slashed
            && (s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 78)
        {
            return Err(FieldError::new(
                "predicate.slashed",
                "must be a decimal amount in base units",
            ));
        }
        match self.event {
            DisputeEvent::Opened => {}
            DisputeEvent::Timeout => required(
                "predicate.failedToAnswer",
                self.failed_to_answer.is_some(),
                "timeout",
            )?,
            DisputeEvent::Ruled => {
                required("predicate.verdict", self.verdict.is_some(), "ruled")?;
                required("predicate.referee", self.referee.is_some(), "ruled")?;
            }
            DisputeEvent::Resolved => {
                required("predicate.outcome", self.outcome.is_some(), "resolved")?
            }
        }
        let hex = self.tx.strip_prefix("0x").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FieldError::new(
                "predicate.tx",
                "must be a 0x-prefixed 32-byte transaction hash",
            ));
        }
        Ok(())
    }

    fn check_subjects(&self, subjects: &[Subject]) -> Result<(), FieldError> {
        require_subject(subjects, &self.trace_root, "predicate.traceRoot")
    }

    /// The provider's trace root, then the challenger's.
    fn upstream_digests(&self) -> Vec<Digest> {
        vec![self.trace_root.clone(), self.challenger_root.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case = (fn(&mut DisputeV1), &'static str);

    fn sample() -> DisputeV1 {
        DisputeV1 {
            job_id: "7".into(),
            market: format!("0x{}", "ab".repeat(20)),
            event: DisputeEvent::Resolved,
            provider: format!("0x{}", "01".repeat(20)),
            challenger: format!("0x{}", "02".repeat(20)),
            trace_root: Digest::from_sha256([1; 32]),
            challenger_root: Digest::from_sha256([2; 32]),
            lo: 4,
            hi: 5,
            rounds: 4,
            referee: Some(format!("0x{}", "03".repeat(20))),
            failed_to_answer: None,
            verdict: None,
            outcome: Some("provider_wrong".into()),
            slashed: Some("50000000".into()),
            tx: format!("0x{}", "cd".repeat(32)),
        }
    }

    #[test]
    fn a_valid_statement_passes_and_names_the_trace_as_its_subject() {
        let d = sample();
        d.validate().unwrap();
        d.check_subjects(&[Subject::new("trace", &d.trace_root)])
            .unwrap();
        assert!(
            d.check_subjects(&[Subject::new("other", &d.challenger_root)])
                .is_err()
        );
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["event"], "resolved");
        assert_eq!(json["failedToAnswer"], serde_json::Value::Null);
        let back: DisputeV1 = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [Case; 8] = [
            (
                |d| d.market = "0x12".into(),
                "predicate.market: must be a 0x",
            ),
            (
                |d| d.trace_root = Digest::from_blake3([1; 32]),
                "predicate.traceRoot: must be a sha256",
            ),
            (|d| d.hi = d.lo, "predicate.hi: must be greater"),
            (
                |d| d.outcome = Some("won".into()),
                "predicate.outcome: must be one of",
            ),
            (|d| d.outcome = None, "predicate.outcome: is required"),
            (
                |d| {
                    d.event = DisputeEvent::Timeout;
                    d.failed_to_answer = Some("referee".into())
                },
                "predicate.failedToAnswer: must be one of",
            ),
            (
                |d| {
                    d.event = DisputeEvent::Ruled;
                    d.verdict = Some("provider_right".into());
                    d.referee = None
                },
                "predicate.referee: is required",
            ),
            (
                |d| d.slashed = Some("-1".into()),
                "predicate.slashed: must be",
            ),
        ];
        for (mutate, expected) in cases {
            let mut d = sample();
            mutate(&mut d);
            let err = d.validate().unwrap_err().to_string();
            assert!(err.starts_with(expected), "{expected}: {err}");
        }
        let mut d = sample();
        d.tx = "0x1".into();
        assert!(
            d.validate()
                .unwrap_err()
                .to_string()
                .contains("predicate.tx")
        );
    }
}
