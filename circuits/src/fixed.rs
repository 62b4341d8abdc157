//! Strict fixed-point decimals (SPEC section 2).
//!
//! Every number in every file is a JSON string holding a plain decimal. It is parsed
//! into an integer count of units at a fixed scale: nothing is rounded, a value with
//! more decimals than its kind allows or outside its range is rejected.

use std::fmt;

/// The kind of a decimal input: fixes its scale and its range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalKind {
    /// Position sizes and asset amounts: 8 decimals, |x| ≤ 1e12.
    Quantity,
    /// Marks, P&L, per-unit charges, asset prices: 6 decimals, |x| ≤ 1e12.
    Money,
    /// Haircuts and loss factors: 6 decimals, 0 ≤ x ≤ 1000.
    Rate,
}

/// Decimal places of quantities.
pub const QTY_DECIMALS: u32 = 8;
/// Decimal places of money per unit.
pub const MONEY_DECIMALS: u32 = 6;
/// Decimal places of rates and factors.
pub const RATE_DECIMALS: u32 = 6;

/// One quantity unit is 10^-8.
pub const QTY_SCALE: i128 = 100_000_000;
/// One money unit is 10^-6.
pub const MONEY_SCALE: i128 = 1_000_000;
/// One rate unit is 10^-6.
pub const RATE_SCALE: i128 = 1_000_000;

/// Largest absolute quantity, in units (1e12 at 8 decimals).
pub const MAX_QTY_UNITS: i128 = 1_000_000_000_000 * QTY_SCALE;
/// Largest absolute money value, in units (1e12 at 6 decimals).
pub const MAX_MONEY_UNITS: i128 = 1_000_000_000_000 * MONEY_SCALE;
/// Largest rate, in units (1000 at 6 decimals).
pub const MAX_RATE_UNITS: i128 = 1_000 * RATE_SCALE;

impl DecimalKind {
    /// Decimal places allowed for this kind.
    pub fn decimals(self) -> u32 {
        match self {
            DecimalKind::Quantity => QTY_DECIMALS,
            DecimalKind::Money => MONEY_DECIMALS,
            DecimalKind::Rate => RATE_DECIMALS,
        }
    }

    /// Inclusive range of the value in units.
    pub fn range(self) -> (i128, i128) {
        match self {
            DecimalKind::Quantity => (-MAX_QTY_UNITS, MAX_QTY_UNITS),
            DecimalKind::Money => (-MAX_MONEY_UNITS, MAX_MONEY_UNITS),
            DecimalKind::Rate => (0, MAX_RATE_UNITS),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            DecimalKind::Quantity => "a quantity (at most 8 decimals, |x| <= 1e12)",
            DecimalKind::Money => "a money value (at most 6 decimals, |x| <= 1e12)",
            DecimalKind::Rate => "a rate (at most 6 decimals, 0 <= x <= 1000)",
        }
    }
}

/// Why a decimal string was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// Not of the form `-?digits(.digits)?`.
    NotADecimal,
    /// More decimal places than the kind allows.
    TooManyDecimals {
        /// Places allowed.
        allowed: u32,
    },
    /// Outside the kind's range.
    OutOfRange,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecimalError::NotADecimal => write!(f, "not a decimal number"),
            DecimalError::TooManyDecimals { allowed } => {
                write!(f, "more than {allowed} decimal places")
            }
            DecimalError::OutOfRange => write!(f, "out of range"),
        }
    }
}

/// Parses a plain decimal string (`-12.5`, `91000`, `0.8`) into units of `kind`.
///
/// Accepted grammar: an optional `-`, one or more ASCII digits, optionally a `.`
/// followed by one or more digits. No `+`, exponent, spaces or thousands separators.
pub fn parse_units(text: &str, kind: DecimalKind) -> Result<i128, DecimalError> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
        return Err(DecimalError::NotADecimal);
    }
    // Decimals are counted as written: "1.0000000" has 7, too many for money.
    let frac = frac_part.unwrap_or("");
    let allowed = kind.decimals();
    if frac.len() > allowed as usize {
        return Err(DecimalError::TooManyDecimals { allowed });
    }
    let int_digits = int_part.trim_start_matches('0');
    // 1e12 at 8 decimals has 21 digits; anything longer is out of range for every kind.
    if int_digits.len() > 13 {
        return Err(DecimalError::OutOfRange);
    }
    let mut units: i128 = 0;
    for b in int_digits.bytes() {
        units = units * 10 + i128::from(b - b'0');
    }
    for i in 0..allowed as usize {
        let digit = frac.as_bytes().get(i).map_or(0, |b| b - b'0');
        units = units * 10 + i128::from(digit);
    }
    if negative {
        units = -units;
    }
    let (lo, hi) = kind.range();
    if units < lo || units > hi {
        return Err(DecimalError::OutOfRange);
    }
    Ok(units)
}

/// Formats `units` at `decimals` places exactly (`-1.500000`).
pub fn format_units(units: i128, decimals: u32) -> String {
    let scale = 10i128.pow(decimals);
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let scale = scale as u128;
    if decimals == 0 {
        return format!("{sign}{abs}");
    }
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = decimals as usize
    )
}

/// A decimal input that failed to parse, with where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the value (`instruments[2].pnl[0]`).
    pub path: String,
    /// The offending value as written.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (got {:?})", self.path, self.reason, self.value)
    }
}

/// Parses `text` found at `path` as `kind`, with an error naming both.
pub fn parse_field(path: &str, text: &str, kind: DecimalKind) -> Result<i128, FieldError> {
    parse_units(text, kind).map_err(|e| FieldError {
        path: path.to_string(),
        value: text.to_string(),
        reason: format!("{e}; expected {}", kind.describe()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_units() {
        assert_eq!(parse_units("-12.5", DecimalKind::Money), Ok(-12_500_000));
        assert_eq!(parse_units("91000", DecimalKind::Money), Ok(91_000_000_000));
        assert_eq!(parse_units("0.8", DecimalKind::Rate), Ok(800_000));
        assert_eq!(parse_units("0.00000001", DecimalKind::Quantity), Ok(1));
        assert_eq!(parse_units("1.50000000", DecimalKind::Quantity), Ok(150_000_000));
        assert_eq!(parse_units("-0", DecimalKind::Quantity), Ok(0));
        assert_eq!(parse_units("007", DecimalKind::Money), Ok(7_000_000));
    }

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(parse_units("1000000000000", DecimalKind::Quantity), Ok(MAX_QTY_UNITS));
        assert_eq!(parse_units("-1000000000000", DecimalKind::Money), Ok(-MAX_MONEY_UNITS));
        assert_eq!(parse_units("1000", DecimalKind::Rate), Ok(MAX_RATE_UNITS));
        assert_eq!(
            parse_units("1000000000000.00000001", DecimalKind::Quantity),
            Err(DecimalError::OutOfRange)
        );
        assert_eq!(parse_units("1000.000001", DecimalKind::Rate), Err(DecimalError::OutOfRange));
        assert_eq!(parse_units("-0.1", DecimalKind::Rate), Err(DecimalError::OutOfRange));
        assert_eq!(
            parse_units("99999999999999999999999999", DecimalKind::Money),
            Err(DecimalError::OutOfRange)
        );
    }

    #[test]
    fn rejects_malformed_and_imprecise() {
        for bad in ["", "-", "1.", ".5", "+1", "1e3", " 1", "1 ", "1,000", "0x10", "NaN", "1.2.3"] {
            assert_eq!(parse_units(bad, DecimalKind::Money), Err(DecimalError::NotADecimal), "{bad:?}");
        }
        assert_eq!(
            parse_units("0.0000001", DecimalKind::Money),
            Err(DecimalError::TooManyDecimals { allowed: 6 })
        );
        assert_eq!(
            parse_units("0.000000001", DecimalKind::Quantity),
            Err(DecimalError::TooManyDecimals { allowed: 8 })
        );
        // Zeros count too: more decimals than allowed is rejected, whatever they are.
        assert_eq!(parse_units("1.0000000", DecimalKind::Money), Err(DecimalError::TooManyDecimals { allowed: 6 }));
        assert_eq!(
            parse_units("-10.000000000", DecimalKind::Quantity),
            Err(DecimalError::TooManyDecimals { allowed: 8 })
        );
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_units(-1_500_000, 6), "-1.500000");
        assert_eq!(format_units(5, 6), "0.000005");
        assert_eq!(format_units(-5, 6), "-0.000005");
        assert_eq!(format_units(0, 6), "0.000000");
        for units in [0i128, 1, -1, 123_456_789, -MAX_QTY_UNITS] {
            let text = format_units(units, 8);
            assert_eq!(parse_units(&text, DecimalKind::Quantity), Ok(units));
        }
    }
}
