//! The witness: trusted log keys, the latest cosigned checkpoint per origin, and the cosigner.
use crate::{AddCheckpoint, WitnessError};
use base64::{Engine, engine::general_purpose::STANDARD};
use cairn_tlog::{
    Checkpoint, Cosigner, Hash, Note, NoteSignature, NoteVerifier, empty_root, verify_consistency,
};
use serde::{Deserialize, Serialize};
use std::{
    collections::{BTreeMap, HashMap},
    io::Write,
    path::PathBuf,
    sync::Mutex,
};

/// What a witness trusts and where it keeps its state.
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// JSON file recording the latest cosigned checkpoint per origin.
    pub state_file: PathBuf,
    /// Trusted log keys. A log's origin is its key name (the usual convention).
    pub logs: Vec<NoteVerifier>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Latest {
    size: u64,
    root: String,
    /// The cosigned checkpoint note, with this witness's cosignature (absent in state files
    /// written before the monitoring endpoint existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checkpoint: Option<String>,
}

/// A running witness.
pub struct Witness {
    cosigner: Cosigner,
    logs: HashMap<String, Vec<NoteVerifier>>,
    state_file: PathBuf,
    // The lock spans check *and* persist: see tlog-witness on the rollback race.
    latest: Mutex<BTreeMap<String, Latest>>,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("name", &self.cosigner.name())
            .finish_non_exhaustive()
    }
}

impl Witness {
    /// Opens the witness, reading its state file if it exists.
    pub fn open(config: WitnessConfig, cosigner: Cosigner) -> Result<Self, WitnessError> {
        let latest = match std::fs::read_to_string(&config.state_file) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                WitnessError::Internal(format!("{}: {e}", config.state_file.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(WitnessError::Internal(format!(
                    "{}: {e}",
                    config.state_file.display()
                )));
            }
        };
        let mut logs: HashMap<String, Vec<NoteVerifier>> = HashMap::new();
        for v in config.logs {
            logs.entry(v.name().to_owned()).or_default().push(v);
        }
        Ok(Self {
            cosigner,
            logs,
            state_file: config.state_file,
            latest: Mutex::new(latest),
        })
    }

    /// The witness's cosignature verifier key (tlog-cosignature vkey, type 0x04).
    pub fn vkey(&self) -> String {
        self.cosigner.to_vkey()
    }

    /// The latest cosigned (size, root) for `origin`.
    pub fn latest(&self, origin: &str) -> Option<(u64, Hash)> {
        let latest = self.latest.lock().expect("lock");
        let l = latest.get(origin)?;
        let root = STANDARD.decode(&l.root).ok()?.try_into().ok()?;
        Some((l.size, root))
    }

    /// Handles one `add-checkpoint` request at time `now` (Unix seconds): verifies, records,
    /// and returns the cosignature.
    pub fn add_checkpoint(
        &self,
        req: &AddCheckpoint,
        now: u64,
    ) -> Result<NoteSignature, WitnessError> {
        let note = Note::parse(&req.checkpoint)
            .map_err(|e| WitnessError::BadRequest(format!("checkpoint note: {e}")))?;
        let cp = Checkpoint::parse_body(&note.text)
            .map_err(|e| WitnessError::BadRequest(format!("checkpoint body: {e}")))?;
        if cp.size == 0 && cp.root != empty_root() {
            return Err(WitnessError::Inconsistent(format!(
                "a checkpoint of size 0 must carry the empty-tree root {}",
                STANDARD.encode(empty_root())
            )));
        }
        let keys = self
            .logs
            .get(&cp.origin)
            .ok_or_else(|| WitnessError::UnknownOrigin(cp.origin.clone()))?;
        let refs: Vec<&NoteVerifier> = keys.iter().collect();
        note.verify(&refs)
            .map_err(|e| WitnessError::Forbidden(e.to_string()))?;
        if req.old_size > cp.size {
            return Err(WitnessError::BadRequest(format!(
                "old size {} is larger than the checkpoint size {}",
                req.old_size, cp.size
            )));
        }

        let mut latest = self.latest.lock().expect("lock");
        let (have_size, have_root) = match latest.get(&cp.origin) {
            Some(l) => {
                let root: Hash = STANDARD
                    .decode(&l.root)
                    .ok()
                    .and_then(|r| r.try_into().ok())
                    .ok_or_else(|| WitnessError::Internal("corrupt root in state file".into()))?;
                (l.size, Some(root))
            }
            None => (0, None),
        };
        if req.old_size != have_size {
            return Err(WitnessError::OldSizeMismatch(have_size));
        }
        // tlog-witness: from size 0, and to the same size, the proof is empty.
        if (req.old_size == 0 || cp.size == have_size) && !req.proof.is_empty() {
            return Err(WitnessError::Inconsistent(format!(
                "the consistency proof from size {} to size {} must be empty, it has {} hashes",
                req.old_size,
                cp.size,
                req.proof.len()
            )));
        }
        if let Some(root) = have_root {
            if cp.size == have_size {
                if root != cp.root {
                    return Err(WitnessError::RootMismatch(cp.size));
                }
            } else if have_size > 0 {
                verify_consistency(have_size, cp.size, &root, &cp.root, &req.proof)
                    .map_err(|e| WitnessError::Inconsistent(e.to_string()))?;
            }
        }
        let sig = self
            .cosigner
            .cosign(&note.text, now)
            .map_err(|e| WitnessError::Internal(format!("cosigning: {e}")))?;
        let mut cosigned = note.clone();
        cosigned.add_signature(sig.clone());
        let mut next = latest.clone();
        next.insert(
            cp.origin.clone(),
            Latest {
                size: cp.size,
                root: STANDARD.encode(cp.root),
                checkpoint: Some(cosigned.to_string()),
            },
        );
        self.persist(&next)?;
        *latest = next;
        drop(latest);
        Ok(sig)
    }

    /// The latest checkpoint this witness cosigned for the log whose origin hashes to
    /// `origin_hash` (see [`origin_hash`]), with its cosignature.
    pub fn latest_checkpoint(&self, origin_hash: &str) -> Option<String> {
        let latest = self.latest.lock().expect("lock");
        latest
            .iter()
            .find(|(origin, _)| crate::origin_hash(origin) == origin_hash)
            .and_then(|(_, l)| l.checkpoint.clone())
    }

    /// Writes the state durably (temp file, fsync, rename, fsync directory).
    fn persist(&self, state: &BTreeMap<String, Latest>) -> Result<(), WitnessError> {
        let err = |e: std::io::Error| {
            WitnessError::Internal(format!("{}: {e}", self.state_file.display()))
        };
        let dir = self
            .state_file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        tmp.write_all(
            serde_json::to_string_pretty(state)
                .expect("serializes")
                .as_bytes(),
        )
        .map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(&self.state_file).map_err(|e| err(e.error))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
        Ok(())
    }
}
