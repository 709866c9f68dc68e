//! What this machine can offer: CPU cores, memory, and NVIDIA GPUs.
//!
//! GPUs are found only through NVML, the driver's management library, loaded at run time: on a
//! machine without `libnvidia-ml` (or built without the `nvml` feature) the answer is "no
//! GPUs", never a guess from device files or environment variables.
use serde::{Deserialize, Serialize};

/// One GPU as NVML reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gpu {
    /// Model name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Device memory in bytes.
    pub memory_bytes: u64,
}

/// The machine's resources.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detected {
    /// Logical CPU cores available to this process.
    pub cpu_cores: u32,
    /// Total memory in bytes (`MemTotal` of `/proc/meminfo`); 0 if unknown.
    pub memory_bytes: u64,
    /// NVIDIA GPUs.
    pub gpus: Vec<Gpu>,
    /// Why GPUs were not looked for or not found (for `worker status`), if so.
    pub gpu_note: Option<String>,
}

/// Detects cores, memory and GPUs.
pub fn detect() -> Detected {
    let cpu_cores = std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1);
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_total(&t))
        .unwrap_or(0);
    let (gpus, gpu_note) = match nvml_gpus() {
        Ok(g) => (g, None),
        Err(note) => (Vec::new(), Some(note)),
    };
    Detected {
        cpu_cores,
        memory_bytes,
        gpus,
        gpu_note,
    }
}

/// `MemTotal` in bytes from `/proc/meminfo` text.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => n.checked_mul(1024),
        Some(_) => None,
    }
}

#[cfg(feature = "nvml")]
fn nvml_gpus() -> Result<Vec<Gpu>, String> {
    let nvml = nvml_wrapper::Nvml::init()
        .map_err(|e| format!("NVML not available ({e}); no GPUs offered"))?;
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML could not count devices: {e}"))?;
    let mut out = Vec::new();
    for i in 0..count {
        let d = nvml
            .device_by_index(i)
            .map_err(|e| format!("NVML device {i}: {e}"))?;
        out.push(Gpu {
            name: d.name().unwrap_or_else(|_| format!("NVIDIA GPU {i}")),
            memory_bytes: d.memory_info().map(|m| m.total).unwrap_or(0),
        });
    }
    Ok(out)
}

#[cfg(not(feature = "nvml"))]
fn nvml_gpus() -> Result<Vec<Gpu>, String> {
    Err("built without the `nvml` feature; no GPUs offered".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_is_parsed_in_kibibytes() {
        let text = "MemTotal:       16309164 kB\nMemFree:         1234 kB\n";
        assert_eq!(mem_total(text), Some(16_309_164 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert_eq!(mem_total("MemTotal: lots kB\n"), None);
        assert_eq!(mem_total("MemTotal: 5 MB\n"), None);
    }

    #[test]
    fn detection_reports_at_least_one_core_and_never_invents_gpus() {
        let d = detect();
        assert!(d.cpu_cores >= 1);
        if d.gpus.is_empty() {
            assert!(d.gpu_note.is_some() || cfg!(feature = "nvml"));
        }
    }
}
