//! Decimals in and out, and the one rounding procedure of every published figure.
//!
//! Inputs are JSON strings holding plain decimals (`-12.5`, `91000`, `0.8`: an optional
//! `-`, digits, optionally `.` and digits; no `+`, exponent or spaces), as everywhere in
//! zkmargin. Figures the publisher computes (marks, P&L, charges) are `f64`; each is
//! turned into an integer count of 10⁻⁶ by one fixed procedure:
//!
//! 1. **snap**: `n = rint(x · 10⁹)`, the nearest multiple of 10⁻⁹ (ties to even), as an
//!    integer. This absorbs the last-bit noise of floating point, so a figure that is
//!    exactly a 6-decimal number in real arithmetic (142.3 × 0.15 = 21.345, computed as
//!    21.345000000000002) is published as exactly that, not one unit off;
//! 2. **round** the integer n to a multiple of 1000 (10⁻⁶) in the figure's
//!    [`Direction`], in exact integer arithmetic.
//!
//! The direction of every figure is **toward the larger loss**: P&L away from zero (a
//! negative P&L is the long side's loss, a positive one the short side's, and both grow),
//! charges up, marks down (the long holder's credit never grows). See [`Direction`].

/// Which way a figure is rounded to 6 decimals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Toward −∞ (marks: a long holder's credit is never overstated).
    Down,
    /// Toward +∞ (linear rates, short charges: a requirement is never understated).
    Up,
    /// Away from zero (scenario P&L of one long unit: whichever side loses in the
    /// scenario, long when the P&L is negative and short when it is positive, never
    /// sees its loss understated).
    AwayFromZero,
}

/// Decimal places of published money figures.
pub const MONEY_DECIMALS: u32 = 6;
/// Largest absolute money figure, in units of 10⁻⁶ (SPEC section 2: |x| ≤ 1e12).
pub const MAX_MONEY_UNITS: i128 = 1_000_000_000_000 * 1_000_000;

/// Rounds `x` to units of 10⁻⁶ in `direction` by the procedure of this module. `None`
/// for a value that is not finite or exceeds |x| ≤ 1e12.
pub fn to_units(x: f64, direction: Direction) -> Option<i128> {
    if !x.is_finite() || x.abs() > 1.0e12 {
        return None;
    }
    let nano = libm::rint(x * 1.0e9) as i128;
    let (q, r) = (nano.div_euclid(1000), nano.rem_euclid(1000));
    let units = match direction {
        Direction::Down => q,
        Direction::Up => q + i128::from(r > 0),
        Direction::AwayFromZero if nano >= 0 => q + i128::from(r > 0),
        Direction::AwayFromZero => q,
    };
    (units.abs() <= MAX_MONEY_UNITS).then_some(units)
}

/// ⌈a·b / 10^`decimals`⌉ for a, b ≥ 0, exactly (a figure that must never be understated,
/// from exact factors); `None` on overflow.
pub fn product_up(a: i128, b: i128, decimals: u32) -> Option<i128> {
    let scale = 10i128.pow(decimals);
    let product = a.checked_mul(b)?;
    Some(product.div_euclid(scale) + i128::from(product.rem_euclid(scale) > 0))
}

/// Checks the decimal grammar: optional `-`, digits, optionally `.` and digits.
pub fn is_decimal(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

/// Parses a decimal string into the nearest `f64` (correctly rounded, so the same on
/// every machine).
pub fn parse_f64(text: &str) -> Result<f64, String> {
    if !is_decimal(text) || text.len() > 40 {
        return Err("not a decimal number (digits with an optional '-' and '.')".into());
    }
    text.parse::<f64>().map_err(|e| e.to_string())
}

/// Parses a decimal string exactly into units of 10^-`decimals`; more decimals than that
/// are refused, never rounded.
pub fn parse_units(text: &str, decimals: u32) -> Result<i128, String> {
    if !is_decimal(text) {
        return Err("not a decimal number (digits with an optional '-' and '.')".into());
    }
    let negative = text.starts_with('-');
    let body = text.trim_start_matches('-');
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if frac.len() > decimals as usize {
        return Err(format!("more than {decimals} decimal places"));
    }
    let int = int.trim_start_matches('0');
    if int.len() > 15 {
        return Err("out of range".into());
    }
    let mut units: i128 = 0;
    for b in int.bytes().chain(frac.bytes().chain(std::iter::repeat(b'0')).take(decimals as usize)) {
        units = units * 10 + i128::from(b - b'0');
    }
    Ok(if negative { -units } else { units })
}

/// A decimal without trailing zeros (`91000`, `0.8`, `-12.5`) from units of
/// 10^-`decimals`.
pub fn plain(units: i128, decimals: u32) -> String {
    let scale = 10u128.pow(decimals);
    let sign = if units < 0 { "-" } else { "" };
    let abs = units.unsigned_abs();
    let text = format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = decimals as usize);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_decimals_survive_float_noise() {
        // 0.7 × 0.1 is 0.06999999999999999 and 142.3 × 0.15 is 21.345000000000002 in
        // f64; the snap publishes 0.07 and 21.345 whichever way the figure is rounded.
        let (below, above) = (0.7 * 0.1, 142.3 * 0.15);
        assert!(below < 0.07 && above > 21.345);
        for d in [Direction::Down, Direction::Up, Direction::AwayFromZero] {
            assert_eq!(to_units(below, d), Some(70_000));
            assert_eq!(to_units(-below, d), Some(-70_000));
            assert_eq!(to_units(above, d), Some(21_345_000));
            assert_eq!(to_units(-above, d), Some(-21_345_000));
        }
        assert_eq!(to_units(0.1 + 0.2, Direction::Up), Some(300_000));
    }

    #[test]
    fn directions() {
        assert_eq!(to_units(1.2345671, Direction::Down), Some(1_234_567));
        assert_eq!(to_units(1.2345671, Direction::Up), Some(1_234_568));
        assert_eq!(to_units(1.2345671, Direction::AwayFromZero), Some(1_234_568));
        assert_eq!(to_units(-1.2345671, Direction::Down), Some(-1_234_568));
        assert_eq!(to_units(-1.2345671, Direction::Up), Some(-1_234_567));
        assert_eq!(to_units(-1.2345671, Direction::AwayFromZero), Some(-1_234_568));
        // Below half a nano-unit is noise: zero stays zero.
        assert_eq!(to_units(4e-10, Direction::AwayFromZero), Some(0));
        assert_eq!(to_units(-4e-10, Direction::AwayFromZero), Some(0));
        assert_eq!(to_units(2e-9, Direction::AwayFromZero), Some(1));
        assert_eq!(to_units(-2e-9, Direction::AwayFromZero), Some(-1));
        assert_eq!(to_units(f64::NAN, Direction::Up), None);
        assert_eq!(to_units(2e12, Direction::Up), None);
    }

    #[test]
    fn rounding_never_understates_a_loss() {
        // Pseudo-random figures over many magnitudes: the published P&L is at least as
        // far from zero as the figure (to within the 10⁻⁹ snap), charges at least as
        // large, marks at most as large.
        let mut state = 0x1234_5678_9abc_def0u64;
        for _ in 0..200_000 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let x = mantissa * libm::pow(10.0, ((state >> 3) % 16) as f64 - 6.0);
            let tol = 5e-10 + x.abs() * 1e-15;
            let published = |d| to_units(x, d).unwrap() as f64 / 1e6;
            let p = published(Direction::AwayFromZero);
            if x < -tol {
                assert!(p <= x + tol, "{x} -> {p}");
            } else if x > tol {
                assert!(p >= x - tol, "{x} -> {p}");
            }
            assert!(published(Direction::Up) >= x - tol);
            assert!(published(Direction::Down) <= x + tol);
            assert!((p - x).abs() < 1e-6 + tol);
        }
    }

    #[test]
    fn exact_products_round_up() {
        // 0.1 (10⁻⁸) × 3050.5 (10⁻⁶) = 305.05 exactly; 0.00000001 × 0.000001 = 10⁻¹⁴,
        // published as 0.000001 (never 0).
        assert_eq!(product_up(10_000_000, 3_050_500_000, 8), Some(305_050_000));
        assert_eq!(product_up(1, 1, 8), Some(1));
        assert_eq!(product_up(0, 5, 8), Some(0));
        assert_eq!(product_up(100_000_000, 91_000_000_000, 8), Some(91_000_000_000));
        assert_eq!(product_up(i128::MAX, 2, 8), None);
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_units("-12.5", 6), Ok(-12_500_000));
        assert_eq!(parse_units("007", 2), Ok(700));
        assert!(parse_units("0.1234567", 6).is_err());
        for bad in ["", "-", "1.", ".5", "+1", "1e3", " 1", "1,0", "NaN", "inf"] {
            assert!(parse_f64(bad).is_err(), "{bad:?}");
            assert!(parse_units(bad, 6).is_err(), "{bad:?}");
        }
        assert_eq!(parse_f64("-0.15"), Ok(-0.15));
        assert_eq!(plain(1_000_000, 6), "1");
        assert_eq!(plain(-12_500_000, 6), "-12.5");
        assert_eq!(plain(5, 6), "0.000005");
        assert_eq!(plain(0, 6), "0");
    }
}
