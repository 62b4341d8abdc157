//! The proof commands: init, commit, prove, verify, challenge, demo.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};
use zkmargin_circuits::encoding::field_to_hex;
use zkmargin_circuits::fixed::{format_units, parse_units, DecimalKind, MONEY_DECIMALS};
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::statement::{covenants_in_words, parse_max_leverage, parse_min_equity, parse_min_ratio, Covenants};
use zkmargin_circuits::witness::Claim;
use zkmargin_prover::engine::{self, format_common, Rounding};
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::prove::{self, ProveError};
use zkmargin_prover::sample::{self, Profile};
use zkmargin_prover::statement::opening;
use std::path::PathBuf;

use zkmargin_verifier::api::Verdict;
use zkmargin_verifier::bundle::{Bundle, BundleError};
use zkmargin_verifier::expect::{parse_account, Netting};
use zkmargin_verifier::params;
use zkmargin_verifier::progress::Progress;
use zkmargin_verifier::trust::MarketSignature;
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
    outln!("{}: added {added} salt(s)", path.display());
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
        outln!("{}", serde_json::to_string_pretty(&rows).map_err(|e| CliError::Internal(e.to_string()))?);
    } else {
        for row in rows {
            outln!("{:<12} {:<16} {}", row["venue"].as_str().unwrap_or(""), row["account"].as_str().unwrap_or(""), row["commitment"].as_str().unwrap_or(""));
        }
    }
    Ok(())
}

fn prove_error(e: ProveError) -> CliError {
    match e {
        ProveError::ClaimDoesNotHold(f) => CliError::Rejected(format!("refusing to prove: {f}")),
        ProveError::TooLarge(m) | ProveError::InvalidClaim(m) => CliError::Usage(m),
        other => CliError::Internal(other.to_string()),
    }
}

/// The arguments of `prove`.
pub struct ProveArgs<'a> {
    pub market: &'a Path,
    pub portfolio: &'a Path,
    pub level: Level,
    pub threshold: &'a str,
    pub nonce: Option<&'a str>,
    pub attestations: &'a [PathBuf],
    pub covenants: Covenants,
    pub out: &'a Path,
    pub progress: Arc<Reporter>,
}

/// Covenants given on the command line (`--min-ratio`, `--min-equity`, `--max-leverage`),
/// each checked as SPEC section 10 says (exit 2 naming the option).
pub fn covenants(min_ratio: Option<&str>, min_equity: Option<&str>, max_leverage: Option<&str>) -> Result<Covenants, CliError> {
    let option = |name: &'static str| move |e: String| CliError::Usage(format!("--{name}: {e}"));
    Ok(Covenants {
        min_ratio: min_ratio.map(parse_min_ratio).transpose().map_err(option("min-ratio"))?,
        min_equity: min_equity.map(parse_min_equity).transpose().map_err(option("min-equity"))?,
        max_leverage: max_leverage.map(parse_max_leverage).transpose().map_err(option("max-leverage"))?,
    })
}

pub fn prove(args: ProveArgs<'_>) -> Result<(), CliError> {
    let ProveArgs { market, portfolio: portfolio_path, level, threshold, nonce, attestations, covenants, out, progress } = args;
    let mut inputs = vec![("--market", market), ("--portfolio", portfolio_path)];
    inputs.extend(attestations.iter().map(|a| ("--attestation", a.as_path())));
    io::refuse_overwrite(("--out", out), &inputs)?;
    let threshold = threshold_units(threshold)?;
    let nonce = nonce.map(nonce_hex).transpose()?.unwrap_or_default();
    let market = io::read_market(market)?;
    let portfolio = io::read_portfolio(portfolio_path, Some(&market))?;
    portfolio.require_salts(&portfolio_path.display().to_string())?;
    let attestations = crate::trust::read_attestations(attestations, &portfolio)?;
    let mut proven =
        prove::prove(&market, &portfolio, level, &Claim { threshold_units: threshold, covenants }, &nonce, &params::default_dir(), progress.as_ref())
            .map_err(prove_error)?;
    progress.finish();
    proven.bundle.attestations = attestations;
    io::write_atomic(out, proven.bundle.to_json().as_bytes())?;
    let s = &proven.bundle.circuit;
    outln!(
        "proved: every group meets its {level} margin and the total excess is at least {} {}",
        format_units(threshold, MONEY_DECIMALS),
        market.quote
    );
    if let Some(covenants) = proven.bundle.statement.covenants_in_words(&market.quote) {
        outln!("covenants: {covenants}");
    }
    outln!(
        "circuit: k={} ({} accounts x {} positions + {} collateral, {} groups x {} nets, {} scenario lanes)",
        s.k, s.accounts, s.positions, s.collateral, s.groups, s.nets, s.scenarios
    );
    outln!(
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
/// allow, an oversized field) is a proof that is not valid (exit 1): `Ok(Err(reason))`.
fn read_bundle(path: &Path) -> Result<Result<Bundle, String>, CliError> {
    let text = io::read_text(path)?;
    let source = path.display().to_string();
    match Bundle::parse(&source, &text) {
        Ok(bundle) => Ok(Ok(bundle)),
        Err(BundleError::NotJson { message, .. }) => {
            Err(CliError::Input(zkmargin_circuits::input::InputError::new(&source, "", format!("not JSON: {message}"))))
        }
        Err(BundleError::Invalid(why)) => Ok(Err(format!("not a valid proof bundle: {why}"))),
    }
}

fn check(verifier: &Verifier, market: &Market, bundle: &Bundle, expect: &Expectations) -> Result<(), CliError> {
    match verifier.verify(market, bundle, expect).map_err(|e| CliError::Internal(e.to_string()))? {
        Outcome::Valid => Ok(()),
        Outcome::Invalid(reason) => Err(CliError::Rejected(format!("invalid proof: {reason}"))),
    }
}

/// The arguments of `verify`.
pub struct VerifyArgs<'a> {
    pub markets: &'a [PathBuf],
    pub proofs: &'a [PathBuf],
    pub json: bool,
    pub level: Option<Level>,
    pub level_at_least: Option<Option<Level>>,
    pub accounts: &'a [String],
    pub threshold: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub covenants: Covenants,
    pub max_k: u32,
    pub policy: Option<&'a Path>,
    pub market_sigs: &'a [PathBuf],
    pub at: Option<&'a str>,
    pub progress: Arc<Reporter>,
}

/// The verifier's clock for a policy's market age: `--at`, else now (Unix seconds).
fn verification_time(at: Option<&str>) -> Result<i64, CliError> {
    match at {
        Some(text) => zkmargin_circuits::time::parse_rfc3339(text).map_err(|e| CliError::Usage(format!("--at {text:?}: {e}"))),
        None => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| CliError::Internal(format!("the system clock is before 1970: {e}")))?
            .as_secs() as i64),
    }
}

fn verify_expectations(a: &VerifyArgs, netting: Netting) -> Result<Expectations, CliError> {
    let (level, level_at_least) = match (a.level, a.level_at_least) {
        (level, None) => (level, false),
        (Some(level), Some(None)) => (Some(level), true),
        (None, Some(Some(level))) => (Some(level), true),
        (Some(l), Some(Some(m))) if l == m => (Some(l), true),
        (None, Some(None)) => return Err(CliError::Usage("--level-at-least without a level needs --level".into())),
        (Some(_), Some(Some(_))) => return Err(CliError::Usage("--level and --level-at-least name different levels".into())),
    };
    if !(1..=zkmargin_circuits::shape::MAX_K).contains(&a.max_k) {
        return Err(CliError::Usage(format!("--max-k {}: must be between 1 and {}", a.max_k, zkmargin_circuits::shape::MAX_K)));
    }
    Ok(Expectations {
        min_threshold_units: a.threshold.map(threshold_units).transpose()?,
        nonce: a.nonce.map(nonce_hex).transpose()?,
        level,
        level_at_least,
        accounts: a
            .accounts
            .iter()
            .map(|t| parse_account(t).map_err(|e| CliError::Usage(format!("--account: {e}"))))
            .collect::<Result<_, _>>()?,
        netting,
        max_k: a.max_k,
        covenants: a.covenants,
    })
}

/// One line naming the file and its verdict.
fn verdict_line(file: &str, verdict: &Verdict, quote: Option<&str>, policy: Option<&str>) -> String {
    if !verdict.valid {
        return format!("{file}: invalid: {}", verdict.reason.as_deref().unwrap_or("unknown"));
    }
    let groups: Vec<String> = verdict
        .groups
        .iter()
        .map(|g| {
            let accounts: Vec<String> = verdict
                .accounts
                .iter()
                .filter(|a| a.group == g.name)
                .map(|a| format!("{}/{}", a.venue, a.account))
                .collect();
            format!("{} ({}): {}", g.name, g.mode, accounts.join(", "))
        })
        .collect();
    let mut line = format!(
        "{file}: valid: market {:?}: every group meets its {} margin and the total excess is at least {} {}; groups: {}",
        verdict.market.as_deref().unwrap_or(""),
        verdict.level.map_or("?", |l| l.as_str()),
        verdict.threshold.as_deref().unwrap_or("?"),
        quote.unwrap_or(""),
        groups.join("; ")
    );
    let covenants = covenants_in_words(
        verdict.min_ratio.as_deref(),
        verdict.min_equity.as_deref(),
        verdict.max_leverage.as_deref(),
        quote.unwrap_or(""),
    );
    if let Some(covenants) = covenants {
        line.push_str(&format!("; covenants: {covenants}"));
    }
    if let Some(nonce) = verdict.nonce.as_deref().filter(|n| !n.is_empty()) {
        line.push_str(&format!("; nonce {nonce}"));
    }
    if let Some(note) = policy {
        line.push_str("; ");
        line.push_str(note);
    }
    line
}

/// The market signatures that concern a bundle on the market with digest `digest`:
/// with several markets in one call, a signature over another of the given markets is
/// that market's, not a wrong signature of this one (a signature over none of them stays,
/// and the policy names it).
fn signatures_for<'s>(sigs: &[(&'s str, &'s MarketSignature)], digest: &str, given: &[String]) -> Vec<(&'s str, &'s MarketSignature)> {
    // Hex case does not change what a signature signs (the digest's bytes).
    let over = |sig: &MarketSignature, d: &str| sig.digest.eq_ignore_ascii_case(d);
    sigs.iter().copied().filter(|(_, sig)| over(sig, digest) || !given.iter().any(|g| over(sig, g))).collect()
}

/// `--market-sig` without `--policy`: there is no list of trusted publishers to check the
/// signer against, but a signature given must still verify, over one of the given markets
/// (else every bundle is invalid, naming the file): a lender who passes one must not be
/// told nothing.
fn check_signatures_without_policy(sigs: &[(&str, &MarketSignature)], digests: &[String]) -> Result<(), String> {
    for (file, sig) in sigs {
        if !digests.iter().any(|d| sig.digest.eq_ignore_ascii_case(d)) {
            return Err(format!("market signature {file}: signs market digest {}, which is not a given market's", sig.digest));
        }
        sig.check().map_err(|e| format!("market signature {file}: {e}"))?;
    }
    Ok(())
}

pub fn verify(a: &VerifyArgs) -> Result<(), CliError> {
    let policy = a.policy.map(crate::trust::read_policy).transpose()?;
    let expect = verify_expectations(a, policy.as_ref().map(|p| p.netting).unwrap_or_default())?;
    let now = verification_time(a.at)?;
    let market_sigs = a
        .market_sigs
        .iter()
        .map(|p| crate::trust::read_market_sig(p).map(|s| (p.display().to_string(), s)))
        .collect::<Result<Vec<_>, _>>()?;
    let sigs: Vec<_> = market_sigs.iter().map(|(f, s)| (f.as_str(), s)).collect();
    let policy_note = policy.as_ref().map(|policy| {
        format!(
            "policy: market signed by {} of the trusted publishers (quorum {}), every account attested by its venue",
            policy.distinct_signers(&market_sigs.iter().map(|(_, s)| s).collect::<Vec<_>>()),
            policy.quorum()
        )
    });
    let verifier = Verifier::new(params::default_dir()).with_progress(a.progress.clone());
    // The bundles name their k: cached parameters are read while the markets parse and
    // hash (an unreadable market is still reported before an unreadable bundle).
    let bundles: Vec<_> = a.proofs.iter().map(|p| read_bundle(p)).collect();
    let sizes: std::collections::BTreeSet<u32> = bundles
        .iter()
        .filter_map(|b| b.as_ref().ok()?.as_ref().ok())
        .map(|b| b.circuit.k)
        .filter(|&k| k <= expect.max_k)
        .collect();
    let (markets, raw) = std::thread::scope(|s| {
        s.spawn(|| sizes.iter().for_each(|&k| verifier.preload(k)));
        let markets = a.markets.iter().map(|p| io::read_market(p)).collect::<Result<Vec<Market>, _>>()?;
        let raw: Vec<[u8; 32]> = markets.iter().map(Market::digest).collect();
        Ok::<_, CliError>((markets, raw))
    })?;
    let read: Vec<Result<Bundle, String>> = bundles.into_iter().collect::<Result<_, _>>()?;
    let good: Vec<Bundle> = read.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
    let digests: Vec<String> = raw.iter().map(hex::encode).collect();
    // Without a policy a bad market signature makes every bundle's verdict invalid (one
    // verdict line per bundle still).
    let signature_fault = if policy.is_none() { check_signatures_without_policy(&sigs, &digests).err() } else { None };
    let outcomes = verifier.verify_many_digested(&markets, &raw, &good, &expect);
    a.progress.finish();
    let mut outcomes = outcomes.map_err(|e| CliError::Internal(e.to_string()))?.into_iter();
    let mut invalid = Vec::new();
    for (path, read) in a.proofs.iter().zip(&read) {
        let file = path.display().to_string();
        let (verdict, quote) = match read {
            Err(why) => (Verdict::invalid(None, why.clone()), None),
            Ok(bundle) => {
                let market = digests.iter().position(|d| *d == bundle.market.digest).map(|m| &markets[m]);
                let mut verdict = Verdict::new(Some(bundle), &outcomes.next().expect("one outcome per bundle"));
                if let (true, Some(why)) = (verdict.valid, &signature_fault) {
                    verdict = Verdict::invalid(Some(bundle), why.clone());
                }
                if let (true, Some(policy), Some(market)) = (verdict.valid, &policy, market) {
                    let sigs = signatures_for(&sigs, &bundle.market.digest, &digests);
                    if let Err(why) = policy.check(market, bundle, &sigs, expect.nonce.as_deref(), now) {
                        verdict = Verdict::invalid(Some(bundle), format!("invalid under the policy: {why}"));
                    }
                }
                (verdict, market.map(|m| m.quote.as_str()))
            }
        };
        if a.json {
            outln!("{}", verdict.to_json(&file));
        } else {
            outln!("{}", verdict_line(&file, &verdict, quote, policy_note.as_deref()));
        }
        if !verdict.valid {
            invalid.push(format!("{file}: {}", verdict.reason.unwrap_or_default()));
        }
    }
    match invalid.len() {
        0 => Ok(()),
        1 if a.proofs.len() == 1 => Err(CliError::Rejected(format!("invalid proof: {}", invalid[0]))),
        n => {
            for line in &invalid {
                eprintln!("zkmargin: invalid proof: {line}");
            }
            Err(CliError::Rejected(format!("{n} of {} bundles are not valid", a.proofs.len())))
        }
    }
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
        let how = match source {
            params::Source::Cached => "cached, checked against its pinned hash".to_string(),
            params::Source::Generated => "generated".to_string(),
            params::Source::Replaced(why) => format!("regenerated: {why}"),
        };
        outln!("k={k:<2} {hash} {} ({how}, {:.2?})", path.display(), started.elapsed());
    }
    Ok(())
}

pub fn challenge() -> Result<(), CliError> {
    outln!("{}", random_hex32());
    Ok(())
}

pub fn demo(progress: Arc<Reporter>) -> Result<(), CliError> {
    let seed = 42;
    outln!("zkmargin demo: a small sample institution proves its collateral covers its margin.\n");
    let generated = sample::generate(Profile::Small, seed);
    let market = Market::from_json("sample market.json", &generated.market_json)?;
    let portfolio = Portfolio::from_json("sample portfolio.json", &generated.portfolio_json)?;
    portfolio.check_against("sample portfolio.json", &market)?;
    outln!(
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
    outln!("2. exact margin (private): total {level} excess {total_text} {}", market.quote);
    // Prove the exact total excess, rounded down to 6 decimals: the strongest claim.
    let threshold = parse_units(&total_text, DecimalKind::Money).map_err(|e| CliError::Internal(e.to_string()))?.max(0);
    let started = Instant::now();
    let proven =
        prove::prove(&market, &portfolio, level, &Claim { threshold_units: threshold, ..Claim::default() }, &random_hex32(), &params::default_dir(), progress.as_ref())
            .map_err(prove_error)?;
    progress.finish();
    let t = &proven.timings;
    outln!(
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
    outln!("4. verified against the public market in {:.2?} (includes rebuilding the verifying key)", started.elapsed());
    let started = Instant::now();
    check(&verifier, &market, &proven.bundle, &Expectations::default())?;
    outln!("   verified again with the cached key in {:.2?}", started.elapsed());
    let mut forged = proven.bundle.clone();
    forged.statement.threshold = format_units(threshold + 1, MONEY_DECIMALS);
    match verifier.verify(&market, &forged, &Expectations::default()).map_err(|e| CliError::Internal(e.to_string()))? {
        Outcome::Invalid(reason) => outln!("5. the same proof with the threshold raised by 0.000001 is rejected: {reason}"),
        Outcome::Valid => return Err(CliError::Internal("a forged statement verified".into())),
    }
    outln!("\nThe bundle reveals the statement (level, threshold, groups, account commitments) and nothing else.");
    Ok(())
}
