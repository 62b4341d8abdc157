//! Errors for rejected input, and strict JSON decoding that names where the fault is.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::fixed::{parse_field, DecimalKind, FieldError};

/// A rejected input: which source (file), which field (JSON path), what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// The file or source name the value came from.
    pub source: String,
    /// JSON path of the field at fault (`accounts[1].positions[0].qty`), or empty.
    pub path: String,
    /// What is wrong, including the offending value where there is one.
    pub message: String,
}

impl InputError {
    /// An error about the field at `path` in `source`.
    pub fn new(source: &str, path: impl Into<String>, message: impl Into<String>) -> Self {
        InputError { source: source.to_string(), path: path.into(), message: message.into() }
    }

    /// Wraps a decimal [`FieldError`] found in `source`.
    pub fn from_field(source: &str, err: FieldError) -> Self {
        InputError::new(source, err.path.clone(), format!("{} (got {:?})", err.reason, err.value))
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(f, "{}: field `{}`: {}", self.source, self.path, self.message)
        }
    }
}

impl std::error::Error for InputError {}

/// Decodes `text` as `T` strictly ([`zkmargin_json::decode`]: a struct only from a JSON
/// object, nothing after the value), naming `source` and the JSON path of any fault.
pub fn decode_json<T: DeserializeOwned>(source: &str, text: &str) -> Result<T, InputError> {
    zkmargin_json::decode(text).map_err(|e| InputError::new(source, e.path, e.message))
}

/// Parses a decimal string at `path` in `source`.
pub fn decimal(source: &str, path: &str, text: &str, kind: DecimalKind) -> Result<i128, InputError> {
    parse_field(path, text, kind).map_err(|e| InputError::from_field(source, e))
}

/// Rejects an empty identifier at `path`.
pub fn non_empty(source: &str, path: &str, value: &str) -> Result<(), InputError> {
    if value.trim().is_empty() {
        return Err(InputError::new(source, path, format!("must not be empty or blank (got {value:?})")));
    }
    Ok(())
}

/// Longest name, in bytes (SPEC section 4).
pub const MAX_NAME_BYTES: usize = 128;

/// Checks a name at `path` (SPEC section 4: owner, group, venue, account, instrument,
/// asset and class names): 1–128 bytes of UTF-8, not blank, no control characters
/// (U+0000–U+001F, U+007F).
pub fn name(source: &str, path: &str, value: &str) -> Result<(), InputError> {
    non_empty(source, path, value)?;
    if value.len() > MAX_NAME_BYTES {
        return Err(InputError::new(
            source,
            path,
            format!("is {} bytes long; a name has at most {MAX_NAME_BYTES} (got {value:?})", value.len()),
        ));
    }
    if value.chars().any(|c| c.is_ascii_control()) {
        return Err(InputError::new(source, path, format!("must not hold control characters (got {value:?})")));
    }
    Ok(())
}

/// Checks a `version` field.
pub fn version(source: &str, found: u32, expected: u32) -> Result<(), InputError> {
    if found != expected {
        return Err(InputError::new(
            source,
            "version",
            format!("unsupported version {found}; this tool reads version {expected}"),
        ));
    }
    Ok(())
}
