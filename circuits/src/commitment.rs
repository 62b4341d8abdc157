//! Account commitments (native side; the circuit recomputes them in
//! [`crate::chips::hash`] over the entries of the account rows of [`crate::chips::account`]).
//!
//! An account's commitment depends only on what its venue knows: venue and account
//! names, the salt, and its own positions and collateral. It never depends on the
//! market snapshot or on other accounts, so a venue computes it from its own books.
//!
//! Encoding 2 (bundle formats `zkmargin-proof/2` and `/3`): a Poseidon (P128Pow5T3, width 3,
//! rate 2) sponge that absorbs two field elements per permutation.
//! ```text
//! entry(kind, id, v) = kind·2^232 + id·2^72 + (v + 2^70)
//!     kind 1 = position (id: instrument, v: quantity), kind 2 = collateral (id: asset,
//!     v: amount); id < 2^160 (crate::encoding), |v| < 2^69 (8-decimal integer)
//! message  = venue, account, salt, 0,
//!            entry(1, ·) of each position   sorted by instrument id (bytes), then one 0 if their number is odd,
//!            entry(2, ·) of each collateral sorted by asset id (bytes),      then one 0 if their number is odd
//! state    = [0, 0, COMMIT_CAPACITY]
//! for each pair (m0, m1) of the message: state = Poseidon-permutation([state0 + m0, state1 + m1, state2])
//! commitment = state0
//! ```
//! Each part of an entry has a stated bound (kind < 4, id < 2^160, v + 2^70 < 2^72), so
//! the packing is injective; an entry is never 0 (its kind bits), so the padding 0 is
//! never read as an entry, and the kind tells a position from a collateral entry.
//! Different lengths absorb different numbers of pairs, and the capacity constant keeps
//! this sponge apart from every other use of the permutation.

use ff::{Field, PrimeField};
use halo2_poseidon::{Mds, P128Pow5T3, Spec};

use crate::encoding::{id_to_field, pow2, salt_to_field, signed_to_field, Fp, IdKind};

/// The sponge state: two rate words and the capacity word.
pub type SpongeState = [Fp; 3];

/// The little-endian integer of 16 ASCII bytes, as a field element.
fn ascii16(tag: &[u8; 16]) -> Fp {
    Fp::from_u128(u128::from_le_bytes(*tag))
}

/// Initial capacity word of the account-commitment sponge: the 16 ASCII bytes
/// `zkmargin:commit2` read as a little-endian integer.
pub fn commit_capacity() -> Fp {
    ascii16(b"zkmargin:commit2")
}

/// Initial capacity word of the net-row sponge that feeds the logUp challenge: the 16
/// ASCII bytes `zkmargin:netrow2` read as a little-endian integer.
pub fn nets_capacity() -> Fp {
    ascii16(b"zkmargin:netrow2")
}

/// Initial capacity word of the sponge over a group's class worsts and slacks that feeds
/// the challenge ([`crate::chips::classes`]): the 16 ASCII bytes `zkmargin:classe3` read
/// as a little-endian integer.
pub fn classes_capacity() -> Fp {
    ascii16(b"zkmargin:classe3")
}

/// Initial capacity word of the sponge that derives the logUp challenge
/// ([`crate::sponges`]): the 16 ASCII bytes `zkmargin:chalng2` read as a little-endian
/// integer.
pub fn challenge_capacity() -> Fp {
    ascii16(b"zkmargin:chalng2")
}

/// The Poseidon permutation (P128Pow5T3) on a width-3 state.
pub fn permute(state: SpongeState) -> SpongeState {
    let (round_constants, mds, _) = <P128Pow5T3 as Spec<Fp, 3, 2>>::constants();
    let mds: Mds<Fp, 3> = mds;
    let half_full = <P128Pow5T3 as Spec<Fp, 3, 2>>::full_rounds() / 2;
    let partial = <P128Pow5T3 as Spec<Fp, 3, 2>>::partial_rounds();
    let sbox = |x: Fp| x.square().square() * x;
    let apply_mds = |s: [Fp; 3]| {
        let mut out = [Fp::ZERO; 3];
        for (i, o) in out.iter_mut().enumerate() {
            for (j, x) in s.iter().enumerate() {
                *o += mds[i][j] * x;
            }
        }
        out
    };
    let mut s = state;
    let mut rounds = round_constants.iter();
    for r in 0..2 * half_full + partial {
        let rc = rounds.next().expect("one constant row per round");
        let full = r < half_full || r >= half_full + partial;
        for (w, c) in s.iter_mut().zip(rc) {
            *w += c;
        }
        if full {
            for w in s.iter_mut() {
                *w = sbox(*w);
            }
        } else {
            s[0] = sbox(s[0]);
        }
        s = apply_mds(s);
    }
    s
}

/// One absorption: the permutation of `state` with `pair` added to its rate words.
pub fn absorb(state: SpongeState, pair: [Fp; 2]) -> SpongeState {
    permute([state[0] + pair[0], state[1] + pair[1], state[2]])
}

/// A rate-2 sponge from `[0, 0, capacity]`: each active pair is absorbed, an inactive
/// one leaves the state as it is. Returns the final state.
pub fn sponge(capacity: Fp, pairs: impl IntoIterator<Item = ([Fp; 2], bool)>) -> SpongeState {
    pairs.into_iter().fold([Fp::ZERO, Fp::ZERO, capacity], |state, (pair, active)| {
        if active {
            absorb(state, pair)
        } else {
            state
        }
    })
}

/// Kind of a committed entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A position (instrument, quantity).
    Position = 1,
    /// A collateral holding (asset, amount).
    Collateral = 2,
}

/// Bit position of an entry's kind.
pub const KIND_SHIFT: u32 = 232;
/// Bit position of an entry's id.
pub const ID_SHIFT: u32 = 72;
/// Offset added to an entry's signed value: v + 2^70 ∈ [0, 2^72) for |v| < 2^69.
pub const VALUE_OFFSET_BITS: u32 = 70;
/// Values must satisfy |v| < 2^69 (SPEC bounds give |v| ≤ 10^20 < 2^67).
pub const VALUE_BITS: u32 = 69;

/// The packed entry `kind·2^232 + id·2^72 + (v + 2^70)`. Injective only within the
/// bounds (id < 2^160, |v| < 2^69), which every parsed input meets; the circuit
/// range-checks them, so an out-of-bound opening packs but never proves.
pub fn pack_entry(kind: EntryKind, id: Fp, value: i128) -> Fp {
    Fp::from(kind as u64) * pow2(KIND_SHIFT) + id * pow2(ID_SHIFT) + signed_to_field(value) + pow2(VALUE_OFFSET_BITS)
}

/// The entries of a list, packed and padded with one 0 to an even length.
fn packed_pairs(kind: EntryKind, entries: &[(Fp, i128)]) -> Vec<Fp> {
    let mut packed: Vec<Fp> = entries.iter().map(|&(id, v)| pack_entry(kind, id, v)).collect();
    if packed.len() % 2 == 1 {
        packed.push(Fp::ZERO);
    }
    packed
}

/// What opens one account's commitment, already encoded as field elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountOpening {
    /// Venue id element.
    pub venue: Fp,
    /// Account id element.
    pub account: Fp,
    /// Salt element.
    pub salt: Fp,
    /// (instrument id element, qty) in canonical order.
    pub positions: Vec<(Fp, i128)>,
    /// (asset id element, amount) in canonical order.
    pub collateral: Vec<(Fp, i128)>,
}

impl AccountOpening {
    /// Encodes an account from its names, salt and entries; sorts entries canonically.
    pub fn new(
        venue: &str,
        account: &str,
        salt: &[u8; 32],
        positions: &[(String, i128)],
        collateral: &[(String, i128)],
    ) -> AccountOpening {
        let sorted = |entries: &[(String, i128)], kind: IdKind| {
            let mut entries = entries.to_vec();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            entries.into_iter().map(|(id, x)| (id_to_field(kind, &id), x)).collect()
        };
        AccountOpening {
            venue: id_to_field(IdKind::Venue, venue),
            account: id_to_field(IdKind::Account, account),
            salt: salt_to_field(salt),
            positions: sorted(positions, IdKind::Instrument),
            collateral: sorted(collateral, IdKind::Asset),
        }
    }

    /// The opening of a padding account slot: zero names and salt, no entries.
    pub fn padding() -> AccountOpening {
        AccountOpening {
            venue: Fp::zero(),
            account: Fp::zero(),
            salt: Fp::zero(),
            positions: vec![],
            collateral: vec![],
        }
    }

    /// The message the sponge absorbs: header, positions, collateral (see the module).
    pub fn message(&self) -> Vec<Fp> {
        let mut message = vec![self.venue, self.account, self.salt, Fp::ZERO];
        message.extend(packed_pairs(EntryKind::Position, &self.positions));
        message.extend(packed_pairs(EntryKind::Collateral, &self.collateral));
        message
    }

    /// The commitment.
    pub fn commitment(&self) -> Fp {
        sponge(commit_capacity(), self.message().chunks(2).map(|p| ([p[0], p[1]], true)))[0]
    }
}

#[cfg(test)]
mod tests {
    use halo2_poseidon::{ConstantLength, Hash};

    use super::*;

    fn opening(salt: u8, positions: &[(&str, i128)]) -> AccountOpening {
        let positions: Vec<_> = positions.iter().map(|(i, q)| (i.to_string(), *q)).collect();
        AccountOpening::new("deribit", "sub-1", &[salt; 32], &positions, &[("USDC".into(), 5)])
    }

    #[test]
    fn native_permutation_is_poseidon() {
        // halo2_poseidon's two-element hash is one permutation of [a, b, 2·2^64], read at word 0.
        let (a, b) = (Fp::from(3), Fp::from(5));
        let hash = Hash::<Fp, P128Pow5T3, ConstantLength<2>, 3, 2>::init().hash([a, b]);
        assert_eq!(permute([a, b, Fp::from_u128(2 << 64)])[0], hash);
    }

    #[test]
    fn packing_keeps_every_part() {
        let id = Fp::from(7);
        let e = pack_entry(EntryKind::Position, id, -3);
        let expected = Fp::from(1) * pow2(232) + Fp::from(7) * pow2(72) + pow2(70) - Fp::from(3);
        assert_eq!(e, expected);
        assert_ne!(e, pack_entry(EntryKind::Collateral, id, -3));
        assert_ne!(e, pack_entry(EntryKind::Position, id + Fp::ONE, -3));
    }

    #[test]
    fn readme_test_vector() {
        use crate::encoding::field_to_hex;
        let o = AccountOpening::new(
            "deribit",
            "sub-1",
            &[1; 32],
            &[("BTC-PERP".into(), -250_000_000)],
            &[("USDC".into(), -500_000_000_000), ("BTC".into(), 120_000_000)],
        );
        let m: Vec<String> = o.message().iter().map(field_to_hex).collect();
        assert_eq!(m[0], "9fcc5d40862232153e5d1f59f42137d510a322f7e00a0421ca8f675550aae800");
        assert_eq!(m[1], "b9c4b7c91a00becf41ad6e1a31f82ffa8848db037074770aa44a40b84ff50000");
        assert_eq!(m[2], "b2f6c0c5002516514a73a79e3ab8f24de131387e0bdfd53123ad0ad0775dd500");
        assert_eq!(m[4], "804d19f1ffffffff3ff164e3faab1b0e9e66c2a0ce5585a230f26c27b7010000");
        assert_eq!(m[6], "000e270700000000405fb09ee59209ee5a06d06120da966af74fcd76ee020000");
        assert_eq!(m[7], "0078ad958bffffff3f8998e05920dc50b91a5f86c9db26a7697a17a6cf020000");
        assert_eq!((m.len(), &m[3][..], &m[5][..]), (8, &"00".repeat(32)[..], &"00".repeat(32)[..]));
        assert_eq!(field_to_hex(&commit_capacity()), "7a6b6d617267696e3a636f6d6d69743200000000000000000000000000000000");
        assert_eq!(field_to_hex(&o.commitment()), "ebde2bd9809750e23f6b5fb94b72ccae723d2a2468f26593bd8a95b5fb10362a");
    }

    #[test]
    fn readme_second_test_vector_orders_by_id_string() {
        // BTC, ETH, USDC in the order of their id strings; ordering by the hashed ids
        // (ETH before BTC) would give e5968cef…, and by their little-endian values 69ce0f21….
        use crate::encoding::field_to_hex;
        let o = AccountOpening::new(
            "okx",
            "main",
            &[2; 32],
            &[("BTC-PERP".into(), 100_000_000), ("BTC-27MAR27-80000-P".into(), -300_000_000)],
            &[("USDC".into(), 100_000_000_000), ("ETH".into(), 1_000_000_000), ("BTC".into(), 50_000_000)],
        );
        assert_eq!(field_to_hex(&o.commitment()), "be76bcac42a2f7d263eedcc055b81f87751d45f05f8a1dcbebbcd1ffc155911f");
    }

    #[test]
    fn order_of_entries_does_not_matter() {
        let a = opening(1, &[("A", 1), ("B", -2)]).commitment();
        let b = opening(1, &[("B", -2), ("A", 1)]).commitment();
        assert_eq!(a, b);
    }

    #[test]
    fn every_input_changes_the_commitment() {
        let base = opening(1, &[("A", 1)]).commitment();
        assert_ne!(base, opening(2, &[("A", 1)]).commitment(), "salt");
        assert_ne!(base, opening(1, &[("A", 2)]).commitment(), "qty");
        assert_ne!(base, opening(1, &[("B", 1)]).commitment(), "instrument");
        assert_ne!(base, opening(1, &[("A", 1), ("B", 0)]).commitment(), "an extra zero position");
        let other_venue = AccountOpening::new("okx", "sub-1", &[1; 32], &[("A".into(), 1)], &[("USDC".into(), 5)]);
        assert_ne!(base, other_venue.commitment(), "venue");
    }
}
