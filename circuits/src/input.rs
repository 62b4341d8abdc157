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

/// Decodes `text` as `T`, reporting the JSON path of any structural error (found by a
/// second, path-tracking pass, so that good input decodes at full speed).
pub fn decode_json<T: DeserializeOwned>(source: &str, text: &str) -> Result<T, InputError> {
    if let Ok(value) = T::deserialize(&mut serde_json::Deserializer::from_str(text)) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." || path == "?" { String::new() } else { path };
        let message = err.into_inner().to_string();
        // serde names a missing field in its message; make it part of the path.
        let path = match message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            Some(field) if path.is_empty() => field.to_string(),
            Some(field) => format!("{path}.{field}"),
            None => path,
        };
        InputError::new(source, path, message)
    })
}

/// Parses a decimal string at `path` in `source`.
pub fn decimal(source: &str, path: &str, text: &str, kind: DecimalKind) -> Result<i128, InputError> {
    parse_field(path, text, kind).map_err(|e| InputError::from_field(source, e))
}

/// Rejects an empty identifier at `path`.
pub fn non_empty(source: &str, path: &str, value: &str) -> Result<(), InputError> {
    if value.trim().is_empty() {
        return Err(InputError::new(source, path, "must not be empty"));
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
