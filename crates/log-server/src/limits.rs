//! Per-client rate limits and quotas on the write endpoints (`POST /add`, `PUT /blob`).
//!
//! Like Rekor and CT logs the log is open to anyone, so writes are metered: a token bucket per
//! client address and per signer key for adds, and a byte bucket per address for blobs (a
//! quota that refills over time). A request over its budget gets 429 with `Retry-After`.
use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Sustained adds per second one client address may make.
pub const DEFAULT_ADDS_PER_SEC_PER_ADDRESS: f64 = 1000.0;
/// Adds one client address may make in a burst.
pub const DEFAULT_ADD_BURST_PER_ADDRESS: f64 = 5000.0;
/// Sustained adds per second signed by one key.
pub const DEFAULT_ADDS_PER_SEC_PER_KEY: f64 = 1000.0;
/// Adds signed by one key in a burst.
pub const DEFAULT_ADD_BURST_PER_KEY: f64 = 5000.0;
/// Sustained blob bytes per second one client address may upload.
pub const DEFAULT_BLOB_BYTES_PER_SEC_PER_ADDRESS: f64 = 4.0 * 1024.0 * 1024.0;
/// Blob bytes one client address may upload in a burst (at least the largest blob).
pub const DEFAULT_BLOB_BURST_PER_ADDRESS: f64 = 128.0 * 1024.0 * 1024.0;

/// Most clients tracked per limiter before idle ones are forgotten.
const MAX_TRACKED: usize = 100_000;

/// The write budgets of the service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Sustained adds per second per client address.
    pub adds_per_sec_per_address: f64,
    /// Burst of adds per client address.
    pub add_burst_per_address: f64,
    /// Sustained adds per second per signer key.
    pub adds_per_sec_per_key: f64,
    /// Burst of adds per signer key.
    pub add_burst_per_key: f64,
    /// Sustained blob bytes per second per client address.
    pub blob_bytes_per_sec_per_address: f64,
    /// Burst of blob bytes per client address.
    pub blob_burst_per_address: f64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            adds_per_sec_per_address: DEFAULT_ADDS_PER_SEC_PER_ADDRESS,
            add_burst_per_address: DEFAULT_ADD_BURST_PER_ADDRESS,
            adds_per_sec_per_key: DEFAULT_ADDS_PER_SEC_PER_KEY,
            add_burst_per_key: DEFAULT_ADD_BURST_PER_KEY,
            blob_bytes_per_sec_per_address: DEFAULT_BLOB_BYTES_PER_SEC_PER_ADDRESS,
            blob_burst_per_address: DEFAULT_BLOB_BURST_PER_ADDRESS,
        }
    }
}

impl RateLimits {
    /// No limits (benchmarks, trusted deployments behind their own limiter).
    pub fn unlimited() -> Self {
        Self {
            adds_per_sec_per_address: f64::INFINITY,
            add_burst_per_address: f64::INFINITY,
            adds_per_sec_per_key: f64::INFINITY,
            add_burst_per_key: f64::INFINITY,
            blob_bytes_per_sec_per_address: f64::INFINITY,
            blob_burst_per_address: f64::INFINITY,
        }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets keyed by client (an address, a key): `rate` tokens a second, up to `burst`.
/// Shared with the compute node's write limits.
pub struct Limiter<K> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// A limiter refilling `rate` tokens a second up to `burst` per client (infinite: none).
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            buckets: Mutex::default(),
        }
    }

    /// Takes `n` tokens for `key`, or says how long until they are there.
    pub fn take(&self, key: &K, n: f64) -> Result<(), Duration> {
        if self.burst.is_infinite() && self.rate.is_infinite() {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("lock");
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(key) {
            // Forget clients whose bucket has refilled: they are idle.
            let (rate, burst) = (self.rate, self.burst);
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let b = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.last).as_secs_f64() * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= n {
            b.tokens -= n;
            return Ok(());
        }
        let wait = if self.rate > 0.0 {
            (n.min(self.burst) - b.tokens) / self.rate
        } else {
            3600.0
        };
        Err(Duration::from_secs_f64(wait.clamp(0.001, 3600.0)))
    }
}

/// The limiters of one service.
pub(crate) struct Meters {
    pub(crate) adds_by_address: Limiter<Option<IpAddr>>,
    pub(crate) adds_by_key: Limiter<[u8; 32]>,
    pub(crate) blob_bytes_by_address: Limiter<Option<IpAddr>>,
}

impl Meters {
    pub(crate) fn new(l: &RateLimits) -> Self {
        Self {
            adds_by_address: Limiter::new(l.adds_per_sec_per_address, l.add_burst_per_address),
            adds_by_key: Limiter::new(l.adds_per_sec_per_key, l.add_burst_per_key),
            blob_bytes_by_address: Limiter::new(
                l.blob_bytes_per_sec_per_address,
                l.blob_burst_per_address,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let l: Limiter<u8> = Limiter::new(1000.0, 3.0);
        for _ in 0..3 {
            l.take(&1, 1.0).unwrap();
        }
        let wait = l.take(&1, 1.0).unwrap_err();
        assert!(wait <= Duration::from_millis(2), "{wait:?}");
        l.take(&2, 1.0).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        l.take(&1, 1.0).unwrap();
        assert!(
            Limiter::<u8>::new(f64::INFINITY, f64::INFINITY)
                .take(&1, 1e12)
                .is_ok()
        );
    }
}
