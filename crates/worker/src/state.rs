//! The worker's local record: what it offers, every job it ran and what each earned. Written
//! atomically after every change, so `cairn worker status` works with the worker stopped and the
//! node unreachable.
use crate::{Error, Result};
use cairn_compute::{Resources, fmt_usdt};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the state under the worker's directory.
pub const STATE_FILE: &str = "state.json";

/// Where a job stands for this worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Being run.
    Running,
    /// Result committed on chain; payment after the challenge window.
    Committed,
    /// Paid.
    Paid,
    /// Stopped by the sandbox (module fault); nothing earned, nothing lost.
    Failed,
    /// Given up: the lease went to another provider, or the job was cancelled.
    Abandoned,
}

/// One job this worker took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    /// Job id.
    pub id: u64,
    /// Spec name.
    pub name: String,
    /// Status.
    pub status: JobStatus,
    /// Escrowed payment.
    pub payment: u64,
    /// Paid to this worker (after the fee), once settled.
    pub paid: u64,
    /// Fuel used.
    pub fuel_used: u64,
    /// Wall time in ms.
    pub wall_time_ms: u64,
    /// Why it failed or was abandoned.
    pub note: Option<String>,
    /// Unix ms it started.
    pub started_ms: u64,
}

/// The whole state file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerState {
    /// The provider's address.
    pub address: String,
    /// The node it works for.
    pub node: String,
    /// What it advertises.
    pub capacity: Resources,
    /// GPU names found.
    pub gpu_names: Vec<String>,
    /// Stake bonded on chain (token base units).
    pub stake: String,
    /// Jobs, oldest first.
    pub jobs: Vec<JobRecord>,
}

impl WorkerState {
    /// Reads the state under `dir` (empty state if there is none yet).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::State {
                path: path.clone(),
                reason: format!("{e}; move it away to start afresh"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::State {
                path,
                reason: e.to_string(),
            }),
        }
    }

    /// Writes the state under `dir` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let err = |e: std::io::Error| Error::State {
            path: dir.join(STATE_FILE),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
        serde_json::to_writer_pretty(&mut tmp, self).expect("serializable");
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(dir.join(STATE_FILE))
            .map_err(|e| err(e.error))?;
        Ok(())
    }

    /// The record of job `id`, created if new.
    pub fn job_mut(&mut self, id: u64) -> &mut JobRecord {
        if let Some(i) = self.jobs.iter().position(|j| j.id == id) {
            return &mut self.jobs[i];
        }
        self.jobs.push(JobRecord {
            id,
            name: String::new(),
            status: JobStatus::Running,
            payment: 0,
            paid: 0,
            fuel_used: 0,
            wall_time_ms: 0,
            note: None,
            started_ms: 0,
        });
        self.jobs.last_mut().expect("just pushed")
    }

    /// Token base units paid out to this worker.
    pub fn earned(&self) -> u64 {
        self.jobs.iter().map(|j| j.paid).sum()
    }

    /// Payments committed but not yet settled (before the fee).
    pub fn pending(&self) -> u64 {
        self.jobs
            .iter()
            .filter(|j| j.status == JobStatus::Committed)
            .map(|j| j.payment)
            .sum()
    }

    /// Jobs in `status`.
    pub fn count(&self, status: JobStatus) -> usize {
        self.jobs.iter().filter(|j| j.status == status).count()
    }

    /// A few lines for people.
    pub fn summary(&self) -> String {
        format!(
            "provider {} at {}\noffers {}\nstake {} base units\njobs: {} paid, {} awaiting settlement, {} running, {} failed (module faults), {} abandoned\nearned {} (pending {})\n",
            self.address,
            self.node,
            self.capacity,
            self.stake,
            self.count(JobStatus::Paid),
            self.count(JobStatus::Committed),
            self.count(JobStatus::Running),
            self.count(JobStatus::Failed),
            self.count(JobStatus::Abandoned),
            fmt_usdt(self.earned()),
            fmt_usdt(self.pending()),
        )
    }
}

/// The default state directory of a worker under a data directory.
pub fn state_dir(data_dir: &Path, address: &str) -> PathBuf {
    data_dir.join("worker").join(address.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_survives_a_round_trip_and_sums_earnings() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = WorkerState {
            address: "0xabc".into(),
            ..WorkerState::default()
        };
        let j = s.job_mut(1);
        j.status = JobStatus::Paid;
        j.paid = 990;
        let j = s.job_mut(2);
        j.status = JobStatus::Committed;
        j.payment = 500;
        s.job_mut(1).payment = 1000;
        s.save(dir.path()).unwrap();
        let back = WorkerState::load(dir.path()).unwrap();
        assert_eq!(back, s);
        assert_eq!((back.earned(), back.pending()), (990, 500));
        assert!(back.summary().contains("1 paid, 1 awaiting settlement"));
        assert_eq!(
            WorkerState::load(&dir.path().join("none")).unwrap(),
            WorkerState::default()
        );
        std::fs::write(dir.path().join(STATE_FILE), "{").unwrap();
        assert!(
            WorkerState::load(dir.path())
                .unwrap_err()
                .to_string()
                .contains("start afresh")
        );
    }
}
