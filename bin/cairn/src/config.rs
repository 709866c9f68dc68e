//! Configuration layering: built-in defaults < `cairn.toml` < `CAIRN_*` environment < flags.
//!
//! clap already resolves "flag, else environment variable" for each option; this module lays
//! that over the file, and the file over the libraries' own defaults.
use crate::cli::{ChainArgs, Cli, DevnetArgs};
use anyhow::{Context, Result, bail};
use cairn_chain::{ChainConfig, KeySource, PRIVATE_KEY_ENV};
use cairn_devnet::DevnetConfig;
use serde::Deserialize;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Default config file, read when present.
const DEFAULT_CONFIG_FILE: &str = "cairn.toml";

/// The contents of `cairn.toml`. Unknown keys are errors, so a typo never silently does nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    data_dir: Option<PathBuf>,
    #[serde(default)]
    chain: ChainSection,
    #[serde(default)]
    devnet: DevnetSection,
    /// Chain profiles by name (`[chains.<name>]`), adding to or replacing the built-in ones.
    #[serde(default)]
    chains: std::collections::BTreeMap<String, cairn_chain::ChainProfile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainSection {
    rpc_url: Option<String>,
    chain_id: Option<u64>,
    key_file: Option<PathBuf>,
    timeout_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DevnetSection {
    host: Option<String>,
    port: Option<u16>,
    chain_id: Option<u64>,
    block_time: Option<u64>,
    anvil: Option<PathBuf>,
    persist_state: Option<bool>,
    prices_dir: Option<PathBuf>,
    pool_depth_usdt: Option<u64>,
}

/// Everything the commands need, resolved once.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) data_dir: PathBuf,
    file: FileConfig,
}

impl Settings {
    /// Reads the config file (explicit path, or `./cairn.toml` when present).
    pub(crate) fn load(cli: &Cli) -> Result<Self> {
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                read_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => FileConfig::default(),
        };
        for (name, p) in &file.chains {
            p.validate(name)
                .map_err(|e| anyhow::anyhow!("{e} (in [chains.{name}] of the config file)"))?;
        }
        let data_dir = cli
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(".cairn"));
        Ok(Self { data_dir, file })
    }

    /// Every chain profile: the built-in ones, then the config file's (which win by name).
    pub(crate) fn chain_profiles(&self) -> Vec<(String, cairn_chain::ChainProfile)> {
        let mut all: std::collections::BTreeMap<String, cairn_chain::ChainProfile> =
            cairn_chain::BUILTIN_PROFILES
                .iter()
                .filter_map(|n| Some((n.to_string(), cairn_chain::ChainProfile::builtin(n)?)))
                .collect();
        for (n, p) in &self.file.chains {
            all.insert(n.clone(), p.clone());
        }
        all.into_iter().collect()
    }

    /// A chain profile by name, or an error listing the names.
    pub(crate) fn chain_profile(&self, name: &str) -> Result<cairn_chain::ChainProfile> {
        let all = self.chain_profiles();
        all.iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no chain profile {name:?}; known: {} (add one under [chains.{name}] in cairn.toml)",
                    all.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                )
            })
    }

    /// The devnet config for `cairn devnet …`.
    pub(crate) fn devnet(&self, args: Option<&DevnetArgs>) -> DevnetConfig {
        let f = &self.file.devnet;
        let d = DevnetConfig::default().with_data_dir(&self.data_dir);
        let block_time = args
            .and_then(|a| a.block_time)
            .or(f.block_time)
            .or(d.block_time);
        DevnetConfig {
            host: args
                .and_then(|a| a.host.clone())
                .or(f.host.clone())
                .unwrap_or(d.host.clone()),
            port: args.and_then(|a| a.port).or(f.port).unwrap_or(d.port),
            chain_id: args
                .and_then(|a| a.chain_id)
                .or(f.chain_id)
                .unwrap_or(d.chain_id),
            block_time: block_time.filter(|&s| s > 0),
            anvil: args
                .and_then(|a| a.anvil.clone())
                .or(f.anvil.clone())
                .or(d.anvil.clone()),
            persist_state: !args.is_some_and(|a| a.no_state)
                && f.persist_state.unwrap_or(d.persist_state),
            prices_dir: args
                .and_then(|a| a.prices_dir.clone())
                .or(f.prices_dir.clone())
                .unwrap_or(d.prices_dir.clone()),
            pool_depth_usdt: f.pool_depth_usdt.unwrap_or(d.pool_depth_usdt),
            redeploy: args.is_some_and(|a| a.redeploy),
            ..d
        }
    }

    /// The chain config and key for `cairn chain …`.
    pub(crate) fn chain(&self, args: &ChainArgs) -> Result<(ChainConfig, Option<KeySource>)> {
        let f = &self.file.chain;
        let mut cfg = ChainConfig::default();
        if let Some(url) = args.rpc_url.clone().or(f.rpc_url.clone()) {
            cfg.rpc_url = url;
        }
        cfg.chain_id = args.chain_id.or(f.chain_id);
        if let Some(secs) = args.timeout.or(f.timeout_secs) {
            if secs == 0 {
                bail!(
                    "rpc timeout must be at least 1 second (got 0 from --timeout / timeout_secs)"
                );
            }
            cfg.timeout = Duration::from_secs(secs);
        }
        let key = match args.key_file.clone().or(f.key_file.clone()) {
            Some(path) => Some(KeySource::File(path)),
            None if std::env::var_os(PRIVATE_KEY_ENV).is_some() => {
                Some(KeySource::Env(PRIVATE_KEY_ENV.to_owned()))
            }
            None => None,
        };
        Ok((cfg, key))
    }

    /// Seed-price directory for `cairn chain deploy`.
    pub(crate) fn prices_dir(&self, args: &ChainArgs) -> PathBuf {
        args.prices_dir
            .clone()
            .or(self.file.devnet.prices_dir.clone())
            .unwrap_or_else(|| DevnetConfig::default().prices_dir)
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let msg = e.message();
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        anyhow::anyhow!(
            "invalid config file {}{at}: {msg}; fix it, or pass --config with another file",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_mistyped_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cairn.toml");
        std::fs::write(&p, "[devnet]\nprot = 1\n").unwrap();
        let e = read_file(&p).unwrap_err().to_string();
        assert!(e.contains("prot") && e.contains("line 2"), "{e}");
        std::fs::write(&p, "[devnet]\nport = \"high\"\n").unwrap();
        let e = read_file(&p).unwrap_err().to_string();
        assert!(e.contains("invalid config file"), "{e}");
        std::fs::write(
            &p,
            "data_dir = \"/x\"\n[devnet]\nport = 9999\nblock_time = 2\n",
        )
        .unwrap();
        let f = read_file(&p).unwrap();
        assert_eq!((f.devnet.port, f.devnet.block_time), (Some(9999), Some(2)));
    }
}
