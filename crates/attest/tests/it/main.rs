//! Integration tests for cairn-attest: DSSE known answers, signing and verification, statement
//! and predicate validation through JSON, lineage walks, key files, and envelope round trips.

mod dsse_vectors;
mod envelope;
mod fixtures;
mod keys;
mod lineage;
mod props;
mod statements;
