//! Printing: text for people, JSON with `--json`, logs to stderr. A closed pipe (`cairn … |
//! head`) ends the program quietly instead of panicking.
use std::io::Write;

/// Logs go to stderr, filtered by `RUST_LOG` (default: warnings).
pub(crate) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Writes `text` to stdout; exits 0 if the reader has gone away.
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Prints a value as pretty JSON followed by a newline.
pub(crate) fn json<T: serde::Serialize>(value: &T) {
    print(&(serde_json::to_string_pretty(value).expect("serializable") + "\n"));
}
