//! What a lender asks of a bundle beyond a valid proof, and the statement checks that
//! cost nothing: level, accounts, threshold, nonce, netting, vacuous statements, and the
//! largest circuit it is willing to pay for.
//!
//! Every check here runs before any parameter is loaded or generated and before any key
//! is built, so a bundle that fails one costs microseconds.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use zkmargin_circuits::fixed::{parse_units, DecimalKind};
use zkmargin_circuits::market::Level;
use zkmargin_circuits::statement::{parse_max_leverage, parse_min_equity, parse_min_ratio, Covenants};
use zkmargin_circuits::statement::Statement;

/// Default of [`Expectations::max_k`]: the largest circuit a verifier accepts unless told
/// otherwise (SPEC section 6, `--max-k`).
pub const DEFAULT_MAX_K: u32 = 16;

/// How a prover may pool accounts into margin groups (policy field `netting`, SPEC 8).
///
/// The groups are the prover's choice; without a limit an underwater isolated account can
/// be declared into a healthy cross group and the claim proves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Netting {
    /// Any accounts, of any venues, may share a group (today's behaviour).
    #[default]
    CrossVenue,
    /// A group's accounts all belong to one venue.
    WithinVenue,
    /// Every group holds exactly one account.
    Isolated,
}

impl Netting {
    /// The name as written in a policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Netting::CrossVenue => "cross-venue",
            Netting::WithinVenue => "within-venue",
            Netting::Isolated => "isolated",
        }
    }

    /// Checks the statement's groups; the error names the first group that pools more
    /// than this rule allows.
    pub fn check(self, statement: &Statement) -> Result<(), String> {
        for group in &statement.groups {
            let members: Vec<_> = statement.accounts.iter().filter(|a| a.group == group.name).collect();
            match self {
                Netting::CrossVenue => {}
                Netting::WithinVenue => {
                    let venues: BTreeSet<&str> = members.iter().map(|a| a.venue.as_str()).collect();
                    if venues.len() > 1 {
                        let venues: Vec<&str> = venues.into_iter().collect();
                        return Err(format!(
                            "group {:?} pools accounts of venues {}; netting is within-venue only",
                            group.name,
                            venues.join(", ")
                        ));
                    }
                }
                Netting::Isolated => {
                    if members.len() > 1 {
                        let names: Vec<String> = members.iter().map(|a| format!("{}/{}", a.venue, a.account)).collect();
                        return Err(format!(
                            "group {:?} pools {} accounts ({}); netting is isolated (one account per group)",
                            group.name,
                            members.len(),
                            names.join(", ")
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Netting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a verifier is asked beyond the proof itself.
#[derive(Clone, Debug)]
pub struct Expectations {
    /// Minimum threshold the statement must carry, in money units.
    pub min_threshold_units: Option<i128>,
    /// Nonce the statement must carry (hex, compared case-insensitively).
    pub nonce: Option<String>,
    /// Level the statement must be at.
    pub level: Option<Level>,
    /// With [`Expectations::level`] = maintenance: an initial-level statement also
    /// satisfies the request, on a monotone market only (one whose initial margin is at
    /// least as strict as its maintenance margin everywhere, SPEC section 3; otherwise the
    /// bundle is invalid, saying so).
    pub level_at_least: bool,
    /// Accounts (venue, account) that must each be in the statement.
    pub accounts: Vec<(String, String)>,
    /// How the statement's groups may pool accounts.
    pub netting: Netting,
    /// Largest circuit size (2^k rows) the verifier is willing to check.
    pub max_k: u32,
    /// Covenants the statement must claim at least (SPEC section 10): its `min_ratio` ≥
    /// this one's, its `min_equity` ≥, its `max_leverage` ≤.
    pub covenants: Covenants,
}

impl Default for Expectations {
    fn default() -> Self {
        Expectations {
            min_threshold_units: None,
            nonce: None,
            level: None,
            level_at_least: false,
            accounts: Vec::new(),
            netting: Netting::CrossVenue,
            max_k: DEFAULT_MAX_K,
            covenants: Covenants::default(),
        }
    }
}

/// [`Expectations`] as JSON (the WebAssembly verifier's third argument). Every field is
/// optional; unknown fields are refused.
///
/// ```json
/// {"level": "maintenance", "level_at_least": true, "threshold": "1000000",
///  "nonce": "ab12", "accounts": ["deribit/sub-1"], "netting": "within-venue", "max_k": 16,
///  "min_ratio": "1.5", "min_equity": "20000000", "max_leverage": "5"}
/// ```
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectationsJson {
    /// `initial` or `maintenance`.
    #[serde(default)]
    pub level: Option<Level>,
    /// See [`Expectations::level_at_least`].
    #[serde(default)]
    pub level_at_least: bool,
    /// Minimum threshold, a decimal string (at most 6 decimals, ≥ 0).
    #[serde(default)]
    pub threshold: Option<String>,
    /// Expected nonce, hex.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Accounts as `VENUE/ACCOUNT`.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Netting rule.
    #[serde(default)]
    pub netting: Netting,
    /// Largest k (default [`DEFAULT_MAX_K`]).
    #[serde(default)]
    pub max_k: Option<u32>,
    /// The margin ratio the statement must claim at least, a rate in [1, 1000].
    #[serde(default)]
    pub min_ratio: Option<String>,
    /// The equity floor the statement must claim at least, money.
    #[serde(default)]
    pub min_equity: Option<String>,
    /// The leverage cap the statement must claim at most, a rate above 0.
    #[serde(default)]
    pub max_leverage: Option<String>,
}

/// Parses a threshold a lender asks for: a decimal ≥ 0 with at most 6 decimals.
pub fn parse_threshold(text: &str) -> Result<i128, String> {
    let units = parse_units(text, DecimalKind::Money).map_err(|e| format!("threshold {text:?}: {e}"))?;
    if units < 0 {
        return Err(format!("threshold {text:?}: must not be negative"));
    }
    Ok(units)
}

/// Parses a nonce a lender asks for: non-empty hex, returned lowercase.
pub fn parse_nonce(text: &str) -> Result<String, String> {
    if text.is_empty() || hex::decode(text).is_err() {
        return Err(format!("nonce {text:?}: must be a non-empty even-length hex string"));
    }
    Ok(text.to_ascii_lowercase())
}

/// Parses `VENUE/ACCOUNT` (split at the first `/`; both parts non-empty).
pub fn parse_account(text: &str) -> Result<(String, String), String> {
    match text.split_once('/') {
        Some((venue, account)) if !venue.is_empty() && !account.is_empty() => Ok((venue.to_string(), account.to_string())),
        _ => Err(format!("account {text:?}: expected VENUE/ACCOUNT")),
    }
}

impl ExpectationsJson {
    /// Parses the JSON form.
    pub fn from_json(text: &str) -> Result<ExpectationsJson, String> {
        if text.trim().is_empty() {
            return Ok(ExpectationsJson::default());
        }
        zkmargin_json::decode(text).map_err(|e| format!("expectations: {e}"))
    }

    /// The typed expectations, each value validated.
    pub fn into_expectations(self) -> Result<Expectations, String> {
        Ok(Expectations {
            min_threshold_units: self.threshold.as_deref().map(parse_threshold).transpose()?,
            nonce: self.nonce.as_deref().map(parse_nonce).transpose()?,
            level: self.level,
            level_at_least: self.level_at_least,
            accounts: self.accounts.iter().map(|a| parse_account(a)).collect::<Result<_, _>>()?,
            netting: self.netting,
            max_k: self.max_k.unwrap_or(DEFAULT_MAX_K),
            covenants: Covenants {
                min_ratio: self.min_ratio.as_deref().map(parse_min_ratio).transpose()?,
                min_equity: self.min_equity.as_deref().map(parse_min_equity).transpose()?,
                max_leverage: self.max_leverage.as_deref().map(parse_max_leverage).transpose()?,
            },
        })
    }
}

/// Why a statement's covenants fall short of what was asked, naming the covenant.
pub fn covenants_fall_short(statement: &Statement, required: &Covenants) -> Result<Option<String>, String> {
    let stated = statement.covenants()?;
    let text = |units: i128| zkmargin_circuits::fixed::format_units(units, 6);
    let checks = [
        ("min_ratio", stated.min_ratio, required.min_ratio, true),
        ("min_equity", stated.min_equity, required.min_equity, true),
        ("max_leverage", stated.max_leverage, required.max_leverage, false),
    ];
    for (name, stated, required, at_least) in checks {
        let Some(required) = required else { continue };
        let enough = stated.is_some_and(|s| if at_least { s >= required } else { s <= required });
        if !enough {
            let bound = if at_least { "at least" } else { "at most" };
            let claimed = stated.map_or("claims no ".to_string() + name, |s| format!("claims {name} {}", text(s)));
            return Ok(Some(format!("covenant {name}: the proof {claimed}; {name} {bound} {} was required", text(required))));
        }
    }
    Ok(None)
}

/// Whether a statement at `stated` satisfies a request for `required`.
pub fn level_satisfies(stated: Level, required: Level, at_least: bool) -> bool {
    stated == required || (at_least && stated == Level::Initial && required == Level::Maintenance)
}

/// A statement that states nothing: no account at all, or a group with no account.
pub fn vacuous(statement: &Statement) -> Option<String> {
    if statement.accounts.is_empty() {
        return Some("the statement names no account".into());
    }
    if statement.groups.is_empty() {
        return Some("the statement names no group".into());
    }
    let used: HashSet<&str> = statement.accounts.iter().map(|a| a.group.as_str()).collect();
    statement
        .groups
        .iter()
        .find(|g| !used.contains(g.name.as_str()))
        .map(|g| format!("group {:?} has no account", g.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkmargin_circuits::statement::{Mode, StatementAccount, StatementGroup};

    fn statement(groups: &[&str], accounts: &[(&str, &str, &str)]) -> Statement {
        Statement {
            level: Level::Initial,
            threshold: "0.000000".into(),
            nonce: String::new(),
            min_ratio: None,
            min_equity: None,
            max_leverage: None,
            groups: groups.iter().map(|g| StatementGroup { name: g.to_string(), mode: Mode::Portfolio }).collect(),
            accounts: accounts
                .iter()
                .map(|(v, a, g)| StatementAccount {
                    venue: v.to_string(),
                    account: a.to_string(),
                    group: g.to_string(),
                    commitment: "00".repeat(32),
                })
                .collect(),
        }
    }

    #[test]
    fn netting_rules_name_the_group() {
        let cross = statement(&["main", "iso"], &[("deribit", "a", "main"), ("okx", "b", "main"), ("deribit", "c", "iso")]);
        assert_eq!(Netting::CrossVenue.check(&cross), Ok(()));
        let e = Netting::WithinVenue.check(&cross).unwrap_err();
        assert!(e.contains("\"main\"") && e.contains("deribit, okx"), "{e}");
        assert!(Netting::Isolated.check(&cross).unwrap_err().contains("\"main\""));
        let venue = statement(&["d", "o"], &[("deribit", "a", "d"), ("deribit", "b", "d"), ("okx", "c", "o")]);
        assert_eq!(Netting::WithinVenue.check(&venue), Ok(()));
        assert!(Netting::Isolated.check(&venue).unwrap_err().contains("\"d\""));
        let iso = statement(&["x", "y"], &[("deribit", "a", "x"), ("okx", "b", "y")]);
        assert_eq!(Netting::Isolated.check(&iso), Ok(()));
        assert_eq!(serde_json::from_str::<Netting>("\"within-venue\"").unwrap(), Netting::WithinVenue);
    }

    #[test]
    fn vacuous_statements_and_levels() {
        assert!(vacuous(&statement(&["g"], &[])).is_some());
        assert!(vacuous(&statement(&["g", "h"], &[("v", "a", "g")])).unwrap().contains("\"h\""));
        assert!(vacuous(&statement(&["g"], &[("v", "a", "g")])).is_none());
        assert!(level_satisfies(Level::Initial, Level::Maintenance, true));
        assert!(!level_satisfies(Level::Initial, Level::Maintenance, false));
        assert!(!level_satisfies(Level::Maintenance, Level::Initial, true));
    }

    #[test]
    fn expectations_json_is_strict() {
        let e = ExpectationsJson::from_json(r#"{"level": "initial", "threshold": "10", "accounts": ["a/b"]}"#)
            .unwrap()
            .into_expectations()
            .unwrap();
        assert_eq!((e.level, e.min_threshold_units, e.max_k), (Some(Level::Initial), Some(10_000_000), DEFAULT_MAX_K));
        assert!(ExpectationsJson::from_json(r#"{"levle": "initial"}"#).is_err());
        assert!(ExpectationsJson::from_json(r#"{"accounts": ["nobody"]}"#).unwrap().into_expectations().is_err());
        assert!(ExpectationsJson::from_json("").unwrap().into_expectations().is_ok());
    }
}
