//! `GET /metrics`: the node in the Prometheus text format (0.0.4), in the log's style: one
//! `# HELP` and `# TYPE` per family, counters end in `_total`.
//!
//! ```text
//! request ─track─▶ handler ─▶ response      requests_total{route, status} += 1
//! GET /metrics ─▶ counters in memory (since start) + the store's counts (jobs by state,
//!                 providers, escrow queue, audits) ─▶ text
//! ```
use crate::{Node, Result};
use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
};

/// Counters kept in memory since the node started.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Answers by route (the router's pattern) and status.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Open `GET /events` streams.
    pub(crate) sse_subscribers: AtomicI64,
    /// Passes of the chain loop that failed (and were retried).
    pub(crate) chain_errors: AtomicU64,
    /// Writes refused over a client's rate limit.
    pub(crate) rate_limited: AtomicU64,
}

impl Metrics {
    fn record(&self, route: String, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((route, status)).or_insert(0) += 1;
    }
}

/// Counts one `GET /events` stream while it is open.
pub(crate) struct Subscriber(Node);

impl Subscriber {
    pub(crate) fn new(node: Node) -> Self {
        node.shared
            .metrics
            .sse_subscribers
            .fetch_add(1, Ordering::Relaxed);
        Self(node)
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.0
            .shared
            .metrics
            .sse_subscribers
            .fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware (a route layer, so the route pattern is known): counts every answer.
pub(crate) async fn track(State(node): State<Node>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let resp = next.run(req).await;
    if resp.status() == axum::http::StatusCode::TOO_MANY_REQUESTS {
        node.shared
            .metrics
            .rate_limited
            .fetch_add(1, Ordering::Relaxed);
    }
    node.shared.metrics.record(route, resp.status().as_u16());
    resp
}

/// A label value, escaped as the text format wants.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The exposition.
pub(crate) fn render(node: &Node) -> Result<String> {
    let counts = node.store_counts()?;
    let m = &node.shared.metrics;
    let mut out = String::new();
    family(
        &mut out,
        "cairn_node_requests_total",
        "counter",
        "HTTP answers since the node started, by route pattern and status.",
    );
    for ((route, status), n) in m.requests.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(
            out,
            "cairn_node_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
            label(route)
        );
    }
    family(
        &mut out,
        "cairn_node_jobs",
        "gauge",
        "Jobs on this node by state.",
    );
    for s in cairn_compute::JobState::ALL {
        let n = counts.jobs.get(s.as_str()).copied().unwrap_or(0);
        let _ = writeln!(out, "cairn_node_jobs{{state=\"{}\"}} {n}", s.as_str());
    }
    family(
        &mut out,
        "cairn_node_providers",
        "gauge",
        "Providers that ever advertised to this node.",
    );
    let _ = writeln!(out, "cairn_node_providers {}", counts.providers);
    family(
        &mut out,
        "cairn_node_providers_online",
        "gauge",
        "Providers whose heartbeat is within the lease period.",
    );
    let _ = writeln!(
        out,
        "cairn_node_providers_online {}",
        node.online_providers()
    );
    family(
        &mut out,
        "cairn_node_escrow_queue",
        "gauge",
        "Jobs waiting for chain work (assign, settle, close, refund, challenge, slash), queued until confirmed.",
    );
    let _ = writeln!(out, "cairn_node_escrow_queue {}", counts.escrow_queue);
    family(
        &mut out,
        "cairn_node_audits_passed_total",
        "counter",
        "Sampled step audits that passed.",
    );
    let _ = writeln!(
        out,
        "cairn_node_audits_passed_total {}",
        counts.audits_passed
    );
    family(
        &mut out,
        "cairn_node_audits_failed_total",
        "counter",
        "Sampled step audits that failed (the job was disputed).",
    );
    let _ = writeln!(
        out,
        "cairn_node_audits_failed_total {}",
        counts.audits_failed
    );
    family(
        &mut out,
        "cairn_node_sse_subscribers",
        "gauge",
        "Open GET /events streams.",
    );
    let _ = writeln!(
        out,
        "cairn_node_sse_subscribers {}",
        m.sse_subscribers.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "cairn_node_chain_errors_total",
        "counter",
        "Passes of the chain loop that failed and were retried.",
    );
    let _ = writeln!(
        out,
        "cairn_node_chain_errors_total {}",
        m.chain_errors.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "cairn_node_rate_limited_total",
        "counter",
        "Writes refused over a client's rate limit.",
    );
    let _ = writeln!(
        out,
        "cairn_node_rate_limited_total {}",
        m.rate_limited.load(Ordering::Relaxed)
    );
    Ok(out)
}

/// What the store counts for the metrics.
#[derive(Debug, Default)]
pub(crate) struct StoreCounts {
    /// Jobs by state name.
    pub(crate) jobs: BTreeMap<String, u64>,
    pub(crate) providers: u64,
    pub(crate) escrow_queue: u64,
    pub(crate) audits_passed: u64,
    pub(crate) audits_failed: u64,
}
