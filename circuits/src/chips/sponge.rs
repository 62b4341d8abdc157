//! The sponge rows: a Poseidon (P128Pow5T3) sponge of rate 2 laid beside the rows whose
//! values it absorbs, the permutations themselves run by [`crate::chips::hash`].
//!
//! **Commitment pairs** (`q_pair`, on every other row of an account's regions):
//! ```text
//! | row   | entry | flag   | st[0..3]    | inp[0..2]                  | out[0..3]                 |
//! | 2j    | m0    | active | s           | s0 + m0, s1 + m1           | P(inp0, inp1, s2)         |
//! | 2j+1  | m1    |        |             |                            |                           |
//! | 2j+2  |       |        | s + active·(out − s)                     |                           |
//! ```
//! The permutation's input is `(inp0, inp1, st2)` and its output is linked to `out`
//! (copy constraints); an inactive pair (padding) leaves the state unchanged, so the
//! final state only depends on the real entries: word 0 is [`crate::commitment`]'s
//! commitment.
//!
//! **Net pairs** (`q_net_absorb` of [`crate::chips::margin`], every fourth net slot): the
//! same columns, with the four rows' net elements `k·2^81 + (n + 2^80)` packed two per
//! rate word (`e_lo + e_hi·2^101`) and no skipping: `st(+4F) = out` (F rows per slot).

use halo2_proofs::circuit::{AssignedCell, Region, Value};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Constraints, Error, Expression, Selector};
use halo2_proofs::poly::Rotation;

use crate::encoding::{pow2, Fp};
use crate::witness::SpongeTrace;

/// Bits of one packed net element `k·2^81 + (n + 2^80)` (k < 2^20, |n| < 2^80).
pub const NET_ELEMENT_BITS: u32 = 101;
/// Offset added to a net before packing: n + 2^80 ∈ [0, 2^81).
pub const NET_OFFSET_BITS: u32 = 80;
/// Bit position of the table index in a packed net element.
pub const NET_INDEX_SHIFT: u32 = 81;

/// The packed net element of a net row, as an expression.
pub fn net_element(idx: Expression<Fp>, net: Expression<Fp>) -> Expression<Fp> {
    idx * Expression::Constant(pow2(NET_INDEX_SHIFT)) + net + Expression::Constant(pow2(NET_OFFSET_BITS))
}

/// The packed net element of a net row.
pub fn net_element_value(idx: Fp, net: Fp) -> Fp {
    idx * pow2(NET_INDEX_SHIFT) + net + pow2(NET_OFFSET_BITS)
}

/// Two packed net elements in one rate word.
pub fn net_word(lo: Fp, hi: Fp) -> Fp {
    lo + hi * pow2(NET_ELEMENT_BITS)
}

/// Columns of the sponge rows.
#[derive(Clone, Debug)]
pub struct SpongeConfig {
    /// The absorbed (packed) entry, one per row.
    pub entry: Column<Advice>,
    /// State before a pair.
    pub st: [Column<Advice>; 3],
    /// Rate words of the permutation's input.
    pub inp: [Column<Advice>; 2],
    /// The permutation's output.
    pub out: [Column<Advice>; 3],
    q_pair: Selector,
}

/// The permutation's input and output cells of one absorption.
#[derive(Debug, Clone)]
pub struct PairCells {
    /// (inp0, inp1, st2).
    pub input: [AssignedCell<Fp, Fp>; 3],
    /// out.
    pub output: [AssignedCell<Fp, Fp>; 3],
}

/// The sponge-rows chip.
#[derive(Debug)]
pub struct SpongeChip {
    config: SpongeConfig,
}

impl SpongeChip {
    /// Configures the sponge columns; `flag` is the rows' active flag.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, flag: Column<Advice>) -> SpongeConfig {
        let entry = meta.advice_column();
        let st = [meta.advice_column(), meta.advice_column(), meta.advice_column()];
        let inp = [meta.advice_column(), meta.advice_column()];
        let out = [meta.advice_column(), meta.advice_column(), meta.advice_column()];
        for col in st.into_iter().chain(inp).chain(out) {
            meta.enable_equality(col);
        }
        let q_pair = meta.selector();
        meta.create_gate("sponge pair", |m| {
            let q = m.query_selector(q_pair);
            let cur = |m: &mut halo2_proofs::plonk::VirtualCells<Fp>, col| m.query_advice(col, Rotation::cur());
            let active = cur(m, flag);
            let (e0, e1) = (cur(m, entry), m.query_advice(entry, Rotation::next()));
            let mut constraints = vec![
                ("pair input 0", cur(m, inp[0]) - cur(m, st[0]) - e0),
                ("pair input 1", cur(m, inp[1]) - cur(m, st[1]) - e1),
            ];
            for j in 0..3 {
                let (s, o) = (cur(m, st[j]), cur(m, out[j]));
                let s_next = m.query_advice(st[j], Rotation(2));
                constraints.push(("pair state", s_next - s.clone() - active.clone() * (o - s)));
            }
            Constraints::with_selector(q, constraints)
        });
        SpongeConfig { entry, st, inp, out, q_pair }
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: SpongeConfig) -> Self {
        SpongeChip { config }
    }

    /// Assigns `steps` absorptions every `stride` rows of `region` (stride 2: commitment
    /// pairs, `q_pair` enabled; stride 4: net pairs, gated by the caller) and the state
    /// after the last; `initial` puts the constant state `[0, 0, initial]` on row 0.
    /// Returns each absorption's cells, the first state and the final state.
    #[allow(clippy::type_complexity)]
    pub fn assign_steps(
        &self,
        region: &mut Region<'_, Fp>,
        trace: Option<&SpongeTrace>,
        steps: usize,
        stride: usize,
        initial: Option<Fp>,
    ) -> Result<(Vec<PairCells>, [AssignedCell<Fp, Fp>; 3], [AssignedCell<Fp, Fp>; 3]), Error> {
        let c = &self.config;
        let value = |f: &dyn Fn(&SpongeTrace) -> Fp| trace.map_or(Value::unknown(), |t| Value::known(f(t)));
        let mut states = Vec::with_capacity(steps + 1);
        for j in 0..=steps {
            let row = stride * j;
            let state: [AssignedCell<Fp, Fp>; 3] = match (j, initial) {
                (0, Some(cap)) => [
                    region.assign_advice_from_constant(|| "state 0", c.st[0], row, Fp::zero())?,
                    region.assign_advice_from_constant(|| "state 1", c.st[1], row, Fp::zero())?,
                    region.assign_advice_from_constant(|| "capacity", c.st[2], row, cap)?,
                ],
                _ => [0, 1, 2].map(|w| region.assign_advice(|| "state", c.st[w], row, || value(&|t| t.states[j][w]))).into_iter()
                    .collect::<Result<Vec<_>, _>>()?
                    .try_into()
                    .expect("three words"),
            };
            states.push(state);
        }
        let mut pairs = Vec::with_capacity(steps);
        for j in 0..steps {
            let row = stride * j;
            if stride == 2 {
                c.q_pair.enable(region, row)?;
            }
            let inp0 = region.assign_advice(|| "input 0", c.inp[0], row, || value(&|t| t.inputs[j][0]))?;
            let inp1 = region.assign_advice(|| "input 1", c.inp[1], row, || value(&|t| t.inputs[j][1]))?;
            let output: [AssignedCell<Fp, Fp>; 3] = [0, 1, 2]
                .map(|w| region.assign_advice(|| "output", c.out[w], row, || value(&|t| t.outputs[j][w])))
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?
                .try_into()
                .expect("three words");
            pairs.push(PairCells { input: [inp0, inp1, states[j][2].clone()], output });
        }
        let last = states.pop().expect("at least one state");
        let first = states.into_iter().next().unwrap_or_else(|| last.clone());
        Ok((pairs, first, last))
    }
}
