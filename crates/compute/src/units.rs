//! Sizes and amounts as people write and read them: `"256 MiB"` in a job file, `4 GiB` in an
//! explanation, `1.5 USDT` in a status line. Values are exact integers underneath (bytes, token
//! base units); only the text is friendly.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, str::FromStr};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const TIB: u64 = 1 << 40;

/// Decimals of the USDT token that prices and payments are denominated in.
pub const USDT_DECIMALS: u32 = 6;

/// A number of bytes. Deserializes from an integer (`268435456`) or a string with a unit
/// (`"256 MiB"`, `"1.5GiB"`, `"64 KB"`); serializes as an integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// `n` mebibytes.
    pub const fn mib(n: u64) -> Self {
        Self(n * MIB)
    }

    /// `n` gibibytes.
    pub const fn gib(n: u64) -> Self {
        Self(n * GIB)
    }
}

impl fmt::Display for ByteSize {
    /// The largest binary unit that keeps the number at least 1, with one decimal when the
    /// value is not a whole number of that unit (`4 GiB`, `1.5 GiB`, `300 B`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        let (unit, name) = match v {
            v if v >= TIB => (TIB, "TiB"),
            v if v >= GIB => (GIB, "GiB"),
            v if v >= MIB => (MIB, "MiB"),
            v if v >= KIB => (KIB, "KiB"),
            _ => return write!(f, "{v} B"),
        };
        if v.is_multiple_of(unit) {
            write!(f, "{} {name}", v / unit)
        } else {
            // Truncate, not round: "largest: 3.9 GiB" must never read as enough for 4 GiB.
            let tenths = (u128::from(v) * 10 / u128::from(unit)) as u64;
            if tenths.is_multiple_of(10) {
                write!(f, "{} {name}", tenths / 10)
            } else {
                write!(f, "{}.{} {name}", tenths / 10, tenths % 10)
            }
        }
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let num = num.replace('_', "");
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => KIB,
            "m" | "mib" => MIB,
            "g" | "gib" => GIB,
            "t" | "tib" => TIB,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {s:?}; use B, KiB, MiB, GiB, TiB (or KB, MB, GB, TB)"
                ));
            }
        };
        let bad = || format!("{s:?} is not a size; write e.g. 512 MiB, 4 GiB or 1048576");
        let (whole, frac) = match num.split_once('.') {
            Some((w, f)) => (w, f),
            None => (num.as_str(), ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let mut bytes = whole
            .checked_mul(mult)
            .ok_or_else(|| format!("{s:?} is too large"))?;
        if !frac.is_empty() {
            if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let digits: u64 = frac.parse().map_err(|_| bad())?;
            let scale = 10u128.pow(frac.len() as u32);
            let extra = u128::from(digits) * u128::from(mult) / scale;
            bytes = bytes
                .checked_add(extra as u64)
                .ok_or_else(|| format!("{s:?} is too large"))?;
        }
        Ok(Self(bytes))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expected a size: an integer number of bytes or a string such as \"256 MiB\"",
            )
        })? {
            Raw::Int(n) => Ok(Self(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Formats USDT base units as a decimal amount (`1500000` → `1.5 USDT`).
pub fn fmt_usdt(base_units: u64) -> String {
    let scale = 10u64.pow(USDT_DECIMALS);
    let whole = base_units / scale;
    let frac = base_units % scale;
    if frac == 0 {
        format!("{whole} USDT")
    } else {
        let digits = format!("{frac:0width$}", width = USDT_DECIMALS as usize);
        format!("{whole}.{} USDT", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_parse_with_units_and_print_in_the_largest_whole_unit() {
        let cases = [
            ("256 MiB", 256 * MIB),
            ("4GiB", 4 * GIB),
            ("1.5 GiB", 3 * GIB / 2),
            ("64 KB", 64_000),
            ("1_048_576", MIB),
            ("7", 7),
            ("2 t", 2 * TIB),
        ];
        for (text, bytes) in cases {
            assert_eq!(text.parse::<ByteSize>().unwrap(), ByteSize(bytes), "{text}");
        }
        assert_eq!(ByteSize::gib(8).to_string(), "8 GiB");
        assert_eq!(ByteSize(3 * GIB / 2).to_string(), "1.5 GiB");
        assert_eq!(ByteSize(GIB - 1).to_string(), "1023.9 MiB");
        assert_eq!(ByteSize(300).to_string(), "300 B");
        for bad in [
            "",
            "GiB",
            "12 parsecs",
            "1.2.3 MiB",
            "99999999999999 TiB",
            "-1",
        ] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn usdt_amounts_print_without_trailing_zeros() {
        assert_eq!(fmt_usdt(0), "0 USDT");
        assert_eq!(fmt_usdt(1_500_000), "1.5 USDT");
        assert_eq!(fmt_usdt(25), "0.000025 USDT");
        assert_eq!(fmt_usdt(7_000_000), "7 USDT");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn printed_sizes_parse_back_to_at_most_the_value(v in 0u64..(1u64 << 50)) {
            let printed = ByteSize(v).to_string();
            let back: ByteSize = printed.parse().unwrap();
            // Printing truncates to a tenth of the unit, never rounds up.
            prop_assert!(back.0 <= v, "{} -> {} -> {}", v, printed, back.0);
            prop_assert!(v - back.0 < v / 10 + 1024);
        }

        #[test]
        fn integers_round_trip_exactly(v in any::<u64>()) {
            prop_assert_eq!(v.to_string().parse::<ByteSize>().unwrap(), ByteSize(v));
        }
    }
}
