//! MockProver tests of what circuit v3 adds: risk classes margined apart, tiered
//! haircuts, the covenants (margin ratio, equity floor, leverage cap) and the padding
//! instrument no position may name. Each honest witness passes at the exact boundary of
//! its claim; each forgery is refused for the reason named.

mod common;

use ethnum::{I256, U256};
use ff::PrimeField;
use serde_json::json;
use zkmargin_circuits::commitment::AccountOpening;
use zkmargin_circuits::encoding::{field_to_hex, Fp};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::statement::Covenants;
use zkmargin_circuits::tables::MarketTables;
use zkmargin_circuits::witness::{Claim, ClassFigures, Forgery, Plan};
use zkmargin_prover::portfolio::Portfolio;

use common::mock::{assert_rejected, failed_names, Case};
use halo2_proofs::dev::MockProver;
use zkmargin_circuits::circuit::{size, Layout, MarginCircuit, Sizing, COMPACT, WIDE, WIDER};
use zkmargin_circuits::market::PerLevel;
use zkmargin_prover::sample::{generate_with, Profile, SampleOptions};
use zkmargin_prover::statement::{build, shape_for};

/// A non-negative field element as an integer.
fn int(x: Fp) -> I256 {
    let value = U256::from_le_bytes(x.to_repr());
    assert!(value < U256::ONE << 250, "a negative figure");
    value.as_i256()
}

/// 10^20: a money unit (10^-6) at the circuit's scale (10^-26).
fn money_unit() -> I256 {
    I256::from(10i128.pow(20))
}

fn floor_div(a: I256, b: I256) -> I256 {
    let q = a / b;
    if (a % b != I256::ZERO) && ((a < I256::ZERO) != (b < I256::ZERO)) {
        q - I256::ONE
    } else {
        q
    }
}

/// A market of two risk classes (BTC, ETH) whose scenarios move them together but for
/// one (s2, where both legs of a long-BTC/short-ETH pair gain), with notionals, a tiered
/// BTC haircut and class offsets `offsets` (initial, maintenance): the joint figure sees
/// little of a pair trade's risk, each class margined alone all of it.
fn class_market(offsets: Option<(&str, &str)>) -> Market {
    let mut market = json!({
        "version": 1, "id": "classes", "as_of": "2026-11-25T08:00:00Z", "quote": "USD",
        "scenarios": ["both-10%", "both+10%", "BTC+10%/ETH-10%", "both+5%"],
        "loss_factor": {"initial": "1", "maintenance": "0.8"},
        "instruments": [
            {"id": "BTC-PERP", "mark": "0", "pnl": ["-9100", "9100", "9100", "4550"],
             "linear": {"initial": "4550", "maintenance": "2275"}, "short_charge": {"initial": "0", "maintenance": "0"},
             "class": "BTC", "notional": "91000"},
            {"id": "ETH-PERP", "mark": "0", "pnl": ["-305", "305", "-305", "152.5"],
             "linear": {"initial": "152.5", "maintenance": "76.25"}, "short_charge": {"initial": "0", "maintenance": "0"},
             "class": "ETH", "notional": "3050"},
            {"id": "BTC-CALL", "mark": "2100", "pnl": ["-1500", "2400", "2400", "1000"],
             "linear": {"initial": "9100", "maintenance": "4550"}, "short_charge": {"initial": "455", "maintenance": "273"},
             "class": "BTC", "notional": "91000"}
        ],
        "assets": [
            {"id": "USDC", "price": "1", "haircut": "0"},
            {"id": "BTC", "price": "91000", "tiers": [
                {"up_to": "1", "haircut": "0.1"}, {"up_to": "5", "haircut": "0.2"}, {"haircut": "0.35"}]}
        ]
    });
    if let Some((initial, maintenance)) = offsets {
        market["class_offset"] = json!({"initial": initial, "maintenance": maintenance});
    }
    Market::from_json("classes.json", &market.to_string()).unwrap()
}

/// A pair trade (long BTC, short ETH of about equal notional, short calls) cross-margined,
/// an isolated standard account, collateral in USDC and BTC (across the tiers).
fn pair_trade() -> Portfolio {
    let text = json!({
        "version": 1, "owner": "fund",
        "groups": [{"name": "cross", "mode": "portfolio"}, {"name": "iso", "mode": "standard"}],
        "accounts": [
            {"venue": "deribit", "account": "a", "group": "cross", "salt": "11".repeat(32),
             "positions": [{"instrument": "BTC-PERP", "qty": "10"}, {"instrument": "BTC-CALL", "qty": "-3"}],
             "collateral": [{"asset": "BTC", "amount": "1.5"}, {"asset": "USDC", "amount": "150000"}]},
            {"venue": "okx", "account": "b", "group": "cross", "salt": "22".repeat(32),
             "positions": [{"instrument": "ETH-PERP", "qty": "-298.31"}],
             "collateral": [{"asset": "BTC", "amount": "6.25"}]},
            {"venue": "binance", "account": "c", "group": "iso", "salt": "33".repeat(32),
             "positions": [{"instrument": "ETH-PERP", "qty": "10"}],
             "collateral": [{"asset": "USDC", "amount": "-100"}, {"asset": "BTC", "amount": "0.5"}]}
        ]
    })
    .to_string();
    Portfolio::from_json("pair.json", &text).unwrap()
}

fn case(offsets: Option<(&str, &str)>, level: Level, claim: Claim) -> Case {
    let market = class_market(offsets);
    let portfolio = pair_trade();
    portfolio.check_against("pair.json", &market).unwrap();
    Case::with_claim(market, &portfolio, level, claim)
}

/// The honest plan's total excess in money units, rounded down.
fn total_units(case: &Case) -> i128 {
    floor_div(int(case.plan().total_excess), money_unit()).as_i128()
}

/// A case whose threshold is its exact total excess.
fn exact(offsets: Option<(&str, &str)>, level: Level) -> Case {
    let probe = case(offsets, level, Claim::default());
    case(offsets, level, Claim { threshold_units: total_units(&probe), ..Claim::default() })
}

const OFFSETS: Option<(&str, &str)> = Some(("0", "0.5"));

/// Every layout of the class circuit: compact, wide, and wider (four hash lanes and four
/// range lanes, which a large book's classes need).
const LAYOUTS: [usize; 3] = [COMPACT, WIDE, WIDER];

#[test]
fn classes_margined_apart_pass_honestly_at_the_exact_excess_and_not_one_unit_above() {
    for level in Level::ALL {
        let honest = exact(OFFSETS, level);
        assert!(honest.tables.class_mode(), "{level}: two classes with an offset below 1");
        let above = case(OFFSETS, level, Claim { threshold_units: honest.claim.threshold_units + 1, ..Claim::default() });
        for layout in LAYOUTS {
            assert_eq!(honest.run_in(layout, honest.plan_for(layout), honest.public()), Ok(()), "{level}, {layout}");
            assert_rejected(above.run_in(layout, above.plan_for(layout), above.public()), "range check");
        }
    }
}

#[test]
fn the_pair_trade_costs_its_classes_apart_and_the_joint_figure_with_an_offset_of_one() {
    // Offset 1: the joint figure (one loss across both classes), the circuit without classes.
    let joint = exact(Some(("1", "1")), Level::Initial);
    assert!(!joint.tables.class_mode());
    assert_eq!(joint.run(joint.plan()), Ok(()));
    // Offset 0: each class's worst on its own, summed: a larger requirement, a smaller excess.
    let apart = exact(OFFSETS, Level::Initial);
    let (joint_req, apart_req) =
        (int(joint.plan().groups[0].totals.requirement), int(apart.plan().groups[0].totals.requirement));
    assert!(apart_req > joint_req * I256::from(10), "classes apart {apart_req} against joint {joint_req}");
    // The class worsts are the two legs' worst losses on their own (at 10^-14):
    // BTC: 10 long perps and 3 short calls lose 10·9100 − 3·1500 = 86,500 when BTC falls;
    // ETH: 298.31 short perps lose 298.31·305 = 90,984.55 when ETH rises.
    let classes = &apart.plan().groups[0].classes;
    let usd = |x: i128| I256::from(x) * I256::from(10i128.pow(12));
    assert_eq!(int(classes[0].worst), usd(8_650_000));
    assert_eq!(int(classes[1].worst), usd(9_098_455));
}

#[test]
fn two_classes_merged_into_one_are_refused() {
    // The prover states the ETH leg's losses as BTC's (one maximum over the two legs, which
    // lets the hedge offset): every hashed figure consistent with that, but the lanes,
    // weighted by each row's class from the table, do not end at zero.
    let case = exact(OFFSETS, Level::Initial);
    let merge = |g: usize, figures: &mut ClassFigures| {
        if g == 0 {
            let lanes = figures.losses[1].len();
            let eth = std::mem::replace(&mut figures.losses[1], vec![I256::ZERO; lanes]);
            for (btc, e) in figures.losses[0].iter_mut().zip(eth) {
                *btc += e;
            }
            figures.worsts = figures.losses.iter().map(|l| l[..4].iter().copied().fold(I256::ZERO, I256::max)).collect();
        }
    };
    // The lanes are left with Σ β_c·(L_c − X_c) ≠ 0 after the last class block.
    for layout in LAYOUTS {
        let plan = planned_in(&case, layout, &case.tables, &Forgery { classes: Some(&merge), ..Forgery::default() });
        let failures = case.run_in(layout, plan, case.public()).expect_err("merged classes");
        assert_eq!(failed_names(&failures), ["class losses taken out"], "{layout}");
    }
}

#[test]
fn a_plan_placed_in_another_number_of_hash_lanes_is_refused() {
    // The challenge depends on how the sponges are placed: a plan for three hash lanes
    // cannot be laid out in the wider layout's four, nor the reverse.
    let case = exact(OFFSETS, Level::Initial);
    for (layout, plan) in [(WIDER, case.plan_for(WIDE)), (WIDE, case.plan_for(WIDER))] {
        let refused = zkmargin_circuits::with_circuit!(case.tables, layout, S, L, C => {
            let circuit = MarginCircuit::<S, L, C> { shape: case.shape, tables: case.tables.clone(), plan: Some(plan) };
            MockProver::run(circuit.min_k(), &circuit, vec![case.public()])
        });
        assert!(matches!(refused, Err(halo2_proofs::plonk::Error::Synthesis)), "layout {layout}");
    }
}

#[test]
fn the_large_sample_with_its_classes_apart_is_sized_wider_one_k_lower() {
    // Eight classes and 32 scenarios over four group slots: the class runs overflow three
    // hash lanes at k = 14; four hash lanes and four range lanes keep it there.
    let apart = PerLevel { initial: 0, maintenance: 0 };
    let sample = generate_with(Profile::Large, 1, &SampleOptions { class_offset: Some(apart), ..SampleOptions::default() });
    let market = Market::from_json("market.json", &sample.market_json).unwrap();
    let portfolio = Portfolio::from_json("portfolio.json", &sample.portfolio_json).unwrap();
    let inputs = build(&market, &portfolio, Level::Initial, &Claim::default(), "00");
    let shape = shape_for(&inputs).unwrap();
    let tables = MarketTables::new(&market, Level::Initial, shape.scenarios);
    assert!(tables.class_mode() && tables.classes == 8, "{}", tables.classes);
    let sizing = size(&shape, &tables);
    let k_in = |layout: usize| {
        zkmargin_circuits::with_circuit!(tables, layout, S, L, C => {
            MarginCircuit::<S, L, C> { shape, tables: tables.clone(), plan: None }.min_k()
        })
    };
    assert_eq!(sizing, Sizing { k: 14, layout: WIDER });
    assert_eq!((k_in(COMPACT), k_in(WIDE)), (15, 15));
}

#[test]
fn a_class_worst_below_its_maximum_is_refused() {
    // The BTC class's worst one unit below its largest loss, its slacks measured from it.
    let case = exact(OFFSETS, Level::Initial);
    let lower = |g: usize, figures: &mut ClassFigures| {
        if g == 0 {
            figures.worsts[0] -= I256::ONE;
        }
    };
    for layout in LAYOUTS {
        let plan = planned_in(&case, layout, &case.tables, &Forgery { classes: Some(&lower), ..Forgery::default() });
        let failures = case.run_in(layout, plan, case.public()).expect_err("a class worst below a loss");
        assert_eq!(failed_names(&failures), ["range check"], "layout {layout}");
    }
}

/// The plan of `case` over `tables` (forged or not) in `layout`'s hash lanes.
fn planned_in(case: &Case, layout: usize, tables: &MarketTables, forgery: &Forgery<'_>) -> Plan {
    let lanes = Layout::ALL[layout].hash_lanes;
    Plan::in_lanes(lanes, &case.shape, tables, &case.witness, &case.claim, &case.public(), forgery).unwrap()
}

#[test]
fn a_row_claiming_another_class_than_the_markets_is_refused() {
    // The prover plans with the ETH perpetual in the BTC class: its net row presents a
    // tuple the market's table does not hold.
    let case = exact(OFFSETS, Level::Initial);
    let mut forged = case.tables.clone();
    forged.instruments[1].class = 0;
    for layout in LAYOUTS {
        assert_rejected(case.run_in(layout, planned_in(&case, layout, &forged, &Forgery::default()), case.public()), "lookup");
    }
}

#[test]
fn the_offset_of_the_other_level_is_refused() {
    // Planned with the maintenance offset (0.5) on an initial-level claim (offset 0).
    let case = exact(OFFSETS, Level::Initial);
    let mut forged = case.tables.clone();
    forged.class_offset = 500_000;
    assert_ne!(forged.factors(), case.tables.factors());
    for layout in LAYOUTS {
        let plan = planned_in(&case, layout, &forged, &Forgery::default());
        let failures = case.run_in(layout, plan, case.public()).expect_err("another level's offset");
        assert!(failed_names(&failures).contains(&"requirement".to_string()), "{layout}: {:?}", failed_names(&failures));
    }
}

#[test]
fn a_joint_worst_below_a_scenarios_summed_class_losses_is_refused() {
    // Maintenance (offset 0.5) weighs the joint worst too: lower it by one unit, keeping the
    // requirement consistent, and a joint slack goes negative.
    let case = exact(OFFSETS, Level::Maintenance);
    assert_ne!(case.tables.factors().joint, 0);
    let step = Fp::from_u128(case.tables.factors().joint as u128);
    for layout in LAYOUTS {
        let mut plan = case.plan_for(layout);
        let group = &mut plan.groups[0];
        group.totals.worst -= Fp::one();
        group.totals.requirement -= step;
        group.totals.excess += step;
        for (sums, slack) in &mut group.joint_slacks {
            for sum in sums.iter_mut() {
                *sum -= Fp::one();
            }
            *slack -= Fp::one();
        }
        plan.total_excess += step;
        for sum in &mut plan.excess_sums {
            *sum += step;
        }
        plan.threshold_slack += step;
        let failures = case.run_in(layout, plan, case.public()).expect_err("a joint worst below a scenario");
        assert_eq!(failed_names(&failures), ["range check"], "layout {layout}");
    }
}

#[test]
fn tier_parts_are_bounded_by_their_widths_and_sum_to_the_holding() {
    let case = exact(OFFSETS, Level::Initial);
    // Account b holds 6.25 BTC: 1 at 10 %, 4 at 20 %, 1.25 at 35 %.
    let plan = case.plan();
    let head = plan.accounts[1].collateral.iter().position(|r| r.active == Fp::one()).unwrap();
    let parts: Vec<Fp> = plan.accounts[1].collateral[head + 1..head + 4].iter().map(|r| r.val).collect();
    assert_eq!(parts, [100_000_000u64, 400_000_000, 125_000_000].map(Fp::from));
    // One unit moved from the open tier into the first (cheaper) one: above its width.
    let above = |a: usize, slot: usize, parts: &mut [i128]| {
        if a == 1 && slot == 0 {
            parts[0] += 1;
            parts[2] -= 1;
        }
    };
    let plan = planned_in(&case, COMPACT, &case.tables, &Forgery { parts: Some(&above), ..Forgery::default() });
    let failures = case.run(plan).expect_err("a part above its width");
    assert_eq!(failed_names(&failures), ["range check"]);
    // A part negative (the open tier's), the first tier over its width by as much: the
    // parts still sum to the holding, and the range checks refuse both.
    let negative = |a: usize, slot: usize, parts: &mut [i128]| {
        if a == 1 && slot == 0 {
            parts[1] += parts[2] + 1;
            parts[2] = -1;
        }
    };
    let plan = planned_in(&case, COMPACT, &case.tables, &Forgery { parts: Some(&negative), ..Forgery::default() });
    assert_eq!(failed_names(&case.run(plan).expect_err("a negative part")), ["range check"]);
    // Parts that do not sum to the holding (one unit left out of the open tier).
    let short = |a: usize, slot: usize, parts: &mut [i128]| {
        if a == 1 && slot == 0 {
            parts[2] -= 1;
        }
    };
    let plan = planned_in(&case, COMPACT, &case.tables, &Forgery { parts: Some(&short), ..Forgery::default() });
    assert_rejected(case.run(plan), "holding split");
}

#[test]
fn tiers_in_another_order_or_another_haircut_are_refused() {
    let case = exact(OFFSETS, Level::Initial);
    for edit in ["swap", "haircut"] {
        let mut forged = case.tables.clone();
        let btc = &mut forged.assets[1];
        match edit {
            "swap" => btc.tiers.swap(1, 2),
            _ => btc.tiers[2].complement += 1,
        }
        let plan = Plan::new(&case.shape, &forged, &case.witness, &case.claim, &case.public()).unwrap();
        assert_rejected(case.run(plan), "lookup");
    }
}

/// The exact covenant bounds of the honest plan: (ratio in rate units rounded down,
/// equity in money units rounded down, leverage in rate units rounded up).
fn exact_covenants(case: &Case) -> (i128, i128, i128) {
    let plan = case.plan();
    let million = I256::from(1_000_000);
    let ratio = plan
        .groups
        .iter()
        .filter(|g| g.totals.requirement != Fp::zero())
        .map(|g| floor_div(int(g.totals.equity) * million, int(g.totals.requirement)))
        .min()
        .unwrap();
    let equity: I256 = plan.groups.iter().map(|g| int(g.totals.equity)).sum();
    let gross: I256 = plan.groups.iter().map(|g| int(g.totals.gross)).sum();
    let scale = I256::from(10i128.pow(18));
    let leverage = -floor_div(-(gross * scale), equity);
    (ratio.as_i128(), floor_div(equity, money_unit()).as_i128(), leverage.as_i128())
}

fn with(covenants: Covenants) -> Claim {
    Claim { threshold_units: 0, covenants }
}

#[test]
fn each_covenant_holds_at_its_exact_bound_and_fails_one_unit_past_it() {
    for offsets in [None, OFFSETS] {
        let probe = case(offsets, Level::Initial, Claim::default());
        let (ratio, equity, leverage) = exact_covenants(&probe);
        assert!(ratio >= 1_000_000, "the example is covered at least once ({ratio})");
        let all = Covenants { min_ratio: Some(ratio), min_equity: Some(equity), max_leverage: Some(leverage) };
        let honest = case(offsets, Level::Initial, with(all));
        assert_eq!(honest.run(honest.plan()), Ok(()), "{offsets:?}");
        for past in [
            Covenants { min_ratio: Some(ratio + 1), ..Covenants::default() },
            Covenants { min_equity: Some(equity + 1), ..Covenants::default() },
            Covenants { max_leverage: Some(leverage - 1), ..Covenants::default() },
        ] {
            let case = case(offsets, Level::Initial, with(past));
            let failures = case.run(case.plan()).expect_err("a covenant one unit past its bound");
            assert_eq!(failed_names(&failures), ["range check"], "{past:?}");
        }
    }
}

#[test]
fn a_notional_that_is_not_the_markets_is_refused() {
    let probe = case(None, Level::Initial, Claim::default());
    let (_, _, leverage) = exact_covenants(&probe);
    let case = case(None, Level::Initial, with(Covenants { max_leverage: Some(leverage), ..Covenants::default() }));
    let mut forged = case.tables.clone();
    forged.instruments[0].notional = Some(90_000_000_000); // BTC-PERP at 90,000, not 91,000
    let plan = Plan::new(&case.shape, &forged, &case.witness, &case.claim, &case.public()).unwrap();
    assert_rejected(case.run(plan), "lookup");
}

#[test]
fn a_leverage_cap_over_an_instrument_without_notional_is_refused() {
    // The market gives the call no notional: its table notional is 2^160, and a group
    // holding it cannot state a gross notional below 2^160, however high the cap.
    let mut market = class_market(None);
    market.instruments[2].notional = None;
    let portfolio = pair_trade();
    let case = Case::with_claim(market, &portfolio, Level::Initial, with(Covenants { max_leverage: Some(1_000_000_000), ..Covenants::default() }));
    let failures = case.run(case.plan()).expect_err("a leverage claim over a missing notional");
    assert_eq!(failed_names(&failures), ["range check"]);
    // Without a leverage claim the same book proves.
    let plain = Case::with_claim(case.market.clone(), &portfolio, Level::Initial, Claim::default());
    assert_eq!(plain.run(plain.plan()), Ok(()));
}

#[test]
fn an_active_position_cannot_name_the_padding_instrument() {
    // A commitment holding an entry with instrument id 0 (no venue computes one, but an
    // unattested commitment is still a proof of what it states): a net of −1 unit there
    // would meet the padding instrument's P&L of −2^60 in every scenario and wipe out the
    // group's losses. The entry is refused on its position row.
    let (market, portfolio) = common::mock::example();
    let mut case = Case::new(market, &portfolio, Level::Initial, 0);
    let opening = &mut case.witness.accounts[0];
    let mut positions: Vec<(Fp, i128)> = opening.positions.clone();
    positions.push((Fp::zero(), -1));
    let forged = AccountOpening { positions, ..opening.clone() };
    case.statement.accounts[0].commitment = field_to_hex(&forged.commitment());
    case.witness.accounts[0] = forged;
    let failures = case.run(case.plan()).expect_err("a position naming the padding instrument");
    assert_eq!(failed_names(&failures), ["a real entry names a real instrument"]);
}

#[test]
fn the_tables_carry_each_instruments_class_and_notional() {
    let market = class_market(OFFSETS);
    let tables = MarketTables::new(&market, Level::Initial, 8);
    assert_eq!((tables.classes, tables.tiers, tables.class_offset), (2, 3, 0));
    let classes: Vec<u64> = tables.instruments.iter().map(|r| r.class).collect();
    assert_eq!(classes, [0, 1, 0]);
    assert_eq!(tables.instruments[1].notional, Some(3_050_000_000));
}

#[test]
fn a_real_proof_in_the_wider_layout_verifies_and_not_for_another_threshold() {
    // MockProver reads the fixed cells of the same synthesis pass; a real key fixes them at
    // key generation. The class case proved in the wider layout (the fourth hash lane's
    // flags in their own fixed columns) verifies, and not for a threshold one unit higher.
    use halo2_proofs::plonk::{create_proof, keygen_pk, keygen_vk, verify_proof, Circuit, SingleVerifier};
    use halo2_proofs::poly::commitment::Params;
    use halo2_proofs::transcript::{Blake2bRead, Blake2bWrite, Challenge255};
    use pasta_curves::vesta;
    use zkmargin_circuits::statement::THRESHOLD;

    let case = exact(OFFSETS, Level::Initial);
    let public = case.public();
    // One circuit type, not `with_circuit!`'s every one: the prover is generic over it.
    assert_eq!((case.tables.lanes, case.tables.class_mode()), (8, true));
    let circuit = MarginCircuit::<8, WIDER, true> { shape: case.shape, tables: case.tables.clone(), plan: Some(case.plan_for(WIDER)) };
    let params = Params::<vesta::Affine>::new(circuit.min_k());
    let keyed = circuit.without_witnesses();
    let pk = keygen_pk(&params, keygen_vk(&params, &keyed).unwrap(), &keyed).unwrap();
    let mut transcript = Blake2bWrite::<_, vesta::Affine, Challenge255<_>>::init(vec![]);
    create_proof(&params, &pk, &[circuit], &[&[&public[..]]], rand::rng(), &mut transcript).unwrap();
    let proof = transcript.finalize();
    let verifies = |public: &[Fp]| {
        let mut transcript = Blake2bRead::<_, vesta::Affine, Challenge255<_>>::init(&proof[..]);
        verify_proof(&params, pk.get_vk(), SingleVerifier::new(&params), &[&[public]], &mut transcript).is_ok()
    };
    assert!(verifies(&public));
    let mut raised = public.clone();
    raised[THRESHOLD] += Fp::one();
    assert!(!verifies(&raised));
}
