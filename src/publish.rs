//! The risk publisher's command: `market build` (zkmargin-publisher).

use std::path::Path;

use zkmargin_circuits::input::InputError;
use zkmargin_circuits::market::Market;
use zkmargin_circuits::shape::SCENARIO_LANES;
use zkmargin_publisher::build::{build, Method};
use zkmargin_publisher::input::{self as publisher_input, canonical_time, parse_grid, parse_time, Instruments, Rates};

use crate::error::CliError;
use crate::io;

/// The proving limit on scenarios: the widest scenario lanes of the circuit (README,
/// "Commands"); a grid that produces more is refused.
const PROVABLE_SCENARIOS: usize = SCENARIO_LANES[SCENARIO_LANES.len() - 1];

fn input(e: publisher_input::InputError) -> CliError {
    CliError::Input(InputError::new(&e.source, e.path, e.message))
}

/// `market build`: reads the three input files, builds the snapshot and writes it.
pub fn market_build(
    instruments: &Path,
    grid: &Path,
    rates: &Path,
    as_of: &str,
    id: &str,
    method: Method,
    out: &Path,
) -> Result<(), CliError> {
    let as_of_secs = parse_time(as_of).map_err(|e| CliError::Usage(format!("--as-of {as_of:?}: {e}")))?;
    let as_of = &canonical_time(as_of).map_err(|e| CliError::Usage(format!("--as-of {as_of:?}: {e}")))?;
    if id.trim().is_empty() {
        return Err(CliError::Usage("--id must not be empty".into()));
    }
    if id.chars().any(char::is_control) {
        return Err(CliError::Usage(format!("--id {id:?}: must not contain control characters")));
    }
    io::refuse_overwrite(("--out", out), &[("--instruments", instruments), ("--grid", grid), ("--rates", rates)])?;
    let name = |p: &Path| p.display().to_string();
    let instruments_def = Instruments::parse(&name(instruments), &io::read_text(instruments)?, as_of_secs).map_err(input)?;
    let scenarios = parse_grid(&name(grid), &io::read_text(grid)?, &instruments_def.underlyings).map_err(input)?;
    scenarios.check_count(&name(grid), PROVABLE_SCENARIOS).map_err(input)?;
    let rates_def = Rates::parse(&name(rates), &io::read_text(rates)?).map_err(input)?;
    let sources = [name(instruments), name(grid), name(rates)];
    let snapshot = build(
        &instruments_def,
        &scenarios.scenarios,
        &rates_def,
        [sources[0].as_str(), sources[1].as_str(), sources[2].as_str()],
        id,
        as_of,
        method,
    )
    .map_err(|e| input(e.0))?;
    let text = snapshot.to_json();
    let market = Market::from_json(&name(out), &text)
        .map_err(|e| CliError::Internal(format!("the built snapshot does not read back as a market: {e}")))?;
    io::write_atomic(out, text.as_bytes())?;
    let method = match method {
        Method::Full => "full revaluation",
        Method::Greeks => "greeks",
    };
    outln!(
        "built market {:?} as of {}: {} instruments x {} scenarios ({method}), {} assets",
        market.id,
        market.as_of,
        market.instruments.len(),
        market.scenarios.len(),
        market.assets.len()
    );
    outln!("digest {}; wrote {}", market.digest_hex(), out.display());
    Ok(())
}
