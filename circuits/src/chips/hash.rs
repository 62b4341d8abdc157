//! Poseidon (P128Pow5T3) permutations, several lanes in step: the permutations of the
//! sponge rows ([`crate::chips::sponge`]) and two-to-one hashing as in
//! [`crate::commitment::hash2`].
//!
//! The gates are those of halo2_gadgets' `Pow5Chip` (full rounds one per row, partial
//! rounds two per row with one extra S-box cell), but every lane runs the same round in
//! the same row of one region, so all lanes share one set of round-constant columns and
//! one pair of selectors, and only the state columns are equality-enabled. A block (one
//! region) permutes up to `L` states:
//! ```text
//! row    | state_l[0..3] (lane l)    | sbox_l  | sq_l[0..3]        | rc_a     | rc_b     | s_full | s_partial
//! 0      | input (copied)            |         | x_j^2             | RC[0]    |          | 1      |
//! 1..4   | after full round r        |         | x_j^2             | RC[r]    |          | 1      |
//! 4 + j  | after 4 full + 2j partial | x_0^5   | x_0^2, y_0^2      | RC[4+2j] | RC[5+2j] |        | 1
//! 32 + r | after the partial, r full |         | x_j^2             | RC[60+r] |          | 1      |
//! 36     | output                    |         |                   |          |          |        |
//! ```
//! with `x_j = state_j + rc_a_j`. Full round (`s_full`): `sq_j = x_j^2` and
//! `next_i = Σ_j M[i][j]·sq_j^2·x_j`. Partial pair (`s_partial`), with
//! `mid_i = M[i][0]·sbox + Σ_{j≥1} M[i][j]·x_j` and `y_0 = mid_0 + rc_b_0`:
//! `sq_0 = x_0^2`, `sbox = sq_0^2·x_0`, `sq_1 = y_0^2`, `sq_1^2·y_0 = (M⁻¹·next)_0` and
//! `mid_i + rc_b_i = (M⁻¹·next)_i` for i = 1, 2. The witnessed squares keep every gate at
//! degree 4 (the lookups' 5 is then the circuit's), which halves the extended domain
//! the prover works over compared with degree-5 S-boxes under a selector.
//! A lane a block does not need permutes the zero state (pinned to the constant 0); its
//! output is not used.

use halo2_poseidon::{Mds, Spec, P128Pow5T3};
use halo2_proofs::circuit::{AssignedCell, Layouter, Region, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector, VirtualCells};
use halo2_proofs::poly::Rotation;

use crate::commitment::hash2_capacity;
use crate::encoding::Fp;

/// Width of the permutation.
const WIDTH: usize = 3;
/// Full rounds before (and after) the partial rounds.
const HALF_FULL: usize = 4;
/// Rows holding partial rounds (two rounds each).
const PARTIAL_ROWS: usize = 28;
/// Rows of one block: the rounds and the output row.
pub const BLOCK_ROWS: usize = 2 * HALF_FULL + PARTIAL_ROWS + 1;

/// One lane's columns.
#[derive(Clone, Debug)]
struct Lane {
    state: [Column<Advice>; WIDTH],
    sbox: Column<Advice>,
    square: [Column<Advice>; WIDTH],
}

/// Columns of the hash chip.
#[derive(Clone, Debug)]
pub struct HashConfig {
    lanes: Vec<Lane>,
    rc_a: [Column<Fixed>; WIDTH],
    rc_b: [Column<Fixed>; WIDTH],
    s_full: Selector,
    s_partial: Selector,
}

/// A word of a permutation's input: a cell to copy or a constant.
#[derive(Clone, Debug)]
pub enum Word {
    /// Copied from this cell.
    Cell(AssignedCell<Fp, Fp>),
    /// A constant (from the circuit's constants column).
    Constant(Fp),
}

impl Word {
    fn value(&self) -> Value<Fp> {
        match self {
            Word::Cell(cell) => cell.value().copied(),
            Word::Constant(c) => Value::known(*c),
        }
    }
}

/// What the margin circuit asks of a hasher.
pub trait HashInstructions {
    /// The permutation of each input state, as three new cells each; equal to
    /// [`crate::commitment::permute`]. Independent inputs share blocks.
    fn permute_all(&self, layouter: &mut impl Layouter<Fp>, inputs: &[[Word; WIDTH]])
        -> Result<Vec<[AssignedCell<Fp, Fp>; WIDTH]>, Error>;

    /// H(a, b), equal to [`crate::commitment::hash2`] of the cells' values.
    fn hash2(&self, layouter: &mut impl Layouter<Fp>, a: &AssignedCell<Fp, Fp>, b: &AssignedCell<Fp, Fp>)
        -> Result<AssignedCell<Fp, Fp>, Error> {
        let input = [Word::Cell(a.clone()), Word::Cell(b.clone()), Word::Constant(hash2_capacity())];
        let [out, _, _] = self.permute_all(layouter, &[input])?.pop().expect("one output per input");
        Ok(out)
    }
}

/// The hash chip.
#[derive(Debug)]
pub struct HashChip {
    config: HashConfig,
    constants: Constants,
    /// Tests only: (lane, row, word) of one trace cell to assign off by one (word 3 is
    /// the lane's S-box cell, words 4..7 its squares).
    #[cfg(test)]
    corrupt: Option<(usize, usize, usize)>,
}

/// P128Pow5T3's round constants and matrices.
#[derive(Debug)]
struct Constants {
    rc: Vec<[Fp; WIDTH]>,
    mds: Mds<Fp, WIDTH>,
    mds_inv: Mds<Fp, WIDTH>,
}

impl Constants {
    fn new() -> Self {
        let (rc, mds, mds_inv) = <P128Pow5T3 as Spec<Fp, WIDTH, 2>>::constants();
        Constants { rc, mds, mds_inv }
    }

    fn apply_mds(&self, s: [Fp; WIDTH]) -> [Fp; WIDTH] {
        std::array::from_fn(|i| (0..WIDTH).map(|j| self.mds[i][j] * s[j]).sum())
    }

    /// Every witnessed value of one lane of a block.
    fn trace(&self, input: [Fp; WIDTH]) -> Trace {
        let mut t = Trace { states: Vec::with_capacity(BLOCK_ROWS), sboxes: Vec::new(), squares: Vec::new() };
        let mut s = input;
        let full = |t: &mut Trace, s: [Fp; WIDTH], rc: &[Fp; WIDTH]| {
            let x: [Fp; WIDTH] = std::array::from_fn(|i| s[i] + rc[i]);
            let sq = x.map(|x| x.square());
            t.squares.push(sq);
            self.apply_mds(std::array::from_fn(|i| sq[i].square() * x[i]))
        };
        for r in 0..HALF_FULL {
            t.states.push(s);
            s = full(&mut t, s, &self.rc[r]);
        }
        for j in 0..PARTIAL_ROWS {
            t.states.push(s);
            let (a, b) = (&self.rc[HALF_FULL + 2 * j], &self.rc[HALF_FULL + 2 * j + 1]);
            let x0 = s[0] + a[0];
            let first = x0.square().square() * x0;
            t.sboxes.push(first);
            let mid = self.apply_mds([first, s[1] + a[1], s[2] + a[2]]);
            let y0 = mid[0] + b[0];
            t.squares.push([x0.square(), y0.square(), Fp::zero()]); // the third is not laid out
            s = self.apply_mds([y0.square().square() * y0, mid[1] + b[1], mid[2] + b[2]]);
        }
        for r in 0..HALF_FULL {
            t.states.push(s);
            s = full(&mut t, s, &self.rc[HALF_FULL + 2 * PARTIAL_ROWS + r]);
        }
        t.states.push(s);
        t
    }
}

/// Every witnessed value of one lane of a block, by row.
struct Trace {
    /// The state at each row (the last is the output).
    states: Vec<[Fp; WIDTH]>,
    /// The first S-box of each partial row.
    sboxes: Vec<Fp>,
    /// The squares of each round row (partial rows: the two S-box inputs' squares).
    squares: Vec<[Fp; WIDTH]>,
}

/// x^5 from the witnessed square `sq` of x (degree 3, so that the gates stay at degree
/// 4 and the circuit at degree 5, the lookups' degree).
fn pow5(sq: &Expression<Fp>, x: &Expression<Fp>) -> Expression<Fp> {
    sq.clone() * sq.clone() * x.clone()
}

impl HashChip {
    /// Configures `lanes` Poseidon lanes (4 advice columns each) over one set of 6
    /// round-constant columns.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, lanes: usize) -> HashConfig {
        let rc_a = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
        let rc_b = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
        let s_full = meta.selector();
        let s_partial = meta.selector();
        let Constants { mds, mds_inv, .. } = Constants::new();
        let lanes: Vec<Lane> = (0..lanes)
            .map(|_| {
                let state = [meta.advice_column(), meta.advice_column(), meta.advice_column()];
                for col in state {
                    meta.enable_equality(col);
                }
                let square = [meta.advice_column(), meta.advice_column(), meta.advice_column()];
                Lane { state, sbox: meta.advice_column(), square }
            })
            .collect();
        for lane in &lanes {
            let state = lane.state;
            let square = lane.square;
            meta.create_gate("poseidon full round", |m| {
                let s = m.query_selector(s_full);
                let x: Vec<_> = (0..WIDTH).map(|j| m.query_advice(state[j], Rotation::cur()) + m.query_fixed(rc_a[j])).collect();
                let sq: Vec<_> = (0..WIDTH).map(|j| m.query_advice(square[j], Rotation::cur())).collect();
                let mut constraints: Vec<_> = (0..WIDTH).map(|j| sq[j].clone() - x[j].clone() * x[j].clone()).collect();
                for i in 0..WIDTH {
                    let sum = (0..WIDTH)
                        .map(|j| pow5(&sq[j], &x[j]) * mds[i][j])
                        .reduce(|a, b| a + b)
                        .expect("width > 0");
                    constraints.push(sum - m.query_advice(state[i], Rotation::next()));
                }
                Constraints::with_selector(s, constraints)
            });
            let sbox_col = lane.sbox;
            meta.create_gate("poseidon partial rounds", |m| {
                let s = m.query_selector(s_partial);
                let sbox = m.query_advice(sbox_col, Rotation::cur());
                let mid = |i: usize, m: &mut VirtualCells<Fp>| {
                    (1..WIDTH).fold(sbox.clone() * mds[i][0], |acc, j| {
                        acc + (m.query_advice(state[j], Rotation::cur()) + m.query_fixed(rc_a[j])) * mds[i][j]
                    })
                };
                let unmixed = |i: usize, m: &mut VirtualCells<Fp>| {
                    (0..WIDTH)
                        .map(|j| m.query_advice(state[j], Rotation::next()) * mds_inv[i][j])
                        .reduce(|a, b| a + b)
                        .expect("width > 0")
                };
                let x0 = m.query_advice(state[0], Rotation::cur()) + m.query_fixed(rc_a[0]);
                let y0 = mid(0, m) + m.query_fixed(rc_b[0]);
                let (sq_a, sq_b) = (m.query_advice(square[0], Rotation::cur()), m.query_advice(square[1], Rotation::cur()));
                let mut constraints = vec![
                    sq_a.clone() - x0.clone() * x0.clone(),
                    pow5(&sq_a, &x0) - sbox.clone(),
                    sq_b.clone() - y0.clone() * y0.clone(),
                    pow5(&sq_b, &y0) - unmixed(0, m),
                ];
                for i in 1..WIDTH {
                    constraints.push(mid(i, m) + m.query_fixed(rc_b[i]) - unmixed(i, m));
                }
                Constraints::with_selector(s, constraints)
            });
        }
        HashConfig { lanes, rc_a, rc_b, s_full, s_partial }
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: HashConfig) -> Self {
        HashChip {
            config,
            constants: Constants::new(),
            #[cfg(test)]
            corrupt: None,
        }
    }

    /// Round constants and selectors of one block.
    fn assign_rounds(&self, region: &mut Region<'_, Fp>) -> Result<(), Error> {
        let c = &self.config;
        let rc = &self.constants.rc;
        let mut fixed = |col: Column<Fixed>, row: usize, v: Fp| region.assign_fixed(|| "round constant", col, row, || Value::known(v));
        for r in 0..HALF_FULL {
            for (row, round) in [(r, r), (HALF_FULL + PARTIAL_ROWS + r, HALF_FULL + 2 * PARTIAL_ROWS + r)] {
                for w in 0..WIDTH {
                    fixed(c.rc_a[w], row, rc[round][w])?;
                }
            }
        }
        for j in 0..PARTIAL_ROWS {
            for w in 0..WIDTH {
                fixed(c.rc_a[w], HALF_FULL + j, rc[HALF_FULL + 2 * j][w])?;
                fixed(c.rc_b[w], HALF_FULL + j, rc[HALF_FULL + 2 * j + 1][w])?;
            }
        }
        for row in (0..HALF_FULL).chain(HALF_FULL + PARTIAL_ROWS..2 * HALF_FULL + PARTIAL_ROWS) {
            c.s_full.enable(region, row)?;
        }
        for row in HALF_FULL..HALF_FULL + PARTIAL_ROWS {
            c.s_partial.enable(region, row)?;
        }
        Ok(())
    }

    /// One block: the inputs (at most one per lane), permuted side by side.
    fn block(&self, layouter: &mut impl Layouter<Fp>, inputs: &[[Word; WIDTH]]) -> Result<Vec<[AssignedCell<Fp, Fp>; WIDTH]>, Error> {
        layouter.assign_region(
            || "poseidon block",
            |mut region| {
                self.assign_rounds(&mut region)?;
                let mut outputs = Vec::with_capacity(inputs.len());
                for (l, lane) in self.config.lanes.iter().enumerate() {
                    let input = inputs.get(l);
                    let start: Value<[Fp; WIDTH]> = match input {
                        Some(words) => words[0].value().zip(words[1].value()).zip(words[2].value()).map(|((a, b), c)| [a, b, c]),
                        None => Value::known([Fp::zero(); WIDTH]),
                    };
                    let trace = start.map(|s| self.constants.trace(s));
                    let off_by_one = |row: usize, w: usize| {
                        #[cfg(test)]
                        if self.corrupt == Some((l, row, w)) {
                            return Fp::one();
                        }
                        let _ = (row, w);
                        Fp::zero()
                    };
                    let at = |row: usize, w: usize| trace.as_ref().map(|t| t.states[row][w] + off_by_one(row, w));
                    for w in 0..WIDTH {
                        match input.map(|words| &words[w]) {
                            Some(Word::Cell(cell)) => {
                                cell.copy_advice(|| "input", &mut region, lane.state[w], 0)?;
                            }
                            Some(Word::Constant(k)) => {
                                region.assign_advice_from_constant(|| "input", lane.state[w], 0, *k)?;
                            }
                            None => {
                                region.assign_advice_from_constant(|| "idle lane", lane.state[w], 0, Fp::zero())?;
                            }
                        }
                    }
                    let mut last = Vec::with_capacity(WIDTH);
                    for row in 1..BLOCK_ROWS {
                        for w in 0..WIDTH {
                            let cell = region.assign_advice(|| "state", lane.state[w], row, || at(row, w))?;
                            if row == BLOCK_ROWS - 1 {
                                last.push(cell);
                            }
                        }
                    }
                    for j in 0..PARTIAL_ROWS {
                        let v = trace.as_ref().map(|t| t.sboxes[j] + off_by_one(HALF_FULL + j, WIDTH));
                        region.assign_advice(|| "s-box", lane.sbox, HALF_FULL + j, || v)?;
                    }
                    for row in 0..BLOCK_ROWS - 1 {
                        let partial = (HALF_FULL..HALF_FULL + PARTIAL_ROWS).contains(&row);
                        for w in 0..if partial { 2 } else { WIDTH } {
                            let v = trace.as_ref().map(|t| t.squares[row][w] + off_by_one(row, WIDTH + 1 + w));
                            region.assign_advice(|| "square", lane.square[w], row, || v)?;
                        }
                    }
                    if input.is_some() {
                        outputs.push(last.try_into().expect("three words"));
                    }
                }
                Ok(outputs)
            },
        )
    }
}

impl HashInstructions for HashChip {
    fn permute_all(&self, layouter: &mut impl Layouter<Fp>, inputs: &[[Word; WIDTH]])
        -> Result<Vec<[AssignedCell<Fp, Fp>; WIDTH]>, Error> {
        let mut outputs = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(self.config.lanes.len()) {
            outputs.extend(self.block(layouter, chunk)?);
        }
        Ok(outputs)
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::SimpleFloorPlanner;
    use halo2_proofs::dev::MockProver;
    use halo2_proofs::plonk::{Circuit, Instance};

    use super::*;
    use crate::commitment::{hash2, permute};

    /// Permutes `inputs` (loaded as advice) over 2 lanes (so the last block has an idle
    /// lane), exposes every output word and H(inputs[0][0], inputs[0][1]) as public
    /// inputs, in order; `corrupt` names one trace cell to assign off by one.
    #[derive(Clone, Default)]
    struct TestCircuit {
        inputs: Vec<[Fp; 3]>,
        corrupt: Option<(usize, usize, usize)>,
    }

    #[derive(Clone, Debug)]
    struct TestConfig {
        hash: HashConfig,
        load: Column<Advice>,
        instance: Column<Instance>,
    }

    impl Circuit<Fp> for TestCircuit {
        type Config = TestConfig;
        type FloorPlanner = SimpleFloorPlanner;
        fn without_witnesses(&self) -> Self {
            self.clone()
        }
        fn configure(meta: &mut ConstraintSystem<Fp>) -> TestConfig {
            let constants = meta.fixed_column();
            meta.enable_constant(constants);
            let load = meta.advice_column();
            meta.enable_equality(load);
            let instance = meta.instance_column();
            meta.enable_equality(instance);
            TestConfig { hash: HashChip::configure(meta, 2), load, instance }
        }
        fn synthesize(&self, config: TestConfig, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
            let mut chip = HashChip::construct(config.hash.clone());
            chip.corrupt = self.corrupt;
            let cells = layouter.assign_region(
                || "load",
                |mut region| {
                    let mut cells = Vec::new();
                    for (i, input) in self.inputs.iter().enumerate() {
                        let row: [AssignedCell<Fp, Fp>; 3] = std::array::from_fn(|w| {
                            region.assign_advice(|| "x", config.load, 3 * i + w, || Value::known(input[w])).unwrap()
                        });
                        cells.push(row);
                    }
                    Ok(cells)
                },
            )?;
            let words: Vec<[Word; 3]> = cells.iter().map(|c| c.clone().map(Word::Cell)).collect();
            let outputs = chip.permute_all(&mut layouter, &words)?;
            let mut row = 0;
            for out in &outputs {
                for cell in out {
                    layouter.constrain_instance(cell.cell(), config.instance, row)?;
                    row += 1;
                }
            }
            let h = chip.hash2(&mut layouter, &cells[0][0], &cells[0][1])?;
            layouter.constrain_instance(h.cell(), config.instance, row)
        }
    }

    fn expected(inputs: &[[Fp; 3]]) -> Vec<Fp> {
        let mut out: Vec<Fp> = inputs.iter().flat_map(|s| permute(*s)).collect();
        out.push(hash2(inputs[0][0], inputs[0][1]));
        out
    }

    fn inputs() -> Vec<[Fp; 3]> {
        (0..3u64).map(|i| [Fp::from(i + 1), Fp::from(100 * i + 7), Fp::from(1 << 40) + Fp::from(i)]).collect()
    }

    #[test]
    fn lanes_in_step_match_the_native_permutation() {
        let circuit = TestCircuit { inputs: inputs(), corrupt: None };
        let public = expected(&circuit.inputs);
        MockProver::run(8, &circuit, vec![public]).unwrap().assert_satisfied();
    }

    /// A trace cell off by one fails the round gate that produces or consumes it, even
    /// when the public outputs are right.
    #[test]
    fn every_round_gate_rejects_a_wrong_trace_cell() {
        let cases = [
            ((0, 2, 1), "poseidon full round"),
            ((1, 4, 0), "poseidon full round"),
            ((0, 10, 2), "poseidon partial rounds"),
            ((1, 10, 3), "poseidon partial rounds"),
            ((0, 33, 0), "poseidon full round"),
            ((1, 0, 4), "poseidon full round"),
            ((0, 35, 6), "poseidon full round"),
            ((1, 12, 4), "poseidon partial rounds"),
            ((0, 12, 5), "poseidon partial rounds"),
        ];
        for (corrupt, gate) in cases {
            let circuit = TestCircuit { inputs: inputs(), corrupt: Some(corrupt) };
            let public = expected(&circuit.inputs);
            let failures = MockProver::run(8, &circuit, vec![public]).unwrap().verify().expect_err("a wrong trace cell");
            assert!(failures.iter().any(|f| format!("{f:?}").contains(gate)), "{corrupt:?}: {failures:?}");
        }
    }

    #[test]
    fn a_wrong_output_is_rejected() {
        let circuit = TestCircuit { inputs: inputs(), corrupt: None };
        for word in [0, 4, 8, 9] {
            let mut public = expected(&circuit.inputs);
            public[word] += Fp::one();
            assert!(MockProver::run(8, &circuit, vec![public]).unwrap().verify().is_err(), "word {word}");
        }
    }
}
