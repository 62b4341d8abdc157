//! MockProver tests of the margin circuit: the honest witness passes, and for each
//! constraint family a corrupted witness is rejected, for the reason expected.

use ethnum::I256;
use ff::PrimeField;
use halo2_proofs::dev::{MockProver, VerifyFailure};
use zkmargin_circuits::circuit::{size, MarginCircuit, Sizing, COMPACT, WIDE};
use zkmargin_circuits::commitment::{commit_capacity, sponge, AccountOpening};
use zkmargin_circuits::encoding::{field_to_hex, Fp};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::shape::Shape;
use zkmargin_circuits::statement::BINDING;
use zkmargin_circuits::tables::{MarketTables, PNL_SHIFT_BITS};
use zkmargin_circuits::witness::{group_nets, Plan};
use zkmargin_prover::engine::{self, COMMON_DECIMALS};
use zkmargin_prover::portfolio::Portfolio;

mod common;

use common::mock::{assert_rejected, example, failed_names, only_range_checks, Case};

const LANES: usize = 8;

fn total_excess_units(market: &Market, portfolio: &Portfolio, level: Level) -> i128 {
    let total = engine::compute(market, portfolio).total_excess(level);
    (total / I256::from(10i128.pow(COMMON_DECIMALS - 6))).as_i128()
}

#[test]
fn honest_witness_passes_at_both_levels_up_to_the_exact_excess() {
    let (market, portfolio) = example();
    for level in Level::ALL {
        let exact = total_excess_units(&market, &portfolio, level);
        let case = Case::new(market.clone(), &portfolio, level, exact);
        assert_eq!(case.run(case.plan()), Ok(()), "{level}");
        // One tick above the exact total the threshold check fails.
        let above = Case::new(market.clone(), &portfolio, level, exact + 1);
        assert_rejected(above.run(above.plan()), "range check");
    }
}

#[test]
fn forged_netting_is_rejected_by_the_logup_balance() {
    let case = Case::example(Level::Initial);
    let mut nets = group_nets(&case.witness, case.shape.groups);
    // Claim the short call position is half its true size: a lower requirement.
    let (_, n) = nets[0].iter_mut().find(|(_, n)| *n < 0).expect("the cross group is short a call");
    *n /= 2;
    let plan = Plan::with_nets(&case.shape, &case.tables, &case.witness, &nets, &case.claim, &case.public()).unwrap();
    assert_rejected(case.run(plan), "permutation");
}

#[test]
fn wrong_product_is_rejected() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.groups[0].rows[1].mark_sum += Fp::one();
    assert_rejected(case.run(plan), "mark sum");
}

#[test]
fn wrong_scenario_accumulator_is_rejected() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.groups[0].rows[2].loss[4] -= Fp::one();
    assert_rejected(case.run(plan), "scenario loss");
}

#[test]
fn wrong_linear_and_short_sums_are_rejected() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.groups[1].rows[1].linear_sum -= Fp::one();
    assert_rejected(case.run(plan), "linear sum");
    let mut plan = case.plan();
    plan.groups[0].rows[1].short_sum -= Fp::one();
    assert_rejected(case.run(plan), "short sum");
}

#[test]
fn negative_group_excess_cannot_wrap_around() {
    let (market, mut portfolio) = example();
    // The isolated account loses its collateral: its excess is negative.
    portfolio.accounts[2].collateral.clear();
    let case = Case::new(market, &portfolio, Level::Initial, 0);
    let plan = case.plan();
    assert_rejected(case.run(plan), "range check");
}

/// Lowers group 0's worst loss (as the requirement uses it) by one unit and keeps the
/// requirement, excess and totals consistent with it (loss factor 1.0, initial level).
fn lower_the_requirements_worst(plan: &mut Plan, tables: &MarketTables) {
    // One unit of worst loss is lf·o of requirement (at 10^-26; o = 1 without classes).
    let step = Fp::from_u128(tables.factors().joint as u128);
    let totals = &mut plan.groups[0].totals;
    totals.worst -= Fp::one();
    totals.requirement -= step;
    totals.excess += step;
    plan.total_excess += step;
    for sum in &mut plan.excess_sums {
        *sum += step;
    }
    plan.threshold_slack += step;
}

#[test]
fn forged_maximum_below_a_loss_is_rejected() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    // Lower the worst loss by one unit and keep every other figure consistent with it.
    lower_the_requirements_worst(&mut plan, &case.tables);
    let totals = &mut plan.groups[0].totals;
    for carried in &mut totals.carried_worst {
        *carried -= Fp::one();
    }
    for slack in &mut totals.slack {
        *slack -= Fp::one();
    }
    let failures = assert_rejected(case.run(plan), "range check");
    // Nothing else is wrong: only range checks fail.
    assert!(failures.iter().all(only_range_checks));
}

#[test]
fn commitment_opened_with_another_salt_is_rejected() {
    let case = Case::example(Level::Initial);
    let mut witness = case.witness.clone();
    witness.accounts[0].salt += Fp::one();
    let plan = Plan::new(&case.shape, &case.tables, &witness, &case.claim, &case.public()).unwrap();
    assert_rejected(case.run(plan), "permutation");
}

#[test]
fn header_pad_must_be_zero() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.accounts[1].header_pad = Fp::one();
    assert_rejected(case.run(plan), "header pad is zero");
}

#[test]
fn padding_slot_cannot_hold_a_hidden_position() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    // The second account has 2 positions; slot 3 is padding. Slip a quantity in.
    let row = &mut plan.accounts[1].positions[3];
    row.qty = Fp::from(5);
    row.qty_offset += Fp::from(5);
    assert_rejected(case.run(plan), "padding holds nothing");
}

#[test]
fn an_id_zero_net_row_has_only_the_padding_numbers() {
    // Net rows keyed by id 0 are only forced (by the logUp balance) to sum to 0 across
    // rows: if the table held a second id-0 tuple, nets of −X and +X at different P&Ls
    // would shift every scenario loss. A padding slot (net 0, so no sum changes) whose
    // P&L is anything but the padding instrument's (−2^60, stored as 0), say 0 or 1, or
    // whose mark is not 0, fails its lookup.
    let case = Case::example(Level::Initial);
    let plan = case.plan();
    let padding = plan.groups[0].rows.iter().position(|r| r.id == Fp::zero()).expect("the example has padding net slots");
    assert!(plan.groups[0].rows[padding].pnl.iter().all(|&p| p == -zkmargin_circuits::encoding::pow2(PNL_SHIFT_BITS)));
    for forged in [Fp::zero(), Fp::one()] {
        let mut plan = case.plan();
        for pnl in plan.groups[0].rows[padding].pnl.iter_mut() {
            *pnl = forged;
        }
        assert_rejected(case.run(plan), "lookup");
    }
    let mut plan = case.plan();
    plan.groups[0].rows[padding].mark = Fp::one();
    assert_rejected(case.run(plan), "lookup");
}

#[test]
fn wrong_logup_inverse_is_rejected() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.accounts[0].positions[0].inv += Fp::one();
    assert_rejected(case.run(plan), "logUp inverse");
}

#[test]
fn quantities_beyond_the_bound_are_rejected() {
    let (market, portfolio) = example();
    let level = Level::Initial;
    let mut case = Case::new(market, &portfolio, level, 0);
    // Two offsetting perpetual positions in the cross pool, each just beyond ±2^69.
    let perp = zkmargin_circuits::encoding::id_to_field(zkmargin_circuits::encoding::IdKind::Instrument, "BTC-PERP");
    let big = (1i128 << 69) + 1;
    for (a, qty) in [(0usize, -big), (1, big)] {
        let slot = case.witness.accounts[a].positions.iter_mut().find(|(id, _)| *id == perp).unwrap();
        slot.1 = qty;
        case.statement.accounts[a].commitment = field_to_hex(&case.witness.accounts[a].commitment());
    }
    let failures = assert_rejected(case.run(case.plan()), "range check");
    assert!(failures.iter().all(only_range_checks));
    // The same offsetting pair within bounds passes.
    for (a, qty) in [(0usize, -(1i128 << 60)), (1, 1 << 60)] {
        let slot = case.witness.accounts[a].positions.iter_mut().find(|(id, _)| *id == perp).unwrap();
        slot.1 = qty;
        case.statement.accounts[a].commitment = field_to_hex(&case.witness.accounts[a].commitment());
    }
    assert_eq!(case.run(case.plan()), Ok(()));
}

#[test]
fn pnl_or_mark_not_from_the_market_is_rejected() {
    let case = Case::example(Level::Initial);
    for edit in ["pnl", "pnl as stored", "mark", "linear"] {
        // The prover plans against a market with one number changed; the circuit's
        // tables hold the real one (P&L shifted by 2^60: a P&L that is the table's
        // stored number does not pass either).
        let mut forged = case.market.clone();
        let call = &mut forged.instruments[1];
        match edit {
            "pnl" => call.pnl[4] -= 1,
            "pnl as stored" => call.pnl[4] += 1 << PNL_SHIFT_BITS,
            "mark" => call.mark += 1,
            _ => call.linear.initial -= 1,
        }
        let tables = MarketTables::new(&forged, Level::Initial, LANES);
        let plan = Plan::new(&case.shape, &tables, &case.witness, &case.claim, &case.public()).unwrap();
        assert_rejected(case.run(plan), "lookup");
    }
}

#[test]
fn haircut_not_from_the_market_is_rejected() {
    let case = Case::example(Level::Initial);
    let mut forged = case.market.clone();
    forged.assets[1].haircut = zkmargin_circuits::market::Haircut::Flat(0); // BTC at no haircut
    let tables = MarketTables::new(&forged, Level::Initial, LANES);
    let plan = Plan::new(&case.shape, &tables, &case.witness, &case.claim, &case.public()).unwrap();
    assert_rejected(case.run(plan), "lookup");
}

#[test]
fn wrong_collateral_value_is_rejected() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    // A holding's value in its tier one unit higher; a debt's one unit lower.
    plan.accounts[1].collateral[1].value_sum += Fp::one();
    assert_rejected(case.run(plan), "tier value");
    let mut plan = case.plan();
    plan.accounts[1].collateral[2].value_sum -= Fp::one();
    assert_rejected(case.run(plan), "debt at full price");
}

#[test]
fn collateral_magnitude_must_be_the_amounts() {
    let case = Case::example(Level::Initial);
    // A magnitude that is not ±amount.
    let mut plan = case.plan();
    plan.accounts[0].collateral[0].mag += Fp::one();
    assert_rejected(case.run(plan), "magnitude");
    // The other root of mag² = x² (−|x|): the range check refuses it.
    let mut plan = case.plan();
    let row = &mut plan.accounts[0].collateral[0];
    row.mag = -row.mag;
    assert_rejected(case.run(plan), "range check");
}

#[test]
fn wrong_requirement_or_excess_is_rejected() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.groups[0].totals.requirement -= Fp::one();
    assert_rejected(case.run(plan), "requirement");
    let mut plan = case.plan();
    plan.groups[1].totals.excess += Fp::one();
    assert_rejected(case.run(plan), "excess");
}

#[test]
fn padding_account_cannot_carry_collateral() {
    let case = Case::example(Level::Initial);
    // Account slot 3 is padding: its commitment is the empty opening's. Giving it
    // collateral changes the commitment it opens.
    let mut witness = case.witness.clone();
    let mut ghost = AccountOpening::padding();
    ghost.collateral.push((case.tables.assets[0].id, 1_000_000_000_000));
    witness.accounts.push(ghost);
    witness.account_group.push(0);
    let plan = Plan::new(&case.shape, &case.tables, &witness, &case.claim, &case.public()).unwrap();
    assert_rejected(case.run(plan), "permutation");
}

#[test]
fn position_cannot_be_keyed_into_another_group() {
    use zkmargin_circuits::encoding::{id_to_field, pow2, IdKind};
    let mut case = Case::example(Level::Initial);
    let honest_nets = group_nets(&case.witness, case.shape.groups);
    // The cross account's long perpetual, re-keyed with id + 2^250 so that its logUp key
    // equals the isolated group's key for the perpetual (a self-made commitment).
    let perp = id_to_field(IdKind::Instrument, "BTC-PERP");
    let slot = case.witness.accounts[0].positions.iter_mut().find(|(id, _)| *id == perp).unwrap();
    let moved = slot.1;
    slot.0 = perp + pow2(250);
    case.statement.accounts[0].commitment = field_to_hex(&case.witness.accounts[0].commitment());
    let mut nets = honest_nets.clone();
    for (g, delta) in [(0usize, -moved), (1, moved)] {
        let entry = nets[g].iter_mut().find(|(id, _)| *id == perp).unwrap();
        entry.1 += delta;
    }
    let plan = Plan::with_nets(&case.shape, &case.tables, &case.witness, &nets, &case.claim, &case.public()).unwrap();
    assert_rejected(case.run(plan), "lookup");
}

#[test]
fn leading_entries_cannot_be_cut_off_an_opening() {
    use zkmargin_circuits::commitment::{absorb, commit_capacity};
    // An opening that drops the first two positions and restarts from the state they
    // leave would need a header whose absorption reaches that whole 3-word state (the
    // capacity word included) from the constant initial state: the best a prover can
    // do is put that state's rate words in the header, which the sponge rejects.
    let case = Case::example(Level::Initial);
    let mut witness = case.witness.clone();
    let honest = witness.accounts[0].clone();
    let message = honest.message();
    let mut state = [Fp::zero(), Fp::zero(), commit_capacity()];
    for pair in message[..6].chunks(2) {
        state = absorb(state, [pair[0], pair[1]]);
    }
    let forged = &mut witness.accounts[0];
    forged.venue = state[0];
    forged.account = state[1];
    forged.positions.drain(..2);
    let plan = Plan::new(&case.shape, &case.tables, &witness, &case.claim, &case.public()).unwrap();
    assert_rejected(case.run(plan), "permutation");
}

#[test]
fn packed_entry_cannot_be_opened_as_another_pair() {
    use zkmargin_circuits::encoding::pow2;
    // (id − 1, q + 2^72) packs to the same field element as (id, q): the commitment
    // still opens, but the id is no market instrument (lookup) and the quantity is out
    // of its bound (range check) — each part's bound keeps the packing injective.
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    let row = &mut plan.accounts[0].positions[0];
    let entry = row.entry;
    row.id -= Fp::one();
    row.qty += pow2(72);
    row.qty_offset += pow2(72);
    assert_eq!(row.entry, entry);
    let failures = assert_rejected(case.run(plan), "range check");
    assert!(failures.iter().any(|f| matches!(f, VerifyFailure::Lookup { .. })), "the id must also fail its lookup");
    // The same with a collateral entry: (asset − 1, x + 2^72).
    let mut plan = case.plan();
    let row = &mut plan.accounts[0].collateral[0];
    row.id -= Fp::one();
    row.val += pow2(72);
    row.mag += pow2(72);
    let failures = assert_rejected(case.run(plan), "range check");
    assert!(failures.iter().any(|f| matches!(f, VerifyFailure::Lookup { .. })), "the asset must also fail its lookup");
}

#[test]
fn packed_entry_must_match_its_row() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.accounts[0].positions[1].entry += Fp::one();
    assert_rejected(case.run(plan), "packed entry");
    let mut plan = case.plan();
    plan.accounts[0].collateral[0].entry += Fp::one();
    assert_rejected(case.run(plan), "packed entry");
}

#[test]
fn real_entries_come_first() {
    // A padding slot before a real one would let the real entry skip the sponge (its
    // pair inactive) while its quantity still counts in the netting.
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    let rows = &mut plan.accounts[1].positions;
    rows.swap(0, 2);
    assert_rejected(case.run(plan), "real entries first");
}

#[test]
fn net_rows_must_be_absorbed_as_laid_out() {
    // The words the net sponges absorb are the packed rows, not anything else.
    let case = Case::example(Level::Initial);
    for w in 0..2 {
        let mut plan = case.plan();
        plan.groups[0].words[0][w] += Fp::one();
        assert_rejected(case.run(plan), "net word");
    }
    // The same in the folded layout (a slot of 4 rows: the word reads the next slot 4
    // rows down).
    let (market, portfolio) = folded_example();
    let case = Case::new(market, &portfolio, Level::Initial, 0);
    let mut plan = case.plan();
    plan.groups[1].words[0][1] += Fp::one();
    assert_rejected(case.run(plan), "net word");
}

#[test]
fn exact_row_count_is_the_smallest_k() {
    let case = Case::example(Level::Initial);
    let circuit = MarginCircuit::<LANES> { shape: case.shape, tables: case.tables.clone(), plan: Some(case.plan()) };
    let k = circuit.min_k();
    assert!(MockProver::run(k, &circuit, vec![case.public()]).is_ok());
    assert!(MockProver::run(k - 1, &circuit, vec![case.public()]).is_err(), "k - 1 rows must not hold the layout");
}

#[test]
fn active_flag_must_be_boolean() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.accounts[0].positions[0].active = Fp::from(2);
    assert_rejected(case.run(plan), "active is boolean");
    let mut plan = case.plan();
    plan.accounts[0].collateral[0].active = Fp::from(2);
    assert_rejected(case.run(plan), "active is boolean");
}

#[test]
fn quantity_offset_must_be_exact() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.accounts[0].positions[1].qty_offset += Fp::one();
    assert_rejected(case.run(plan), "offset quantity");
}

#[test]
fn group_mode_must_be_a_bit() {
    // A statement with mode 2, the witness's public cells agreeing with it.
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    let layout = zkmargin_circuits::statement::PublicLayout::new(&case.shape);
    plan.public[layout.mode(0)] = Fp::from(2);
    let public = plan.public.clone();
    assert_rejected(case.run_with_public(plan, public), "mode is boolean");
}

#[test]
fn running_sums_must_start_at_zero() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.accounts[0].positions[0].logup = Fp::one();
    assert_rejected(case.run(plan), "position sums start at zero");
    let mut plan = case.plan();
    plan.accounts[0].collateral[0].value_sum = Fp::one();
    assert_rejected(case.run(plan), "collateral sum starts at zero");
    let mut plan = case.plan();
    plan.groups[0].rows[0].loss[2] = Fp::one();
    assert_rejected(case.run(plan), "scenario losses start at zero");
}

#[test]
fn commitment_sponge_skips_exactly_the_inactive_pairs() {
    // The in-circuit sponge takes each pair's activity from the rows' flags: a public
    // commitment that also absorbed the padding pairs (every pair active) is refused.
    let case = Case::example(Level::Initial);
    let plan = case.plan();
    let account = &plan.accounts[0];
    let slots = case.shape.positions;
    let mut message = vec![account.venue, account.account, account.salt, account.header_pad];
    message.extend(account.positions[..slots].iter().map(|p| p.entry));
    message.extend(account.collateral[..case.shape.collateral].iter().map(|x| x.entry));
    assert!(account.positions[..slots].iter().any(|p| p.active == Fp::zero()), "the example has padding slots");
    let every_pair = sponge(commit_capacity(), message.chunks(2).map(|p| ([p[0], p[1]], true)))[0];
    let honest = case.witness.accounts[0].commitment();
    assert_ne!(every_pair, honest);
    let layout = zkmargin_circuits::statement::PublicLayout::new(&case.shape);
    let mut plan = plan.clone();
    assert_eq!(plan.public[layout.commitment(0)], honest);
    plan.public[layout.commitment(0)] = every_pair;
    let public = plan.public.clone();
    assert_rejected(case.run_with_public(plan, public), "permutation");
}

#[test]
fn logup_running_sum_must_advance_by_its_term() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.accounts[0].positions[1].logup += Fp::one();
    assert_rejected(case.run(plan), "logUp sum");
    let mut plan = case.plan();
    plan.groups[0].rows[1].logup += Fp::one();
    assert_rejected(case.run(plan), "logUp sum");
}

#[test]
fn net_magnitude_must_be_the_nets() {
    let case = Case::example(Level::Initial);
    let held = |plan: &Plan| plan.groups[0].rows.iter().position(|row| row.net != Fp::zero()).expect("a held instrument");
    // A magnitude that is not ±net (it would also shift the linear and short sums).
    let mut plan = case.plan();
    let r = held(&plan);
    plan.groups[0].rows[r].mag += Fp::one();
    assert_rejected(case.run(plan), "magnitude");
    // The other root of mag² = n² (−|n|): the range check refuses it.
    let mut plan = case.plan();
    let r = held(&plan);
    let row = &mut plan.groups[0].rows[r];
    row.mag = -row.mag;
    assert_rejected(case.run(plan), "range check");
}

#[test]
fn challenge_and_tag_must_be_carried_down_every_row() {
    // Position rows carry the logUp key base (challenge − group tag), net rows the
    // challenge; both come in once per region and are carried down every row.
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.accounts[0].positions[2].challenge += Fp::one();
    assert_rejected(case.run(plan), "key base carried");
    let mut plan = case.plan();
    plan.groups[0].rows[2].challenge += Fp::one();
    assert_rejected(case.run(plan), "challenge carried");
    let mut plan = case.plan();
    plan.accounts[0].positions[2].tag += Fp::one();
    assert_rejected(case.run(plan), "key base carried");
}

#[test]
fn challenge_and_results_cross_regions_only_as_laid_out() {
    // The key base of the first position row must be the imported challenge minus the
    // public group tag; a net region's challenge the imported one; the results leaving a
    // region (final logUp sums, the collateral value) the sums its rows computed.
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.accounts[1].crossing.challenge += Fp::one();
    assert_rejected(case.run(plan), "key base imported");
    let mut plan = case.plan();
    plan.groups[1].crossing.challenge += Fp::one();
    assert_rejected(case.run(plan), "challenge imported");
    let mut plan = case.plan();
    plan.accounts[0].crossing.logup += Fp::one();
    assert_rejected(case.run(plan), "logUp exported");
    let mut plan = case.plan();
    plan.groups[0].crossing.logup += Fp::one();
    assert_rejected(case.run(plan), "logUp exported");
    let mut plan = case.plan();
    plan.accounts[0].crossing.value += Fp::one();
    assert_rejected(case.run(plan), "value exported");
    // Every row's key base shifted together still fails at the import.
    let mut plan = case.plan();
    for row in plan.accounts[1].positions.iter_mut() {
        row.tag += Fp::one();
    }
    assert_rejected(case.run(plan), "key base imported");
}

#[test]
fn weighted_sums_and_threshold_slack_are_checked() {
    let case = Case::example(Level::Initial);
    let mut plan = case.plan();
    plan.groups[0].collateral_sums[0] += Fp::one();
    assert_rejected(case.run(plan), "accumulate");
    let mut plan = case.plan();
    plan.excess_sums[1] += Fp::one();
    assert_rejected(case.run(plan), "accumulate");
    let mut plan = case.plan();
    plan.threshold_slack += Fp::one();
    assert_rejected(case.run(plan), "slack");
}

#[test]
fn wide_layout_passes_honestly_and_rejects_forgeries() {
    let case = Case::example(Level::Initial);
    assert_eq!(case.run_wide(case.plan()), Ok(()));
    let mut plan = case.plan();
    plan.groups[0].rows[1].logup += Fp::one();
    assert_rejected(case.run_wide(plan), "logUp sum");
    let mut plan = case.plan();
    plan.accounts[0].salt += Fp::one();
    assert_rejected(case.run_wide(plan), "permutation");
    let mut plan = case.plan();
    plan.groups[0].totals.excess -= Fp::one();
    assert_rejected(case.run_wide(plan), "excess");
}

#[test]
fn the_wide_layout_is_picked_only_where_it_lowers_k() {
    let case = Case::example(Level::Initial);
    let compact_k = |shape: &Shape| {
        zkmargin_circuits::with_lanes!(shape.scenarios, S => {
            MarginCircuit::<S, COMPACT> { shape: *shape, tables: case.tables.clone(), plan: None }.min_k()
        })
    };
    // The example's shape: the compact layout at its own smallest k.
    let sizing = size(&case.shape, &case.tables);
    assert_eq!(sizing, Sizing { k: compact_k(&case.shape), layout: COMPACT });
    // A large book's slots over the same small market: the hash lanes set k, and the
    // wide layout (29-row blocks, 3 range lanes) brings it down.
    let large = Shape { k: 0, accounts: 16, positions: 128, collateral: 4, groups: 4, nets: 512, ..case.shape };
    let sizing = size(&large, &case.tables);
    assert_eq!(sizing.layout, WIDE, "{sizing:?}");
    assert!(sizing.k < compact_k(&large), "{sizing:?}");
}

#[test]
fn every_public_input_is_bound_at_its_row() {
    // The honest witness against a statement changed in any one public input: the
    // public-input region's `val` no longer equals the instance.
    let case = Case::example(Level::Initial);
    let layout = zkmargin_circuits::statement::PublicLayout::new(&case.shape);
    let rows = [
        BINDING,
        zkmargin_circuits::statement::THRESHOLD,
        layout.commitment(0),
        layout.group_tag(0),
        layout.membership(0, 0),
        layout.mode(0),
        layout.len() - 1,
    ];
    for row in rows {
        let mut public = case.public();
        public[row] += Fp::one();
        assert_rejected(case.run_with_public(case.plan(), public), "val is the instance");
    }
    // A value past the layout (where the instance column is zero) is no public input.
    let mut public = case.public();
    public.push(Fp::one());
    assert!(case.run_with_public(case.plan(), public).is_ok());
}

#[test]
fn readme_commitment_test_vector_holds_in_circuit() {
    // The README's test vector, opened in-circuit against the example market: the
    // public commitment is the documented hex, and the honest witness passes.
    let (market, _) = example();
    let text = r#"{"version": 1, "owner": "test-vector",
      "groups": [{"name": "main", "mode": "portfolio"}],
      "accounts": [{"venue": "deribit", "account": "sub-1", "group": "main",
        "salt": "0101010101010101010101010101010101010101010101010101010101010101",
        "positions": [{"instrument": "BTC-PERP", "qty": "-2.5"}],
        "collateral": [{"asset": "BTC", "amount": "1.2"}, {"asset": "USDC", "amount": "-5000"}]}]}"#;
    let portfolio = Portfolio::from_json("vector.json", text).unwrap();
    portfolio.check_against("vector.json", &market).unwrap();
    let case = Case::new(market, &portfolio, Level::Initial, 0);
    assert_eq!(case.statement.accounts[0].commitment, "ebde2bd9809750e23f6b5fb94b72ccae723d2a2468f26593bd8a95b5fb10362a");
    assert_eq!(case.run(case.plan()), Ok(()));
}

/// The example market with `total` scenarios (scenario s ≥ 8 mirrors scenario s mod 8
/// with the sign flipped): 12 take 16 lanes (two rows per net slot), 20 take 32 (four).
fn mirrored_example(total: usize) -> (Market, Portfolio) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let mut raw: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/market.json")).unwrap()).unwrap();
    let flip = |v: &serde_json::Value| {
        let text = v.as_str().unwrap();
        serde_json::Value::from(text.strip_prefix('-').map_or_else(|| if text == "0" { "0".to_string() } else { format!("-{text}") }, str::to_string))
    };
    let scenarios: Vec<serde_json::Value> = raw["scenarios"].as_array().unwrap().clone();
    let extra: Vec<serde_json::Value> = (8..total).map(|s| format!("{} (mirrored {s})", scenarios[s % 8].as_str().unwrap()).into()).collect();
    raw["scenarios"].as_array_mut().unwrap().extend(extra);
    for instrument in raw["instruments"].as_array_mut().unwrap() {
        let pnl = instrument["pnl"].as_array().unwrap().clone();
        let more: Vec<serde_json::Value> = (8..total).map(|s| flip(&pnl[s % 8])).collect();
        instrument["pnl"].as_array_mut().unwrap().extend(more);
    }
    let market = Market::from_json("market.json", &raw.to_string()).unwrap();
    let (_, portfolio) = example();
    portfolio.check_against("portfolio.json", &market).unwrap();
    (market, portfolio)
}

/// 20 scenarios: 32 lanes folded four rows per net slot.
fn folded_example() -> (Market, Portfolio) {
    mirrored_example(20)
}

/// The folded layouts: (scenarios, rows per net slot).
const FOLDS: [(usize, usize); 2] = [(12, 2), (20, 4)];

#[test]
fn folded_scenario_lanes_pass_honestly_and_reject_a_corrupted_lane() {
    let (market, portfolio) = folded_example();
    let case = Case::new(market, &portfolio, Level::Initial, 0);
    assert_eq!(case.shape.scenarios, 32, "20 scenarios take 32 lanes");
    assert_eq!(case.run(case.plan()), Ok(()));
    // A running loss of a lane in the fourth row of a slot.
    let mut plan = case.plan();
    plan.groups[0].rows[1].loss[27] += Fp::one();
    assert_rejected(case.run(plan), "scenario loss");
    // A P&L of a lane in the third row that is not the market's.
    let mut plan = case.plan();
    plan.groups[0].rows[0].pnl[19] += Fp::one();
    assert_rejected(case.run(plan), "lookup");
    // A slack of a lane beyond the first eight that does not match its final loss.
    let mut plan = case.plan();
    plan.groups[0].totals.slack[30] += Fp::one();
    assert_rejected(case.run(plan), "worst slack");
    // A running loss that does not start at zero in a folded row.
    let mut plan = case.plan();
    for row in &mut plan.groups[1].rows {
        row.loss[9] += Fp::one();
    }
    assert_rejected(case.run(plan), "scenario losses start at zero");
}

#[test]
fn final_lanes_come_from_the_last_slot_and_every_slack_from_its_lane() {
    for (scenarios, fold) in FOLDS {
        let (market, portfolio) = mirrored_example(scenarios);
        let case = Case::new(market, &portfolio, Level::Initial, 0);
        assert_eq!(case.shape.scenarios, 8 * fold);
        assert_eq!(case.run(case.plan()), Ok(()), "{scenarios} scenarios");
        let slots = case.shape.nets;
        for s in [0, 7, 8, 8 * fold - 1] {
            // A final loss of lane s one unit lower, its slack one unit higher: only the
            // last slot's lane step can refuse it.
            let mut plan = case.plan();
            plan.groups[0].rows[slots].loss[s] -= Fp::one();
            plan.groups[0].totals.slack[s] += Fp::one();
            let failures = case.run(plan).expect_err("a lowered final loss");
            assert_eq!(failed_names(&failures), ["scenario loss"], "lane {s} of {scenarios} scenarios");
            // A slack that is not its lane's: the slack gate of its closing row.
            let mut plan = case.plan();
            plan.groups[0].totals.slack[s] += Fp::one();
            let failures = case.run(plan).expect_err("a wrong slack");
            assert_eq!(failed_names(&failures), ["worst slack"], "lane {s} of {scenarios} scenarios");
        }
    }
}

#[test]
fn the_net_is_carried_to_every_lane_row_of_its_slot() {
    // A padding slot (net 0, P&L −2^60 in every lane) whose rows j.. carry a net of −1:
    // the lanes those rows hold lose 2^60 each, every later loss and slack kept
    // consistent, so only the carry from row j − 1 to row j can refuse it.
    for (scenarios, fold) in FOLDS {
        let (market, portfolio) = mirrored_example(scenarios);
        let case = Case::new(market, &portfolio, Level::Initial, 0);
        let padding = case.plan().groups[0].rows.iter().position(|row| row.id == Fp::zero()).expect("a padding slot");
        for j in 1..fold {
            let mut plan = case.plan();
            let group = &mut plan.groups[0];
            let slot = &mut group.rows[padding];
            for carried in &mut slot.carried_net[j - 1..] {
                *carried = -Fp::one();
            }
            let lanes = 8 * j..8 * fold;
            let pnl = slot.pnl[lanes.clone()].to_vec();
            for row in &mut group.rows[padding + 1..] {
                for (loss, p) in row.loss[lanes.clone()].iter_mut().zip(&pnl) {
                    *loss += p; // −(−1)·pnl
                }
            }
            for (slack, p) in group.totals.slack[lanes].iter_mut().zip(&pnl) {
                *slack -= p;
            }
            let failures = case.run(plan).expect_err("a net carried wrong");
            assert_eq!(failed_names(&failures), ["net carried"], "row {j} of {fold}");
        }
    }
}

#[test]
fn the_slacks_are_taken_from_the_worst_loss_itself() {
    // The requirement's worst lowered by one unit while the slacks are still measured
    // from the true maximum (carried down the closing rows): only the tie between the
    // two catches it.
    for (market, portfolio) in [example(), mirrored_example(12), folded_example()] {
        let case = Case::new(market, &portfolio, Level::Initial, 0);
        let mut plan = case.plan();
        lower_the_requirements_worst(&mut plan, &case.tables);
        let failures = case.run(plan).expect_err("a worst below a loss");
        assert_eq!(failed_names(&failures), ["worst carried in"]);
    }
    // The worst carried one unit higher from the second closing row on, the slacks of
    // the lanes those rows check one unit higher too: only the carry refuses it.
    for (scenarios, fold) in FOLDS {
        let (market, portfolio) = mirrored_example(scenarios);
        let case = Case::new(market, &portfolio, Level::Initial, 0);
        let mut plan = case.plan();
        let totals = &mut plan.groups[0].totals;
        for carried in &mut totals.carried_worst[1..] {
            *carried += Fp::one();
        }
        for slack in &mut totals.slack[8..] {
            *slack += Fp::one();
        }
        let failures = case.run(plan).expect_err("a worst carried wrong");
        assert_eq!(failed_names(&failures), ["worst carried"], "{fold} rows per slot");
    }
}
