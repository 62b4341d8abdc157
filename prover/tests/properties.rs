//! Property tests of the margin engine: monotonicity, netting, the cross-margin benefit.

use ethnum::I256;
use proptest::prelude::*;
use zkmargin_circuits::market::Level;
use zkmargin_prover::engine;

mod common;
use common::{account, build, market, mode, qty, INSTRUMENTS};

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
