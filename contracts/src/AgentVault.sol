// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @notice The one Uniswap V2 Router02 function the vault calls (PancakeSwap V2 has the same).
interface IUniswapV2Router02Swap {
    function swapExactTokensForTokens(
        uint256 amountIn,
        uint256 amountOutMin,
        address[] calldata path,
        address to,
        uint256 deadline
    ) external returns (uint256[] memory amounts);
}

/// @title AgentVault
/// @notice Holds an owner's stablecoin and lets an agent key buy allow-listed assets with it,
///         under a policy the key cannot exceed:
///
///         agent ──buy(router, path, amountIn, minOut, deadline)──▶ checks ──▶ router ──▶ vault
///           router allow-listed · path allow-listed (stable → [hop →] asset)
///           amountIn ≤ budget left in this period (fixed windows; unspent budget does not carry)
///           oracle fresh (updatedAt within the feed's heartbeat) and positive
///           floor = oracle price − slippage cap, computed here; minOut = max(agent's, floor)
///           deadline in [now, now + MAX_DEADLINE_DELAY]
///           approve exactly amountIn, reset to 0 after, proceeds to this contract only,
///           received measured by balance delta ≥ floor
///
///         The owner deposits, withdraws any token, pauses, rotates the agent key and sets the
///         policy. A stolen agent key can at worst buy, within one period's budget, allow-listed
///         assets at the oracle price minus the cap, into this vault.
/// @dev    The stablecoin is valued at one unit of each feed's quote currency (USDT at 1 USD).
///         Tokens are assumed to move exact amounts (no fee-on-transfer tokens). Periods are fixed
///         windows: no window ever sees more than one budget, though two buys straddling a
///         boundary can spend two budgets close together. The feeds are trusted (Chainlink's
///         on mainnets; on the devnet Chainlink's MockV3Aggregator, whose answer anyone may set).
contract AgentVault is Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The latest a buy's deadline may lie in the future.
    uint256 public constant MAX_DEADLINE_DELAY = 15 minutes;
    /// @notice The widest slippage cap the owner may set (50%).
    uint16 public constant MAX_SLIPPAGE_BPS = 5_000;
    /// @notice Most decimals accepted for a token or a feed (keeps the floor math in range).
    uint8 public constant MAX_DECIMALS = 36;

    /// @notice A price feed of one asset, in the feed's quote currency per whole asset.
    struct Feed {
        AggregatorV3Interface oracle;
        /// Longest accepted age of the answer, in seconds.
        uint32 heartbeat;
        /// The feed's decimals (read once when set).
        uint8 feedDecimals;
        /// The asset token's decimals (read once when set).
        uint8 assetDecimals;
    }

    /// @notice An oracle bound for one buy.
    struct Quote {
        uint256 floor;
        int256 price;
        uint256 updatedAt;
    }

    /// @notice The stablecoin the owner deposits and the agent spends.
    IERC20 public immutable stable;
    /// @notice The stablecoin's decimals.
    uint8 public immutable stableDecimals;

    // Three cold slots hold everything `buy` reads of the policy: [agent, period, cap, paused],
    // [budget, spent, periodStart] (one write per buy) and the route (router, path and the feed of its asset together).

    /// @notice The key allowed to call `buy`.
    address public agent;
    /// @notice Length of a budget period, in seconds.
    uint64 public period;
    /// @notice Slippage cap under the oracle price, in basis points.
    uint16 public maxSlippageBps;
    /// @notice Whether `buy` is stopped (packed with the agent: no extra storage read per buy).
    bool public paused;
    /// @notice Most stablecoin base units the agent may spend per period.
    uint96 public budgetPerPeriod;
    /// @notice Stablecoin spent in the period starting at `periodStart`.
    uint96 public spentInPeriod;
    /// @notice Start of the current (or last used) budget period.
    uint64 public periodStart;

    /// @notice Routers the agent may trade through.
    mapping(address router => bool) public routerAllowed;
    /// @notice Allowed paths, by `keccak256(abi.encode(path))`.
    mapping(bytes32 pathHash => bool) public pathAllowed;
    /// @notice The feed of each asset the vault may buy.
    mapping(address asset => Feed) public feeds;
    /// Whether `router` may trade `path`, by `keccak256(abi.encode(router, pathHash))`: kept equal
    /// to `routerAllowed[router] && pathAllowed[pathHash]` for every known router and path by
    /// `setRouter` and `setPath`, so a buy reads one slot for both.
    /// A route's feed: the feed of its path's asset while the router and the path are allowed
    /// and the asset has a feed, else empty. One cold slot answers both "may the agent take
    /// this route?" and "which oracle bounds it?" in `buy`; every owner call that changes a
    /// router, a path or a feed re-derives the routes it touches (`_syncRoute`).
    mapping(bytes32 routeKey => Feed) private _routes;

    address[] private _routers;
    bytes32[] private _pathHashes;
    mapping(bytes32 pathHash => address[]) private _paths;
    address[] private _assets;

    /// @notice The stablecoin arrived from `from`.
    event Deposited(address indexed from, uint256 amount);
    /// @notice The owner took `amount` of `token` out to `to`.
    event Withdrawn(address indexed token, address indexed to, uint256 amount);
    /// @notice The agent key changed.
    event AgentRotated(address indexed previousAgent, address indexed newAgent);
    /// @notice A router was allowed or disallowed.
    event RouterSet(address indexed router, bool allowed);
    /// @notice A path was allowed or disallowed.
    event PathSet(bytes32 indexed pathHash, address[] path, bool allowed);
    /// @notice An asset's feed was set (a zero oracle removes it).
    event FeedSet(address indexed asset, address indexed oracle, uint32 heartbeat, uint8 feedDecimals);
    /// @notice The budget or its period changed.
    event BudgetSet(uint96 budgetPerPeriod, uint64 period);
    /// @notice The slippage cap changed.
    event SlippageSet(uint16 maxSlippageBps);
    /// @notice The agent bought `received` of `asset` for `amountIn` stablecoin.
    /// @param price The oracle answer used (feed decimals), `floor` the least it had to receive.
    event Bought(
        address indexed asset,
        address indexed router,
        uint256 amountIn,
        uint256 received,
        uint256 floor,
        int256 price,
        uint256 oracleUpdatedAt,
        uint256 spentInPeriod
    );

    /// @notice The vault was paused by `account`.
    event Paused(address account);
    /// @notice The vault was unpaused by `account`.
    event Unpaused(address account);

    /// @notice The vault is paused.
    error EnforcedPause();
    /// @notice The vault is not paused.
    error ExpectedPause();
    /// @notice `caller` is not the agent.
    error NotAgent(address caller);
    /// @notice An address argument is zero.
    error ZeroAddress();
    /// @notice An amount is zero.
    error ZeroAmount();
    /// @notice `router` is not allow-listed.
    error RouterNotAllowed(address router);
    /// @notice The path is not allow-listed.
    error PathNotAllowed(bytes32 pathHash);
    /// @notice A path must be stablecoin → asset or stablecoin → hop → asset, without repeats.
    error InvalidPath();
    /// @notice No feed is set for `asset`.
    error NoFeed(address asset);
    /// @notice The feed's answer is not positive.
    error BadOraclePrice(address oracle, int256 answer);
    /// @notice The feed's answer is older than its heartbeat (or from the future).
    error StaleOracle(address oracle, uint256 updatedAt, uint256 heartbeat, uint256 now_);
    /// @notice `amountIn` exceeds what is left of this period's budget.
    error OverBudget(uint256 amountIn, uint256 left, uint256 periodEnds);
    /// @notice The vault holds less stablecoin than `amountIn`.
    error InsufficientBalance(uint256 balance, uint256 needed);
    /// @notice The deadline has passed.
    error DeadlinePassed(uint256 deadline, uint256 now_);
    /// @notice The deadline is more than `MAX_DEADLINE_DELAY` ahead.
    error DeadlineTooFar(uint256 deadline, uint256 latest);
    /// @notice The swap delivered less than the floor.
    error ReceivedTooLittle(uint256 received, uint256 floor);
    /// @notice The router left an allowance behind.
    error AllowanceLeft(uint256 allowance);
    /// @notice The slippage cap is above `MAX_SLIPPAGE_BPS`.
    error InvalidSlippage(uint16 bps);
    /// @notice A period must be at least one second and a budget positive.
    error InvalidBudget(uint96 budgetPerPeriod, uint64 period);
    /// @notice A heartbeat must be positive.
    error InvalidHeartbeat(uint32 heartbeat);
    /// @notice A token or feed has more than `MAX_DECIMALS` decimals.
    error InvalidDecimals(uint8 decimals);
    /// @notice Renouncing would strand the funds: transfer ownership instead.
    error RenounceDisabled();

    /// @param owner_ The owner (deposits, withdraws, configures).
    /// @param stable_ The stablecoin.
    /// @param agent_ The agent key.
    /// @param budgetPerPeriod_ Stablecoin base units the agent may spend per period.
    /// @param period_ Period length in seconds.
    /// @param maxSlippageBps_ Slippage cap under the oracle price, in basis points.
    constructor(
        address owner_,
        IERC20 stable_,
        address agent_,
        uint96 budgetPerPeriod_,
        uint64 period_,
        uint16 maxSlippageBps_
    ) Ownable(owner_) {
        if (address(stable_) == address(0) || agent_ == address(0)) revert ZeroAddress();
        uint8 d = IERC20Metadata(address(stable_)).decimals();
        if (d > MAX_DECIMALS) revert InvalidDecimals(d);
        stable = stable_;
        stableDecimals = d;
        agent = agent_;
        emit AgentRotated(address(0), agent_);
        _setBudget(budgetPerPeriod_, period_);
        _setSlippage(maxSlippageBps_);
        periodStart = uint64(block.timestamp);
    }

    // ------------------------------------------------------------------ agent

    /// @notice Buys `path[last]` with `amountIn` stablecoin through `router`; proceeds stay here.
    /// @param amountOutMin The agent's own minimum; the vault uses the larger of it and the floor.
    /// @return received Asset base units this vault received (measured by balance delta).
    function buy(
        address router,
        address[] calldata path,
        uint256 amountIn,
        uint256 amountOutMin,
        uint256 deadline
    ) external nonReentrant returns (uint256 received) {
        if (paused) revert EnforcedPause();
        if (msg.sender != agent) revert NotAgent(msg.sender);
        bytes32 h = keccak256(abi.encode(path));
        Feed memory feed = _routes[_routeKey(router, h)];
        address asset = path[path.length - 1];
        if (address(feed.oracle) == address(0)) {
            if (!routerAllowed[router]) revert RouterNotAllowed(router);
            if (!pathAllowed[h]) revert PathNotAllowed(h);
            revert NoFeed(asset);
        }
        if (amountIn == 0) revert ZeroAmount();
        if (deadline < block.timestamp) revert DeadlinePassed(deadline, block.timestamp);
        if (deadline > block.timestamp + MAX_DEADLINE_DELAY) {
            revert DeadlineTooFar(deadline, block.timestamp + MAX_DEADLINE_DELAY);
        }
        uint96 spent = _spend(amountIn);

        Quote memory q;
        (q.floor, q.price, q.updatedAt) = _floor(feed, amountIn);
        received = _swap(router, path, amountIn, amountOutMin > q.floor ? amountOutMin : q.floor, deadline);
        emit Bought(asset, router, amountIn, received, q.floor, q.price, q.updatedAt, spent);
    }

    /// Counts `amountIn` against the current period's budget (before any external call).
    function _spend(uint256 amountIn) private returns (uint96 spent) {
        uint64 start;
        (start, spent) = _currentPeriod();
        uint256 left = budgetPerPeriod > spent ? budgetPerPeriod - spent : 0;
        if (amountIn > left) revert OverBudget(amountIn, left, uint256(start) + period);
        spent += uint96(amountIn);
        periodStart = start;
        spentInPeriod = spent;
    }

    /// Approves exactly `amountIn`, swaps to this vault, resets the allowance to zero, and
    /// measures what arrived by balance deltas.
    function _swap(address router, address[] calldata path, uint256 amountIn, uint256 minOut, uint256 deadline)
        private
        returns (uint256 received)
    {
        IERC20 asset = IERC20(path[path.length - 1]);
        uint256 stableBefore = stable.balanceOf(address(this));
        if (stableBefore < amountIn) revert InsufficientBalance(stableBefore, amountIn);
        uint256 assetBefore = asset.balanceOf(address(this));

        // Exactly amountIn, whatever allowance was there before (forceApprove overwrites it).
        stable.forceApprove(router, amountIn);
        IUniswapV2Router02Swap(router).swapExactTokensForTokens(amountIn, minOut, path, address(this), deadline);
        // Router02 spends all of it; whatever it did not spend is taken back, and the vault
        // never ends a buy with an allowance standing. The allowance caps what the router
        // could take at amountIn, so the stablecoin side needs no balance check.
        if (stable.allowance(address(this), router) != 0) {
            stable.forceApprove(router, 0);
            uint256 allowance = stable.allowance(address(this), router);
            if (allowance != 0) revert AllowanceLeft(allowance);
        }

        received = asset.balanceOf(address(this)) - assetBefore;
        if (received < minOut) revert ReceivedTooLittle(received, minOut);
    }

    // ------------------------------------------------------------------ views

    /// @notice The least the vault accepts for `amountIn` stablecoin of `asset` now: the oracle
    ///         price minus the slippage cap, rounded up (in the owner's favour).
    /// @return floor Asset base units. @return price The feed's answer. @return updatedAt Its time.
    function quote(address asset, uint256 amountIn)
        external
        view
        returns (uint256 floor, int256 price, uint256 updatedAt)
    {
        Feed memory f = feeds[asset];
        if (address(f.oracle) == address(0)) revert NoFeed(asset);
        return _floor(f, amountIn);
    }

    /// @notice What the agent may still spend in the current period, and when it ends.
    function budgetLeft() external view returns (uint256 left, uint256 periodEnds) {
        (uint64 start, uint96 spent) = _currentPeriod();
        left = budgetPerPeriod > spent ? budgetPerPeriod - spent : 0;
        periodEnds = uint256(start) + period;
    }

    /// @notice The allow-listed routers (some may since have been disallowed: see `routerAllowed`).
    function routers() external view returns (address[] memory) {
        return _routers;
    }

    /// @notice Every path ever allow-listed, with whether it is allowed now.
    function paths() external view returns (address[][] memory all, bool[] memory allowed) {
        uint256 n = _pathHashes.length;
        all = new address[][](n);
        allowed = new bool[](n);
        for (uint256 i; i < n; ++i) {
            all[i] = _paths[_pathHashes[i]];
            allowed[i] = pathAllowed[_pathHashes[i]];
        }
    }

    /// @notice Every asset that ever had a feed (a removed feed has a zero oracle).
    function assets() external view returns (address[] memory) {
        return _assets;
    }

    /// @notice The hash under which `path` is allow-listed.
    function pathHash(address[] calldata path) external pure returns (bytes32) {
        return keccak256(abi.encode(path));
    }

    // ------------------------------------------------------------------ owner

    /// @notice Pulls `amount` stablecoin from the caller (who must have approved it).
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        stable.safeTransferFrom(msg.sender, address(this), amount);
        emit Deposited(msg.sender, amount);
    }

    /// @notice Sends `amount` of any `token` held here to `to`. Works while paused.
    function withdraw(IERC20 token, address to, uint256 amount) external onlyOwner nonReentrant {
        if (to == address(0) || address(token) == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        token.safeTransfer(to, amount);
        emit Withdrawn(address(token), to, amount);
    }

    /// @notice Replaces the agent key (the old one stops working at once).
    function rotateAgent(address newAgent) external onlyOwner {
        if (newAgent == address(0)) revert ZeroAddress();
        emit AgentRotated(agent, newAgent);
        agent = newAgent;
    }

    /// @notice Disabled: an owner-less vault could never be withdrawn from.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }

    /// @notice Stops `buy` until `unpause`.
    function pause() external onlyOwner {
        if (paused) revert EnforcedPause();
        paused = true;
        emit Paused(msg.sender);
    }

    /// @notice Lets the agent buy again.
    function unpause() external onlyOwner {
        if (!paused) revert ExpectedPause();
        paused = false;
        emit Unpaused(msg.sender);
    }

    /// @notice Allows or disallows a router.
    function setRouter(address router, bool allowed) external onlyOwner {
        if (router == address(0)) revert ZeroAddress();
        if (allowed && !_known(router)) _routers.push(router);
        routerAllowed[router] = allowed;
        for (uint256 i; i < _pathHashes.length; ++i) {
            _syncRoute(router, _pathHashes[i]);
        }
        emit RouterSet(router, allowed);
    }

    /// @notice Allows or disallows a path: `[stable, asset]` or `[stable, hop, asset]`.
    function setPath(address[] calldata path, bool allowed) external onlyOwner {
        uint256 n = path.length;
        if (n < 2 || n > 3 || path[0] != address(stable)) revert InvalidPath();
        for (uint256 i = 1; i < n; ++i) {
            if (path[i] == address(0)) revert ZeroAddress();
            for (uint256 j; j < i; ++j) {
                if (path[i] == path[j]) revert InvalidPath();
            }
        }
        bytes32 h = keccak256(abi.encode(path));
        if (_paths[h].length == 0) {
            _paths[h] = path;
            _pathHashes.push(h);
        }
        pathAllowed[h] = allowed;
        for (uint256 i; i < _routers.length; ++i) {
            _syncRoute(_routers[i], h);
        }
        emit PathSet(h, path, allowed);
    }

    /// @notice Sets `asset`'s feed and heartbeat; a zero `oracle` removes it.
    function setFeed(address asset, AggregatorV3Interface oracle, uint32 heartbeat) external onlyOwner {
        if (asset == address(0)) revert ZeroAddress();
        bool seen;
        for (uint256 i; i < _assets.length; ++i) {
            if (_assets[i] == asset) seen = true;
        }
        if (!seen) _assets.push(asset);
        if (address(oracle) == address(0)) {
            delete feeds[asset];
            emit FeedSet(asset, address(0), 0, 0);
        } else {
            if (heartbeat == 0) revert InvalidHeartbeat(heartbeat);
            uint8 fd = oracle.decimals();
            uint8 ad = IERC20Metadata(asset).decimals();
            if (fd > MAX_DECIMALS) revert InvalidDecimals(fd);
            if (ad > MAX_DECIMALS) revert InvalidDecimals(ad);
            feeds[asset] = Feed(oracle, heartbeat, fd, ad);
            emit FeedSet(asset, address(oracle), heartbeat, fd);
        }
        // Every route to the asset takes the new feed (or loses the removed one).
        for (uint256 i; i < _pathHashes.length; ++i) {
            bytes32 h = _pathHashes[i];
            address[] storage p = _paths[h];
            if (p[p.length - 1] != asset) continue;
            for (uint256 j; j < _routers.length; ++j) {
                _syncRoute(_routers[j], h);
            }
        }
    }

    /// @notice Sets the budget per period and the period length. Spending so far in the current
    ///         period still counts.
    function setBudget(uint96 budgetPerPeriod_, uint64 period_) external onlyOwner {
        _setBudget(budgetPerPeriod_, period_);
    }

    /// @notice Sets the slippage cap under the oracle price.
    function setSlippage(uint16 maxSlippageBps_) external onlyOwner {
        _setSlippage(maxSlippageBps_);
    }

    // ------------------------------------------------------------------ internals

    function _setBudget(uint96 b, uint64 p) private {
        if (b == 0 || p == 0) revert InvalidBudget(b, p);
        budgetPerPeriod = b;
        period = p;
        emit BudgetSet(b, p);
    }

    function _setSlippage(uint16 bps) private {
        if (bps > MAX_SLIPPAGE_BPS) revert InvalidSlippage(bps);
        maxSlippageBps = bps;
        emit SlippageSet(bps);
    }

    function _routeKey(address router, bytes32 pathHash_) private pure returns (bytes32) {
        return keccak256(abi.encode(router, pathHash_));
    }

    /// Re-derives a route's entry from the router's and the path's flags and the feed of the
    /// path's asset.
    function _syncRoute(address router, bytes32 h) private {
        bytes32 key = _routeKey(router, h);
        address[] storage p = _paths[h];
        Feed memory f = feeds[p[p.length - 1]];
        if (routerAllowed[router] && pathAllowed[h] && address(f.oracle) != address(0)) {
            _routes[key] = f;
        } else {
            delete _routes[key];
        }
    }

    function _known(address router) private view returns (bool) {
        for (uint256 i; i < _routers.length; ++i) {
            if (_routers[i] == router) return true;
        }
        return false;
    }

    /// The period containing now (fixed windows of `period` from `periodStart`) and what was
    /// spent in it. Budget left over from earlier periods is gone.
    function _currentPeriod() private view returns (uint64 start, uint96 spent) {
        start = periodStart;
        spent = spentInPeriod;
        if (block.timestamp >= uint256(start) + period) {
            start = uint64(block.timestamp - ((block.timestamp - start) % period));
            spent = 0;
        }
    }

    /// floor = amountIn · 10^(assetDec + feedDec) · (10000 − cap) / (price · 10^stableDec · 10000),
    /// rounded up: the vault never accepts less than the exact bound.
    function _floor(Feed memory f, uint256 amountIn)
        private
        view
        returns (uint256 floor, int256 price, uint256 updatedAt)
    {
        (, price,, updatedAt,) = f.oracle.latestRoundData();
        if (price <= 0) revert BadOraclePrice(address(f.oracle), price);
        if (updatedAt == 0 || updatedAt > block.timestamp || block.timestamp - updatedAt > f.heartbeat) {
            revert StaleOracle(address(f.oracle), updatedAt, f.heartbeat, block.timestamp);
        }
        floor = Math.mulDiv(
            amountIn * (10_000 - maxSlippageBps),
            10 ** (uint256(f.assetDecimals) + f.feedDecimals),
            uint256(price) * 10 ** uint256(stableDecimals) * 10_000,
            Math.Rounding.Ceil
        );
    }
}
