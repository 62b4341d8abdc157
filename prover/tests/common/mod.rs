//! Strategies shared by the property tests: small random markets and portfolios.
#![allow(dead_code)]

pub mod mock;

use proptest::prelude::*;
use zkmargin_circuits::market::{Asset, Haircut, Instrument, Market, PerLevel, Tier};
use zkmargin_prover::portfolio::{Account, Collateral, Group, Mode, Portfolio, Position};

pub const INSTRUMENTS: usize = 6;
pub const SCENARIOS: usize = 3;

pub fn money() -> impl Strategy<Value = i128> {
    -50_000_000_000i128..50_000_000_000 // ±50000 at 6 decimals
}

pub fn rate() -> impl Strategy<Value = i128> {
    0i128..5_000_000 // 0..5 at 6 decimals
}

pub fn market() -> impl Strategy<Value = Market> {
    let instrument = (money(), prop::collection::vec(money(), SCENARIOS), 0i128..10_000_000_000, 0i128..10_000_000_000, 0i128..1_000_000_000, 0i128..1_000_000_000);
    (
        prop::collection::vec(instrument, INSTRUMENTS),
        prop::collection::vec((1i128..100_000_000_000, 0i128..=1_000_000), 2),
        rate(),
        rate(),
    )
        .prop_map(|(instruments, assets, lf_i, lf_m)| Market {
            id: "prop".into(),
            as_of: "2026-11-25T08:00:00Z".into(),
            quote: "USD".into(),
            scenarios: (0..SCENARIOS).map(|s| format!("s{s}")).collect(),
            loss_factor: PerLevel { initial: lf_i, maintenance: lf_m },
            class_offset: None,
            instruments: instruments
                .into_iter()
                .enumerate()
                .map(|(i, (mark, pnl, li, lm, si, sm))| Instrument {
                    id: format!("I{i}"),
                    mark,
                    pnl,
                    linear: PerLevel { initial: li, maintenance: lm },
                    short_charge: PerLevel { initial: si, maintenance: sm },
                    class: None,
                    notional: None,
                })
                .collect(),
            assets: assets
                .into_iter()
                .enumerate()
                .map(|(a, (price, haircut))| Asset { id: format!("A{a}"), price, haircut: Haircut::Flat(haircut) })
                .collect(),
        })
}

/// A market with risk classes (1 to 6: instrument i in class i mod K), class offsets or
/// none, a notional on every instrument, and the second asset's haircut in 2 or 3 tiers.
pub fn risk_market() -> impl Strategy<Value = Market> {
    let offsets = prop::option::of((0i128..=1_000_000, 0i128..=1_000_000));
    let tiers = (prop::collection::vec(1i128..5_000_000_000, 1..3), prop::collection::vec(0i128..=1_000_000, 3));
    (market(), 1usize..=6, offsets, prop::collection::vec(0i128..100_000_000_000, INSTRUMENTS), tiers).prop_map(
        |(mut market, classes, offsets, notionals, (widths, mut haircuts))| {
            for (i, (instrument, notional)) in market.instruments.iter_mut().zip(notionals).enumerate() {
                instrument.class = Some(format!("C{}", i % classes));
                instrument.notional = Some(notional);
            }
            market.class_offset = offsets.map(|(initial, maintenance)| PerLevel { initial, maintenance });
            haircuts.sort();
            let mut bound = 0;
            let mut schedule: Vec<Tier> = widths
                .iter()
                .zip(&haircuts)
                .map(|(&w, &h)| {
                    bound += w;
                    Tier { up_to: Some(bound), haircut: h }
                })
                .collect();
            schedule.push(Tier { up_to: None, haircut: haircuts[widths.len()] });
            market.assets[1].haircut = Haircut::Tiers(schedule);
            market
        },
    )
}

pub fn qty() -> impl Strategy<Value = i128> {
    -10_000_000_000i128..10_000_000_000 // ±100 at 8 decimals
}

/// An account's positions (one per instrument at most) and collateral.
pub fn account() -> impl Strategy<Value = AccountSpec> {
    (
        prop::collection::vec(prop::option::of(qty()), INSTRUMENTS),
        prop::collection::vec(prop::option::of(qty()), 2),
    )
}

/// An account's optional quantity per instrument and optional amount per asset.
pub type AccountSpec = (Vec<Option<i128>>, Vec<Option<i128>>);

pub fn build(accounts: &[AccountSpec], groups: &[usize], mode: Mode) -> Portfolio {
    let group_count = groups.iter().max().map_or(0, |g| g + 1);
    Portfolio {
        owner: "prop".into(),
        groups: (0..group_count).map(|g| Group { name: format!("g{g}"), mode }).collect(),
        accounts: accounts
            .iter()
            .zip(groups)
            .enumerate()
            .map(|(a, ((positions, collateral), &group))| Account {
                venue: format!("venue{}", a % 2),
                account: format!("acct{a}"),
                group,
                salt: None,
                positions: positions
                    .iter()
                    .enumerate()
                    .filter_map(|(i, q)| q.map(|qty| Position { instrument: format!("I{i}"), qty }))
                    .collect(),
                collateral: collateral
                    .iter()
                    .enumerate()
                    .filter_map(|(c, x)| x.map(|amount| Collateral { asset: format!("A{c}"), amount }))
                    .collect(),
            })
            .collect(),
    }
}

pub fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Portfolio), Just(Mode::Standard)]
}

