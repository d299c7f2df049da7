//! Reading a JSON number's exact text. serde_json's `arbitrary_precision` hands over the digits as
//! sent, of any length and with any exponent (`1e-9223372036854775808`), so the reader works in time
//! and memory linear in the text and never in the exponent's value.

pub(crate) const NOT_A_NUMBER: &str = "must be a number";
pub(crate) const OUT_OF_RANGE: &str = "is out of range";

/// A decimal as `0.DIGITS × 10^point`, `digits` without leading or trailing zeros (empty for zero).
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    point: i64,
}

/// What scaling a decimal to an integer gives.
pub(crate) struct Scaled {
    /// The value rounded half to even, when it fits an `i64`.
    pub rounded: Result<i64, &'static str>,
    /// Whether rounding changed it (the scaled number had a fraction).
    pub inexact: bool,
}

/// `text` (a JSON number: `-?digits(.digits)?([eE][+-]?digits)?`) times `10^scale`.
pub(crate) fn scaled(text: &str, scale: i64) -> Result<Scaled, &'static str> {
    Ok(Decimal::read(text)?.scaled(scale))
}

impl Decimal {
    fn read(text: &str) -> Result<Self, &'static str> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], exponent(&rest[i + 1..])?),
            None => (rest, 0),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() || !all_digits(int_part) || !all_digits(frac_part) {
            return Err(NOT_A_NUMBER);
        }
        let int_part = int_part.trim_start_matches('0');
        let (digits, point) = if int_part.is_empty() {
            let frac = frac_part.trim_start_matches('0');
            let zeros = (frac_part.len() - frac.len()) as i64;
            (frac.trim_end_matches('0').as_bytes().to_vec(), -zeros)
        } else {
            let mut d = Vec::with_capacity(int_part.len() + frac_part.len());
            d.extend_from_slice(int_part.as_bytes());
            d.extend_from_slice(frac_part.trim_end_matches('0').as_bytes());
            while d.last() == Some(&b'0') {
                d.pop();
            }
            (d, int_part.len() as i64)
        };
        Ok(Self {
            negative,
            point: point.saturating_add(exponent),
            digits,
        })
    }

    fn scaled(&self, scale: i64) -> Scaled {
        if self.digits.is_empty() {
            return Scaled {
                rounded: Ok(0),
                inexact: false,
            };
        }
        // The scaled value's integer digits are the first `whole` digits (zeros past the end).
        let whole = self.point.saturating_add(scale);
        // 10^19 > i64::MAX: twenty integer digits never fit.
        if whole > 19 {
            return Scaled {
                rounded: Err(OUT_OF_RANGE),
                inexact: false,
            };
        }
        let (base, first_dropped, rest_dropped) = if whole <= 0 {
            // 0.000DIGITS: only a fraction. The first dropped digit is the first digit when the
            // fraction starts right at the point, else a zero.
            let first = if whole == 0 { self.digits[0] } else { b'0' };
            let rest = if whole == 0 {
                self.digits.len() > 1
            } else {
                true
            };
            (0i128, Some(first), rest)
        } else {
            let whole = whole as usize;
            let kept = &self.digits[..whole.min(self.digits.len())];
            let mut base: i128 = 0;
            for &b in kept {
                base = base * 10 + i128::from(b - b'0');
            }
            for _ in kept.len()..whole {
                base *= 10;
            }
            let dropped = self.digits.get(whole..).unwrap_or(&[]);
            // Trailing zeros were trimmed, so any digit after the first is non-zero.
            (base, dropped.first().copied(), dropped.len() > 1)
        };
        let round_up = match first_dropped {
            Some(d) => d > b'5' || (d == b'5' && (rest_dropped || base % 2 == 1)),
            None => false,
        };
        let magnitude = base + i128::from(round_up);
        let signed = if self.negative { -magnitude } else { magnitude };
        Scaled {
            rounded: i64::try_from(signed).map_err(|_| OUT_OF_RANGE),
            inexact: first_dropped.is_some(),
        }
    }
}

/// An exponent's digits, saturated: any exponent beyond ±i64::MAX means the same as that one.
fn exponent(text: &str) -> Result<i64, &'static str> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !all_digits(digits) {
        return Err(NOT_A_NUMBER);
    }
    let value = digits.bytes().fold(0i64, |acc, b| {
        acc.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Ok(if negative { -value } else { value })
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// A count a client reports (tokens and the like): an integer from 0 to 2^53-1, the largest every
/// JSON reader (JavaScript's included) holds exactly. `5.0` and `5e0` are 5; `-0` is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Count(i64);

impl Count {
    /// The largest count: 2^53 - 1, exact in every JSON reader.
    pub const MAX: i64 = (1 << 53) - 1;
    /// What a count must be, for validation messages.
    pub const RANGE: &'static str = "must be an integer from 0 to 9007199254740991";

    /// `n` when it is within 0..=`MAX`.
    pub fn new(n: i64) -> Result<Self, &'static str> {
        if (0..=Self::MAX).contains(&n) {
            Ok(Self(n))
        } else {
            Err(Self::RANGE)
        }
    }

    /// The value.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// Reads a JSON number's text.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        Self::parse_number_text(text)
    }

    /// A number as a client sent it (`None` is 0), for validation.
    pub fn from_json(n: Option<&serde_json::Number>) -> Result<Self, &'static str> {
        n.map_or(Ok(Self(0)), |n| Self::parse_number_text(&n.to_string()))
    }

    fn parse_number_text(text: &str) -> Result<Self, &'static str> {
        let s = scaled(text, 0).map_err(|_| Self::RANGE)?;
        if s.inexact {
            return Err(Self::RANGE);
        }
        Self::new(s.rounded.map_err(|_| Self::RANGE)?)
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for Count {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Count {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millionths(s: &str) -> Result<i64, &'static str> {
        scaled(s, 6)?.rounded
    }

    #[test]
    fn extreme_exponents_are_judged_without_work_in_their_size() {
        assert_eq!(millionths("1e-9223372036854775808"), Ok(0));
        assert_eq!(millionths("1e-99999999999999999999999"), Ok(0));
        assert_eq!(millionths("1e9223372036854775807"), Err(OUT_OF_RANGE));
        assert_eq!(millionths("1e99999999999999999999999"), Err(OUT_OF_RANGE));
        assert_eq!(millionths("0e99999999999999999999999"), Ok(0));
        assert_eq!(millionths("-0"), Ok(0));
        assert_eq!(millionths("-0.0e-5"), Ok(0));
        assert_eq!(millionths("1E+2"), Ok(100_000_000));
        assert_eq!(millionths("100e-2"), Ok(1_000_000));
        assert_eq!(millionths("0.00000049"), Ok(0));
        assert_eq!(millionths("0.0000005000001"), Ok(1));
        assert_eq!(millionths("9223372036854.775807"), Ok(i64::MAX));
        assert_eq!(millionths("9223372036854.775808"), Err(OUT_OF_RANGE));
        assert_eq!(millionths("-9223372036854.775808"), Ok(i64::MIN));
        for bad in [
            "", "-", "1e", "1e+", "e5", "1.e", "+1", "1x", "1e5.5", ".5", "1e--5",
        ] {
            assert_eq!(millionths(bad), Err(NOT_A_NUMBER), "{bad:?}");
        }
    }

    #[test]
    fn tens_of_thousands_of_digits_are_read_once() {
        let long = "9".repeat(50_000);
        assert_eq!(millionths(&long), Err(OUT_OF_RANGE));
        assert_eq!(millionths(&format!("0.{long}")), Ok(1_000_000));
        assert_eq!(millionths(&format!("{long}e-50000")), Ok(1_000_000));
        assert_eq!(
            millionths(&format!("1{}e-50000", "0".repeat(50_000))),
            Ok(1_000_000)
        );
        assert_eq!(millionths(&format!("0.{}1", "0".repeat(50_000))), Ok(0));
    }

    #[test]
    fn counts_are_whole_and_bounded() {
        assert_eq!(Count::parse("0"), Ok(Count(0)));
        assert_eq!(Count::parse("-0"), Ok(Count(0)));
        assert_eq!(Count::parse("5.0"), Ok(Count(5)));
        assert_eq!(Count::parse("12e3"), Ok(Count(12_000)));
        assert_eq!(Count::parse("9007199254740991"), Ok(Count(Count::MAX)));
        for bad in [
            "9007199254740992",
            "-1",
            "1.5",
            "1e-9223372036854775808",
            "1e400",
            "abc",
        ] {
            assert_eq!(Count::parse(bad), Err(Count::RANGE), "{bad:?}");
        }
    }
}
