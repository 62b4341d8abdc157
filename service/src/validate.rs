//! What a client sends, checked before any of it reaches the database or a worker: ids,
//! nonces and digests have their hex form, names have the form SPEC section 4 gives
//! (1–128 bytes of UTF-8, no control character, a venue without `/`), and a statement is
//! no larger than the largest supported shape. A value that fails is answered 4xx here;
//! nothing the database could refuse (a NUL byte, an over-long key) is ever bound into a
//! query.

use zkmargin_circuits::shape::{MAX_ACCOUNTS, MAX_GROUPS};
use zkmargin_verifier::bundle::Bundle;

/// Longest name, in bytes (SPEC section 4).
pub const MAX_NAME_BYTES: usize = 128;

/// Hex characters of a verdict id (16 random bytes).
pub const VERDICT_ID_HEX: usize = 32;

/// Hex characters of a SHA-256 digest, a commitment or a public key.
const HEX32: usize = 64;

/// Why a posted value is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// A field does not have its form (400 `malformed`): the field's path and why.
    Field(String, String),
    /// The statement has more accounts or groups than the largest supported shape (422
    /// `shape_too_large`).
    TooLarge(String),
}

/// Whether `text` is exactly `len` hex characters (either case).
pub fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A name of SPEC section 4: 1–128 bytes of UTF-8 with no control character
/// (U+0000–U+001F, U+007F); a venue also has no `/`. The error says why.
pub fn name(value: &str, venue: bool) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_NAME_BYTES {
        return Err(format!("a name is 1 to {MAX_NAME_BYTES} bytes (got {})", value.len()));
    }
    if let Some(c) = value.chars().find(|c| matches!(*c, '\u{0}'..='\u{1f}' | '\u{7f}')) {
        return Err(format!("a name holds no control character (got U+{:04X})", c as u32));
    }
    if venue && value.contains('/') {
        return Err("a venue name holds no '/'".into());
    }
    Ok(())
}

fn field(path: String, why: impl Into<String>) -> Invalid {
    Invalid::Field(path, why.into())
}

fn hex_field(path: impl Into<String>, value: &str, len: usize) -> Result<(), Invalid> {
    if is_hex(value, len) {
        Ok(())
    } else {
        Err(field(path.into(), format!("expected {len} hex characters")))
    }
}

fn name_field(path: impl Into<String>, value: &str, venue: bool) -> Result<(), Invalid> {
    name(value, venue).map_err(|why| field(path.into(), why))
}

/// Checks every client-supplied string of a posted bundle that the service stores,
/// looks up or repeats in a reason: the shape of the statement first (cheapest, and a
/// refusal of its own), then the market reference, the statement's threshold, names and
/// commitments, and each attestation's names, time and hex. The nonce is checked by the
/// caller against its own form (a statement may carry any hex nonce; only one issued
/// here is accepted).
pub fn bundle(b: &Bundle) -> Result<(), Invalid> {
    let st = &b.statement;
    if st.accounts.len() > MAX_ACCOUNTS || st.groups.len() > MAX_GROUPS {
        return Err(Invalid::TooLarge(format!(
            "the statement has {} accounts and {} groups; the largest supported shape has {MAX_ACCOUNTS} accounts and {MAX_GROUPS} groups",
            st.accounts.len(),
            st.groups.len()
        )));
    }
    name_field("market.id", &b.market.id, false)?;
    hex_field("market.digest", &b.market.digest, HEX32)?;
    st.threshold_units().map_err(|why| field("statement.threshold".into(), why))?;
    if st.nonce.chars().any(char::is_control) {
        return Err(field("statement.nonce".into(), "expected hex"));
    }
    for (i, g) in st.groups.iter().enumerate() {
        name_field(format!("statement.groups[{i}].name"), &g.name, false)?;
    }
    for (i, a) in st.accounts.iter().enumerate() {
        name_field(format!("statement.accounts[{i}].venue"), &a.venue, true)?;
        name_field(format!("statement.accounts[{i}].account"), &a.account, false)?;
        name_field(format!("statement.accounts[{i}].group"), &a.group, false)?;
        hex_field(format!("statement.accounts[{i}].commitment"), &a.commitment, HEX32)?;
    }
    for (i, a) in b.attestations.iter().enumerate() {
        name_field(format!("attestations[{i}].venue"), &a.venue, true)?;
        name_field(format!("attestations[{i}].account"), &a.account, false)?;
        hex_field(format!("attestations[{i}].commitment"), &a.commitment, HEX32)?;
        hex_field(format!("attestations[{i}].signer"), &a.signer, HEX32)?;
        hex_field(format!("attestations[{i}].signature"), &a.signature, 2 * HEX32)?;
        zkmargin_circuits::time::parse_rfc3339(&a.as_of).map_err(|why| field(format!("attestations[{i}].as_of"), why))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_spec_section_4() {
        assert_eq!(name("sub-1", false), Ok(()));
        assert_eq!(name(&"é".repeat(64), false), Ok(()), "128 bytes of UTF-8");
        assert!(name(&"é".repeat(65), false).is_err());
        assert!(name("", false).is_err());
        for bad in ["a\u{0}b", "tab\there", "del\u{7f}", "nl\n"] {
            assert!(name(bad, false).is_err(), "{bad:?}");
        }
        assert_eq!(name("a/b", false), Ok(()), "an account may hold '/'");
        assert!(name("a/b", true).is_err(), "a venue may not");
        assert!(is_hex(&"aB".repeat(16), 32));
        assert!(!is_hex(&"ab".repeat(15), 32));
        assert!(!is_hex("\u{0}", 1));
    }
}
