//! The noise baseline: `cargo run --release -p zkmargin-prover --example bare -- 14 [PARAMS_DIR]`
//! (see `zkmargin_prover::baseline`).

fn main() {
    let mut args = std::env::args().skip(1);
    let k: u32 = args.next().map_or(14, |s| s.parse().expect("k"));
    let dir = args.next().map_or_else(zkmargin_verifier::params::default_dir, Into::into);
    println!("{}", zkmargin_prover::baseline::run(k, &dir));
}
