//! The circuit's Poseidon sponges, and how they share the hash lanes.
//!
//! Every permutation of the circuit is one absorption of a rate-2 sponge
//! ([`crate::commitment::sponge`]), run in the lanes of [`crate::chips::hash`]:
//! ```text
//! run                      capacity             absorbs (two words per absorption)
//! account a (a < A)        commit_capacity()    the account's message (crate::commitment); padding pairs skipped
//! net chunk c (c < N)      nets_capacity()      the net words of chunk c (below), every one
//! classes g (g < G)        classes_capacity()   group g's class worsts and slacks (crate::chips::classes), then one 0 if odd
//! challenge                challenge_capacity() commitment(0..A), digest(0..N), classes(0..G), binding, then one 0 if odd
//! ```
//! The class runs exist only in circuits that margin risk classes apart: for each class
//! c, its worst and its slack in each market scenario, class by class.
//! The net words: every group slot's net rows in slot order, four rows per absorption,
//! each row packed as `k·2^81 + (n + 2^80)` (< 2^101: table index k < 2^20, |n| < 2^80),
//! two per word (`e_lo + e_hi·2^101`). The list is cut into N consecutive chunks whose
//! lengths depend on the shape only ([`SpongePlan`]), so that the lanes finish together;
//! `digest(c)` is word 0 of chunk c's final state, and the logUp challenge is word 0 of
//! the challenge sponge's. Every commitment, every net row and every public input (through
//! the binding) is absorbed before the challenge exists, and the challenge is used only
//! after: neither side of the logUp argument can be chosen after it.
//!
//! A sponge runs in one lane, one absorption per block, so a lane's load is the sum of
//! its runs' absorptions and the circuit's blocks the largest load.

use std::cmp::Reverse;

use halo2_proofs::plonk::Expression;

use crate::commitment::{challenge_capacity, classes_capacity, nets_capacity, sponge};
use crate::encoding::{pow2, Fp};
use crate::shape::Shape;

/// Poseidon lanes the margin circuit lays side by side ([`crate::chips::hash`]) in its
/// compact and wide layouts (the class circuit's widest layout has one more).
pub const HASH_LANES: usize = 3;

/// Bits of one packed net element `k·2^81 + (n + 2^80)` (k < 2^20, |n| < 2^80).
pub const NET_ELEMENT_BITS: u32 = 101;
/// Offset added to a net before packing: n + 2^80 ∈ [0, 2^81).
pub const NET_OFFSET_BITS: u32 = 80;
/// Bit position of the table index in a packed net element.
pub const NET_INDEX_SHIFT: u32 = 81;
/// Net rows per absorption (two packed elements per rate word).
pub const NETS_PER_ABSORPTION: usize = 4;
/// Rows of an account region before its first position row: venue, account, salt, 0.
pub const HEADER_ROWS: usize = 4;

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

/// The sponges of a shape and their places in the lanes.
///
/// Runs are numbered: accounts `0..A`, net chunks `A..A+N`, class runs `A+N..A+N+G`
/// (G = 0 without risk classes), the challenge `A+N+G`. Accounts, class runs and the
/// challenge go longest first onto the least-loaded lane; then the net words fill the N
/// least-loaded lanes up to a common height, with the N (1 ≤ N ≤ lanes) that gives the
/// fewest blocks (the fewest chunks among equals).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpongePlan {
    /// Absorptions of each account's sponge.
    pub account_absorptions: usize,
    /// Absorptions of each net chunk, in order.
    pub net_chunks: Vec<usize>,
    /// Absorptions of each group's class run (0: no class runs).
    pub class_absorptions: usize,
    /// Class runs (one per group slot, or none).
    pub class_runs: usize,
    /// Absorptions of the challenge sponge.
    pub challenge_absorptions: usize,
    /// Run numbers of each lane, in the order the lane runs them.
    pub placement: Vec<Vec<usize>>,
    /// Blocks: the largest lane load.
    pub blocks: usize,
}

impl SpongePlan {
    /// The plan of `shape` over `lanes` lanes, with a class run of `class_absorptions`
    /// per group slot (0: none).
    pub fn new(shape: &Shape, lanes: usize, class_absorptions: usize) -> SpongePlan {
        assert!(lanes > 0, "at least one lane");
        let accounts = shape.accounts;
        let class_runs = if class_absorptions > 0 { shape.groups } else { 0 };
        let account_absorptions = (HEADER_ROWS + shape.positions) / 2 + shape.collateral / 2;
        let nets = shape.groups * shape.nets / NETS_PER_ABSORPTION;
        let mut best: Option<SpongePlan> = None;
        for chunks in 1..=lanes.min(nets.max(1)) {
            let challenge_absorptions = (accounts + chunks + class_runs + 1).div_ceil(2);
            let challenge = accounts + chunks + class_runs;
            let class_run = |g: usize| (accounts + chunks + g, class_absorptions);
            let mut fixed: Vec<(usize, usize)> = (0..accounts)
                .map(|a| (a, account_absorptions))
                .chain((0..class_runs).map(class_run))
                .chain([(challenge, challenge_absorptions)])
                .collect();
            fixed.sort_by_key(|&(run, len)| (Reverse(len), run));
            let mut loads = vec![0usize; lanes];
            let mut placement = vec![Vec::new(); lanes];
            for (run, len) in fixed {
                let lane = (0..lanes).min_by_key(|&l| (loads[l], l)).expect("at least one lane");
                placement[lane].push(run);
                loads[lane] += len;
            }
            let mut order: Vec<usize> = (0..lanes).collect();
            order.sort_by_key(|&l| (loads[l], l));
            let chosen = &order[..chunks];
            let base: usize = chosen.iter().map(|&l| loads[l]).sum();
            let height = loads.iter().copied().max().unwrap_or(0).max((nets + base).div_ceil(chunks));
            let mut left = nets;
            let mut net_chunks = Vec::with_capacity(chunks);
            for (c, &lane) in chosen.iter().enumerate() {
                let size = (height - loads[lane]).min(left);
                net_chunks.push(size);
                placement[lane].push(accounts + c);
                left -= size;
            }
            if left > 0 || net_chunks.contains(&0) {
                continue; // fewer chunks do at least as well
            }
            let plan = SpongePlan {
                account_absorptions,
                net_chunks,
                class_absorptions,
                class_runs,
                challenge_absorptions,
                placement,
                blocks: 0,
            };
            let blocks = plan.placement.iter().map(|runs| runs.iter().map(|&r| plan.length(r, accounts)).sum::<usize>()).max().unwrap_or(0);
            if best.as_ref().is_none_or(|b| blocks < b.blocks) {
                best = Some(SpongePlan { blocks, ..plan });
            }
        }
        best.expect("one chunk always fits")
    }

    /// Absorptions of run `run` (with `accounts` account runs).
    fn length(&self, run: usize, accounts: usize) -> usize {
        let chunks = self.net_chunks.len();
        if run < accounts {
            self.account_absorptions
        } else if run < accounts + chunks {
            self.net_chunks[run - accounts]
        } else if run < accounts + chunks + self.class_runs {
            self.class_absorptions
        } else {
            self.challenge_absorptions
        }
    }

    /// Number of group g's class run.
    pub fn class_run(&self, accounts: usize, g: usize) -> usize {
        accounts + self.net_chunks.len() + g
    }

    /// Number of the challenge run.
    pub fn challenge_run(&self, accounts: usize) -> usize {
        accounts + self.net_chunks.len() + self.class_runs
    }

    /// The first net word of each chunk, and its length.
    pub fn chunk_ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.net_chunks.iter().scan(0, |start, &len| {
            let range = *start..*start + len;
            *start += len;
            Some(range)
        })
    }

    /// The logUp challenge from the commitments, every net word (all groups, in order),
    /// each group's class message (its class worsts and slacks; none without classes) and
    /// the statement binding (see the module).
    pub fn challenge(&self, commitments: &[Fp], net_words: &[[Fp; 2]], class_messages: &[Vec<Fp>], binding: Fp) -> Fp {
        let digests = self.chunk_ranges().map(|r| sponge(nets_capacity(), net_words[r].iter().map(|&w| (w, true)))[0]);
        let classes = class_messages.iter().map(|m| class_digest(m));
        let mut message: Vec<Fp> = commitments.iter().copied().chain(digests).chain(classes).chain([binding]).collect();
        if message.len() % 2 == 1 {
            message.push(Fp::zero());
        }
        debug_assert_eq!(message.len() / 2, self.challenge_absorptions);
        sponge(challenge_capacity(), message.chunks(2).map(|p| ([p[0], p[1]], true)))[0]
    }
}

/// A group's class message padded to whole absorptions (one 0 if odd).
pub fn class_pairs(message: &[Fp]) -> Vec<[Fp; 2]> {
    message.chunks(2).map(|p| [p[0], p.get(1).copied().unwrap_or(Fp::zero())]).collect()
}

/// The digest of a group's class message.
pub fn class_digest(message: &[Fp]) -> Fp {
    sponge(classes_capacity(), class_pairs(message).into_iter().map(|p| (p, true)))[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(accounts: usize, positions: usize, groups: usize, nets: usize) -> Shape {
        Shape { k: 0, accounts, positions, collateral: 4, groups, nets, scenarios: 32 }
    }

    #[test]
    fn every_run_is_placed_once_and_the_lanes_are_even() {
        for (s, lanes) in [(shape(4, 64, 2, 256), 3), (shape(2, 4, 1, 4), 3), (shape(16, 128, 4, 512), 3), (shape(1, 2, 1, 4), 2)] {
            let plan = SpongePlan::new(&s, lanes, 0);
            let runs = s.accounts + plan.net_chunks.len() + 1;
            let mut placed: Vec<usize> = plan.placement.iter().flatten().copied().collect();
            placed.sort();
            assert_eq!(placed, (0..runs).collect::<Vec<_>>(), "{s:?}");
            assert_eq!(plan.net_chunks.iter().sum::<usize>(), s.groups * s.nets / NETS_PER_ABSORPTION);
            let total = s.accounts * plan.account_absorptions + s.groups * s.nets / 4 + plan.challenge_absorptions;
            assert!(plan.blocks >= total.div_ceil(lanes) && plan.blocks >= plan.account_absorptions);
        }
        // The medium shape: 4 × 36 + 128 + 4 absorptions over 3 lanes, exactly even.
        assert_eq!(SpongePlan::new(&shape(4, 64, 2, 256), 3, 0).blocks, 92);
        // With class runs: each placed once, the lanes still even.
        let s = shape(4, 64, 2, 256);
        let plan = SpongePlan::new(&s, 3, 64);
        let runs = s.accounts + plan.net_chunks.len() + plan.class_runs + 1;
        let mut placed: Vec<usize> = plan.placement.iter().flatten().copied().collect();
        placed.sort();
        assert_eq!(placed, (0..runs).collect::<Vec<_>>());
        assert_eq!(plan.class_runs, 2);
        let total = 4 * plan.account_absorptions + 128 + 2 * 64 + plan.challenge_absorptions;
        assert!(plan.blocks >= total.div_ceil(3) && plan.blocks <= total.div_ceil(3) + 1, "{}", plan.blocks);
    }

    #[test]
    fn the_challenge_depends_on_every_input() {
        let plan = SpongePlan::new(&shape(2, 4, 1, 8), 3, 0);
        let commitments = [Fp::from(1), Fp::from(2)];
        let words = [[Fp::from(3), Fp::from(4)], [Fp::from(5), Fp::from(6)]];
        let base = plan.challenge(&commitments, &words, &[], Fp::from(7));
        assert_ne!(base, plan.challenge(&[Fp::from(1), Fp::from(9)], &words, &[], Fp::from(7)));
        assert_ne!(base, plan.challenge(&commitments, &[words[0], [Fp::from(5), Fp::from(7)]], &[], Fp::from(7)));
        assert_ne!(base, plan.challenge(&commitments, &words, &[], Fp::from(8)));
        let plan = SpongePlan::new(&shape(2, 4, 1, 8), 3, 2);
        let classes = vec![vec![Fp::from(1), Fp::from(2), Fp::from(3)]];
        let with = plan.challenge(&commitments, &words, &classes, Fp::from(7));
        assert_ne!(with, plan.challenge(&commitments, &words, &[vec![Fp::from(1), Fp::from(2), Fp::from(4)]], Fp::from(7)));
    }
}
