//! Stages of long work (parameters, keys, witness, proof), reported as they start.
//!
//! The libraries only announce stages; what is shown (a spinner, plain lines, nothing)
//! is the caller's choice.

/// Receives the stages of long work as they start.
pub trait Progress: Send + Sync {
    /// A stage begins (the previous one, if any, has ended).
    fn stage(&self, what: &str);
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _what: &str) {}
}
