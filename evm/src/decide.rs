//! What the registry contract would decide about a verdict and its signatures, offline
//! (`zkmargin evm check`), and the `submit` calldata for a wallet (`zkmargin evm calldata`).
//!
//! The rules are the contract's `submit`, in its order: the verdict unexpired at the given
//! time (`now ≤ validUntil`), level 0 or 1, threshold below 2^96; every signature 65 bytes,
//! s in the lower half of the order and v 27 or 28 (OpenZeppelin's ECDSA), recovering a
//! listed signer; at least the quorum of distinct listed signers (a repeated signer counts
//! once). What only the chain knows — a verdict about a newer market already stored for
//! the nonce — is not checked here.

use std::collections::BTreeSet;

use alloy_primitives::{Address, Bytes, Signature, B256, U256};
use alloy_sol_types::SolCall;

use crate::abi::submitCall;
use crate::verdict::{MarginVerdict, SignedVerdict};

/// Largest number of signers a registry lists (one bit each in a 256-bit word).
pub const MAX_SIGNERS: usize = 255;

/// The half order of secp256k1: OpenZeppelin's ECDSA refuses a larger s.
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73,
    0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// A registry's signers and quorum, as fixed at its deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerSet {
    signers: Vec<Address>,
    quorum: usize,
}

impl SignerSet {
    /// The deployment's rules: 1 to 255 distinct non-zero signers, 1 ≤ quorum ≤ signers.
    pub fn new(signers: Vec<Address>, quorum: usize) -> Result<SignerSet, String> {
        if signers.is_empty() || signers.len() > MAX_SIGNERS {
            return Err(format!("a registry lists 1 to {MAX_SIGNERS} signers (got {})", signers.len()));
        }
        if let Some(zero) = signers.iter().find(|s| s.is_zero()) {
            return Err(format!("signer {zero} is the zero address"));
        }
        let mut seen = BTreeSet::new();
        if let Some(twice) = signers.iter().find(|s| !seen.insert(**s)) {
            return Err(format!("signer {twice} is listed twice"));
        }
        if quorum == 0 || quorum > signers.len() {
            return Err(format!("the quorum must be between 1 and the {} signers (got {quorum})", signers.len()));
        }
        Ok(SignerSet { signers, quorum })
    }

    /// The quorum K.
    pub fn quorum(&self) -> usize {
        self.quorum
    }
}

/// Why the registry would refuse a submission.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `now` is past the verdict's `validUntil`.
    #[error("the verdict expired: valid until {valid_until} (Unix seconds), checked at {now}")]
    Expired {
        /// The verdict's `validUntil`.
        valid_until: u64,
        /// The time checked at.
        now: u64,
    },
    /// The level is neither 0 nor 1.
    #[error("level {0} is neither 0 (initial) nor 1 (maintenance)")]
    UnknownLevel(u8),
    /// The threshold does not fit the registry's 96 bits.
    #[error("threshold {0} is not below 2^96")]
    ThresholdTooLarge(U256),
    /// A signature's s is in the upper half of the order (malleable).
    #[error("signature {index}: s is in the upper half of the curve order (a malleable signature)")]
    HighS {
        /// Which signature (0-based, in submission order).
        index: usize,
    },
    /// A signature that recovers no address (v not 27/28, r or s out of range).
    #[error("signature {index}: recovers no signer")]
    Unrecoverable {
        /// Which signature.
        index: usize,
    },
    /// A signature recovers an address that is not listed.
    #[error("signature {index}: recovers {recovered}, which is not a listed signer{hint}")]
    Unlisted {
        /// Which signature.
        index: usize,
        /// The address it recovers.
        recovered: Address,
        /// A hint when the file names another signer (the verdict or its domain changed).
        hint: String,
    },
    /// Fewer distinct listed signers than the quorum.
    #[error("{distinct} distinct listed signer(s); the registry's quorum is {quorum}")]
    Quorum {
        /// Distinct listed signers found.
        distinct: usize,
        /// The quorum.
        quorum: usize,
    },
}

/// The registry's acceptance: which listed signers signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The distinct listed signers, in the order first seen.
    pub signers: Vec<Address>,
}

/// What the registry would decide about `verdict` with `signatures` (each with the signer
/// its file names, for messages), `digest` being the verdict's EIP-712 digest on that
/// chain and registry, at Unix time `now`.
pub fn decide(
    set: &SignerSet,
    verdict: &MarginVerdict,
    digest: &B256,
    signatures: &[([u8; 65], Option<Address>)],
    now: u64,
) -> Result<Decision, Refusal> {
    if now > verdict.validUntil {
        return Err(Refusal::Expired { valid_until: verdict.validUntil, now });
    }
    if verdict.level > 1 {
        return Err(Refusal::UnknownLevel(verdict.level));
    }
    if verdict.threshold >= U256::from(1u8) << 96 {
        return Err(Refusal::ThresholdTooLarge(verdict.threshold));
    }
    let mut signers = Vec::new();
    for (index, (bytes, claimed)) in signatures.iter().enumerate() {
        if bytes[32..64] > HALF_ORDER[..] {
            return Err(Refusal::HighS { index });
        }
        if !matches!(bytes[64], 27 | 28) {
            return Err(Refusal::Unrecoverable { index });
        }
        let recovered = Signature::from_raw_array(bytes)
            .ok()
            .and_then(|s| s.recover_address_from_prehash(digest).ok())
            .ok_or(Refusal::Unrecoverable { index })?;
        if !set.signers.contains(&recovered) {
            let hint = match claimed {
                Some(c) if *c != recovered => format!(
                    " (its file says {c}: the verdict or its domain — chain id, registry — is not what was signed)"
                ),
                _ => String::new(),
            };
            return Err(Refusal::Unlisted { index, recovered, hint });
        }
        if !signers.contains(&recovered) {
            signers.push(recovered);
        }
    }
    if signers.len() < set.quorum {
        return Err(Refusal::Quorum { distinct: signers.len(), quorum: set.quorum });
    }
    Ok(Decision { signers })
}

/// [`decide`] for verdict files that must all carry the same verdict and domain.
pub fn decide_signed(set: &SignerSet, verdicts: &[SignedVerdict], now: u64) -> Result<Decision, Refusal> {
    let Some(first) = verdicts.first() else {
        return Err(Refusal::Quorum { distinct: 0, quorum: set.quorum });
    };
    let signatures: Vec<_> = verdicts.iter().map(|v| (v.signature, Some(v.signer))).collect();
    decide(set, &first.verdict, &first.signing_hash(), &signatures, now)
}

/// Checks that every file carries the first one's verdict and domain; the error names the
/// first field that differs (the index is the file's, 0-based).
pub fn same_verdict(verdicts: &[SignedVerdict]) -> Result<(), (usize, String)> {
    let Some(first) = verdicts.first() else { return Ok(()) };
    for (i, v) in verdicts.iter().enumerate().skip(1) {
        let differs = if v.chain_id != first.chain_id {
            Some("domain.chainId")
        } else if v.registry != first.registry {
            Some("domain.verifyingContract")
        } else if v.verdict != first.verdict {
            let (a, b) = (&first.verdict, &v.verdict);
            Some(if a.nonce != b.nonce {
                "verdict.nonce"
            } else if a.marketDigest != b.marketDigest {
                "verdict.marketDigest"
            } else if a.marketAsOf != b.marketAsOf {
                "verdict.marketAsOf"
            } else if a.statementHash != b.statementHash {
                "verdict.statementHash"
            } else if a.level != b.level {
                "verdict.level"
            } else if a.threshold != b.threshold {
                "verdict.threshold"
            } else {
                "verdict.validUntil"
            })
        } else {
            None
        };
        if let Some(field) = differs {
            return Err((i, format!("{field} differs from the first verdict's: every signature must be over the same verdict and domain")));
        }
    }
    Ok(())
}

/// The calldata of `submit(verdict, signatures)` (alloy's ABI encoding) for verdict files
/// of one verdict, signatures in the files' order.
pub fn submit_calldata(verdicts: &[SignedVerdict]) -> Option<Vec<u8>> {
    let first = verdicts.first()?;
    let call = submitCall {
        verdict: first.verdict.clone(),
        signatures: verdicts.iter().map(|v| Bytes::copy_from_slice(&v.signature)).collect(),
    };
    Some(call.abi_encode())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::EvmKey;

    /// The README's verdict, valid from 1,000 to 2,000.
    fn verdict() -> MarginVerdict {
        MarginVerdict { marketAsOf: 1_000, validUntil: 2_000, ..crate::verdict::test_vector().0 }
    }

    #[test]
    fn decides_as_the_contract_does() {
        let keys: Vec<EvmKey> = (1..=4u8).map(|i| EvmKey::from_bytes(&[i; 32]).unwrap()).collect();
        let registry = Address::from([9; 20]);
        let set = SignerSet::new(keys[..3].iter().map(EvmKey::address).collect(), 2).unwrap();
        let signed: Vec<SignedVerdict> = keys.iter().map(|k| k.sign_verdict(verdict(), 1, registry)).collect();
        let pick = |which: &[usize]| which.iter().map(|&i| signed[i].clone()).collect::<Vec<_>>();
        assert_eq!(decide_signed(&set, &pick(&[0, 1]), 1_500).unwrap().signers.len(), 2);
        assert_eq!(decide_signed(&set, &pick(&[0, 1]), 2_000).map(|d| d.signers.len()), Ok(2));
        assert!(matches!(decide_signed(&set, &pick(&[0, 1]), 2_001), Err(Refusal::Expired { .. })));
        assert_eq!(decide_signed(&set, &pick(&[0]), 1_500), Err(Refusal::Quorum { distinct: 1, quorum: 2 }));
        assert_eq!(decide_signed(&set, &pick(&[0, 0]), 1_500), Err(Refusal::Quorum { distinct: 1, quorum: 2 }));
        assert!(matches!(decide_signed(&set, &pick(&[0, 3]), 1_500), Err(Refusal::Unlisted { index: 1, .. })));
        // Another chain: the signature recovers someone else, and the hint says why.
        let mut other = keys[1].sign_verdict(verdict(), 2, registry);
        other.chain_id = 1;
        let err = decide_signed(&set, &[signed[0].clone(), other], 1_500).unwrap_err();
        assert!(err.to_string().contains("chain id"), "{err}");
        // High s: the same signature with s' = n − s (and v flipped) still recovers, but is refused.
        let sig = Signature::from_raw_array(&signed[1].signature).unwrap();
        let n = U256::from_be_slice(&hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").unwrap());
        let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
        let mut flipped = signed[1].clone();
        flipped.signature = high.as_bytes();
        assert_eq!(high.recover_address_from_prehash(&signed[1].signing_hash()).unwrap(), keys[1].address());
        assert_eq!(decide_signed(&set, &[signed[0].clone(), flipped], 1_500), Err(Refusal::HighS { index: 1 }));
        let mut bad_v = signed[1].clone();
        bad_v.signature[64] = 1;
        assert_eq!(decide_signed(&set, &[signed[0].clone(), bad_v], 1_500), Err(Refusal::Unrecoverable { index: 1 }));
        let mut level = verdict();
        level.level = 2;
        let lv: Vec<_> = keys[..2].iter().map(|k| k.sign_verdict(level.clone(), 1, registry)).collect();
        assert_eq!(decide_signed(&set, &lv, 1_500), Err(Refusal::UnknownLevel(2)));
    }

    #[test]
    fn signer_sets_follow_the_constructor() {
        let a = Address::from([1; 20]);
        let b = Address::from([2; 20]);
        assert!(SignerSet::new(vec![a, b], 2).is_ok());
        assert!(SignerSet::new(vec![a, b], 3).is_err());
        assert!(SignerSet::new(vec![a, b], 0).is_err());
        assert!(SignerSet::new(vec![a, a], 1).unwrap_err().contains("twice"));
        assert!(SignerSet::new(vec![Address::ZERO], 1).unwrap_err().contains("zero"));
        assert!(SignerSet::new(vec![], 1).is_err());
    }

    #[test]
    fn verdict_files_must_agree() {
        let key = EvmKey::from_bytes(&[1; 32]).unwrap();
        let a = key.sign_verdict(verdict(), 1, Address::from([9; 20]));
        let mut b = a.clone();
        b.verdict.threshold = U256::from(6u8);
        assert_eq!(same_verdict(&[a.clone(), a.clone()]), Ok(()));
        assert_eq!(same_verdict(&[a.clone(), b]).unwrap_err().1.split(' ').next(), Some("verdict.threshold"));
        let mut c = a.clone();
        c.registry = Address::from([8; 20]);
        assert!(same_verdict(&[a, c]).unwrap_err().1.starts_with("domain.verifyingContract"));
    }
}
