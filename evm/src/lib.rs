//! zkmargin-evm: verdicts an EVM contract can act on (on-chain use, step 1).
//!
//! A verifier service that checked a margin proof itself signs an EIP-712
//! [`MarginVerdict`] with a secp256k1 key; the registry contract
//! (`contracts/MarginVerdictRegistry.sol`) stores a verdict that K of its N listed
//! services signed, and lenders' contracts read it. This crate is the Rust side of that
//! contract:
//!
//! - [`verdict`]: the typed struct (alloy `sol!`), its EIP-712 domain, how a verdict is
//!   derived from a statement, and its JSON file form;
//! - [`key`]: secp256k1 keys (deterministic RFC 6979 signing, low-s);
//! - [`decide`]: what the registry would decide about a verdict and its signatures,
//!   offline, and the `submit` calldata.
//!
//! Every ABI and EIP-712 encoding is alloy's (`alloy-sol-types`); nothing is hand-encoded.
//! Dependencies: this crate → the circuits (the statement's binding hash).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod decide;
pub mod key;
pub mod verdict;

pub use alloy_primitives::{self, Address, B256, U256};
pub use alloy_sol_types;
pub use decide::{submit_calldata, Decision, Refusal, SignerSet};
pub use key::EvmKey;
pub use verdict::{domain, MarginVerdict, SignedVerdict, VerdictError, DOMAIN_NAME, DOMAIN_VERSION, VERDICT_TYPE};

/// The registry contract's ABI, as alloy types (`sol!`): the verdict struct and the calls
/// a wallet, a test or a lender makes.
pub mod abi {
    alloy_sol_types::sol! {
        #![sol(all_derives)]
        /// What a quorum of verifier services vouches for (see the crate's README section
        /// "On-chain use" for each field).
        struct MarginVerdict {
            bytes32 nonce;
            bytes32 marketDigest;
            uint64 marketAsOf;
            bytes32 statementHash;
            uint8 level;
            uint256 threshold;
            uint64 validUntil;
        }

        /// Stores a verdict signed by a quorum of listed signers.
        function submit(MarginVerdict verdict, bytes[] signatures);
        /// The verdict stored for a nonce.
        function verdictOf(bytes32 nonce) returns (MarginVerdict);
        /// Whether an unexpired verdict at exactly `level` with at least `minThreshold` is stored.
        function isCovered(bytes32 nonce, uint8 level, uint256 minThreshold) returns (bool);
        /// The EIP-712 struct hash of a verdict.
        function hashVerdict(MarginVerdict v) returns (bytes32);
        /// The EIP-712 digest of a verdict on this chain and registry.
        function digestOf(MarginVerdict v) returns (bytes32);
        /// Distinct listed signatures a verdict needs.
        function quorum() returns (uint256);
        /// The listed signers.
        function signers() returns (address[]);

        /// Emitted for each accepted verdict.
        event VerdictAccepted(bytes32 indexed nonce, bytes32 indexed statementHash, bytes32 marketDigest, uint64 marketAsOf, uint8 level, uint256 threshold, uint64 validUntil);

        /// The verdict's validUntil has passed.
        error VerdictExpired(uint64 validUntil, uint256 now_);
        /// The verdict's level is neither 0 nor 1.
        error UnknownLevel(uint8 level);
        /// The threshold does not fit the stored 96 bits.
        error ThresholdTooLarge(uint256 threshold);
        /// A stored verdict for this nonce is about a newer market.
        error OlderVerdict(uint64 marketAsOf, uint64 storedMarketAsOf);
        /// A signature recovers to an unlisted address.
        error UnlistedSigner(address recovered);
        /// Fewer distinct listed signers than the quorum.
        error QuorumNotReached(uint256 distinct, uint256 quorum);
        /// OpenZeppelin ECDSA: the signature's s is in the upper half of the order.
        error ECDSAInvalidSignatureS(bytes32 s);
        /// OpenZeppelin ECDSA: the signature is not 65 bytes.
        error ECDSAInvalidSignatureLength(uint256 length);
        /// OpenZeppelin ECDSA: ecrecover found no signer.
        error ECDSAInvalidSignature();
    }
}
