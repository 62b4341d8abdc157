//! `zkmargin evm ...`: verdicts for an EVM chain (issue 21). `verdict` fetches a service's
//! signed verdict, `calldata` prints the registry's `submit` calldata for a wallet, `check`
//! decides offline what the registry would. Exit codes: 0 done / accepted, 1 refused,
//! 2 bad input, 3 the service cannot be reached.

use std::path::{Path, PathBuf};

use zkmargin_circuits::input::InputError;
use zkmargin_evm::decide::{decide_signed, same_verdict, submit_calldata, SignerSet};
use zkmargin_evm::verdict::parse_address;
use zkmargin_evm::SignedVerdict;

use crate::error::CliError;
use crate::io;

fn read_verdict(path: &Path) -> Result<SignedVerdict, CliError> {
    Ok(SignedVerdict::from_json(&path.display().to_string(), &io::read_text(path)?)?)
}

/// Reads verdict files that must all carry one verdict and domain (exit 2 otherwise).
fn read_verdicts(paths: &[PathBuf]) -> Result<Vec<SignedVerdict>, CliError> {
    if paths.is_empty() {
        return Err(CliError::Usage("give at least one --verdict".into()));
    }
    let verdicts = paths.iter().map(|p| read_verdict(p)).collect::<Result<Vec<_>, _>>()?;
    same_verdict(&verdicts).map_err(|(i, message)| {
        let field = message.split(' ').next().unwrap_or("").to_string();
        CliError::Input(InputError::new(&paths[i].display().to_string(), field, format!("{message} ({})", paths[0].display())))
    })?;
    Ok(verdicts)
}

/// `evm verdict`: GET /v1/proofs/{id}/evm-verdict and write it to `out`.
pub fn fetch(server: &str, proof_id: &str, out: &Path) -> Result<(), CliError> {
    if proof_id.is_empty() || !proof_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(CliError::Usage(format!("--proof-id {proof_id:?}: expected the id `submit` printed")));
    }
    let (status, value) = crate::client::get(server, &format!("/v1/proofs/{proof_id}/evm-verdict"))?;
    if status != 200 {
        return Err(crate::client::refused(status, &value));
    }
    let text = value.to_string();
    let signed = SignedVerdict::from_json("the service's answer", &text).map_err(|e| CliError::Internal(e.to_string()))?;
    // The service's own claim, checked before anything is written.
    let recovered = zkmargin_evm::alloy_primitives::Signature::from_raw_array(&signed.signature)
        .ok()
        .and_then(|s| s.recover_address_from_prehash(&signed.signing_hash()).ok());
    if recovered != Some(signed.signer) {
        return Err(CliError::Rejected(format!("the service's signature does not recover its stated signer {}", signed.signer)));
    }
    let mut pretty = serde_json::to_string_pretty(&signed.to_json()).map_err(|e| CliError::Internal(e.to_string()))?;
    pretty.push('\n');
    io::write_atomic(out, pretty.as_bytes())?;
    outln!(
        "wrote {}: verdict for nonce {} signed by {} (registry {} on chain {}, valid until {})",
        out.display(),
        signed.verdict.nonce,
        signed.signer,
        signed.registry,
        signed.chain_id,
        signed.verdict.validUntil
    );
    Ok(())
}

/// `evm calldata`: the hex calldata of `submit(verdict, signatures)`.
pub fn calldata(paths: &[PathBuf]) -> Result<(), CliError> {
    let verdicts = read_verdicts(paths)?;
    let data = submit_calldata(&verdicts).ok_or_else(|| CliError::Usage("give at least one --verdict".into()))?;
    outln!("0x{}", hex::encode(data));
    eprintln!("send to the registry {} on chain {}", verdicts[0].registry, verdicts[0].chain_id);
    Ok(())
}

/// Options of `evm check`.
pub struct CheckArgs<'a> {
    pub verdicts: &'a [PathBuf],
    pub signers: &'a str,
    pub quorum: usize,
    pub at: Option<&'a str>,
    pub chain_id: Option<u64>,
    pub registry: Option<&'a str>,
}

/// `evm check`: what the registry would decide about these signatures, offline.
pub fn check(args: &CheckArgs) -> Result<(), CliError> {
    let verdicts = read_verdicts(args.verdicts)?;
    let signers = args
        .signers
        .split(',')
        .enumerate()
        .map(|(i, s)| parse_address("--signers", &format!("[{i}]"), s))
        .collect::<Result<Vec<_>, _>>()?;
    let set = SignerSet::new(signers, args.quorum).map_err(|m| CliError::Usage(format!("--signers/--quorum: {m}")))?;
    let now = match args.at {
        Some(at) => {
            let t = zkmargin_circuits::time::parse_rfc3339(at).map_err(|e| CliError::Usage(format!("--at {at:?}: {e}")))?;
            u64::try_from(t).map_err(|_| CliError::Usage(format!("--at {at:?}: before 1970")))?
        }
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
    };
    let first = &verdicts[0];
    // The registry the caller means: a verdict for another chain or registry would recover
    // other addresses there.
    if let Some(chain_id) = args.chain_id.filter(|&c| c != first.chain_id) {
        return Err(CliError::Rejected(format!("refused: the verdicts are signed for chain {}, not {chain_id}", first.chain_id)));
    }
    if let Some(registry) = args.registry {
        let registry = parse_address("--registry", "", registry)?;
        if registry != first.registry {
            return Err(CliError::Rejected(format!("refused: the verdicts are signed for registry {}, not {registry}", first.registry)));
        }
    }
    match decide_signed(&set, &verdicts, now) {
        Ok(decision) => {
            let who: Vec<String> = decision.signers.iter().map(|a| a.to_string()).collect();
            outln!(
                "accepted: {} distinct listed signer(s) of quorum {} ({}); registry {} on chain {}; valid until {}",
                decision.signers.len(),
                set.quorum(),
                who.join(", "),
                first.registry,
                first.chain_id,
                first.verdict.validUntil
            );
            Ok(())
        }
        Err(refusal) => {
            let file = match &refusal {
                zkmargin_evm::Refusal::HighS { index }
                | zkmargin_evm::Refusal::Unrecoverable { index }
                | zkmargin_evm::Refusal::Unlisted { index, .. } => format!("{}: ", args.verdicts[*index].display()),
                _ => String::new(),
            };
            Err(CliError::Rejected(format!("refused: {file}{refusal}")))
        }
    }
}
