//! Helpers shared by the end-to-end tests of the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A file of the repository's `examples/` (the contract's example market, portfolio and
/// expected report).
pub fn example_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(file)
}

/// One parameter cache for every test of the run (generated once per k).
pub fn params_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("params")
}
