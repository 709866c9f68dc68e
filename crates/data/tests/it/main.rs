//! Integration tests for cairn-data: known answers, proofs, verify, cache,
//! content-defined chunking and walking rules.

mod cache;
mod cdc;
mod kat;
mod proofs;
mod util;
mod v1_fixture;
mod verify;
mod walk;
