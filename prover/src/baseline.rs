//! The noise baseline of BENCHMARKS.md: a bare halo2 circuit (3 advice columns, one
//! gate, one 8-bit lookup, every usable row filled) proven and verified at k. This
//! machine is shared and noisy: figures are reported beside this baseline, timed in the
//! same run, and compared as ratios.

use std::time::Instant;

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{
    create_proof, keygen_pk, keygen_vk, verify_proof, Advice, Circuit, Column, ConstraintSystem, Error, Selector,
    SingleVerifier, TableColumn,
};
use halo2_proofs::poly::Rotation;
use halo2_proofs::transcript::{Blake2bRead, Blake2bWrite, Challenge255};
use pasta_curves::{pallas, vesta};

#[derive(Clone)]
#[doc(hidden)]
pub struct Config {
    a: Column<Advice>,
    b: Column<Advice>,
    c: Column<Advice>,
    q: Selector,
    q_lookup: Selector,
    table: TableColumn,
}

/// The bare circuit with `rows` filled rows.
#[derive(Default, Clone)]
pub struct Bare {
    /// Filled rows.
    pub rows: usize,
}

impl Circuit<pallas::Base> for Bare {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;
    fn without_witnesses(&self) -> Self {
        self.clone()
    }
    fn configure(meta: &mut ConstraintSystem<pallas::Base>) -> Config {
        let (a, b, c) = (meta.advice_column(), meta.advice_column(), meta.advice_column());
        let (q, q_lookup, table) = (meta.selector(), meta.complex_selector(), meta.lookup_table_column());
        meta.create_gate("mul", |m| {
            let q = m.query_selector(q);
            let (a, b, c) = (m.query_advice(a, Rotation::cur()), m.query_advice(b, Rotation::cur()), m.query_advice(c, Rotation::cur()));
            vec![q * (a * b - c)]
        });
        meta.lookup(|m| vec![(m.query_selector(q_lookup) * m.query_advice(a, Rotation::cur()), table)]);
        Config { a, b, c, q, q_lookup, table }
    }
    fn synthesize(&self, cfg: Config, mut layouter: impl Layouter<pallas::Base>) -> Result<(), Error> {
        layouter.assign_table(
            || "bytes",
            |mut t| {
                for i in 0..256u64 {
                    t.assign_cell(|| "byte", cfg.table, i as usize, || Value::known(pallas::Base::from(i)))?;
                }
                Ok(())
            },
        )?;
        layouter.assign_region(
            || "rows",
            |mut region| {
                for r in 0..self.rows {
                    cfg.q.enable(&mut region, r)?;
                    cfg.q_lookup.enable(&mut region, r)?;
                    let (x, y) = ((r % 256) as u64, (r * 7 + 3) as u64);
                    region.assign_advice(|| "a", cfg.a, r, || Value::known(pallas::Base::from(x)))?;
                    region.assign_advice(|| "b", cfg.b, r, || Value::known(pallas::Base::from(y)))?;
                    region.assign_advice(|| "c", cfg.c, r, || Value::known(pallas::Base::from(x * y)))?;
                }
                Ok(())
            },
        )
    }
}

/// Timings of one bare run.
#[derive(Clone, Debug)]
pub struct BareRun {
    /// k.
    pub k: u32,
    /// keygen_vk + keygen_pk.
    pub keygen: std::time::Duration,
    /// create_proof.
    pub create_proof: std::time::Duration,
    /// verify_proof.
    pub verify: std::time::Duration,
    /// Proof bytes.
    pub proof_bytes: usize,
}

impl std::fmt::Display for BareRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bare k={}: keygen {:.2} s, create_proof {:.2} s, verify {:.0} ms, proof {} B",
            self.k,
            self.keygen.as_secs_f64(),
            self.create_proof.as_secs_f64(),
            self.verify.as_secs_f64() * 1e3,
            self.proof_bytes
        )
    }
}

/// Proves and verifies the bare circuit at k with parameters from `dir`.
pub fn run(k: u32, dir: &std::path::Path) -> BareRun {
    let (params, _) = zkmargin_verifier::params::load_or_create(dir, k).expect("params");
    let circuit = Bare { rows: (1 << k) - 10 };
    let t = Instant::now();
    let vk = keygen_vk(&params, &circuit).expect("keygen_vk");
    let pk = keygen_pk(&params, vk, &circuit).expect("keygen_pk");
    let keygen = t.elapsed();
    let t = Instant::now();
    let mut transcript = Blake2bWrite::<_, vesta::Affine, Challenge255<_>>::init(vec![]);
    create_proof(&params, &pk, &[circuit], &[&[]], rand::rng(), &mut transcript).expect("proof");
    let proof = transcript.finalize();
    let create_proof = t.elapsed();
    let t = Instant::now();
    let mut transcript = Blake2bRead::<_, vesta::Affine, Challenge255<_>>::init(&proof[..]);
    verify_proof(&params, pk.get_vk(), SingleVerifier::new(&params), &[&[]], &mut transcript).expect("verify");
    BareRun { k, keygen, create_proof, verify: t.elapsed(), proof_bytes: proof.len() }
}
