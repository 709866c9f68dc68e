//! Prints what `cairn worker` would detect on this machine, as JSON: cores, memory, and the
//! NVIDIA GPUs NVML reports (none when libnvidia-ml cannot be loaded).
//!
//! `cargo run -p cairn-worker --example detect`
fn main() {
    let d = cairn_worker::detect();
    println!(
        "{}",
        serde_json::to_string_pretty(&d).expect("serializable")
    );
}
