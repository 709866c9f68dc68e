//! Integration tests for cairn-sandbox: hostile modules, the WASI surface
//! seen from wasm, determinism, and the C example jobs.
//!
//! The example-job tests need `target/jobs/*.wasm`, built by `make jobs`
//! (`make test` builds them first); they fail with that hint when missing.

mod determinism;
mod examples;
mod hostile;
mod util;
mod wasi;
