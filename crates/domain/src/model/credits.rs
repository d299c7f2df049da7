//! Money: integer millionths, parsed from and printed as exact decimals.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::number;

/// An amount of credits (or US dollars) in millionths. `0.1 + 0.2` is `0.3` here, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Credits(i64);

impl Credits {
    /// Millionths in one credit.
    pub const SCALE: i64 = 1_000_000;
    /// No credits.
    pub const ZERO: Credits = Credits(0);
    /// The largest amount one consume or recharge may move: 1e12.
    pub const MAX_AMOUNT: Credits = Credits(1_000_000_000_000 * Self::SCALE);

    /// The amount of `m` millionths.
    pub const fn from_millionths(m: i64) -> Self {
        Self(m)
    }
    /// The amount in millionths.
    pub const fn millionths(self) -> i64 {
        self.0
    }

    /// An amount to move: greater than 0 and at most 1e12 after rounding.
    pub fn parse_amount(text: &str) -> Result<Self, String> {
        let c = Self::parse_decimal(text)?;
        if c.0 <= 0 || c > Self::MAX_AMOUNT {
            return Err("must be greater than 0 and at most 1000000000000".into());
        }
        Ok(c)
    }

    /// Parses a JSON number's text, rounding to 6 decimal places half to even
    /// (`57 * 0.01` arrives as `0.5700000000000001` and means `0.57`).
    pub fn parse_decimal(text: &str) -> Result<Self, String> {
        number::scaled(text, 6)
            .and_then(|s| s.rounded)
            .map(Self)
            .map_err(str::to_owned)
    }

    /// The sum, or `None` on overflow.
    pub fn checked_add(self, other: Credits) -> Option<Credits> {
        self.0.checked_add(other.0).map(Self)
    }
    /// The difference, or `None` on overflow.
    pub fn checked_sub(self, other: Credits) -> Option<Credits> {
        self.0.checked_sub(other.0).map(Self)
    }
}

impl fmt::Display for Credits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / Self::SCALE as u64;
        let frac = abs % Self::SCALE as u64;
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let frac = format!("{frac:06}");
            write!(f, "{sign}{whole}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl FromStr for Credits {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_decimal(s)
    }
}

/// Printed as a JSON number with exactly the decimal digits it has (needs serde_json's
/// `arbitrary_precision`, which the workspace enables).
impl Serialize for Credits {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n =
            serde_json::Number::from_str(&self.to_string()).map_err(serde::ser::Error::custom)?;
        n.serialize(s)
    }
}

/// Read from a JSON number's exact text, rounded to 6 places.
impl<'de> Deserialize<'de> for Credits {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        Self::parse_decimal(&n.to_string()).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<i64, String> {
        Credits::parse_decimal(s).map(Credits::millionths)
    }

    #[test]
    fn parses_exactly_and_rounds_half_to_even() {
        assert_eq!(p("0.3"), Ok(300_000));
        assert_eq!(p("89.5"), Ok(89_500_000));
        assert_eq!(p("0.5700000000000001"), Ok(570_000));
        assert_eq!(p("0.30000000000000004"), Ok(300_000));
        assert_eq!(p("0.0000005"), Ok(0));
        assert_eq!(p("0.0000015"), Ok(2));
        assert_eq!(p("0.00000250"), Ok(2));
        assert_eq!(p("0.00000251"), Ok(3));
        assert_eq!(p("1e3"), Ok(1_000_000_000));
        assert_eq!(p("1.5E-6"), Ok(2));
        assert_eq!(p("-2.25"), Ok(-2_250_000));
        assert_eq!(p("0"), Ok(0));
        assert!(p("abc").is_err());
        assert!(p("1e40").is_err());
        assert!(p(".5").is_err());
    }

    #[test]
    fn amounts_are_positive_and_bounded() {
        assert!(Credits::parse_amount("0").is_err());
        assert!(Credits::parse_amount("0.0000004").is_err());
        assert!(Credits::parse_amount("-1").is_err());
        assert!(Credits::parse_amount("1000000000000").is_ok());
        assert!(Credits::parse_amount("1000000000000.000001").is_err());
    }

    #[test]
    fn prints_the_exact_decimal() {
        let sum = Credits::parse_decimal("0.1")
            .ok()
            .and_then(|a| a.checked_add(Credits::parse_decimal("0.2").ok()?));
        assert_eq!(sum.map(|c| c.to_string()), Some("0.3".to_string()));
        assert_eq!(Credits::from_millionths(100_000_000).to_string(), "100");
        assert_eq!(Credits::from_millionths(-1).to_string(), "-0.000001");
        assert_eq!(
            serde_json::to_string(&Credits::from_millionths(89_500_000)).ok(),
            Some("89.5".into())
        );
        let back: Result<Credits, _> = serde_json::from_str("0.5700000000000001");
        assert_eq!(back.ok(), Some(Credits::from_millionths(570_000)));
    }
}
