//! The `margin` report (SPEC sections 5, 6 and 10), as JSON and as a human-readable table.
//!
//! Every printed figure comes from the engine's exact integers, rounded once: money with
//! exactly 6 decimals, requirements, class worst losses and the gross notional rounded
//! up, equity and excess rounded down (toward −∞); ratios (6 decimals) rounded down and
//! leverage (6 decimals) rounded up; totals summed exactly before rounding.

use std::fmt::Write as _;

use serde_json::{json, Value};
use zkmargin_circuits::fixed::RATE_DECIMALS;
use zkmargin_circuits::market::Level;

use crate::engine::{format_common, format_scaled, ClassFigures, GroupFigures, MarginReport, Rounding, LOSS_DECIMALS};

/// A class's worst loss as printed: money, rounded up.
fn class_worst(class: &ClassFigures) -> String {
    format_scaled(class.worst, LOSS_DECIMALS, Rounding::Up)
}

/// A group's ratio at `level` as printed (6 decimals, rounded down), if defined.
fn ratio(group: &GroupFigures, level: Level) -> Option<String> {
    group.ratio(level).map(|r| format_scaled(r, RATE_DECIMALS, Rounding::Down))
}

fn level_json(report: &MarginReport, group: &GroupFigures, level: Level) -> Value {
    let figures = group.levels.get(level);
    let scenario = |s: Option<usize>| s.map(|s| report.scenarios[s].clone());
    let classes: Vec<Value> = figures
        .classes
        .iter()
        .map(|c| json!({"class": c.class, "worst": class_worst(c), "worst_scenario": scenario(c.worst_scenario)}))
        .collect();
    json!({
        "requirement": format_common(figures.requirement, Rounding::Up),
        "excess": format_common(figures.excess, Rounding::Down),
        "worst_scenario": scenario(figures.worst_scenario),
        "classes": classes,
        "ratio": ratio(group, level),
    })
}

/// The report as the JSON object of SPEC sections 5, 6 and 10 (keys of SPEC section 6
/// first, in its order; the class and covenant figures after them).
pub fn to_json(report: &MarginReport) -> Value {
    let groups: Vec<Value> = report
        .groups
        .iter()
        .map(|g| {
            json!({
                "name": g.name,
                "mode": g.mode.as_str(),
                "equity": format_common(g.equity, Rounding::Down),
                "initial": level_json(report, g, Level::Initial),
                "maintenance": level_json(report, g, Level::Maintenance),
            })
        })
        .collect();
    json!({
        "market": report.market_id,
        "groups": groups,
        "total": {
            "initial_excess": format_common(report.total_excess(Level::Initial), Rounding::Down),
            "maintenance_excess": format_common(report.total_excess(Level::Maintenance), Rounding::Down),
            "equity": format_common(report.total_equity(), Rounding::Down),
            "gross_notional": report.gross_notional().map(|g| format_scaled(g, LOSS_DECIMALS, Rounding::Up)),
            "leverage": report.leverage().map(|l| format_scaled(l, RATE_DECIMALS, Rounding::Up)),
        },
    })
}

/// The report as JSON text laid out like `examples/expected-margin.json` (one-space
/// indentation), without a trailing newline.
pub fn to_json_text(report: &MarginReport) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    to_json(report).serialize(&mut serializer).expect("a JSON value always serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A class name for people: the market's unnamed class is `(unnamed)`.
fn class_label(name: &str) -> &str {
    if name.is_empty() {
        "(unnamed)"
    } else {
        name
    }
}

/// The report as a table per group, for people: per level the requirement, the excess,
/// the margin ratio and the worst joint scenario; the worst loss of each risk class the
/// group holds (before the loss factor, the same at both levels); then the totals, the
/// gross notional and the leverage.
pub fn to_text(report: &MarginReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Margin report against market {}", report.market_id);
    for g in &report.groups {
        let _ = writeln!(out);
        let _ = writeln!(out, "group {} ({} mode)", g.name, g.mode);
        let _ = writeln!(out, "  equity {:>28}", format_common(g.equity, Rounding::Down));
        let _ = writeln!(
            out,
            "  {:<12} {:>24} {:>24} {:>14}  worst scenario",
            "level", "requirement", "excess", "ratio"
        );
        for level in Level::ALL {
            let f = g.levels.get(level);
            let worst = f.worst_scenario.map_or("-", |s| report.scenarios[s].as_str());
            let _ = writeln!(
                out,
                "  {:<12} {:>24} {:>24} {:>14}  {}",
                level.as_str(),
                format_common(f.requirement, Rounding::Up),
                format_common(f.excess, Rounding::Down),
                ratio(g, level).unwrap_or_else(|| "-".into()),
                worst
            );
        }
        // The class figures do not depend on the level: print them once.
        let classes = &g.levels.initial.classes;
        if !classes.is_empty() {
            let _ = writeln!(out, "  {:<12} {:>24}  worst scenario", "risk class", "worst loss");
            for c in classes {
                let worst = c.worst_scenario.map_or("-", |s| report.scenarios[s].as_str());
                let _ = writeln!(out, "  {:<12} {:>24}  {}", class_label(&c.class), class_worst(c), worst);
            }
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
    let _ = writeln!(out, "{:<26}{:>24}", "total equity", format_common(report.total_equity(), Rounding::Down));
    let gross = match (report.gross_notional(), &report.missing_notional) {
        (Some(g), _) => format_scaled(g, LOSS_DECIMALS, Rounding::Up),
        (None, Some(m)) => format!("- (no notional for {})", m.instrument),
        (None, None) => "-".into(),
    };
    let _ = writeln!(out, "{:<26}{:>24}", "gross notional", gross);
    let leverage = match report.leverage() {
        Some(l) => format!("{}x", format_scaled(l, RATE_DECIMALS, Rounding::Up)),
        None if report.gross_notional().is_some() => "- (total equity not positive)".into(),
        None => "-".into(),
    };
    let _ = writeln!(out, "{:<26}{:>24}", "leverage", leverage);
    out
}
