//! The proof bundle (SPEC section 7): what a prover hands to a venue or lender.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkmargin_circuits::shape::Shape;
use zkmargin_circuits::statement::Statement;

/// The bundle format tag. Version 2: commitment encoding 2 (packed entries, a sponge
/// of two entries per permutation) and the circuit that proves against it.
pub const FORMAT: &str = "zkmargin-proof/3";

/// Which market snapshot a proof is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketRef {
    /// Snapshot id.
    pub id: String,
    /// Market digest (hex SHA-256, see `Market::digest`).
    pub digest: String,
}

/// A proof bundle. Holds no position, quantity, amount, salt or per-group figure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// The market the proof is about.
    pub market: MarketRef,
    /// What is proven.
    pub statement: Statement,
    /// The circuit shape, from which the verifier rebuilds the verifying key.
    pub circuit: Shape,
    /// Venue attestations of the account commitments (trust layer), if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<crate::signatures::Attestation>,
    /// The halo2 proof, hex.
    pub proof: String,
}

/// Largest string field a bundle may hold (the proof's hex included): 4 MB. Proofs are
/// tens of kilobytes; anything this large is refused before it is decoded.
pub const MAX_FIELD_BYTES: usize = 4 << 20;

/// Largest bundle accepted at all, in bytes (refused before it is parsed).
pub const MAX_BUNDLE_BYTES: usize = 16 << 20;

/// Why a text is not a bundle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not JSON at all (bad input: a command exits 2).
    #[error("{source_name}: not JSON: {message}")]
    NotJson {
        /// File or source.
        source_name: String,
        /// Parser message.
        message: String,
    },
    /// JSON, but not a bundle this verifier accepts (the proof is not valid: exit 1).
    #[error("not a valid proof bundle: {0}")]
    Invalid(String),
}

fn oversized(value: &serde_json::Value, path: &mut String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.len() > MAX_FIELD_BYTES => {
            Some(format!("field `{}` is {} bytes, over the {} MB limit", path.trim_start_matches('.'), s.len(), MAX_FIELD_BYTES >> 20))
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = oversized(v, path);
            path.truncate(len);
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let len = path.len();
            path.push('.');
            path.push_str(k);
            let found = oversized(v, path);
            path.truncate(len);
            found
        }),
        _ => None,
    }
}

impl Bundle {
    /// Parses untrusted bundle text with bounded cost: a text over
    /// [`MAX_BUNDLE_BYTES`], a string field over [`MAX_FIELD_BYTES`], an unknown or
    /// missing field, or a value of the wrong type is refused (never a panic).
    pub fn parse(source: &str, text: &str) -> Result<Bundle, BundleError> {
        if text.len() > MAX_BUNDLE_BYTES {
            return Err(BundleError::Invalid(format!("{source} is {} bytes, over the {} MB limit", text.len(), MAX_BUNDLE_BYTES >> 20)));
        }
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| BundleError::NotJson { source_name: source.to_string(), message: e.to_string() })?;
        if let Some(why) = oversized(&value, &mut String::new()) {
            return Err(BundleError::Invalid(format!("{source}: {why}")));
        }
        Bundle::from_json(source, text).map_err(|e| BundleError::Invalid(e.to_string()))
    }

    /// Parses a bundle; `source` names the file in errors.
    pub fn from_json(source: &str, text: &str) -> Result<Bundle, zkmargin_circuits::input::InputError> {
        zkmargin_circuits::input::decode_json(source, text)
    }

    /// The bundle's canonical form (SPEC section 9): what it says, whatever its JSON
    /// spelling. It is the parsed bundle itself, so every field the format has (and any it
    /// gains: a new optional statement field is carried by serde like the others) is in
    /// it as parsed, with two normalisations: the hex fields in lower case (the market
    /// digest, the nonce, the commitments, the attestations' commitments, signers and
    /// signatures, the proof) and the attestations sorted (by their canonical JSON).
    /// Whitespace, key order, hex case and attestation order then change nothing.
    pub fn canonical(&self) -> Bundle {
        let mut b = self.clone();
        let lower = |s: &mut String| s.make_ascii_lowercase();
        lower(&mut b.market.digest);
        lower(&mut b.statement.nonce);
        b.statement.accounts.iter_mut().for_each(|a| lower(&mut a.commitment));
        for a in &mut b.attestations {
            lower(&mut a.commitment);
            lower(&mut a.signer);
            lower(&mut a.signature);
        }
        lower(&mut b.proof);
        b.attestations.sort_by_cached_key(|a| serde_json::to_string(a).expect("an attestation always serializes"));
        b
    }

    /// The canonical form as compact JSON (keys in the order of the format's types).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(&self.canonical()).expect("a bundle always serializes")
    }

    /// SHA-256 of `zkmargin-bundle/1\n` and [`Bundle::canonical_json`]: one key for every
    /// spelling of one bundle (a service keys its verdicts by it).
    pub fn canonical_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"zkmargin-bundle/1\n");
        h.update(self.canonical_json().as_bytes());
        h.finalize().into()
    }

    /// The bundle as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a bundle always serializes");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A bundle as JSON (not a proof: its form is all that matters here).
    fn sample() -> Value {
        let attestation = |venue: &str, account: &str, c: &str| {
            json!({"venue": venue, "account": account, "commitment": c.repeat(32), "as_of": "2026-11-25T07:30:00Z",
                   "signer": "5a".repeat(32), "signature": "6b".repeat(64)})
        };
        json!({
            "format": FORMAT,
            "market": {"id": "m", "digest": "ab".repeat(32)},
            "statement": {"level": "initial", "threshold": "1000.000000", "nonce": "cd".repeat(32),
                "groups": [{"name": "main", "mode": "portfolio"}],
                "accounts": [{"venue": "deribit", "account": "sub-1", "group": "main", "commitment": "0e".repeat(32)},
                             {"venue": "okx", "account": "main", "group": "main", "commitment": "0f".repeat(32)}]},
            "circuit": {"k": 11, "accounts": 2, "positions": 4, "collateral": 2, "groups": 1, "nets": 4, "scenarios": 8},
            "attestations": [attestation("deribit", "sub-1", "0e"), attestation("okx", "main", "0f")],
            "proof": "0a1b2c3d"
        })
    }

    fn digest(v: &Value) -> [u8; 32] {
        Bundle::from_json("b", &v.to_string()).unwrap().canonical_digest()
    }

    /// Every leaf of a JSON value: (JSON pointer, value).
    fn leaves(v: &Value, at: String, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| leaves(x, format!("{at}/{k}"), out)),
            Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| leaves(x, format!("{at}/{i}"), out)),
            leaf => out.push((at, leaf.clone())),
        }
    }

    #[test]
    fn spelling_case_and_attestation_order_do_not_change_the_canonical_form() {
        let original = sample();
        let key = digest(&original);
        // Whitespace and key order.
        let text = serde_json::to_string_pretty(&original).unwrap();
        assert_eq!(Bundle::from_json("b", &format!(" {text}\n")).unwrap().canonical_digest(), key);
        let reordered = r#"{"proof": "0A1B2C3D", "format": "FORMAT", "circuit": {"scenarios": 8, "nets": 4, "groups": 1, "collateral": 2,
            "positions": 4, "accounts": 2, "k": 11}, "statement": STATEMENT, "market": {"digest": "DIGEST", "id": "m"},
            "attestations": ATTESTATIONS}"#;
        let mut shuffled = original["attestations"].clone();
        shuffled.as_array_mut().unwrap().reverse();
        shuffled[1]["signer"] = json!("5A".repeat(32));
        let mut statement = original["statement"].clone();
        statement["nonce"] = json!("CD".repeat(32));
        statement["accounts"][1]["commitment"] = json!("0F".repeat(32));
        let text = reordered
            .replace("FORMAT", FORMAT)
            .replace("STATEMENT", &statement.to_string())
            .replace("DIGEST", &"AB".repeat(32))
            .replace("ATTESTATIONS", &shuffled.to_string());
        let b = Bundle::from_json("b", &text).unwrap();
        assert_eq!(b.canonical_digest(), key);
        // The canonical JSON reads back as the canonical bundle: nothing is dropped.
        assert_eq!(Bundle::from_json("c", &b.canonical_json()).unwrap(), b.canonical());
    }

    #[test]
    fn every_other_change_changes_the_canonical_form() {
        let original = sample();
        let key = digest(&original);
        let mut all = Vec::new();
        leaves(&original, String::new(), &mut all);
        assert!(all.len() > 30);
        for (pointer, leaf) in all {
            let mut changed = original.clone();
            *changed.pointer_mut(&pointer).unwrap() = match leaf {
                Value::String(s) if s.chars().all(|c| c.is_ascii_hexdigit()) => json!(format!("{s}00")),
                Value::String(s) => json!(format!("{s}x")),
                Value::Number(n) => json!(n.as_u64().unwrap() + 1),
                other => panic!("unexpected leaf {other}"),
            };
            let Ok(b) = Bundle::from_json("b", &changed.to_string()) else { continue };
            assert_ne!(b.canonical_digest(), key, "changing {pointer} kept the canonical form");
        }
        // A dropped or a repeated attestation is another bundle too.
        let mut fewer = original.clone();
        fewer["attestations"].as_array_mut().unwrap().pop();
        assert_ne!(digest(&fewer), key);
        let mut more = original.clone();
        let first = more["attestations"][0].clone();
        more["attestations"].as_array_mut().unwrap().push(first);
        assert_ne!(digest(&more), key);
    }
}
