//! Circuit shapes: the size class a proof reveals.
//!
//! A circuit is built for a shape: how many account slots, position and collateral
//! slots per account, group slots, net-position slots per group and scenario lanes it
//! has, and its size 2^k. A portfolio is padded to the smallest shape of the ladder
//! that fits it: every dimension is rounded up to a power of two (with a floor), so two
//! portfolios of the same size class get the same shape and the proof reveals nothing
//! finer. The market (public) fixes the scenario lanes and the lookup tables.

use serde::{Deserialize, Serialize};

/// Scenario lane counts the circuit is compiled for; a market with S scenarios uses the
/// smallest that is ≥ S (extra lanes carry zero P&L and never lose).
pub const SCENARIO_LANES: [usize; 3] = [8, 16, 32];

/// At most this many scenario-lane columns.
pub const LANE_COLUMNS: usize = 8;

/// Lane columns for `lanes` scenario lanes: S / 2 up to [`LANE_COLUMNS`], so that every
/// net slot has at least two rows (its second holds the notional, the gross notional's
/// running sum and the risk class).
pub const fn lane_columns(lanes: usize) -> usize {
    if lanes / 2 < LANE_COLUMNS {
        lanes / 2
    } else {
        LANE_COLUMNS
    }
}

/// Rows per net slot for `lanes` scenario lanes: F = S / [`lane_columns`] (2, 2, 4 for
/// S = 8, 16, 32).
pub const fn fold_rows(lanes: usize) -> usize {
    lanes / lane_columns(lanes)
}

/// Largest supported k (2^k rows).
pub const MAX_K: u32 = 18;

/// Upper limits on each dimension, so that every range-checked sum has a stated bound
/// (see `chips::columns` for the bounds they give).
pub const MAX_ACCOUNTS: usize = 64;
/// Limit on position or collateral slots per account.
pub const MAX_SLOTS_PER_ACCOUNT: usize = 4096;
/// Limit on group slots.
pub const MAX_GROUPS: usize = 16;
/// Limit on net-position slots per group.
pub const MAX_NETS_PER_GROUP: usize = 4096;

/// The shape of a margin circuit, carried in the proof bundle's `circuit` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// The circuit has 2^k rows.
    pub k: u32,
    /// Account slots.
    pub accounts: usize,
    /// Position slots per account.
    pub positions: usize,
    /// Collateral slots per account.
    pub collateral: usize,
    /// Group slots.
    pub groups: usize,
    /// Net-position slots per group.
    pub nets: usize,
    /// Scenario lanes (one of [`SCENARIO_LANES`]).
    pub scenarios: usize,
}

/// The sizes a portfolio needs, before rounding to the ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    /// Accounts.
    pub accounts: usize,
    /// Largest number of positions in one account.
    pub positions: usize,
    /// Largest number of collateral entries in one account.
    pub collateral: usize,
    /// Groups.
    pub groups: usize,
    /// Largest number of distinct instruments held in one group.
    pub nets: usize,
    /// Market scenarios.
    pub scenarios: usize,
}

fn ladder(n: usize, floor: usize) -> usize {
    n.max(floor).next_power_of_two()
}

impl Shape {
    /// The smallest ladder shape that fits `needs`, with k still to be fixed (0).
    pub fn fitting(needs: Needs) -> Result<Shape, String> {
        let scenarios = *SCENARIO_LANES
            .iter()
            .find(|&&lanes| lanes >= needs.scenarios)
            .ok_or_else(|| format!("{} scenarios; at most {} are supported", needs.scenarios, SCENARIO_LANES[2]))?;
        // Name what the portfolio holds, not the padded slot count it would round up to.
        let needed = [
            ("accounts", needs.accounts, MAX_ACCOUNTS),
            ("positions in one account", needs.positions, MAX_SLOTS_PER_ACCOUNT),
            ("collateral entries in one account", needs.collateral, MAX_SLOTS_PER_ACCOUNT),
            ("groups", needs.groups, MAX_GROUPS),
            ("distinct instruments in one group", needs.nets, MAX_NETS_PER_GROUP),
        ];
        for (what, n, max) in needed {
            if n > max {
                return Err(format!("{n} {what}; at most {max} are supported"));
            }
        }
        let shape = Shape {
            k: 0,
            accounts: ladder(needs.accounts, 2),
            positions: ladder(needs.positions, 4),
            collateral: ladder(needs.collateral, 2),
            groups: ladder(needs.groups, 1),
            nets: ladder(needs.nets, 4),
            scenarios,
        };
        shape.check_limits()?;
        Ok(shape)
    }

    /// Rejects shapes beyond the supported limits (a bundle may carry any numbers).
    pub fn check_limits(&self) -> Result<(), String> {
        let checks = [
            ("accounts", self.accounts, 1, MAX_ACCOUNTS),
            ("positions", self.positions, 1, MAX_SLOTS_PER_ACCOUNT),
            ("collateral", self.collateral, 1, MAX_SLOTS_PER_ACCOUNT),
            ("groups", self.groups, 1, MAX_GROUPS),
            ("nets", self.nets, 1, MAX_NETS_PER_GROUP),
        ];
        for (name, value, lo, hi) in checks {
            if value < lo || value > hi {
                return Err(format!("{name} = {value} is outside the supported range {lo}..={hi}"));
            }
        }
        // The sponge absorbs position and collateral slots in pairs and net slots in
        // fours: a slot outside every absorption would escape the commitment or the
        // challenge, so slot counts are powers of two from these floors (as the ladder
        // makes them).
        let slots = [("positions", self.positions, 2), ("collateral", self.collateral, 2), ("nets", self.nets, 4)];
        for (name, value, floor) in slots {
            if value < floor || !value.is_power_of_two() {
                return Err(format!("{name} = {value} is not a power of two ≥ {floor}"));
            }
        }
        if !SCENARIO_LANES.contains(&self.scenarios) {
            return Err(format!("scenarios = {} is not one of {:?}", self.scenarios, SCENARIO_LANES));
        }
        if self.k > MAX_K {
            return Err(format!("k = {} is above the supported maximum {MAX_K}", self.k));
        }
        Ok(())
    }

    /// Whether a portfolio with these needs fits this shape.
    pub fn fits(&self, needs: &Needs) -> bool {
        needs.accounts <= self.accounts
            && needs.positions <= self.positions
            && needs.collateral <= self.collateral
            && needs.groups <= self.groups
            && needs.nets <= self.nets
            && needs.scenarios <= self.scenarios
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_each_dimension_up_to_the_ladder() {
        let s = Shape::fitting(Needs { accounts: 3, positions: 5, collateral: 1, groups: 2, nets: 9, scenarios: 8 }).unwrap();
        assert_eq!((s.accounts, s.positions, s.collateral, s.groups, s.nets, s.scenarios), (4, 8, 2, 2, 16, 8));
        let t = Shape::fitting(Needs { accounts: 4, positions: 8, collateral: 2, groups: 2, nets: 16, scenarios: 3 }).unwrap();
        assert_eq!(s, t, "same size class, same shape");
        assert!(Shape::fitting(Needs { accounts: 1, positions: 1, collateral: 1, groups: 1, nets: 1, scenarios: 33 }).is_err());
        assert!(Shape::fitting(Needs { accounts: 65, positions: 1, collateral: 1, groups: 1, nets: 1, scenarios: 1 }).is_err());
        // The refusal names what the portfolio holds, not the slots it would round up to.
        let groups = MAX_GROUPS + 1;
        let err = Shape::fitting(Needs { accounts: groups, positions: 1, collateral: 1, groups, nets: 1, scenarios: 1 }).unwrap_err();
        assert_eq!(err, format!("{groups} groups; at most {MAX_GROUPS} are supported"));
        for (positions, collateral, nets) in [(3, 2, 4), (4, 1, 4), (4, 2, 2), (4, 2, 12)] {
            let odd = Shape { positions, collateral, nets, ..s };
            assert!(odd.check_limits().is_err(), "{odd:?} must be refused: a slot would escape the sponge");
        }
    }
}
