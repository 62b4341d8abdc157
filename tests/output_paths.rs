//! An output never replaces an input, however either is spelled (issue 22, item 6): the
//! commands that read and write files compare the files themselves (device and inode, or
//! the resolved path), not the spellings: `./x`, an absolute path, `..`, a symbolic link
//! either way, a hard link.

mod common;
use common::{example_path, ok, params_dir, s};

use std::path::{Path, PathBuf};
use std::process::Output;

/// Runs `zkmargin args` in `dir`.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("zkmargin").unwrap().current_dir(dir).env("ZKMARGIN_PARAMS", params_dir()).args(args).output().unwrap()
}

/// Copies `from` into `dir` as `name`.
fn copy(from: &Path, dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap();
    to
}

/// Asserts exit 2 naming both flags, and that `victim` still holds `bytes`.
fn refused(out: Output, flags: [&str; 2], victim: &Path, bytes: &[u8]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("same file") && flags.iter().all(|f| err.contains(f)), "{err}");
    assert_eq!(std::fs::read(victim).unwrap(), bytes, "the input was replaced");
}

/// Spellings of `name` in `dir` as seen from `dir` (the working directory): `./name`, the
/// absolute path, `sub/../name`, a symbolic link to it and a hard link to it.
fn spellings(dir: &Path, name: &str) -> Vec<String> {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let symlink = format!("link-to-{name}");
    let hardlink = format!("hard-{name}");
    if !dir.join(&symlink).exists() {
        std::os::unix::fs::symlink(dir.join(name), dir.join(&symlink)).unwrap();
        std::fs::hard_link(dir.join(name), dir.join(&hardlink)).unwrap();
    }
    vec![format!("./{name}"), s(&dir.join(name)), format!("sub/../{name}"), symlink, hardlink]
}

#[test]
fn market_build_never_writes_over_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let publisher = example_path("publisher");
    for name in ["instruments.json", "grid.json", "rates.json"] {
        copy(&publisher.join(name), d, name);
    }
    let build = |out: &str, rates: &str| {
        run_in(d, &[
            "market", "build", "--instruments", "instruments.json", "--grid", "grid.json", "--rates", rates, "--as-of",
            "2026-11-25T08:00:00Z", "--id", "m", "--out", out,
        ])
    };
    let rates = std::fs::read(d.join("rates.json")).unwrap();
    for out in spellings(d, "rates.json") {
        refused(build(&out, "rates.json"), ["--out", "--rates"], &d.join("rates.json"), &rates);
    }
    // The input given through a link, the output as the file itself.
    refused(build("rates.json", "link-to-rates.json"), ["--out", "--rates"], &d.join("rates.json"), &rates);
    for name in ["instruments.json", "grid.json"] {
        let bytes = std::fs::read(d.join(name)).unwrap();
        refused(build(&format!("./{name}"), "rates.json"), ["--out", "--"], &d.join(name), &bytes);
    }
    // Another file is written as before.
    ok(build("./market.json", "rates.json"));
    assert!(d.join("market.json").exists());
}

#[test]
fn prove_sign_market_and_attest_never_write_over_their_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy(&example_path("market.json"), d, "market.json");
    copy(&example_path("portfolio.json"), d, "portfolio.json");
    ok(run_in(d, &["keygen", "--out", "desk"]));
    let portfolio = std::fs::read(d.join("portfolio.json")).unwrap();
    let prove = |out: &str| {
        run_in(d, &[
            "prove", "--market", "market.json", "--portfolio", "portfolio.json", "--level", "initial", "--threshold", "0", "--out", out,
        ])
    };
    for out in spellings(d, "portfolio.json") {
        refused(prove(&out), ["--out", "--portfolio"], &d.join("portfolio.json"), &portfolio);
    }
    let market = std::fs::read(d.join("market.json")).unwrap();
    refused(prove("sub/../market.json"), ["--out", "--market"], &d.join("market.json"), &market);

    let key = std::fs::read(d.join("desk.key")).unwrap();
    for out in spellings(d, "desk.key") {
        let signed = run_in(d, &["sign-market", "--key", "desk.key", "--market", "market.json", "--out", &out]);
        refused(signed, ["--out", "--key"], &d.join("desk.key"), &key);
    }
    let signed = run_in(d, &["sign-market", "--key", "desk.key", "--market", "market.json", "--out", "./market.json"]);
    refused(signed, ["--out", "--market"], &d.join("market.json"), &market);
    let attest = |out: &str| {
        run_in(d, &[
            "attest", "--key", "desk.key", "--venue", "deribit", "--account", "sub-1", "--commitment", &"ab".repeat(32), "--as-of",
            "2026-11-25T07:30:00Z", "--out", out,
        ])
    };
    refused(attest("link-to-desk.key"), ["--out", "--key"], &d.join("desk.key"), &key);
    ok(attest("./sub-1.att"));
}

#[test]
fn serve_never_opens_its_policy_or_token_as_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("policy.json"), r#"{"publishers": []}"#).unwrap();
    std::fs::write(d.join("desk.token"), "secret\n").unwrap();
    let policy = std::fs::read(d.join("policy.json")).unwrap();
    for db in spellings(d, "policy.json") {
        let out = run_in(d, &["serve", "--listen", "127.0.0.1:0", "--db", &db, "--policy", "policy.json"]);
        refused(out, ["--db", "--policy"], &d.join("policy.json"), &policy);
    }
    let out = run_in(d, &["serve", "--listen", "127.0.0.1:0", "--db", "./desk.token", "--policy", "policy.json", "--token-file", "desk.token"]);
    refused(out, ["--db", "--token-file"], &d.join("desk.token"), b"secret\n");
}
