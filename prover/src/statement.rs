//! Turning a portfolio into a statement (public) and a witness (private).

use zkmargin_circuits::commitment::AccountOpening;
use zkmargin_circuits::encoding::field_to_hex;
use zkmargin_circuits::fixed::{format_units, MONEY_DECIMALS};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::shape::{Needs, Shape};
use zkmargin_circuits::statement::{covenant_text, Statement, StatementAccount, StatementGroup};
use zkmargin_circuits::witness::{Claim, MarginWitness};

use crate::engine::group_nets;
use crate::portfolio::{Account, Portfolio};

/// The opening of one account's commitment (its salt must be present).
pub fn opening(account: &Account) -> AccountOpening {
    let salt = account.salt.expect("salts are checked before commitments are made");
    let positions: Vec<(String, i128)> = account.positions.iter().map(|p| (p.instrument.clone(), p.qty)).collect();
    let collateral: Vec<(String, i128)> = account.collateral.iter().map(|c| (c.asset.clone(), c.amount)).collect();
    AccountOpening::new(&account.venue, &account.account, &salt, &positions, &collateral)
}

/// Everything the prover needs besides the market: what is stated and what opens it.
#[derive(Clone, Debug)]
pub struct ProofInputs {
    /// The public statement.
    pub statement: Statement,
    /// The private witness.
    pub witness: MarginWitness,
    /// The sizes the portfolio needs.
    pub needs: Needs,
}

/// Builds the statement and witness of the claim (level, threshold and covenants, nonce
/// hex) for a portfolio already checked against the market, with salts present.
pub fn build(market: &Market, portfolio: &Portfolio, level: Level, claim: &Claim, nonce: &str) -> ProofInputs {
    let openings: Vec<AccountOpening> = portfolio.accounts.iter().map(opening).collect();
    let covenants = &claim.covenants;
    let statement = Statement {
        level,
        threshold: format_units(claim.threshold_units, MONEY_DECIMALS),
        nonce: nonce.to_string(),
        min_ratio: covenants.min_ratio.map(covenant_text),
        min_equity: covenants.min_equity.map(covenant_text),
        max_leverage: covenants.max_leverage.map(covenant_text),
        groups: portfolio.groups.iter().map(|g| StatementGroup { name: g.name.clone(), mode: g.mode }).collect(),
        accounts: portfolio
            .accounts
            .iter()
            .zip(&openings)
            .map(|(acc, o)| StatementAccount {
                venue: acc.venue.clone(),
                account: acc.account.clone(),
                group: portfolio.groups[acc.group].name.clone(),
                commitment: field_to_hex(&o.commitment()),
            })
            .collect(),
    };
    let nets = group_nets(market, portfolio);
    let needs = Needs {
        accounts: portfolio.accounts.len(),
        positions: portfolio.accounts.iter().map(|a| a.positions.len()).max().unwrap_or(0),
        collateral: portfolio.accounts.iter().map(|a| a.collateral.len()).max().unwrap_or(0),
        groups: portfolio.groups.len(),
        nets: nets.iter().map(|n| n.len()).max().unwrap_or(0),
        scenarios: market.scenarios.len(),
    };
    let witness = MarginWitness {
        accounts: openings,
        account_group: portfolio.accounts.iter().map(|a| a.group).collect(),
        group_modes: portfolio.groups.iter().map(|g| g.mode).collect(),
    };
    ProofInputs { statement, witness, needs }
}

/// The smallest ladder shape for these inputs (k still 0).
pub fn shape_for(inputs: &ProofInputs) -> Result<Shape, String> {
    Shape::fitting(inputs.needs)
}
