//! The credit desk's page (`/desk/`): static files embedded in the binary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;

use super::list::MarketHead;
use super::AppState;

/// What the desk's page needs beside the API.
#[derive(Default)]
pub struct Desk {
    /// Market heads (id, quote) by digest, read once per market for the lists.
    pub(super) heads: Mutex<HashMap<String, MarketHead>>,
}

impl Desk {
    /// The desk's state.
    pub fn new() -> Desk {
        Desk::default()
    }
}

/// The page's routes.
pub(super) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
