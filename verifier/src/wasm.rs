//! The WebAssembly interface (wasm32-unknown-unknown, no imports, no bindgen): plain
//! exports over the module's linear memory, driven by `verifier/js/verify.mjs`.
//!
//! | export | what it does |
//! |---|---|
//! | `alloc(len) -> ptr`, `dealloc(ptr, len)` | buffers the host writes inputs into |
//! | `add_params(ptr, len) -> k` | parameter file bytes (checked against the pinned hash); -1 if refused |
//! | `verify(market, market_len, bundle, bundle_len, expect, expect_len) -> rc` | 1 valid, 0 invalid, 2 bad input (market or expectations) |
//! | `result_ptr()`, `result_len()` | the last result as JSON: the [`Verdict`] object, or `{"error"}` |
//!
//! One verifier lives for the module's lifetime, so parameters and verifying keys are
//! reused across calls. Parameters not supplied are generated in memory for k ≤
//! [`GENERATE_UP_TO`] (deterministic; the host should pass the cached file instead, it
//! is much faster).
#![allow(unsafe_code)]

use std::cell::RefCell;

use serde_json::json;

use crate::api::{load_market, verify_texts};
use crate::expect::ExpectationsJson;
use crate::verify::Verifier;

/// Largest k whose parameters the module generates itself when the host supplies none.
pub const GENERATE_UP_TO: u32 = 12;

thread_local! {
    static VERIFIER: Verifier = Verifier::in_memory(GENERATE_UP_TO);
    static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Verifying needs no randomness: the getrandom custom backend reports "unsupported".
#[no_mangle]
unsafe extern "Rust" fn __getrandom_v03_custom(_dest: *mut u8, _len: usize) -> Result<(), getrandom::Error> {
    Err(getrandom::Error::UNSUPPORTED)
}

/// Allocates `len` bytes for the host to write into.
#[no_mangle]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut buf = Vec::<u8>::with_capacity(len.max(1));
    let ptr = buf.as_mut_ptr();
    std::mem::forget(buf);
    ptr
}

/// Frees a buffer from [`alloc`].
///
/// # Safety
/// `ptr` and `len` must come from one call of [`alloc`], freed once.
#[no_mangle]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    drop(Vec::from_raw_parts(ptr, 0, len.max(1)));
}

unsafe fn text<'a>(ptr: *const u8, len: usize) -> Result<&'a str, String> {
    if len == 0 {
        return Ok("");
    }
    std::str::from_utf8(std::slice::from_raw_parts(ptr, len)).map_err(|_| "input is not UTF-8".to_string())
}

fn set_result(value: serde_json::Value) {
    RESULT.with(|r| *r.borrow_mut() = value.to_string().into_bytes());
}

/// Pointer to the last result (JSON).
#[no_mangle]
pub extern "C" fn result_ptr() -> *const u8 {
    RESULT.with(|r| r.borrow().as_ptr())
}

/// Length of the last result.
#[no_mangle]
pub extern "C" fn result_len() -> usize {
    RESULT.with(|r| r.borrow().len())
}

/// Supplies the bytes of a parameter file; returns its k, or -1 (reason in the result).
///
/// # Safety
/// `ptr..ptr+len` must be readable memory of this module.
#[no_mangle]
pub unsafe extern "C" fn add_params(ptr: *const u8, len: usize) -> i32 {
    let bytes = std::slice::from_raw_parts(ptr, len);
    match VERIFIER.with(|v| v.add_params(bytes)) {
        Ok(k) => {
            set_result(json!({"k": k}));
            k as i32
        }
        Err(e) => {
            set_result(json!({"error": e}));
            -1
        }
    }
}

/// Verifies one bundle against one market with the lender's expectations (JSON, may be
/// empty). Returns 1 valid, 0 invalid, 2 bad input, 3 internal error; the verdict (or
/// `{"error"}`) is the result.
///
/// # Safety
/// Each (ptr, len) must be readable memory of this module.
#[no_mangle]
pub unsafe extern "C" fn verify(
    market_ptr: *const u8,
    market_len: usize,
    bundle_ptr: *const u8,
    bundle_len: usize,
    expect_ptr: *const u8,
    expect_len: usize,
) -> i32 {
    let inputs = (|| {
        let market = load_market("market", text(market_ptr, market_len)?).map_err(|e| e.to_string())?;
        let expect = ExpectationsJson::from_json(text(expect_ptr, expect_len)?)?.into_expectations()?;
        Ok::<_, String>((market, expect, text(bundle_ptr, bundle_len)?))
    })();
    let (market, expect, bundle) = match inputs {
        Ok(x) => x,
        Err(e) => {
            set_result(json!({"error": e}));
            return 2;
        }
    };
    match VERIFIER.with(|v| verify_texts(v, &[market], &[("bundle", bundle)], &expect)) {
        Ok(mut verdicts) => {
            let verdict = verdicts.pop().expect("one verdict");
            let valid = verdict.valid;
            set_result(serde_json::to_value(&verdict).expect("a verdict serializes"));
            i32::from(valid)
        }
        Err(e) => {
            set_result(json!({"error": e.to_string()}));
            3
        }
    }
}
