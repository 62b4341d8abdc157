//! zkmargin-circuits: the public side of zkmargin.
//!
//! - [`fixed`]: strict fixed-point decimals (SPEC section 2);
//! - [`market`]: the public market snapshot (SPEC section 3) and its digest;
//! - [`input`]: input errors that name the file, the field and the value;
//! - [`encoding`], [`commitment`]: field encodings and the native account commitment;
//! - [`shape`], [`statement`]: circuit shapes and what a proof states (public inputs);
//! - [`tables`], [`witness`]: the market as lookup tables and the prover's private witness;
//! - [`chips`], [`circuit`]: the margin circuit; [`sponges`]: its Poseidon sponges.
//!
//! Nothing here reads files or knows about the command line.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod chips;
pub mod circuit;
pub mod commitment;
pub mod encoding;
pub mod fixed;
pub mod input;
pub mod market;
pub mod shape;
pub mod sponges;
pub mod statement;
pub mod tables;
pub mod time;
pub mod witness;
