//! Poseidon (P128Pow5T3): bare permutations (for the sponge rows of
//! [`crate::chips::sponge`]) and two-to-one hashing as in [`crate::commitment::hash2`],
//! over several lanes of `Pow5Chip`.
//!
//! Each lane owns 4 advice columns (3 state, 1 partial S-box) and 6 fixed columns; the
//! floor planner lays permutations of different lanes side by side, so L lanes divide
//! the rows the hashes take by about L.

use std::cell::Cell;

use halo2_gadgets::poseidon::{primitives::ConstantLength, Hash, PoseidonInstructions, Pow5Chip, Pow5Config, StateWord};
use halo2_poseidon::P128Pow5T3;
use halo2_proofs::circuit::{AssignedCell, Layouter};
use halo2_proofs::plonk::{Advice, Column, ConstraintSystem, Error};

use crate::encoding::Fp;

/// Columns of the hash chip, one Pow5 configuration per lane.
#[derive(Clone, Debug)]
pub struct HashConfig {
    lanes: Vec<Pow5Config<Fp, 3, 2>>,
}

/// What the margin circuit asks of a hasher.
pub trait HashInstructions {
    /// H(a, b), equal to [`crate::commitment::hash2`] of the cells' values.
    fn hash2(&self, layouter: &mut impl Layouter<Fp>, a: &AssignedCell<Fp, Fp>, b: &AssignedCell<Fp, Fp>)
        -> Result<AssignedCell<Fp, Fp>, Error>;
    /// The permutation of a state given as three cells (copied in), as three new cells;
    /// equal to [`crate::commitment::permute`].
    fn permute(&self, layouter: &mut impl Layouter<Fp>, state: &[AssignedCell<Fp, Fp>; 3])
        -> Result<[AssignedCell<Fp, Fp>; 3], Error>;
}

/// The hash chip (lanes used round-robin).
#[derive(Debug)]
pub struct HashChip {
    config: HashConfig,
    next_lane: Cell<usize>,
}

impl HashChip {
    /// Configures `lanes` Poseidon lanes, each on fresh columns.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, lanes: usize) -> HashConfig {
        let lanes = (0..lanes)
            .map(|_| {
                let state: [Column<Advice>; 3] = [meta.advice_column(), meta.advice_column(), meta.advice_column()];
                let partial_sbox = meta.advice_column();
                let rc_a = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
                let rc_b = [meta.fixed_column(), meta.fixed_column(), meta.fixed_column()];
                Pow5Chip::configure::<P128Pow5T3>(meta, state, partial_sbox, rc_a, rc_b)
            })
            .collect();
        HashConfig { lanes }
    }

    /// A chip for one synthesis pass.
    pub fn construct(config: HashConfig) -> Self {
        HashChip { config, next_lane: Cell::new(0) }
    }
}

impl HashChip {
    /// The next lane's chip (round-robin).
    fn next_chip(&self) -> Pow5Chip<Fp, 3, 2> {
        let lane = self.next_lane.get();
        self.next_lane.set((lane + 1) % self.config.lanes.len());
        Pow5Chip::construct(self.config.lanes[lane].clone())
    }
}

impl HashInstructions for HashChip {
    fn hash2(&self, layouter: &mut impl Layouter<Fp>, a: &AssignedCell<Fp, Fp>, b: &AssignedCell<Fp, Fp>)
        -> Result<AssignedCell<Fp, Fp>, Error> {
        let hasher = Hash::<_, _, P128Pow5T3, ConstantLength<2>, 3, 2>::init(self.next_chip(), layouter.namespace(|| "init"))?;
        hasher.hash(layouter.namespace(|| "hash2"), [a.clone(), b.clone()])
    }

    fn permute(&self, layouter: &mut impl Layouter<Fp>, state: &[AssignedCell<Fp, Fp>; 3])
        -> Result<[AssignedCell<Fp, Fp>; 3], Error> {
        let chip = self.next_chip();
        let words: [StateWord<Fp>; 3] = state.clone().map(StateWord::from);
        let out = <Pow5Chip<Fp, 3, 2> as PoseidonInstructions<Fp, P128Pow5T3, 3, 2>>::permute(&chip, layouter, &words)?;
        Ok(out.map(AssignedCell::from))
    }
}
