//! Checking a provider's claimed cores before it wins jobs: a proof of parallel work.
//!
//! ```text
//!  advertise(cores = L) ──▶ node: Challenge { seed, lanes: L, iters: N } (clock starts)
//!  worker: L lanes, each N chained SHA-256 steps from H(seed ‖ lane), on L threads
//!  answer (every lane's last hash) ──▶ node: recompute a few random lanes; elapsed T
//!  verified cores = min(L, ⌊L·N / T / FLOOR_RATE⌋)
//! ```
//!
//! Each lane is a hash chain, so it cannot be computed faster than N sequential hashes; the
//! lanes are independent, so L of them take one lane's time only on L cores. A provider with c
//! real cores needs about L/c times as long and is credited with the cores its throughput
//! shows, at a conservative per-core floor ([`FLOOR_RATE`]): a machine claiming 256 cores with 2
//! is credited with a handful at most, never with 256, and an answer with a wrong lane (lanes
//! skipped) fails outright. The node recomputes only [`CHECKED_LANES`] lanes; a provider that
//! fakes a fraction f of its lanes passes with probability (1 − f)^k.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Chained hashes per lane: 25 ms on one core of this project's machines (SHA-NI), 100 ms at
/// the floor rate.
pub const CALIBRATION_ITERS: u64 = 300_000;
/// The per-core rate (chained SHA-256 steps a second) below which a core is not credited:
/// about a quarter of a current core with SHA extensions and half of one without, so honest
/// providers verify all their cores even on a busy machine, and a liar can overstate its cores
/// by a few times at most (then its jobs run late and cost it reputation).
pub const FLOOR_RATE: u64 = 3_000_000;
/// How often a provider credited with fewer cores than it claims may be calibrated again (it
/// re-advertises; the node hands out a new challenge at most this often).
pub const RECALIBRATE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
/// Lanes the node recomputes to check an answer.
pub const CHECKED_LANES: usize = 2;

/// The node's question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    /// Hex of 32 random bytes.
    pub seed: String,
    /// One lane per claimed core.
    pub lanes: u32,
    /// Chained hashes per lane.
    pub iters: u64,
}

/// The provider's answer: the last hash of every lane, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// The challenge's seed.
    pub seed: String,
    /// Hex of each lane's final hash.
    pub lanes: Vec<String>,
}

/// One lane: `N` chained SHA-256 steps from `H(seed ‖ lane)`.
pub fn lane(seed: &[u8; 32], lane: u32, iters: u64) -> [u8; 32] {
    let mut h: [u8; 32] = Sha256::new()
        .chain_update(seed)
        .chain_update(lane.to_le_bytes())
        .finalize()
        .into();
    for _ in 0..iters {
        h = Sha256::digest(h).into();
    }
    h
}

/// Answers `c` with one thread per lane (what an honest worker runs).
pub fn answer(c: &Challenge) -> Option<Answer> {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(&c.seed, &mut seed).ok()?;
    let lanes: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..c.lanes)
            .map(|i| s.spawn(move || hex::encode(lane(&seed, i, c.iters))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    Some(Answer {
        seed: c.seed.clone(),
        lanes,
    })
}

/// Checks `a` against `c` by recomputing the lanes `check` names; `Err` says what is wrong.
pub fn check(c: &Challenge, a: &Answer, check: &[u32]) -> Result<(), String> {
    if a.seed != c.seed {
        return Err("the answer is for another challenge".into());
    }
    if a.lanes.len() != c.lanes as usize {
        return Err(format!(
            "the answer has {} lanes, the challenge {}",
            a.lanes.len(),
            c.lanes
        ));
    }
    let mut seed = [0u8; 32];
    hex::decode_to_slice(&c.seed, &mut seed).map_err(|_| "bad seed".to_owned())?;
    for &i in check {
        if a.lanes.get(i as usize) != Some(&hex::encode(lane(&seed, i, c.iters))) {
            return Err(format!("lane {i} is wrong: the work was not done"));
        }
    }
    Ok(())
}

/// The cores a correct answer after `elapsed_ms` shows, at most the lanes claimed.
pub fn verified_cores(c: &Challenge, elapsed_ms: u64) -> u32 {
    let work = u128::from(c.lanes) * u128::from(c.iters) * 1000;
    let per_core = u128::from(FLOOR_RATE) * u128::from(elapsed_ms.max(1));
    let shown = work / per_core;
    shown.min(u128::from(c.lanes)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(lanes: u32) -> Challenge {
        Challenge {
            seed: hex::encode([7u8; 32]),
            lanes,
            iters: 1000,
        }
    }

    #[test]
    fn an_honest_answer_checks_and_a_skipped_lane_does_not() {
        let c = challenge(4);
        let a = answer(&c).unwrap();
        assert!(check(&c, &a, &[0, 3]).is_ok());
        let mut lazy = a.clone();
        lazy.lanes[3] = hex::encode([0u8; 32]);
        assert!(check(&c, &lazy, &[3]).unwrap_err().contains("lane 3"));
        lazy.lanes.pop();
        assert!(check(&c, &lazy, &[0]).unwrap_err().contains("3 lanes"));
    }

    #[test]
    fn credit_follows_throughput_not_the_claim() {
        let c = Challenge {
            seed: String::new(),
            lanes: 256,
            iters: CALIBRATION_ITERS,
        };
        // 256 lanes in the time one lane takes at the floor rate: all 256 cores shown.
        let one_lane_ms = CALIBRATION_ITERS * 1000 / FLOOR_RATE;
        assert_eq!(verified_cores(&c, one_lane_ms), 256);
        // A machine that needed 128 times as long shows 2.
        assert_eq!(verified_cores(&c, one_lane_ms * 128), 2);
        assert_eq!(verified_cores(&c, u64::MAX), 0);
    }
}
