//! Implied volatility surfaces: σ(strike, expiry).
//!
//! - **flat**: one σ for every strike and expiry;
//! - **grid**: σ given at listed expiries × strikes. Within an expiry, σ is linear in
//!   strike between nodes and flat beyond the first and last strike. Between expiries,
//!   the total variance w = σ²T at the strike is linear in T (no calendar arbitrage from
//!   the interpolation itself); before the first expiry and after the last, σ is that
//!   expiry's (flat in vol);
//! - **SVI** (Gatheral's raw parameterisation) per expiry: total variance
//!   w(k) = a + b·(ρ·(k − m) + √((k − m)² + s²)) at log-moneyness k = ln(K/F), σ = √(w/T).
//!   Between slices w is linear in T at the same k; before the first slice and after the
//!   last, w scales with T (flat in vol).

/// One raw-SVI slice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SviSlice {
    /// Years to the slice's expiry.
    pub t: f64,
    /// Level a.
    pub a: f64,
    /// Slope b ≥ 0.
    pub b: f64,
    /// Skew ρ in (−1, 1).
    pub rho: f64,
    /// Shift m.
    pub m: f64,
    /// Curvature s > 0 (the SVI σ).
    pub sigma: f64,
}

impl SviSlice {
    /// Total implied variance at log-moneyness `k`.
    pub fn total_variance(&self, k: f64) -> f64 {
        let x = k - self.m;
        self.a + self.b * (self.rho * x + libm::sqrt(x * x + self.sigma * self.sigma))
    }

    /// Checks b ≥ 0, |ρ| < 1, s > 0 and a + b·s·√(1 − ρ²) ≥ 0 (the smallest total
    /// variance is not negative).
    pub fn validate(&self) -> Result<(), String> {
        if self.b < 0.0 || self.b.is_nan() {
            return Err("b must be >= 0".into());
        }
        if self.rho.abs() >= 1.0 || self.rho.is_nan() {
            return Err("rho must be in (-1, 1)".into());
        }
        if self.sigma <= 0.0 || self.sigma.is_nan() {
            return Err("sigma must be > 0".into());
        }
        if self.a + self.b * self.sigma * libm::sqrt(1.0 - self.rho * self.rho) < 0.0 {
            return Err("a + b*sigma*sqrt(1 - rho^2) must be >= 0 (negative variance)".into());
        }
        Ok(())
    }
}

/// A volatility surface.
#[derive(Clone, Debug, PartialEq)]
pub enum VolSurface {
    /// One σ everywhere.
    Flat(f64),
    /// σ at expiries × strikes.
    Grid {
        /// Years to each expiry, strictly increasing.
        expiries: Vec<f64>,
        /// Strikes, strictly increasing.
        strikes: Vec<f64>,
        /// `vols[e][k]`: σ at expiry e and strike k.
        vols: Vec<Vec<f64>>,
    },
    /// SVI slices, by strictly increasing expiry.
    Svi(Vec<SviSlice>),
}

/// Linear interpolation in `xs` (strictly increasing), flat beyond the ends.
fn interpolate(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    if x <= xs[0] {
        return ys[0];
    }
    let last = xs.len() - 1;
    if x >= xs[last] {
        return ys[last];
    }
    let i = xs.partition_point(|&v| v <= x) - 1;
    let w = (x - xs[i]) / (xs[i + 1] - xs[i]);
    ys[i] + w * (ys[i + 1] - ys[i])
}

/// Where `t` falls among `times` (strictly increasing): the two neighbours and the
/// weight of the second, or a single end.
enum Bracket {
    Before,
    After,
    Between(usize, f64),
}

fn bracket(times: &[f64], t: f64) -> Bracket {
    if t <= times[0] {
        return Bracket::Before;
    }
    let last = times.len() - 1;
    if t >= times[last] {
        return Bracket::After;
    }
    let i = times.partition_point(|&v| v <= t) - 1;
    Bracket::Between(i, (t - times[i]) / (times[i + 1] - times[i]))
}

impl VolSurface {
    /// σ for `strike` at `t` years, with `forward` the forward to that expiry.
    pub fn vol(&self, strike: f64, forward: f64, t: f64) -> f64 {
        match self {
            VolSurface::Flat(v) => *v,
            VolSurface::Grid { expiries, strikes, vols } => {
                let at = |e: usize| interpolate(strikes, &vols[e], strike);
                match bracket(expiries, t) {
                    Bracket::Before => at(0),
                    Bracket::After => at(expiries.len() - 1),
                    Bracket::Between(i, w) => {
                        let (v0, v1) = (at(i), at(i + 1));
                        let (w0, w1) = (v0 * v0 * expiries[i], v1 * v1 * expiries[i + 1]);
                        libm::sqrt((w0 + w * (w1 - w0)) / t)
                    }
                }
            }
            VolSurface::Svi(slices) => {
                let k = libm::log(strike / forward);
                let times: Vec<f64> = slices.iter().map(|s| s.t).collect();
                let total = match bracket(&times, t) {
                    Bracket::Before => slices[0].total_variance(k) * t / slices[0].t,
                    Bracket::After => {
                        let s = &slices[slices.len() - 1];
                        s.total_variance(k) * t / s.t
                    }
                    Bracket::Between(i, w) => {
                        let (w0, w1) = (slices[i].total_variance(k), slices[i + 1].total_variance(k));
                        w0 + w * (w1 - w0)
                    }
                };
                libm::sqrt(total.max(0.0) / t)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_interpolates_in_strike_and_total_variance() {
        let s = VolSurface::Grid {
            expiries: vec![0.1, 0.5],
            strikes: vec![90.0, 100.0, 110.0],
            vols: vec![vec![0.6, 0.5, 0.55], vec![0.5, 0.4, 0.45]],
        };
        assert_eq!(s.vol(100.0, 100.0, 0.1), 0.5);
        assert!((s.vol(95.0, 100.0, 0.1) - 0.55).abs() < 1e-15);
        assert_eq!(s.vol(80.0, 100.0, 0.1), 0.6); // flat beyond the strikes
        assert_eq!(s.vol(100.0, 100.0, 0.01), 0.5); // flat vol before the first expiry
        assert_eq!(s.vol(100.0, 100.0, 2.0), 0.4); // and after the last
        let t = 0.3;
        let w = 0.25 * 0.1 + (0.3 - 0.1) / 0.4 * (0.16 * 0.5 - 0.25 * 0.1);
        assert!((s.vol(100.0, 100.0, t) - libm::sqrt(w / t)).abs() < 1e-15);
    }

    #[test]
    fn svi_slices() {
        let slice = SviSlice { t: 0.25, a: 0.04, b: 0.1, rho: -0.3, m: 0.0, sigma: 0.2 };
        assert!(slice.validate().is_ok());
        let s = VolSurface::Svi(vec![slice]);
        // At the money: w = a + b·s.
        let atm = libm::sqrt((0.04 + 0.1 * 0.2) / 0.25);
        assert!((s.vol(100.0, 100.0, 0.25) - atm).abs() < 1e-15);
        // Flat in vol away from the slice.
        assert!((s.vol(100.0, 100.0, 1.0) - atm).abs() < 1e-15);
        // Negative skew: low strikes carry more vol.
        assert!(s.vol(80.0, 100.0, 0.25) > s.vol(120.0, 100.0, 0.25));
        assert!(SviSlice { rho: 1.0, ..slice }.validate().is_err());
        assert!(SviSlice { a: -1.0, ..slice }.validate().is_err());
    }
}
