//! The native baseline for the WebAssembly verifier (issue 8): the same calls, in the
//! same order, that `verifier/js/phases.mjs` makes on the module, timed one by one.
//!
//! ```sh
//! cargo run -p zkmargin-verifier --release --no-default-features --example phases -- \
//!     examples/market.json verifier/tests/fixtures/example-initial-proof.json params/ipa-pasta-k11.bin [REPEATS]
//! ```
//!
//! Build it with `--no-default-features` for the single-threaded figure the module is
//! compared with (no rayon, no halo2 `multicore`). Phases: parameters handed in (parse +
//! pinned-hash check), first check (the verifying key rebuilt + the proof verified),
//! further checks with the key cached; the key rebuild is the difference.

use std::time::Instant;

use zkmargin_verifier::api::{load_market, verify_texts};
use zkmargin_verifier::verify::{Expectations, Verifier};

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: phases MARKET BUNDLE PARAMS_FILE [REPEATS]");
        std::process::exit(2);
    }
    let repeats: usize = args.get(3).map_or(5, |r| r.parse().expect("REPEATS is a number"));
    let market_text = std::fs::read_to_string(&args[0]).expect("market");
    let bundle = std::fs::read_to_string(&args[1]).expect("bundle");
    let params = std::fs::read(&args[2]).expect("parameter file");
    let expect = Expectations::default();
    let threads = if cfg!(feature = "parallel") { "parallel feature on" } else { "single thread" };

    let t = Instant::now();
    let verifier = Verifier::in_memory(0);
    verifier.add_params(&params).expect("parameters");
    let params_ms = ms(t);
    // Like the module's `verify`, each check parses the market text.
    let check = || {
        let market = load_market("market", &market_text).expect("market parses");
        verify_texts(&verifier, &[market], &[("bundle", &bundle)], &expect).expect("verify")
    };
    let t = Instant::now();
    let first = check();
    let first_ms = ms(t);
    assert!(first[0].valid, "the bundle must be valid: {:?}", first[0].reason);
    let again: Vec<f64> = (0..repeats)
        .map(|_| {
            let t = Instant::now();
            let v = check();
            assert!(v[0].valid);
            ms(t)
        })
        .collect();
    let cached = median(again);
    println!("native ({threads})");
    println!("  params in (read+hash) {params_ms:9.1} ms");
    println!("  first check           {first_ms:9.1} ms   (market parse + key rebuild + verify)");
    println!("  further check, median {cached:9.1} ms   (key cached; {repeats} runs)");
    println!("  key rebuild (diff)    {:9.1} ms", first_ms - cached);
    println!("  total first           {:9.1} ms   (params + first check)", params_ms + first_ms);
}
