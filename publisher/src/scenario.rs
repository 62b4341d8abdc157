//! Scenario shocks: a move of each underlying's price, a move of every option's
//! volatility, and a cover fraction.
//!
//! A scenario moves each underlying u by its own relative amount m_u: the spot S to
//! S·(1 + m_u), and with it every forward F on u to F·(1 + m_u) (the carry is
//! unchanged). A market-wide block of the grid (a spot × vol grid, extreme moves, the
//! Deribit grid, a named scenario) moves every underlying by its move m times the
//! underlying's `move_scale`; a `joint` scenario gives each underlying its own move and a
//! `spread` scenario moves two underlyings in opposite directions (README, "Publishing a
//! market"). An option's volatility is read once from its surface at today's forward
//! (sticky strike) and then shocked by the scenario's [`VolShock`]. The P&L of one long
//! unit is the revalued minus today's value, multiplied by the scenario's cover fraction
//! (1 for the ordinary grid, the fraction of an extreme move that is covered in SPAN's
//! convention).

/// How a scenario moves an option's implied volatility σ.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum VolShock {
    /// σ unchanged.
    Same,
    /// σ·m (m > 0): SPAN-style relative vol moves, e.g. 1.25 and 0.8.
    Multiply(f64),
    /// max(σ + a, 0): absolute vol-point moves (0.05 is five vol points).
    Add(f64),
    /// Deribit's expiry-dependent vol move. With d = max(T·365, 1) days to expiry and
    /// f = (30/d)^p, p = `short_power` when d < 30 and `long_power` otherwise:
    /// up: max(σ·(1 + range·f), `floor`); down: max(σ·(1 − range·f), 0).
    Deribit {
        /// Up (true) or down (false).
        up: bool,
        /// The vol range (0.5 for 50 % up).
        range: f64,
        /// Power for expiries under 30 days.
        short_power: f64,
        /// Power for expiries of 30 days or more.
        long_power: f64,
        /// Least vol after an up move (0 for none).
        floor: f64,
    },
}

impl VolShock {
    /// The shocked vol of an option whose vol is `vol`, `t` years from expiry.
    pub fn apply(&self, vol: f64, t: f64) -> f64 {
        match *self {
            VolShock::Same => vol,
            VolShock::Multiply(m) => vol * m,
            VolShock::Add(a) => (vol + a).max(0.0),
            VolShock::Deribit { up, range, short_power, long_power, floor } => {
                let days = (t * 365.0).max(1.0);
                let power = if days < 30.0 { short_power } else { long_power };
                let factor = libm::pow(30.0 / days, power);
                if up {
                    (vol * (1.0 + range * factor)).max(floor)
                } else {
                    (vol * (1.0 - range * factor)).max(0.0)
                }
            }
        }
    }
}

/// One scenario's shock on one underlying.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shock {
    /// Relative move of the underlying (−0.15 for −15 %), > −1.
    pub spot_move: f64,
    /// The volatility move.
    pub vol: VolShock,
    /// Fraction of the P&L that counts, in (0, 1].
    pub cover: f64,
}

/// A named scenario, as listed in the market's `scenarios`.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Its name in the snapshot.
    pub name: String,
    /// Relative move of each underlying, in the order of the instruments file (its
    /// `move_scale` already applied), each > −1.
    pub spot_moves: Vec<f64>,
    /// The volatility move of every option.
    pub vol: VolShock,
    /// Fraction of the P&L that counts, in (0, 1].
    pub cover: f64,
}

impl Scenario {
    /// The shock this scenario gives the underlying at `underlying` (its index in the
    /// instruments file).
    pub fn shock(&self, underlying: usize) -> Shock {
        Shock { spot_move: self.spot_moves[underlying], vol: self.vol, cover: self.cover }
    }
}

/// A spot-move label from a relative move in units of 10⁻⁸ (−0.075 is −7_500_000):
/// `-7.5%`, `+0%`, `+100%`.
pub fn percent_label(move_units_e8: i128) -> String {
    let sign = if move_units_e8 < 0 { "-" } else { "+" };
    format!("{sign}{}%", crate::rounding::plain(move_units_e8.abs(), 6))
}

/// The name of a `spread` scenario that moves underlying `up` by +m and `down` by −m
/// (m in units of 10⁻⁸): `BTC+10%/ETH-10%/vol-same`.
pub fn spread_name(up: &str, down: &str, move_units_e8: i128, vol_label: &str) -> String {
    format!("{up}{}/{down}{}/vol-{vol_label}", percent_label(move_units_e8), percent_label(-move_units_e8))
}

/// The conventional scenario name: `spot-15%/vol-up`, with ` (x0.2)` for a cover
/// fraction below 1 (`cover` written as a plain decimal).
pub fn scenario_name(move_units_e8: i128, vol_label: &str, cover: Option<&str>) -> String {
    let mut name = format!("spot{}/vol-{vol_label}", percent_label(move_units_e8));
    if let Some(cover) = cover {
        name.push_str(&format!(" (x{cover})"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(scenario_name(-15_000_000, "up", None), "spot-15%/vol-up");
        assert_eq!(scenario_name(0, "down", None), "spot+0%/vol-down");
        assert_eq!(scenario_name(-7_500_000, "same", None), "spot-7.5%/vol-same");
        assert_eq!(scenario_name(100_000_000, "up", Some("0.1")), "spot+100%/vol-up (x0.1)");
        assert_eq!(spread_name("BTC", "ETH", 10_000_000, "same"), "BTC+10%/ETH-10%/vol-same");
        assert_eq!(spread_name("ETH", "BTC", 2_500_000, "up"), "ETH+2.5%/BTC-2.5%/vol-up");
    }

    #[test]
    fn deribit_vol_moves_scale_with_expiry() {
        let up = VolShock::Deribit { up: true, range: 0.5, short_power: 0.3, long_power: 0.13, floor: 0.0 };
        let down = VolShock::Deribit { up: false, range: 0.25, short_power: 0.3, long_power: 0.13, floor: 0.0 };
        // At 30 days the factor is 1.
        assert!((up.apply(0.6, 30.0 / 365.0) - 0.9).abs() < 1e-12);
        assert!((down.apply(0.6, 30.0 / 365.0) - 0.45).abs() < 1e-12);
        // Shorter expiries move more, longer ones less.
        assert!(up.apply(0.6, 7.0 / 365.0) > 0.9 && up.apply(0.6, 1.0) < 0.9);
        // A floor on up moves; down moves never go below zero.
        let floored = VolShock::Deribit { up: true, range: 0.5, short_power: 0.3, long_power: 0.13, floor: 1.2 };
        assert_eq!(floored.apply(0.6, 1.0), 1.2);
        let steep = VolShock::Deribit { up: false, range: 5.0, short_power: 0.3, long_power: 0.13, floor: 0.0 };
        assert_eq!(steep.apply(0.6, 0.5 / 365.0), 0.0);
    }
}
