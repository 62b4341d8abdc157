//! The market snapshot at one margin level, as the circuit's fixed lookup tables and the
//! public numbers its layout is built for.

use ff::PrimeField;

use crate::encoding::{id_to_field, pow2, Fp};
use crate::fixed::RATE_SCALE;
use crate::market::{Level, Market};

/// The instrument table stores each P&L plus 2^PNL_SHIFT_BITS: small non-negative
/// numbers (|P&L| < 2^60), which a verifier commits to far faster than signed ones.
pub const PNL_SHIFT_BITS: u32 = 60;
const _: () = assert!(crate::fixed::MAX_MONEY_UNITS < 1 << PNL_SHIFT_BITS);

/// The padding instrument's P&L in every scenario: −2^60, stored as 0, so that the
/// table's first row, the padding instrument (index 0, id 0, every other number 0), is
/// all zeros, the tuple a disabled lookup row presents and halo2 repeats down the unused
/// rows. It is the table's only id-0 row, and no position may name it (the account
/// chip), so the nets of id-0 rows (padding) sum to zero (the logUp balance), and with
/// one tuple for all of them they add nothing.
pub const PADDING_PNL: i128 = -(1 << PNL_SHIFT_BITS);

/// Bit position of the notional an instrument without one carries in the table: any net
/// position in it puts its group's gross notional at or above 2^160, which a leverage
/// claim's 160-bit range check refuses (a real gross notional is below 2^152:
/// |n| < 2^80, notional < 2^60, at most 2^12 net slots).
pub const MISSING_NOTIONAL_BITS: u32 = 160;

/// The width a tier without an upper bound stands for: 2^70 − 1, above any holding
/// (|x| < 2^70), so `width − part` stays a 70-bit number.
pub fn open_width() -> Fp {
    pow2(70) - Fp::one()
}

/// The closing's factors at the statement's level: `a = lf·o` on the joint worst and
/// `b = lf·(10^6 − o)` on the sum of class worsts (rate² units).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Factors {
    /// lf·o.
    pub joint: i128,
    /// lf·(10^6 − o).
    pub classes: i128,
}

impl Factors {
    /// The factors of loss factor `lf` and class offset `o` (rate units); `o` is 10^6
    /// where classes are not margined apart.
    pub fn new(loss_factor: i128, offset: i128) -> Factors {
        Factors { joint: loss_factor * offset, classes: loss_factor * (RATE_SCALE - offset) }
    }
}

/// One instrument row: id element and its level-specific numbers (money units).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentRow {
    /// Index: market order + 1 (0 is the padding instrument).
    pub index: u64,
    /// Instrument id element.
    pub id: Fp,
    /// Mark.
    pub mark: i128,
    /// Linear rate at the level.
    pub linear: i128,
    /// Short charge at the level.
    pub short_charge: i128,
    /// Notional, money units (`None`: the market gives none; the table holds
    /// 2^[`MISSING_NOTIONAL_BITS`]).
    pub notional: Option<i128>,
    /// Risk class: index into [`MarketTables::classes`].
    pub class: u64,
    /// P&L per scenario lane (zero beyond the market's scenarios).
    pub pnl: Vec<i128>,
}

impl InstrumentRow {
    /// The notional as the table holds it.
    pub fn notional_cell(&self) -> Fp {
        match self.notional {
            Some(n) => Fp::from_u128(n as u128),
            None => pow2(MISSING_NOTIONAL_BITS),
        }
    }
}

/// One tier of an asset as the table holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierRow {
    /// 1 − haircut, rate units.
    pub complement: i128,
    /// The tier's width, quantity units (`None` for the open-ended tier, held as
    /// [`open_width`]; 0 for a tier beyond the asset's own, so that no part can go there).
    pub width: Option<i128>,
}

impl TierRow {
    /// The width as the table holds it.
    pub fn width_cell(&self) -> Fp {
        self.width.map_or_else(open_width, |w| Fp::from_u128(w as u128))
    }
}

/// One asset row: its tiers, padded to the market's [`MarketTables::tiers`] with
/// zero-width tiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetRow {
    /// Asset id element.
    pub id: Fp,
    /// Price, money units.
    pub price: i128,
    /// The tiers, cheapest first.
    pub tiers: Vec<TierRow>,
}

/// Everything of the market the circuit needs at one level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketTables {
    /// Scenario lanes.
    pub lanes: usize,
    /// The market's scenarios (lanes at or beyond carry zero P&L).
    pub scenarios: usize,
    /// Loss factor at the level, rate units.
    pub loss_factor: i128,
    /// Class offset at the level, rate units (1e6 when the market gives none).
    pub class_offset: i128,
    /// Number of risk classes (1 when no instrument names one).
    pub classes: usize,
    /// Tiers per asset: the most any asset has (1 without tiered haircuts).
    pub tiers: usize,
    /// Instruments in market order.
    pub instruments: Vec<InstrumentRow>,
    /// Assets in market order.
    pub assets: Vec<AssetRow>,
}

impl MarketTables {
    /// The tables of `market` at `level`, with `lanes` scenario lanes (≥ S).
    pub fn new(market: &Market, level: Level, lanes: usize) -> MarketTables {
        assert!(lanes >= market.scenarios.len(), "lanes must cover every scenario");
        let (class_names, class_of) = market.classes();
        let tiers = market.assets.iter().map(|a| a.bands().len()).max().unwrap_or(1);
        MarketTables {
            lanes,
            scenarios: market.scenarios.len(),
            loss_factor: market.loss_factor.at(level),
            class_offset: market.class_offset_at(level),
            classes: class_names.len().max(1),
            tiers,
            instruments: market
                .instruments
                .iter()
                .enumerate()
                .map(|(n, i)| {
                    let mut pnl = i.pnl.clone();
                    pnl.resize(lanes, 0);
                    InstrumentRow {
                        index: n as u64 + 1,
                        id: id_to_field(crate::encoding::IdKind::Instrument, &i.id),
                        mark: i.mark,
                        linear: i.linear.at(level),
                        short_charge: i.short_charge.at(level),
                        notional: i.notional,
                        class: class_of[n] as u64,
                        pnl,
                    }
                })
                .collect(),
            assets: market
                .assets
                .iter()
                .map(|a| {
                    let mut rows: Vec<TierRow> = a
                        .bands()
                        .iter()
                        .map(|b| TierRow { complement: b.complement, width: b.width })
                        .collect();
                    rows.resize(tiers, TierRow { complement: 0, width: Some(0) });
                    AssetRow { id: id_to_field(crate::encoding::IdKind::Asset, &a.id), price: a.price, tiers: rows }
                })
                .collect(),
        }
    }

    /// Whether the circuit margins each risk class on its own: at least two classes and
    /// an offset below 1 (otherwise every class's figure is the joint one's, SPEC
    /// section 5).
    pub fn class_mode(&self) -> bool {
        self.classes > 1 && self.class_offset < RATE_SCALE
    }

    /// The group closing's factors ([`Factors`]): the offset is 1 (10^6) where classes
    /// are not margined apart.
    pub fn factors(&self) -> Factors {
        let offset = if self.class_mode() { self.class_offset } else { RATE_SCALE };
        Factors::new(self.loss_factor, offset)
    }

    /// The instrument row with this id element.
    pub fn instrument(&self, id: &Fp) -> Option<&InstrumentRow> {
        self.instruments.iter().find(|r| &r.id == id)
    }

    /// The asset row with this id element.
    pub fn asset(&self, id: &Fp) -> Option<&AssetRow> {
        self.assets.iter().find(|r| &r.id == id)
    }
}
