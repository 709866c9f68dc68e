//! Properties of the policy over random plans, portfolios and markets: it never spends more
//! than the cash, never produces a negative or non-finite order, and a plain plan splits the
//! budget by the target weights.
use cairn_strategy::{
    Action, AssetMarket, MarketSnapshot, Plan, PortfolioState, SkipReason, decide,
};
use proptest::prelude::*;

fn plan_text(
    w0: f64,
    gas: f64,
    min_order: f64,
    partial: bool,
    depth: Option<f64>,
    rules: bool,
) -> String {
    let mut s = format!(
        "[budget]\namount = 100\nschedule = \"daily\"\n[[assets]]\nsymbol = \"BTC\"\nweight = {w0}\nmax_allocation = {m0}\n[[assets]]\nsymbol = \"BNB\"\nweight = {w1}\n[execution]\ngas_per_buy = {gas}\nmin_order = {min_order}\non_short = \"{os}\"\n",
        w1 = 1.0 - w0,
        m0 = (w0 + 0.2).min(1.0),
        os = if partial { "partial" } else { "skip" },
    );
    if let Some(d) = depth {
        s.push_str(&format!("pool_depth = {d}\n"));
    }
    if rules {
        s.push_str("[risk]\nrebalance = true\nmax_multiplier = 4\n[risk.vol_target]\ntarget = 0.6\nmax_scale = 3\n[risk.drawdown]\nbands = [{below = 0.2, multiplier = 1.5}, {below = 0.5, multiplier = 2.5}]\n[risk.pause]\nmax_vol = 2.0\nmax_var = 0.15\n");
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_overspends_and_orders_are_sane(
        w0 in 0.05f64..0.95,
        gas in 0.0f64..20.0,
        min_order in 0.0f64..50.0,
        partial in any::<bool>(),
        depth in prop::option::of(1e3f64..1e8),
        rules in any::<bool>(),
        cash in 0.0f64..500.0,
        h0 in 0.0f64..10.0,
        h1 in 0.0f64..100.0,
        p0 in 1.0f64..100_000.0,
        p1 in 0.1f64..1000.0,
        vol in prop::option::of(0.01f64..3.0),
        dd in 0.0f64..0.9,
        var in 0.0f64..0.3,
    ) {
        let plan = Plan::from_toml(&plan_text(w0, gas, min_order, partial, depth, rules)).unwrap();
        let mut state = PortfolioState::with_cash(cash);
        state.holdings[0] = h0;
        state.holdings[1] = h1;
        let vol = vol.unwrap_or(f64::NAN);
        let m = MarketSnapshot::new(0, &[
            AssetMarket { price: p0, vol, drawdown: dd, var },
            AssetMarket { price: p1, vol, drawdown: dd, var },
        ]);
        let d = decide(&plan, &state, &m);
        prop_assert!(d.spend() <= cash * (1.0 + 1e-9) + 1e-9, "spend {} > cash {}", d.spend(), cash);
        let mut sum = 0.0;
        for (_, o) in d.orders() {
            prop_assert!(o.amount_in.is_finite() && o.amount_in > 0.0);
            prop_assert!(o.amount_in >= plan.execution.min_order);
            prop_assert!(o.expected_out > 0.0 && o.min_out <= o.expected_out);
            sum += o.amount_in;
        }
        prop_assert!((sum - d.total_in).abs() <= 1e-9 * sum.max(1.0));
        for a in d.actions() {
            if let Action::Skip(SkipReason::InsufficientFunds { available, .. }) = a {
                prop_assert_eq!(*available, cash);
                // Partial fills scale down to the cash; only gas alone can exceed it.
                prop_assert!(!partial || cash <= gas * 2.0 + 1e-9);
            }
        }
    }

    #[test]
    fn plain_plan_respects_weights(w0 in 0.05f64..0.95, cash in 100.0f64..1000.0) {
        let plan = Plan::from_toml(&plan_text(w0, 0.0, 0.0, false, None, false)).unwrap();
        let m = MarketSnapshot::new(0, &[AssetMarket::priced(50_000.0), AssetMarket::priced(500.0)]);
        let d = decide(&plan, &PortfolioState::with_cash(cash), &m);
        let orders: Vec<_> = d.orders().collect();
        prop_assert_eq!(orders.len(), 2);
        prop_assert_eq!(orders[0].1.amount_in, 100.0 * w0);
        prop_assert_eq!(orders[1].1.amount_in, 100.0 * (1.0 - w0));
    }
}
