//! The modules of the circuit and verifier crates form layers: each may use only the
//! modules below it, so no two depend on each other (issue 22, item 11: the witness plan
//! took `HASH_LANES` from the circuit, which builds on the plan; the verifier's `bundle`
//! and `trust` used each other).

use std::path::Path;

/// The circuit crate's modules, lowest first (`chips` stands for every file under
/// `src/chips/`). The chips are one layer: they lay out the plan's values, so the plan
/// knows nothing of them.
const CIRCUITS: &[&str] = &[
    "fixed", "input", "encoding", "time", "commitment", "market", "shape", "statement", "tables", "sponges", "witness",
    "chips", "circuit",
];

/// The verifier crate's modules, lowest first.
const VERIFIER: &[&str] = &["progress", "params", "expect", "signatures", "bundle", "verify", "trust", "api", "wasm"];

/// The `crate::` modules a source text's code names (not its comments' links).
fn used(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .flat_map(|line| {
            line.match_indices("crate::")
                .map(|(at, _)| line[at + "crate::".len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
                .collect::<Vec<String>>()
        })
        .collect()
}

/// Asserts that `crate_dir/src` has exactly the modules of `layers` (besides `lib.rs`) and
/// that each uses only modules listed before it.
fn check_layers(crate_dir: &str, layers: &[&str]) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_dir).join("src");
    let mut files: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_str().unwrap().to_string())
        .filter(|name| name != "lib")
        .collect();
    files.sort();
    let mut listed: Vec<String> = layers.iter().map(|m| m.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every module of {crate_dir}/src/ has its place in its layers");
    for (level, module) in layers.iter().enumerate() {
        let path = src.join(module);
        let texts: Vec<String> = if path.is_dir() {
            std::fs::read_dir(&path).unwrap().map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap()).collect()
        } else {
            vec![std::fs::read_to_string(src.join(format!("{module}.rs"))).unwrap()]
        };
        for name in texts.iter().flat_map(|t| used(t)) {
            let Some(used_level) = layers.iter().position(|m| *m == name) else { continue };
            assert!(
                used_level < level || name == *module,
                "{crate_dir}: {module} uses crate::{name}, which is not below it (layers, lowest first: {layers:?})"
            );
        }
    }
}

#[test]
fn each_circuit_module_uses_only_the_modules_below_it() {
    check_layers("circuits", CIRCUITS);
}

#[test]
fn each_verifier_module_uses_only_the_modules_below_it() {
    check_layers("verifier", VERIFIER);
}
