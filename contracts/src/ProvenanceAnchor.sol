// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ProvenanceAnchor
/// @notice Anchors transparency-log checkpoints on chain: `(origin hash, tree size, root hash)`.
///         Each log registers once; from then on only its registered submitter may anchor, and
///         only with a strictly larger tree size. A verifier that finds an anchor for size N
///         checks a Merkle consistency proof from N to the checkpoint it holds, so a log cannot
///         show one history on chain and another to its clients.
/// @dev    Gas matters (the issue sets ≤ 30,000 per anchor): the submitter and the last size
///         share one storage slot, and the root lives only in the event, where verifiers read it.
contract ProvenanceAnchor {
    struct Log {
        address submitter; // 20 bytes
        uint64 size; //        8 bytes: same slot as submitter
    }

    /// @notice Logs by keccak256 of their checkpoint origin line (without the newline).
    mapping(bytes32 => Log) public logs;

    /// @notice A log was registered with its submitter and the hash of its checkpoint key.
    event LogRegistered(bytes32 indexed originHash, address indexed submitter, bytes32 logKeyHash);
    /// @notice The submitter of a log changed (key rotation).
    event SubmitterChanged(bytes32 indexed originHash, address indexed submitter);
    /// @notice A checkpoint was anchored.
    event Anchored(bytes32 indexed originHash, uint64 size, bytes32 root);

    error AlreadyRegistered(bytes32 originHash);
    error UnknownLog(bytes32 originHash);
    error NotSubmitter(bytes32 originHash, address caller);
    error SizeNotGrowing(bytes32 originHash, uint64 anchored, uint64 given);
    error ZeroSubmitter();

    /// @notice Registers a log; the caller becomes its submitter.
    /// @param originHash keccak256 of the log's origin line.
    /// @param logKeyHash SHA-256 of the log's checkpoint signing public key (for verifiers).
    function registerLog(bytes32 originHash, bytes32 logKeyHash) external {
        if (logs[originHash].submitter != address(0)) revert AlreadyRegistered(originHash);
        logs[originHash] = Log({submitter: msg.sender, size: 0});
        emit LogRegistered(originHash, msg.sender, logKeyHash);
    }

    /// @notice Hands the submitter role of a log to another account.
    function setSubmitter(bytes32 originHash, address submitter) external {
        Log storage log = logs[originHash];
        if (log.submitter == address(0)) revert UnknownLog(originHash);
        if (log.submitter != msg.sender) revert NotSubmitter(originHash, msg.sender);
        if (submitter == address(0)) revert ZeroSubmitter();
        log.submitter = submitter;
        emit SubmitterChanged(originHash, submitter);
    }

    /// @notice Anchors a checkpoint of `size` entries with Merkle root `root`.
    function anchor(bytes32 originHash, uint64 size, bytes32 root) external {
        Log memory log = logs[originHash];
        if (log.submitter == address(0)) revert UnknownLog(originHash);
        if (log.submitter != msg.sender) revert NotSubmitter(originHash, msg.sender);
        if (size <= log.size) revert SizeNotGrowing(originHash, log.size, size);
        logs[originHash].size = size;
        emit Anchored(originHash, size, root);
    }
}
