//! The MockProver harness the circuit tests share: an honest case built from a market,
//! a portfolio and a claim, run in the compact layout (or one named: `run_in`, with a
//! plan for its hash lanes from `plan_for`) of the circuit its tables call for (with or
//! without classes), and the helpers that say why a corrupted witness was rejected.

use halo2_proofs::dev::{FailureLocation, MockProver, VerifyFailure};
use zkmargin_circuits::circuit::{Layout, MarginCircuit, COMPACT, WIDE};
use zkmargin_circuits::encoding::Fp;
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::shape::Shape;
use zkmargin_circuits::statement::Statement;
use zkmargin_circuits::tables::MarketTables;
use zkmargin_circuits::witness::{Claim, Forgery, MarginWitness, Plan};
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::statement::{build, shape_for};

/// The example market and portfolio (examples/).
pub fn example() -> (Market, Portfolio) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let m = Market::from_json("market.json", &std::fs::read_to_string(format!("{dir}/market.json")).unwrap()).unwrap();
    let p = Portfolio::from_json("portfolio.json", &std::fs::read_to_string(format!("{dir}/portfolio.json")).unwrap()).unwrap();
    p.check_against("portfolio.json", &m).unwrap();
    (m, p)
}

/// Everything a MockProver run needs, built honestly; tests corrupt one part.
pub struct Case {
    pub market: Market,
    pub shape: Shape,
    pub tables: MarketTables,
    pub witness: MarginWitness,
    pub statement: Statement,
    pub claim: Claim,
}

impl Case {
    pub fn new(market: Market, portfolio: &Portfolio, level: Level, threshold: i128) -> Case {
        Case::with_claim(market, portfolio, level, Claim { threshold_units: threshold, ..Claim::default() })
    }

    pub fn with_claim(market: Market, portfolio: &Portfolio, level: Level, claim: Claim) -> Case {
        let inputs = build(&market, portfolio, level, &claim, "00ff");
        let shape = shape_for(&inputs).unwrap();
        let tables = MarketTables::new(&market, level, shape.scenarios);
        Case { market, shape, tables, witness: inputs.witness, statement: inputs.statement, claim }
    }

    pub fn example(level: Level) -> Case {
        let (m, p) = example();
        Case::new(m, &p, level, 1_000_000)
    }

    pub fn plan(&self) -> Plan {
        self.plan_for(COMPACT)
    }

    /// The honest plan for `layout`'s hash lanes.
    pub fn plan_for(&self, layout: usize) -> Plan {
        let lanes = Layout::ALL[layout].hash_lanes;
        Plan::in_lanes(lanes, &self.shape, &self.tables, &self.witness, &self.claim, &self.public(), &Forgery::default()).unwrap()
    }

    pub fn public(&self) -> Vec<Fp> {
        self.statement.public_inputs(&self.shape, &self.market.digest()).unwrap()
    }

    pub fn run(&self, plan: Plan) -> Result<(), Vec<VerifyFailure>> {
        self.run_with_public(plan, self.public())
    }

    /// Runs in the wide layout (three partial rounds per hash row, 3 range lanes).
    pub fn run_wide(&self, plan: Plan) -> Result<(), Vec<VerifyFailure>> {
        self.run_in(WIDE, plan, self.public())
    }

    /// Runs in the compact layout.
    pub fn run_with_public(&self, plan: Plan, public: Vec<Fp>) -> Result<(), Vec<VerifyFailure>> {
        self.run_in(COMPACT, plan, public)
    }

    /// Runs in `layout` ([`Layout::ALL`]; [`Layout::WIDER`] for the class circuit only).
    pub fn run_in(&self, layout: usize, plan: Plan, public: Vec<Fp>) -> Result<(), Vec<VerifyFailure>> {
        zkmargin_circuits::with_circuit!(self.tables, layout, S, L, C => {
            let circuit = MarginCircuit::<S, L, C> { shape: self.shape, tables: self.tables.clone(), plan: Some(plan) };
            MockProver::run(circuit.min_k(), &circuit, vec![public]).unwrap().verify()
        })
    }
}

pub fn region_of(failure: &VerifyFailure) -> String {
    let location = match failure {
        VerifyFailure::ConstraintNotSatisfied { location, .. } => location,
        VerifyFailure::Lookup { location, .. } => location,
        VerifyFailure::Permutation { location, .. } => location,
        VerifyFailure::CellNotAssigned { region, .. } => return format!("{region}"),
        other => return format!("{other}"),
    };
    match location {
        FailureLocation::InRegion { region, .. } => format!("{region}"),
        FailureLocation::OutsideRegion { row } => format!("outside any region, row {row}"),
    }
}

/// Asserts the run fails and that some failure mentions `needle` (a constraint name, a
/// region name or a failure kind).
pub fn assert_rejected(result: Result<(), Vec<VerifyFailure>>, needle: &str) -> Vec<VerifyFailure> {
    let failures = result.expect_err("a corrupted witness must be rejected");
    let described: Vec<String> = failures
        .iter()
        .map(|f| format!("{f} | {} | {}", region_of(f), match f {
            VerifyFailure::Lookup { .. } => "lookup",
            VerifyFailure::Permutation { .. } => "permutation",
            _ => "",
        }))
        .collect();
    assert!(described.iter().any(|d| d.contains(needle)), "no failure mentions {needle:?}:\n{}", described.join("\n"));
    failures
}

/// A failure inside a range check (a word out of the table; the lookup runs on every row
/// of a lane, so one may also be reported outside any region).
pub fn only_range_checks(failure: &VerifyFailure) -> bool {
    let region = region_of(failure);
    region.contains("range check") || region.starts_with("outside any region")
}

/// The names of the constraints that failed (and "lookup", "permutation", "range check"
/// for failures of those kinds), without repeats.
pub fn failed_names(failures: &[VerifyFailure]) -> Vec<String> {
    let mut names: Vec<String> = failures
        .iter()
        .map(|f| match f {
            _ if only_range_checks(f) => "range check".to_string(),
            VerifyFailure::ConstraintNotSatisfied { constraint, .. } => {
                let text = format!("{constraint}");
                let head = text.split(" in gate").next().unwrap_or(&text);
                head.split("('").nth(1).map_or(head.to_string(), |n| n.trim_end_matches("')").to_string())
            }
            VerifyFailure::Lookup { .. } => "lookup".to_string(),
            VerifyFailure::Permutation { .. } => "permutation".to_string(),
            other => format!("{other}"),
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

