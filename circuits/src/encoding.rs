//! How identifiers, salts and signed integers become field elements (pallas base field).
//!
//! - A string identifier `s` of kind `k` (venue, account, instrument, asset) is
//!   `SHA-256("zkmargin/" ‖ k ‖ 0x00 ‖ s)` read little-endian and truncated: venue and
//!   account names keep the first 31 bytes (a 248-bit element), instrument and asset ids
//!   the first 20 bytes (a 160-bit element, so that an id and a signed quantity pack
//!   into one field element, see [`crate::commitment`]). The value 0 is reserved for
//!   padding (it is never a real digest, except with negligible probability).
//! - A salt (32 bytes) is `SHA-256("zkmargin/salt" ‖ 0x00 ‖ salt)` read the same way.
//! - A signed integer x is x mod p (negative values are p − |x|).

use ff::{Field, PrimeField};
use pasta_curves::pallas;
use sha2::{Digest, Sha256};

/// The circuit's field: the pallas base field.
pub type Fp = pallas::Base;

/// Kinds of identifier, each hashed under its own domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// A venue name.
    Venue,
    /// An account name at a venue.
    Account,
    /// An instrument id.
    Instrument,
    /// A collateral asset id.
    Asset,
}

impl IdKind {
    /// Bytes of the SHA-256 digest the element keeps (31 for names, 20 for ids).
    pub fn kept_bytes(self) -> usize {
        match self {
            IdKind::Venue | IdKind::Account => 31,
            IdKind::Instrument | IdKind::Asset => ID_BYTES,
        }
    }

    fn domain(self) -> &'static str {
        match self {
            IdKind::Venue => "venue",
            IdKind::Account => "account",
            IdKind::Instrument => "instrument",
            IdKind::Asset => "asset",
        }
    }
}

/// Bytes kept of an instrument or asset id's digest: ids are < 2^160.
pub const ID_BYTES: usize = 20;

fn digest_to_field(parts: &[&[u8]], kept: usize) -> Fp {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    let digest: [u8; 32] = h.finalize().into();
    let mut repr = [0u8; 32];
    repr[..kept].copy_from_slice(&digest[..kept]);
    Fp::from_repr(repr).expect("at most 248 bits is canonical")
}

/// The first 31 bytes of `bytes`, little-endian, as a field element (< 2^248).
pub fn bytes248_to_field(bytes: &[u8; 32]) -> Fp {
    let mut repr = [0u8; 32];
    repr[..31].copy_from_slice(&bytes[..31]);
    Fp::from_repr(repr).expect("a 248-bit value is canonical")
}

/// Field element of an identifier of the given kind.
pub fn id_to_field(kind: IdKind, id: &str) -> Fp {
    digest_to_field(&[b"zkmargin/", kind.domain().as_bytes(), &[0], id.as_bytes()], kind.kept_bytes())
}

/// Field element of a 32-byte salt.
pub fn salt_to_field(salt: &[u8; 32]) -> Fp {
    digest_to_field(&[b"zkmargin/salt", &[0], salt], 31)
}

/// x mod p for a signed 128-bit integer.
pub fn signed_to_field(x: i128) -> Fp {
    let magnitude = Fp::from_u128(x.unsigned_abs());
    if x < 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// 2^n as a field element.
pub fn pow2(n: u32) -> Fp {
    Fp::from(2).pow_vartime([u64::from(n)])
}

/// Lowercase hex of a field element's canonical little-endian encoding.
pub fn field_to_hex(x: &Fp) -> String {
    hex::encode(x.to_repr())
}

/// Parses the hex written by [`field_to_hex`]; rejects non-canonical encodings.
pub fn field_from_hex(text: &str) -> Option<Fp> {
    let bytes: [u8; 32] = hex::decode(text).ok()?.try_into().ok()?;
    Option::from(Fp::from_repr(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_domain_separated_and_deterministic() {
        let a = id_to_field(IdKind::Instrument, "BTC-PERP");
        assert_eq!(a, id_to_field(IdKind::Instrument, "BTC-PERP"));
        assert_ne!(a, id_to_field(IdKind::Asset, "BTC-PERP"));
        assert_ne!(a, id_to_field(IdKind::Instrument, "BTC-PERP "));
        assert!(a.to_repr()[20..].iter().all(|&b| b == 0), "an instrument id fits in 160 bits");
        assert!(id_to_field(IdKind::Venue, "deribit").to_repr()[31] == 0, "a name fits in 248 bits");
    }

    #[test]
    fn signed_values_wrap_to_p_minus_magnitude() {
        assert_eq!(signed_to_field(-5) + Fp::from(5), Fp::zero());
        assert_eq!(signed_to_field(7), Fp::from(7));
    }

    #[test]
    fn hex_round_trips_and_rejects_non_canonical() {
        let x = id_to_field(IdKind::Venue, "deribit");
        assert_eq!(field_from_hex(&field_to_hex(&x)), Some(x));
        assert_eq!(field_from_hex(&"ff".repeat(32)), None);
        assert_eq!(field_from_hex("zz"), None);
    }
}
