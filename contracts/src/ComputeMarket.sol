// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title ComputeMarket
/// @notice Escrow and settlement for Cairn compute jobs. Matching happens off chain: the node
///         (the operator) pairs jobs with providers and records the pairing here; the chain only
///         holds the requester's payment and the providers' stake, and moves them by these rules:
///
///         Open ──assign──▶ Assigned ──commitResult──▶ Committed ──(window over) settle──▶ Settled
///          │ cancel (requester)  │ reassign (operator)    │ challenge (requester/operator)
///          ▼                     ▼                        ▼
///         Cancelled        Refunded (past deadline,   Challenged ──▶ Settled | Refunded (arbiter)
///         Refunded (past    or operator: job failed)
///         acceptBy, or operator)
///
///         A committed result can only be undone through a challenge inside the window, so a
///         provider that delivered is paid unless someone objected in time.
///
///         Committed ──openDispute (bond)──▶ Disputed: a refereed bisection. Each round both
///         sides reveal their trace leaf at a probe index with an RFC 6962 inclusion proof
///         (SHA-256 precompile); after ⌈log2 n⌉ rounds they agree at lo and differ at lo+1, a
///         staked referee recomputes that one segment and rules ──▶ Refunded (provider slashed
///         to the challenger) | Settled (bond to the provider). Timeouts lose; anyone resolves.
/// @dev    Gas matters (the node keeps ≥ 100 jobs/s of bookkeeping on chain): a job is three
///         storage slots, the batch calls move tokens once per batch (or once per run of equal
///         recipients), and everything readers only need to follow history lives in events.
///         The payment token is assumed to move exact amounts (no fee-on-transfer tokens).
contract ComputeMarket is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Where a job is in its life. `None` means the id was never posted.
    enum JobState {
        None,
        Open,
        Assigned,
        Committed,
        Challenged,
        Settled,
        Refunded,
        Cancelled,
        Disputed
    }

    /// @notice Where a bisection dispute is. `None`: no dispute on this job.
    enum DisputePhase {
        None,
        Bisecting, //       both sides reveal their leaf at `probe` each round
        AwaitingReferee, // narrowed to one segment lo→hi (or the size is contested)
        Resolved
    }

    /// @notice A referee's ruling on the segment lo→hi, from the agreed state at lo.
    enum Verdict {
        None,
        ProviderRight, //   the provider's leaf at hi is the recomputed one
        ChallengerRight, // the challenger's leaf at hi is the recomputed one
        NeitherRight //     neither leaf at hi is the recomputed one
    }

    /// @notice How a dispute ended.
    enum Outcome {
        None,
        ProviderWrong, //   provider slashed to the challenger, bond back, job refunded
        ChallengerWrong, // bond to the provider, job settles
        BothWrong, //       provider slashed and bond forfeited to the treasury, job refunded
        NoRuling //         no referee ruled in time: bond back, the result stands and settles
    }

    /// @notice A refereed bisection over two trace roots of `size` checkpoints each.
    struct Dispute {
        address challenger; // slot 0
        uint96 bond; //       slot 0
        address referee; //   slot 1: zero until the operator assigns one
        uint40 deadline; //   slot 1: the current round's (or ruling's) deadline
        DisputePhase phase; // slot 1
        Verdict verdict; //   slot 1
        uint8 revealed; //    slot 1: bit 0 provider, bit 1 challenger (this round)
        bool sizeContested; // slot 1: the provider says `size` is not its trace's
        uint32 lo; //         slot 2: both sides agree on the leaf at lo (lo = 0: the spec's initial state)
        uint32 hi; //         slot 2: the sides' leaves at hi differ
        uint32 probe; //      slot 2: the index revealed this round
        uint32 size; //       slot 2: checkpoints in each trace
        uint16 rounds; //     slot 2: rounds completed
        bytes32 providerRoot;
        bytes32 challengerRoot;
        bytes32 providerLeaf; //   at `probe`, this round
        bytes32 challengerLeaf;
        bytes32 loLeaf; //         the agreed leaf at lo (zero while lo = 0)
        bytes32 providerHiLeaf; // the sides' (different) leaves at hi
        bytes32 challengerHiLeaf;
    }

    /// @notice A referee's bond. One storage slot.
    struct Referee {
        uint96 stake;
        uint32 open; // disputes assigned and not yet ruled
        bool active;
    }

    /// @notice A provider's bond. One storage slot.
    struct Provider {
        uint96 stake; //     bonded and slashable; counts towards eligibility
        uint96 unbonding; // leaving: still slashable, withdrawable from unlockAt on
        uint48 unlockAt; //  when `unbonding` can be withdrawn
        bool active; //      registered and not fully unstaked
    }

    /// @notice A job. Three storage slots.
    struct Job {
        address requester; // slot 0
        uint96 payment; //    slot 0
        address provider; //  slot 1: zero until assigned
        JobState state; //    slot 1
        uint40 deadline; //   slot 1: the provider must commit a result by then
        // slot 1: the time the current state runs out. Open: acceptBy (the job must be assigned
        // by then). Committed/Challenged: the end of the challenge window. acceptBy is dead once
        // a job is assigned, so the two share a field instead of costing a fourth slot.
        uint40 expiry;
        // slot 2: the job spec digest until a result is committed, then
        // resultCommitment(spec, output, trace), binding the three for a later dispute. The
        // separate digests travel in JobPosted and ResultCommitted.
        bytes32 digest;
    }

    /// @notice Basis points in one whole.
    uint16 public constant BPS = 10_000;

    /// @notice The ERC-20 used for payments and stake.
    IERC20 public immutable token;
    /// @notice Seconds between requestUnstake and withdrawStake.
    uint64 public immutable unbondingDelay;
    /// @notice Seconds after commitResult during which the requester or operator may challenge.
    uint64 public immutable challengeWindow;
    /// @notice Fee on each settled payment, in basis points, paid to the treasury.
    uint16 public immutable feeBps;
    /// @notice Receives fees.
    address public immutable treasury;
    /// @notice Stake a provider needs to be assigned jobs.
    uint256 public immutable minStake;

    /// @notice The node: assigns jobs, reassigns, refunds failed jobs, challenges.
    address public operator;
    /// @notice Resolves challenges and slashes (the operator may too). Zero: operator only.
    address public arbiter;
    /// @notice The Ed25519 public key the operator's node signs job receipts with (zero: none
    ///         published). Verifiers read it here instead of trusting what the node says.
    bytes32 public receiptKey;
    /// @notice The id the next posted job gets. Ids start at 1.
    uint256 public nextJobId;

    /// @notice What a challenger posts to open a dispute (lost if it is wrong).
    uint96 public disputeBond;
    /// @notice What a provider that loses a dispute is slashed (at most its whole bond).
    uint96 public disputeSlash;
    /// @notice What the referee that rules is paid, out of the loser's bond or slash.
    uint96 public refereeFee;
    /// @notice Stake a referee needs to be assigned a dispute.
    uint96 public minRefereeStake;
    /// @notice Seconds each side has to answer a round, and a referee to rule.
    uint32 public disputeWindow;

    /// @notice Providers by address.
    mapping(address => Provider) public providers;
    /// @notice Bisection disputes by job id (read with `getDispute`).
    mapping(uint256 => Dispute) private disputes;
    /// @notice Referees by address.
    mapping(address => Referee) public referees;
    /// @notice Jobs by id.
    mapping(uint256 => Job) public jobs;

    /// @notice A provider registered with its first stake.
    event ProviderRegistered(address indexed provider, uint256 stake);
    /// @notice A provider added stake; `stake` is the new total.
    event StakeAdded(address indexed provider, uint256 amount, uint256 stake);
    /// @notice A provider started unbonding `amount`; it can be withdrawn from `unlockAt` on.
    event UnstakeRequested(address indexed provider, uint256 amount, uint64 unlockAt);
    /// @notice A provider withdrew unbonded stake.
    event StakeWithdrawn(address indexed provider, uint256 amount);
    /// @notice A job was posted with its payment escrowed.
    event JobPosted(
        uint256 indexed jobId,
        address indexed requester,
        bytes32 specDigest,
        uint256 payment,
        uint64 acceptBy,
        uint64 deadline
    );
    /// @notice The requester cancelled an open job and got the payment back.
    event JobCancelled(uint256 indexed jobId);
    /// @notice The operator assigned (`previous` zero) or reassigned a job.
    event JobAssigned(uint256 indexed jobId, address indexed provider, address previous);
    /// @notice The assigned provider committed a result; it can be challenged until `challengeEnds`.
    ///         `charge` is what the run cost (metered fuel and time at the job's price); the rest
    ///         of the payment went back to the requester at once.
    event ResultCommitted(
        uint256 indexed jobId,
        address indexed provider,
        bytes32 outputDigest,
        bytes32 traceRoot,
        uint64 challengeEnds,
        uint256 charge
    );
    /// @notice A committed result was challenged.
    event JobChallenged(uint256 indexed jobId, address indexed by);
    /// @notice A job was settled: `paid` to the provider, `fee` to the treasury.
    event JobSettled(uint256 indexed jobId, address indexed provider, uint256 paid, uint256 fee);
    /// @notice The operator closed an assigned job that ended without a result (the module
    ///         faulted, the requester cancelled it while it ran): the provider is paid `paid`
    ///         (plus `fee` to the treasury) for the work metered, the requester gets `refunded`.
    event JobClosed(uint256 indexed jobId, address indexed provider, uint256 paid, uint256 fee, uint256 refunded);
    /// @notice A job's payment went back to its requester.
    event JobRefunded(uint256 indexed jobId, address indexed requester, uint256 amount);
    /// @notice Stake was taken from a provider and paid to `beneficiary`.
    event ProviderSlashed(address indexed provider, uint256 amount, address indexed beneficiary);
    /// @notice The operator changed.
    event OperatorChanged(address indexed previous, address indexed operator);
    /// @notice The operator published the key its node signs job receipts with.
    event ReceiptKeyChanged(bytes32 previous, bytes32 key);
    /// @notice The arbiter changed.
    event ArbiterChanged(address indexed previous, address indexed arbiter);
    /// @notice The operator changed the dispute rules.
    event DisputeRulesChanged(uint256 bond, uint256 slash, uint256 refereeFee, uint256 minRefereeStake, uint32 window);
    /// @notice A challenger disputed job `jobId`'s result with its own trace root over `size`
    ///         checkpoints, naming checkpoint `disputedIndex` as the first it disagrees with
    ///         (or any it disagrees with), and posted `bond`.
    event DisputeOpened(
        uint256 indexed jobId,
        address indexed challenger,
        bytes32 challengerRoot,
        uint32 size,
        uint32 disputedIndex,
        uint256 bond
    );
    /// @notice A bisection round began: both sides reveal their leaf at `probe` by `deadline`.
    event BisectionRound(uint256 indexed jobId, uint16 round, uint32 lo, uint32 hi, uint32 probe, uint64 deadline);
    /// @notice A side revealed its leaf at `index` with a valid inclusion proof.
    event LeafRevealed(uint256 indexed jobId, address indexed by, uint32 index, bytes32 leaf);
    /// @notice The bisection narrowed to one segment: the sides agree at `lo` (`loLeaf`, zero for
    ///         lo = 0: the spec's initial state) and differ at `lo + 1`.
    event BisectionDone(
        uint256 indexed jobId, uint32 lo, bytes32 loLeaf, bytes32 providerLeaf, bytes32 challengerLeaf
    );
    /// @notice The provider says the trace size the challenger stated is not its trace's.
    event SizeContested(uint256 indexed jobId, address indexed provider, uint32 size);
    /// @notice A referee registered (or added to) its stake; `stake` is the new total.
    event RefereeRegistered(address indexed referee, uint256 stake);
    /// @notice A referee left and took its stake back.
    event RefereeLeft(address indexed referee, uint256 stake);
    /// @notice The operator assigned (or replaced, `previous` non-zero) a dispute's referee.
    event RefereeAssigned(uint256 indexed jobId, address indexed referee, address previous, uint64 deadline);
    /// @notice A referee that did not rule in time lost `amount` of its stake to the treasury.
    event RefereePenalized(uint256 indexed jobId, address indexed referee, uint256 amount);
    /// @notice The referee ruled.
    event DisputeRuled(uint256 indexed jobId, address indexed referee, Verdict verdict);
    /// @notice A dispute ended: `slashed` taken from the provider, `refereePaid` to the referee.
    event DisputeResolved(uint256 indexed jobId, Outcome outcome, uint256 slashed, uint256 refereePaid);

    /// @notice An address parameter was zero.
    error ZeroAddress();
    /// @notice The fee is above 100%.
    error InvalidFee(uint16 feeBps);
    /// @notice A delay does not fit in 32 bits of seconds.
    error InvalidDelay(uint64 delay);
    /// @notice An amount was zero.
    error ZeroAmount();
    /// @notice An amount does not fit the 96-bit storage field.
    error AmountTooLarge(uint256 amount);
    /// @notice A batch was empty.
    error EmptyBatch();
    /// @notice Two batch arrays differ in length.
    error LengthMismatch(uint256 expected, uint256 actual);
    /// @notice The caller is not the operator.
    error NotOperator(address caller);
    /// @notice The caller is neither the arbiter nor the operator.
    error NotArbiter(address caller);
    /// @notice The provider is already registered and active.
    error AlreadyRegistered(address provider);
    /// @notice The provider is not registered (or fully unstaked).
    error NotRegistered(address provider);
    /// @notice Registration would leave the stake below the minimum.
    error StakeBelowMinimum(uint256 stake, uint256 minStake);
    /// @notice The provider has less stake than requested.
    error InsufficientStake(address provider, uint256 available, uint256 requested);
    /// @notice The provider has nothing unbonding.
    error NothingToWithdraw(address provider);
    /// @notice The unbonding delay has not passed.
    error StillUnbonding(address provider, uint64 unlockAt, uint64 now);
    /// @notice acceptBy must lie in the future and before the deadline (and fit 40 bits).
    error InvalidTimes(uint64 acceptBy, uint64 deadline, uint64 now);
    /// @notice No job has this id.
    error UnknownJob(uint256 jobId);
    /// @notice The job is not in a state that allows this call.
    error WrongState(uint256 jobId, JobState state);
    /// @notice Only the requester may do this.
    error NotRequester(uint256 jobId, address caller);
    /// @notice Only the requester or the operator may do this.
    error NotRequesterOrOperator(uint256 jobId, address caller);
    /// @notice Only the assigned provider may do this.
    error NotAssignedProvider(uint256 jobId, address caller);
    /// @notice The provider is not active or has less than minStake.
    error ProviderNotEligible(address provider);
    /// @notice The job is already assigned to this provider.
    error SameProvider(uint256 jobId, address provider);
    /// @notice The job was not assigned by its acceptBy time.
    error AcceptWindowClosed(uint256 jobId, uint64 acceptBy);
    /// @notice The job's result deadline has passed.
    error DeadlinePassed(uint256 jobId, uint64 deadline);
    /// @notice The challenge window is over.
    error ChallengeWindowClosed(uint256 jobId, uint64 endsAt);
    /// @notice A charge is larger than the job's payment.
    error ChargeTooHigh(uint256 jobId, uint256 charge, uint256 payment);
    /// @notice The challenge window is still open.
    error ChallengeWindowOpen(uint256 jobId, uint64 endsAt);
    /// @notice The job has not expired yet (anyone may refund it once `expiresAt` has passed).
    error NotExpired(uint256 jobId, uint64 expiresAt);
    /// @notice A job in this state is never refunded.
    error NotRefundable(uint256 jobId, JobState state);
    /// @notice Dispute rules out of range: the referee fee must not exceed the bond or the slash,
    ///         and the window must be positive.
    error InvalidDisputeRules();
    /// @notice The caller may not dispute this job (requester, operator or another eligible provider may).
    error NotAllowedToDispute(uint256 jobId, address caller);
    /// @notice The spec, output and trace root given do not match the job's committed result.
    error ResultMismatch(uint256 jobId);
    /// @notice A trace size below 2, or a disputed index outside 1..size-1.
    error InvalidTraceSize(uint32 size, uint32 disputedIndex);
    /// @notice The dispute is not in the phase this call needs.
    error WrongPhase(uint256 jobId, DisputePhase phase);
    /// @notice Only the job's provider or the dispute's challenger may do this.
    error NotDisputant(uint256 jobId, address caller);
    /// @notice This side already revealed its leaf this round.
    error AlreadyRevealed(uint256 jobId, address caller, uint32 index);
    /// @notice The inclusion proof does not show `leaf` at `index` under the side's trace root.
    error InvalidProof(uint256 jobId, uint32 index, bytes32 leaf);
    /// @notice The round (or ruling) deadline has passed.
    error RoundClosed(uint256 jobId, uint64 deadline);
    /// @notice The round (or ruling) deadline has not passed yet.
    error RoundOpen(uint256 jobId, uint64 deadline);
    /// @notice The caller is not the dispute's assigned referee.
    error NotReferee(uint256 jobId, address caller);
    /// @notice The referee is not registered with enough stake, or is a party to the dispute.
    error RefereeNotEligible(address referee);
    /// @notice The assigned referee still has time to rule.
    error RefereeStillInTime(uint256 jobId, uint64 deadline);
    /// @notice The verdict is not one this dispute allows.
    error InvalidVerdict(uint256 jobId, Verdict verdict);
    /// @notice The referee has disputes to rule and cannot leave yet.
    error RefereeBusy(address referee, uint32 open);
    /// @notice The caller is not a registered referee.
    error NotARegisteredReferee(address caller);

    modifier onlyOperator() {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        _;
    }

    modifier onlyArbiter() {
        if (!_isArbiter(msg.sender)) revert NotArbiter(msg.sender);
        _;
    }

    constructor(
        IERC20 token_,
        address operator_,
        uint64 unbondingDelay_,
        uint64 challengeWindow_,
        uint16 feeBps_,
        address treasury_,
        uint256 minStake_
    ) {
        if (address(token_) == address(0) || operator_ == address(0) || treasury_ == address(0)) {
            revert ZeroAddress();
        }
        if (feeBps_ > BPS) revert InvalidFee(feeBps_);
        if (unbondingDelay_ > type(uint32).max) revert InvalidDelay(unbondingDelay_);
        if (challengeWindow_ > type(uint32).max) revert InvalidDelay(challengeWindow_);
        if (minStake_ > type(uint96).max) revert AmountTooLarge(minStake_);
        token = token_;
        operator = operator_;
        unbondingDelay = unbondingDelay_;
        challengeWindow = challengeWindow_;
        feeBps = feeBps_;
        treasury = treasury_;
        minStake = minStake_;
        // Start at 1 (0 means "no job") and keep the slot non-zero, so posting never pays for
        // a fresh slot.
        nextJobId = 1;
        // Dispute defaults, scaled from the provider minimum (the operator can change them).
        disputeBond = uint96(minStake_ / 10);
        disputeSlash = uint96(minStake_ / 2);
        refereeFee = uint96(minStake_ / 100);
        minRefereeStake = uint96(minStake_);
        disputeWindow = uint32(challengeWindow_ > 0 ? challengeWindow_ : 1);
        emit OperatorChanged(address(0), operator_);
    }

    // ------------------------------------------------------------------ administration

    /// @notice Hands the operator role to `operator_` (key rotation).
    function setOperator(address operator_) external onlyOperator {
        if (operator_ == address(0)) revert ZeroAddress();
        emit OperatorChanged(operator, operator_);
        operator = operator_;
    }

    /// @notice Publishes the Ed25519 key the operator's node signs job receipts with, so a
    ///         receipt can be checked against the market rather than against the node's word.
    function setReceiptKey(bytes32 key) external onlyOperator {
        emit ReceiptKeyChanged(receiptKey, key);
        receiptKey = key;
    }

    /// @notice Sets the arbiter (zero: the operator alone arbitrates).
    function setArbiter(address arbiter_) external onlyOperator {
        emit ArbiterChanged(arbiter, arbiter_);
        arbiter = arbiter_;
    }

    // ------------------------------------------------------------------ providers

    /// @notice Registers the caller as a provider, bonding `amount` (needs an allowance).
    ///         A provider that fully unstaked registers again the same way.
    function registerProvider(uint256 amount) external nonReentrant {
        Provider storage p = providers[msg.sender];
        if (p.active) revert AlreadyRegistered(msg.sender);
        uint256 stake = uint256(p.stake) + amount;
        if (stake < minStake) revert StakeBelowMinimum(stake, minStake);
        p.stake = _u96(stake);
        p.active = true;
        if (amount > 0) token.safeTransferFrom(msg.sender, address(this), amount);
        emit ProviderRegistered(msg.sender, stake);
    }

    /// @notice Bonds `amount` more.
    function addStake(uint256 amount) external nonReentrant {
        Provider storage p = providers[msg.sender];
        if (!p.active) revert NotRegistered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        uint256 stake = uint256(p.stake) + amount;
        p.stake = _u96(stake);
        token.safeTransferFrom(msg.sender, address(this), amount);
        emit StakeAdded(msg.sender, amount, stake);
    }

    /// @notice Starts unbonding `amount`; it stays slashable until withdrawn. Each request
    ///         restarts the delay for everything unbonding. Unstaking everything deactivates.
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Provider storage p = providers[msg.sender];
        uint256 stake = p.stake;
        if (amount > stake) revert InsufficientStake(msg.sender, stake, amount);
        uint64 unlockAt = uint64(block.timestamp) + unbondingDelay;
        p.stake = uint96(stake - amount);
        p.unbonding = _u96(uint256(p.unbonding) + amount);
        p.unlockAt = uint48(unlockAt);
        if (stake == amount) p.active = false;
        emit UnstakeRequested(msg.sender, amount, unlockAt);
    }

    /// @notice Withdraws everything unbonding once the unbonding delay has passed.
    function withdrawStake() external nonReentrant {
        Provider storage p = providers[msg.sender];
        uint256 amount = p.unbonding;
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        if (block.timestamp < p.unlockAt) {
            revert StillUnbonding(msg.sender, p.unlockAt, uint64(block.timestamp));
        }
        p.unbonding = 0;
        token.safeTransfer(msg.sender, amount);
        emit StakeWithdrawn(msg.sender, amount);
    }

    /// @notice Whether `provider` may be assigned jobs now.
    function isEligible(address provider) public view returns (bool) {
        Provider storage p = providers[provider];
        return p.active && p.stake >= minStake;
    }

    // ------------------------------------------------------------------ posting

    /// @notice Posts a job, escrowing `payment` from the caller (needs an allowance).
    /// @param specDigest digest of the job spec (the node's content-addressed JobSpec).
    /// @param acceptBy the job must be assigned by then (unix seconds), else anyone may refund.
    /// @param deadline the result must be committed by then, else anyone may refund.
    function postJob(bytes32 specDigest, uint256 payment, uint64 acceptBy, uint64 deadline)
        external
        nonReentrant
        returns (uint256 jobId)
    {
        _checkTimes(acceptBy, deadline);
        jobId = nextJobId;
        _open(jobId, specDigest, payment, acceptBy, deadline);
        nextJobId = jobId + 1;
        token.safeTransferFrom(msg.sender, address(this), payment);
    }

    /// @notice Posts `specDigests.length` jobs sharing acceptBy and deadline, escrowing the sum
    ///         of `payments` in one transfer. Ids are consecutive from the returned `firstId`.
    function postJobs(
        bytes32[] calldata specDigests,
        uint256[] calldata payments,
        uint64 acceptBy,
        uint64 deadline
    ) external nonReentrant returns (uint256 firstId) {
        uint256 n = specDigests.length;
        if (n == 0) revert EmptyBatch();
        if (payments.length != n) revert LengthMismatch(n, payments.length);
        _checkTimes(acceptBy, deadline);
        firstId = nextJobId;
        uint256 total;
        for (uint256 i; i < n; ++i) {
            _open(firstId + i, specDigests[i], payments[i], acceptBy, deadline);
            total += payments[i];
        }
        nextJobId = firstId + n;
        token.safeTransferFrom(msg.sender, address(this), total);
    }

    /// @notice The requester takes back an Open job's payment.
    function cancelJob(uint256 jobId) external nonReentrant {
        Job storage j = jobs[jobId];
        JobState state = j.state;
        if (state == JobState.None) revert UnknownJob(jobId);
        if (j.requester != msg.sender) revert NotRequester(jobId, msg.sender);
        if (state != JobState.Open) revert WrongState(jobId, state);
        j.state = JobState.Cancelled;
        emit JobCancelled(jobId);
        token.safeTransfer(msg.sender, j.payment);
    }

    // ------------------------------------------------------------------ assignment

    /// @notice Assigns an Open job to an eligible provider (operator, before acceptBy).
    function assignJob(uint256 jobId, address provider) external onlyOperator {
        _assign(jobId, provider);
    }

    /// @notice Assigns `jobIds[i]` to `providers_[i]`; reverts as a whole if any fails.
    function assignJobs(uint256[] calldata jobIds, address[] calldata providers_) external onlyOperator {
        uint256 n = jobIds.length;
        if (n == 0) revert EmptyBatch();
        if (providers_.length != n) revert LengthMismatch(n, providers_.length);
        for (uint256 i; i < n; ++i) {
            _assign(jobIds[i], providers_[i]);
        }
    }

    /// @notice Moves an Assigned job to another eligible provider (the first one vanished).
    function reassignJob(uint256 jobId, address provider) external onlyOperator {
        Job storage j = jobs[jobId];
        JobState state = j.state;
        if (state != JobState.Assigned) _revertState(jobId, state);
        if (block.timestamp > j.deadline) revert DeadlinePassed(jobId, j.deadline);
        address previous = j.provider;
        if (provider == previous) revert SameProvider(jobId, provider);
        if (!isEligible(provider)) revert ProviderNotEligible(provider);
        j.provider = provider;
        emit JobAssigned(jobId, provider, previous);
    }

    // ------------------------------------------------------------------ results

    /// @notice The assigned provider commits its result before the deadline and what the run
    ///         cost (`charge`, at most the payment: the job's price times the fuel and time it
    ///         used, which a verifier can recompute); the unused rest of the payment goes back
    ///         to the requester now, and the challenge window starts.
    /// @param outputDigest digest of the job's outputs.
    /// @param traceRoot Merkle root of the execution trace (for disputes in part 2).
    function commitResult(uint256 jobId, bytes32 outputDigest, bytes32 traceRoot, uint256 charge)
        external
        nonReentrant
    {
        Job storage j = jobs[jobId];
        JobState state = j.state;
        if (state == JobState.None) revert UnknownJob(jobId);
        if (j.provider != msg.sender) revert NotAssignedProvider(jobId, msg.sender);
        if (state != JobState.Assigned) revert WrongState(jobId, state);
        if (block.timestamp > j.deadline) revert DeadlinePassed(jobId, j.deadline);
        uint256 payment = j.payment;
        if (charge > payment) revert ChargeTooHigh(jobId, charge, payment);
        uint64 ends = uint64(block.timestamp) + challengeWindow;
        j.state = JobState.Committed;
        j.expiry = uint40(ends);
        j.digest = resultCommitment(j.digest, outputDigest, traceRoot);
        emit ResultCommitted(jobId, msg.sender, outputDigest, traceRoot, ends, charge);
        if (charge < payment) {
            // What remains escrowed is exactly what settlement pays (or a challenge refunds).
            j.payment = uint96(charge);
            token.safeTransfer(j.requester, payment - charge);
        }
    }

    /// @notice The requester or the operator objects to a committed result inside the window.
    function challenge(uint256 jobId) external {
        Job storage j = jobs[jobId];
        JobState state = j.state;
        if (state == JobState.None) revert UnknownJob(jobId);
        if (msg.sender != j.requester && msg.sender != operator) {
            revert NotRequesterOrOperator(jobId, msg.sender);
        }
        if (state != JobState.Committed) revert WrongState(jobId, state);
        if (block.timestamp >= j.expiry) revert ChallengeWindowClosed(jobId, j.expiry);
        j.state = JobState.Challenged;
        emit JobChallenged(jobId, msg.sender);
    }

    /// @notice What a committed job's `digest` becomes: keccak256(abi.encode(spec, output, trace)).
    function resultCommitment(bytes32 specDigest, bytes32 outputDigest, bytes32 traceRoot)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(specDigest, outputDigest, traceRoot));
    }

    // ------------------------------------------------------------------ settlement

    /// @notice Pays the provider `payment − fee` and the treasury the fee. Anyone may settle a
    ///         Committed job once the challenge window is over; a Challenged job only the
    ///         arbiter (or operator), when the challenge failed.
    function settle(uint256 jobId) external nonReentrant {
        (address provider, uint256 paid, uint256 fee) = _settle(jobId);
        if (paid > 0) token.safeTransfer(provider, paid);
        if (fee > 0) token.safeTransfer(treasury, fee);
    }

    /// @notice Settles every job in `jobIds` (same rules as settle; all or nothing). Consecutive
    ///         jobs of one provider are paid in one transfer, so sort ids by provider.
    function settleMany(uint256[] calldata jobIds) external nonReentrant {
        uint256 n = jobIds.length;
        if (n == 0) revert EmptyBatch();
        address run;
        uint256 runAmount;
        uint256 fees;
        for (uint256 i; i < n; ++i) {
            (address provider, uint256 paid, uint256 fee) = _settle(jobIds[i]);
            if (provider != run) {
                if (runAmount > 0) token.safeTransfer(run, runAmount);
                (run, runAmount) = (provider, 0);
            }
            runAmount += paid;
            fees += fee;
        }
        if (runAmount > 0) token.safeTransfer(run, runAmount);
        if (fees > 0) token.safeTransfer(treasury, fees);
    }

    /// @notice Returns a job's payment to its requester. Anyone may refund an Open job past
    ///         acceptBy or an Assigned job past its deadline; the operator may refund an Open
    ///         or Assigned job at any time (the job failed); the arbiter or operator a
    ///         Challenged job (the challenge held).
    function refund(uint256 jobId) external nonReentrant {
        (address requester, uint256 amount) = _refund(jobId);
        token.safeTransfer(requester, amount);
    }

    /// @notice Refunds every job in `jobIds` (same rules as refund; all or nothing).
    ///         Consecutive jobs of one requester are paid in one transfer.
    function refundMany(uint256[] calldata jobIds) external nonReentrant {
        uint256 n = jobIds.length;
        if (n == 0) revert EmptyBatch();
        address run;
        uint256 runAmount;
        for (uint256 i; i < n; ++i) {
            (address requester, uint256 amount) = _refund(jobIds[i]);
            if (requester != run) {
                if (runAmount > 0) token.safeTransfer(run, runAmount);
                (run, runAmount) = (requester, 0);
            }
            runAmount += amount;
        }
        if (runAmount > 0) token.safeTransfer(run, runAmount);
    }

    /// @notice Operator: closes assigned jobs that ended without a result, paying each
    ///         provider `charges[i]` (less the fee) for the work metered before the job stopped
    ///         (a module fault, a cancellation while it ran) and refunding the rest. A zero
    ///         charge is a plain refund. All or nothing.
    function closeJobs(uint256[] calldata jobIds, uint256[] calldata charges) external onlyOperator nonReentrant {
        uint256 n = jobIds.length;
        if (n == 0) revert EmptyBatch();
        if (charges.length != n) revert LengthMismatch(n, charges.length);
        uint256 fees;
        for (uint256 i; i < n; ++i) {
            uint256 id = jobIds[i];
            Job storage j = jobs[id];
            JobState state = j.state;
            if (state != JobState.Assigned) _revertState(id, state);
            uint256 payment = j.payment;
            uint256 charge = charges[i];
            if (charge > payment) revert ChargeTooHigh(id, charge, payment);
            uint256 fee = (charge * feeBps) / BPS;
            address provider = j.provider;
            j.state = charge > 0 ? JobState.Settled : JobState.Refunded;
            emit JobClosed(id, provider, charge - fee, fee, payment - charge);
            if (charge - fee > 0) token.safeTransfer(provider, charge - fee);
            if (payment > charge) token.safeTransfer(j.requester, payment - charge);
            fees += fee;
        }
        if (fees > 0) token.safeTransfer(treasury, fees);
    }

    // ------------------------------------------------------------------ disputes

    /// @notice Operator: sets the dispute rules. `refereeFee` must not exceed `bond` or `slash`
    ///         (the fee comes out of the loser's), `window` must be positive.
    function setDisputeRules(uint256 bond, uint256 slash_, uint256 fee, uint256 minRefereeStake_, uint32 window)
        external
        onlyOperator
    {
        if (fee > bond || fee > slash_ || window == 0) revert InvalidDisputeRules();
        disputeBond = _u96(bond);
        disputeSlash = _u96(slash_);
        refereeFee = _u96(fee);
        minRefereeStake = _u96(minRefereeStake_);
        disputeWindow = window;
        emit DisputeRulesChanged(bond, slash_, fee, minRefereeStake_, window);
    }

    /// @notice Registers the caller as a referee bonding `amount` (needs an allowance), or adds
    ///         `amount` to its bond.
    function registerReferee(uint256 amount) external nonReentrant {
        Referee storage r = referees[msg.sender];
        uint256 stake = uint256(r.stake) + amount;
        if (stake < minRefereeStake || stake == 0) revert StakeBelowMinimum(stake, minRefereeStake);
        r.stake = _u96(stake);
        r.active = true;
        if (amount > 0) token.safeTransferFrom(msg.sender, address(this), amount);
        emit RefereeRegistered(msg.sender, stake);
    }

    /// @notice A referee with no dispute to rule leaves and takes its stake back.
    function leaveReferees() external nonReentrant {
        Referee storage r = referees[msg.sender];
        if (!r.active) revert NotARegisteredReferee(msg.sender);
        if (r.open > 0) revert RefereeBusy(msg.sender, r.open);
        uint256 stake = r.stake;
        r.stake = 0;
        r.active = false;
        emit RefereeLeft(msg.sender, stake);
        if (stake > 0) token.safeTransfer(msg.sender, stake);
    }

    /// @notice The dispute on job `jobId` (phase None: there is none).
    function getDispute(uint256 jobId) external view returns (Dispute memory) {
        return disputes[jobId];
    }

    /// @notice Whether `who` may be assigned a dispute now.
    function isRefereeEligible(address who) public view returns (bool) {
        Referee storage r = referees[who];
        return r.active && r.stake >= minRefereeStake;
    }

    /// @notice Disputes a Committed job's result inside its challenge window with a refereed
    ///         bisection. The caller (the requester, the operator or another eligible provider
    ///         that replicated the job) posts `disputeBond` (needs an allowance) and commits its
    ///         own trace root over `size` checkpoints; `disputedIndex` (1..size-1) names a
    ///         checkpoint it disagrees with, where the first round probes. `specDigest`,
    ///         `outputDigest` and `providerRoot` must be the ones the result committed.
    function openDispute(
        uint256 jobId,
        bytes32 specDigest,
        bytes32 outputDigest,
        bytes32 providerRoot,
        bytes32 challengerRoot,
        uint32 size,
        uint32 disputedIndex
    ) external nonReentrant {
        Job storage j = jobs[jobId];
        JobState state = j.state;
        if (state == JobState.None) revert UnknownJob(jobId);
        if (msg.sender == j.provider || (msg.sender != j.requester && msg.sender != operator && !isEligible(msg.sender)))
        {
            revert NotAllowedToDispute(jobId, msg.sender);
        }
        if (state != JobState.Committed) revert WrongState(jobId, state);
        if (block.timestamp >= j.expiry) revert ChallengeWindowClosed(jobId, j.expiry);
        if (resultCommitment(specDigest, outputDigest, providerRoot) != j.digest) revert ResultMismatch(jobId);
        if (size < 2 || disputedIndex == 0 || disputedIndex >= size) revert InvalidTraceSize(size, disputedIndex);
        j.state = JobState.Disputed;
        uint96 bond = disputeBond;
        Dispute storage d = disputes[jobId];
        d.challenger = msg.sender;
        d.bond = bond;
        d.phase = DisputePhase.Bisecting;
        d.hi = disputedIndex;
        d.size = size;
        d.providerRoot = providerRoot;
        d.challengerRoot = challengerRoot;
        emit DisputeOpened(jobId, msg.sender, challengerRoot, size, disputedIndex, bond);
        _round(jobId, d, disputedIndex);
        if (bond > 0) token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @notice The provider or the challenger reveals its leaf hash at this round's probe
    ///         index with an RFC 6962 inclusion proof against its committed trace root. When
    ///         both have revealed, equal leaves move `lo` to the probe, different ones `hi`.
    function reveal(uint256 jobId, bytes32 leaf, bytes32[] calldata proof) external nonReentrant {
        Dispute storage d = disputes[jobId];
        if (d.phase != DisputePhase.Bisecting) revert WrongPhase(jobId, d.phase);
        bool isProvider = msg.sender == jobs[jobId].provider;
        if (!isProvider && msg.sender != d.challenger) revert NotDisputant(jobId, msg.sender);
        if (block.timestamp > d.deadline) revert RoundClosed(jobId, d.deadline);
        uint8 bit = isProvider ? 1 : 2;
        uint32 probe = d.probe;
        if (d.revealed & bit != 0) revert AlreadyRevealed(jobId, msg.sender, probe);
        if (!verifyInclusion(leaf, probe, d.size, proof, isProvider ? d.providerRoot : d.challengerRoot)) {
            revert InvalidProof(jobId, probe, leaf);
        }
        d.revealed |= bit;
        if (isProvider) d.providerLeaf = leaf;
        else d.challengerLeaf = leaf;
        emit LeafRevealed(jobId, msg.sender, probe, leaf);
        if (d.revealed == 3) _advance(jobId, d);
    }

    /// @notice The provider says the trace size the challenger stated is not its own trace's
    ///         (so no proof of its can verify): the referee decides from the job's spec.
    function contestSize(uint256 jobId) external {
        Dispute storage d = disputes[jobId];
        if (d.phase != DisputePhase.Bisecting) revert WrongPhase(jobId, d.phase);
        if (msg.sender != jobs[jobId].provider) revert NotDisputant(jobId, msg.sender);
        if (block.timestamp > d.deadline) revert RoundClosed(jobId, d.deadline);
        d.sizeContested = true;
        d.phase = DisputePhase.AwaitingReferee;
        d.deadline = uint40(block.timestamp + disputeWindow);
        emit SizeContested(jobId, msg.sender, d.size);
    }

    /// @notice Operator: assigns the dispute's referee once the bisection is done, or replaces
    ///         one that did not rule in time (which loses `refereeFee` of its stake).
    function assignReferee(uint256 jobId, address referee) external onlyOperator {
        Dispute storage d = disputes[jobId];
        if (d.phase != DisputePhase.AwaitingReferee) revert WrongPhase(jobId, d.phase);
        if (
            !isRefereeEligible(referee) || referee == d.challenger || referee == jobs[jobId].provider
                || referee == jobs[jobId].requester
        ) revert RefereeNotEligible(referee);
        address previous = d.referee;
        if (previous != address(0)) {
            if (block.timestamp <= d.deadline) revert RefereeStillInTime(jobId, d.deadline);
            referees[previous].open -= 1;
            _penalize(jobId, previous);
        }
        uint64 deadline = uint64(block.timestamp) + disputeWindow;
        d.referee = referee;
        d.deadline = uint40(deadline);
        referees[referee].open += 1;
        emit RefereeAssigned(jobId, referee, previous, deadline);
    }

    /// @notice The assigned referee rules, before its deadline, which side's leaf at `hi` is
    ///         the one recomputed from the agreed state at `lo` (for a contested size:
    ///         ProviderRight = the stated size is wrong, ChallengerRight = it is right).
    function rule(uint256 jobId, Verdict verdict) external nonReentrant {
        Dispute storage d = disputes[jobId];
        if (d.phase != DisputePhase.AwaitingReferee) revert WrongPhase(jobId, d.phase);
        if (msg.sender != d.referee || msg.sender == address(0)) revert NotReferee(jobId, msg.sender);
        if (block.timestamp > d.deadline) revert RoundClosed(jobId, d.deadline);
        if (verdict == Verdict.None || (d.sizeContested && verdict == Verdict.NeitherRight)) {
            revert InvalidVerdict(jobId, verdict);
        }
        d.verdict = verdict;
        referees[msg.sender].open -= 1;
        emit DisputeRuled(jobId, msg.sender, verdict);
        Outcome o = verdict == Verdict.ProviderRight
            ? Outcome.ChallengerWrong
            : (verdict == Verdict.ChallengerRight ? Outcome.ProviderWrong : Outcome.BothWrong);
        _resolve(jobId, d, o, msg.sender);
    }

    /// @notice Anyone: ends a dispute whose deadline passed. In a round, the side that did not
    ///         reveal loses (neither revealed: the challenger abandoned it and loses). Waiting
    ///         for a referee, one more window after the deadline (for the operator to replace a
    ///         late referee), the result stands: bond back, the job settles.
    function resolveTimeout(uint256 jobId) external nonReentrant {
        Dispute storage d = disputes[jobId];
        DisputePhase phase = d.phase;
        if (phase == DisputePhase.Bisecting) {
            if (block.timestamp <= d.deadline) revert RoundOpen(jobId, d.deadline);
            _resolve(jobId, d, d.revealed == 2 ? Outcome.ProviderWrong : Outcome.ChallengerWrong, address(0));
        } else if (phase == DisputePhase.AwaitingReferee) {
            uint64 end = uint64(d.deadline) + disputeWindow;
            if (block.timestamp <= end) revert RoundOpen(jobId, end);
            address late = d.referee;
            if (late != address(0)) {
                referees[late].open -= 1;
                _penalize(jobId, late);
            }
            _resolve(jobId, d, Outcome.NoRuling, address(0));
        } else {
            revert WrongPhase(jobId, phase);
        }
    }

    /// @notice RFC 6962 inclusion of leaf hash `leaf` at `index` in a tree of `size` leaves with
    ///         root `root` (leaf = SHA-256(0x00‖data), node = SHA-256(0x01‖left‖right)), the same
    ///         check as cairn-tlog's `verify_inclusion`.
    function verifyInclusion(bytes32 leaf, uint256 index, uint256 size, bytes32[] calldata proof, bytes32 root)
        public
        pure
        returns (bool)
    {
        if (index >= size) return false;
        uint256 x = index ^ (size - 1);
        uint256 inner;
        while (x != 0) {
            ++inner;
            x >>= 1;
        }
        uint256 border;
        for (uint256 y = index >> inner; y != 0; y >>= 1) {
            border += y & 1;
        }
        if (proof.length != inner + border) return false;
        bytes32 h = leaf;
        for (uint256 i; i < inner; ++i) {
            h = (index >> i) & 1 == 0 ? _node(h, proof[i]) : _node(proof[i], h);
        }
        for (uint256 i = inner; i < proof.length; ++i) {
            h = _node(proof[i], h);
        }
        return h == root;
    }

    /// @notice The RFC 6962 leaf hash of `data`: SHA-256(0x00‖data).
    function leafHash(bytes calldata data) external pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x00), data));
    }

    function _node(bytes32 l, bytes32 r) private pure returns (bytes32) {
        return sha256(abi.encodePacked(bytes1(0x01), l, r));
    }

    function _round(uint256 jobId, Dispute storage d, uint32 probe) private {
        uint64 deadline = uint64(block.timestamp) + disputeWindow;
        d.probe = probe;
        d.revealed = 0;
        d.deadline = uint40(deadline);
        emit BisectionRound(jobId, d.rounds, d.lo, d.hi, probe, deadline);
    }

    function _advance(uint256 jobId, Dispute storage d) private {
        uint32 probe = d.probe;
        (bytes32 pl, bytes32 cl) = (d.providerLeaf, d.challengerLeaf);
        bool first = d.rounds == 0;
        d.rounds += 1;
        if (pl == cl) {
            // Agreeing at the checkpoint it named, the challenger disputed nothing.
            if (first) return _resolve(jobId, d, Outcome.ChallengerWrong, address(0));
            d.lo = probe;
            d.loLeaf = pl;
        } else {
            d.hi = probe;
            d.providerHiLeaf = pl;
            d.challengerHiLeaf = cl;
        }
        if (d.hi == d.lo + 1) {
            _narrowed(jobId, d);
        } else {
            _round(jobId, d, d.lo + (d.hi - d.lo) / 2);
        }
    }

    function _narrowed(uint256 jobId, Dispute storage d) private {
        d.phase = DisputePhase.AwaitingReferee;
        d.revealed = 0;
        d.deadline = uint40(block.timestamp + disputeWindow);
        emit BisectionDone(jobId, d.lo, d.loLeaf, d.providerHiLeaf, d.challengerHiLeaf);
    }

    function _penalize(uint256 jobId, address referee) private {
        Referee storage r = referees[referee];
        uint256 amount = refereeFee < r.stake ? refereeFee : r.stake;
        r.stake -= uint96(amount);
        emit RefereePenalized(jobId, referee, amount);
        if (amount > 0) token.safeTransfer(treasury, amount);
    }

    function _resolve(uint256 jobId, Dispute storage d, Outcome o, address referee) private {
        d.phase = DisputePhase.Resolved;
        Job storage j = jobs[jobId];
        address provider = j.provider;
        address challenger = d.challenger;
        uint256 bond = d.bond;
        uint256 fee = referee == address(0) ? 0 : refereeFee;
        uint256 slashed;
        if (o == Outcome.ProviderWrong || o == Outcome.BothWrong) {
            slashed = _takeStake(provider, disputeSlash);
            if (fee > slashed) fee = slashed;
            emit ProviderSlashed(provider, slashed, o == Outcome.ProviderWrong ? challenger : treasury);
            emit DisputeResolved(jobId, o, slashed, fee);
            (address requester, uint256 amount) = (j.requester, j.payment);
            j.state = JobState.Refunded;
            emit JobRefunded(jobId, requester, amount);
            if (o == Outcome.ProviderWrong) {
                _pay(challenger, slashed - fee + bond);
            } else {
                _pay(treasury, slashed - fee + bond);
            }
            _pay(requester, amount);
        } else {
            if (fee > bond) fee = bond;
            emit DisputeResolved(jobId, o, 0, fee);
            j.state = JobState.Settled;
            uint256 payment = j.payment;
            uint256 marketFee = (payment * feeBps) / BPS;
            emit JobSettled(jobId, provider, payment - marketFee, marketFee);
            if (o == Outcome.ChallengerWrong) {
                _pay(provider, payment - marketFee + bond - fee);
            } else {
                _pay(provider, payment - marketFee);
                _pay(challenger, bond);
            }
            _pay(treasury, marketFee);
        }
        _pay(referee, fee);
    }

    function _pay(address to, uint256 amount) private {
        if (amount > 0 && to != address(0)) token.safeTransfer(to, amount);
    }

    /// @dev Takes up to `amount` of a provider's bond (stake first, then unbonding).
    function _takeStake(address provider, uint256 amount) private returns (uint256 taken) {
        Provider storage p = providers[provider];
        uint256 stake = p.stake;
        uint256 unbonding = p.unbonding;
        taken = amount < stake + unbonding ? amount : stake + unbonding;
        uint256 fromStake = taken < stake ? taken : stake;
        p.stake = uint96(stake - fromStake);
        p.unbonding = uint96(unbonding - (taken - fromStake));
    }

    // ------------------------------------------------------------------ slashing (part 2 hook)

    /// @notice Takes `amount` of a provider's bond (stake first, then unbonding) and pays it to
    ///         `beneficiary`. Arbiter or operator only; dispute resolution decides when.
    function slash(address provider, uint256 amount, address beneficiary) external onlyArbiter nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (beneficiary == address(0)) revert ZeroAddress();
        Provider storage p = providers[provider];
        uint256 stake = p.stake;
        uint256 unbonding = p.unbonding;
        if (amount > stake + unbonding) revert InsufficientStake(provider, stake + unbonding, amount);
        uint256 fromStake = amount < stake ? amount : stake;
        p.stake = uint96(stake - fromStake);
        p.unbonding = uint96(unbonding - (amount - fromStake));
        emit ProviderSlashed(provider, amount, beneficiary);
        token.safeTransfer(beneficiary, amount);
    }

    // ------------------------------------------------------------------ internals

    function _isArbiter(address who) private view returns (bool) {
        return who == operator || (who == arbiter && who != address(0));
    }

    function _u96(uint256 x) private pure returns (uint96) {
        if (x > type(uint96).max) revert AmountTooLarge(x);
        return uint96(x);
    }

    function _revertState(uint256 jobId, JobState state) private pure {
        if (state == JobState.None) revert UnknownJob(jobId);
        revert WrongState(jobId, state);
    }

    function _checkTimes(uint64 acceptBy, uint64 deadline) private view {
        if (acceptBy <= block.timestamp || deadline <= acceptBy || deadline > type(uint40).max) {
            revert InvalidTimes(acceptBy, deadline, uint64(block.timestamp));
        }
    }

    function _open(uint256 jobId, bytes32 specDigest, uint256 payment, uint64 acceptBy, uint64 deadline)
        private
    {
        if (payment == 0) revert ZeroAmount();
        jobs[jobId] = Job({
            requester: msg.sender,
            payment: _u96(payment),
            provider: address(0),
            state: JobState.Open,
            deadline: uint40(deadline),
            expiry: uint40(acceptBy),
            digest: specDigest
        });
        emit JobPosted(jobId, msg.sender, specDigest, payment, acceptBy, deadline);
    }

    function _assign(uint256 jobId, address provider) private {
        Job storage j = jobs[jobId];
        JobState state = j.state;
        if (state != JobState.Open) _revertState(jobId, state);
        if (block.timestamp > j.expiry) revert AcceptWindowClosed(jobId, j.expiry);
        if (!isEligible(provider)) revert ProviderNotEligible(provider);
        j.provider = provider;
        j.state = JobState.Assigned;
        emit JobAssigned(jobId, provider, address(0));
    }

    function _settle(uint256 jobId) private returns (address provider, uint256 paid, uint256 fee) {
        Job storage j = jobs[jobId];
        JobState state = j.state;
        if (state == JobState.Committed) {
            if (block.timestamp < j.expiry) revert ChallengeWindowOpen(jobId, j.expiry);
        } else if (state == JobState.Challenged) {
            if (!_isArbiter(msg.sender)) revert NotArbiter(msg.sender);
        } else {
            _revertState(jobId, state);
        }
        j.state = JobState.Settled;
        provider = j.provider;
        uint256 payment = j.payment;
        fee = (payment * feeBps) / BPS;
        paid = payment - fee;
        emit JobSettled(jobId, provider, paid, fee);
    }

    function _refund(uint256 jobId) private returns (address requester, uint256 amount) {
        Job storage j = jobs[jobId];
        JobState state = j.state;
        if (state == JobState.Open || state == JobState.Assigned) {
            uint64 expiresAt = state == JobState.Open ? j.expiry : j.deadline;
            if (block.timestamp <= expiresAt && msg.sender != operator) revert NotExpired(jobId, expiresAt);
        } else if (state == JobState.Challenged) {
            if (!_isArbiter(msg.sender)) revert NotArbiter(msg.sender);
        } else if (state == JobState.None) {
            revert UnknownJob(jobId);
        } else {
            revert NotRefundable(jobId, state);
        }
        j.state = JobState.Refunded;
        requester = j.requester;
        amount = j.payment;
        emit JobRefunded(jobId, requester, amount);
    }
}
