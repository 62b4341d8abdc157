//! The typed entry points: load a market, parse bundles, verify one or many, and a
//! verdict per bundle (what `zkmargin verify --json` prints and the WebAssembly
//! `verify` returns).

use serde::Serialize;
use serde_json::{json, Value};
use zkmargin_circuits::input::InputError;
use zkmargin_circuits::market::{Level, Market};
use zkmargin_circuits::statement::{StatementAccount, StatementGroup};

pub use crate::bundle::{Bundle, BundleError};
pub use crate::expect::{Expectations, ExpectationsJson, Netting};
pub use crate::verify::{Outcome, Rejection, Verifier, VerifierError};

/// Parses and validates a market snapshot; `source` names it in errors.
pub fn load_market(source: &str, text: &str) -> Result<Market, InputError> {
    Market::from_json(source, text)
}

/// Parses a bundle with bounded cost (see [`Bundle::parse`]).
pub fn parse_bundle(source: &str, text: &str) -> Result<Bundle, BundleError> {
    Bundle::parse(source, text)
}

/// The verdict on one bundle, with what its statement says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Whether the bundle is a valid proof of what was asked.
    pub valid: bool,
    /// Why not, when invalid.
    pub reason: Option<String>,
    /// The market id the bundle names (absent when the bundle did not parse).
    pub market: Option<String>,
    /// The statement's level.
    pub level: Option<Level>,
    /// The statement's threshold.
    pub threshold: Option<String>,
    /// The statement's nonce.
    pub nonce: Option<String>,
    /// The statement's margin-ratio covenant, when it claims one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<String>,
    /// The statement's equity floor, when it claims one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_equity: Option<String>,
    /// The statement's leverage cap, when it claims one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_leverage: Option<String>,
    /// The statement's groups.
    pub groups: Vec<StatementGroup>,
    /// The statement's accounts.
    pub accounts: Vec<StatementAccount>,
}

impl Verdict {
    /// The verdict on a parsed bundle.
    pub fn new(bundle: Option<&Bundle>, outcome: &Outcome) -> Verdict {
        let (valid, reason) = match outcome {
            Outcome::Valid => (true, None),
            Outcome::Invalid(r) => (false, Some(r.to_string())),
        };
        Verdict::with_reason(bundle, valid, reason)
    }

    /// An invalid verdict for a reason found outside the proof (a policy, a parse error).
    pub fn invalid(bundle: Option<&Bundle>, reason: impl Into<String>) -> Verdict {
        Verdict::with_reason(bundle, false, Some(reason.into()))
    }

    fn with_reason(bundle: Option<&Bundle>, valid: bool, reason: Option<String>) -> Verdict {
        let st = bundle.map(|b| &b.statement);
        Verdict {
            valid,
            reason,
            market: bundle.map(|b| b.market.id.clone()),
            level: st.map(|s| s.level),
            threshold: st.map(|s| s.threshold.clone()),
            nonce: st.map(|s| s.nonce.clone()),
            min_ratio: st.and_then(|s| s.min_ratio.clone()),
            min_equity: st.and_then(|s| s.min_equity.clone()),
            max_leverage: st.and_then(|s| s.max_leverage.clone()),
            groups: st.map(|s| s.groups.clone()).unwrap_or_default(),
            accounts: st.map(|s| s.accounts.clone()).unwrap_or_default(),
        }
    }

    /// The JSON object `zkmargin verify --json` prints: `file`, `valid`, `reason` (null
    /// when valid), `market`, `level`, `threshold`, `nonce`, the covenants the statement
    /// claims (`min_ratio`, `min_equity`, `max_leverage`, each only when claimed),
    /// `groups`, `accounts`.
    pub fn to_json(&self, file: &str) -> Value {
        let mut v = serde_json::to_value(self).expect("a verdict always serializes");
        let map = v.as_object_mut().expect("an object");
        let mut out = serde_json::Map::new();
        out.insert("file".into(), json!(file));
        out.append(map);
        Value::Object(out)
    }
}

/// Parses and verifies bundle texts against the given markets: one verdict each, in
/// order. A text that does not parse is an invalid verdict naming why.
pub fn verify_texts(
    verifier: &Verifier,
    markets: &[Market],
    bundles: &[(&str, &str)],
    expect: &Expectations,
) -> Result<Vec<Verdict>, VerifierError> {
    let parsed: Vec<Result<Bundle, BundleError>> = bundles.iter().map(|(name, text)| Bundle::parse(name, text)).collect();
    let good: Vec<Bundle> = parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
    let mut outcomes = verifier.verify_many(markets, &good, expect)?.into_iter();
    Ok(parsed
        .iter()
        .map(|p| match p {
            Ok(b) => Verdict::new(Some(b), &outcomes.next().expect("one outcome per parsed bundle")),
            Err(e) => Verdict::invalid(None, e.to_string()),
        })
        .collect())
}
