//! The trust-layer commands (SPEC section 8): keygen, sign-market, attest, and reading
//! attestations, market signatures and policies.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use zkmargin_circuits::encoding::field_to_hex;
use zkmargin_circuits::input::{decode_json, InputError};
use zkmargin_prover::portfolio::Portfolio;
use zkmargin_prover::statement::opening;
use zkmargin_verifier::trust::{key_pair, signing_key, Attestation, MarketSignature, Policy};

use crate::error::CliError;
use crate::io;

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, CliError> {
    let text = io::read_text(path)?;
    Ok(decode_json(&path.display().to_string(), &text)?)
}

fn bad(path: &Path, field: &str, message: impl Into<String>) -> CliError {
    CliError::Input(InputError::new(&path.display().to_string(), field, message))
}

fn read_key(path: &Path) -> Result<ed25519_dalek::SigningKey, CliError> {
    // A public key is 64 hex characters too: its name, or the public key `keygen` wrote
    // beside the secret one, tells them apart.
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("pub")) {
        return Err(bad(path, "", "this is a public key (NAME.pub): sign with the secret key NAME.key that `keygen` wrote beside it"));
    }
    let key = signing_key(&io::read_text(path)?).map_err(|m| bad(path, "", m))?;
    let beside = path.with_extension("pub");
    if let Ok(text) = std::fs::read_to_string(&beside) {
        let public = hex::encode(key.verifying_key().to_bytes());
        if !text.trim().eq_ignore_ascii_case(&public) {
            return Err(bad(
                path,
                "",
                format!("is not the secret key of {} beside it (is it a public key?)", beside.display()),
            ));
        }
    }
    Ok(key)
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| CliError::Internal(e.to_string()))?;
    text.push('\n');
    io::write_atomic(path, text.as_bytes())
}

/// The signature scheme of a key pair written by `keygen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scheme {
    /// Ed25519: markets and attestations (NAME.key and NAME.pub are 64 hex characters).
    Ed25519,
    /// secp256k1: EVM verdicts (NAME.key is 0x + 64 hex characters, NAME.pub the address).
    Secp256k1,
}

pub fn keygen(out: &Path, scheme: Scheme) -> Result<(), CliError> {
    let (secret, public) = match scheme {
        Scheme::Ed25519 => key_pair(rand::random()),
        Scheme::Secp256k1 => {
            let key = zkmargin_evm::EvmKey::generate(rand::random);
            (key.to_hex(), key.address().to_checksum(None))
        }
    };
    let with = |ext: &str| PathBuf::from(format!("{}.{ext}", out.display()));
    // A secret key is never overwritten: whatever it signed would lose its key.
    for path in [with("key"), with("pub")] {
        // An unknown answer (no permission to look) refuses too.
        if path.try_exists().unwrap_or(true) {
            return Err(CliError::Usage(format!(
                "{} already exists: keygen never overwrites a key (choose another --out, or move the old pair away)",
                path.display()
            )));
        }
    }
    io::write_secret(&with("key"), format!("{secret}\n").as_bytes())?;
    io::write_atomic(&with("pub"), format!("{public}\n").as_bytes())?;
    outln!("wrote {} (secret, mode 0600) and {}", with("key").display(), with("pub").display());
    match scheme {
        Scheme::Ed25519 => outln!("public key: {public}"),
        Scheme::Secp256k1 => outln!("EVM address: {public}"),
    }
    Ok(())
}

/// Reads a secp256k1 key written by `keygen --scheme secp256k1` (a `.pub` file, or a key
/// that does not match the address beside it, is refused as for Ed25519 keys).
pub fn read_evm_key(path: &Path) -> Result<zkmargin_evm::EvmKey, CliError> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("pub")) {
        return Err(bad(path, "", "this is an address (NAME.pub): give the secret key NAME.key that `keygen --scheme secp256k1` wrote beside it"));
    }
    let key = zkmargin_evm::EvmKey::parse(&io::read_text(path)?).map_err(|m| bad(path, "", m))?;
    let beside = path.with_extension("pub");
    if let Ok(text) = std::fs::read_to_string(&beside) {
        if !text.trim().eq_ignore_ascii_case(&key.address().to_checksum(None)) {
            return Err(bad(path, "", format!("is not the secret key of the address in {} beside it", beside.display())));
        }
    }
    Ok(key)
}

pub fn sign_market(key: &Path, market: &Path, out: &Path) -> Result<(), CliError> {
    io::refuse_overwrite(("--out", out), &[("--key", key), ("--market", market)])?;
    let key = read_key(key)?;
    let market = io::read_market(market)?;
    let signature = MarketSignature::sign(&key, &market);
    write_json(out, &signature)?;
    outln!("signed market {:?} (digest {}) as {}", market.id, signature.digest, signature.signer);
    Ok(())
}

pub fn attest(key: &Path, venue: &str, account: &str, commitment: &str, as_of: &str, out: &Path) -> Result<(), CliError> {
    io::refuse_overwrite(("--out", out), &[("--key", key)])?;
    let key = read_key(key)?;
    let attestation = Attestation::sign(&key, venue, account, commitment, as_of).map_err(CliError::Usage)?;
    write_json(out, &attestation)?;
    outln!("attested {venue}/{account} commitment {} as of {as_of}", attestation.commitment);
    Ok(())
}

/// Reads attestation files for `prove`: each must be well formed, correctly signed and
/// about an account of the portfolio with its exact commitment.
pub fn read_attestations(paths: &[PathBuf], portfolio: &Portfolio) -> Result<Vec<Attestation>, CliError> {
    paths
        .iter()
        .map(|path| {
            let attestation: Attestation = read_json(path)?;
            attestation.check().map_err(|m| bad(path, "signature", m))?;
            let account = portfolio
                .accounts
                .iter()
                .find(|a| a.venue == attestation.venue && a.account == attestation.account)
                .ok_or_else(|| {
                    bad(path, "account", format!("{}/{} is not an account of the portfolio", attestation.venue, attestation.account))
                })?;
            let commitment = field_to_hex(&opening(account).commitment());
            if !attestation.commitment.eq_ignore_ascii_case(&commitment) {
                return Err(bad(
                    path,
                    "commitment",
                    format!("attests {}, but the account's commitment is {commitment}", attestation.commitment),
                ));
            }
            Ok(attestation)
        })
        .collect()
}

pub fn read_policy(path: &Path) -> Result<Policy, CliError> {
    let policy: Policy = read_json(path)?;
    policy.validate().map_err(|(field, message)| bad(path, &field, message))?;
    Ok(policy)
}

pub fn read_market_sig(path: &Path) -> Result<MarketSignature, CliError> {
    read_json(path)
}
