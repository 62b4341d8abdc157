//! The proof bundle (SPEC section 7): what a prover hands to a venue or lender.

use serde::{Deserialize, Serialize};
use zkmargin_circuits::shape::Shape;
use zkmargin_circuits::statement::Statement;

/// The bundle format tag. Version 2: commitment encoding 2 (packed entries, a sponge
/// of two entries per permutation) and the circuit that proves against it.
pub const FORMAT: &str = "zkmargin-proof/2";

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

    /// The bundle as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a bundle always serializes");
        text.push('\n');
        text
    }
}
