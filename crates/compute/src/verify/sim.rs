//! A simulated workload through the verification policy: what checking costs, in units of
//! useful compute, and what it catches.
//!
//! ```text
//!  job (kind, length in steps, segments) ─▶ provider (uniform; not one that failed it)
//!     ├─ timeout ─▶ nothing paid, reassigned
//!     └─ result ─▶ Policy::decide(kind, streak, seed)      ◀── the node's code
//!           ├─ sampled audit: k segments re-executed (cost k/segments of the job)
//!           ├─ replication: a second provider runs it (cost 1.0)
//!           └─ not checked: paid (a cheat here is missed)
//!        mismatch ─▶ dispute: ⌈log2 segments⌉ bisection rounds, a referee recomputes one
//!                    segment ─▶ the liar is slashed, streak 0, the job is run again
//! ```
//!
//! Modelled, not measured: the cost of an audit is `k/segments` of the job (`bench_audit`
//! measures the real ratio), a replica costs the whole job, a referee one segment; honest runs
//! are bit-exact (Cairn's kernels), so a check never fails an honest result; every check ends
//! before payment (the node holds payment until the audit is decided).
use super::{Method, Policy, PolicyError, next_streak, splitmix64};
use crate::JobKind;
use serde::{Deserialize, Serialize};

/// Jobs in the default workload.
pub const DEFAULT_JOBS: u64 = 1_000;
/// Share of providers that start with no history.
pub const DEFAULT_NEW_SHARE: f64 = 0.20;
/// Share of providers that cheat.
pub const DEFAULT_CHEATER_SHARE: f64 = 0.05;
/// Share of jobs that are `wasm` (no step trace: replicated when checked); the rest `train`.
pub const DEFAULT_WASM_SHARE: f64 = 0.20;
/// A slash, in payments of a job of mean length.
pub const DEFAULT_SLASH_PAYMENTS: f64 = 20.0;
/// Jobs per provider when the provider count is not given.
pub const JOBS_PER_PROVIDER: u64 = 10;
/// The streak range of providers with a history: uniform in this range.
pub const ESTABLISHED_STREAK: (u64, u64) = (10, 200);
/// Job lengths in steps: log-uniform in this range.
pub const JOB_STEPS: (u64, u64) = (200, 50_000);
/// Steps per segment a `train` job aims at (its segments are clamped to 4..=64).
pub const STEPS_PER_SEGMENT: u64 = 250;
/// The most jobs a simulation runs.
pub const MAX_JOBS: u64 = 10_000_000;
/// Runs of one job before it is given up (every provider left failed or timed out).
const MAX_ATTEMPTS: u32 = 64;

/// How a cheating provider cheats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cheat {
    /// Returns an output it did not compute (the model is not the last checkpoint's).
    WrongOutput,
    /// Fakes a fraction of the segments (skipped steps), the rest honest.
    SkippedSteps,
    /// Copies another job's result (its first checkpoint is not this spec's initial state).
    LazyCopy,
    /// Trains at lower precision: cheaper, diverges in every segment.
    LowerPrecision,
    /// Honest checkpoints except a wrong final one.
    WrongFinal,
    /// Takes the job and never delivers.
    Timeout,
}

impl Cheat {
    /// Every cheat, in the order cheaters are given them.
    pub const ALL: [Cheat; 6] = [
        Cheat::WrongOutput,
        Cheat::SkippedSteps,
        Cheat::LazyCopy,
        Cheat::LowerPrecision,
        Cheat::WrongFinal,
        Cheat::Timeout,
    ];

    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongOutput => "wrong-output",
            Self::SkippedSteps => "skipped-steps",
            Self::LazyCopy => "lazy-copy",
            Self::LowerPrecision => "lower-precision",
            Self::WrongFinal => "wrong-final-checkpoint",
            Self::Timeout => "timeout",
        }
    }
}

/// The workload and the policy it runs through.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimConfig {
    /// Jobs submitted.
    pub jobs: u64,
    /// Providers (default: one per [`JOBS_PER_PROVIDER`] jobs, at least 20).
    pub providers: u64,
    /// Share of providers with no history.
    pub new_share: f64,
    /// Share of providers that cheat (spread over new and established ones alike).
    pub cheater_share: f64,
    /// Share of a cheater's jobs it cheats on (each time one of the [`Cheat`]s, drawn
    /// uniformly).
    pub cheat_rate: f64,
    /// Share of jobs that are `wasm`.
    pub wasm_share: f64,
    /// A slash, in payments of a job of mean length.
    pub slash_payments: f64,
    /// The policy.
    pub policy: Policy,
    /// Seed of the workload and of every decision.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self::new(DEFAULT_JOBS)
    }
}

/// A simulation parameter out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// A share that is not in `[0, 1]`.
    #[error("the {what} must be a share between 0 and 1, not {value}")]
    Share {
        /// Which share.
        what: &'static str,
        /// The value given.
        value: f64,
    },
    /// No jobs, or too many.
    #[error("the number of jobs must be between 1 and {MAX_JOBS}, not {0}")]
    Jobs(u64),
    /// Replication needs a second provider.
    #[error("the workload needs at least 2 providers (replication runs a job twice), not {0}")]
    Providers(u64),
    /// A slash that is negative or not a number.
    #[error("the slash must be a finite number of payments ≥ 0, not {0}")]
    Slash(f64),
    /// The policy's parameters.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl SimConfig {
    /// The default workload with `jobs` jobs.
    pub fn new(jobs: u64) -> Self {
        Self {
            jobs,
            providers: (jobs / JOBS_PER_PROVIDER).max(20),
            new_share: DEFAULT_NEW_SHARE,
            cheater_share: DEFAULT_CHEATER_SHARE,
            cheat_rate: 1.0,
            wasm_share: DEFAULT_WASM_SHARE,
            slash_payments: DEFAULT_SLASH_PAYMENTS,
            policy: Policy::default(),
            seed: 1,
        }
    }

    /// This configuration, or what is out of range in it.
    pub fn validated(self) -> Result<Self, SimError> {
        if self.jobs == 0 || self.jobs > MAX_JOBS {
            return Err(SimError::Jobs(self.jobs));
        }
        if self.providers < 2 || self.providers > MAX_JOBS {
            return Err(SimError::Providers(self.providers));
        }
        for (what, value) in [
            ("new-provider share", self.new_share),
            ("cheater share", self.cheater_share),
            ("cheat rate", self.cheat_rate),
            ("wasm job share", self.wasm_share),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(SimError::Share { what, value });
            }
        }
        if !(self.slash_payments.is_finite() && self.slash_payments >= 0.0) {
            return Err(SimError::Slash(self.slash_payments));
        }
        self.policy.validated()?;
        Ok(self)
    }
}

/// Compute spent, in steps (units of useful compute).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Compute {
    /// The jobs themselves, each once.
    pub useful: f64,
    /// Second runs of replicated jobs.
    pub replication: f64,
    /// Segments re-executed by sampled audits.
    pub audits: f64,
    /// Segments recomputed by referees in disputes.
    pub disputes: f64,
}

impl Compute {
    /// All compute ÷ useful compute.
    pub fn overhead(&self) -> f64 {
        if self.useful == 0.0 {
            return 1.0;
        }
        (self.useful + self.replication + self.audits + self.disputes) / self.useful
    }
}

/// Counts of one kind of cheat (or of all).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheatCount {
    /// The cheat (`all` for the totals).
    pub cheat: String,
    /// Cheats tried.
    pub attempted: u64,
    /// Caught by a check before payment (disputed, slashed).
    pub caught: u64,
    /// Not paid because the run never delivered (timeouts: the lease ran out).
    pub not_delivered: u64,
    /// Paid: no check looked, or the audit's segments missed the faked ones.
    pub missed: u64,
}

/// What a cheater gained and lost, in payments of a job of mean length.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Economics {
    /// A slash.
    pub slash: f64,
    /// Paid for work not done: the share of each missed cheat's job that was faked.
    pub stolen: f64,
    /// Taken from cheaters' bonds.
    pub slashed: f64,
    /// Payments cheaters lost (refunded to requesters), less the work they skipped.
    pub forfeited: f64,
    /// The cheater's mean outcome per delivered cheat against running the job honestly
    /// (negative: cheating loses money).
    pub net_per_cheat: f64,
}

/// How many results were checked, and how.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checks {
    /// Results delivered (runs that did not time out).
    pub results: u64,
    /// Sampled step audits.
    pub audits: u64,
    /// Replications.
    pub replications: u64,
    /// Not checked.
    pub not_checked: u64,
    /// Disputes (a check disagreed).
    pub disputes: u64,
    /// Bisection rounds over all disputes (⌈log2 segments⌉ each).
    pub dispute_rounds: u64,
}

/// The outcome of a simulation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimReport {
    /// What ran (seed and parameters).
    pub config: SimConfig,
    /// Providers with no history at the start.
    pub new_providers: u64,
    /// Cheating providers.
    pub cheaters: u64,
    /// Compute spent.
    pub compute: Compute,
    /// All compute ÷ useful compute.
    pub overhead: f64,
    /// Checks.
    pub checks: Checks,
    /// Cheats, all together.
    pub cheats: CheatCount,
    /// Cheats by kind.
    pub by_cheat: Vec<CheatCount>,
    /// Caught ÷ delivered cheats (caught + missed; timeouts, never paid, are not counted; 1
    /// when there were none).
    pub detection_rate: f64,
    /// Honest providers slashed.
    pub honest_slashed: u64,
    /// Jobs no provider delivered (every one left failed or timed out).
    pub undelivered: u64,
    /// What cheating gained and cost.
    pub economics: Economics,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        splitmix64(self.0)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        // The bias of a modulo on 64 bits is below 2^-40 for the sizes here.
        self.next() % n.max(1)
    }
}

struct Provider {
    streak: u64,
    cheater: bool,
}

/// One job of the workload.
#[derive(Clone, Copy)]
struct Job {
    kind: JobKind,
    steps: f64,
    segments: u64,
}

/// What one run of a job does.
#[derive(Clone, Copy, PartialEq)]
enum Run {
    Honest,
    /// A cheat, with the share of the job's work it skipped and the segments it faked
    /// (`train` skipped steps), as a bit set over at most 64 segments.
    Cheat(Cheat, f64, u64),
}

fn ceil_log2(n: u64) -> u64 {
    if n <= 1 {
        0
    } else {
        64 - u64::from((n - 1).leading_zeros())
    }
}

/// Runs the workload of `config` through its policy.
pub fn simulate(config: &SimConfig) -> Result<SimReport, SimError> {
    let config = config.clone().validated()?;
    let mut rng = Rng(config.seed);
    let n = config.providers;
    let new = ((config.new_share * n as f64).round() as u64).min(n);
    let cheaters = ((config.cheater_share * n as f64).round() as u64).min(n);
    // Cheaters spread over new and established providers in proportion.
    let new_cheaters = ((cheaters as f64 * new as f64 / n as f64).round() as u64).min(new);
    let old_cheaters = (cheaters - new_cheaters).min(n - new);
    let mut providers: Vec<Provider> = (0..n)
        .map(|i| {
            let is_new = i < new;
            let streak = if is_new {
                0
            } else {
                let (lo, hi) = ESTABLISHED_STREAK;
                lo + rng.below(hi - lo + 1)
            };
            Provider {
                streak,
                cheater: if is_new {
                    i < new_cheaters
                } else {
                    i - new < old_cheaters
                },
            }
        })
        .collect();
    let cheaters = new_cheaters + old_cheaters;

    let (lo, hi) = (JOB_STEPS.0 as f64, JOB_STEPS.1 as f64);
    let mean_steps = (hi - lo) / (hi / lo).ln();
    let slash = config.slash_payments;
    let k = u64::from(config.policy.samples);
    let mut compute = Compute::default();
    let mut checks = Checks::default();
    let mut by: Vec<CheatCount> = Cheat::ALL
        .iter()
        .map(|c| CheatCount {
            cheat: c.as_str().into(),
            ..CheatCount::default()
        })
        .collect();
    let mut econ = Economics {
        slash,
        ..Economics::default()
    };
    let mut honest_slashed = 0;
    let mut undelivered = 0;

    // What provider `p` does with `job`.
    let behave = |p: &Provider, job: &Job, rng: &mut Rng| -> Run {
        if !p.cheater || rng.unit() >= config.cheat_rate {
            return Run::Honest;
        }
        // Each cheat is one of the kinds, drawn uniformly.
        let c = Cheat::ALL[rng.below(Cheat::ALL.len() as u64) as usize];
        let segs = job.segments;
        match c {
            Cheat::SkippedSteps if segs > 1 => {
                // Fakes 5-50 % of the segments, at least one, chosen at random.
                let f = 0.05 + 0.45 * rng.unit();
                let faked = ((f * segs as f64).round() as u64).clamp(1, segs);
                let mut set = 0u64;
                let mut order: Vec<u64> = (0..segs).collect();
                for i in 0..faked as usize {
                    let j = i + rng.below(segs - i as u64) as usize;
                    order.swap(i, j);
                    set |= 1 << order[i];
                }
                Run::Cheat(c, faked as f64 / segs as f64, set)
            }
            Cheat::LowerPrecision => Run::Cheat(c, 0.5, u64::MAX),
            Cheat::WrongFinal => Run::Cheat(c, 1.0 / segs as f64, 1 << (segs - 1)),
            Cheat::Timeout => Run::Cheat(c, 0.0, 0),
            // Wrong output, a lazy copy, or a one-segment skip: nothing computed that counts.
            _ => Run::Cheat(c, 1.0, u64::MAX),
        }
    };

    for index in 0..config.jobs {
        let kind = if rng.unit() < config.wasm_share {
            JobKind::Wasm
        } else {
            JobKind::Train
        };
        let steps = (lo * (hi / lo).powf(rng.unit())).round();
        let segments = match kind {
            // A wasm trace is the final state: nothing to bisect below the whole run.
            JobKind::Wasm | JobKind::Infer => 1,
            JobKind::Train => (steps as u64 / STEPS_PER_SEGMENT).clamp(4, 64),
        };
        let job = Job {
            kind,
            steps,
            segments,
        };
        compute.useful += steps;
        let mut excluded: Vec<usize> = vec![];
        let mut delivered = false;
        for attempt in 0..MAX_ATTEMPTS {
            let Some(pi) = pick(&mut rng, n as usize, &excluded) else {
                break;
            };
            let run = behave(&providers[pi], &job, &mut rng);
            if let Run::Cheat(c, ..) = run {
                by[c as usize].attempted += 1;
            }
            if let Run::Cheat(Cheat::Timeout, ..) = run {
                // The lease runs out: nothing is paid, the job goes to someone else.
                by[Cheat::Timeout as usize].not_delivered += 1;
                excluded.push(pi);
                continue;
            }
            checks.results += 1;
            // Stands in for the node's signature over the commitment: fixed by the
            // workload's seed, the job and the attempt, unknown to the simulated provider.
            let seed = splitmix64(config.seed ^ splitmix64((index << 8) | u64::from(attempt)));
            let decision = config.policy.decide(job.kind, providers[pi].streak, seed);
            // Whether the check disagreed with the result, and who the liars were.
            let mut liars: Vec<usize> = vec![];
            match decision.method {
                Method::SampledAudit => {
                    checks.audits += 1;
                    let k = k.min(job.segments);
                    compute.audits += job.steps * k as f64 / job.segments as f64;
                    if let Run::Cheat(_, _, faked) = run
                        && faked & audited_segments(&mut rng, job.segments, k) != 0
                    {
                        liars.push(pi);
                    }
                }
                Method::Replication => {
                    checks.replications += 1;
                    compute.replication += job.steps;
                    // The replica: another provider, committing before either output is
                    // revealed (so it cannot copy this one). One that times out is replaced.
                    let mut skip = excluded.clone();
                    skip.push(pi);
                    let mut replica = None;
                    while let Some(ri) = pick(&mut rng, n as usize, &skip) {
                        let r = behave(&providers[ri], &job, &mut rng);
                        if let Run::Cheat(c, ..) = r {
                            by[c as usize].attempted += 1;
                            if c == Cheat::Timeout {
                                by[c as usize].not_delivered += 1;
                                skip.push(ri);
                                continue;
                            }
                        }
                        replica = Some((ri, r));
                        break;
                    }
                    if run != Run::Honest && replica.is_some() {
                        liars.push(pi);
                    }
                    if let Some((ri, r)) = replica
                        && let Run::Cheat(c, ..) = r
                    {
                        // The replica lied: the referee finds it, whatever the first did.
                        by[c as usize].caught += 1;
                        econ.slashed += slash;
                        providers[ri].streak = next_streak(providers[ri].streak, false);
                        if liars.is_empty() {
                            // The first result stood against a lying replica: a dispute.
                            dispute(&mut compute, &mut checks, &job);
                        }
                    }
                }
                Method::NotChecked => checks.not_checked += 1,
            }
            if liars.is_empty() {
                // Accepted: paid after the challenge window.
                if let Run::Cheat(c, gain, _) = run {
                    by[c as usize].missed += 1;
                    econ.stolen += gain * job.steps / mean_steps;
                }
                providers[pi].streak = next_streak(providers[pi].streak, true);
                delivered = true;
                break;
            }
            // Disputed: bisection, a referee's segment, the liar slashed and the job run again.
            dispute(&mut compute, &mut checks, &job);
            if let Run::Cheat(c, gain, _) = run {
                by[c as usize].caught += 1;
                econ.slashed += slash;
                econ.forfeited += (1.0 - gain) * job.steps / mean_steps;
            } else {
                honest_slashed += 1;
            }
            providers[pi].streak = next_streak(providers[pi].streak, false);
            excluded.push(pi);
        }
        if !delivered {
            undelivered += 1;
        }
    }

    let mut all = CheatCount {
        cheat: "all".into(),
        ..CheatCount::default()
    };
    for c in &by {
        all.attempted += c.attempted;
        all.caught += c.caught;
        all.not_delivered += c.not_delivered;
        all.missed += c.missed;
    }
    let delivered_cheats = all.caught + all.missed;
    econ.net_per_cheat = if delivered_cheats == 0 {
        0.0
    } else {
        // Against honest work: a missed cheat keeps the work it skipped; a caught one loses
        // the slash and the payment, less the work it skipped.
        (econ.stolen - econ.slashed - econ.forfeited) / delivered_cheats as f64
    };
    let detection_rate = if delivered_cheats == 0 {
        1.0
    } else {
        all.caught as f64 / delivered_cheats as f64
    };
    Ok(SimReport {
        overhead: compute.overhead(),
        new_providers: new,
        cheaters,
        compute,
        checks,
        cheats: all,
        by_cheat: by,
        detection_rate,
        honest_slashed,
        undelivered,
        economics: econ,
        config,
    })
}

/// A dispute over `job`: ⌈log2 segments⌉ bisection rounds, then a referee recomputes one
/// segment.
fn dispute(compute: &mut Compute, checks: &mut Checks, job: &Job) {
    checks.disputes += 1;
    checks.dispute_rounds += ceil_log2(job.segments);
    compute.disputes += job.steps / job.segments as f64;
}

/// A provider drawn uniformly among those not in `excluded`, if any is left.
fn pick(rng: &mut Rng, n: usize, excluded: &[usize]) -> Option<usize> {
    if excluded.len() >= n {
        return None;
    }
    loop {
        let i = rng.below(n as u64) as usize;
        if !excluded.contains(&i) {
            return Some(i);
        }
    }
}

/// The segments a sampled audit of `k` re-executes, as a bit set: the last, and `k − 1` others
/// drawn uniformly without replacement (as `cairn-ml`'s audit draws them).
fn audited_segments(rng: &mut Rng, segments: u64, k: u64) -> u64 {
    let mut set = 1u64 << (segments - 1);
    let mut rest: Vec<u64> = (0..segments - 1).collect();
    let want = k.saturating_sub(1).min(rest.len() as u64) as usize;
    for i in 0..want {
        let j = i + rng.below((rest.len() - i) as u64) as usize;
        rest.swap(i, j);
        set |= 1 << rest[i];
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: impl FnOnce(&mut SimConfig)) -> SimReport {
        let mut c = SimConfig::default();
        f(&mut c);
        simulate(&c).unwrap()
    }

    #[test]
    fn the_same_seed_gives_the_same_report_and_another_seed_another() {
        let a = run(|_| {});
        assert_eq!(a, run(|_| {}));
        let b = run(|c| c.seed = 2);
        assert_ne!(a.compute, b.compute);
    }

    #[test]
    fn without_cheaters_nothing_is_caught_and_the_overhead_is_the_checks() {
        let r = run(|c| c.cheater_share = 0.0);
        assert_eq!(r.cheaters, 0);
        assert_eq!(r.cheats.attempted, 0);
        assert_eq!(r.cheats.caught + r.cheats.missed, 0);
        assert_eq!(r.checks.disputes, 0);
        assert_eq!(r.compute.disputes, 0.0);
        assert_eq!(r.honest_slashed, 0);
        assert_eq!(r.undelivered, 0);
        assert_eq!(r.checks.results, r.config.jobs);
        assert_eq!(
            r.checks.audits + r.checks.replications + r.checks.not_checked,
            r.config.jobs
        );
        let checks = (r.compute.audits + r.compute.replication) / r.compute.useful;
        assert!((r.overhead - 1.0 - checks).abs() < 1e-12, "{r:?}");
        assert!(r.checks.audits > 0 && r.checks.replications > 0 && r.checks.not_checked > 0);
    }

    #[test]
    fn checking_everything_catches_every_cheat_that_fakes_everything() {
        for cheat_share in [0.05, 0.5] {
            let r = run(|c| {
                c.cheater_share = cheat_share;
                c.policy.p_min = 1.0;
            });
            assert_eq!(r.checks.not_checked, 0);
            for c in &r.by_cheat {
                match c.cheat.as_str() {
                    // The sampled segments may miss some of the faked ones.
                    "skipped-steps" => {}
                    "timeout" => assert_eq!(c.not_delivered, c.attempted, "{c:?}"),
                    _ => {
                        assert!(c.attempted > 0, "{c:?}");
                        assert_eq!(c.caught, c.attempted, "{c:?}");
                        assert_eq!(c.missed, 0);
                    }
                }
            }
            assert_eq!(r.honest_slashed, 0);
            assert!(r.economics.net_per_cheat < 0.0);
        }
    }

    #[test]
    fn skipped_steps_are_caught_about_as_often_as_the_maths_says() {
        // Every job train, long enough for 64 segments; every check an audit.
        let mut rng = Rng(7);
        for k in [1u64, 2, 4, 8] {
            let (mut hit, trials) = (0, 20_000);
            for _ in 0..trials {
                // A fixed fake of 8 of 64 segments (f = 1/8), not including the last.
                let faked = 0xff00u64;
                if faked & audited_segments(&mut rng, 64, k) != 0 {
                    hit += 1;
                }
            }
            let rate = hit as f64 / trials as f64;
            // The last is always audited and not faked: k − 1 draws from 63 without
            // replacement, at least as good as with replacement.
            let lower = super::super::detection_probability(8.0 / 63.0, (k - 1) as u32);
            assert!(rate >= lower - 0.015, "k {k}: {rate} < {lower}");
            assert!(rate <= lower + 0.05, "k {k}: {rate} ≫ {lower}");
        }
    }

    #[test]
    fn honest_providers_are_never_slashed_and_caught_cheaters_restart_probation() {
        for seed in 1..6 {
            let r = run(|c| {
                c.seed = seed;
                c.cheater_share = 0.3;
            });
            assert_eq!(r.honest_slashed, 0, "seed {seed}");
            assert!(r.cheats.caught > 0);
            assert_eq!(
                r.cheats.attempted,
                r.cheats.caught + r.cheats.missed + r.cheats.not_delivered
            );
            // One dispute per caught cheat, but one for two liars on the same job.
            assert!(r.checks.disputes > 0 && r.checks.disputes <= r.cheats.caught);
        }
    }

    #[test]
    fn the_default_workload_meets_the_overhead_target() {
        let r = run(|_| {});
        assert!(r.overhead <= 1.15, "overhead {}", r.overhead);
        assert!(r.overhead > 1.0);
        assert_eq!(r.new_providers, 20);
        assert_eq!(r.cheaters, 5);
        assert_eq!(r.honest_slashed, 0);
    }

    #[test]
    fn bad_parameters_name_the_parameter() {
        let e = simulate(&SimConfig {
            new_share: 1.5,
            ..SimConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("new-provider share"), "{e}");
        assert!(matches!(
            simulate(&SimConfig::new(0)),
            Err(SimError::Jobs(0))
        ));
        let e = simulate(&SimConfig {
            providers: 1,
            ..SimConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("2 providers"), "{e}");
        let mut c = SimConfig::default();
        c.policy.samples = 0;
        assert!(matches!(simulate(&c), Err(SimError::Policy(_))));
    }

    #[test]
    fn rounds_are_the_ceiling_of_log2() {
        assert_eq!(
            [1, 2, 3, 4, 5, 8, 9, 64].map(ceil_log2),
            [0, 1, 2, 2, 3, 3, 4, 6]
        );
    }
}
