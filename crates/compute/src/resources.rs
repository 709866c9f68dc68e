//! What a job needs and a provider offers: CPU cores, memory, GPUs; and what it costs.
//!
//! Prices are integers in USDT base units (6 decimals) so that matching and settlement never
//! round. Fuel is metered per wasm instruction, so a price per single fuel unit would be far
//! below one base unit; prices are therefore quoted **per million fuel units** ("Mfuel") and per
//! second of wall time.
use crate::{ByteSize, Error, Result};
use serde::{Deserialize, Serialize};

/// Compute resources: a job's requirement or a provider's capacity.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU cores.
    pub cpu_cores: u32,
    /// Memory in bytes (for a wasm job: the cap on its linear memories and tables).
    pub memory_bytes: u64,
    /// GPUs.
    pub gpus: u32,
}

impl Resources {
    /// Whether `need` fits in `self`.
    pub fn covers(&self, need: &Resources) -> bool {
        self.cpu_cores >= need.cpu_cores
            && self.memory_bytes >= need.memory_bytes
            && self.gpus >= need.gpus
    }

    /// `self - other`, floored at zero per resource.
    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        Resources {
            cpu_cores: self.cpu_cores.saturating_sub(other.cpu_cores),
            memory_bytes: self.memory_bytes.saturating_sub(other.memory_bytes),
            gpus: self.gpus.saturating_sub(other.gpus),
        }
    }

    /// `self + other`, saturating.
    pub fn saturating_add(&self, other: &Resources) -> Resources {
        Resources {
            cpu_cores: self.cpu_cores.saturating_add(other.cpu_cores),
            memory_bytes: self.memory_bytes.saturating_add(other.memory_bytes),
            gpus: self.gpus.saturating_add(other.gpus),
        }
    }
}

impl std::fmt::Display for Resources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} core{}, {} memory, {} GPU{}",
            self.cpu_cores,
            if self.cpu_cores == 1 { "" } else { "s" },
            ByteSize(self.memory_bytes),
            self.gpus,
            if self.gpus == 1 { "" } else { "s" }
        )
    }
}

/// A price in USDT base units: a provider's ask or a requester's bid.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Base units per million fuel units.
    #[serde(default)]
    pub per_mfuel: u64,
    /// Base units per second of wall time.
    #[serde(default)]
    pub per_second: u64,
}

/// The highest price per Mfuel or per second a spec or an ask may name (1,000,000 USDT).
pub const MAX_PRICE: u64 = 1_000_000_000_000;

impl Price {
    /// The most a job with these limits can cost at this price: `fuel / 1e6 * per_mfuel`
    /// (rounded up) plus `seconds * per_second`. `None` on overflow.
    pub fn cost(&self, fuel: u64, seconds: u64) -> Option<u64> {
        let fuel_part = (u128::from(fuel) * u128::from(self.per_mfuel)).div_ceil(1_000_000);
        let time_part = u128::from(seconds) * u128::from(self.per_second);
        u64::try_from(fuel_part.checked_add(time_part)?).ok()
    }

    /// Whether a bid of `self` meets the ask `ask` on both components.
    pub fn meets(&self, ask: &Price) -> bool {
        self.per_mfuel >= ask.per_mfuel && self.per_second >= ask.per_second
    }

    /// Checks both components against [`MAX_PRICE`], naming `key`.
    pub fn validate(&self, key: &str) -> Result<()> {
        for (field, v) in [
            ("per_mfuel", self.per_mfuel),
            ("per_second", self.per_second),
        ] {
            if v > MAX_PRICE {
                return Err(Error::range(
                    format!("{key}.{field}"),
                    v,
                    format!("0 to {MAX_PRICE} USDT base units"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_is_per_resource() {
        let cap = Resources {
            cpu_cores: 4,
            memory_bytes: 1 << 30,
            gpus: 0,
        };
        assert!(cap.covers(&Resources {
            cpu_cores: 4,
            memory_bytes: 1 << 30,
            gpus: 0
        }));
        assert!(!cap.covers(&Resources {
            cpu_cores: 1,
            memory_bytes: 1,
            gpus: 1
        }));
        assert_eq!(cap.saturating_sub(&cap), Resources::default());
        assert_eq!(cap.to_string(), "4 cores, 1 GiB memory, 0 GPUs");
    }

    #[test]
    fn cost_rounds_up_and_detects_overflow() {
        let p = Price {
            per_mfuel: 3,
            per_second: 2,
        };
        assert_eq!(p.cost(1_000_000, 0), Some(3));
        assert_eq!(p.cost(1, 0), Some(1));
        assert_eq!(p.cost(0, 5), Some(10));
        let huge = Price {
            per_mfuel: u64::MAX,
            per_second: u64::MAX,
        };
        assert_eq!(huge.cost(u64::MAX, u64::MAX), None);
        assert!(p.meets(&Price {
            per_mfuel: 3,
            per_second: 0
        }));
        assert!(!p.meets(&Price {
            per_mfuel: 4,
            per_second: 0
        }));
    }
}
