//! Decision statements: every order the policy produced (a buy with its transaction and fill,
//! or a skip with its reason) becomes a signed in-toto `decision/v1` statement in the
//! transparency log, so anyone can audit why the agent bought.
//!
//! * subject: `decision/<plan name>/slot-<n>/<symbol>` with the SHA-256 of the full record
//!   (the [`OrderRow`] as JSON: inputs, rule, order, transaction, fill);
//! * `plan`: SHA-256 of the plan file; `inputs`: SHA-256 of the inputs JSON (oracle answer and
//!   time, pool reserves, risk metrics, cash);
//! * `amounts`: `amountIn`, `minAmountOut` and, once filled, `amountOut` in base units;
//! * `reason`: the rule that fired, the order, the transaction hash and the fill, in words;
//! * `risk`: the price, the pool's price and the metrics the policy read (with a volatility
//!   model, `volatility` is its forecast and `realisedVolatility` the estimate it replaced);
//! * `models`: the volatility model's digest, when one fed the risk rules (lineage: decision →
//!   model → training run → dataset);
//! * `execution`: the venue, router and token path a live buy was sent through.
use crate::store::{OrderRow, OrderState};
use cairn_attest::{
    Digest, Statement, Subject,
    predicate::{DecisionKind, DecisionV1},
};
use std::collections::BTreeMap;

/// The statement of one order.
pub fn statement(plan_name: &str, plan_digest: &Digest, o: &OrderRow) -> Statement<DecisionV1> {
    let record = serde_json::to_vec(o).unwrap_or_default();
    let subject = Subject::new(
        format!("decision/{plan_name}/slot-{}/{}", o.slot, o.symbol),
        &Digest::sha256_of(&record),
    );
    let buy = o.amount_in != "0" && o.state != OrderState::Skipped;
    let mut amounts = BTreeMap::new();
    if buy {
        amounts.insert("amountIn".to_owned(), o.amount_in.clone());
        amounts.insert("minAmountOut".to_owned(), o.min_out.clone());
        if let Some(f) = &o.fill {
            amounts.insert("amountOut".to_owned(), f.clone());
        }
    }
    let inputs: serde_json::Value = serde_json::from_str(&o.inputs).unwrap_or_default();
    let mut risk = BTreeMap::new();
    for (k, name) in [
        ("price", "price"),
        ("poolPrice", "poolPrice"),
        ("vol", "volatility"),
        ("drawdown", "drawdown"),
        ("var", "valueAtRisk"),
        ("cash", "cash"),
    ] {
        if let Some(v) = inputs.get(k).and_then(|v| v.as_f64())
            && v.is_finite()
        {
            risk.insert(name.to_owned(), v);
        }
    }
    // With a model, the volatility read was its forecast; the estimate it replaced is kept too.
    if inputs.get("volModel").is_some_and(|m| m.is_string())
        && let Some(v) = inputs.get("volRealised").and_then(|v| v.as_f64())
        && v.is_finite()
    {
        risk.insert("realisedVolatility".to_owned(), v);
    }
    let mut reason = format!("slot {} {}: {}", o.slot, o.symbol, o.reason);
    if let Some(r) = &o.route {
        reason.push_str(&format!("; via {} (router {})", r.venue, r.router));
    }
    match (o.state, &o.tx_hash, &o.fill) {
        (OrderState::Filled, Some(h), Some(f)) => {
            reason.push_str(&format!("; tx {h}; received {f} base units"));
            if let Some(b) = o.fill_block {
                reason.push_str(&format!(" in block {b}"));
            }
        }
        (OrderState::Filled, None, Some(f)) => reason.push_str(&format!(
            "; paper fill {f} base units from the pool's reserves"
        )),
        (OrderState::Failed, h, _) => {
            reason.push_str(&format!(
                "; not bought: {}",
                o.error.as_deref().unwrap_or("unknown")
            ));
            if let Some(h) = h {
                reason.push_str(&format!(" (tx {h})"));
            }
        }
        _ => {}
    }
    Statement::new(
        vec![subject],
        DecisionV1 {
            plan: plan_digest.clone(),
            inputs: Digest::sha256_of(o.inputs.as_bytes()),
            kind: if buy {
                DecisionKind::Buy
            } else {
                DecisionKind::Skip
            },
            amounts,
            reason,
            risk,
            models: inputs
                .get("volModel")
                .and_then(|v| v.as_str())
                .and_then(|d| d.parse::<Digest>().ok())
                .into_iter()
                .collect(),
            execution: o.route.clone(),
        },
    )
}
