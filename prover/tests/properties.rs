//! Property tests of the margin engine: monotonicity, netting, the cross-margin benefit.

use ethnum::I256;
use proptest::prelude::*;
use zkmargin_circuits::market::{Asset, Instrument, Level, Market, PerLevel};
use zkmargin_prover::engine;
use zkmargin_prover::portfolio::{Account, Collateral, Group, Mode, Portfolio, Position};

const INSTRUMENTS: usize = 4;
const SCENARIOS: usize = 3;

fn money() -> impl Strategy<Value = i128> {
    -50_000_000_000i128..50_000_000_000 // ±50000 at 6 decimals
}

fn rate() -> impl Strategy<Value = i128> {
    0i128..5_000_000 // 0..5 at 6 decimals
}

fn market() -> impl Strategy<Value = Market> {
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
            instruments: instruments
                .into_iter()
                .enumerate()
                .map(|(i, (mark, pnl, li, lm, si, sm))| Instrument {
                    id: format!("I{i}"),
                    mark,
                    pnl,
                    linear: PerLevel { initial: li, maintenance: lm },
                    short_charge: PerLevel { initial: si, maintenance: sm },
                })
                .collect(),
            assets: assets
                .into_iter()
                .enumerate()
                .map(|(a, (price, haircut))| Asset { id: format!("A{a}"), price, haircut })
                .collect(),
        })
}

fn qty() -> impl Strategy<Value = i128> {
    -10_000_000_000i128..10_000_000_000 // ±100 at 8 decimals
}

/// An account's positions (one per instrument at most) and collateral.
fn account() -> impl Strategy<Value = (Vec<Option<i128>>, Vec<Option<i128>>)> {
    (
        prop::collection::vec(prop::option::of(qty()), INSTRUMENTS),
        prop::collection::vec(prop::option::of(qty()), 2),
    )
}

fn build(accounts: &[(Vec<Option<i128>>, Vec<Option<i128>>)], groups: &[usize], mode: Mode) -> Portfolio {
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

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Portfolio), Just(Mode::Standard)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn adding_collateral_never_lowers_excess(
        market in market(), accounts in prop::collection::vec(account(), 1..4),
        mode in mode(), extra in 0i128..10_000_000_000, asset in 0usize..2, target in 0usize..3,
    ) {
        let groups = vec![0; accounts.len()];
        let before = engine::compute(&market, &build(&accounts, &groups, mode));
        let mut richer = accounts.clone();
        let target = target % richer.len();
        let slot = &mut richer[target].1[asset];
        *slot = Some(slot.unwrap_or(0) + extra);
        let after = engine::compute(&market, &build(&richer, &groups, mode));
        for level in Level::ALL {
            prop_assert!(after.groups[0].levels.get(level).excess >= before.groups[0].levels.get(level).excess);
        }
    }

    #[test]
    fn moving_a_position_within_a_group_changes_nothing(
        market in market(), accounts in prop::collection::vec(account(), 2..4),
        mode in mode(), instrument in 0usize..INSTRUMENTS, part in qty(),
    ) {
        let groups = vec![0; accounts.len()];
        let before = engine::compute(&market, &build(&accounts, &groups, mode));
        // Move `part` of the instrument from account 0 to account 1 (either may be empty).
        let mut moved = accounts.clone();
        let from = moved[0].0[instrument].unwrap_or(0) - part;
        let to = moved[1].0[instrument].unwrap_or(0) + part;
        moved[0].0[instrument] = Some(from);
        moved[1].0[instrument] = Some(to);
        let after = engine::compute(&market, &build(&moved, &groups, mode));
        prop_assert_eq!(&before.groups[0].levels, &after.groups[0].levels);
        prop_assert_eq!(before.groups[0].equity, after.groups[0].equity);
    }

    #[test]
    fn pooling_never_raises_the_requirement(
        market in market(), accounts in prop::collection::vec(account(), 2..5), mode in mode(),
    ) {
        let pooled = engine::compute(&market, &build(&accounts, &vec![0; accounts.len()], mode));
        let isolated_groups: Vec<usize> = (0..accounts.len()).collect();
        let isolated = engine::compute(&market, &build(&accounts, &isolated_groups, mode));
        for level in Level::ALL {
            let sum: I256 = isolated.groups.iter().map(|g| g.levels.get(level).requirement).sum();
            prop_assert!(pooled.groups[0].levels.get(level).requirement <= sum);
            // Equity is additive: pooling changes only the requirement.
            let equity: I256 = isolated.groups.iter().map(|g| g.equity).sum();
            prop_assert_eq!(pooled.groups[0].equity, equity);
        }
    }
}
