//! The anvil process: find it, start it detached, know whether it still runs, stop it.
//!
//! The devnet outlives the `cairn devnet up` command that started it, so its pid and address are
//! kept in `<data_dir>/devnet/process.json`. A pid alone is not trusted: a devnet counts as
//! running only while that pid is still an anvil process *and* its RPC answers with the
//! configured chain id.
use crate::{DevnetConfig, Error, Result, config::find_anvil};
use cairn_chain::{Chain, ChainConfig, KeySource};
use nix::{
    sys::{
        signal::{Signal, kill},
        wait::{WaitPidFlag, waitpid},
    },
    unistd::Pid,
};
use serde::{Deserialize, Serialize};
use std::{
    fmt,
    fs::File,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

const PROCESS_FILE: &str = "process.json";
const ACCOUNTS_FILE: &str = "accounts.json";
const STATE_FILE: &str = "state.json";
const LOG_FILE: &str = "anvil.log";

/// A devnet that is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningDevnet {
    /// anvil's process id.
    pub pid: u32,
    /// JSON-RPC URL.
    pub rpc_url: String,
    /// Chain id.
    pub chain_id: u64,
    /// Seconds between blocks (`None`: automine).
    pub block_time: Option<u64>,
    /// The anvil binary.
    pub anvil: PathBuf,
    /// anvil's log file.
    pub log: PathBuf,
    /// The state file, when state persists across restarts.
    pub state_file: Option<PathBuf>,
    /// Unix time it was started.
    pub started_at: u64,
}

/// The development accounts anvil created (from its `--config-out` file).
#[derive(Clone)]
pub struct DevAccounts {
    keys: Vec<String>,
}

impl fmt::Debug for DevAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DevAccounts({} keys, redacted)", self.keys.len())
    }
}

impl DevAccounts {
    /// The key of account `i`, if anvil created that many.
    pub fn key(&self, i: usize) -> Option<KeySource> {
        self.keys.get(i).map(|k| KeySource::Hex(k.clone()))
    }

    /// Account 0, which deploys and owns the devnet contracts.
    pub fn deployer_key(&self) -> KeySource {
        KeySource::Hex(self.keys[0].clone())
    }

    /// How many accounts there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none (never true for a file anvil wrote).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Whether anvil's `--config-out` file is complete (it parses with its keys).
fn accounts_written(path: &Path) -> bool {
    #[derive(Deserialize)]
    struct Keys {
        private_keys: Vec<String>,
    }
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Keys>(&t).ok())
        .is_some_and(|k| !k.private_keys.is_empty())
}

/// Reads the dev accounts of the devnet under `config.data_dir`.
pub fn dev_accounts(config: &DevnetConfig) -> Result<DevAccounts> {
    #[derive(Deserialize)]
    struct AnvilConfigOut {
        private_keys: Vec<String>,
    }
    let path = config.file(ACCOUNTS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::file(
            &path,
            format!("{e}; is the devnet running? `cairn devnet up`"),
        )
    })?;
    let parsed: AnvilConfigOut = serde_json::from_str(&text).map_err(|e| Error::file(&path, e))?;
    if parsed.private_keys.is_empty() {
        return Err(Error::file(&path, "anvil reported no accounts"));
    }
    Ok(DevAccounts {
        keys: parsed.private_keys,
    })
}

/// The devnet recorded under `config.data_dir`, if its process is still alive. A record whose
/// process is gone is removed; a live process that does not answer is an error (it is not ours
/// to replace).
pub(crate) async fn running(config: &DevnetConfig) -> Result<Option<RunningDevnet>> {
    let path = config.file(PROCESS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::file(&path, e)),
    };
    let record = serde_json::from_str::<RunningDevnet>(&text).ok();
    let Some(devnet) = record.filter(|d| is_anvil(d.pid)) else {
        let _ = std::fs::remove_file(&path);
        return Ok(None);
    };
    if !answers(&devnet.rpc_url, devnet.chain_id).await {
        return Err(Error::AnvilFailed {
            reason: format!(
                "process {} is alive but {} does not answer; stop it with `cairn devnet down`",
                devnet.pid, devnet.rpc_url
            ),
            log: devnet.log,
        });
    }
    Ok(Some(devnet))
}

/// Starts anvil detached from this process and waits until it answers.
pub(crate) async fn spawn(config: &DevnetConfig) -> Result<RunningDevnet> {
    let anvil = match &config.anvil {
        Some(p) => p.clone(),
        None => {
            let cwd = std::env::current_dir().unwrap_or_default();
            find_anvil(&cwd).ok_or_else(|| Error::AnvilMissing {
                searched: cwd.join(crate::config::NPM_ANVIL).display().to_string(),
            })?
        }
    };
    // Port 0 lets anvil pick a free port (it prints it); any other port must be free now.
    if config.port != 0 && std::net::TcpListener::bind((config.host.as_str(), config.port)).is_err()
    {
        return Err(Error::PortBusy {
            host: config.host.clone(),
            port: config.port,
        });
    }
    let dir = config.devnet_dir();
    std::fs::create_dir_all(&dir).map_err(|e| Error::file(&dir, e))?;
    let log = config.file(LOG_FILE);
    let log_file = File::create(&log).map_err(|e| Error::file(&log, e))?;
    let log_err = log_file.try_clone().map_err(|e| Error::file(&log, e))?;
    let accounts = config.file(ACCOUNTS_FILE);
    let state_file = config.persist_state.then(|| config.file(STATE_FILE));

    let mut cmd = Command::new(&anvil);
    cmd.arg("--host")
        .arg(&config.host)
        .arg("--port")
        .arg(config.port.to_string())
        .arg("--chain-id")
        .arg(config.chain_id.to_string())
        .arg("--config-out")
        .arg(&accounts);
    if let Some(secs) = config.block_time {
        cmd.arg("--block-time").arg(secs.to_string());
    }
    if let Some(state) = &state_file {
        // Dump periodically too, so even a killed devnet keeps most of its history.
        cmd.arg("--state")
            .arg(state)
            .arg("--state-interval")
            .arg("5");
    }
    // Own process group: Ctrl-C in the shell that ran `cairn devnet up` must not stop the devnet.
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err);
    let mut child = cmd.spawn().map_err(|source| Error::AnvilSpawn {
        path: anvil.clone(),
        source,
    })?;

    let deadline = Instant::now() + config.start_timeout;
    let mut rpc_url = (config.port != 0).then(|| config.rpc_url());
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Error::AnvilFailed {
                reason: format!("it exited with {status}: {}", log_tail(&log)),
                log,
            });
        }
        if rpc_url.is_none() {
            rpc_url = listening_url(&log);
        }
        // anvil may answer before its `--config-out` file is written (seen under load): ready
        // means both.
        if let Some(url) = &rpc_url
            && accounts_written(&accounts)
            && answers(url, config.chain_id).await
        {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::AnvilFailed {
                reason: format!(
                    "no answer at {} within {:?}",
                    rpc_url.as_deref().unwrap_or("its port"),
                    config.start_timeout
                ),
                log,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    restrict_permissions(&accounts);

    let devnet = RunningDevnet {
        pid: child.id(),
        rpc_url: rpc_url.expect("set once anvil answered"),
        chain_id: config.chain_id,
        block_time: config.block_time,
        anvil,
        log,
        state_file,
        started_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    };
    let path = config.file(PROCESS_FILE);
    let body = serde_json::to_string_pretty(&devnet).expect("serializes");
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, body)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::file(&path, e))?;
    tracing::info!(pid = devnet.pid, url = %devnet.rpc_url, "anvil started");
    Ok(devnet)
}

/// Stops the devnet: SIGINT (anvil then writes its state file), SIGKILL after 10 s.
pub(crate) async fn stop(config: &DevnetConfig) -> Result<Option<RunningDevnet>> {
    let path = config.file(PROCESS_FILE);
    let Some(devnet) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<RunningDevnet>(&t).ok())
    else {
        return Ok(None);
    };
    let pid = Pid::from_raw(devnet.pid as i32);
    let was_running = is_anvil(devnet.pid);
    if was_running {
        let _ = kill(pid, Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_anvil(devnet.pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if is_anvil(devnet.pid) {
            let _ = kill(pid, Signal::SIGKILL);
            while is_anvil(devnet.pid) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    std::fs::remove_file(&path).map_err(|e| Error::file(&path, e))?;
    Ok(was_running.then_some(devnet))
}

/// Whether `pid` is a live anvil process. Reaps it first if it is our own exited child, so a
/// zombie never counts as running.
fn is_anvil(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    let _ = waitpid(Pid::from_raw(raw), Some(WaitPidFlag::WNOHANG));
    // A zombie or a reused pid has an empty or different command line.
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("anvil"))
        .unwrap_or(false)
}

async fn answers(url: &str, chain_id: u64) -> bool {
    let cfg = ChainConfig::new(url)
        .with_chain_id(chain_id)
        .with_timeout(Duration::from_millis(500));
    Chain::connect(&cfg, None).await.is_ok()
}

/// The URL from anvil's `Listening on <host>:<port>` line.
fn listening_url(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let addr = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Listening on "))?;
    Some(format!("http://{}", addr.trim()))
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() {
        "(no output)".into()
    } else {
        tail
    }
}

fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}
