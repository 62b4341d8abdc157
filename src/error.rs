//! Command-line errors and their exit codes (SPEC section 6).

use std::fmt;

use zkmargin_circuits::input::InputError;

/// Everything a command can fail with.
#[derive(Debug)]
pub enum CliError {
    /// Bad input: unreadable file, schema or range error (exit 2).
    Input(InputError),
    /// A bad command-line value (exit 2).
    Usage(String),
    /// The claim does not hold, or the proof is not valid for what was asked (exit 1).
    Rejected(String),
    /// An output file could not be written: a bad path or permissions (exit 2).
    Output(String),
    /// Anything else that should not happen (exit 3).
    Internal(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Rejected(_) => 1,
            CliError::Input(_) | CliError::Usage(_) | CliError::Output(_) => 2,
            CliError::Internal(_) => 3,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Input(e) => write!(f, "bad input: {e}"),
            CliError::Usage(m) => write!(f, "bad argument: {m}"),
            CliError::Rejected(m) => write!(f, "{m}"),
            CliError::Output(m) => write!(f, "output error: {m}"),
            CliError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl From<InputError> for CliError {
    fn from(e: InputError) -> Self {
        CliError::Input(e)
    }
}
