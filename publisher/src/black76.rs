//! Black-76: European options on a forward (or a futures price).
//!
//! With forward F, strike K, volatility σ, time to expiry T (years) and discount
//! factor D = e^(−rT):
//!
//! ```text
//! d1 = (ln(F/K) + σ²T/2) / (σ√T),  d2 = d1 − σ√T
//! call = D·(F·N(d1) − K·N(d2)),    put = D·(K·N(−d2) − F·N(−d1))
//! delta = D·N(d1) (call), D·(N(d1) − 1) (put)     ∂V/∂F
//! gamma = D·n(d1) / (F·σ·√T)                      ∂²V/∂F²
//! vega  = D·F·n(d1)·√T                            ∂V/∂σ, per 1.00 of σ
//! ```
//!
//! At or after expiry (T ≤ 0) or with σ = 0 the value is the discounted intrinsic value
//! D·max(±(F − K), 0). Every transcendental function comes from the pure-Rust `libm`
//! crate and Rust never fuses a multiply and an add on its own, so the same inputs give
//! the same bits on every IEEE-754 machine.

/// Call or put.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// The right to buy at the strike.
    Call,
    /// The right to sell at the strike.
    Put,
}

/// Standard normal cumulative distribution N(x).
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal density n(x).
pub fn norm_pdf(x: f64) -> f64 {
    libm::exp(-0.5 * x * x) / libm::sqrt(2.0 * std::f64::consts::PI)
}

/// First and second order sensitivities of an option's value to its forward and vol.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Greeks {
    /// ∂V/∂F.
    pub delta: f64,
    /// ∂²V/∂F².
    pub gamma: f64,
    /// ∂V/∂σ, per 1.00 of σ (a 1 vol-point move is 0.01 of it).
    pub vega: f64,
}

/// A European option priced with Black-76.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Black76 {
    /// Call or put.
    pub kind: OptionKind,
    /// Forward (or futures) price for the expiry.
    pub forward: f64,
    /// Strike.
    pub strike: f64,
    /// Implied volatility σ, annualised (0.5 for 50 %).
    pub vol: f64,
    /// Time to expiry in years.
    pub t: f64,
    /// Discount factor to expiry.
    pub df: f64,
}

impl Black76 {
    fn live(&self) -> bool {
        self.t > 0.0 && self.vol > 0.0
    }

    fn intrinsic(&self) -> f64 {
        let value = match self.kind {
            OptionKind::Call => self.forward - self.strike,
            OptionKind::Put => self.strike - self.forward,
        };
        self.df * value.max(0.0)
    }

    fn d1_d2(&self) -> (f64, f64) {
        let sd = self.vol * libm::sqrt(self.t);
        let d1 = (libm::log(self.forward / self.strike) + 0.5 * sd * sd) / sd;
        (d1, d1 - sd)
    }

    /// The option's value (premium) per unit of the underlying.
    pub fn price(&self) -> f64 {
        if !self.live() {
            return self.intrinsic();
        }
        let (f, k) = (self.forward, self.strike);
        let (d1, d2) = self.d1_d2();
        let value = match self.kind {
            OptionKind::Call => f * norm_cdf(d1) - k * norm_cdf(d2),
            OptionKind::Put => k * norm_cdf(-d2) - f * norm_cdf(-d1),
        };
        self.df * value.max(0.0)
    }

    /// Delta, gamma and vega with respect to the forward and σ.
    pub fn greeks(&self) -> Greeks {
        if !self.live() {
            let itm = match self.kind {
                OptionKind::Call => self.forward > self.strike,
                OptionKind::Put => self.forward < self.strike,
            };
            let delta = match (self.kind, itm) {
                (_, false) => 0.0,
                (OptionKind::Call, true) => self.df,
                (OptionKind::Put, true) => -self.df,
            };
            return Greeks { delta, gamma: 0.0, vega: 0.0 };
        }
        let (d1, _) = self.d1_d2();
        let sqrt_t = libm::sqrt(self.t);
        let delta = match self.kind {
            OptionKind::Call => self.df * norm_cdf(d1),
            OptionKind::Put => self.df * (norm_cdf(d1) - 1.0),
        };
        let density = norm_pdf(d1);
        Greeks {
            delta,
            gamma: self.df * density / (self.forward * self.vol * sqrt_t),
            vega: self.df * self.forward * density * sqrt_t,
        }
    }

    /// The same option with another forward and vol (a scenario's revaluation).
    pub fn with(&self, forward: f64, vol: f64) -> Black76 {
        Black76 { forward, vol, ..*self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, tol: f64, what: &str) {
        assert!((got - want).abs() <= tol, "{what}: got {got}, want {want} ± {tol}");
    }

    /// A stock option in Hull's examples is Black-76 on F = S·e^(rT), discounted at r;
    /// spot Greeks follow from ∂F/∂S = F/S.
    fn stock(kind: OptionKind, s: f64, k: f64, r: f64, vol: f64, t: f64) -> (Black76, f64) {
        let f = s * libm::exp(r * t);
        (Black76 { kind, forward: f, strike: k, vol, t, df: libm::exp(-r * t) }, f / s)
    }

    // Published values, quoted to the digits the books print; the tolerance is half a
    // unit in the last printed digit.

    #[test]
    fn hull_futures_option_at_the_money() {
        // Hull, Options, Futures and Other Derivatives, "Black's model" example: crude
        // oil futures put, F = K = 20, r = 9 %, T = 4 months, σ = 25 % → p = 1.12.
        let put = Black76 { kind: OptionKind::Put, forward: 20.0, strike: 20.0, vol: 0.25, t: 4.0 / 12.0, df: libm::exp(-0.09 * 4.0 / 12.0) };
        close(put.price(), 1.12, 0.005, "put");
        // At the money forward, call = put.
        close(Black76 { kind: OptionKind::Call, ..put }.price(), put.price(), 1e-12, "call = put");
    }

    #[test]
    fn haug_black76_examples() {
        // Haug, The Complete Guide to Option Pricing Formulas, Black-76: F = K = 19,
        // T = 0.75, r = 10 %, σ = 28 % → c = p = 1.7011.
        let call = Black76 { kind: OptionKind::Call, forward: 19.0, strike: 19.0, vol: 0.28, t: 0.75, df: libm::exp(-0.1 * 0.75) };
        close(call.price(), 1.7011, 0.00005, "call");
        close(Black76 { kind: OptionKind::Put, ..call }.price(), 1.7011, 0.00005, "put");
        // Haug, delta of a futures option: F = 105, K = 100, T = 0.5, r = 10 %, σ = 36 %
        // → call delta 0.5946, put delta −0.3566.
        let call = Black76 { kind: OptionKind::Call, forward: 105.0, strike: 100.0, vol: 0.36, t: 0.5, df: libm::exp(-0.05) };
        close(call.greeks().delta, 0.5946, 0.00005, "call delta");
        close(Black76 { kind: OptionKind::Put, ..call }.greeks().delta, -0.3566, 0.00005, "put delta");
    }

    #[test]
    fn hull_in_and_out_of_the_money() {
        // Hull, Black–Scholes–Merton example: S = 42, K = 40, r = 10 %, σ = 20 %,
        // T = 0.5 → in-the-money call 4.76, out-of-the-money put 0.81.
        let (call, _) = stock(OptionKind::Call, 42.0, 40.0, 0.1, 0.2, 0.5);
        close(call.price(), 4.76, 0.005, "ITM call");
        close(Black76 { kind: OptionKind::Put, ..call }.price(), 0.81, 0.005, "OTM put");
    }

    #[test]
    fn hull_greeks_example() {
        // Hull, the Greek letters: S = 49, K = 50, r = 5 %, σ = 20 %, T = 20 weeks →
        // call price 2.40, delta 0.522, gamma 0.066, vega 12.1 (per 1.00 of σ).
        let (call, g) = stock(OptionKind::Call, 49.0, 50.0, 0.05, 0.2, 20.0 / 52.0);
        let greeks = call.greeks();
        close(call.price(), 2.40, 0.005, "price");
        close(greeks.delta * g, 0.522, 0.0005, "delta");
        close(greeks.gamma * g * g, 0.066, 0.0005, "gamma");
        close(greeks.vega, 12.1, 0.05, "vega");
    }

    #[test]
    fn near_expiry() {
        // Brenner–Subrahmanyam: at the money, V ≈ D·F·σ·√(T/2π), error O(σ³T^(3/2)).
        let t = 1.0 / 365.0;
        let atm = Black76 { kind: OptionKind::Call, forward: 100.0, strike: 100.0, vol: 0.8, t, df: 1.0 };
        let approx = 100.0 * 0.8 * libm::sqrt(t / (2.0 * std::f64::consts::PI));
        close(atm.price(), approx, 1e-4 * approx, "ATM one day");
        // One hour before expiry, 5 % in or out of the money: intrinsic value to 1e-9 and
        // a delta of 1 or 0 to 1e-8.
        let t = 1.0 / (365.0 * 24.0);
        let itm = Black76 { kind: OptionKind::Call, forward: 105.0, strike: 100.0, vol: 0.8, t, df: 1.0 };
        close(itm.price(), 5.0, 1e-9, "ITM call");
        close(itm.greeks().delta, 1.0, 1e-8, "ITM call delta");
        let otm = Black76 { kind: OptionKind::Put, ..itm };
        close(otm.price(), 0.0, 1e-9, "OTM put");
        close(otm.greeks().delta, 0.0, 1e-8, "OTM put delta");
        // At expiry: exactly intrinsic, discounted.
        let expired = Black76 { t: 0.0, df: 0.99, ..itm };
        assert_eq!(expired.price(), 0.99 * 5.0);
        assert_eq!(expired.greeks(), Greeks { delta: 0.99, gamma: 0.0, vega: 0.0 });
    }

    #[test]
    fn put_call_parity() {
        // c − p = D·(F − K) for every moneyness, vol and expiry.
        for &(f, k) in &[(100.0, 60.0), (100.0, 100.0), (100.0, 160.0), (91_000.0, 100_000.0), (2.21, 2.2)] {
            for &vol in &[0.05, 0.5, 1.5] {
                for &t in &[1.0 / 365.0, 0.25, 2.0] {
                    let df = libm::exp(-0.04 * t);
                    let call = Black76 { kind: OptionKind::Call, forward: f, strike: k, vol, t, df };
                    let put = Black76 { kind: OptionKind::Put, ..call };
                    close(call.price() - put.price(), df * (f - k), 1e-12 * f.max(k), "parity");
                    close(call.greeks().delta - put.greeks().delta, df, 1e-12, "delta parity");
                    close(call.greeks().gamma, put.greeks().gamma, 0.0, "gamma");
                }
            }
        }
    }

    #[test]
    fn greeks_are_the_derivatives() {
        // Central differences of the price.
        let o = Black76 { kind: OptionKind::Put, forward: 3050.0, strike: 2900.0, vol: 0.65, t: 0.3, df: 0.99 };
        let g = o.greeks();
        let h = 0.01;
        let (up, down) = (o.with(o.forward + h, o.vol).price(), o.with(o.forward - h, o.vol).price());
        close(g.delta, (up - down) / (2.0 * h), 1e-7, "delta");
        close(g.gamma, (up - 2.0 * o.price() + down) / (h * h), 1e-5, "gamma");
        let hv = 1e-5;
        close(g.vega, (o.with(o.forward, o.vol + hv).price() - o.with(o.forward, o.vol - hv).price()) / (2.0 * hv), 1e-5, "vega");
    }
}
