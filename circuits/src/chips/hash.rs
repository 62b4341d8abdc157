//! Poseidon (P128Pow5T3) sponges of rate 2, several lanes in step: every permutation of
//! the circuit ([`crate::sponges`]: the account commitments, the net-row digests and the
//! logUp challenge).
//!
//! A lane runs its sponges one after another, one absorption per block of rows
//! ([`Geometry::block_rows`]); every lane runs the same round in the same row of one region, so
//! all lanes share the round-constant columns and the selectors. The rounds are those of
//! halo2_gadgets' `Pow5Chip` with witnessed S-box squares: full rounds one per row,
//! partial rounds two per row ([`Geometry::COMPACT`], 38-row blocks) or three per row
//! ([`Geometry::WIDE`], one more S-box column `sbox2`, 29-row blocks: the 56th partial
//! round pairs with the 55th on the last partial row). The wide geometry, with 24 % fewer
//! rows, is for circuits whose hash lanes would otherwise set k. The state passes from
//! one block to the next by rotation, so only an absorption's two words and (where it
//! can be 0) its active flag are copied in and a sponge's result copied out, all through
//! the `sbox` column, the lane's one equality-enabled column. Lane l's wide block
//! (`flag_a[l]`, `flag_b[l]` on row 0 are its chain flag and initial capacity, and
//! `flag_b[l]` on row 2 its always-active flag: for the first three lanes these are
//! `rc_a[l]`, `rc_b[l]`, whose cells on those rows no round uses; a fourth lane and
//! beyond get two fixed columns of their own; the compact block has 28 pair rows, no
//! `sbox2`, and `rc_a[1]` empty on partial rows):
//! ```text
//! row    | state[0..3]                | sbox   | sbox2  | sq[0..3]            | rc_a                   | rc_b       | selector
//! 0      | S, the state before        | e0     |        |                     | chain_l (flag_a[l])    | cap_l (flag_b[l]) | s_absorb
//! 1      | S + (e0, e1, 0)            | e1     |        | x_j^2               | RC[0]                  |            | s_full
//! 2      | after full round 1         | active |        | x_j^2               | RC[1]                  | always_l (flag_b[l]) | s_full, s_active
//! 3..4   | after full round r         |        |        | x_j^2               | RC[r]                  |            | s_full
//! 5 + j  | after 4 full + 3j partial  | x_0^5  | y_0^5  | x_0^2, y_0^2, z_0^2 | e_{4+3j}, e_{6+3j}, · | e_{5+3j}   | s_partial (j < 18)
//! 23     | after 4 full + 54 partial  | x_0^5  |        | x_0^2, y_0^2        | e_58                   | e_59       | s_partial_pair
//! 24 + r | after the partial, r full  |        |        | x_j^2               | RC[60+r]               |            | s_full
//! 28     | P = P(S + (e0, e1, 0))     | C_0    |        | ·, C_1, C_2         |                        |            | s_carry
//! ```
//! with `C = S + active·(P − S)` and `x_j = state_j + rc_a_j`. `s_absorb`: `S = chain·C(row
//! −1) + (1 − chain)·(0, 0, cap)` (the previous block's carried state, or a new sponge)
//! and row 1 = S + (e0, e1, 0).
//! Full round (`s_full`): `sq_j = x_j^2` and `next_i = Σ_j M[i][j]·sq_j^2·x_j`. Partial
//! rounds (their constants on word 0 only, see `Constants`): round k of the row has input
//! word `w_k + e_k` (`w_0 = state_0`), S-box output `o_k` and leaves
//! `M·(o_k, rest)`, whose word 0 is the next round's `w`; with `x_0, y_0, z_0` the rounds'
//! inputs: `sq_k = input_k^2`, `o_k = sq_k^2·input_k` where `o_0 = sbox`, `o_1 = sbox2`
//! (`s_partial`), and the last round's output is checked against the next row through
//! `M⁻¹`: `sq^2·input = (M⁻¹·next)_0` and the carried words `= (M⁻¹·next)_i`, i = 1, 2.
//! Every intermediate word is a linear expression in the row's cells.
//! `s_active` (row 2) pins `active = 1` where `always` (its `flag_b[l]`) is 1: an
//! absorption that always counts needs no flag copied in.
//! `s_carry`: `active ∈ {0, 1}` (read 35 rows up) and `C = S + active·(P − S)` with S read
//! 37 rows up (an inactive absorption, a padding pair, leaves the state as it was); a
//! sponge's result is `C_0` of its last block. The witnessed
//! squares keep every gate at degree 4 (the lookups' 5 is then the circuit's).
//! One seed row above the first block holds a carried state of zeros (`s_seed`), so that
//! every query stays inside the region; its `sbox` cell in lane 0 is the zero that a
//! [`Word::Zero`] copies (so the circuit needs no constants column). A lane with no sponge left runs blocks that start a sponge of capacity 0 and absorb
//! zeros, inactive; their cells are all fixed by the gates.

use halo2_poseidon::{Mds, Spec, P128Pow5T3};
use halo2_proofs::circuit::{AssignedCell, Layouter, Region, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector, VirtualCells};
use halo2_proofs::poly::Rotation;

use crate::encoding::Fp;

/// Width of the permutation.
const WIDTH: usize = 3;
/// Full rounds before (and after) the partial rounds.
const HALF_FULL: usize = 4;
/// Partial rounds of P128Pow5T3.
const PARTIAL_ROUNDS: usize = 56;
/// The first round's row.
const FIRST_ROUND: usize = 1;
/// Rows of one block: the absorption, the rounds and the output row.
/// The first partial row of a block.
const FIRST_PARTIAL: usize = FIRST_ROUND + HALF_FULL;

/// How a block lays out the partial rounds: `per_row` of them on each partial row (the
/// last row takes what is left).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    per_row: usize,
}

impl Geometry {
    /// Two partial rounds per row: 38-row blocks, 7 advice columns per lane.
    pub const COMPACT: Geometry = Geometry { per_row: 2 };
    /// Three partial rounds per row: 29-row blocks, 8 advice columns per lane.
    pub const WIDE: Geometry = Geometry { per_row: 3 };

    /// Rows holding partial rounds.
    const fn partial_rows(self) -> usize {
        PARTIAL_ROUNDS.div_ceil(self.per_row)
    }

    /// Partial rounds on partial row `j`.
    const fn rounds_in_row(self, j: usize) -> usize {
        if j + 1 < self.partial_rows() {
            self.per_row
        } else {
            PARTIAL_ROUNDS - self.per_row * (self.partial_rows() - 1)
        }
    }

    /// Rows of one block: the absorption, the rounds and the output row.
    pub const fn block_rows(self) -> usize {
        FIRST_ROUND + 2 * HALF_FULL + self.partial_rows() + 1
    }

    /// The output row of a block.
    const fn output_row(self) -> usize {
        self.block_rows() - 1
    }

    /// The first full row after the partial rounds.
    const fn last_full(self) -> usize {
        FIRST_PARTIAL + self.partial_rows()
    }
}
/// Rows above the first block (its carried-in state, zeros).
pub const SEED_ROWS: usize = 1;
/// The row of a block whose `sbox` cell holds the absorption's active flag.
const ACTIVE_ROW: usize = FIRST_ROUND + 1;
/// Lanes whose flags sit in the round-constant columns (`rc_a[l]`, `rc_b[l]`); each
/// further lane has two fixed columns of its own.
const LANES_IN_RC: usize = WIDTH;

/// One lane's columns.
#[derive(Clone, Debug)]
struct Lane {
    state: [Column<Advice>; WIDTH],
    sbox: Column<Advice>,
    /// The middle partial round's S-box output (the wide geometry only).
    sbox2: Option<Column<Advice>>,
    square: [Column<Advice>; WIDTH],
}

impl Lane {
    /// The columns of the carried state C on a block's output row: C_0 in `sbox` (so it
    /// can be copied out), C_1 and C_2 in `sq[1]`, `sq[2]`.
    fn carried(&self) -> [Column<Advice>; WIDTH] {
        [self.sbox, self.square[1], self.square[2]]
    }
}

/// The test hook's word of each carried column (see `HashChip::corrupt`).
const CARRIED_WORDS: [usize; WIDTH] = [WIDTH, WIDTH + 2, WIDTH + 3];
/// The test hook's word of the `sbox2` column.
const SBOX2_WORD: usize = 2 * WIDTH + 1;

/// Columns of the hash chip.
#[derive(Clone, Debug)]
pub struct HashConfig {
    geometry: Geometry,
    lanes: Vec<Lane>,
    rc_a: [Column<Fixed>; WIDTH],
    rc_b: [Column<Fixed>; WIDTH],
    /// Each lane's flag columns: its chain flag (row 0) in `.0`, its initial capacity
    /// (row 0) and always-active flag (row 2) in `.1`.
    flags: Vec<(Column<Fixed>, Column<Fixed>)>,
    s_absorb: Selector,
    s_full: Selector,
    /// Rows of three partial rounds (the wide geometry; the compact one has pairs only).
    s_partial: Option<Selector>,
    /// Rows of two partial rounds.
    s_partial_pair: Selector,
    s_carry: Selector,
    s_seed: Selector,
    s_active: Selector,
}

/// A word absorbed (or an active flag): a cell to copy, zero, or the result of an
/// earlier sponge run.
#[derive(Clone, Debug)]
pub enum Word {
    /// Copied from this cell.
    Cell(AssignedCell<Fp, Fp>),
    /// 0 (copied from the region's seed row).
    Zero,
    /// Word 0 of the final state of the run with this number (a smaller one).
    Output(usize),
}

/// Whether an absorption counts.
#[derive(Clone, Debug)]
pub enum Active {
    /// Always (pinned by a fixed flag; nothing copied in).
    Always,
    /// When this word is 1; when it is 0 the state stays as it was.
    If(Word),
}

/// One absorption: two rate words and whether it counts.
#[derive(Clone, Debug)]
pub struct Absorption {
    /// Added to the rate words.
    pub words: [Word; 2],
    /// Whether the state becomes the permutation's output.
    pub active: Active,
}

/// A sponge from `[0, 0, capacity]` over its absorptions ([`crate::commitment::sponge`]).
#[derive(Clone, Debug)]
pub struct SpongeRun {
    /// The initial capacity word.
    pub capacity: Fp,
    /// At least one absorption.
    pub absorptions: Vec<Absorption>,
}

/// What the margin circuit asks of a hasher.
pub trait HashInstructions {
    /// Runs every sponge, lane `l` running `placement[l]`'s runs in that order; returns
    /// word 0 of each run's final state, by run number. A run's words may name only
    /// smaller runs' outputs.
    fn sponges(&self, layouter: &mut impl Layouter<Fp>, runs: &[SpongeRun], placement: &[Vec<usize>])
        -> Result<Vec<AssignedCell<Fp, Fp>>, Error>;
}

/// The hash chip.
#[derive(Debug)]
pub struct HashChip {
    config: HashConfig,
    constants: Constants,
    /// Tests only: (lane, row of the region, word) of one trace cell to assign off by one
    /// (word 3 is the lane's S-box column, words 4..7 its squares, word 7 its `sbox2`).
    #[cfg(test)]
    corrupt: Option<(usize, usize, usize)>,
}

/// P128Pow5T3's matrices and round constants, as laid out.
///
/// A partial round adds its constant to word 0 only (`rc[r] = (e_0, 0, 0)`): the
/// constants of words 1 and 2, which bypass the S-box, are carried through the linear
/// layer into the next round (the equivalent form of the Poseidon paper, appendix B:
/// with `d` the carried part, round r uses `e = rc[r] + d` and passes on `M·(0, e_1, e_2)`),
/// and what is left after the last partial round joins the next full round's constants.
/// The states between partial rounds differ from the reference's by the carried part;
/// the permutation's output is the same (the tests compare it with
/// [`crate::commitment::permute`]). Four of the six round-constant columns (three in the
/// wide geometry, whose third partial round per row uses `rc_a[1]`) are then
/// empty on partial rows.
#[derive(Debug)]
struct Constants {
    rc: Vec<[Fp; WIDTH]>,
    mds: Mds<Fp, WIDTH>,
    mds_inv: Mds<Fp, WIDTH>,
}

impl Constants {
    fn new() -> Self {
        let (mut rc, mds, mds_inv) = <P128Pow5T3 as Spec<Fp, WIDTH, 2>>::constants();
        let mut carried = [Fp::zero(); WIDTH];
        for constants in &mut rc[HALF_FULL..HALF_FULL + PARTIAL_ROUNDS] {
            let e: [Fp; WIDTH] = std::array::from_fn(|i| constants[i] + carried[i]);
            *constants = [e[0], Fp::zero(), Fp::zero()];
            carried = std::array::from_fn(|i| mds[i][1] * e[1] + mds[i][2] * e[2]);
        }
        let next = HALF_FULL + PARTIAL_ROUNDS;
        rc[next] = std::array::from_fn(|i| rc[next][i] + carried[i]);
        Constants { rc, mds, mds_inv }
    }

    fn apply_mds(&self, s: [Fp; WIDTH]) -> [Fp; WIDTH] {
        std::array::from_fn(|i| (0..WIDTH).map(|j| self.mds[i][j] * s[j]).sum())
    }

    /// Every witnessed value of one lane of a block.
    fn trace(&self, geometry: Geometry, input: [Fp; WIDTH]) -> Trace {
        let mut t = Trace { states: Vec::with_capacity(geometry.block_rows()), sboxes: Vec::new(), squares: Vec::new() };
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
        for j in 0..geometry.partial_rows() {
            t.states.push(s);
            let mut squares = [Fp::zero(); WIDTH]; // a pair row lays out two
            let mut outputs = [Fp::zero(); 2]; // sbox, sbox2 (a pair row lays out the first)
            for k in 0..geometry.rounds_in_row(j) {
                let input = s[0] + self.rc[HALF_FULL + geometry.per_row * j + k][0];
                squares[k] = input.square();
                let output = squares[k].square() * input;
                if k < 2 {
                    outputs[k] = output;
                }
                s = self.apply_mds([output, s[1], s[2]]);
            }
            t.sboxes.push(outputs);
            t.squares.push(squares);
        }
        for r in 0..HALF_FULL {
            t.states.push(s);
            s = full(&mut t, s, &self.rc[HALF_FULL + PARTIAL_ROUNDS + r]);
        }
        t.states.push(s);
        t
    }
}

/// Every witnessed value of one lane of a block, by row.
struct Trace {
    /// The state at each row (the last is the output).
    states: Vec<[Fp; WIDTH]>,
    /// The first two S-box outputs of each partial row.
    sboxes: Vec<[Fp; 2]>,
    /// The squares of each round row (partial rows: the S-box inputs' squares).
    squares: Vec<[Fp; WIDTH]>,
}

/// x^5 from the witnessed square `sq` of x (degree 3, so that the gates stay at degree
/// 4 and the circuit at degree 5, the lookups' degree).
fn pow5(sq: &Expression<Fp>, x: &Expression<Fp>) -> Expression<Fp> {
    sq.clone() * sq.clone() * x.clone()
}


impl HashChip {
    /// Configures `lanes` Poseidon lanes, 7 advice columns each (8 in the wide geometry),
    /// over one set of 6 round-constant columns (and 2 flag columns per lane beyond the
    /// third).
    pub fn configure(meta: &mut ConstraintSystem<Fp>, lanes: usize, geometry: Geometry) -> HashConfig {
        assert!(lanes >= 1, "at least one hash lane");
        let output_row = geometry.output_row() as i32;
        let rc_a = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
        let rc_b = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
        let flags: Vec<(Column<Fixed>, Column<Fixed>)> = (0..lanes)
            .map(|l| if l < LANES_IN_RC { (rc_a[l], rc_b[l]) } else { (meta.fixed_column(), meta.fixed_column()) })
            .collect();
        let (s_absorb, s_full, s_carry) = (meta.selector(), meta.selector(), meta.selector());
        let s_partial = (geometry.per_row == 3).then(|| meta.selector());
        let s_partial_pair = meta.selector();
        let (s_seed, s_active) = (meta.selector(), meta.selector());
        let Constants { mds, mds_inv, .. } = Constants::new();
        let lanes: Vec<Lane> = (0..lanes)
            .map(|_| {
                let state = [meta.advice_column(), meta.advice_column(), meta.advice_column()];
                let square = [meta.advice_column(), meta.advice_column(), meta.advice_column()];
                let sbox = meta.advice_column();
                meta.enable_equality(sbox);
                let sbox2 = (geometry.per_row == 3).then(|| meta.advice_column());
                Lane { state, sbox, sbox2, square }
            })
            .collect();
        let one = || Expression::Constant(Fp::one());
        for (lane, &(flag_a, flag_b)) in lanes.iter().zip(&flags) {
            let Lane { state, sbox, sbox2, square } = lane.clone();
            let carried = lane.carried();
            meta.create_gate("sponge absorb", |m| {
                let s = m.query_selector(s_absorb);
                let (chain, cap) = (m.query_fixed(flag_a), m.query_fixed(flag_b));
                let words = [m.query_advice(sbox, Rotation::cur()), m.query_advice(sbox, Rotation::next())];
                let mut constraints = Vec::with_capacity(2 * WIDTH);
                for j in 0..WIDTH {
                    let before = m.query_advice(state[j], Rotation::cur());
                    let carried = m.query_advice(carried[j], Rotation::prev());
                    let fresh = if j == WIDTH - 1 { cap.clone() } else { Expression::Constant(Fp::zero()) };
                    constraints.push(("chained or fresh", before.clone() - chain.clone() * carried - (one() - chain.clone()) * fresh));
                    let input = m.query_advice(state[j], Rotation::next()) - before;
                    constraints.push(("absorbed words", if j < 2 { input - words[j].clone() } else { input }));
                }
                Constraints::with_selector(s, constraints)
            });
            // The row above the first block: a carried state of zeros (which the first
            // block, a new sponge, ignores), so that its queries stay inside the region.
            meta.create_gate("sponge seed", |m| {
                let s = m.query_selector(s_seed);
                Constraints::with_selector(s, carried.map(|col| m.query_advice(col, Rotation::cur())))
            });
            meta.create_gate("sponge carry", |m| {
                let s = m.query_selector(s_carry);
                let active = m.query_advice(sbox, Rotation(ACTIVE_ROW as i32 - output_row));
                let mut constraints = vec![("active is a bit", active.clone() * (one() - active.clone()))];
                for j in 0..WIDTH {
                    let before = m.query_advice(state[j], Rotation(-output_row));
                    let output = m.query_advice(state[j], Rotation::cur());
                    let carried = m.query_advice(carried[j], Rotation::cur());
                    constraints.push(("carried state", carried - before.clone() - active.clone() * (output - before)));
                }
                Constraints::with_selector(s, constraints)
            });
            // On the active row (whose `rc_b` is otherwise empty): an absorption that always
            // counts has its flag pinned to 1.
            meta.create_gate("always active", |m| {
                let s = m.query_selector(s_active);
                let (always, active) = (m.query_fixed(flag_b), m.query_advice(sbox, Rotation::cur()));
                Constraints::with_selector(s, [always * (one() - active)])
            });
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
            // Partial rounds: three on a row (`s_partial`), two on a pair row (`s_partial_pair`).
            let partial = |m: &mut VirtualCells<Fp>, rounds: usize| {
                // Only the cells the row lays out (a pair row has no third constant, no sbox2).
                let constants: Vec<_> = [rc_a[0], rc_b[0], rc_a[1]][..rounds].iter().map(|&col| m.query_fixed(col)).collect();
                let outputs: Vec<_> =
                    [Some(sbox), sbox2][..rounds - 1].iter().map(|col| m.query_advice(col.expect("sbox2 in the wide geometry"), Rotation::cur())).collect();
                let unmixed: Vec<Expression<Fp>> = (0..WIDTH)
                    .map(|i| {
                        (0..WIDTH)
                            .map(|j| m.query_advice(state[j], Rotation::next()) * mds_inv[i][j])
                            .reduce(|a, b| a + b)
                            .expect("width > 0")
                    })
                    .collect();
                let mut words: Vec<Expression<Fp>> = (0..WIDTH).map(|j| m.query_advice(state[j], Rotation::cur())).collect();
                let mut constraints = Vec::with_capacity(2 * rounds + WIDTH - 1);
                for k in 0..rounds {
                    let input = words[0].clone() + constants[k].clone();
                    let square = m.query_advice(square[k], Rotation::cur());
                    constraints.push(square.clone() - input.clone() * input.clone());
                    if k + 1 == rounds {
                        constraints.push(pow5(&square, &input) - unmixed[0].clone());
                        break;
                    }
                    constraints.push(pow5(&square, &input) - outputs[k].clone());
                    // M·(o_k, w_1, w_2): linear in the row's cells.
                    let mixed_in = [outputs[k].clone(), words[1].clone(), words[2].clone()];
                    words = (0..WIDTH)
                        .map(|i| {
                            (0..WIDTH).map(|j| mixed_in[j].clone() * mds[i][j]).reduce(|a, b| a + b).expect("width > 0")
                        })
                        .collect();
                }
                for i in 1..WIDTH {
                    constraints.push(words[i].clone() - unmixed[i].clone());
                }
                constraints
            };
            if let Some(s_partial) = s_partial {
                meta.create_gate("poseidon partial rounds", |m| {
                    let s = m.query_selector(s_partial);
                    Constraints::with_selector(s, partial(m, 3))
                });
            }
            meta.create_gate("poseidon partial pair", |m| {
                let s = m.query_selector(s_partial_pair);
                Constraints::with_selector(s, partial(m, 2))
            });
        }
        HashConfig { geometry, lanes, rc_a, rc_b, flags, s_absorb, s_full, s_partial, s_partial_pair, s_carry, s_seed, s_active }
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

    /// Round constants and selectors of the block starting at `top`.
    fn assign_rounds(&self, region: &mut Region<'_, Fp>, top: usize) -> Result<(), Error> {
        let c = &self.config;
        let rc = &self.constants.rc;
        let mut fixed = |col: Column<Fixed>, row: usize, v: Fp| region.assign_fixed(|| "round constant", col, top + row, || Value::known(v));
        let geometry = c.geometry;
        let last_full = geometry.last_full();
        for r in 0..HALF_FULL {
            for (row, round) in [(FIRST_ROUND + r, r), (last_full + r, HALF_FULL + PARTIAL_ROUNDS + r)] {
                for (&col, &constant) in c.rc_a.iter().zip(&rc[round]) {
                    fixed(col, row, constant)?;
                }
            }
        }
        // A partial row's constants (word 0 only): rc_a[0], rc_b[0], then rc_a[1].
        let partial_columns = [c.rc_a[0], c.rc_b[0], c.rc_a[1]];
        for j in 0..geometry.partial_rows() {
            for (k, &col) in partial_columns.iter().enumerate().take(geometry.rounds_in_row(j)) {
                fixed(col, FIRST_PARTIAL + j, rc[HALF_FULL + geometry.per_row * j + k][0])?;
            }
        }
        c.s_absorb.enable(region, top)?;
        c.s_active.enable(region, top + ACTIVE_ROW)?;
        for row in (FIRST_ROUND..FIRST_PARTIAL).chain(last_full..geometry.output_row()) {
            c.s_full.enable(region, top + row)?;
        }
        for j in 0..geometry.partial_rows() {
            let selector = match (geometry.rounds_in_row(j), c.s_partial) {
                (3, Some(triple)) => triple,
                _ => c.s_partial_pair,
            };
            selector.enable(region, top + FIRST_PARTIAL + j)?;
        }
        c.s_carry.enable(region, top + geometry.output_row())
    }

    /// Tests only: 1 at the cell named by `corrupt`, else 0 (always 0 outside tests).
    fn tamper(&self, lane: usize, row: usize, word: usize) -> Fp {
        #[cfg(test)]
        if self.corrupt == Some((lane, row, word)) {
            return Fp::one();
        }
        let _ = (lane, row, word);
        Fp::zero()
    }

    /// The value of a word, given the earlier runs' outputs.
    fn value(word: &Word, outputs: &[Value<Fp>]) -> Value<Fp> {
        match word {
            Word::Cell(cell) => cell.value().copied(),
            Word::Zero => Value::known(Fp::zero()),
            Word::Output(run) => outputs[*run],
        }
    }

    /// The value of an active flag, given the earlier runs' outputs.
    fn flag(active: &Active, outputs: &[Value<Fp>]) -> Value<Fp> {
        match active {
            Active::Always => Value::known(Fp::one()),
            Active::If(word) => Self::value(word, outputs),
        }
    }

    /// Places `word` into `column` at `row`: a copy of a cell, of the seed row's `zero`,
    /// or of an output.
    fn place(
        region: &mut Region<'_, Fp>,
        word: &Word,
        column: Column<Advice>,
        row: usize,
        zero: &AssignedCell<Fp, Fp>,
        outputs: &[Option<AssignedCell<Fp, Fp>>],
    ) -> Result<(), Error> {
        let source = match word {
            Word::Cell(cell) => cell,
            Word::Zero => zero,
            Word::Output(run) => outputs[*run].as_ref().expect("a run names only outputs of smaller runs"),
        };
        source.copy_advice(|| "absorbed", region, column, row).map(|_| ())
    }
}

/// The witnessed values of one block of one lane.
struct BlockTrace {
    /// S, before the absorption.
    before: [Fp; WIDTH],
    /// The permutation's rows (its input first, its output last).
    rounds: Trace,
    /// C, the state after the absorption.
    carried: [Fp; WIDTH],
}

/// What one lane does in one block: absorption `index` of run `run`, or nothing.
#[derive(Clone, Copy)]
struct BlockJob {
    run: usize,
    index: usize,
}

impl HashInstructions for HashChip {
    fn sponges(&self, layouter: &mut impl Layouter<Fp>, runs: &[SpongeRun], placement: &[Vec<usize>])
        -> Result<Vec<AssignedCell<Fp, Fp>>, Error> {
        let lanes = &self.config.lanes;
        let geometry = self.config.geometry;
        assert!(placement.len() <= lanes.len(), "at most one placement per lane");
        assert!(runs.iter().all(|r| !r.absorptions.is_empty()), "a sponge run absorbs at least once");
        let jobs: Vec<Vec<BlockJob>> = placement
            .iter()
            .map(|order| order.iter().flat_map(|&run| (0..runs[run].absorptions.len()).map(move |index| BlockJob { run, index })).collect())
            .collect();
        let blocks = jobs.iter().map(Vec::len).max().unwrap_or(0);

        // Every run's trace, in run order (a run reads only smaller runs' outputs).
        let mut outputs: Vec<Value<Fp>> = vec![Value::unknown(); runs.len()];
        let mut traces: Vec<Vec<Value<BlockTrace>>> = Vec::with_capacity(runs.len());
        for (r, run) in runs.iter().enumerate() {
            let mut state = Value::known([Fp::zero(), Fp::zero(), run.capacity]);
            let mut blocks = Vec::with_capacity(run.absorptions.len());
            for a in &run.absorptions {
                let [e0, e1] = [&a.words[0], &a.words[1]].map(|w| Self::value(w, &outputs));
                let active = Self::flag(&a.active, &outputs);
                let trace = state.zip(e0.zip(e1)).zip(active).map(|((s, (e0, e1)), active)| {
                    let rounds = self.constants.trace(geometry, [s[0] + e0, s[1] + e1, s[2]]);
                    let out = *rounds.states.last().expect("an output row");
                    let carried = std::array::from_fn(|j| s[j] + active * (out[j] - s[j]));
                    BlockTrace { before: s, rounds, carried }
                });
                state = trace.as_ref().map(|t| t.carried);
                blocks.push(trace);
            }
            outputs[r] = state.map(|s| s[0]);
            traces.push(blocks);
        }
        let idle = Absorption { words: [Word::Zero, Word::Zero], active: Active::If(Word::Zero) };
        let idle_trace =
            BlockTrace { before: [Fp::zero(); WIDTH], rounds: self.constants.trace(geometry, [Fp::zero(); WIDTH]), carried: [Fp::zero(); WIDTH] };

        layouter.assign_region(
            || "poseidon sponges",
            |mut region| {
                let c = &self.config;
                let mut results: Vec<Option<AssignedCell<Fp, Fp>>> = vec![None; runs.len()];
                // (column, row, word) of every copied-in word, placed once every output exists.
                let mut inputs: Vec<(Column<Advice>, usize, &Word)> = Vec::new();
                c.s_seed.enable(&mut region, 0)?;
                let mut seeds = Vec::with_capacity(lanes.len() * WIDTH);
                for (l, lane) in lanes.iter().enumerate() {
                    for (w, col) in lane.carried().into_iter().enumerate() {
                        let seed = self.tamper(l, 0, CARRIED_WORDS[w]);
                        seeds.push(region.assign_advice(|| "seed", col, 0, || Value::known(seed))?);
                    }
                }
                // Lane 0's carried C_0 on the seed row: `sbox`, pinned to 0 by "sponge seed".
                let zero = &seeds[0];
                for b in 0..blocks {
                    let top = SEED_ROWS + b * geometry.block_rows();
                    self.assign_rounds(&mut region, top)?;
                    for (l, lane) in lanes.iter().enumerate() {
                        let job = jobs.get(l).and_then(|j| j.get(b)).copied();
                        let (absorption, trace, chain, capacity) = match job {
                            Some(BlockJob { run, index }) => {
                                (&runs[run].absorptions[index], traces[run][index].as_ref(), index > 0, runs[run].capacity)
                            }
                            None => (&idle, Value::known(&idle_trace), false, Fp::zero()),
                        };
                        let (flag_a, flag_b) = c.flags[l];
                        region.assign_fixed(|| "chain", flag_a, top, || Value::known(Fp::from(u64::from(chain))))?;
                        region.assign_fixed(|| "capacity", flag_b, top, || Value::known(capacity))?;
                        let off_by_one = |row: usize, w: usize| self.tamper(l, top + row, w);
                        let mut advice = |col: Column<Advice>, row: usize, w: usize, v: &dyn Fn(&BlockTrace) -> Fp| {
                            region.assign_advice(|| "sponge", col, top + row, || trace.map(|t| v(t) + off_by_one(row, w)))
                        };
                        for w in 0..WIDTH {
                            advice(lane.state[w], 0, w, &|t| t.before[w])?;
                            for row in FIRST_ROUND..geometry.block_rows() {
                                advice(lane.state[w], row, w, &|t| t.rounds.states[row - FIRST_ROUND][w])?;
                            }
                        }
                        for j in 0..geometry.partial_rows() {
                            advice(lane.sbox, FIRST_PARTIAL + j, WIDTH, &|t| t.rounds.sboxes[j][0])?;
                            if let (3, Some(sbox2)) = (geometry.rounds_in_row(j), lane.sbox2) {
                                advice(sbox2, FIRST_PARTIAL + j, SBOX2_WORD, &|t| t.rounds.sboxes[j][1])?;
                            }
                        }
                        for row in FIRST_ROUND..geometry.output_row() {
                            let squares = match row.checked_sub(FIRST_PARTIAL) {
                                Some(j) if j < geometry.partial_rows() => geometry.rounds_in_row(j),
                                _ => WIDTH,
                            };
                            for w in 0..squares {
                                advice(lane.square[w], row, WIDTH + 1 + w, &|t| t.rounds.squares[row - FIRST_ROUND][w])?;
                            }
                        }
                        let columns = lane.carried();
                        let carried = (0..WIDTH)
                            .map(|w| advice(columns[w], geometry.output_row(), CARRIED_WORDS[w], &|t| t.carried[w]))
                            .collect::<Result<Vec<_>, _>>()?;
                        if let Some(BlockJob { run, index }) = job {
                            if index + 1 == runs[run].absorptions.len() {
                                results[run] = Some(carried[0].clone());
                            }
                        }
                        inputs.extend([(0, &absorption.words[0]), (1, &absorption.words[1])].map(|(row, word)| (lane.sbox, top + row, word)));
                        let always = match &absorption.active {
                            Active::If(word) => {
                                inputs.push((lane.sbox, top + ACTIVE_ROW, word));
                                false
                            }
                            Active::Always => {
                                advice(lane.sbox, ACTIVE_ROW, WIDTH, &|_| Fp::one())?;
                                true
                            }
                        };
                        let always = Value::known(Fp::from(u64::from(always)));
                        region.assign_fixed(|| "always", flag_b, top + ACTIVE_ROW, || always)?;
                    }
                }
                for (column, row, word) in inputs {
                    Self::place(&mut region, word, column, row, zero, &results)?;
                }
                Ok(results.into_iter().map(|c| c.expect("every run is placed in a lane")).collect())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::SimpleFloorPlanner;
    use halo2_proofs::dev::MockProver;
    use halo2_proofs::plonk::{Circuit, Instance};

    use super::*;
    use crate::commitment::sponge;

    /// Three sponges over 3 lanes (the third idle): run 0 absorbs three pairs, the middle
    /// one inactive; run 1 one pair; run 2 the outputs of runs 0 and 1, then a cell and
    /// zero (runs 1 and 2 always active). The loaded values are `x` (words) and `active` (run 0's flags); every
    /// run's output is a public input, in run order. Over 4 lanes, run 2 runs alone in the
    /// fourth (whose flags have columns of their own) and the third is idle.
    #[derive(Clone)]
    struct TestCircuit<const WIDE: bool = false, const LANES: usize = 3> {
        x: [Fp; 9],
        active: [Fp; 3],
        corrupt: Option<(usize, usize, usize)>,
    }

    impl<const WIDE: bool, const LANES: usize> Default for TestCircuit<WIDE, LANES> {
        fn default() -> Self {
            TestCircuit {
                x: std::array::from_fn(|i| Fp::from(1000 * i as u64 + 7)),
                active: [Fp::one(), Fp::zero(), Fp::one()],
                corrupt: None,
            }
        }
    }

    #[derive(Clone, Debug)]
    struct TestConfig {
        hash: HashConfig,
        load: Column<Advice>,
        instance: Column<Instance>,
    }

    impl<const WIDE: bool, const LANES: usize> Circuit<Fp> for TestCircuit<WIDE, LANES> {
        type Config = TestConfig;
        type FloorPlanner = SimpleFloorPlanner;
        fn without_witnesses(&self) -> Self {
            self.clone()
        }
        fn configure(meta: &mut ConstraintSystem<Fp>) -> TestConfig {
            let load = meta.advice_column();
            meta.enable_equality(load);
            let instance = meta.instance_column();
            meta.enable_equality(instance);
            let geometry = if WIDE { Geometry::WIDE } else { Geometry::COMPACT };
            TestConfig { hash: HashChip::configure(meta, LANES, geometry), load, instance }
        }
        fn synthesize(&self, config: TestConfig, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
            let mut chip = HashChip::construct(config.hash.clone());
            chip.corrupt = self.corrupt;
            let cells = layouter.assign_region(
                || "load",
                |mut region| {
                    self.x.iter().chain(&self.active).enumerate()
                        .map(|(i, v)| region.assign_advice(|| "x", config.load, i, || Value::known(*v)).map(Word::Cell))
                        .collect::<Result<Vec<_>, _>>()
                },
            )?;
            let pair = |i: usize, active: Active| Absorption { words: [cells[i].clone(), cells[i + 1].clone()], active };
            let runs = [
                SpongeRun {
                    capacity: Fp::from(5),
                    absorptions: (0..3).map(|j| pair(2 * j, Active::If(cells[9 + j].clone()))).collect(),
                },
                SpongeRun { capacity: Fp::from(7), absorptions: vec![pair(6, Active::Always)] },
                SpongeRun {
                    capacity: Fp::from(9),
                    absorptions: vec![
                        Absorption { words: [Word::Output(0), Word::Output(1)], active: Active::Always },
                        Absorption { words: [cells[8].clone(), Word::Zero], active: Active::Always },
                    ],
                },
            ];
            let placement = if LANES == 4 { vec![vec![0], vec![1], vec![], vec![2]] } else { vec![vec![0], vec![1, 2]] };
            let outputs = chip.sponges(&mut layouter, &runs, &placement)?;
            for (row, cell) in outputs.iter().enumerate() {
                layouter.constrain_instance(cell.cell(), config.instance, row)?;
            }
            Ok(())
        }
    }

    fn expected<const WIDE: bool, const LANES: usize>(c: &TestCircuit<WIDE, LANES>) -> Vec<Fp> {
        let x = c.x;
        let run0 = sponge(Fp::from(5), (0..3).map(|j| ([x[2 * j], x[2 * j + 1]], c.active[j] == Fp::one())))[0];
        let run1 = sponge(Fp::from(7), [([x[6], x[7]], true)])[0];
        let run2 = sponge(Fp::from(9), [([run0, run1], true), ([x[8], Fp::zero()], true)])[0];
        vec![run0, run1, run2]
    }

    fn match_the_native_sponge<const WIDE: bool>() {
        let circuit = TestCircuit::<WIDE>::default();
        MockProver::run(8, &circuit, vec![expected(&circuit)]).unwrap().assert_satisfied();
        // All pairs active: a different output for run 0 (the skipped pair counts).
        let all = TestCircuit::<WIDE> { active: [Fp::one(); 3], ..TestCircuit::default() };
        assert_ne!(expected(&all)[0], expected(&circuit)[0]);
        MockProver::run(8, &all, vec![expected(&all)]).unwrap().assert_satisfied();
    }

    #[test]
    fn sponges_in_lanes_match_the_native_sponge() {
        match_the_native_sponge::<false>();
        match_the_native_sponge::<true>();
    }

    fn reject_every_wrong_trace_cell<const WIDE: bool>() {
        let g = if WIDE { Geometry::WIDE } else { Geometry::COMPACT };
        let at = |lane: usize, block: usize, row: usize, word: usize| (lane, SEED_ROWS + block * g.block_rows() + row, word);
        let (out, after, pair_row) = (g.output_row(), g.last_full(), g.last_full() - 1);
        // Rows 11 and 12 hold three partial rounds in the wide geometry, two in the compact.
        let inner = if WIDE { "poseidon partial rounds" } else { "poseidon partial pair" };
        let mut cases = vec![
            (at(0, 0, 2, 1), "poseidon full round"),
            (at(1, 1, 4, 0), "poseidon full round"),
            (at(0, 0, 11, 2), inner),
            (at(1, 0, 11, 3), inner),
            (at(0, 0, after + 1, 0), "poseidon full round"),
            (at(1, 0, 1, 4), "poseidon full round"),
            (at(0, 0, after + 3, 6), "poseidon full round"),
            (at(1, 0, 12, 4), inner),
            (at(0, 0, 12, 5), inner),
            (at(0, 0, pair_row, 3), "poseidon partial pair"),
            (at(1, 1, pair_row, 5), "poseidon partial pair"),
            (at(0, 0, pair_row, 0), "poseidon partial pair"),
            // A state before an absorption: chained from the block above (block ≥ 1) or
            // fresh (the capacity word of a new sponge, block 0), by the lane's flags.
            (at(0, 1, 0, 1), "chained or fresh"),
            (at(1, 1, 1, 0), "absorbed words"),
            (at(0, 2, 0, 2), "chained or fresh"),
            (at(0, 0, out, 5), "sponge carry"),
            (at(1, 1, out, 3), "sponge carry"),
            (at(2, 0, 0, 2), "chained or fresh"),
            (at(2, 0, out, 6), "sponge carry"),
            ((1, 0, 5), "sponge seed"),
            // The zero a `Word::Zero` copies.
            ((0, 0, WIDTH), "sponge seed"),
            // An always-active absorption's flag.
            (at(1, 0, ACTIVE_ROW, WIDTH), "always active"),
            (at(1, 1, ACTIVE_ROW, WIDTH), "always active"),
        ];
        if WIDE {
            // The third square and the middle S-box output of a three-round row.
            cases.extend([
                (at(0, 0, 12, 6), inner),
                (at(1, 0, 9, SBOX2_WORD), inner),
                (at(0, 0, pair_row - 1, SBOX2_WORD), inner),
            ]);
        }
        for (corrupt, gate) in cases {
            let circuit = TestCircuit::<WIDE> { corrupt: Some(corrupt), ..TestCircuit::default() };
            let public = expected(&circuit);
            let failures = MockProver::run(8, &circuit, vec![public]).unwrap().verify().expect_err("a wrong trace cell");
            assert!(failures.iter().any(|f| format!("{f:?}").contains(gate)), "{corrupt:?}: {failures:?}");
        }
    }

    /// A trace cell off by one fails the gate that produces or consumes it, even when the
    /// public outputs are right (both geometries).
    #[test]
    fn every_gate_rejects_a_wrong_trace_cell() {
        reject_every_wrong_trace_cell::<false>();
        reject_every_wrong_trace_cell::<true>();
    }

    fn check_a_fourth_lane<const WIDE: bool>() {
        let honest = TestCircuit::<WIDE, 4>::default();
        MockProver::run(8, &honest, vec![expected(&honest)]).unwrap().assert_satisfied();
        let g = if WIDE { Geometry::WIDE } else { Geometry::COMPACT };
        let at = |block: usize, row: usize, word: usize| (3, SEED_ROWS + block * g.block_rows() + row, word);
        let cases = [
            // The capacity word of a new sponge (its `flag_b` on row 0).
            (at(0, 0, 2), "chained or fresh"),
            // The state carried into the second absorption (its chain flag, `flag_a`).
            (at(1, 0, 1), "chained or fresh"),
            // An always-active absorption's flag (`flag_b` on row 2).
            (at(1, ACTIVE_ROW, WIDTH), "always active"),
            (at(0, g.output_row(), 5), "sponge carry"),
            (at(1, 3, 2), "poseidon full round"),
        ];
        for (corrupt, gate) in cases {
            let circuit = TestCircuit::<WIDE, 4> { corrupt: Some(corrupt), ..TestCircuit::default() };
            let failures = MockProver::run(8, &circuit, vec![expected(&circuit)]).unwrap().verify().expect_err("a wrong trace cell");
            assert!(failures.iter().any(|f| format!("{f:?}").contains(gate)), "{corrupt:?}: {failures:?}");
        }
    }

    /// A fourth lane (its flags in columns of their own) runs a sponge as the first three
    /// do, and its gates refuse a wrong cell (both geometries).
    #[test]
    fn a_fourth_lane_matches_the_native_sponge_and_rejects_a_wrong_cell() {
        check_a_fourth_lane::<false>();
        check_a_fourth_lane::<true>();
    }

    #[test]
    fn an_active_flag_must_be_a_bit() {
        // active = 2 moves the state off both the skipped and the absorbed value.
        let circuit = TestCircuit::<false> { active: [Fp::one(), Fp::from(2), Fp::one()], ..TestCircuit::default() };
        let honest = TestCircuit::<false>::default();
        for public in [expected(&honest), expected(&circuit)] {
            let failures = MockProver::run(8, &circuit, vec![public]).unwrap().verify().expect_err("active = 2");
            assert!(failures.iter().any(|f| format!("{f:?}").contains("sponge carry")), "{failures:?}");
        }
    }

    #[test]
    fn a_wrong_output_is_rejected() {
        let circuit = TestCircuit::<true>::default();
        for word in 0..3 {
            let mut public = expected(&circuit);
            public[word] += Fp::one();
            assert!(MockProver::run(8, &circuit, vec![public]).unwrap().verify().is_err(), "word {word}");
        }
    }
}
