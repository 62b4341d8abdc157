//! The verifier's modules form layers: each may use only the modules below it, so no two
//! modules depend on each other (issue 22, item 11: `bundle` and `trust` did).

use std::path::Path;

/// The modules, lowest first.
const LAYERS: &[&str] = &["progress", "params", "expect", "signatures", "bundle", "verify", "trust", "api", "wasm"];

#[test]
fn each_module_uses_only_the_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_str().unwrap().to_string())
        .filter(|name| name != "lib")
        .collect();
    files.sort();
    let mut listed: Vec<String> = LAYERS.iter().map(|m| m.to_string()).collect();
    listed.sort();
    assert_eq!(files, listed, "every module of src/ has its place in LAYERS");
    for (level, module) in LAYERS.iter().enumerate() {
        let text = std::fs::read_to_string(src.join(format!("{module}.rs"))).unwrap();
        for (at, _) in text.match_indices("crate::") {
            let used: String = text[at + "crate::".len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let Some(used_level) = LAYERS.iter().position(|m| *m == used) else { continue };
            assert!(
                used_level < level,
                "{module} uses crate::{used}, which is not below it (layers, lowest first: {LAYERS:?})"
            );
        }
    }
}
