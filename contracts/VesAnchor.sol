// SPDX-License-Identifier: Apache-2.0
// VES anchor: each stream's commitment chain on an EVM chain (ves-protocol.md §2.5, §2.6, §16.11).
// The contract enforces the chain: a stream's first anchored commitment starts at 1, each next one starts at the
// previous end + 1 and carries the previous new_state_root, and new_state_root is recomputed here with SHA-256
// from the commitment's fields, so only a correctly chained VES commitment can be anchored. verifyInclusion checks
// a VES Merkle proof (VES_NODE_V1, PAD_LEAF padding) against an anchored commitment.
pragma solidity 0.8.37;

contract VesAnchor {
    /// One commitment as the sequencer seals it. tenantId / storeId: the UUID's 16 bytes, then 16 zero bytes.
    struct CommitmentInput {
        bytes32 tenantId;
        bytes32 storeId;
        uint64 sequenceStart;
        uint64 sequenceEnd;
        uint32 leafCount;
        bytes32 merkleRoot;
        bytes32 prevStateRoot;
        bytes32 newStateRoot;
    }

    /// An anchored commitment (three storage slots; prevStateRoot is the predecessor's newStateRoot).
    struct Anchored {
        bytes32 merkleRoot;
        bytes32 newStateRoot;
        uint64 sequenceStart;
        uint32 leafCount;
        uint64 blockNumber;
    }

    /// A commitment as the views return it; blockNumber 0 means not anchored.
    struct CommitmentView {
        uint64 sequenceStart;
        uint64 sequenceEnd;
        uint32 leafCount;
        bytes32 merkleRoot;
        bytes32 prevStateRoot;
        bytes32 newStateRoot;
        uint64 blockNumber;
    }

    error NotOwner(address caller);
    error NotSubmitter(address caller);
    error ContractPaused();
    error ZeroAddress();
    error EmptyBatch();
    error InvalidId(bytes32 id);
    error InvalidRange(uint64 sequenceStart, uint64 sequenceEnd);
    error LeafCountMismatch(uint32 expected, uint32 actual);
    error SequenceGap(bytes32 tenantId, bytes32 storeId, uint64 expectedStart, uint64 actualStart);
    error StateRootMismatch(bytes32 tenantId, bytes32 storeId, bytes32 expectedPrev, bytes32 actualPrev);
    error StateRootInvalid(bytes32 tenantId, bytes32 storeId, bytes32 computed, bytes32 actual);

    event CommitmentAnchored(
        bytes32 indexed streamKey,
        bytes32 indexed tenantId,
        bytes32 storeId,
        uint64 sequenceStart,
        uint64 indexed sequenceEnd,
        uint32 leafCount,
        bytes32 merkleRoot,
        bytes32 prevStateRoot,
        bytes32 newStateRoot,
        address submitter
    );
    event SubmitterSet(address indexed submitter, bool allowed);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event Paused(address by);
    event Unpaused(address by);

    // H("VES_PAD_LEAF_V1")
    bytes32 public constant PAD_LEAF = 0xd9dd0e003ba5370a698013c48ed69c6c41d9ebc1236d44b280c52ceacfdad524;
    uint256 public constant MAX_PROOF_SIBLINGS = 64;

    address public owner;
    bool public paused;
    mapping(address => bool) public submitters;
    /// streamKey => sequenceEnd of the stream's last anchored commitment (0: none).
    mapping(bytes32 => uint64) public latestEnd;
    mapping(bytes32 => mapping(uint64 => Anchored)) private anchored;

    constructor(address[] memory initialSubmitters) {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
        for (uint256 i = 0; i < initialSubmitters.length; i++) {
            _setSubmitter(initialSubmitters[i], true);
        }
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    modifier onlySubmitter() {
        if (!submitters[msg.sender]) revert NotSubmitter(msg.sender);
        if (paused) revert ContractPaused();
        _;
    }

    // ---- admin ----

    function setSubmitter(address submitter, bool allowed) external onlyOwner {
        _setSubmitter(submitter, allowed);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function pause() external onlyOwner {
        paused = true;
        emit Paused(msg.sender);
    }

    function unpause() external onlyOwner {
        paused = false;
        emit Unpaused(msg.sender);
    }

    function _setSubmitter(address submitter, bool allowed) private {
        if (submitter == address(0)) revert ZeroAddress();
        submitters[submitter] = allowed;
        emit SubmitterSet(submitter, allowed);
    }

    // ---- anchoring ----

    function anchor(CommitmentInput calldata c) external onlySubmitter {
        _anchor(c);
    }

    /// Several commitments in one transaction, in order (a stream's commitments must appear in chain order).
    function anchorMany(CommitmentInput[] calldata cs) external onlySubmitter {
        if (cs.length == 0) revert EmptyBatch();
        for (uint256 i = 0; i < cs.length; i++) {
            _anchor(cs[i]);
        }
    }

    function _anchor(CommitmentInput calldata c) private {
        if (uint128(uint256(c.tenantId)) != 0) revert InvalidId(c.tenantId);
        if (uint128(uint256(c.storeId)) != 0) revert InvalidId(c.storeId);
        if (c.sequenceStart == 0 || c.sequenceEnd < c.sequenceStart) {
            revert InvalidRange(c.sequenceStart, c.sequenceEnd);
        }
        uint256 span = uint256(c.sequenceEnd) - c.sequenceStart + 1;
        if (span > type(uint32).max || c.leafCount != uint32(span)) {
            revert LeafCountMismatch(span > type(uint32).max ? type(uint32).max : uint32(span), c.leafCount);
        }
        bytes32 key = streamKey(c.tenantId, c.storeId);
        uint64 last = latestEnd[key];
        if (c.sequenceStart != last + 1) revert SequenceGap(c.tenantId, c.storeId, last + 1, c.sequenceStart);
        bytes32 expectedPrev = last == 0 ? bytes32(0) : anchored[key][last].newStateRoot;
        if (c.prevStateRoot != expectedPrev) {
            revert StateRootMismatch(c.tenantId, c.storeId, expectedPrev, c.prevStateRoot);
        }
        bytes32 computed = stateRoot(c);
        if (computed != c.newStateRoot) revert StateRootInvalid(c.tenantId, c.storeId, computed, c.newStateRoot);
        anchored[key][c.sequenceEnd] = Anchored({
            merkleRoot: c.merkleRoot,
            newStateRoot: c.newStateRoot,
            sequenceStart: c.sequenceStart,
            leafCount: c.leafCount,
            blockNumber: uint64(block.number)
        });
        latestEnd[key] = c.sequenceEnd;
        emit CommitmentAnchored(
            key,
            c.tenantId,
            c.storeId,
            c.sequenceStart,
            c.sequenceEnd,
            c.leafCount,
            c.merkleRoot,
            c.prevStateRoot,
            c.newStateRoot,
            msg.sender
        );
    }

    // ---- views ----

    function streamKey(bytes32 tenantId, bytes32 storeId) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(tenantId, storeId));
    }

    /// stream_id = H("VES_STREAM_V1" ‖ UUID(tenant) ‖ UUID(store)) (§2.6).
    function streamId(bytes32 tenantId, bytes32 storeId) public pure returns (bytes32) {
        return sha256(abi.encodePacked("VES_STREAM_V1", bytes16(tenantId), bytes16(storeId)));
    }

    /// new_state_root = H("VES_STATE_ROOT_V1" ‖ stream_id ‖ prev ‖ merkle_root ‖ U64 start ‖ U64 end ‖ U32 count).
    function stateRoot(CommitmentInput calldata c) public pure returns (bytes32) {
        return sha256(
            abi.encodePacked(
                "VES_STATE_ROOT_V1",
                streamId(c.tenantId, c.storeId),
                c.prevStateRoot,
                c.merkleRoot,
                c.sequenceStart,
                c.sequenceEnd,
                c.leafCount
            )
        );
    }

    /// The stream's last anchored commitment: its end and new state root (0 and zeros: none).
    function latest(bytes32 tenantId, bytes32 storeId) external view returns (uint64 sequenceEnd, bytes32 root) {
        bytes32 key = streamKey(tenantId, storeId);
        sequenceEnd = latestEnd[key];
        root = sequenceEnd == 0 ? bytes32(0) : anchored[key][sequenceEnd].newStateRoot;
    }

    /// The commitment of the stream ending at sequenceEnd; blockNumber 0 when none is anchored.
    function getCommitment(bytes32 tenantId, bytes32 storeId, uint64 sequenceEnd)
        external
        view
        returns (CommitmentView memory v)
    {
        bytes32 key = streamKey(tenantId, storeId);
        Anchored storage a = anchored[key][sequenceEnd];
        if (a.blockNumber == 0) return v;
        v.sequenceStart = a.sequenceStart;
        v.sequenceEnd = sequenceEnd;
        v.leafCount = a.leafCount;
        v.merkleRoot = a.merkleRoot;
        v.newStateRoot = a.newStateRoot;
        v.prevStateRoot = a.sequenceStart == 1 ? bytes32(0) : anchored[key][a.sequenceStart - 1].newStateRoot;
        v.blockNumber = a.blockNumber;
    }

    function isAnchored(bytes32 tenantId, bytes32 storeId, uint64 sequenceEnd) external view returns (bool) {
        return anchored[streamKey(tenantId, storeId)][sequenceEnd].blockNumber != 0;
    }

    /// Whether leafHash is leaf leafIndex of the stream's anchored commitment ending at sequenceEnd, by the VES
    /// Merkle rules (§2.5): siblings bottom up, exactly log2(nextPow2(leafCount)) of them; bit d of leafIndex = 0
    /// means the running node is the left child. Any wrong or malformed proof returns false.
    function verifyInclusion(
        bytes32 tenantId,
        bytes32 storeId,
        uint64 sequenceEnd,
        bytes32 leafHash,
        uint256 leafIndex,
        bytes32[] calldata siblings
    ) external view returns (bool) {
        Anchored storage a = anchored[streamKey(tenantId, storeId)][sequenceEnd];
        uint256 leafCount = a.leafCount;
        if (a.blockNumber == 0 || leafIndex >= leafCount || siblings.length > MAX_PROOF_SIBLINGS) return false;
        // Padding is not an event (an index below leafCount never holds PAD_LEAF in an honest tree).
        if (leafHash == PAD_LEAF) return false;
        uint256 depth = 0;
        while ((uint256(1) << depth) < leafCount) depth++;
        if (siblings.length != depth) return false;
        bytes32 node = leafHash;
        uint256 index = leafIndex;
        for (uint256 i = 0; i < depth; i++) {
            node = (index & 1) == 0
                ? sha256(abi.encodePacked("VES_NODE_V1", node, siblings[i]))
                : sha256(abi.encodePacked("VES_NODE_V1", siblings[i], node));
            index >>= 1;
        }
        return node == a.merkleRoot;
    }
}
