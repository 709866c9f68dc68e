//! Matching a job to a provider, and saying why nobody can take it.
//!
//! The node matches off-chain; the chain only escrows. Candidates pass a chain of filters, in
//! this order:
//!
//! ```text
//!  online ─▶ runs the job's kind ─▶ has GPUs (if any asked) ─▶ enough GPUs ─▶ enough memory ─▶ enough cores
//!         ─▶ ask ≤ bid ─▶ reputation ≥ minimum ─▶ not excluded ─▶ free capacity now
//! ```
//!
//! When a filter leaves nobody, that filter is the explanation, quoting the best value among the
//! providers that reached it ("no provider with ≥ 8 GiB memory (largest: 4 GiB)"). A job that
//! only lacks *free* capacity is not stuck: it waits for a provider to finish. Among the
//! survivors the choice is by reputation (in tenths), then lowest ask, then most free memory,
//! then address, so equal providers are picked deterministically.
use crate::{ByteSize, JobKind, JobSpec, Price, Resources};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A provider as the matcher sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// The provider's address (`0x…`).
    pub provider: String,
    /// What it has in total.
    pub capacity: Resources,
    /// What is not leased right now.
    pub free: Resources,
    /// Its ask.
    pub ask: Price,
    /// 0 to 1; see [`reputation`].
    pub reputation: f64,
    /// Whether its heartbeats are current.
    pub online: bool,
    /// The job kinds its worker runs.
    pub kinds: Vec<JobKind>,
}

/// What a job needs from a provider.
#[derive(Clone, Debug, PartialEq)]
pub struct Demand {
    /// The job's kind: only providers that run it are candidates.
    pub kind: JobKind,
    /// Resources.
    pub resources: Resources,
    /// The bid.
    pub bid: Price,
    /// Lowest reputation accepted.
    pub min_reputation: f64,
    /// Providers that may not take it (they lost it before).
    pub exclude: Vec<String>,
}

impl Demand {
    /// The demand of a spec, excluding `exclude`.
    pub fn of(spec: &JobSpec, exclude: Vec<String>) -> Self {
        Self {
            kind: spec.kind,
            resources: spec.resources,
            bid: spec.price,
            min_reputation: spec.min_reputation,
            exclude,
        }
    }
}

/// Why no provider was chosen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum NoMatch {
    /// No provider has a current heartbeat.
    NoProviderOnline,
    /// No online provider runs jobs of this kind.
    Kind {
        /// The job's kind.
        need: JobKind,
        /// The kinds online providers run.
        offered: Vec<JobKind>,
    },
    /// The job wants GPUs and no online provider has any.
    NoGpuProvider,
    /// Not enough GPUs anywhere.
    Gpus {
        /// Asked for.
        need: u32,
        /// Most any candidate has.
        largest: u32,
    },
    /// Not enough memory anywhere.
    Memory {
        /// Asked for, in bytes.
        need: u64,
        /// Most any candidate has.
        largest: u64,
    },
    /// Not enough cores anywhere.
    Cores {
        /// Asked for.
        need: u32,
        /// Most any candidate has.
        largest: u32,
    },
    /// The bid per million fuel units is below every ask.
    PricePerMfuel {
        /// The bid.
        bid: u64,
        /// The lowest ask.
        lowest: u64,
    },
    /// The bid per second is below every ask.
    PricePerSecond {
        /// The bid.
        bid: u64,
        /// The lowest ask.
        lowest: u64,
    },
    /// Every capable provider's reputation is below the minimum.
    Reputation {
        /// The minimum.
        min: f64,
        /// The best reputation among candidates.
        best: f64,
    },
    /// The only capable providers are ones that lost this job before.
    Excluded {
        /// How many.
        count: usize,
    },
    /// Capable providers exist but all are busy; the job waits.
    Busy {
        /// How many capable providers there are.
        capable: usize,
    },
}

impl NoMatch {
    /// Whether the job can be taken once a busy provider frees up (as opposed to waiting for a
    /// different kind of provider to come online).
    pub fn is_waiting(&self) -> bool {
        matches!(self, Self::Busy { .. })
    }
}

impl fmt::Display for NoMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoProviderOnline => f.write_str("no provider online"),
            Self::Kind { need, offered } => write!(
                f,
                "no provider online runs {need} jobs (kinds offered: {})",
                offered
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::NoGpuProvider => f.write_str(
                "no GPU provider online (claimed GPUs count once a device check proves them)",
            ),
            Self::Gpus { need, largest } => {
                write!(f, "no provider with ≥ {need} GPUs (largest: {largest})")
            }
            Self::Memory { need, largest } => write!(
                f,
                "no provider with ≥ {} memory (largest: {})",
                ByteSize(*need),
                ByteSize(*largest)
            ),
            Self::Cores { need, largest } => {
                write!(
                    f,
                    "no provider with ≥ {need} CPU cores (largest: {largest})"
                )
            }
            Self::PricePerMfuel { bid, lowest } => {
                write!(
                    f,
                    "price.per_mfuel {bid} is below every provider's ask per Mfuel (lowest: {lowest}); raise price.per_mfuel"
                )
            }
            Self::PricePerSecond { bid, lowest } => write!(
                f,
                "price.per_second {bid} is below every provider's ask per second (lowest: {lowest}); raise price.per_second"
            ),
            Self::Reputation { min, best } => write!(
                f,
                "no provider with reputation ≥ {min:.2} (best: {best:.2})"
            ),
            Self::Excluded { count } => write!(
                f,
                "the only capable provider{} lost this job before",
                if *count == 1 { "" } else { "s" }
            ),
            Self::Busy { capable } => write!(
                f,
                "waiting: {capable} capable provider{} busy",
                if *capable == 1 { " is" } else { "s are" }
            ),
        }
    }
}

/// Reputation from a record: completed jobs raise it, failures and lost leases lower it.
/// Laplace-smoothed, so a new provider starts at 0.5 and one bad lease does not ruin a long
/// record: `(completed + 1) / (completed + faults + 2)`.
pub fn reputation(completed: u64, faults: u64) -> f64 {
    (completed as f64 + 1.0) / ((completed + faults) as f64 + 2.0)
}

/// Picks the provider for `demand` among `offers`, or explains why none fits.
pub fn choose<'a>(demand: &Demand, offers: &'a [Offer]) -> Result<&'a Offer, NoMatch> {
    let need = &demand.resources;
    let mut c: Vec<&Offer> = offers.iter().filter(|o| o.online).collect();
    if c.is_empty() {
        return Err(NoMatch::NoProviderOnline);
    }
    narrow(
        &mut c,
        |o| o.kinds.contains(&demand.kind),
        |c| {
            let mut offered: Vec<JobKind> = c.iter().flat_map(|o| o.kinds.clone()).collect();
            offered.sort();
            offered.dedup();
            NoMatch::Kind {
                need: demand.kind,
                offered,
            }
        },
    )?;
    if need.gpus > 0 {
        c.retain(|o| o.capacity.gpus > 0);
        if c.is_empty() {
            return Err(NoMatch::NoGpuProvider);
        }
    }
    narrow(
        &mut c,
        |o| o.capacity.gpus >= need.gpus,
        |c| NoMatch::Gpus {
            need: need.gpus,
            largest: c.iter().map(|o| o.capacity.gpus).max().unwrap_or(0),
        },
    )?;
    narrow(
        &mut c,
        |o| o.capacity.memory_bytes >= need.memory_bytes,
        |c| NoMatch::Memory {
            need: need.memory_bytes,
            largest: c.iter().map(|o| o.capacity.memory_bytes).max().unwrap_or(0),
        },
    )?;
    narrow(
        &mut c,
        |o| o.capacity.cpu_cores >= need.cpu_cores,
        |c| NoMatch::Cores {
            need: need.cpu_cores,
            largest: c.iter().map(|o| o.capacity.cpu_cores).max().unwrap_or(0),
        },
    )?;
    narrow(
        &mut c,
        |o| demand.bid.per_mfuel >= o.ask.per_mfuel,
        |c| NoMatch::PricePerMfuel {
            bid: demand.bid.per_mfuel,
            lowest: c.iter().map(|o| o.ask.per_mfuel).min().unwrap_or(0),
        },
    )?;
    narrow(
        &mut c,
        |o| demand.bid.per_second >= o.ask.per_second,
        |c| NoMatch::PricePerSecond {
            bid: demand.bid.per_second,
            lowest: c.iter().map(|o| o.ask.per_second).min().unwrap_or(0),
        },
    )?;
    narrow(
        &mut c,
        |o| o.reputation >= demand.min_reputation,
        |c| NoMatch::Reputation {
            min: demand.min_reputation,
            best: c.iter().map(|o| o.reputation).fold(0.0, f64::max),
        },
    )?;
    narrow(
        &mut c,
        |o| !demand.exclude.contains(&o.provider),
        |c| NoMatch::Excluded { count: c.len() },
    )?;
    narrow(
        &mut c,
        |o| o.free.covers(need),
        |c| NoMatch::Busy { capable: c.len() },
    )?;
    // Spread the work: the least loaded capable provider first (the share of its cores
    // already leased, in tenths), so one high-reputation provider does not take every job
    // while others idle; then reputation, price and room.
    Ok(c.into_iter()
        .min_by(|a, b| {
            let rep = |o: &Offer| (o.reputation * 10.0).floor() as i64;
            let load = |o: &Offer| {
                let cap = u64::from(o.capacity.cpu_cores.max(1));
                let used = cap.saturating_sub(u64::from(o.free.cpu_cores));
                used * 10 / cap
            };
            load(a)
                .cmp(&load(b))
                .then(rep(b).cmp(&rep(a)))
                .then(a.ask.per_mfuel.cmp(&b.ask.per_mfuel))
                .then(a.ask.per_second.cmp(&b.ask.per_second))
                .then(b.free.memory_bytes.cmp(&a.free.memory_bytes))
                .then(a.provider.cmp(&b.provider))
        })
        .expect("narrow leaves at least one"))
}

/// Keeps the candidates passing `keep`; if none would, leaves `c` as it was and returns the
/// explanation built from the candidates that reached this filter.
fn narrow<'a>(
    c: &mut Vec<&'a Offer>,
    keep: impl Fn(&Offer) -> bool,
    explain: impl FnOnce(&[&'a Offer]) -> NoMatch,
) -> Result<(), NoMatch> {
    if c.iter().any(|o| keep(o)) {
        c.retain(|o| keep(o));
        Ok(())
    } else {
        Err(explain(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn offer(name: &str, cores: u32, mem_gib: u64, gpus: u32, ask: u64) -> Offer {
        let capacity = Resources {
            cpu_cores: cores,
            memory_bytes: mem_gib * GIB,
            gpus,
        };
        Offer {
            provider: name.into(),
            capacity,
            free: capacity,
            ask: Price {
                per_mfuel: ask,
                per_second: 0,
            },
            reputation: 0.5,
            online: true,
            kinds: vec![JobKind::Wasm],
        }
    }

    fn demand(cores: u32, mem_gib: u64, gpus: u32, bid: u64) -> Demand {
        Demand {
            kind: JobKind::Wasm,
            resources: Resources {
                cpu_cores: cores,
                memory_bytes: mem_gib * GIB,
                gpus,
            },
            bid: Price {
                per_mfuel: bid,
                per_second: 0,
            },
            min_reputation: 0.0,
            exclude: vec![],
        }
    }

    fn why(d: &Demand, offers: &[Offer]) -> String {
        choose(d, offers).unwrap_err().to_string()
    }

    #[test]
    fn explanations_name_the_binding_constraint() {
        let offers = [offer("a", 4, 4, 0, 25), offer("b", 8, 2, 0, 30)];
        assert_eq!(why(&demand(1, 1, 0, 100), &[]), "no provider online");
        let mut offline = offers.clone();
        offline.iter_mut().for_each(|o| o.online = false);
        assert_eq!(why(&demand(1, 1, 0, 100), &offline), "no provider online");
        assert_eq!(
            why(&demand(1, 1, 1, 100), &offers),
            "no GPU provider online (claimed GPUs count once a device check proves them)"
        );
        assert_eq!(
            why(&demand(1, 8, 0, 100), &offers),
            "no provider with ≥ 8 GiB memory (largest: 4 GiB)"
        );
        assert_eq!(
            why(&demand(16, 1, 0, 100), &offers),
            "no provider with ≥ 16 CPU cores (largest: 8)"
        );
        assert_eq!(
            why(&demand(1, 1, 0, 10), &offers),
            "price.per_mfuel 10 is below every provider's ask per Mfuel (lowest: 25); raise price.per_mfuel"
        );
        // The memory filter runs first: a 3 GiB job only reaches "a", whose ask is 25.
        assert_eq!(
            why(&demand(1, 3, 0, 20), &offers),
            "price.per_mfuel 20 is below every provider's ask per Mfuel (lowest: 25); raise price.per_mfuel"
        );
        let mut d = demand(1, 1, 0, 100);
        d.min_reputation = 0.9;
        assert_eq!(
            why(&d, &offers),
            "no provider with reputation ≥ 0.90 (best: 0.50)"
        );
        let mut d = demand(1, 3, 0, 100);
        d.exclude = vec!["a".into()];
        assert_eq!(
            why(&d, &offers),
            "the only capable provider lost this job before"
        );
        let gpu = [offer("g", 8, 64, 1, 1)];
        assert_eq!(
            why(&demand(1, 1, 2, 100), &gpu),
            "no provider with ≥ 2 GPUs (largest: 1)"
        );
    }

    #[test]
    fn only_providers_running_the_kind_are_matched() {
        let mut offers = [offer("w", 4, 4, 0, 1), offer("t", 2, 4, 0, 1)];
        offers[1].kinds = vec![JobKind::Wasm, JobKind::Train];
        let mut d = demand(1, 1, 0, 5);
        d.kind = JobKind::Train;
        assert_eq!(choose(&d, &offers).unwrap().provider, "t");
        d.kind = JobKind::Infer;
        assert_eq!(
            why(&d, &offers),
            "no provider online runs infer jobs (kinds offered: wasm, train)"
        );
    }

    #[test]
    fn busy_providers_make_a_job_wait_not_fail() {
        let mut offers = [offer("a", 4, 4, 0, 1)];
        offers[0].free = Resources::default();
        let e = choose(&demand(1, 1, 0, 5), &offers).unwrap_err();
        assert!(e.is_waiting());
        assert_eq!(e.to_string(), "waiting: 1 capable provider is busy");
    }

    #[test]
    fn choice_spreads_load_then_prefers_reputation_price_and_room() {
        let mut offers = [
            offer("cheap", 4, 4, 0, 1),
            offer("trusted", 4, 4, 0, 9),
            offer("roomy", 4, 16, 0, 1),
        ];
        assert_eq!(
            choose(&demand(1, 1, 0, 10), &offers).unwrap().provider,
            "roomy"
        );
        offers[1].reputation = reputation(20, 0);
        assert_eq!(
            choose(&demand(1, 1, 0, 10), &offers).unwrap().provider,
            "trusted"
        );
        // A busy trusted provider does not take every job: the idle one gets the next.
        offers[1].free.cpu_cores = 1;
        assert_eq!(
            choose(&demand(1, 1, 0, 10), &offers).unwrap().provider,
            "roomy"
        );
        assert!((reputation(0, 0) - 0.5).abs() < 1e-12);
        assert!(reputation(10, 1) > reputation(10, 2));
    }
}
