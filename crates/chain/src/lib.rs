//! Chain access for Cairn.
//!
//! Everything that talks to an EVM JSON-RPC endpoint goes through [`Chain::connect`], which
//! checks that the endpoint answers (with a deadline, so a dead URL never hangs a command) and
//! that it is the chain the caller expects. Nothing here assumes a particular chain id: the devnet
//! defaults live in `cairn-devnet`, production configs name any RPC URL.
//!
//! Keys come from a file or an environment variable ([`KeySource`]), never from code, and the
//! types here never print them.

mod config;
mod connect;
mod error;
mod keys;
mod manifest;
pub mod profile;
pub mod send;
pub mod units;

pub use config::{ChainConfig, DEFAULT_RPC_TIMEOUT, DEFAULT_RPC_URL};
pub use connect::{CONFIRM_TIMEOUT, Chain, ChainInfo, ensure_success, with_margin};
pub use error::{Error, Result};
pub use keys::{KeySource, PRIVATE_KEY_ENV};
pub use manifest::{Deployment, FeedInfo, PoolInfo, TokenInfo};
pub use profile::{BUILTIN_PROFILES, ChainProfile, ProfileError};
pub use send::SendFailure;
pub use units::{UnitsError, format_units, parse_units};
