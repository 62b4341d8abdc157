// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title MarginVerdictRegistry
/// @notice Records zkmargin verdicts that a quorum of verifier services signed, for
/// lenders' contracts to read. Each service verified the zero-knowledge margin proof
/// itself (off chain) and signed an EIP-712 `MarginVerdict` only because it was valid:
/// the chain trusts K of the N services listed here, not the proof directly.
/// @dev The signers and the quorum are fixed at deployment. The EIP-712 domain is
/// (name "zkmargin", version "1", this chain's id, this contract's address), so a
/// signature made for another chain or another registry recovers another address and is
/// refused as an unlisted signer. OpenZeppelin's ECDSA refuses malleable (high-s)
/// signatures and any signature that is not 65 bytes.
contract MarginVerdictRegistry is EIP712 {
    /// @notice What a quorum of verifier services vouches for.
    /// @param nonce the statement's 32-byte nonce: a lender's contract derives it (e.g.
    /// from itself, the borrower and the loan), so the proof is bound to that borrower.
    /// @param marketDigest the market snapshot's digest (SHA-256) the proof was checked against.
    /// @param marketAsOf the market snapshot's `as_of`, Unix seconds.
    /// @param statementHash SHA-256 of "zkmargin-statement/1\n" ‖ market digest ‖ the
    /// statement's canonical JSON: the hash whose first 248 bits the proof binds.
    /// @param level 0 initial margin, 1 maintenance margin.
    /// @param threshold the proven excess threshold T, in units of 10^-6 of the quote currency.
    /// @param validUntil marketAsOf + the services' `verdict_ttl_seconds`: no longer
    /// accepted, nor covering, after this time (Unix seconds).
    struct MarginVerdict {
        bytes32 nonce;
        bytes32 marketDigest;
        uint64 marketAsOf;
        bytes32 statementHash;
        uint8 level;
        uint256 threshold;
        uint64 validUntil;
    }

    /// @notice keccak256 of the EIP-712 type string.
    bytes32 public constant VERDICT_TYPEHASH = keccak256(
        "MarginVerdict(bytes32 nonce,bytes32 marketDigest,uint64 marketAsOf,bytes32 statementHash,uint8 level,uint256 threshold,uint64 validUntil)"
    );

    /// @notice Level of an initial-margin statement.
    uint8 public constant LEVEL_INITIAL = 0;
    /// @notice Level of a maintenance-margin statement.
    uint8 public constant LEVEL_MAINTENANCE = 1;
    /// @notice At most this many signers (one bit each in a 256-bit word).
    uint256 public constant MAX_SIGNERS = 255;

    /// @notice Distinct listed signatures a verdict needs.
    uint256 public immutable quorum;

    /// @dev A stored verdict in three slots (the nonce is its key). The threshold fits
    /// 96 bits: a statement's threshold is at most 10^12 with 6 decimals (10^18 units).
    struct Stored {
        bytes32 marketDigest;
        bytes32 statementHash;
        uint64 marketAsOf;
        uint64 validUntil;
        uint8 level;
        uint96 threshold;
    }

    /// @dev signer address => its index + 1 (0: not listed).
    mapping(address => uint256) private signerIndex;
    address[] private signerList;
    mapping(bytes32 => Stored) private verdicts;

    /// @notice A verdict reached its quorum and is stored under its nonce.
    event VerdictAccepted(
        bytes32 indexed nonce,
        bytes32 indexed statementHash,
        bytes32 marketDigest,
        uint64 marketAsOf,
        uint8 level,
        uint256 threshold,
        uint64 validUntil
    );

    /// @notice The signer list or quorum given at deployment is not usable.
    error BadConfiguration(string why);
    /// @notice The verdict's validUntil has passed.
    error VerdictExpired(uint64 validUntil, uint256 now_);
    /// @notice The verdict's level is neither 0 nor 1.
    error UnknownLevel(uint8 level);
    /// @notice The threshold does not fit the stored 96 bits (no valid statement has one).
    error ThresholdTooLarge(uint256 threshold);
    /// @notice A stored verdict for this nonce is about a newer market.
    error OlderVerdict(uint64 marketAsOf, uint64 storedMarketAsOf);
    /// @notice A signature recovers to an address that is not a listed signer (also what
    /// a signature for another chain, registry or verdict looks like).
    error UnlistedSigner(address recovered);
    /// @notice Fewer distinct listed signers than the quorum.
    error QuorumNotReached(uint256 distinct, uint256 quorum);

    /// @param signers_ the verifier services' addresses (distinct, non-zero, at most 255).
    /// @param quorum_ how many of them must sign a verdict (1 ≤ quorum ≤ signers).
    constructor(address[] memory signers_, uint256 quorum_) EIP712("zkmargin", "1") {
        if (signers_.length == 0 || signers_.length > MAX_SIGNERS) revert BadConfiguration("1 to 255 signers");
        if (quorum_ == 0 || quorum_ > signers_.length) revert BadConfiguration("quorum outside 1..signers");
        for (uint256 i = 0; i < signers_.length; i++) {
            address s = signers_[i];
            if (s == address(0)) revert BadConfiguration("zero signer");
            if (signerIndex[s] != 0) revert BadConfiguration("signer listed twice");
            signerIndex[s] = i + 1;
        }
        signerList = signers_;
        quorum = quorum_;
    }

    /// @notice The listed signers, in deployment order.
    function signers() external view returns (address[] memory) {
        return signerList;
    }

    /// @notice The EIP-712 struct hash of a verdict (what the services sign, before the domain).
    function hashVerdict(MarginVerdict calldata v) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                VERDICT_TYPEHASH,
                v.nonce,
                v.marketDigest,
                v.marketAsOf,
                v.statementHash,
                v.level,
                v.threshold,
                v.validUntil
            )
        );
    }

    /// @notice The EIP-712 digest a service signs for `v` on this chain and registry.
    function digestOf(MarginVerdict calldata v) public view returns (bytes32) {
        return _hashTypedDataV4(hashVerdict(v));
    }

    /// @notice Stores `v` under its nonce if `signatures` hold at least `quorum` distinct
    /// listed signers over its EIP-712 digest, it has not expired, and no verdict about a
    /// newer market is stored for its nonce. A repeated signer counts once; any signature
    /// by an unlisted address (or not over this digest) refuses the whole call.
    function submit(MarginVerdict calldata v, bytes[] calldata signatures) external {
        if (block.timestamp > v.validUntil) revert VerdictExpired(v.validUntil, block.timestamp);
        if (v.level > LEVEL_MAINTENANCE) revert UnknownLevel(v.level);
        if (v.threshold > type(uint96).max) revert ThresholdTooLarge(v.threshold);
        Stored storage slot = verdicts[v.nonce];
        uint64 storedAsOf = slot.marketAsOf;
        if (slot.validUntil != 0 && v.marketAsOf < storedAsOf) revert OlderVerdict(v.marketAsOf, storedAsOf);

        bytes32 digest = _hashTypedDataV4(hashVerdict(v));
        uint256 seen;
        uint256 distinct;
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = ECDSA.recoverCalldata(digest, signatures[i]);
            uint256 index = signerIndex[signer];
            if (index == 0) revert UnlistedSigner(signer);
            uint256 bit = 1 << (index - 1);
            if (seen & bit == 0) {
                seen |= bit;
                distinct++;
            }
        }
        if (distinct < quorum) revert QuorumNotReached(distinct, quorum);

        verdicts[v.nonce] = Stored({
            marketDigest: v.marketDigest,
            statementHash: v.statementHash,
            marketAsOf: v.marketAsOf,
            validUntil: v.validUntil,
            level: v.level,
            threshold: uint96(v.threshold)
        });
        emit VerdictAccepted(v.nonce, v.statementHash, v.marketDigest, v.marketAsOf, v.level, v.threshold, v.validUntil);
    }

    /// @notice The verdict stored for `nonce` (all zero but the nonce when none is).
    function verdictOf(bytes32 nonce) external view returns (MarginVerdict memory v) {
        Stored storage s = verdicts[nonce];
        v.nonce = nonce;
        v.marketDigest = s.marketDigest;
        v.marketAsOf = s.marketAsOf;
        v.statementHash = s.statementHash;
        v.level = s.level;
        v.threshold = s.threshold;
        v.validUntil = s.validUntil;
    }

    /// @notice Whether a stored, unexpired verdict for `nonce` states margin at exactly
    /// `level` with a threshold of at least `minThreshold` (units of 10^-6).
    /// @dev The level must match exactly: an initial-margin verdict also answers a
    /// maintenance request only on a monotone market (every initial rate ≥ its
    /// maintenance rate), which this contract cannot see. A lender that wants either
    /// asks twice.
    function isCovered(bytes32 nonce, uint8 level, uint256 minThreshold) external view returns (bool) {
        Stored storage s = verdicts[nonce];
        return s.validUntil != 0 && block.timestamp <= s.validUntil && s.level == level && s.threshold >= minThreshold;
    }
}
