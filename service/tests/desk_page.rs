//! The credit desk's page as the service serves it (issue 23): `/desk` redirected to
//! `/desk/`, the embedded files with their content types and a strict Content-Security-
//! Policy, nothing referenced from elsewhere, the verifier module only when one was
//! given, and the IPA parameters for the in-browser verifier (pinned k up to `max_k`).
//! The page itself in a browser: `service/tests/desk/desk.mjs` (`.ci/desk.sh`).

use std::time::Duration;

use sha2::{Digest, Sha256};
use zkmargin_service::http::desk::{check_wasm, CONTENT_SECURITY_POLICY, WASM_EXPORTS};
use zkmargin_service::Config;

mod common;
use common::*;

struct Fetched {
    status: u16,
    header: std::collections::HashMap<String, String>,
    body: Vec<u8>,
}

/// GET `path` without following redirects.
fn fetch(base: &str, path: &str) -> Fetched {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    let mut response = agent.get(format!("{base}{path}")).call().unwrap();
    let header = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap();
    Fetched { status: response.status().as_u16(), header, body }
}

/// A module that declares `names` as exports (functions 0..; no code): what
/// [`check_wasm`] reads.
fn module(names: &[&str]) -> Vec<u8> {
    let mut section = vec![names.len() as u8];
    for (i, name) in names.iter().enumerate() {
        section.push(name.len() as u8);
        section.extend_from_slice(name.as_bytes());
        section.extend_from_slice(&[0, i as u8]);
    }
    let mut m = b"\0asm\x01\0\0\0".to_vec();
    m.extend_from_slice(&[0x01, 0x00]); // an empty type section before it
    m.push(7);
    m.push(section.len() as u8);
    m.extend(section);
    m
}

#[test]
fn only_a_module_with_the_verifiers_exports_is_taken() {
    assert_eq!(check_wasm(&module(&WASM_EXPORTS)), Ok(()));
    let e = check_wasm(&module(&["memory", "alloc", "verify"])).unwrap_err();
    assert!(e.contains("dealloc, add_params, result_ptr, result_len"), "{e}");
    assert!(check_wasm(b"{\"market\": 1}").unwrap_err().contains("not a WebAssembly module"));
    assert!(check_wasm(b"\0asm\x02\0\0\0").unwrap_err().contains("version"));
    let mut cut = module(&WASM_EXPORTS);
    cut.truncate(cut.len() - 3);
    assert!(check_wasm(&cut).unwrap_err().contains("past the end"));
}

fn start(db: &str, max_k: Option<u32>, wasm: Option<Vec<u8>>) -> Server {
    let mut policy = policy();
    policy.max_k = max_k;
    Server::start_config(Config { desk_wasm: wasm, ..config(db, policy, 1, 1) })
}

#[test]
fn the_desk_page_and_its_files_are_served_from_the_binary_under_a_strict_policy() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desk.db").display().to_string();
    let server = start(&db, None, None);
    let base = &server.base;

    let redirect = fetch(base, "/desk");
    assert_eq!(redirect.status, 308);
    assert_eq!(redirect.header["location"], "/desk/");

    let files = [
        ("/desk/", "text/html; charset=utf-8"),
        ("/desk/index.html", "text/html; charset=utf-8"),
        ("/desk/desk.css", "text/css; charset=utf-8"),
        ("/desk/desk.js", "text/javascript; charset=utf-8"),
        ("/desk/worker.js", "text/javascript; charset=utf-8"),
        ("/desk/calls.mjs", "text/javascript; charset=utf-8"),
        ("/desk/icon.svg", "image/svg+xml"),
        ("/desk/config.json", "application/json"),
    ];
    for (path, content_type) in files {
        let f = fetch(base, path);
        assert_eq!(f.status, 200, "{path}");
        assert_eq!(f.header["content-type"], content_type, "{path}");
        assert_eq!(f.header["content-security-policy"], CONTENT_SECURITY_POLICY, "{path}");
        assert_eq!(f.header["x-content-type-options"], "nosniff", "{path}");
        // Nothing is fetched from elsewhere: no absolute URL in any file of the page.
        // (An SVG's namespace is a name, not a fetch.)
        let text = String::from_utf8(f.body).unwrap().replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
        for outside in ["http://", "https://", "src=\"//", "href=\"//", "url(//", "@import"] {
            assert!(!text.contains(outside), "{path} refers to {outside}");
        }
    }
    for directive in ["default-src 'self'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(CONTENT_SECURITY_POLICY.contains(directive), "{directive}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    let page = String::from_utf8(fetch(base, "/desk/").body).unwrap();
    assert!(page.contains(r#"<label for="token">Desk token</label>"#), "{page}");
    assert!(page.contains(r#"id="token" name="token" type="password""#));
    assert!(page.contains(r#"role="alert""#) && page.contains(r#"aria-live="polite""#));
    assert!(!page.contains("<script>") && !page.contains("style=\""), "inline script or style");

    // Without --desk-wasm: in-browser verification is off, and said to be.
    assert_eq!(String::from_utf8(fetch(base, "/desk/config.json").body).unwrap(), r#"{"wasm":false,"max_k":16}"#);
    let missing = fetch(base, "/desk/verifier.wasm");
    assert_eq!(missing.status, 404);
    assert!(String::from_utf8_lossy(&missing.body).contains("--desk-wasm"));
    assert_eq!(fetch(base, "/desk/nothing.js").status, 404);
    assert_eq!(fetch(base, "/desk/..%2Fsrc%2Flib.rs").status, 404);
    server.stop();

    // With a module: served as application/wasm, byte for byte.
    let module = module(&WASM_EXPORTS);
    let server = start(&db, Some(14), Some(module.clone()));
    assert_eq!(String::from_utf8(fetch(&server.base, "/desk/config.json").body).unwrap(), r#"{"wasm":true,"max_k":14}"#);
    let served = fetch(&server.base, "/desk/verifier.wasm");
    assert_eq!(served.status, 200);
    assert_eq!(served.header["content-type"], "application/wasm");
    assert_eq!(served.body, module);
    server.stop();
}

#[test]
fn the_in_browser_verifier_gets_pinned_parameters_up_to_max_k() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("params.db").display().to_string();
    let server = start(&db, Some(14), None);
    let base = &server.base;
    for _ in 0..2 {
        // Generated in the service's cache the first time (as `verify` does), then kept.
        let f = fetch(base, "/desk/params/10");
        assert_eq!(f.status, 200);
        assert_eq!(f.header["content-type"], "application/octet-stream");
        assert!(f.header["cache-control"].contains("immutable"));
        let pin = zkmargin_verifier::params::PINNED.iter().find(|(k, _)| *k == 10).unwrap().1;
        assert_eq!(hex::encode(Sha256::digest(&f.body)), pin);
    }
    // Above the policy's max_k, unpinned, or not a number: none.
    for path in ["/desk/params/15", "/desk/params/3", "/desk/params/ten", "/desk/params/-1"] {
        let f = fetch(base, path);
        assert_eq!(f.status, 404, "{path}");
        assert!(String::from_utf8_lossy(&f.body).contains("max_k = 14"), "{path}");
    }
    server.stop();
}
