//! The constant-product (Uniswap V2 / PancakeSwap V2) quote and the checks an order must pass
//! before it is sent.
//!
//! The backtester executes at [`Pool::quote_buy`]; the live agent checks the same order
//! against the pool's real reserves with [`check_order`] before signing, and the vault contract
//! enforces the same bounds on chain. With the pool at reserves `(R_q, R_b)` and fee `f`, an
//! input of `a` quote units buys `a(1−f)·R_b / (R_q + a(1−f))` base units; its price impact
//! (excluding the fee) is `a(1−f) / (R_q + a(1−f))`.
use crate::plan::Execution;

/// A constant-product pool of quote and one base asset, centred at a market price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pool {
    /// Market price (quote per base) the pool is centred at.
    pub price: f64,
    /// Quote-side reserve; `None`: infinitely deep (no price impact).
    pub depth: Option<f64>,
    /// Swap fee as a fraction (0.003 for 30 bps).
    pub fee: f64,
}

impl Pool {
    /// The pool an execution config describes, at `price`.
    pub fn at_price(exec: &Execution, price: f64) -> Pool {
        Pool {
            price,
            depth: exec.pool_depth,
            fee: exec.fee(),
        }
    }

    /// Base units bought with `amount_in` quote units.
    #[inline]
    pub fn quote_buy(&self, amount_in: f64) -> f64 {
        let a = amount_in * (1.0 - self.fee);
        match self.depth {
            None => a / self.price,
            Some(d) => a * d / (self.price * (d + a)),
        }
    }

    /// Price impact of `amount_in`, excluding the fee (0 for an infinitely deep pool).
    pub fn price_impact(&self, amount_in: f64) -> f64 {
        match self.depth {
            None => 0.0,
            Some(d) => {
                let a = amount_in * (1.0 - self.fee);
                a / (d + a)
            }
        }
    }

    /// Largest input whose price impact is at most `max_impact` (infinite without depth).
    #[inline]
    pub fn max_input_for_impact(&self, max_impact: f64) -> f64 {
        match self.depth {
            None => f64::INFINITY,
            Some(d) => max_impact * d / ((1.0 - max_impact) * (1.0 - self.fee)),
        }
    }
}

/// `amountOutMin` for an expected output and a tolerance in basis points.
#[inline]
pub fn min_out(expected_out: f64, tolerance_bps: f64) -> f64 {
    expected_out * (1.0 - tolerance_bps / 10_000.0)
}

/// Why an order may not be sent.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum PreTradeError {
    /// The order's input is not a positive finite number.
    #[error("order amount {0} is not a positive number")]
    BadAmount(f64),
    /// The order exceeds the cash available.
    #[error("order of {amount} plus gas {gas} exceeds the {cash} cash available")]
    OverBudget {
        /// Order input.
        amount: f64,
        /// Gas for the swap.
        gas: f64,
        /// Cash available.
        cash: f64,
    },
    /// The order is below the plan's minimum.
    #[error("order of {amount} is below execution.min_order = {min}")]
    BelowMin {
        /// Order input.
        amount: f64,
        /// The minimum.
        min: f64,
    },
    /// The order is above the plan's maximum.
    #[error("order of {amount} is above execution.max_order = {max}")]
    AboveMax {
        /// Order input.
        amount: f64,
        /// The maximum.
        max: f64,
    },
    /// The order would move the pool more than the cap.
    #[error("price impact {impact_bps:.1} bps exceeds execution.max_price_impact_bps = {max_bps}")]
    PriceImpact {
        /// Impact of the order.
        impact_bps: f64,
        /// The cap.
        max_bps: f64,
    },
    /// The pool would pay less than the oracle price allows (stale oracle or moved pool).
    #[error("pool quote {quote} is below the oracle-bounded minimum {min_out}; refusing to trade")]
    QuoteBelowOracle {
        /// What the pool would pay.
        quote: f64,
        /// The least acceptable output.
        min_out: f64,
    },
}

/// The output a checked order may be sent with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckedOrder {
    /// Quote units in.
    pub amount_in: f64,
    /// Base units the pool quotes.
    pub expected_out: f64,
    /// `amountOutMin` to put in the swap.
    pub min_out: f64,
}

/// Checks one buy against the plan's limits, the cash available and an independent oracle
/// price: the pool's quote must be at least what the oracle price less the fee and the
/// slippage tolerance would give. `pool` is the pool's real state (reserves from chain).
pub fn check_order(
    exec: &Execution,
    pool: &Pool,
    oracle_price: f64,
    amount_in: f64,
    cash: f64,
) -> Result<CheckedOrder, PreTradeError> {
    if !(amount_in.is_finite() && amount_in > 0.0) {
        return Err(PreTradeError::BadAmount(amount_in));
    }
    if amount_in + exec.gas_per_buy > cash * (1.0 + 1e-12) {
        return Err(PreTradeError::OverBudget {
            amount: amount_in,
            gas: exec.gas_per_buy,
            cash,
        });
    }
    if amount_in < exec.min_order {
        return Err(PreTradeError::BelowMin {
            amount: amount_in,
            min: exec.min_order,
        });
    }
    if let Some(max) = exec.max_order
        && amount_in > max
    {
        return Err(PreTradeError::AboveMax {
            amount: amount_in,
            max,
        });
    }
    let impact = pool.price_impact(amount_in);
    if impact * 10_000.0 > exec.max_price_impact_bps * (1.0 + 1e-9) {
        return Err(PreTradeError::PriceImpact {
            impact_bps: impact * 10_000.0,
            max_bps: exec.max_price_impact_bps,
        });
    }
    let quote = pool.quote_buy(amount_in);
    let oracle_out = amount_in * (1.0 - pool.fee) / oracle_price;
    let floor = min_out(
        oracle_out,
        exec.slippage_tolerance_bps.max(exec.max_price_impact_bps),
    );
    if quote.is_nan() || quote < floor {
        return Err(PreTradeError::QuoteBelowOracle {
            quote,
            min_out: floor,
        });
    }
    Ok(CheckedOrder {
        amount_in,
        expected_out: quote,
        min_out: min_out(quote, exec.slippage_tolerance_bps),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_product_by_hand() {
        // Pool 1,000,000 USDT / 10 BTC (price 100,000), fee 0.3%: 10,000 USDT in.
        // a' = 9970; out = 9970 * 10 / 1,009,970 = 0.098715803439706...
        let p = Pool {
            price: 100_000.0,
            depth: Some(1_000_000.0),
            fee: 0.003,
        };
        let out = p.quote_buy(10_000.0);
        assert!((out - 9970.0 * 10.0 / 1_009_970.0).abs() < 1e-15);
        // x·y=k itself: the reserves' product does not fall (the fee stays in the pool).
        let k0 = 1_000_000.0 * 10.0;
        assert!((1_000_000.0 + 10_000.0) * (10.0 - out) >= k0);
        assert!((p.price_impact(10_000.0) - 9970.0 / 1_009_970.0).abs() < 1e-15);
        let m = p.max_input_for_impact(0.01);
        assert!((p.price_impact(m) - 0.01).abs() < 1e-12);
        let deep = Pool { depth: None, ..p };
        assert_eq!(deep.quote_buy(10_000.0), 9970.0 / 100_000.0);
    }

    #[test]
    fn check_order_rejections() {
        let exec = Execution {
            min_order: 10.0,
            max_order: Some(5000.0),
            ..Execution::default()
        };
        let pool = Pool {
            price: 100.0,
            depth: Some(100_000.0),
            fee: 0.003,
        };
        let ok = check_order(&exec, &pool, 100.0, 500.0, 1000.0).unwrap();
        assert!(ok.min_out < ok.expected_out);
        assert!(matches!(
            check_order(&exec, &pool, 100.0, 5.0, 1000.0),
            Err(PreTradeError::BelowMin { .. })
        ));
        assert!(matches!(
            check_order(&exec, &pool, 100.0, 2000.0, 1000.0),
            Err(PreTradeError::OverBudget { .. })
        ));
        assert!(matches!(
            check_order(&exec, &pool, 100.0, 4000.0, 9000.0),
            Err(PreTradeError::PriceImpact { .. })
        ));
        // The oracle says 90 but the pool sits at 100: the pool pays 10% less than it should.
        assert!(matches!(
            check_order(&exec, &pool, 90.0, 500.0, 1000.0),
            Err(PreTradeError::QuoteBelowOracle { .. })
        ));
    }
}
