//! `zkmargin serve --desk-wasm FILE` (issue 23): the module is read and checked at start;
//! an unreadable file, a file that is not WebAssembly, or a module that is not zkmargin's
//! verifier is refused with exit 2 naming the file, before the service starts.

use std::path::Path;

mod common;
use common::*;

fn serve_with(dir: &Path, wasm: &Path) -> std::process::Output {
    std::fs::write(dir.join("policy.json"), format!(r#"{{"publishers": ["{}"]}}"#, "ab".repeat(32))).unwrap();
    run(&["serve", "--listen", "127.0.0.1:0", "--db", &s(&dir.join("venue.db")), "--policy", &s(&dir.join("policy.json")),
        "--desk-wasm", &s(wasm)])
}

#[test]
fn serve_refuses_a_desk_wasm_that_is_not_the_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wasm");
    let not_wasm = example_path("market.json");
    let other = dir.path().join("other.wasm");
    // A valid module with no exports at all.
    std::fs::write(&other, b"\0asm\x01\0\0\0").unwrap();
    for (file, why) in [(&missing, "cannot read the file"), (&not_wasm, "not a WebAssembly module"), (&other, "does not export memory, alloc")] {
        let out = serve_with(dir.path(), file);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("--desk-wasm {}", file.display())), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
        assert!(out.stdout.is_empty(), "the service started: {}", String::from_utf8_lossy(&out.stdout));
    }
    assert!(!dir.path().join("venue.db").exists(), "the database was created before the check");
}
