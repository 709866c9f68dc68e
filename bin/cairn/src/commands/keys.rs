//! The attestation signing key every command that signs statements uses.
use crate::config::Settings;
use anyhow::{Result, anyhow};
use cairn_attest::{KEY_ENV, Key};
use std::path::Path;

/// The attestation key: `--key <file>`, else `$CAIRN_ATTEST_KEY`, else `<data_dir>/keys/attest.key`.
pub(crate) fn signing_key(settings: &Settings, path: Option<&Path>) -> Result<Key> {
    if let Some(p) = path {
        return Key::read_file(p).map_err(|e| anyhow!("{e}"));
    }
    if std::env::var_os(KEY_ENV).is_some() {
        return Key::from_env(KEY_ENV).map_err(|e| anyhow!("{e}"));
    }
    let default = settings.data_dir.join("keys/attest.key");
    if !default.exists() {
        return Err(anyhow!(
            "no signing key: create one with `cairn key generate` (writes {}), or pass --key <file> / set {KEY_ENV}",
            default.display()
        ));
    }
    Key::read_file(&default).map_err(|e| anyhow!("{e}"))
}
