//! Token amounts as people write them ("12.5") and as chains hold them (integer base units).
//!
//! Parsing is exact decimal arithmetic on the digits: no float is involved, a digit beyond the
//! token's precision is an error rather than silently rounded away, and the result is the
//! integer a contract sees.
use alloy::primitives::U256;

/// Why a decimal amount could not be turned into base units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitsError {
    /// The text is empty.
    #[error("the amount is empty")]
    Empty,
    /// The text is not a plain non-negative decimal number.
    #[error("{text:?} is not a decimal amount (digits with at most one '.', no sign or exponent)")]
    NotDecimal {
        /// The text given.
        text: String,
    },
    /// More fractional digits than the token has decimals.
    #[error("{text:?} has more than {decimals} decimal places, the token's precision")]
    TooPrecise {
        /// The text given.
        text: String,
        /// The token's decimals.
        decimals: u8,
    },
    /// The amount does not fit in 256 bits.
    #[error("{text:?} is too large")]
    Overflow {
        /// The text given.
        text: String,
    },
}

/// `text` (e.g. `"12.5"`, `"0.000001"`, `"7"`) in base units of a token with `decimals`
/// places. Underscores between digits are allowed as separators (`1_000`).
pub fn parse_units(text: &str, decimals: u8) -> Result<U256, UnitsError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(UnitsError::Empty);
    }
    let bad = || UnitsError::NotDecimal { text: t.to_owned() };
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) => (i, f),
        None => (t, ""),
    };
    let digits_ok = |s: &str| {
        s.chars().all(|c| c.is_ascii_digit() || c == '_')
            && !s.starts_with('_')
            && !s.ends_with('_')
    };
    if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
        return Err(bad());
    }
    let frac: String = frac.chars().filter(|&c| c != '_').collect();
    let frac = frac.trim_end_matches('0');
    if frac.len() > decimals as usize {
        return Err(UnitsError::TooPrecise {
            text: t.to_owned(),
            decimals,
        });
    }
    let overflow = || UnitsError::Overflow { text: t.to_owned() };
    let mut value = U256::ZERO;
    let ten = U256::from(10u8);
    let padded = frac.to_owned() + &"0".repeat(decimals as usize - frac.len());
    for c in int.chars().filter(|&c| c != '_').chain(padded.chars()) {
        let d = U256::from(c.to_digit(10).expect("checked digit"));
        value = value
            .checked_mul(ten)
            .and_then(|v| v.checked_add(d))
            .ok_or_else(overflow)?;
    }
    Ok(value)
}

/// `value` base units of a token with `decimals` places as a decimal string, exact, without
/// trailing zeros (`1500000`, 6 → `"1.5"`).
pub fn format_units(value: U256, decimals: u8) -> String {
    let s = value.to_string();
    let d = decimals as usize;
    if d == 0 {
        return s;
    }
    let s = format!("{s:0>width$}", width = d + 1);
    let (int, frac) = s.split_at(s.len() - d);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_and_round_trips() {
        let u = |s: &str, d: u8| parse_units(s, d).unwrap();
        assert_eq!(u("12.5", 6), U256::from(12_500_000u64));
        assert_eq!(u("0.000001", 6), U256::from(1u64));
        assert_eq!(u("7", 0), U256::from(7u64));
        assert_eq!(u(".5", 2), U256::from(50u64));
        assert_eq!(u("5.", 2), U256::from(500u64));
        assert_eq!(u("1_000.10", 6), U256::from(1_000_100_000u64));
        assert_eq!(u("0.1000000", 1), U256::from(1u64)); // trailing zeros are not precision
        assert_eq!(u("1", 18), U256::from(1_000_000_000_000_000_000u128),);
        for (v, d) in [(1_500_000u64, 6u8), (1, 18), (0, 6), (42, 0), (100, 2)] {
            let s = format_units(U256::from(v), d);
            assert_eq!(u(&s, d), U256::from(v), "{s}");
        }
        assert_eq!(format_units(U256::from(1_500_000u64), 6), "1.5");
        assert_eq!(format_units(U256::from(5u64), 8), "0.00000005");
    }

    #[test]
    fn rejects_what_is_not_an_exact_amount() {
        assert_eq!(parse_units("", 6), Err(UnitsError::Empty));
        for s in [
            "-1", "1e6", "1.2.3", "abc", ".", "_1", "1_", "0x10", "1,5", "+1", "NaN",
        ] {
            assert!(
                matches!(parse_units(s, 6), Err(UnitsError::NotDecimal { .. })),
                "{s}"
            );
        }
        assert!(matches!(
            parse_units("0.0000001", 6),
            Err(UnitsError::TooPrecise { decimals: 6, .. })
        ));
        let huge = "9".repeat(80);
        assert!(matches!(
            parse_units(&huge, 0),
            Err(UnitsError::Overflow { .. })
        ));
    }
}
