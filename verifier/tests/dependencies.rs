//! The verifier stays light: no CLI, async runtime, network or database crate may appear
//! in its normal dependency tree (`cargo tree -p zkmargin-verifier -e normal`), natively
//! or for WebAssembly.

use std::path::Path;
use std::process::Command;

/// Crates (or name prefixes, ending in `*`) the verifier must never pull in.
const FORBIDDEN: &[&str] = &[
    "clap*", "structopt", "argh", "gumdrop", "tokio*", "async-*", "futures*", "smol", "mio", "hyper*", "reqwest",
    "ureq", "http", "h2", "axum*", "warp", "actix*", "tower*", "surf", "isahc", "curl*", "tungstenite",
    "native-tls", "openssl*", "rustls*", "rusqlite", "libsqlite3-sys", "sqlx*", "postgres*", "tokio-postgres",
    "diesel*", "sled", "redis", "mongodb",
];

fn forbidden(name: &str) -> bool {
    FORBIDDEN.iter().any(|f| match f.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *f,
    })
}

fn tree(extra: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["tree", "-p", "zkmargin-verifier", "-e", "normal", "--prefix", "none", "--format", "{p}"])
        .args(extra)
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

#[test]
fn the_verifier_pulls_in_no_cli_async_network_or_database_crate() {
    for extra in [&[][..], &["--target", "wasm32-unknown-unknown", "--no-default-features"][..]] {
        let names = tree(extra);
        assert!(names.iter().any(|n| n == "halo2_proofs"), "unexpected cargo tree output: {names:?}");
        let bad: Vec<&String> = names.iter().filter(|n| forbidden(n)).collect();
        assert!(bad.is_empty(), "the verifier's dependency tree ({extra:?}) holds {bad:?}");
    }
    // The check itself catches what it is meant to.
    assert!(forbidden("clap") && forbidden("tokio-util") && forbidden("rusqlite") && !forbidden("halo2_proofs"));
}
