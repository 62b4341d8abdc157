//! The `margin` report (SPEC section 6), as JSON and as a human-readable table.

use std::fmt::Write as _;

use serde_json::{json, Value};
use zkmargin_circuits::market::Level;

use crate::engine::{format_common, LevelFigures, MarginReport, Rounding};

fn level_json(report: &MarginReport, figures: &LevelFigures) -> Value {
    json!({
        "requirement": format_common(figures.requirement, Rounding::Up),
        "excess": format_common(figures.excess, Rounding::Down),
        "worst_scenario": figures.worst_scenario.map(|s| report.scenarios[s].clone()),
    })
}

/// The report as the JSON object of SPEC section 6.
pub fn to_json(report: &MarginReport) -> Value {
    let groups: Vec<Value> = report
        .groups
        .iter()
        .map(|g| {
            json!({
                "name": g.name,
                "mode": g.mode.as_str(),
                "equity": format_common(g.equity, Rounding::Down),
                "initial": level_json(report, &g.levels.initial),
                "maintenance": level_json(report, &g.levels.maintenance),
            })
        })
        .collect();
    json!({
        "market": report.market_id,
        "groups": groups,
        "total": {
            "initial_excess": format_common(report.total_excess(Level::Initial), Rounding::Down),
            "maintenance_excess": format_common(report.total_excess(Level::Maintenance), Rounding::Down),
        },
    })
}

/// The report as JSON text laid out like `shared/examples/expected-margin.json`
/// (one-space indentation), without a trailing newline.
pub fn to_json_text(report: &MarginReport) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    to_json(report).serialize(&mut serializer).expect("a JSON value always serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// The report as a table per group, for people.
pub fn to_text(report: &MarginReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Margin report against market {}", report.market_id);
    for g in &report.groups {
        let _ = writeln!(out);
        let _ = writeln!(out, "group {} ({} mode)", g.name, g.mode);
        let _ = writeln!(out, "  equity {:>28}", format_common(g.equity, Rounding::Down));
        let _ = writeln!(out, "  {:<12} {:>24} {:>24}  worst scenario", "level", "requirement", "excess");
        for level in Level::ALL {
            let f = g.levels.get(level);
            let worst = f.worst_scenario.map_or("-", |s| report.scenarios[s].as_str());
            let _ = writeln!(
                out,
                "  {:<12} {:>24} {:>24}  {}",
                level.as_str(),
                format_common(f.requirement, Rounding::Up),
                format_common(f.excess, Rounding::Down),
                worst
            );
        }
    }
    let _ = writeln!(out);
    for level in Level::ALL {
        let _ = writeln!(
            out,
            "total {:<12} excess {:>24}",
            level.as_str(),
            format_common(report.total_excess(level), Rounding::Down)
        );
    }
    out
}
