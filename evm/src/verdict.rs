//! The verdict: its EIP-712 type and domain, how it is derived from a verified statement,
//! and its JSON file form (`{"domain", "verdict", "signer", "signature"}`).

use std::str::FromStr;

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{Eip712Domain, SolStruct};
use serde::{Deserialize, Serialize};
use zkmargin_circuits::input::{decode_json, InputError};
use zkmargin_circuits::market::Level;
use zkmargin_circuits::statement::Statement;

pub use crate::abi::MarginVerdict;

/// The EIP-712 domain's `name`.
pub const DOMAIN_NAME: &str = "zkmargin";
/// The EIP-712 domain's `version`: bumped when the verdict's type or meaning changes.
pub const DOMAIN_VERSION: &str = "1";
/// The verdict's EIP-712 type string (as the contract's `VERDICT_TYPEHASH` hashes it).
pub const VERDICT_TYPE: &str = "MarginVerdict(bytes32 nonce,bytes32 marketDigest,uint64 marketAsOf,bytes32 statementHash,uint8 level,uint256 threshold,uint64 validUntil)";

/// The EIP-712 domain of a registry: name "zkmargin", version "1", the chain's id and the
/// registry's address (`verifyingContract`).
pub fn domain(chain_id: u64, registry: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(DOMAIN_NAME.into()),
        Some(DOMAIN_VERSION.into()),
        Some(U256::from(chain_id)),
        Some(registry),
        None,
    )
}

/// Why a verified statement cannot become an EVM verdict.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerdictError {
    /// The statement's nonce is not exactly 32 bytes (64 hex characters).
    #[error("the statement's nonce {0:?} is not 32 bytes (64 hex characters): an EVM verdict needs a bytes32 nonce")]
    NonceLength(String),
    /// The statement's threshold is not a valid amount.
    #[error("{0}")]
    Threshold(String),
    /// The market's `as_of` cannot be a Unix time in seconds (before 1970).
    #[error("the market's as_of {0} is before 1970")]
    AsOf(i64),
    /// `as_of` + TTL overflows 64 bits.
    #[error("the market's as_of plus verdict_ttl_seconds overflows 64 bits")]
    Overflow,
}

impl MarginVerdict {
    /// The verdict for `statement`, verified against the market with `market_digest` and
    /// `market_as_of` (Unix seconds): valid until `market_as_of + ttl_seconds`, derived
    /// from the market and never from a clock, so every service of a quorum that shares
    /// the TTL signs the same struct.
    pub fn for_statement(
        statement: &Statement,
        market_digest: &[u8; 32],
        market_as_of: i64,
        ttl_seconds: u64,
    ) -> Result<MarginVerdict, VerdictError> {
        let nonce: [u8; 32] = hex::decode(&statement.nonce)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| VerdictError::NonceLength(statement.nonce.clone()))?;
        let threshold = statement.threshold_units().map_err(VerdictError::Threshold)?;
        let as_of = u64::try_from(market_as_of).map_err(|_| VerdictError::AsOf(market_as_of))?;
        Ok(MarginVerdict {
            nonce: nonce.into(),
            marketDigest: (*market_digest).into(),
            marketAsOf: as_of,
            statementHash: statement.binding_hash(market_digest).into(),
            level: level_code(statement.level),
            threshold: U256::from(threshold as u128),
            validUntil: as_of.checked_add(ttl_seconds).ok_or(VerdictError::Overflow)?,
        })
    }

    /// The EIP-712 digest signed for this verdict under `domain` (alloy's encoding).
    pub fn signing_hash(&self, domain: &Eip712Domain) -> B256 {
        self.eip712_signing_hash(domain)
    }
}

/// The README's test vector: a maintenance verdict (nonce 0x11…11, market digest
/// 0x22…22, as_of 2026-11-29T08:00:00Z, statement hash 0x33…33, threshold 10^12 units =
/// 1,000,000 of the quote currency, valid for an hour) on chain 31337 for the registry at
/// 0xe3a207e4225D459095491Ea75D30B31968dfF887 (the first contract that the tests' deployer
/// 0xdede…de creates).
pub fn test_vector() -> (MarginVerdict, u64, Address) {
    let verdict = MarginVerdict {
        nonce: B256::from([0x11; 32]),
        marketDigest: B256::from([0x22; 32]),
        marketAsOf: 1_795_939_200,
        statementHash: B256::from([0x33; 32]),
        level: 1,
        threshold: U256::from(1_000_000_000_000u64),
        validUntil: 1_795_942_800,
    };
    (verdict, 31337, Address::from(hex_literal_address()))
}

fn hex_literal_address() -> [u8; 20] {
    hex::decode("e3a207e4225d459095491ea75d30b31968dff887").expect("hex").try_into().expect("20 bytes")
}

/// A level's code in a verdict: 0 initial, 1 maintenance.
pub fn level_code(level: Level) -> u8 {
    match level {
        Level::Initial => 0,
        Level::Maintenance => 1,
    }
}

/// A verdict with its domain and one service's signature: what `GET
/// /v1/proofs/{id}/evm-verdict` answers and `zkmargin evm verdict` writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedVerdict {
    /// The chain id of the domain.
    pub chain_id: u64,
    /// The registry (`verifyingContract`) of the domain.
    pub registry: Address,
    /// The verdict.
    pub verdict: MarginVerdict,
    /// The address the signer says it is (the registry recovers it from the signature).
    pub signer: Address,
    /// The 65-byte signature r ‖ s ‖ v (v = 27 or 28).
    pub signature: [u8; 65],
}

/// The JSON of a domain, with EIP-712's field names.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainJson {
    name: String,
    version: String,
    #[serde(rename = "chainId")]
    chain_id: u64,
    #[serde(rename = "verifyingContract")]
    verifying_contract: String,
}

/// The JSON of a verdict, with the struct's field names; bytes32 and addresses as 0x-hex,
/// the threshold (uint256) as a decimal string, the other integers as JSON numbers.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VerdictJson {
    nonce: String,
    market_digest: String,
    market_as_of: u64,
    statement_hash: String,
    level: u8,
    threshold: String,
    valid_until: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedJson {
    domain: DomainJson,
    verdict: VerdictJson,
    signer: String,
    signature: String,
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Parses `0x` + exactly `N` bytes of hex.
fn fixed_hex<const N: usize>(source: &str, path: &str, text: &str) -> Result<[u8; N], InputError> {
    text.strip_prefix("0x")
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| InputError::new(source, path, format!("expected 0x and {} hex characters (got {text:?})", 2 * N)))
}

/// Parses an address: `0x` and 40 hex characters (any case).
pub fn parse_address(source: &str, path: &str, text: &str) -> Result<Address, InputError> {
    Ok(Address::from(fixed_hex::<20>(source, path, text.trim())?))
}

impl SignedVerdict {
    /// The domain this verdict was signed under.
    pub fn domain(&self) -> Eip712Domain {
        domain(self.chain_id, self.registry)
    }

    /// The EIP-712 digest the signature is over.
    pub fn signing_hash(&self) -> B256 {
        self.verdict.signing_hash(&self.domain())
    }

    /// The JSON value written to files and answered by the service.
    pub fn to_json(&self) -> serde_json::Value {
        let v = &self.verdict;
        let json = SignedJson {
            domain: DomainJson {
                name: DOMAIN_NAME.into(),
                version: DOMAIN_VERSION.into(),
                chain_id: self.chain_id,
                verifying_contract: self.registry.to_checksum(None),
            },
            verdict: VerdictJson {
                nonce: hex0x(v.nonce.as_slice()),
                market_digest: hex0x(v.marketDigest.as_slice()),
                market_as_of: v.marketAsOf,
                statement_hash: hex0x(v.statementHash.as_slice()),
                level: v.level,
                threshold: v.threshold.to_string(),
                valid_until: v.validUntil,
            },
            signer: self.signer.to_checksum(None),
            signature: hex0x(&self.signature),
        };
        serde_json::to_value(json).expect("a verdict always serializes")
    }

    /// Reads a verdict file strictly (unknown keys, a foreign domain name or version,
    /// malformed hex or numbers: an error naming `source` and the field).
    pub fn from_json(source: &str, text: &str) -> Result<SignedVerdict, InputError> {
        let json: SignedJson = decode_json(source, text)?;
        if json.domain.name != DOMAIN_NAME {
            return Err(InputError::new(source, "domain.name", format!("must be {DOMAIN_NAME:?} (got {:?})", json.domain.name)));
        }
        if json.domain.version != DOMAIN_VERSION {
            return Err(InputError::new(
                source,
                "domain.version",
                format!("this tool implements version {DOMAIN_VERSION:?} (got {:?})", json.domain.version),
            ));
        }
        let v = &json.verdict;
        let threshold = (!v.threshold.is_empty() && v.threshold.bytes().all(|b| b.is_ascii_digit()))
            .then(|| U256::from_str(&v.threshold).ok())
            .flatten()
            .ok_or_else(|| {
                InputError::new(source, "verdict.threshold", format!("expected a decimal integer below 2^256 (got {:?})", v.threshold))
            })?;
        Ok(SignedVerdict {
            chain_id: json.domain.chain_id,
            registry: parse_address(source, "domain.verifyingContract", &json.domain.verifying_contract)?,
            verdict: MarginVerdict {
                nonce: fixed_hex::<32>(source, "verdict.nonce", &v.nonce)?.into(),
                marketDigest: fixed_hex::<32>(source, "verdict.marketDigest", &v.market_digest)?.into(),
                marketAsOf: v.market_as_of,
                statementHash: fixed_hex::<32>(source, "verdict.statementHash", &v.statement_hash)?.into(),
                level: v.level,
                threshold,
                validUntil: v.valid_until,
            },
            signer: parse_address(source, "signer", &json.signer)?,
            signature: fixed_hex::<65>(source, "signature", &json.signature)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::SolStruct;

    #[test]
    fn the_type_string_is_the_documented_one() {
        assert_eq!(MarginVerdict::eip712_encode_type(), VERDICT_TYPE);
    }

    fn statement(nonce: &str) -> Statement {
        let text = format!(
            r#"{{"level": "maintenance", "threshold": "1000.5", "nonce": "{nonce}",
                "groups": [{{"name": "main", "mode": "portfolio"}}],
                "accounts": [{{"venue": "deribit", "account": "sub-1", "group": "main", "commitment": "{}"}}]}}"#,
            "ab".repeat(32)
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn a_verdict_is_derived_from_the_statement_and_the_market() {
        let s = statement(&"07".repeat(32));
        let v = MarginVerdict::for_statement(&s, &[9; 32], 1_795_939_200, 3600).unwrap();
        assert_eq!(v.nonce, B256::from([7; 32]));
        assert_eq!(v.marketDigest, B256::from([9; 32]));
        assert_eq!(v.statementHash, B256::from(s.binding_hash(&[9; 32])));
        assert_eq!((v.level, v.threshold, v.marketAsOf, v.validUntil), (1, U256::from(1_000_500_000u64), 1_795_939_200, 1_795_942_800));
        // The proof's binding is the hash's first 248 bits.
        assert_eq!(zkmargin_circuits::encoding::bytes248_to_field(&v.statementHash.0), s.binding(&[9; 32]));
        for bad in ["", "07", &"07".repeat(33), &"zz".repeat(32)] {
            assert!(matches!(MarginVerdict::for_statement(&statement(bad), &[9; 32], 0, 1), Err(VerdictError::NonceLength(_))), "{bad:?}");
        }
        assert_eq!(MarginVerdict::for_statement(&s, &[9; 32], -1, 1), Err(VerdictError::AsOf(-1)));
        assert_eq!(MarginVerdict::for_statement(&s, &[9; 32], 1, u64::MAX), Err(VerdictError::Overflow));
    }

    #[test]
    fn json_round_trips_and_is_strict() {
        let s = statement(&"07".repeat(32));
        let verdict = MarginVerdict::for_statement(&s, &[9; 32], 1_795_939_200, 3600).unwrap();
        let signed = SignedVerdict { chain_id: 31337, registry: Address::from([5; 20]), verdict, signer: Address::from([6; 20]), signature: [1; 65] };
        let text = signed.to_json().to_string();
        assert_eq!(SignedVerdict::from_json("v.json", &text).unwrap(), signed);
        let edit = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut j = signed.to_json();
            f(&mut j);
            SignedVerdict::from_json("v.json", &j.to_string()).unwrap_err().to_string()
        };
        assert!(edit(&|j| j["verdict"]["extra"] = 1.into()).contains("extra"));
        assert!(edit(&|j| j["domain"]["version"] = "2".into()).contains("domain.version"));
        assert!(edit(&|j| j["domain"]["name"] = "other".into()).contains("domain.name"));
        assert!(edit(&|j| j["verdict"]["nonce"] = "0x07".into()).contains("verdict.nonce"));
        assert!(edit(&|j| j["verdict"]["threshold"] = "-1".into()).contains("verdict.threshold"));
        assert!(edit(&|j| j["verdict"]["threshold"] = "0x10".into()).contains("verdict.threshold"));
        assert!(edit(&|j| j["signature"] = format!("0x{}", "11".repeat(64)).into()).contains("signature"));
        assert!(edit(&|j| j["signer"] = "0x1234".into()).contains("signer"));
        assert!(edit(&|j| j["verdict"]["level"] = 256.into()).contains("level"));
    }
}
