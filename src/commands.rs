//! The proof commands: init, commit, prove, verify, challenge, demo.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use zkmargin_circuits::encoding::field_to_hex;
use zkmargin_circuits::fixed::{format_units, parse_units, DecimalKind, MONEY_DECIMALS};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_prover::engine::{self, format_common, Rounding};
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::prove::{self, ProveError};
use zkmargin_prover::sample::{self, Profile};
use zkmargin_prover::statement::opening;
use zkmargin_verifier::bundle::Bundle;
use zkmargin_verifier::params;
use zkmargin_verifier::progress::Progress;
use zkmargin_verifier::verify::{Expectations, Outcome, Verifier};

use crate::error::CliError;
use crate::io;
use crate::progress::Reporter;

/// Parses a `--threshold` value: a decimal ≥ 0 with at most 6 decimals.
fn threshold_units(text: &str) -> Result<i128, CliError> {
    let units = parse_units(text, DecimalKind::Money)
        .map_err(|e| CliError::Usage(format!("--threshold {text:?}: {e}")))?;
    if units < 0 {
        return Err(CliError::Usage(format!("--threshold {text:?}: must not be negative")));
    }
    Ok(units)
}

/// Normalises a `--nonce` value: hex, lowercased.
fn nonce_hex(text: &str) -> Result<String, CliError> {
    if text.is_empty() || hex::decode(text).is_err() {
        return Err(CliError::Usage(format!("--nonce {text:?}: must be a non-empty even-length hex string")));
    }
    Ok(text.to_ascii_lowercase())
}

fn random_hex32() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

pub fn init(path: &Path) -> Result<(), CliError> {
    let text = io::read_text(path)?;
    let source = path.display().to_string();
    Portfolio::from_json(&source, &text)?;
    let mut value: Value = serde_json::from_str(&text).map_err(|e| CliError::Internal(e.to_string()))?;
    let mut added = 0;
    if let Some(accounts) = value.get_mut("accounts").and_then(Value::as_array_mut) {
        for account in accounts {
            if account.get("salt").is_none_or(Value::is_null) {
                account["salt"] = json!(random_hex32());
                added += 1;
            }
        }
    }
    if added > 0 {
        let mut out = serde_json::to_string_pretty(&value).map_err(|e| CliError::Internal(e.to_string()))?;
        out.push('\n');
        io::write_atomic(path, out.as_bytes())?;
    }
    println!("{}: added {added} salt(s)", path.display());
    Ok(())
}

pub fn commit(path: &Path, as_json: bool) -> Result<(), CliError> {
    let portfolio = io::read_portfolio(path, None)?;
    portfolio.require_salts(&path.display().to_string())?;
    let rows: Vec<Value> = portfolio
        .accounts
        .iter()
        .map(|acc| json!({"venue": acc.venue, "account": acc.account, "commitment": field_to_hex(&opening(acc).commitment())}))
        .collect();
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows).map_err(|e| CliError::Internal(e.to_string()))?);
    } else {
        for row in rows {
            println!("{:<12} {:<16} {}", row["venue"].as_str().unwrap_or(""), row["account"].as_str().unwrap_or(""), row["commitment"].as_str().unwrap_or(""));
        }
    }
    Ok(())
}

fn prove_error(e: ProveError) -> CliError {
    match e {
        ProveError::ClaimDoesNotHold(f) => CliError::Rejected(format!("refusing to prove: {f}")),
        ProveError::TooLarge(m) => CliError::Usage(m),
        other => CliError::Internal(other.to_string()),
    }
}

pub fn prove(
    market: &Path,
    portfolio_path: &Path,
    level: Level,
    threshold: &str,
    nonce: Option<&str>,
    attestations: &[std::path::PathBuf],
    out: &Path,
    progress: Arc<Reporter>,
) -> Result<(), CliError> {
    let threshold = threshold_units(threshold)?;
    let nonce = nonce.map(nonce_hex).transpose()?.unwrap_or_default();
    let market = io::read_market(market)?;
    let portfolio = io::read_portfolio(portfolio_path, Some(&market))?;
    portfolio.require_salts(&portfolio_path.display().to_string())?;
    let attestations = crate::trust::read_attestations(attestations, &portfolio)?;
    let mut proven =
        prove::prove(&market, &portfolio, level, threshold, &nonce, &params::default_dir(), progress.as_ref())
            .map_err(prove_error)?;
    progress.finish();
    proven.bundle.attestations = attestations;
    io::write_atomic(out, proven.bundle.to_json().as_bytes())?;
    let s = &proven.bundle.circuit;
    println!(
        "proved: every group meets its {level} margin and the total excess is at least {} {}",
        format_units(threshold, MONEY_DECIMALS),
        market.quote
    );
    println!(
        "circuit: k={} ({} accounts x {} positions + {} collateral, {} groups x {} nets, {} scenario lanes)",
        s.k, s.accounts, s.positions, s.collateral, s.groups, s.nets, s.scenarios
    );
    println!(
        "time: params+sizing {:.2?}, keygen {:.2?}, prove {:.2?}; wrote {} ({} proof bytes)",
        proven.timings.params,
        proven.timings.keygen,
        proven.timings.prove,
        out.display(),
        proven.bundle.proof.len() / 2
    );
    Ok(())
}

/// Reads a bundle. A file that cannot be read or is not JSON is bad input (exit 2); JSON
/// that is not a well-formed bundle (a field changed to something the format does not
/// allow) is a proof that is not valid (exit 1).
fn read_bundle(path: &Path) -> Result<Bundle, CliError> {
    let text = io::read_text(path)?;
    let source = path.display().to_string();
    if let Err(e) = serde_json::from_str::<Value>(&text) {
        return Err(CliError::Input(zkmargin_circuits::input::InputError::new(&source, "", format!("not JSON: {e}"))));
    }
    Bundle::from_json(&source, &text).map_err(|e| CliError::Rejected(format!("invalid proof: not a valid proof bundle: {e}")))
}

fn check(verifier: &Verifier, market: &Market, bundle: &Bundle, expect: &Expectations) -> Result<(), CliError> {
    match verifier.verify(market, bundle, expect).map_err(|e| CliError::Internal(e.to_string()))? {
        Outcome::Valid => Ok(()),
        Outcome::Invalid(reason) => Err(CliError::Rejected(format!("invalid proof: {reason}"))),
    }
}

pub fn verify(
    market: &Path,
    proof: &Path,
    threshold: Option<&str>,
    nonce: Option<&str>,
    policy: Option<&Path>,
    market_sigs: &[std::path::PathBuf],
    progress: Arc<Reporter>,
) -> Result<(), CliError> {
    let expect = Expectations {
        min_threshold_units: threshold.map(threshold_units).transpose()?,
        nonce: nonce.map(nonce_hex).transpose()?,
    };
    let policy = policy.map(crate::trust::read_policy).transpose()?;
    let market_sigs = market_sigs
        .iter()
        .map(|p| crate::trust::read_market_sig(p).map(|s| (p.display().to_string(), s)))
        .collect::<Result<Vec<_>, _>>()?;
    let market = io::read_market(market)?;
    let bundle = read_bundle(proof)?;
    let started = Instant::now();
    let checked = check(&Verifier::new(params::default_dir()).with_progress(progress.clone()), &market, &bundle, &expect);
    progress.finish();
    checked?;
    if let Some(policy) = &policy {
        let sigs: Vec<_> = market_sigs.iter().map(|(f, s)| (f.as_str(), s)).collect();
        policy
            .check(&market, &bundle, &sigs, expect.nonce.as_deref())
            .map_err(|why| CliError::Rejected(format!("invalid under the policy: {why}")))?;
    }
    let st = &bundle.statement;
    println!("valid: the proof is for market {:?} (digest {})", market.id, bundle.market.digest);
    println!(
        "it states: every group below meets its {} margin, and the total excess is at least {} {}",
        st.level, st.threshold, market.quote
    );
    for g in &st.groups {
        let accounts: Vec<String> =
            st.accounts.iter().filter(|a| a.group == g.name).map(|a| format!("{}/{}", a.venue, a.account)).collect();
        println!("  group {} ({}): {}", g.name, g.mode, accounts.join(", "));
    }
    if !st.nonce.is_empty() {
        println!("nonce: {}", st.nonce);
    }
    if let Some(policy) = &policy {
        println!(
            "policy: market signed by {} of the trusted publishers (quorum {}); every account attested by its venue",
            policy.distinct_signers(&market_sigs.iter().map(|(_, s)| s).collect::<Vec<_>>()),
            policy.quorum()
        );
    }
    println!("verified in {:.2?}", started.elapsed());
    Ok(())
}

pub fn params(ks: &[u32], progress: &dyn Progress) -> Result<(), CliError> {
    let dir = params::default_dir();
    for &k in ks {
        if !(1..=zkmargin_circuits::shape::MAX_K).contains(&k) {
            return Err(CliError::Usage(format!("--k {k}: must be between 1 and {}", zkmargin_circuits::shape::MAX_K)));
        }
        let started = Instant::now();
        let (_, source) = params::load_or_create_with(&dir, k, progress).map_err(|e| CliError::Output(e.to_string()))?;
        let path = dir.join(params::file_name(k));
        let bytes = std::fs::read(&path).map_err(|e| CliError::Output(format!("{}: {e}", path.display())))?;
        let hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        println!("k={k:<2} {hash} {} ({source:?}, {:.2?})", path.display(), started.elapsed());
    }
    Ok(())
}

pub fn challenge() -> Result<(), CliError> {
    println!("{}", random_hex32());
    Ok(())
}

pub fn demo(progress: Arc<Reporter>) -> Result<(), CliError> {
    let seed = 42;
    println!("zkmargin demo: a small sample institution proves its collateral covers its margin.\n");
    let generated = sample::generate(Profile::Small, seed);
    let market = Market::from_json("sample market.json", &generated.market_json)?;
    let portfolio = Portfolio::from_json("sample portfolio.json", &generated.portfolio_json)?;
    portfolio.check_against("sample portfolio.json", &market)?;
    println!(
        "1. sample (small profile, seed {seed}): market {:?} with {} instruments and {} scenarios; \
         {} account(s) holding {} positions (private)",
        market.id,
        market.instruments.len(),
        market.scenarios.len(),
        portfolio.accounts.len(),
        portfolio.accounts.iter().map(|a| a.positions.len()).sum::<usize>()
    );
    let report = engine::compute(&market, &portfolio);
    let level = Level::Initial;
    let total = report.total_excess(level);
    let total_text = format_common(total, Rounding::Down);
    println!("2. exact margin (private): total {level} excess {total_text} {}", market.quote);
    // Prove the exact total excess, rounded down to 6 decimals: the strongest claim.
    let threshold = parse_units(&total_text, DecimalKind::Money).map_err(|e| CliError::Internal(e.to_string()))?.max(0);
    let started = Instant::now();
    let proven =
        prove::prove(&market, &portfolio, level, threshold, &random_hex32(), &params::default_dir(), progress.as_ref())
            .map_err(prove_error)?;
    progress.finish();
    let t = &proven.timings;
    println!(
        "3. proved \"every group meets {level} margin and total excess >= {}\" in {:.2?} \
         (params+sizing {:.2?}, keygen {:.2?}, proof {:.2?}); k={}, {} proof bytes",
        proven.bundle.statement.threshold,
        started.elapsed(),
        t.params,
        t.keygen,
        t.prove,
        proven.bundle.circuit.k,
        proven.bundle.proof.len() / 2
    );
    let verifier = Verifier::new(params::default_dir()).with_progress(progress.clone());
    let started = Instant::now();
    check(&verifier, &market, &proven.bundle, &Expectations::default())?;
    progress.finish();
    println!("4. verified against the public market in {:.2?} (includes rebuilding the verifying key)", started.elapsed());
    let started = Instant::now();
    check(&verifier, &market, &proven.bundle, &Expectations::default())?;
    println!("   verified again with the cached key in {:.2?}", started.elapsed());
    let mut forged = proven.bundle.clone();
    forged.statement.threshold = format_units(threshold + 1, MONEY_DECIMALS);
    match verifier.verify(&market, &forged, &Expectations::default()).map_err(|e| CliError::Internal(e.to_string()))? {
        Outcome::Invalid(reason) => println!("5. the same proof with the threshold raised by 0.000001 is rejected: {reason}"),
        Outcome::Valid => return Err(CliError::Internal("a forged statement verified".into())),
    }
    println!("\nThe bundle reveals the statement (level, threshold, groups, account commitments) and nothing else.");
    Ok(())
}
