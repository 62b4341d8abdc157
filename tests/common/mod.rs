//! Helpers shared by the end-to-end tests of the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// A file of the repository's `examples/` (the contract's example market, portfolio and
/// expected report).
pub fn example_path(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(file)
}

/// One parameter cache for every test of the run (generated once per k).
pub fn params_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("params")
}

/// Runs `zkmargin args` with the parameter cache `params`.
pub fn run_with(params: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("zkmargin").unwrap().env("ZKMARGIN_PARAMS", params).args(args).output().unwrap()
}

/// Runs `zkmargin args` with the run's parameter cache.
pub fn run(args: &[&str]) -> Output {
    run_with(&params_dir(), args)
}

/// `out`, which must be a success (its stdout and stderr are shown otherwise).
pub fn ok(out: Output) -> Output {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// A path as a command-line argument.
/// A finished command's exit code.
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

/// Its standard output, as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Its standard error, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Starts `zkmargin serve ARGS` (the run's parameter cache, stderr inherited) and waits
/// for its first line: the child and the base URL it listens on.
pub fn spawn_serve(args: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zkmargin"))
        .env("ZKMARGIN_PARAMS", params_dir())
        .arg("serve")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}")).to_string();
    (child, base)
}

/// A JSON file's value.
pub fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}
