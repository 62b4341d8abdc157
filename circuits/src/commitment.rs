//! Account commitments (native side; the circuit recomputes them in
//! [`crate::chips::account`]).
//!
//! An account's commitment depends only on what its venue knows: venue and account
//! names, the salt, and its own positions and collateral. It never depends on the
//! market snapshot or on other accounts, so a venue computes it from its own books.
//!
//! With H(a, b) and H3(a, b, c) = Poseidon-P128Pow5T3 over the constant-length messages
//! (a, b) and (a, b, c) (different lengths are different hash domains):
//! ```text
//! c ← H3(venue, account, salt)
//! for each position   (instrument, qty)   sorted by instrument id (bytes):  c ← H(c, H(instrument, qty))
//! for each collateral (asset, amount)     sorted by asset id (bytes):       c ← H(c, H(asset, amount))
//! commitment = c
//! ```
//! Identifiers, salt and signed numbers are encoded as in [`crate::encoding`];
//! quantities and amounts are integers at 8 decimals. Instrument and asset ids use
//! different hash domains, so a position can never be read as a collateral entry; the
//! header uses its own hash domain (length 3), so no chain step can stand in for it and
//! no prefix of the entries can be cut off an opening.

use halo2_poseidon::{ConstantLength, Hash, P128Pow5T3};

use crate::encoding::{id_to_field, salt_to_field, signed_to_field, Fp, IdKind};

/// Poseidon over two field elements: the only hash the commitment uses.
pub fn hash2(a: Fp, b: Fp) -> Fp {
    Hash::<Fp, P128Pow5T3, ConstantLength<2>, 3, 2>::init().hash([a, b])
}

/// Poseidon over three field elements: the commitment header.
pub fn hash3(a: Fp, b: Fp, c: Fp) -> Fp {
    Hash::<Fp, P128Pow5T3, ConstantLength<3>, 3, 2>::init().hash([a, b, c])
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

    /// The commitment.
    pub fn commitment(&self) -> Fp {
        let mut c = hash3(self.venue, self.account, self.salt);
        for &(id, x) in self.positions.iter().chain(&self.collateral) {
            c = hash2(c, hash2(id, signed_to_field(x)));
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opening(salt: u8, positions: &[(&str, i128)]) -> AccountOpening {
        let positions: Vec<_> = positions.iter().map(|(i, q)| (i.to_string(), *q)).collect();
        AccountOpening::new("deribit", "sub-1", &[salt; 32], &positions, &[("USDC".into(), 5)])
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
