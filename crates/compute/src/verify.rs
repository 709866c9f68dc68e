//! Adaptive verification: which committed results get checked, how, and why.
//!
//! ```text
//!  result committed ─▶ seed (the node's signature over the commitment: unknown to the provider
//!                     before it commits, fixed after) ─▶ draw u ∈ [0, 1)
//!  provider's valid streak n ─▶ p(n) = 1 while n < probation, else max(p_min, 1/n)
//!      ├─ u < p ─▶ check: train ─▶ sampled step audit of k segments (cost k/segments)
//!      │                  wasm, infer ─▶ replication on a second provider (cost 1.0)
//!      └─ u ≥ p ─▶ not checked: settles after the challenge window
//!  check passed / not checked ─▶ n + 1        check failed ─▶ n = 0 (dispute, slash)
//! ```
//!
//! **Why these methods.** A `train` job commits a trace of checkpoints, and Cairn's kernels are
//! bit-exact, so re-executing `k` of its segments from their committed starting points is a
//! check at `k/segments` of the job's cost. The audit always includes the last segment (the one
//! the model file comes from) and checks the first checkpoint against the spec, so a wrong
//! model, a wrong final checkpoint, a lower-precision run (it diverges in every segment) and a
//! copy of another job's result are caught with certainty when checked; a provider that faked a
//! fraction `f` of the segments is caught with probability at least `1 − (1 − f)^k`
//! ([`detection_probability`]). Replicating a `train` job would add certainty only against
//! small `f`, at `1.0×` instead of `k/segments`, and small `f` is what pays the cheater least:
//! so `train` results are never replicated, new providers included. Jobs without a step trace
//! (`wasm`, `infer`) have nothing to sample: replication (a second provider runs the same job,
//! the outputs and trace roots are compared; a mismatch goes to a referee) is their only check.
//!
//! **Why the floor `p_min`.** With `1/n` alone a provider with a long streak is almost never
//! checked. Against a cheat that saves the cheater a fraction `f` of a job's cost `c` and is
//! caught, when checked, with probability `d(f) ≥ f`, losing the payment `P` and a slash `S`,
//! cheating does not pay in expectation as long as `p · d(f) · (S + P) ≥ f · c`. Since
//! `d(f) / f ≥ 1`, `p ≥ c / (S + P)` is enough for every `f`; with `c ≤ P` that is
//! `p ≥ P / (S + P)`. The default [`DEFAULT_P_MIN`] = 0.05 makes every cheat a loss whenever a
//! slash is at least 19 payments (`1/20`); the simulation ([`sim`]) reports the cheater's
//! expected outcome for its own parameters.
//!
//! **Why the seed comes from the node's signature.** The decision must be unpredictable to the
//! provider when it commits (or it would cheat exactly when unchecked) and fixed afterwards (or
//! the node could favour a provider). A deterministic signature over the commitment is both; it
//! is published with the decision, so anyone can recompute the draw.
use crate::JobKind;
use serde::{Deserialize, Serialize};

pub mod sim;

/// The floor of the check probability: a provider with any streak is checked at least this
/// often (see the module docs for why 0.05).
pub const DEFAULT_P_MIN: f64 = 0.05;

/// Results of a provider that are always checked, counted from its first or from its last
/// invalid result.
pub const DEFAULT_PROBATION: u64 = 3;

/// Segments a sampled step audit re-executes.
pub const DEFAULT_SAMPLES: u32 = 2;

/// Domain separation of the draw from other uses of the same seed (the audit's segments).
const DRAW_DOMAIN: u64 = 0x6361_6972_6e2d_7631; // "cairn-v1"

/// How a result is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Re-execution of `samples` segments of the committed step trace (`train`).
    SampledAudit,
    /// A second provider runs the same job; outputs and trace roots are compared.
    Replication,
    /// Not checked: it settles after the challenge window.
    NotChecked,
}

impl Method {
    /// The method's name in records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SampledAudit => "sampled-audit",
            Self::Replication => "replication",
            Self::NotChecked => "not-checked",
        }
    }

    /// How a job of `kind` is checked when it is.
    pub fn for_kind(kind: JobKind) -> Self {
        match kind {
            JobKind::Train => Self::SampledAudit,
            JobKind::Wasm | JobKind::Infer => Self::Replication,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`Policy::decide`] decided for one result, with everything needed to recompute it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// How the result is checked (or that it is not).
    pub method: Method,
    /// The provider's valid streak when the result was committed.
    pub streak: u64,
    /// The probability of a check at that streak.
    pub probability: f64,
    /// The draw from the seed, in `[0, 1)`: checked when below `probability`.
    pub draw: f64,
    /// The seed the draw (and an audit's segments) come from.
    pub seed: u64,
    /// Segments an audit re-executes (0 unless the method is a sampled audit).
    pub samples: u32,
    /// Why, in words.
    pub reason: String,
}

impl Decision {
    /// Whether the result is checked.
    pub fn checked(&self) -> bool {
        self.method != Method::NotChecked
    }
}

/// The policy's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// The floor of the check probability, in `(0, 1]`.
    pub p_min: f64,
    /// Results always checked after a provider's start or its last invalid result.
    pub probation: u64,
    /// Segments a sampled step audit re-executes (at least 1).
    pub samples: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            p_min: DEFAULT_P_MIN,
            probation: DEFAULT_PROBATION,
            samples: DEFAULT_SAMPLES,
        }
    }
}

/// A policy parameter out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// The floor is not a probability above 0.
    #[error("the check probability floor must be in (0, 1], not {0}")]
    PMin(f64),
    /// An audit of no segments checks nothing.
    #[error("a sampled audit must re-execute at least 1 segment")]
    Samples,
}

impl Policy {
    /// The default policy with `samples` segments per audit.
    pub fn with_samples(samples: u32) -> Result<Self, PolicyError> {
        Self {
            samples,
            ..Self::default()
        }
        .validated()
    }

    /// This policy, or what is out of range in it.
    pub fn validated(self) -> Result<Self, PolicyError> {
        if !(self.p_min > 0.0 && self.p_min <= 1.0) {
            return Err(PolicyError::PMin(self.p_min));
        }
        if self.samples == 0 {
            return Err(PolicyError::Samples);
        }
        Ok(self)
    }

    /// The probability that a result of a provider with valid streak `streak` is checked:
    /// 1 during probation, then `1/streak`, never below `p_min`.
    pub fn probability(&self, streak: u64) -> f64 {
        if streak < self.probation.max(1) {
            return 1.0;
        }
        (1.0 / streak as f64).clamp(self.p_min.min(1.0), 1.0)
    }

    /// Decides, deterministically from `seed`, whether and how a `kind` result of a provider
    /// with valid streak `streak` is checked.
    pub fn decide(&self, kind: JobKind, streak: u64, seed: u64) -> Decision {
        let p = self.probability(streak);
        let u = draw(seed);
        let checked = u < p;
        let method = if checked {
            Method::for_kind(kind)
        } else {
            Method::NotChecked
        };
        let reason = if streak < self.probation.max(1) {
            format!(
                "probation: streak {streak} < {} (new, or invalid lately): always checked",
                self.probation.max(1)
            )
        } else if checked {
            format!("streak {streak}: checked with p = {p:.3} (draw {u:.3} < p)")
        } else {
            format!("streak {streak}: not checked, p = {p:.3} (draw {u:.3} ≥ p)")
        };
        Decision {
            method,
            streak,
            probability: p,
            draw: u,
            seed,
            samples: if method == Method::SampledAudit {
                self.samples
            } else {
                0
            },
            reason,
        }
    }
}

/// The provider's streak after a result: one more when it was accepted (checked and valid, or
/// not checked), 0 when it was invalid.
pub fn next_streak(streak: u64, valid: bool) -> u64 {
    if valid { streak.saturating_add(1) } else { 0 }
}

/// The probability that `samples` segments drawn uniformly (with replacement) catch a provider
/// that faked a fraction `faked` of them: `1 − (1 − f)^k`. Drawing without replacement, and
/// always including the last segment, only does better.
pub fn detection_probability(faked: f64, samples: u32) -> f64 {
    1.0 - (1.0 - faked.clamp(0.0, 1.0)).powi(samples.min(i32::MAX as u32) as i32)
}

/// The draw in `[0, 1)` for `seed`: 53 bits of a SplitMix64 step of the seed (separated from
/// the audit's use of the same seed).
pub fn draw(seed: u64) -> f64 {
    (splitmix64(seed ^ DRAW_DOMAIN) >> 11) as f64 / (1u64 << 53) as f64
}

/// One SplitMix64 output for state `x`.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_is_one_in_probation_then_one_over_n_with_a_floor() {
        let p = Policy::default();
        for n in 0..DEFAULT_PROBATION {
            assert_eq!(p.probability(n), 1.0, "streak {n}");
        }
        assert_eq!(p.probability(4), 0.25);
        assert_eq!(p.probability(10), 0.1);
        assert_eq!(p.probability(20), 0.05);
        assert_eq!(p.probability(1000), DEFAULT_P_MIN);
        assert_eq!(p.probability(u64::MAX), DEFAULT_P_MIN);
        let strict = Policy {
            p_min: 0.5,
            probation: 0,
            samples: 2,
        };
        // Probation 0 still checks a provider with no streak at all.
        assert_eq!(strict.probability(0), 1.0);
        assert_eq!(strict.probability(1), 1.0);
        assert_eq!(strict.probability(3), 0.5);
    }

    #[test]
    fn decisions_are_a_function_of_the_seed() {
        let p = Policy::default();
        for seed in [0, 1, 42, u64::MAX] {
            assert_eq!(
                p.decide(JobKind::Train, 50, seed),
                p.decide(JobKind::Train, 50, seed)
            );
        }
        // Different seeds give different draws, spread over [0, 1).
        let draws: Vec<f64> = (0..1000).map(draw).collect();
        assert!(draws.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mut distinct = draws.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert_eq!(distinct.len(), 1000);
        let mean = draws.iter().sum::<f64>() / 1000.0;
        assert!((mean - 0.5).abs() < 0.05, "mean draw {mean}");
    }

    #[test]
    fn the_share_checked_follows_the_probability() {
        let p = Policy::default();
        for (streak, want) in [(0u64, 1.0), (4, 0.25), (10, 0.1), (500, 0.05)] {
            let checked = (0..20_000u64)
                .filter(|&s| {
                    p.decide(JobKind::Train, streak, s.wrapping_mul(0x9e37))
                        .checked()
                })
                .count() as f64
                / 20_000.0;
            // 20,000 draws: a binomial's standard deviation is below 0.0036.
            assert!(
                (checked - want).abs() < 0.015,
                "streak {streak}: {checked} checked, want {want}"
            );
        }
    }

    #[test]
    fn methods_follow_the_kind_and_new_providers_are_always_checked() {
        let p = Policy::default();
        for seed in 0..200 {
            let d = p.decide(JobKind::Train, 0, seed);
            assert_eq!(d.method, Method::SampledAudit);
            assert_eq!(d.samples, DEFAULT_SAMPLES);
            assert!(d.reason.contains("probation"), "{}", d.reason);
            let w = p.decide(JobKind::Wasm, 1, seed);
            assert_eq!(w.method, Method::Replication);
            assert_eq!(w.samples, 0);
            assert_eq!(
                p.decide(JobKind::Infer, 2, seed).method,
                Method::Replication
            );
        }
        let unchecked = (0..200)
            .map(|s| p.decide(JobKind::Train, 1000, s))
            .find(|d| !d.checked())
            .expect("some result of a long streak goes unchecked");
        assert_eq!(unchecked.samples, 0);
        assert!(unchecked.draw >= unchecked.probability);
        assert!(
            unchecked.reason.contains("not checked"),
            "{}",
            unchecked.reason
        );
    }

    #[test]
    fn an_invalid_result_resets_the_streak() {
        assert_eq!(next_streak(0, true), 1);
        assert_eq!(next_streak(41, true), 42);
        assert_eq!(next_streak(41, false), 0);
        assert_eq!(next_streak(u64::MAX, true), u64::MAX);
        // Back in probation: always checked again.
        let p = Policy::default();
        assert_eq!(p.probability(next_streak(1000, false)), 1.0);
    }

    #[test]
    fn detection_is_one_minus_one_minus_f_to_the_k() {
        assert_eq!(detection_probability(0.0, 4), 0.0);
        assert_eq!(detection_probability(1.0, 1), 1.0);
        assert!((detection_probability(0.5, 2) - 0.75).abs() < 1e-12);
        assert!((detection_probability(0.1, 4) - (1.0 - 0.9f64.powi(4))).abs() < 1e-12);
        // Never below f for k ≥ 1: the floor argument of the module docs.
        for k in 1..8 {
            for i in 1..=100 {
                let f = i as f64 / 100.0;
                assert!(detection_probability(f, k) >= f - 1e-12);
            }
        }
        // Out-of-range fractions are clamped, not NaN.
        assert_eq!(detection_probability(2.0, 3), 1.0);
    }

    #[test]
    fn out_of_range_parameters_are_refused() {
        assert_eq!(Policy::with_samples(0), Err(PolicyError::Samples));
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            let p = Policy {
                p_min: bad,
                ..Policy::default()
            };
            assert!(p.validated().is_err(), "{bad}");
        }
        assert!(Policy::with_samples(3).is_ok());
    }
}
