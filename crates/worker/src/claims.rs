//! What the workers already running on this machine offer, so that a second worker does not
//! advertise the cores, memory and GPUs the first one sold.
//!
//! Each running worker keeps a file `<pid>.json` with its offer in one machine-wide directory
//! (`$TMPDIR/cairn-worker-claims`); a worker that dies leaves its file behind, and claims of
//! processes that no longer exist are ignored (and removed). Reading the others' claims and
//! writing one's own happen under a lock file, so two workers starting together cannot both
//! take the same cores.
use cairn_compute::Resources;
use serde::{Deserialize, Serialize};
use std::{
    fs::File,
    path::{Path, PathBuf},
};

/// One worker's offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The worker's process id.
    pub pid: u32,
    /// What it offers.
    pub offer: Resources,
}

/// The machine-wide claims directory.
#[derive(Clone, Debug)]
pub struct MachineClaims {
    dir: PathBuf,
}

/// Removes the claim when the worker stops.
#[derive(Debug)]
pub struct ClaimGuard {
    path: PathBuf,
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl MachineClaims {
    /// The directory every worker on this machine uses.
    pub fn system() -> Self {
        Self::at(std::env::temp_dir().join("cairn-worker-claims"))
    }

    /// Claims kept under `dir` (tests).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn lock(&self) -> std::io::Result<File> {
        std::fs::create_dir_all(&self.dir)?;
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(".lock"))?;
        f.lock()?;
        Ok(f)
    }

    /// The claims of the other live workers.
    pub fn others(&self) -> std::io::Result<Vec<Claim>> {
        let _lock = self.lock()?;
        self.read_others()
    }

    fn read_others(&self) -> std::io::Result<Vec<Claim>> {
        let me = std::process::id();
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.dir)? {
            let path = e?.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let Some(claim) = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Claim>(&b).ok())
            else {
                continue;
            };
            if claim.pid == me {
                continue;
            }
            if !alive(claim.pid) {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            out.push(claim);
        }
        Ok(out)
    }

    /// What is left of `machine` after the other workers' offers.
    pub fn left(&self, machine: Resources) -> std::io::Result<(Resources, Vec<Claim>)> {
        let others = self.others()?;
        Ok((subtract(machine, &others), others))
    }

    /// Records this worker's offer, if what the others offer still leaves room for it;
    /// otherwise returns what is left and who holds the rest.
    pub fn register(
        &self,
        machine: Resources,
        offer: Resources,
    ) -> std::io::Result<Result<ClaimGuard, (Resources, Vec<Claim>)>> {
        let _lock = self.lock()?;
        let others = self.read_others()?;
        let left = subtract(machine, &others);
        if !left.covers(&offer) {
            return Ok(Err((left, others)));
        }
        let path = self.dir.join(format!("{}.json", std::process::id()));
        let claim = Claim {
            pid: std::process::id(),
            offer,
        };
        std::fs::write(&path, serde_json::to_vec(&claim)?)?;
        Ok(Ok(ClaimGuard { path }))
    }
}

fn subtract(machine: Resources, others: &[Claim]) -> Resources {
    others
        .iter()
        .fold(machine, |left, c| left.saturating_sub(&c.offer))
}

/// Whether process `pid` exists (Linux: `/proc/<pid>`).
fn alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(cores: u32, gib: u64) -> Resources {
        Resources {
            cpu_cores: cores,
            memory_bytes: gib << 30,
            gpus: 0,
        }
    }

    #[test]
    fn live_claims_count_and_dead_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let claims = MachineClaims::at(dir.path());
        // Another live process (our parent, pid 1 in containers: both exist) holds 1 core.
        let other = Claim {
            pid: 1,
            offer: r(1, 4),
        };
        std::fs::write(
            dir.path().join("1.json"),
            serde_json::to_vec(&other).unwrap(),
        )
        .unwrap();
        // A dead worker's leftover claim.
        let dead = Claim {
            pid: u32::MAX - 1,
            offer: r(8, 64),
        };
        std::fs::write(
            dir.path().join("dead.json"),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        let (left, others) = claims.left(r(2, 16)).unwrap();
        assert_eq!(left, r(1, 12));
        assert_eq!(others, vec![other]);
        assert!(
            !dir.path().join("dead.json").exists(),
            "stale claims are removed"
        );

        // Asking for more than is left is refused, saying what is left.
        let (left, _) = claims.register(r(2, 16), r(2, 4)).unwrap().unwrap_err();
        assert_eq!(left, r(1, 12));
        let guard = claims.register(r(2, 16), r(1, 4)).unwrap().unwrap();
        assert!(
            dir.path()
                .join(format!("{}.json", std::process::id()))
                .exists()
        );
        drop(guard);
        assert!(
            !dir.path()
                .join(format!("{}.json", std::process::id()))
                .exists()
        );
    }
}
