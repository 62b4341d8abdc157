// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.30;

/// @notice What a lender's contract reads from the registry.
interface IMarginVerdictRegistry {
    function isCovered(bytes32 nonce, uint8 level, uint256 minThreshold) external view returns (bool);
}

/// @title ExampleLender
/// @notice A minimal lender for the tests and the README: it extends credit to a borrower
/// only while the registry holds a quorum-signed verdict, for the nonce this contract
/// derives from itself, the borrower and the loan, stating at least the excess it asks.
contract ExampleLender {
    IMarginVerdictRegistry public immutable registry;
    /// @notice The margin level the lender asks for (0 initial, 1 maintenance).
    uint8 public immutable level;
    /// @notice The least proven excess, units of 10^-6.
    uint256 public immutable minThreshold;

    /// @notice Credit extended to each borrower.
    mapping(address => uint256) public credit;

    event CreditExtended(address indexed borrower, uint256 indexed loanId, uint256 amount);

    error NotCovered(bytes32 nonce);

    constructor(IMarginVerdictRegistry registry_, uint8 level_, uint256 minThreshold_) {
        registry = registry_;
        level = level_;
        minThreshold = minThreshold_;
    }

    /// @notice The nonce the borrower's proof must carry for `loanId`.
    function nonceFor(address borrower, uint256 loanId) public view returns (bytes32) {
        return keccak256(abi.encode(address(this), borrower, loanId));
    }

    /// @notice Extends `amount` of credit to the caller if its proof is on the registry.
    function borrow(uint256 loanId, uint256 amount) external {
        bytes32 nonce = nonceFor(msg.sender, loanId);
        if (!registry.isCovered(nonce, level, minThreshold)) revert NotCovered(nonce);
        credit[msg.sender] += amount;
        emit CreditExtended(msg.sender, loanId, amount);
    }
}
