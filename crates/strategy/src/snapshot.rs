//! Building the [`MarketSnapshot`] the policy reads, from a price history: the one place the
//! live agent (and any other caller that sees prices one bar at a time) turns closes into the
//! policy's inputs, with the same point estimators ([`crate::features_at`]) whose series forms
//! the backtester precomputes.
//!
//! ```text
//!  closes per plan asset (oldest first, last = now) ──features_at──▶ AssetMarket ──▶ snapshot
//! ```
use crate::{AssetMarket, MAX_ASSETS, MarketSnapshot, Plan, features_at};

/// Closes per plan asset, one per bar, oldest first: what an agent has seen so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceHistory {
    /// Bar times (UTC ms), strictly increasing.
    pub time_ms: Vec<i64>,
    /// `close[asset][bar]`, assets in plan order.
    pub close: Vec<Vec<f64>>,
}

impl PriceHistory {
    /// An empty history for `assets` assets.
    pub fn new(assets: usize) -> Self {
        PriceHistory {
            time_ms: Vec::new(),
            close: vec![Vec::new(); assets],
        }
    }

    /// Appends one bar (one price per asset, plan order). Returns `false` (and appends nothing)
    /// when the bar is not after the last one or the price count does not match.
    pub fn push(&mut self, time_ms: i64, prices: &[f64]) -> bool {
        if prices.len() != self.close.len() || self.time_ms.last().is_some_and(|&t| t >= time_ms) {
            return false;
        }
        self.time_ms.push(time_ms);
        for (c, &p) in self.close.iter_mut().zip(prices) {
            c.push(p);
        }
        true
    }

    /// Number of bars.
    pub fn len(&self) -> usize {
        self.time_ms.len()
    }

    /// Whether no bar was seen yet.
    pub fn is_empty(&self) -> bool {
        self.time_ms.is_empty()
    }
}

/// The snapshot at bar `t` of `history` for `plan`: each asset's price and its risk features
/// from the closes up to and including `t`, with the plan's windows converted to bars of
/// `interval_ms` (the spacing of the history's bars).
pub fn snapshot_at(
    plan: &Plan,
    history: &PriceHistory,
    t: usize,
    interval_ms: i64,
) -> MarketSnapshot {
    let n = plan.assets.len().min(MAX_ASSETS).min(history.close.len());
    let mut assets = [AssetMarket::priced(f64::NAN); MAX_ASSETS];
    for (i, a) in assets.iter_mut().enumerate().take(n) {
        *a = features_at(&history.close[i], t, &plan.risk, interval_ms);
    }
    MarketSnapshot {
        time_ms: history.time_ms.get(t).copied().unwrap_or_default(),
        assets,
    }
}

/// The snapshot at the latest bar of `history` (bars `interval_ms` apart).
pub fn latest(plan: &Plan, history: &PriceHistory, interval_ms: i64) -> Option<MarketSnapshot> {
    let t = history.len().checked_sub(1)?;
    Some(snapshot_at(plan, history, t, interval_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_refuses_out_of_order_bars_and_snapshots_the_last() {
        let plan = Plan::from_toml(
            "name = \"t\"\nquote = \"USDT\"\n[budget]\namount = 10.0\nschedule = \"daily\"\n\
             [[assets]]\nsymbol = \"BTC\"\nweight = 1.0\n",
        )
        .unwrap();
        let mut h = PriceHistory::new(1);
        assert!(latest(&plan, &h, cairn_market::time::DAY_MS).is_none());
        assert!(h.push(1, &[100.0]));
        assert!(!h.push(1, &[101.0]));
        assert!(!h.push(2, &[1.0, 2.0]));
        assert!(h.push(2, &[80.0]));
        let s = latest(&plan, &h, cairn_market::time::DAY_MS).unwrap();
        assert_eq!(s.time_ms, 2);
        assert_eq!(s.assets[0].price, 80.0);
        assert!((s.assets[0].drawdown - 0.2).abs() < 1e-12);
    }
}
