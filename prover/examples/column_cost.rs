//! What one committed column costs in `keygen_vk` (every cold verifier pays it per fixed
//! and per equality-enabled column) by what it holds: random field elements (a σ
//! polynomial, dense round constants), sparse ones, small non-negative numbers, zeros.
//! `cargo run --release -p zkmargin-prover --example column_cost -- 12`
use std::time::Instant;
use halo2_proofs::poly::commitment::{Blind, Params};
use halo2_proofs::poly::EvaluationDomain;
use pasta_curves::{EqAffine, Fp};

fn main() {
    let k: u32 = std::env::args().nth(1).map_or(12, |s| s.parse().unwrap());
    let params: Params<EqAffine> = Params::new(k);
    let domain = EvaluationDomain::<Fp>::new(1, k);
    let n = 1usize << k;
    let mut x = 0x9e3779b97f4a7c15u64;
    let mut next = move || { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x };
    let mut random = move || Fp::from_raw([next(), next(), next(), next() >> 3]);
    let cases: Vec<(&str, Vec<Fp>)> = vec![
        ("dense random", (0..n).map(|_| random()).collect()),
        ("all zero", vec![Fp::zero(); n]),
        ("500 random", (0..n).map(|i| if i < 500 { random() } else { Fp::zero() }).collect()),
        ("500 small (< 2^60)", (0..n).map(|i| if i < 500 { Fp::from(i as u64 * 123_456_789_011) } else { Fp::zero() }).collect()),
        ("2048 signed small, half negative", (0..n).map(|i| if i < 2048 { let v = Fp::from(i as u64 * 1_000_003); if i % 2 == 0 { -v } else { v } } else { Fp::zero() }).collect()),
        ("2048 small + 2^60", (0..n).map(|i| if i < 2048 { Fp::from(i as u64 * 1_000_003 + (1u64 << 60)) } else { Fp::zero() }).collect()),
        ("2048 random (ids)", (0..n).map(|i| if i < 2048 { random() } else { Fp::zero() }).collect()),
        ("3000 ones", (0..n).map(|i| if i < 3000 { Fp::one() } else { Fp::zero() }).collect()),
    ];
    for (name, v) in cases {
        let poly = domain.lagrange_from_vec(v);
        let t = Instant::now();
        for _ in 0..5 {
            std::hint::black_box(params.commit_lagrange(&poly, Blind::default()));
        }
        println!("k={k} {name}: {:.1} ms", t.elapsed().as_secs_f64() * 1e3 / 5.0);
    }
}
