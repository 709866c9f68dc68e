//! The worker's pieces that need no chain: detection on this machine and the state file as
//! `cairn worker status` reads it. The full daemon runs against a real node and anvil in the
//! CLI's tests (`bin/cairn/tests/compute.rs`).
use cairn_worker::{JobStatus, WorkerState, detect, state_dir};

#[test]
fn detection_matches_proc_meminfo_and_the_scheduler() {
    let d = detect();
    assert_eq!(
        d.cpu_cores as usize,
        std::thread::available_parallelism().unwrap().get()
    );
    if let Ok(text) = std::fs::read_to_string("/proc/meminfo") {
        assert_eq!(Some(d.memory_bytes), cairn_worker::detect::mem_total(&text));
        assert!(d.memory_bytes > 1 << 20);
    }
    // A GPU is only ever reported with a name from NVML.
    assert!(d.gpus.iter().all(|g| !g.name.is_empty()));
}

#[test]
fn state_dirs_are_per_address_and_state_is_kept_across_restarts() {
    let tmp = tempfile::tempdir().unwrap();
    let a = state_dir(tmp.path(), "0xAbC");
    assert_eq!(a, tmp.path().join("worker/0xabc"));
    let mut s = WorkerState::default();
    s.job_mut(3).status = JobStatus::Committed;
    s.job_mut(3).payment = 10;
    s.save(&a).unwrap();
    let back = WorkerState::load(&a).unwrap();
    assert_eq!(back.pending(), 10);
    assert_eq!(back.count(JobStatus::Committed), 1);
}
