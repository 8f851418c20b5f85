//! Exact decimal values and the one rounding rule the scores use: round half up (away from
//! zero) on the decimal value as written, never float comparisons against chart bounds.
//!
//! RCP NEWS2 Chart 1 is defined on whole numbers (respiration rate, SpO2, systolic BP,
//! pulse) and on 0.1 °C (temperature). Readings between chart rows (35.05 °C, SpO2 91.5 %)
//! are normalised first: 35.05 → 35.1, 91.5 → 92, 91.49 → 91. A JSON number is read back
//! through its shortest round-trip decimal form, so `35.05` is 35.05 and not
//! 35.04999999999999715.

use std::fmt;

/// A decimal number: `units / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    units: i128,
    scale: u32,
}

/// Most fractional digits kept from an input (more is noise, not precision).
const MAX_SCALE: u32 = 18;

impl Decimal {
    /// A whole number.
    pub fn from_int(v: i64) -> Decimal {
        Decimal {
            units: i128::from(v),
            scale: 0,
        }
    }

    /// Parses `-12.345`, `7`, `1.5e2`. None for anything else (NaN, empty, garbage).
    pub fn parse(s: &str) -> Option<Decimal> {
        let s = s.trim();
        let (mantissa, exp) = match s.find(['e', 'E']) {
            Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
            None => (s, 0),
        };
        let (neg, digits) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let frac = &frac[..frac.len().min(MAX_SCALE as usize)];
        let mut units: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            units = units.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
        }
        let mut scale = frac.len() as i32 - exp;
        while scale < 0 {
            units = units.checked_mul(10)?;
            scale += 1;
        }
        let mut d = Decimal {
            units: if neg { -units } else { units },
            scale: scale as u32,
        };
        while d.scale > MAX_SCALE {
            d = Decimal::from_scaled(d.round_half_up(d.scale - 1)?, d.scale - 1);
        }
        Some(d)
    }

    /// The decimal a finite `f64` was written as (its shortest round-trip form).
    pub fn from_f64(v: f64) -> Option<Decimal> {
        if !v.is_finite() {
            return None;
        }
        Decimal::parse(&format!("{v}"))
    }

    /// The value of a JSON number, exactly as written for integers and as its shortest
    /// round-trip form otherwise.
    pub fn from_json(v: &serde_json::Value) -> Option<Decimal> {
        let n = v.as_number()?;
        if let Some(i) = n.as_i64() {
            return Some(Decimal::from_int(i));
        }
        Decimal::parse(&n.to_string()).or_else(|| Decimal::from_f64(n.as_f64()?))
    }

    fn from_scaled(units: i128, scale: u32) -> Decimal {
        Decimal { units, scale }
    }

    /// `self × 10^places`, rounded half up (away from zero) to a whole number: the one
    /// normalisation rule of the scores. `round_half_up(1)` of 35.05 is 351 (35.1 °C).
    pub fn round_half_up(&self, places: u32) -> Option<i128> {
        if places >= self.scale {
            return self
                .units
                .checked_mul(10i128.checked_pow(places - self.scale)?);
        }
        let div = 10i128.checked_pow(self.scale - places)?;
        let q = self.units / div;
        let r = (self.units % div).abs();
        let up = r * 2 >= div;
        Some(match (up, self.units < 0) {
            (false, _) => q,
            (true, false) => q + 1,
            (true, true) => q - 1,
        })
    }

    /// Rounded half up to a whole number (see [`Decimal::round_half_up`]).
    pub fn to_whole(&self) -> Option<i64> {
        self.round_half_up(0).and_then(|v| i64::try_from(v).ok())
    }

    /// Rounded half up to tenths, as a count of tenths (35.05 → 351).
    pub fn to_tenths(&self) -> Option<i64> {
        self.round_half_up(1).and_then(|v| i64::try_from(v).ok())
    }

    /// `(self + add) × num / den`, exactly, rounded half up to `places` decimals (as a
    /// count of `10^-places`): unit conversions such as °F → °C without float error.
    pub fn convert(&self, add: Decimal, num: i128, den: i128, places: u32) -> Option<i64> {
        let scale = self.scale.max(add.scale);
        let a = self
            .units
            .checked_mul(10i128.checked_pow(scale - self.scale)?)?;
        let b = add
            .units
            .checked_mul(10i128.checked_pow(scale - add.scale)?)?;
        // value × 10^places = (a + b) × num × 10^places / (den × 10^scale)
        let n = (a + b)
            .checked_mul(num)?
            .checked_mul(10i128.checked_pow(places)?)?;
        let d = den.checked_mul(10i128.checked_pow(scale)?)?;
        if d == 0 {
            return None;
        }
        let (q, r) = (n / d, (n % d).abs());
        let rounded = if r * 2 >= d.abs() {
            if (n < 0) != (d < 0) {
                q - 1
            } else {
                q + 1
            }
        } else {
            q
        };
        i64::try_from(rounded).ok()
    }

    /// Compares two decimals by value (`2.50` equals `2.5`), exactly.
    pub fn cmp_value(&self, other: &Decimal) -> std::cmp::Ordering {
        let scale = self.scale.max(other.scale);
        let widen = |d: &Decimal| {
            10i128
                .checked_pow(scale - d.scale)
                .and_then(|m| d.units.checked_mul(m))
        };
        match (widen(self), widen(other)) {
            (Some(a), Some(b)) => a.cmp(&b),
            // Beyond i128 only at absurd magnitudes: compare the nearest floats.
            _ => self.as_f64().total_cmp(&other.as_f64()),
        }
    }

    pub fn as_f64(&self) -> f64 {
        self.units as f64 / 10f64.powi(self.scale as i32)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scale == 0 {
            return write!(f, "{}", self.units);
        }
        let div = 10i128.pow(self.scale);
        let sign = if self.units < 0 { "-" } else { "" };
        let a = self.units.abs();
        write!(
            f,
            "{sign}{}.{:0width$}",
            a / div,
            a % div,
            width = self.scale as usize
        )
    }
}

/// Tenths as a decimal string (351 → "35.1").
pub fn tenths(v: i64) -> String {
    Decimal::from_scaled(i128::from(v), 1).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn rounds_half_up_on_the_written_value() {
        assert_eq!(d("35.05").to_tenths(), Some(351));
        assert_eq!(d("35.04").to_tenths(), Some(350));
        assert_eq!(d("35.049999").to_tenths(), Some(350));
        assert_eq!(d("91.5").to_whole(), Some(92));
        assert_eq!(d("91.49").to_whole(), Some(91));
        assert_eq!(d("91.2").to_whole(), Some(91));
        assert_eq!(d("-2.5").to_whole(), Some(-3));
        assert_eq!(d("7").to_tenths(), Some(70));
        assert_eq!(d("1.5e1").to_whole(), Some(15));
        assert_eq!(d("25e-1").to_whole(), Some(3));
    }

    #[test]
    fn json_numbers_keep_their_decimal_form() {
        let v: serde_json::Value = serde_json::from_str("35.05").unwrap();
        assert_eq!(Decimal::from_json(&v).unwrap().to_tenths(), Some(351));
        assert_eq!(Decimal::from_f64(91.5).unwrap().to_whole(), Some(92));
        assert_eq!(Decimal::from_f64(f64::NAN), None);
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        for s in ["", ".", "abc", "1.2.3", "--1", "1e", "12a"] {
            assert_eq!(Decimal::parse(s), None, "{s}");
        }
    }

    #[test]
    fn converts_fahrenheit_exactly() {
        // (95.09 − 32) × 5/9 = 35.05 exactly: half up to 35.1.
        let c = d("95.09").convert(d("-32"), 5, 9, 1);
        assert_eq!(c, Some(351));
        assert_eq!(d("98.6").convert(d("-32"), 5, 9, 1), Some(370));
        assert_eq!(d("95").convert(d("-32"), 5, 9, 1), Some(350));
    }

    #[test]
    fn compares_by_value() {
        use std::cmp::Ordering::*;
        assert_eq!(d("2.50").cmp_value(&d("2.5")), Equal);
        assert_eq!(d("19.99").cmp_value(&d("20")), Less);
        assert_eq!(d("91.005").cmp_value(&d("91.01")), Less);
        assert_eq!(d("-1").cmp_value(&d("0")), Less);
        assert_eq!(d("1e2").cmp_value(&d("99.999")), Greater);
    }

    #[test]
    fn displays_exactly() {
        assert_eq!(d("35.05").to_string(), "35.05");
        assert_eq!(d("-0.5").to_string(), "-0.5");
        assert_eq!(tenths(351), "35.1");
    }
}
