//! Hand-checked unit tests of every margin formula (SPEC section 5).

use ethnum::I256;
use serde_json::json;
use zkmargin_circuits::market::{Asset, Haircut, Level, Market};
use zkmargin_prover::engine::{self, format_common, money_to_common, ClaimFailure, Rounding};
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::report;

/// 10^20: one quote unit at the common scale.
fn q(units: i128) -> I256 {
    I256::from(units) * I256::from(10i128.pow(20))
}

fn market() -> Market {
    let text = json!({
        "version": 1, "id": "m", "as_of": "2026-11-25T08:00:00Z", "quote": "USD",
        "scenarios": ["down", "flat", "up"],
        "loss_factor": {"initial": "1.0", "maintenance": "0.5"},
        "instruments": [
            {"id": "PERP", "mark": "0", "pnl": ["-100", "0", "100"],
             "linear": {"initial": "10", "maintenance": "5"},
             "short_charge": {"initial": "0", "maintenance": "0"}},
            {"id": "CALL", "mark": "20", "pnl": ["-15", "-1", "60"],
             "linear": {"initial": "30", "maintenance": "15"},
             "short_charge": {"initial": "2", "maintenance": "1"}},
            {"id": "TINY", "mark": "0.000001", "pnl": ["0", "0", "0"],
             "linear": {"initial": "0.000001", "maintenance": "0.000001"},
             "short_charge": {"initial": "0", "maintenance": "0"}}
        ],
        "assets": [
            {"id": "USD", "price": "1", "haircut": "0"},
            {"id": "BTC", "price": "90000", "haircut": "0.1"}
        ]
    })
    .to_string();
    Market::from_json("market.json", &text).unwrap()
}

fn portfolio(groups: serde_json::Value, accounts: serde_json::Value) -> Portfolio {
    let text = json!({"version": 1, "owner": "t", "groups": groups, "accounts": accounts}).to_string();
    let p = Portfolio::from_json("portfolio.json", &text).unwrap();
    p.check_against("portfolio.json", &market()).unwrap();
    p
}

fn one_group(mode: &str, positions: serde_json::Value, collateral: serde_json::Value) -> Portfolio {
    portfolio(
        json!([{"name": "g", "mode": mode}]),
        json!([{"venue": "v", "account": "a", "group": "g", "positions": positions, "collateral": collateral}]),
    )
}

#[test]
fn collateral_haircut_applies_to_holdings_only() {
    // 1.2 BTC at 90000 with a 10 % haircut: 1.2 * 90000 * 0.9 = 97200.
    let btc = Asset { id: "BTC".into(), price: 90_000_000_000, haircut: Haircut::Flat(100_000) };
    assert_eq!(btc.value(120_000_000), q(97_200));
    // A debt of 1 BTC counts at full value: -90000, not -81000.
    assert_eq!(btc.value(-100_000_000), q(-90_000));
    assert_eq!(btc.value(0), I256::ZERO);
}

#[test]
fn negative_collateral_reduces_equity_at_full_value() {
    let p = one_group("standard", json!([]), json!([{"asset": "BTC", "amount": "-0.5"}, {"asset": "USD", "amount": "50000"}]));
    let r = engine::compute(&market(), &p);
    assert_eq!(r.groups[0].equity, q(50_000 - 45_000));
}

#[test]
fn zero_positions_need_no_margin() {
    for mode in ["standard", "portfolio"] {
        let p = one_group(mode, json!([{"instrument": "PERP", "qty": "0"}]), json!([{"asset": "USD", "amount": "7"}]));
        let r = engine::compute(&market(), &p);
        let g = &r.groups[0];
        assert_eq!(g.equity, q(7));
        for level in Level::ALL {
            assert_eq!(g.levels.get(level).requirement, I256::ZERO, "{mode} {level}");
            assert_eq!(g.levels.get(level).excess, q(7));
            assert_eq!(g.levels.get(level).worst_scenario, None);
        }
    }
}

#[test]
fn standard_mode_charges_absolute_net_position() {
    // -3 PERP and +2 CALL: initial 3*10 + 2*30 = 90, maintenance 3*5 + 2*15 = 45.
    let p = one_group(
        "standard",
        json!([{"instrument": "PERP", "qty": "-3"}, {"instrument": "CALL", "qty": "2"}]),
        json!([{"asset": "USD", "amount": "1000"}]),
    );
    let r = engine::compute(&market(), &p);
    let g = &r.groups[0];
    assert_eq!(g.equity, q(1000 + 2 * 20));
    assert_eq!(g.levels.initial.requirement, q(90));
    assert_eq!(g.levels.maintenance.requirement, q(45));
    assert_eq!(g.levels.initial.excess, q(1040 - 90));
    assert_eq!(g.levels.initial.worst_scenario, None);
}

#[test]
fn portfolio_mode_takes_worst_scenario_and_short_charges() {
    // Short 2 CALL, long 1 PERP; loss_s = -(Σ n·pnl[s]):
    // down: -(30 - 100) = 70; flat: -(2 + 0) = -2; up: -(-120 + 100) = 20.
    let p = one_group(
        "portfolio",
        json!([{"instrument": "CALL", "qty": "-2"}, {"instrument": "PERP", "qty": "1"}]),
        json!([{"asset": "USD", "amount": "500"}]),
    );
    let r = engine::compute(&market(), &p);
    let g = &r.groups[0];
    assert_eq!(g.equity, q(500 - 40));
    // initial: 1.0 * 70 + 2 * 2 = 74; maintenance: 0.5 * 70 + 2 * 1 = 37.
    assert_eq!(g.levels.initial.requirement, q(74));
    assert_eq!(g.levels.maintenance.requirement, q(37));
    assert_eq!(g.levels.initial.worst_scenario, Some(0));
    assert_eq!(g.levels.initial.excess, q(460 - 74));
}

#[test]
fn no_losing_scenario_means_worst_zero() {
    // TINY has zero P&L in every scenario: no scenario loses, so worst = 0.
    let p = one_group("portfolio", json!([{"instrument": "TINY", "qty": "5"}]), json!([]));
    let r = engine::compute(&market(), &p);
    let f = &r.groups[0].levels.initial;
    assert_eq!(f.worst_loss, I256::ZERO);
    assert_eq!(f.worst_scenario, None);
    assert_eq!(f.requirement, I256::ZERO);
    assert_eq!(report::to_json(&r)["groups"][0]["initial"]["worst_scenario"], serde_json::Value::Null);
}

#[test]
fn first_of_equal_worst_scenarios_is_named() {
    let m = Market::from_json(
        "m.json",
        &json!({"version": 1, "id": "m", "as_of": "2026-11-25T08:00:00Z", "quote": "USD",
            "scenarios": ["a", "b", "c"], "loss_factor": {"initial": "1", "maintenance": "1"},
            "instruments": [{"id": "X", "mark": "0", "pnl": ["5", "-7", "-7"],
                "linear": {"initial": "0", "maintenance": "0"}, "short_charge": {"initial": "0", "maintenance": "0"}}],
            "assets": []})
        .to_string(),
    )
    .unwrap();
    let p = Portfolio::from_json(
        "p.json",
        &json!({"version": 1, "owner": "o", "groups": [{"name": "g", "mode": "portfolio"}],
            "accounts": [{"venue": "v", "account": "a", "group": "g", "positions": [{"instrument": "X", "qty": "1"}], "collateral": []}]})
        .to_string(),
    )
    .unwrap();
    let r = engine::compute(&m, &p);
    assert_eq!(r.groups[0].levels.initial.worst_scenario, Some(1));
    assert_eq!(r.groups[0].levels.initial.requirement, q(7));
}

#[test]
fn same_instrument_nets_across_venues_in_a_pool() {
    let accounts = |g1: &str, g2: &str| {
        json!([
            {"venue": "deribit", "account": "a", "group": g1, "positions": [{"instrument": "PERP", "qty": "2"}], "collateral": []},
            {"venue": "okx", "account": "b", "group": g2, "positions": [{"instrument": "PERP", "qty": "-2"}], "collateral": []}
        ])
    };
    for mode in ["standard", "portfolio"] {
        let pooled = portfolio(json!([{"name": "pool", "mode": mode}]), accounts("pool", "pool"));
        let r = engine::compute(&market(), &pooled);
        assert!(r.groups[0].nets.is_empty(), "the net position is zero");
        assert_eq!(r.groups[0].levels.initial.requirement, I256::ZERO);
        let isolated = portfolio(
            json!([{"name": "x", "mode": mode}, {"name": "y", "mode": mode}]),
            accounts("x", "y"),
        );
        let r = engine::compute(&market(), &isolated);
        let sum: I256 = r.groups.iter().map(|g| g.levels.initial.requirement).sum();
        assert_eq!(sum, if mode == "standard" { q(40) } else { q(200 + 200) }, "{mode}");
    }
}

#[test]
fn rounding_is_directional_at_six_decimals() {
    // One unit at the common scale is 1e-20.
    assert_eq!(format_common(I256::ONE, Rounding::Down), "0.000000");
    assert_eq!(format_common(I256::ONE, Rounding::Up), "0.000001");
    assert_eq!(format_common(-I256::ONE, Rounding::Down), "-0.000001");
    assert_eq!(format_common(-I256::ONE, Rounding::Up), "0.000000");
    assert_eq!(format_common(q(5) / I256::from(2), Rounding::Down), "2.500000");
    assert_eq!(format_common(I256::ZERO, Rounding::Up), "0.000000");
    // Exactly on a 6-decimal boundary, no direction changes anything.
    let b = I256::from(123_456_789i128) * I256::from(10i128.pow(14));
    assert_eq!(format_common(b, Rounding::Up), "123.456789");
    assert_eq!(format_common(b, Rounding::Down), "123.456789");
    assert_eq!(format_common(-b, Rounding::Down), "-123.456789");
}

#[test]
fn sub_tick_figures_round_requirement_up_and_excess_down() {
    // 0.00000001 TINY at mark 0.000001: equity 1e-14, standard requirement 1e-14.
    let p = one_group("standard", json!([{"instrument": "TINY", "qty": "0.00000001"}]), json!([]));
    let r = engine::compute(&market(), &p);
    let out = report::to_json(&r);
    assert_eq!(out["groups"][0]["equity"], "0.000000");
    assert_eq!(out["groups"][0]["initial"]["requirement"], "0.000001");
    assert_eq!(out["groups"][0]["initial"]["excess"], "0.000000");
    // Short the same: equity -1e-14 rounds down to -0.000001.
    let p = one_group("standard", json!([{"instrument": "TINY", "qty": "-0.00000001"}]), json!([]));
    let out = report::to_json(&engine::compute(&market(), &p));
    assert_eq!(out["groups"][0]["equity"], "-0.000001");
    assert_eq!(out["groups"][0]["initial"]["excess"], "-0.000001");
}

#[test]
fn totals_are_summed_exactly_before_rounding() {
    // Each group holds 0.5 TINY at mark 0.000001 and needs no margin (zero P&L): its
    // excess is 0.0000005, which prints as 0.000000; the exact total is 0.000001.
    let p = portfolio(
        json!([{"name": "x", "mode": "portfolio"}, {"name": "y", "mode": "portfolio"}]),
        json!([
            {"venue": "v", "account": "a", "group": "x", "positions": [{"instrument": "TINY", "qty": "0.5"}], "collateral": []},
            {"venue": "v", "account": "b", "group": "y", "positions": [{"instrument": "TINY", "qty": "0.5"}], "collateral": []}
        ]),
    );
    let out = report::to_json(&engine::compute(&market(), &p));
    // Each group: 0.5 * 0.000001 = 0.0000005 -> "0.000000"; together 0.000001.
    assert_eq!(out["groups"][0]["equity"], "0.000000");
    assert_eq!(out["groups"][1]["initial"]["excess"], "0.000000");
    assert_eq!(out["total"]["initial_excess"], "0.000001");
}

#[test]
fn claim_checks_every_group_then_the_total() {
    let p = portfolio(
        json!([{"name": "rich", "mode": "standard"}, {"name": "poor", "mode": "standard"}]),
        json!([
            {"venue": "v", "account": "a", "group": "rich", "positions": [], "collateral": [{"asset": "USD", "amount": "1000"}]},
            {"venue": "v", "account": "b", "group": "poor", "positions": [{"instrument": "PERP", "qty": "1"}], "collateral": [{"asset": "USD", "amount": "9"}]}
        ]),
    );
    let r = engine::compute(&market(), &p);
    // poor: equity 9, requirement 10 at initial: fails even though the total is large.
    match r.check_claim(Level::Initial, I256::ZERO) {
        Err(ClaimFailure::GroupShortfall { group, .. }) => assert_eq!(group, "poor"),
        other => panic!("expected a shortfall, got {other:?}"),
    }
    // maintenance: poor has 9 - 5 = 4; total 1004: holds up to exactly 1004.
    assert_eq!(r.check_claim(Level::Maintenance, money_to_common(1_004_000_000)), Ok(()));
    assert!(matches!(
        r.check_claim(Level::Maintenance, money_to_common(1_004_000_001)),
        Err(ClaimFailure::BelowThreshold { .. })
    ));
}

#[test]
fn shared_example_reproduces_expected_report() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let m = Market::from_json("market.json", &std::fs::read_to_string(format!("{dir}/market.json")).unwrap()).unwrap();
    let p = Portfolio::from_json("portfolio.json", &std::fs::read_to_string(format!("{dir}/portfolio.json")).unwrap()).unwrap();
    p.check_against("portfolio.json", &m).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/expected-margin.json")).unwrap()).unwrap();
    assert_eq!(report::to_json(&engine::compute(&m, &p)), expected);
}
