//! The private portfolio (SPEC section 4): groups, accounts, positions, collateral.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use zkmargin_circuits::fixed::DecimalKind;
use zkmargin_circuits::input::{decimal, decode_json, non_empty, version, InputError};
use zkmargin_circuits::market::Market;
pub use zkmargin_circuits::statement::Mode;

/// A margin pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Unique name.
    pub name: String,
    /// Margin mode.
    pub mode: Mode,
}

/// A position: signed quantity in units of 1e-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// Instrument id in the market.
    pub instrument: String,
    /// Signed quantity, 8-decimal units.
    pub qty: i128,
}

/// A collateral balance: signed amount in units of 1e-8 (negative = debt).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collateral {
    /// Asset id in the market.
    pub asset: String,
    /// Signed amount, 8-decimal units.
    pub amount: i128,
}

/// One account on one venue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Venue name (`deribit`).
    pub venue: String,
    /// Account name at the venue.
    pub account: String,
    /// Index into [`Portfolio::groups`].
    pub group: usize,
    /// 32-byte salt hiding the account's commitment, when present.
    pub salt: Option<[u8; 32]>,
    /// Positions, in file order.
    pub positions: Vec<Position>,
    /// Collateral balances, in file order.
    pub collateral: Vec<Collateral>,
}

/// A validated portfolio.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Portfolio {
    /// Owner label.
    pub owner: String,
    /// Margin groups.
    pub groups: Vec<Group>,
    /// Accounts.
    pub accounts: Vec<Account>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPosition {
    instrument: String,
    qty: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollateral {
    asset: String,
    amount: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    venue: String,
    account: String,
    group: String,
    #[serde(default)]
    salt: Option<String>,
    positions: Vec<RawPosition>,
    collateral: Vec<RawCollateral>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPortfolio {
    version: u32,
    owner: String,
    groups: Vec<Group>,
    accounts: Vec<RawAccount>,
}

/// Parses one account's list of (id, quantity) entries found at `path`, whose fields
/// are named `fields` (id, quantity): ids non-empty and not repeated, quantities exact.
fn entries<'a>(
    source: &str,
    path: &str,
    fields: (&str, &str),
    items: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<(String, i128)>, InputError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, (id, qty)) in items.enumerate() {
        let id_path = format!("{path}[{i}].{}", fields.0);
        non_empty(source, &id_path, id)?;
        if !seen.insert(id) {
            return Err(InputError::new(source, id_path, format!("{} {id:?} listed twice in this account", fields.0)));
        }
        let units = decimal(source, &format!("{path}[{i}].{}", fields.1), qty, DecimalKind::Quantity)?;
        out.push((id.to_string(), units));
    }
    Ok(out)
}

/// Parses a 64-hex-character salt.
pub fn parse_salt(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text).map_err(|_| "salt must be 64 hex characters".to_string())?;
    bytes.try_into().map_err(|_| "salt must be 64 hex characters (32 bytes)".to_string())
}

impl Portfolio {
    /// Parses and validates a portfolio on its own (no market needed).
    pub fn from_json(source: &str, text: &str) -> Result<Portfolio, InputError> {
        let raw: RawPortfolio = decode_json(source, text)?;
        version(source, raw.version, 1)?;
        let mut group_index = HashMap::new();
        for (g, group) in raw.groups.iter().enumerate() {
            let path = format!("groups[{g}].name");
            non_empty(source, &path, &group.name)?;
            if group_index.insert(group.name.clone(), g).is_some() {
                return Err(InputError::new(source, path, format!("duplicate group {:?}", group.name)));
            }
        }
        if raw.accounts.is_empty() {
            return Err(InputError::new(source, "accounts", "at least one account is required"));
        }
        let mut seen_accounts = HashSet::new();
        let mut seen_salts = HashMap::new();
        let mut accounts = Vec::with_capacity(raw.accounts.len());
        for (a, acc) in raw.accounts.iter().enumerate() {
            let at = |field: &str| format!("accounts[{a}].{field}");
            non_empty(source, &at("venue"), &acc.venue)?;
            non_empty(source, &at("account"), &acc.account)?;
            if !seen_accounts.insert((acc.venue.clone(), acc.account.clone())) {
                return Err(InputError::new(
                    source,
                    at("account"),
                    format!("duplicate account {:?} on venue {:?}", acc.account, acc.venue),
                ));
            }
            let group = *group_index.get(&acc.group).ok_or_else(|| {
                InputError::new(source, at("group"), format!("names no declared group (got {:?})", acc.group))
            })?;
            let salt = match &acc.salt {
                None => None,
                Some(text) => {
                    let salt = parse_salt(text)
                        .map_err(|m| InputError::new(source, at("salt"), format!("{m} (got {text:?})")))?;
                    if let Some(first) = seen_salts.insert(salt, a) {
                        return Err(InputError::new(
                            source,
                            at("salt"),
                            format!("salt {text:?} is already the salt of accounts[{first}] (never reuse a salt)"),
                        ));
                    }
                    Some(salt)
                }
            };
            let positions = entries(
                source,
                &at("positions"),
                ("instrument", "qty"),
                acc.positions.iter().map(|p| (p.instrument.as_str(), p.qty.as_str())),
            )?
            .into_iter()
            .map(|(instrument, qty)| Position { instrument, qty })
            .collect();
            let collateral = entries(
                source,
                &at("collateral"),
                ("asset", "amount"),
                acc.collateral.iter().map(|c| (c.asset.as_str(), c.amount.as_str())),
            )?
            .into_iter()
            .map(|(asset, amount)| Collateral { asset, amount })
            .collect();
            accounts.push(Account {
                venue: acc.venue.clone(),
                account: acc.account.clone(),
                group,
                salt,
                positions,
                collateral,
            });
        }
        for (g, group) in raw.groups.iter().enumerate() {
            if !accounts.iter().any(|acc| acc.group == g) {
                return Err(InputError::new(
                    source,
                    format!("groups[{g}]"),
                    format!("group {:?} has no account", group.name),
                ));
            }
        }
        Ok(Portfolio { owner: raw.owner, groups: raw.groups, accounts })
    }

    /// Checks that every instrument and asset the portfolio names is in `market`.
    pub fn check_against(&self, source: &str, market: &Market) -> Result<(), InputError> {
        let instruments: HashSet<&str> = market.instruments.iter().map(|i| i.id.as_str()).collect();
        let assets: HashSet<&str> = market.assets.iter().map(|a| a.id.as_str()).collect();
        for (a, acc) in self.accounts.iter().enumerate() {
            for (p, pos) in acc.positions.iter().enumerate() {
                if !instruments.contains(pos.instrument.as_str()) {
                    return Err(InputError::new(
                        source,
                        format!("accounts[{a}].positions[{p}].instrument"),
                        format!("unknown instrument {:?} (not in market {:?})", pos.instrument, market.id),
                    ));
                }
            }
            for (c, col) in acc.collateral.iter().enumerate() {
                if !assets.contains(col.asset.as_str()) {
                    return Err(InputError::new(
                        source,
                        format!("accounts[{a}].collateral[{c}].asset"),
                        format!("unknown asset {:?} (not in market {:?})", col.asset, market.id),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Requires every account to carry a salt (needed for commitments and proofs).
    pub fn require_salts(&self, source: &str) -> Result<(), InputError> {
        for (a, acc) in self.accounts.iter().enumerate() {
            if acc.salt.is_none() {
                return Err(InputError::new(
                    source,
                    format!("accounts[{a}].salt"),
                    "missing: commitments need a salt per account (run `zkmargin init --portfolio FILE` to add them)",
                ));
            }
        }
        Ok(())
    }
}
