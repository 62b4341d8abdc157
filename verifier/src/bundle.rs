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
    pub attestations: Vec<crate::trust::Attestation>,
    /// The halo2 proof, hex.
    pub proof: String,
}

impl Bundle {
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
