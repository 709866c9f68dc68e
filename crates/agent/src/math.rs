//! Integer arithmetic on the chain path: the planner's numbers become base units here, with
//! explicit rounding, and every amount a transaction carries is computed in `U256`.
//!
//! | what | rounding |
//! |---|---|
//! | planner amount → base units ([`to_base_units`]) | down (never spend more than planned), after absorbing the float's last-bit noise |
//! | oracle floor of a buy ([`oracle_min_out`]) | up (never accept less than the bound) |
//! | Uniswap V2 output ([`amm_amount_out`]) | down, as the pair computes it |
//! | arbitrage input ([`arbitrage`]) | integer square root, down |
use crate::{Error, Result};
use alloy::primitives::U256;

/// `amount` (whole tokens, as the planner computes it) in base units of a token with
/// `decimals` places, rounded down. A product like `100 × 0.6` that lands a few ulps under
/// the exact decimal (`59.99999999999999`) counts as that decimal: values within a relative
/// 1e-9 above an integer number of base units are snapped down to it, values just below it
/// are snapped up to it.
pub fn to_base_units(amount: f64, decimals: u8) -> Result<U256> {
    let bad = || Error::Amount { amount, decimals };
    if !amount.is_finite() || amount < 0.0 || decimals > 36 {
        return Err(bad());
    }
    let scaled = amount * 10f64.powi(i32::from(decimals));
    if scaled >= 1e36 {
        return Err(bad());
    }
    let nearest = scaled.round();
    let tol = 1e-9 * nearest.abs().max(1.0);
    let units = if (scaled - nearest).abs() <= tol {
        nearest
    } else {
        scaled.floor()
    };
    // Exact: `units` is an integer below 1e36, printed without exponent.
    U256::from_str_radix(&format!("{units:.0}"), 10).map_err(|_| bad())
}

/// Base units as a float of whole tokens (for the policy's state, never for a transaction).
pub fn to_float(units: U256, decimals: u8) -> f64 {
    cairn_chain::format_units(units, decimals)
        .parse()
        .unwrap_or(f64::NAN)
}

/// The least asset base units acceptable for `amount_in` stablecoin base units at an oracle
/// answer `answer` (`feed_decimals` places, stablecoin per whole asset) minus `slippage_bps`:
/// `ceil(amount_in · 10^(asset_dec + feed_dec) · (10000 − bps) / (answer · 10^stable_dec · 10000))`,
/// the same bound the vault computes. `None` for a non-positive answer or bps above 10000.
pub fn oracle_min_out(
    amount_in: U256,
    answer: U256,
    feed_decimals: u8,
    stable_decimals: u8,
    asset_decimals: u8,
    slippage_bps: u32,
) -> Option<U256> {
    if answer.is_zero() || slippage_bps > 10_000 {
        return None;
    }
    let ten = U256::from(10u8);
    let num = amount_in
        .checked_mul(U256::from(10_000 - slippage_bps))?
        .checked_mul(ten.checked_pow(U256::from(asset_decimals) + U256::from(feed_decimals))?)?;
    let den = answer
        .checked_mul(ten.checked_pow(U256::from(stable_decimals))?)?
        .checked_mul(U256::from(10_000u32))?;
    Some(num.div_ceil(den))
}

/// What a Uniswap V2 pair pays for `amount_in` with reserves `(reserve_in, reserve_out)` and a
/// fee of `fee_bps` (30 on Uniswap V2, 25 on PancakeSwap V2), rounded down as the pair does.
pub fn amm_amount_out(amount_in: U256, reserve_in: U256, reserve_out: U256, fee_bps: u32) -> U256 {
    if amount_in.is_zero() || reserve_in.is_zero() || reserve_out.is_zero() {
        return U256::ZERO;
    }
    let with_fee = amount_in * U256::from(10_000 - fee_bps.min(10_000));
    let num = with_fee * reserve_out;
    let den = reserve_in * U256::from(10_000u32) + with_fee;
    num / den
}

/// Integer square root, rounded down.
pub fn isqrt(n: U256) -> U256 {
    n.root(2)
}

/// One swap that moves a pool toward a target price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArbSwap {
    /// `true`: pay stablecoin for the asset (the pool price is under the target); `false`: pay
    /// the asset for stablecoin.
    pub buy_asset: bool,
    /// Base units of the token paid in.
    pub amount_in: U256,
}

/// The swap that moves a constant-product pool with reserves `(stable, asset)` (base units) to
/// the price `target_num / target_den` stablecoin base units per asset base unit, paying the
/// pool's fee; `None` when the pool is within `tolerance_bps` of the target already.
///
/// With `k = stable · asset` the reserves at the target are `stable' = √(k · p)` and
/// `asset' = √(k / p)`; the input is the reserve change grossed up by the fee (the fee stays
/// in the pool, so the price lands a fraction of the fee times the move past the target).
pub fn arbitrage(
    stable: U256,
    asset: U256,
    target_num: U256,
    target_den: U256,
    fee_bps: u32,
    tolerance_bps: u32,
) -> Option<ArbSwap> {
    if stable.is_zero() || asset.is_zero() || target_num.is_zero() || target_den.is_zero() {
        return None;
    }
    // Current price stable/asset against num/den: compare stable·den with asset·num.
    let lhs = stable.checked_mul(target_den)?;
    let rhs = asset.checked_mul(target_num)?;
    let (hi, lo) = if lhs > rhs { (lhs, rhs) } else { (rhs, lhs) };
    if (hi - lo) * U256::from(10_000u32) <= lo * U256::from(tolerance_bps) {
        return None;
    }
    let k = stable.checked_mul(asset)?;
    let gross = |d: U256| d * U256::from(10_000u32) / U256::from(10_000 - fee_bps.min(9_999));
    if lhs < rhs {
        // Too cheap: buy the asset with stablecoin.
        let target = isqrt(k.checked_mul(target_num)? / target_den);
        (target > stable).then(|| ArbSwap {
            buy_asset: true,
            amount_in: gross(target - stable),
        })
    } else {
        let target = isqrt(k.checked_mul(target_den)? / target_num);
        (target > asset).then(|| ArbSwap {
            buy_asset: false,
            amount_in: gross(target - asset),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(v: u128) -> U256 {
        U256::from(v)
    }

    #[test]
    fn planner_amounts_round_down_to_base_units_absorbing_float_noise() {
        // 100 × 0.6 and 100 × 0.4 as the policy computes them.
        assert_eq!(to_base_units(100.0 * 0.6, 6).unwrap(), u(60_000_000));
        assert_eq!(to_base_units(100.0 * 0.4, 6).unwrap(), u(40_000_000));
        assert_eq!(
            to_base_units(59.999_999_999_999_99, 6).unwrap(),
            u(60_000_000)
        );
        assert_eq!(to_base_units(0.1 + 0.2, 6).unwrap(), u(300_000));
        // A real fraction of a base unit is dropped, never rounded up.
        assert_eq!(to_base_units(12.345_678_9, 6).unwrap(), u(12_345_678));
        assert_eq!(to_base_units(0.000_000_9, 6).unwrap(), U256::ZERO);
        assert_eq!(to_base_units(1.0, 18).unwrap(), u(10u128.pow(18)));
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1e40] {
            assert!(to_base_units(bad, 6).is_err(), "{bad}");
        }
        assert_eq!(to_float(u(60_000_000), 6), 60.0);
    }

    #[test]
    fn oracle_floor_matches_the_vaults_formula_rounded_up() {
        // 100 USDT at BTC = 50,000.00000000 (8 dp), 1% cap: 0.00198 BTC = 198000 sat.
        let answer = u(50_000 * 100_000_000);
        let f = oracle_min_out(u(100_000_000), answer, 8, 6, 8, 100).unwrap();
        assert_eq!(f, u(198_000));
        // A remainder rounds up.
        let f = oracle_min_out(u(1), u(3 * 100_000_000), 8, 6, 8, 0).unwrap();
        assert_eq!(f, u(34)); // 1e-6 USDT / 3 USD = 33.33 sat-units of 1e-8 → 34
        assert!(oracle_min_out(u(1), U256::ZERO, 8, 6, 8, 0).is_none());
        assert!(oracle_min_out(u(1), u(1), 8, 6, 8, 10_001).is_none());
    }

    #[test]
    fn amm_output_is_the_pairs() {
        // Router02's getAmountOut: 1000 in, reserves 10^6/10^6, 0.3% fee.
        let out = amm_amount_out(u(1000), u(1_000_000), u(1_000_000), 30);
        assert_eq!(
            out,
            u(1000 * 997 * 1_000_000 / (1_000_000 * 1000 + 1000 * 997))
        );
    }

    #[test]
    fn arbitrage_moves_the_pool_to_the_target_within_the_fee() {
        // 10M USDT (6 dp) against 200 BTC (8 dp): 50,000 USD/BTC; move to 55,000 and 45,000.
        let (s, a) = (u(10_000_000 * 1_000_000), u(200 * 100_000_000));
        for target in [55_000u128, 45_000] {
            let (num, den) = (u(target * 1_000_000), u(100_000_000));
            let sw = arbitrage(s, a, num, den, 30, 1).unwrap();
            let (s2, a2) = if sw.buy_asset {
                (s + sw.amount_in, a - amm_amount_out(sw.amount_in, s, a, 30))
            } else {
                (s - amm_amount_out(sw.amount_in, a, s, 30), a + sw.amount_in)
            };
            let price = to_float(s2, 6) / to_float(a2, 8);
            let rel = (price - target as f64).abs() / target as f64;
            assert!(rel < 0.000_3, "target {target}: pool at {price}");
        }
        assert!(arbitrage(s, a, u(50_000 * 1_000_000), u(100_000_000), 30, 1).is_none());
    }
}
