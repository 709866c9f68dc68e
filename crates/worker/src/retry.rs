//! Retrying with exponential backoff. A worker outlives node restarts and RPC hiccups: transient
//! failures are retried (100 ms doubling up to a cap) while the job they belong to keeps its
//! result; only a deadline or a definite refusal ends the attempts.
use std::{future::Future, time::Duration};
use tokio::time::Instant;

/// First pause after a failure.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The pause after `attempt` failures (0-based): 100 ms, 200 ms, 400 ms, … capped at `max`.
pub fn backoff(attempt: u32, max: Duration) -> Duration {
    MIN_BACKOFF.saturating_mul(1u32 << attempt.min(16)).min(max)
}

/// Runs `f` until it succeeds, fails with an error `transient` rejects, or `deadline` passes
/// (then the last error is returned).
pub async fn retry<T, E, F, Fut>(
    what: &str,
    deadline: Option<Instant>,
    transient: impl Fn(&E) -> bool,
    mut f: F,
) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if transient(&e) => {
                let pause = backoff(attempt, MAX_BACKOFF);
                if deadline.is_some_and(|d| Instant::now() + pause > d) {
                    return Err(e);
                }
                tracing::warn!(error = %e, retry_in = ?pause, "{what} failed; retrying");
                tokio::time::sleep(pause).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0, MAX_BACKOFF), Duration::from_millis(100));
        assert_eq!(backoff(3, MAX_BACKOFF), Duration::from_millis(800));
        assert_eq!(backoff(30, MAX_BACKOFF), MAX_BACKOFF);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_and_definite_ones_are_not() {
        let calls = AtomicU32::new(0);
        let r: Result<u32, String> = retry(
            "x",
            None,
            |e: &String| e == "busy",
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 3 {
                    Err("busy".to_string())
                } else {
                    Ok(n)
                }
            },
        )
        .await;
        assert_eq!(r, Ok(3));
        let r: Result<u32, String> = retry(
            "x",
            None,
            |e: &String| e == "busy",
            || async { Err("no".to_string()) },
        )
        .await;
        assert_eq!(r, Err("no".into()));
        let deadline = Instant::now() + Duration::from_millis(250);
        let r: Result<u32, String> = retry(
            "x",
            Some(deadline),
            |_: &String| true,
            || async { Err("busy".to_string()) },
        )
        .await;
        assert_eq!(r, Err("busy".into()));
        assert!(Instant::now() <= deadline);
    }
}
