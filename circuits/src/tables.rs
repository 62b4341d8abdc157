//! The market snapshot at one margin level, as the circuit's fixed lookup tables.

use crate::encoding::{id_to_field, Fp, IdKind};
use crate::market::{Level, Market};

/// The instrument table stores each P&L plus 2^PNL_SHIFT_BITS: small non-negative
/// numbers (|P&L| < 2^60), which a verifier commits to far faster than signed ones.
pub const PNL_SHIFT_BITS: u32 = 60;
const _: () = assert!(crate::fixed::MAX_MONEY_UNITS < 1 << PNL_SHIFT_BITS);

/// The padding instrument's P&L in every scenario: −2^60, stored as 0, so that the
/// table's first row, the padding instrument (index 0, id 0, every other number 0), is
/// all zeros, the tuple a disabled lookup row presents and halo2 repeats down the unused
/// rows. It is the table's only id-0 row: the nets of id-0 rows (padding) sum to zero
/// (the logUp balance), so with one P&L for all of them they add nothing.
pub const PADDING_PNL: i128 = -(1 << PNL_SHIFT_BITS);

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
    /// P&L per scenario lane (zero beyond the market's scenarios).
    pub pnl: Vec<i128>,
}

/// One asset row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetRow {
    /// Asset id element.
    pub id: Fp,
    /// Price, money units.
    pub price: i128,
    /// 1 − haircut, rate units.
    pub haircut_complement: i128,
}

/// Everything of the market the circuit needs at one level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketTables {
    /// Scenario lanes.
    pub lanes: usize,
    /// Loss factor at the level, rate units.
    pub loss_factor: i128,
    /// Instruments in market order.
    pub instruments: Vec<InstrumentRow>,
    /// Assets in market order.
    pub assets: Vec<AssetRow>,
}

/// Why this version's circuit cannot state a claim at `level` on `market` exactly, if it
/// cannot: tiered haircuts, and risk classes whose offset at the level is below 1 (their
/// circuit is not built yet). Provers refuse and verifiers reject such claims rather than
/// prove a different figure.
pub fn unsupported(market: &Market, level: Level) -> Option<String> {
    if let Some(asset) = market.assets.iter().find(|a| matches!(a.haircut, crate::market::Haircut::Tiers(_))) {
        return Some(format!("asset {:?} has tiered haircuts, which this version cannot prove yet", asset.id));
    }
    let (classes, _) = market.classes();
    if classes.len() > 1 && market.class_offset_at(level) < crate::fixed::RATE_SCALE {
        return Some(format!(
            "the market's {} risk classes keep an offset below 1 at the {level} level, which this version cannot prove yet",
            classes.len()
        ));
    }
    None
}

impl MarketTables {
    /// The tables of `market` at `level`, with `lanes` scenario lanes (≥ S).
    pub fn new(market: &Market, level: Level, lanes: usize) -> MarketTables {
        assert!(lanes >= market.scenarios.len(), "lanes must cover every scenario");
        MarketTables {
            lanes,
            loss_factor: market.loss_factor.at(level),
            instruments: market
                .instruments
                .iter()
                .enumerate()
                .map(|(n, i)| {
                    let mut pnl = i.pnl.clone();
                    pnl.resize(lanes, 0);
                    InstrumentRow {
                        index: n as u64 + 1,
                        id: id_to_field(IdKind::Instrument, &i.id),
                        mark: i.mark,
                        linear: i.linear.at(level),
                        short_charge: i.short_charge.at(level),
                        pnl,
                    }
                })
                .collect(),
            assets: market
                .assets
                .iter()
                .map(|a| AssetRow {
                    id: id_to_field(IdKind::Asset, &a.id),
                    price: a.price,
                    haircut_complement: a.bands()[0].complement,
                })
                .collect(),
        }
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
