//! Hand-checked unit tests of every margin formula (SPEC section 5).

use ethnum::I256;
use serde_json::json;
use zkmargin_circuits::market::{Asset, Haircut, Level, Market};
use zkmargin_prover::engine::{self, format_common, money_to_common, ClaimFailure, Rounding, COMMON_DECIMALS};
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::report;

/// One quote unit at the common scale (10^26).
fn q(units: i128) -> I256 {
    I256::from(units) * I256::from(10i128.pow(COMMON_DECIMALS))
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
    assert_eq!(engine::asset_value(&btc, 120_000_000), q(97_200));
    // A debt of 1 BTC counts at full value: -90000, not -81000.
    assert_eq!(engine::asset_value(&btc, -100_000_000), q(-90_000));
    assert_eq!(engine::asset_value(&btc, 0), I256::ZERO);
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
    // One unit at the common scale is 1e-26.
    assert_eq!(format_common(I256::ONE, Rounding::Down), "0.000000");
    assert_eq!(format_common(I256::ONE, Rounding::Up), "0.000001");
    assert_eq!(format_common(-I256::ONE, Rounding::Down), "-0.000001");
    assert_eq!(format_common(-I256::ONE, Rounding::Up), "0.000000");
    assert_eq!(format_common(q(5) / I256::from(2), Rounding::Down), "2.500000");
    assert_eq!(format_common(I256::ZERO, Rounding::Up), "0.000000");
    // Exactly on a 6-decimal boundary, no direction changes anything.
    let b = I256::from(123_456_789i128) * I256::from(10i128.pow(COMMON_DECIMALS - 6));
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

/// Whether `actual` has every field of `expected` with the same value (objects may carry
/// more keys; arrays and scalars must be equal element by element).
fn includes(actual: &serde_json::Value, expected: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e.iter().all(|(k, v)| a.get(k).is_some_and(|x| includes(x, v))),
        (Value::Array(a), Value::Array(e)) => a.len() == e.len() && a.iter().zip(e).all(|(x, v)| includes(x, v)),
        _ => actual == expected,
    }
}

#[test]
fn shared_example_reproduces_expected_report() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let m = Market::from_json("market.json", &std::fs::read_to_string(format!("{dir}/market.json")).unwrap()).unwrap();
    let p = Portfolio::from_json("portfolio.json", &std::fs::read_to_string(format!("{dir}/portfolio.json")).unwrap()).unwrap();
    p.check_against("portfolio.json", &m).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/expected-margin.json")).unwrap()).unwrap();
    let printed = report::to_json(&engine::compute(&m, &p));
    assert!(includes(&printed, &expected), "{printed:#}");
    // The comparison is not vacuous: a changed figure is caught.
    let mut changed = expected.clone();
    changed["groups"][0]["initial"]["requirement"] = "82790.500001".into();
    assert!(!includes(&printed, &changed));
}

// ---------------------------------------------------------------------------------------
// Risk classes (SPEC section 5) and covenant figures (SPEC section 10).
// ---------------------------------------------------------------------------------------

/// Two risk classes (BTC, ETH) over two scenarios, class offsets 0.25 (initial) and 0.5
/// (maintenance), notionals on the perpetuals only (not on ETH-CALL), a tiered asset XYZ
/// (price 100: up to 10 units at a 10 % haircut, above at 25 %). The CLI tests use it too.
fn classes_market() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/classes-market.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn parse_market(v: &serde_json::Value) -> Market {
    Market::from_json("market.json", &v.to_string()).unwrap()
}

/// A portfolio of (group, mode) and accounts (group, positions, collateral) checked
/// against `market`.
fn book(market: &Market, groups: &[(&str, &str)], accounts: &[(&str, serde_json::Value, serde_json::Value)]) -> Portfolio {
    let groups: Vec<_> = groups.iter().map(|(name, mode)| json!({"name": name, "mode": mode})).collect();
    let accounts: Vec<_> = accounts
        .iter()
        .enumerate()
        .map(|(a, (group, positions, collateral))| {
            json!({"venue": "v", "account": format!("a{a}"), "group": group, "positions": positions, "collateral": collateral})
        })
        .collect();
    let text = json!({"version": 1, "owner": "t", "groups": groups, "accounts": accounts}).to_string();
    let p = Portfolio::from_json("portfolio.json", &text).unwrap();
    p.check_against("portfolio.json", market).unwrap();
    p
}

fn usd(amount: &str) -> serde_json::Value {
    json!([{"asset": "USD", "amount": amount}])
}

/// The pair trade: long 1 BTC-PERP, short 1 ETH-PERP, 1000 USD.
fn pair(market: &Market, mode: &str) -> Portfolio {
    book(
        market,
        &[("pair", mode)],
        &[("pair", json!([{"instrument": "BTC-PERP", "qty": "1"}, {"instrument": "ETH-PERP", "qty": "-1"}]), usd("1000"))],
    )
}

#[test]
fn offsets_between_interpolate_exactly() {
    // Joint: down -(−100 + 90) = 10, up -(100 − 90) = −10: joint 10 (down). BTC alone:
    // worst 100 (down); ETH alone (short): worst 90 (up); Σ_c worst_c = 190.
    // worst = 10 + (1 − o)·180: initial o = 0.25 → 145 (× 1), maintenance o = 0.5 → 100 (× 0.8 = 80).
    let market = parse_market(&classes_market());
    let r = engine::compute(&market, &pair(&market, "portfolio"));
    let g = &r.groups[0];
    assert_eq!(g.levels.initial.requirement, q(145));
    assert_eq!(g.levels.maintenance.requirement, q(80));
    assert_eq!(g.levels.initial.worst_loss, I256::from(10) * I256::from(10i128.pow(14)));
    assert_eq!(g.levels.initial.blended_loss, I256::from(145) * I256::from(10i128.pow(20)));
    assert_eq!(g.levels.initial.worst_scenario, Some(0));
    let classes: Vec<_> = g.levels.initial.classes.iter().map(|c| (c.class.as_str(), c.worst, c.worst_scenario)).collect();
    let loss = |x: i128| I256::from(x) * I256::from(10i128.pow(14));
    assert_eq!(classes, vec![("BTC", loss(100), Some(0)), ("ETH", loss(90), Some(1))]);
    // Every offset from 0 to 1: lf · (10 + (1 − o) · 180), exactly.
    for (offset, initial) in [("0", q(190)), ("0.1", q(172)), ("0.333333", q(10) + I256::from(666_667i128 * 180) * I256::from(10i128.pow(20))), ("1", q(10))] {
        let mut m = classes_market();
        m["class_offset"]["initial"] = offset.into();
        let market = parse_market(&m);
        let r = engine::compute(&market, &pair(&market, "portfolio"));
        assert_eq!(r.groups[0].levels.initial.requirement, initial, "offset {offset}");
    }
    // Without class_offset the market keeps the joint figure (default 1).
    let mut m = classes_market();
    m.as_object_mut().unwrap().remove("class_offset");
    let market = parse_market(&m);
    assert_eq!(engine::compute(&market, &pair(&market, "portfolio")).groups[0].levels.initial.requirement, q(10));
}

#[test]
fn an_offset_requirement_is_exact_at_the_common_scale_and_prints_rounded_up() {
    // 0.00000001 long A (loses 0.000001 per unit down) and 0.00000001 long B (gains it):
    // joint 0, worst_A = 1e-14, worst_B = 0. lf 0.999999, offset 0.999999:
    // requirement = 0.999999 · (0 + 0.000001 · 1e-14) = 999999e-26, below 1e-20 (the old
    // common scale), printed rounded up; the excess (equity 0) printed rounded down.
    let m = json!({
        "version": 1, "id": "tiny", "as_of": "2026-11-25T08:00:00Z", "quote": "USD", "scenarios": ["down"],
        "loss_factor": {"initial": "0.999999", "maintenance": "0.999999"},
        "class_offset": {"initial": "0.999999", "maintenance": "1"},
        "instruments": [
            {"id": "A", "mark": "0", "pnl": ["-0.000001"], "linear": {"initial": "0", "maintenance": "0"},
             "short_charge": {"initial": "0", "maintenance": "0"}, "class": "A"},
            {"id": "B", "mark": "0", "pnl": ["0.000001"], "linear": {"initial": "0", "maintenance": "0"},
             "short_charge": {"initial": "0", "maintenance": "0"}, "class": "B"}
        ],
        "assets": []
    });
    let market = parse_market(&m);
    let p = book(
        &market,
        &[("g", "portfolio")],
        &[("g", json!([{"instrument": "A", "qty": "0.00000001"}, {"instrument": "B", "qty": "0.00000001"}]), json!([]))],
    );
    let r = engine::compute(&market, &p);
    let f = &r.groups[0].levels.initial;
    assert_eq!(f.requirement, I256::from(999_999));
    assert_eq!(f.excess, -I256::from(999_999));
    assert_eq!(r.groups[0].levels.maintenance.requirement, I256::ZERO, "offset 1: the joint figure, 0");
    let out = report::to_json(&r);
    assert_eq!(out["groups"][0]["initial"]["requirement"], "0.000001");
    assert_eq!(out["groups"][0]["initial"]["excess"], "-0.000001");
    assert_eq!(out["groups"][0]["initial"]["worst_scenario"], serde_json::Value::Null, "joint = 0");
    assert_eq!(out["groups"][0]["initial"]["classes"], json!([
        {"class": "A", "worst": "0.000001", "worst_scenario": "down"},
        {"class": "B", "worst": "0.000000", "worst_scenario": null}
    ]));
    // Ratio: equity 0 over a positive requirement is 0; the claim fails on the excess.
    assert_eq!(out["groups"][0]["initial"]["ratio"], "0.000000");
    assert!(matches!(r.check_claim(Level::Initial, I256::ZERO), Err(ClaimFailure::GroupShortfall { .. })));
}

#[test]
fn classes_are_those_held_in_market_order_in_either_mode() {
    let market = parse_market(&classes_market());
    // Standard mode: classes by positions, the level's worst_scenario stays null; an ETH
    // position netted to zero across accounts is no holding of ETH.
    let p = book(
        &market,
        &[("iso", "standard"), ("pm", "portfolio")],
        &[
            ("iso", json!([{"instrument": "ETH-PERP", "qty": "2"}, {"instrument": "BTC-PERP", "qty": "1"}]), usd("100")),
            ("pm", json!([{"instrument": "ETH-CALL", "qty": "-1"}]), usd("100")),
            ("pm", json!([{"instrument": "ETH-CALL", "qty": "1"}, {"instrument": "BTC-PERP", "qty": "-0.5"}]), usd("100")),
        ],
    );
    let out = report::to_json(&engine::compute(&market, &p));
    let iso = &out["groups"][0]["initial"];
    assert_eq!(iso["worst_scenario"], serde_json::Value::Null);
    assert_eq!(iso["requirement"], "28.000000"); // 2·9 + 1·10
    assert_eq!(iso["classes"], json!([
        {"class": "BTC", "worst": "100.000000", "worst_scenario": "down"},
        {"class": "ETH", "worst": "180.000000", "worst_scenario": "down"}
    ]));
    assert_eq!(out["groups"][0]["maintenance"]["classes"], iso["classes"]);
    let pm = &out["groups"][1]["initial"];
    assert_eq!(pm["classes"], json!([{"class": "BTC", "worst": "50.000000", "worst_scenario": "up"}]));
    assert_eq!(pm["worst_scenario"], "up");
    assert_eq!(pm["requirement"], "50.000000");
    // Key order: SPEC section 6's keys first, then classes and ratio.
    let keys: Vec<&str> = pm.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["requirement", "excess", "worst_scenario", "classes", "ratio"]);
    let keys: Vec<&str> = out["total"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["initial_excess", "maintenance_excess", "equity", "gross_notional", "leverage"]);
    // No position at all: no class.
    let p = book(&market, &[("cash", "portfolio")], &[("cash", json!([]), usd("1"))]);
    assert_eq!(report::to_json(&engine::compute(&market, &p))["groups"][0]["initial"]["classes"], json!([]));
}

#[test]
fn tiers_value_each_entry_at_the_boundary() {
    // XYZ at 100: up to 10 units at a 10 % haircut, above at 25 %.
    let market = parse_market(&classes_market());
    let equity = |amounts: &[&str]| {
        let accounts: Vec<_> =
            amounts.iter().map(|a| ("g", json!([]), json!([{"asset": "XYZ", "amount": a}]))).collect();
        let r = engine::compute(&market, &book(&market, &[("g", "standard")], &accounts));
        (r.groups[0].equity, report::to_json(&r)["groups"][0]["equity"].as_str().unwrap().to_string())
    };
    let tenth = |x: i128| I256::from(x) * I256::from(10i128.pow(COMMON_DECIMALS - 8)); // x · 1e-8 USD
    // Just below: 9.99999999 · 100 · 0.9 = 899.999999100.
    assert_eq!(equity(&["9.99999999"]), (tenth(89_999_999_910), "899.999999".into()));
    // At: 10 · 90 = 900.
    assert_eq!(equity(&["10"]), (q(900), "900.000000".into()));
    // Just above: 900 + 0.00000001 · 75 = 900.00000075 (printed rounded down).
    assert_eq!(equity(&["10.00000001"]), (tenth(90_000_000_075), "900.000000".into()));
    assert_eq!(equity(&["12"]), (q(900 + 150), "1050.000000".into()));
    // Each account's entry is valued on its own: 6 + 6 in two accounts is 2 · 540.
    assert_eq!(equity(&["6", "6"]).0, q(1080));
    // A debt is valued at the full price.
    assert_eq!(equity(&["-12"]).0, q(-1200));
}

/// Three groups: the pair trade (ratio 1000/145), a BTC long with 300 USD (ratio 3), cash.
fn three_groups(market: &Market) -> Portfolio {
    book(
        market,
        &[("pair", "portfolio"), ("btc", "portfolio"), ("cash", "portfolio")],
        &[
            ("pair", json!([{"instrument": "BTC-PERP", "qty": "1"}, {"instrument": "ETH-PERP", "qty": "-1"}]), usd("1000")),
            ("btc", json!([{"instrument": "BTC-PERP", "qty": "1"}]), usd("300")),
            ("cash", json!([]), usd("500")),
        ],
    )
}

#[test]
fn ratio_rounds_down_and_is_null_without_requirement() {
    let market = parse_market(&classes_market());
    let out = report::to_json(&engine::compute(&market, &three_groups(&market)));
    // 1000 / 145 = 6.8965517…: rounded down. 1000 / 80 = 12.5.
    assert_eq!(out["groups"][0]["initial"]["ratio"], "6.896551");
    assert_eq!(out["groups"][0]["maintenance"]["ratio"], "12.500000");
    assert_eq!(out["groups"][1]["initial"]["ratio"], "3.000000");
    assert_eq!(out["groups"][2]["initial"]["ratio"], serde_json::Value::Null, "no requirement");
    // Negative equity: −100 / 145 = −0.6896551… rounds toward −∞.
    let p = book(
        &market,
        &[("pair", "portfolio")],
        &[("pair", json!([{"instrument": "BTC-PERP", "qty": "1"}, {"instrument": "ETH-PERP", "qty": "-1"}]), usd("-100"))],
    );
    let r = engine::compute(&market, &p);
    assert_eq!(r.groups[0].ratio(Level::Initial), Some(I256::from(-689_656)));
    assert_eq!(report::to_json(&r)["groups"][0]["initial"]["ratio"], "-0.689656");
}

#[test]
fn totals_carry_equity_gross_notional_and_leverage_rounded_up() {
    let market = parse_market(&classes_market());
    let r = engine::compute(&market, &three_groups(&market));
    let out = report::to_json(&r);
    // Gross: pair 1000 + 900, btc 1000 = 2900; equity 1800; 2900 / 1800 = 1.6111…: up.
    assert_eq!(out["total"]["equity"], "1800.000000");
    assert_eq!(out["total"]["gross_notional"], "2900.000000");
    assert_eq!(out["total"]["leverage"], "1.611112");
    assert_eq!(r.leverage(), Some(I256::from(1_611_112)));
    // Gross notional rounded up: 0.00000001 BTC-PERP at a notional of 1000.000001.
    let mut m = classes_market();
    m["instruments"][0]["notional"] = "1000.000001".into();
    let market2 = parse_market(&m);
    let p = book(&market2, &[("g", "standard")], &[("g", json!([{"instrument": "BTC-PERP", "qty": "0.00000001"}]), usd("1"))]);
    let out = report::to_json(&engine::compute(&market2, &p));
    assert_eq!(out["total"]["gross_notional"], "0.000011"); // 0.00001000000001
    assert_eq!(out["total"]["leverage"], "0.000011"); // 0.00001000000001 / 1
}

#[test]
fn leverage_is_null_without_a_notional_or_a_positive_equity() {
    let market = parse_market(&classes_market());
    let totals = |positions: serde_json::Value, collateral: &str| {
        let p = book(&market, &[("g", "portfolio")], &[("g", positions, usd(collateral))]);
        report::to_json(&engine::compute(&market, &p))["total"].clone()
    };
    // A held instrument (ETH-CALL) without notional: both null.
    let t = totals(json!([{"instrument": "ETH-CALL", "qty": "1"}, {"instrument": "BTC-PERP", "qty": "1"}]), "1000");
    assert_eq!((&t["gross_notional"], &t["leverage"]), (&json!(null), &json!(null)));
    assert_eq!(t["equity"], "1005.000000");
    // A zero position in it is no holding.
    let t = totals(json!([{"instrument": "ETH-CALL", "qty": "0"}, {"instrument": "BTC-PERP", "qty": "1"}]), "1000");
    assert_eq!((&t["gross_notional"], &t["leverage"]), (&json!("1000.000000"), &json!("1.000000")));
    // Zero and negative total equity: gross known, leverage null.
    let t = totals(json!([{"instrument": "BTC-PERP", "qty": "1"}]), "0");
    assert_eq!((&t["gross_notional"], &t["leverage"]), (&json!("1000.000000"), &json!(null)));
    let t = totals(json!([{"instrument": "BTC-PERP", "qty": "1"}]), "-0.000001");
    assert_eq!((&t["equity"], &t["leverage"]), (&json!("-0.000001"), &json!(null)));
    // No position at all: a gross of 0, leverage 0.
    let t = totals(json!([]), "5");
    assert_eq!((&t["gross_notional"], &t["leverage"]), (&json!("0.000000"), &json!("0.000000")));
}

#[test]
fn covenant_claims_hold_up_to_their_exact_boundary_and_fail_naming_the_covenant() {
    use zkmargin_prover::engine::Covenants;
    let market = parse_market(&classes_market());
    let r = engine::compute(&market, &three_groups(&market));
    let check = |c: Covenants| r.check_claim_with(Level::Initial, I256::ZERO, &c);
    let none = Covenants::default();
    assert!(none.is_empty());
    assert_eq!(check(none), Ok(()));
    // min_ratio: the smallest ratio is btc's 3 (pair: 6.89, cash: no requirement).
    assert_eq!(check(Covenants { min_ratio: Some(3_000_000), ..none }), Ok(()));
    let failure = check(Covenants { min_ratio: Some(3_000_001), ..none }).unwrap_err();
    assert_eq!((failure.covenant(), failure.group()), (Some("min_ratio"), Some("btc")));
    let text = failure.to_string();
    assert!(text.contains("min_ratio 3.000001") && text.contains("\"btc\"") && text.contains("ratio 3.000000"), "{text}");
    // The pair's ratio 1000/145: 6.896551 holds (6896551 · 145 ≤ 1e9), one unit more fails.
    let pair_only = engine::compute(&market, &pair(&market, "portfolio"));
    let ratio = |units| pair_only.check_claim_with(Level::Initial, I256::ZERO, &Covenants { min_ratio: Some(units), ..none });
    assert_eq!(ratio(6_896_551), Ok(()));
    assert_eq!(ratio(6_896_552).unwrap_err().group(), Some("pair"));
    // At maintenance the ratio is 12.5 exactly.
    let maintenance = |units| pair_only.check_claim_with(Level::Maintenance, I256::ZERO, &Covenants { min_ratio: Some(units), ..none });
    assert_eq!(maintenance(12_500_000), Ok(()));
    assert!(maintenance(12_500_001).is_err());
    // min_equity: Σ equity = 1800.
    assert_eq!(check(Covenants { min_equity: Some(1_800_000_000), ..none }), Ok(()));
    assert_eq!(check(Covenants { min_equity: Some(-5), ..none }), Ok(()));
    let failure = check(Covenants { min_equity: Some(1_800_000_001), ..none }).unwrap_err();
    assert_eq!((failure.covenant(), failure.group()), (Some("min_equity"), None));
    assert!(failure.to_string().contains("min_equity 1800.000001") && failure.to_string().contains("1800.000000"), "{failure}");
    // max_leverage: 2900 ≤ λ · 1800 from λ = 1.611112 (1.611111 · 1800 = 2899.9998).
    assert_eq!(check(Covenants { max_leverage: Some(1_611_112), ..none }), Ok(()));
    let failure = check(Covenants { max_leverage: Some(1_611_111), ..none }).unwrap_err();
    assert_eq!(failure.covenant(), Some("max_leverage"));
    assert!(failure.to_string().contains("max_leverage 1.611111") && failure.to_string().contains("1.611112 times"), "{failure}");
    // All three together hold at their boundaries; the excess claim is checked first.
    let all = Covenants { min_ratio: Some(3_000_000), min_equity: Some(1_800_000_000), max_leverage: Some(1_611_112) };
    assert_eq!(check(all), Ok(()));
    let shortfall = r.check_claim_with(Level::Initial, money_to_common(1_800_000_000), &all).unwrap_err();
    assert!(matches!(shortfall, ClaimFailure::BelowThreshold { .. }) && shortfall.covenant().is_none());
    // No position and no equity: a gross of 0 is within any cap (0 ≤ λ · 0).
    let p = book(&market, &[("g", "standard")], &[("g", json!([]), usd("0"))]);
    let r = engine::compute(&market, &p);
    assert_eq!(r.check_claim_with(Level::Initial, I256::ZERO, &Covenants { max_leverage: Some(1), ..none }), Ok(()));
}

#[test]
fn a_leverage_claim_needs_every_held_notional_whether_or_not_it_holds() {
    use zkmargin_prover::engine::Covenants;
    let market = parse_market(&classes_market());
    let leverage = Covenants { max_leverage: Some(1_000_000_000), ..Covenants::default() };
    // ETH-CALL (no notional) held in the second group; BTC-PERP in the first.
    let p = book(
        &market,
        &[("a", "portfolio"), ("b", "standard")],
        &[
            ("a", json!([{"instrument": "BTC-PERP", "qty": "1"}]), usd("10000")),
            ("b", json!([{"instrument": "ETH-CALL", "qty": "-2"}]), usd("10000")),
        ],
    );
    let r = engine::compute(&market, &p);
    let missing = r.check_covenant_inputs(&leverage).unwrap_err();
    assert_eq!((missing.instrument.as_str(), missing.group.as_str()), ("ETH-CALL", "b"));
    assert!(missing.to_string().contains("\"ETH-CALL\"") && missing.to_string().contains("max_leverage"), "{missing}");
    // The same as a claim failure, although 1000× leverage would otherwise hold.
    let failure = r.check_claim_with(Level::Initial, I256::ZERO, &leverage).unwrap_err();
    assert!(matches!(&failure, ClaimFailure::NotionalMissing(m) if m.instrument == "ETH-CALL"));
    assert_eq!(failure.covenant(), Some("max_leverage"));
    // Other covenants need no notional.
    let others = Covenants { min_ratio: Some(1_000_000), min_equity: Some(0), max_leverage: None };
    assert_eq!(r.check_covenant_inputs(&others), Ok(()));
    assert_eq!(r.check_claim_with(Level::Initial, I256::ZERO, &others), Ok(()));
    // An instrument without notional that the book does not hold is no obstacle.
    let p = book(&market, &[("a", "portfolio")], &[("a", json!([{"instrument": "BTC-PERP", "qty": "1"}]), usd("10000"))]);
    let r = engine::compute(&market, &p);
    assert_eq!(r.check_covenant_inputs(&leverage), Ok(()));
    assert_eq!(r.check_claim_with(Level::Initial, I256::ZERO, &leverage), Ok(()));
}

mod common;

mod class_properties {
    use super::common::{account, build, market, mode, INSTRUMENTS};
    use ethnum::I256;
    use proptest::prelude::*;
    use zkmargin_circuits::market::{Level, Market, PerLevel};
    use zkmargin_prover::engine::{self, MarginReport};
    use zkmargin_prover::portfolio::{Mode, Portfolio};

    const NAMES: [&str; 3] = ["BTC", "ETH", "SOL"];

    /// `market` with instrument i in class `NAMES[classes[i]]` and the given offsets.
    fn classed(market: &Market, classes: &[usize], offset: Option<PerLevel<i128>>) -> Market {
        let mut m = market.clone();
        for (ins, &c) in m.instruments.iter_mut().zip(classes) {
            ins.class = Some(NAMES[c].to_string());
        }
        m.class_offset = offset;
        m
    }

    fn offsets() -> impl Strategy<Value = PerLevel<i128>> {
        (0i128..=1_000_000, 0i128..=1_000_000).prop_map(|(initial, maintenance)| PerLevel { initial, maintenance })
    }

    /// The figures a class name cannot change: requirement, excess, joint worst and its
    /// scenario, and each class's worst and scenario.
    /// One level's figures: requirement, excess, joint worst scenario, joint worst, and
    /// each class's (worst, worst scenario).
    type Figures = (I256, I256, Option<usize>, I256, Vec<(I256, Option<usize>)>);

    fn figures(r: &MarginReport) -> Vec<Figures> {
        r.groups
            .iter()
            .flat_map(|g| Level::ALL.map(|l| g.levels.get(l)))
            .map(|f| {
                let classes = f.classes.iter().map(|c| (c.worst, c.worst_scenario)).collect();
                (f.requirement, f.excess, f.worst_scenario, f.worst_loss, classes)
            })
            .collect()
    }

    /// `portfolio` keeping only the positions in instruments of class `class`.
    fn only_class(portfolio: &Portfolio, market: &Market, class: &str) -> Portfolio {
        let mut p = portfolio.clone();
        for acc in &mut p.accounts {
            acc.positions.retain(|pos| market.instruments[market.instrument_index(&pos.instrument).unwrap()].class_name() == class);
            acc.collateral.clear();
        }
        p
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn one_class_reproduces_every_figure(
            market in market(), accounts in prop::collection::vec(account(), 1..4),
            groups in prop::collection::vec(0usize..2, 4), mode in mode(), offset in prop::option::of(offsets()),
        ) {
            let groups = dense(&groups[..accounts.len()]);
            let portfolio = build(&accounts, &groups, mode);
            let plain = engine::compute(&market, &portfolio);
            let one = engine::compute(&classed(&market, &[0; INSTRUMENTS], offset), &portfolio);
            prop_assert_eq!(figures(&plain), figures(&one));
            for (a, b) in plain.groups.iter().zip(&one.groups) {
                prop_assert_eq!(a.equity, b.equity);
                for level in Level::ALL {
                    prop_assert!(b.levels.get(level).classes.iter().all(|c| c.class == "BTC"));
                    prop_assert!(a.levels.get(level).classes.iter().all(|c| c.class.is_empty()));
                    prop_assert!(a.levels.get(level).classes.len() <= 1);
                }
            }
        }

        #[test]
        fn offset_zero_is_the_sum_of_each_class_margined_alone(
            market in market(), accounts in prop::collection::vec(account(), 1..4),
            groups in prop::collection::vec(0usize..2, 4), mode in mode(),
            classes in prop::collection::vec(0usize..3, INSTRUMENTS),
        ) {
            let groups = dense(&groups[..accounts.len()]);
            let portfolio = build(&accounts, &groups, mode);
            let market = classed(&market, &classes, Some(PerLevel { initial: 0, maintenance: 0 }));
            let whole = engine::compute(&market, &portfolio);
            let alone: Vec<MarginReport> =
                NAMES.iter().map(|c| engine::compute(&market, &only_class(&portfolio, &market, c))).collect();
            for (g, group) in whole.groups.iter().enumerate() {
                for level in Level::ALL {
                    let sum: I256 = alone.iter().map(|r| r.groups[g].levels.get(level).requirement).sum();
                    prop_assert_eq!(group.levels.get(level).requirement, sum);
                    // Each class's worst is the class's own book's worst.
                    for class in &group.levels.get(level).classes {
                        let own = &alone[NAMES.iter().position(|&n| n == class.class).unwrap()].groups[g].levels.get(level);
                        prop_assert_eq!(own.classes.len(), 1);
                        prop_assert_eq!(class.worst, own.classes[0].worst);
                        prop_assert_eq!(class.worst_scenario, own.classes[0].worst_scenario);
                    }
                }
            }
        }

        #[test]
        fn offset_one_with_several_classes_is_the_joint_figure(
            market in market(), accounts in prop::collection::vec(account(), 1..4),
            groups in prop::collection::vec(0usize..2, 4), mode in mode(),
            classes in prop::collection::vec(0usize..3, INSTRUMENTS),
            offset in offsets(),
        ) {
            let groups = dense(&groups[..accounts.len()]);
            let portfolio = build(&accounts, &groups, mode);
            let joint = engine::compute(&market, &portfolio);
            let one = engine::compute(&classed(&market, &classes, Some(PerLevel { initial: 1_000_000, maintenance: 1_000_000 })), &portfolio);
            let any = engine::compute(&classed(&market, &classes, Some(offset)), &portfolio);
            for ((j, o), a) in joint.groups.iter().zip(&one.groups).zip(&any.groups) {
                let portfolio_mode = a.mode == Mode::Portfolio;
                for level in Level::ALL {
                    let (j, o, a) = (j.levels.get(level), o.levels.get(level), a.levels.get(level));
                    prop_assert_eq!(j.requirement, o.requirement);
                    prop_assert_eq!(j.worst_scenario, o.worst_scenario);
                    // Any offset lies between the joint figure and the sum of the classes,
                    // by the exact formula.
                    prop_assert!(a.requirement >= o.requirement);
                    let class_sum: I256 = a.classes.iter().map(|c| c.worst).sum();
                    prop_assert!(class_sum >= a.worst_loss);
                    if portfolio_mode {
                        prop_assert_eq!(a.blended_loss, engine::blended_loss(a.worst_loss, class_sum, offset.at(level)));
                    }
                }
            }
        }
    }

    /// Group indices renumbered densely in order of first use.
    fn dense(groups: &[usize]) -> Vec<usize> {
        let mut seen: Vec<usize> = Vec::new();
        groups
            .iter()
            .map(|g| {
                seen.iter().position(|s| s == g).unwrap_or_else(|| {
                    seen.push(*g);
                    seen.len() - 1
                })
            })
            .collect()
    }
}
