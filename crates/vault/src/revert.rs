//! Turns a revert into a name and a sentence. The vault's custom errors carry the amounts,
//! addresses and times that matter; reverts of the token (SafeERC20 bubbles them up) and of the
//! router (Router02 reverts with strings, e.g. `UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT`
//! when the pool cannot meet the oracle floor) are decoded too.
use alloy::sol_types::{Panic, Revert, SolError};
use cairn_contracts::{AgentVault::AgentVaultErrors as V, TestToken::TestTokenErrors as T};

/// `(error name, explanation)` for a failed call, or `None` when the revert data is missing
/// or foreign.
pub fn decode(e: &alloy::contract::Error) -> Option<(&'static str, String)> {
    if let Some(v) = e.as_decoded_interface_error::<V>() {
        return Some(vault(v));
    }
    if let Some(t) = e.as_decoded_interface_error::<T>().and_then(token) {
        return Some(t);
    }
    let data = e.as_revert_data()?;
    if let Ok(r) = Revert::abi_decode(&data) {
        return Some(("Error", r.reason));
    }
    Panic::abi_decode(&data)
        .ok()
        .map(|p| ("Panic", format!("panic code {}", p.code)))
}

fn vault(e: V) -> (&'static str, String) {
    match e {
        V::NotAgent(x) => (
            "NotAgent",
            format!("{} is not the vault's agent key", x.caller),
        ),
        V::OwnableUnauthorizedAccount(x) => (
            "OwnableUnauthorizedAccount",
            format!("{} is not the vault's owner", x.account),
        ),
        V::OwnableInvalidOwner(x) => (
            "OwnableInvalidOwner",
            format!("{} cannot own the vault", x.owner),
        ),
        V::RenounceDisabled(_) => (
            "RenounceDisabled",
            "ownership cannot be renounced (the funds would be stranded); transfer it".into(),
        ),
        V::EnforcedPause(_) => ("EnforcedPause", "the vault is paused".into()),
        V::ExpectedPause(_) => ("ExpectedPause", "the vault is not paused".into()),
        V::ZeroAddress(_) => ("ZeroAddress", "an address argument is zero".into()),
        V::ZeroAmount(_) => ("ZeroAmount", "the amount must be positive".into()),
        V::RouterNotAllowed(x) => (
            "RouterNotAllowed",
            format!("router {} is not allow-listed", x.router),
        ),
        V::PathNotAllowed(x) => (
            "PathNotAllowed",
            format!("the token path (hash {}) is not allow-listed", x.pathHash),
        ),
        V::InvalidPath(_) => (
            "InvalidPath",
            "a path must be stablecoin → asset or stablecoin → hop → asset, without repeats".into(),
        ),
        V::NoFeed(x) => ("NoFeed", format!("no price feed is set for {}", x.asset)),
        V::BadOraclePrice(x) => (
            "BadOraclePrice",
            format!(
                "feed {} answers {}, not a positive price",
                x.oracle, x.answer
            ),
        ),
        V::StaleOracle(x) => (
            "StaleOracle",
            format!(
                "feed {} was last updated at {} (chain time {}), longer ago than its heartbeat of {} s",
                x.oracle, x.updatedAt, x.now_, x.heartbeat
            ),
        ),
        V::OverBudget(x) => (
            "OverBudget",
            format!(
                "{} is more than the {} left of this period's budget (the period ends at {})",
                x.amountIn, x.left, x.periodEnds
            ),
        ),
        V::InsufficientBalance(x) => (
            "InsufficientBalance",
            format!(
                "the vault holds {} of the stablecoin, {} is needed",
                x.balance, x.needed
            ),
        ),
        V::DeadlinePassed(x) => (
            "DeadlinePassed",
            format!("deadline {} is before chain time {}", x.deadline, x.now_),
        ),
        V::DeadlineTooFar(x) => (
            "DeadlineTooFar",
            format!(
                "deadline {} is after the latest allowed, {}",
                x.deadline, x.latest
            ),
        ),
        V::ReceivedTooLittle(x) => (
            "ReceivedTooLittle",
            format!(
                "the swap delivered {}, the floor is {}",
                x.received, x.floor
            ),
        ),
        V::AllowanceLeft(x) => (
            "AllowanceLeft",
            format!("the router kept an allowance of {}", x.allowance),
        ),
        V::InvalidSlippage(x) => (
            "InvalidSlippage",
            format!(
                "slippage cap {} bps is above the vault's maximum (5000)",
                x.bps
            ),
        ),
        V::InvalidBudget(x) => (
            "InvalidBudget",
            format!(
                "budget {} per {} s: both must be positive",
                x.budgetPerPeriod, x.period
            ),
        ),
        V::InvalidHeartbeat(x) => (
            "InvalidHeartbeat",
            format!("heartbeat {} s must be positive", x.heartbeat),
        ),
        V::InvalidDecimals(x) => (
            "InvalidDecimals",
            format!(
                "{} decimals is more than the vault supports (36)",
                x.decimals
            ),
        ),
        V::ReentrancyGuardReentrantCall(_) => (
            "ReentrancyGuardReentrantCall",
            "reentrant call refused".into(),
        ),
        V::SafeERC20FailedOperation(x) => (
            "SafeERC20FailedOperation",
            format!("token {} refused a transfer or approval", x.token),
        ),
    }
}

fn token(e: T) -> Option<(&'static str, String)> {
    Some(match e {
        T::ERC20InsufficientAllowance(x) => (
            "ERC20InsufficientAllowance",
            format!(
                "the vault may spend {} of the token but needs {}; approve it first",
                x.allowance, x.needed
            ),
        ),
        T::ERC20InsufficientBalance(x) => (
            "ERC20InsufficientBalance",
            format!(
                "{} holds {} of the token but {} is needed",
                x.sender, x.balance, x.needed
            ),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{primitives::U256, sol_types::SolInterface};

    #[test]
    fn selectors_are_distinct_from_the_string_revert() {
        // A custom error never decodes as Error(string) and vice versa.
        let data = cairn_contracts::AgentVault::OverBudget {
            amountIn: U256::from(5u8),
            left: U256::from(1u8),
            periodEnds: U256::from(9u8),
        }
        .abi_encode();
        assert!(Revert::abi_decode(&data).is_err());
        let r = Revert::from("UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT").abi_encode();
        assert!(V::abi_decode(&r).is_err());
    }
}
