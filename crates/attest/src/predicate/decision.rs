//! `decision/v1`: an agent decided to act (or not) on a plan given a snapshot of its inputs. The
//! statement's subject is the decision record; the predicate points at the plan and the inputs,
//! which may themselves be attested (an inference output, a market snapshot).
use super::{DECISION_V1, Predicate};
use crate::{Digest, FieldError, check, digest::SHA256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most decimal digits in an amount: a `uint256` has 78.
const MAX_AMOUNT_DIGITS: usize = 78;

/// Predicate of [`DECISION_V1`] (`https://cairn.dev/attestation/decision/v1`).
///
/// ```json
/// {"plan": "sha256:<64 hex>", "inputs": "sha256:<64 hex>", "kind": "buy",
///  "amounts": {"amountIn": "1000000000000000000", "minAmountOut": "995000"},
///  "reason": "spread above threshold", "risk": {"maxDrawdown": 0.05, "var95": 0.012},
///  "models": ["sha256:<64 hex>"],
///  "execution": {"venue": "uniswap-v2", "router": "0x<40 hex>", "path": ["0x…", "0x…"]}}
/// ```
///
/// `models` and `execution` are optional and absent from statements that have none, so earlier
/// statements keep their bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionV1 {
    /// Digest of the plan (strategy and its parameters) the agent followed.
    pub plan: Digest,
    /// Digest of the inputs the decision was made on (market snapshot, model outputs).
    pub inputs: Digest,
    /// What the agent decided.
    pub kind: DecisionKind,
    /// Amounts by role (`amountIn`, `minAmountOut`, …) as decimal integers in the asset's base
    /// units (strings, so no precision is lost); at least one for `buy` and `sell`.
    #[serde(default)]
    pub amounts: BTreeMap<String, String>,
    /// Why, in words.
    pub reason: String,
    /// Risk metrics by name (`maxDrawdown`, `var95`, …); finite numbers.
    #[serde(default)]
    pub risk: BTreeMap<String, f64>,
    /// Models whose outputs the decision read (a volatility forecaster, …): `sha256` of each
    /// model file, the subject of its `model/v1` statement, so lineage runs decision → model →
    /// training run → dataset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<Digest>,
    /// Where an order went: the venue, the router called and the token path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<Execution>,
}

/// Where an order was sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Execution {
    /// The venue's name (`uniswap-v2`, `pancake`, …).
    pub venue: String,
    /// The router contract called, `0x` and 40 hex digits.
    pub router: String,
    /// The swap's token path, each `0x` and 40 hex digits: the token paid first, the token
    /// bought last.
    pub path: Vec<String>,
}

fn is_address(s: &str) -> bool {
    s.len() == 42 && s.starts_with("0x") && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// What an agent decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionKind {
    /// Acquire an asset.
    Buy,
    /// Dispose of an asset.
    Sell,
    /// Do nothing this round.
    Skip,
    /// Stop acting until resumed (a risk limit tripped).
    Pause,
    /// Resume after a pause.
    Resume,
}

impl DecisionKind {
    /// The JSON spelling (`buy`, `sell`, `skip`, `pause`, `resume`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buy => "buy",
            Self::Sell => "sell",
            Self::Skip => "skip",
            Self::Pause => "pause",
            Self::Resume => "resume",
        }
    }
}

impl DecisionV1 {
    /// [`DECISION_V1`].
    pub const PREDICATE_TYPE: &'static str = DECISION_V1;
}

/// Whether `amount` is a decimal integer without sign or leading zeros.
fn is_amount(amount: &str) -> bool {
    let digits = !amount.is_empty() && amount.bytes().all(|b| b.is_ascii_digit());
    digits && amount.len() <= MAX_AMOUNT_DIGITS && (amount == "0" || !amount.starts_with('0'))
}

impl Predicate for DecisionV1 {
    fn predicate_type(&self) -> &'static str {
        DECISION_V1
    }

    fn validate(&self) -> Result<(), FieldError> {
        if matches!(self.kind, DecisionKind::Buy | DecisionKind::Sell) && self.amounts.is_empty() {
            return Err(FieldError::new(
                "predicate.amounts",
                format!(
                    "a {} decision needs at least one amount",
                    self.kind.as_str()
                ),
            ));
        }
        for (role, amount) in &self.amounts {
            let path = format!("predicate.amounts.{role}");
            check::text(&path, role)?;
            if !is_amount(amount) {
                return Err(FieldError::new(
                    path,
                    format!(
                        "must be a decimal integer in base units, without sign or leading zeros, \
                         at most {MAX_AMOUNT_DIGITS} digits (found {amount:?})"
                    ),
                ));
            }
        }
        check::prose("predicate.reason", &self.reason)?;
        for (name, value) in &self.risk {
            let path = format!("predicate.risk.{name}");
            check::text(&path, name)?;
            if !value.is_finite() {
                return Err(FieldError::new(path, "must be a finite number"));
            }
        }
        for (i, m) in self.models.iter().enumerate() {
            check::algorithm(&format!("predicate.models.{i}"), m, SHA256)?;
        }
        if let Some(x) = &self.execution {
            check::text("predicate.execution.venue", &x.venue)?;
            if !is_address(&x.router) {
                return Err(FieldError::new(
                    "predicate.execution.router",
                    format!("must be 0x and 40 hex digits (found {:?})", x.router),
                ));
            }
            if x.path.len() < 2 {
                return Err(FieldError::new(
                    "predicate.execution.path",
                    "needs at least two tokens: the one paid and the one bought",
                ));
            }
            for (i, t) in x.path.iter().enumerate() {
                if !is_address(t) {
                    return Err(FieldError::new(
                        format!("predicate.execution.path.{i}"),
                        format!("must be 0x and 40 hex digits (found {t:?})"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The plan, the inputs, then the models.
    fn upstream_digests(&self) -> Vec<Digest> {
        let mut up = vec![self.plan.clone(), self.inputs.clone()];
        up.extend(self.models.iter().cloned());
        up
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mutation of a valid sample and the start of the error it must cause.
    type Case = (fn(&mut DecisionV1), &'static str);

    fn sample() -> DecisionV1 {
        DecisionV1 {
            plan: Digest::from_sha256([10; 32]),
            inputs: Digest::from_sha256([9; 32]),
            kind: DecisionKind::Buy,
            amounts: BTreeMap::from([("amountIn".to_owned(), "1000000000000000000".to_owned())]),
            reason: "spread above threshold\nliquidity ok".into(),
            risk: BTreeMap::from([("maxDrawdown".to_owned(), 0.05)]),
            models: Vec::new(),
            execution: None,
        }
    }

    #[test]
    fn models_and_execution_are_optional_and_checked() {
        let mut d = sample();
        let bare = serde_json::to_value(&d).unwrap();
        assert!(bare.get("models").is_none() && bare.get("execution").is_none());
        d.models.push(Digest::from_sha256([7; 32]));
        d.execution = Some(Execution {
            venue: "pancake".into(),
            router: format!("0x{}", "ab".repeat(20)),
            path: vec![
                format!("0x{}", "01".repeat(20)),
                format!("0x{}", "02".repeat(20)),
            ],
        });
        d.validate().unwrap();
        assert_eq!(d.upstream_digests()[2], Digest::from_sha256([7; 32]));
        let back: DecisionV1 = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
        assert_eq!(back, d);
        let mut bad = d.clone();
        bad.models[0] = Digest::from_blake3([7; 32]);
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("predicate.models.0")
        );
        let mut bad = d.clone();
        bad.execution.as_mut().unwrap().router = "0x12".into();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("predicate.execution.router")
        );
        let mut bad = d;
        bad.execution.as_mut().unwrap().path.truncate(1);
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("predicate.execution.path")
        );
    }

    #[test]
    fn valid_sample_passes_and_links_to_plan_and_inputs() {
        let d = sample();
        d.validate().unwrap();
        assert_eq!(d.upstream_digests(), vec![d.plan.clone(), d.inputs.clone()]);
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["kind"], "buy");
        assert_eq!(json["amounts"]["amountIn"], "1000000000000000000");
    }

    #[test]
    fn skip_needs_no_amounts() {
        let mut d = sample();
        d.kind = DecisionKind::Skip;
        d.amounts.clear();
        d.validate().unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [Case; 7] = [
            (
                |d| d.amounts.clear(),
                "predicate.amounts: a buy decision needs at least one",
            ),
            (
                |d| {
                    d.amounts.insert("fee".into(), "-1".into());
                },
                "predicate.amounts.fee: must be a decimal integer",
            ),
            (
                |d| {
                    d.amounts.insert("fee".into(), "007".into());
                },
                "predicate.amounts.fee: must be a decimal integer",
            ),
            (
                |d| {
                    d.amounts.insert("fee".into(), "1.5".into());
                },
                "predicate.amounts.fee: must be a decimal integer",
            ),
            (
                |d| d.reason = "\n".into(),
                "predicate.reason: must not be empty",
            ),
            (
                |d| {
                    d.risk.insert("var95".into(), f64::NAN);
                },
                "predicate.risk.var95: must be a finite number",
            ),
            (
                |d| {
                    d.risk.insert("".into(), 1.0);
                },
                "predicate.risk.: must not be empty",
            ),
        ];
        for (mutate, expected) in cases {
            let mut d = sample();
            mutate(&mut d);
            let err = d.validate().unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }

    #[test]
    fn amount_grammar() {
        for ok in ["0", "1", "1000", &"9".repeat(78)] {
            assert!(is_amount(ok), "{ok}");
        }
        for bad in ["", "01", "+1", "1e3", " 1", &"9".repeat(79)] {
            assert!(!is_amount(bad), "{bad}");
        }
    }
}
