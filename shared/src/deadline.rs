//! One deadline per request.
//!
//! A Lambda invocation ends at its deadline whatever it is doing, and API Gateway then answers
//! the fan a bare 500. So each request served in Lambda gets one deadline, the invocation's own
//! (from its context) less [`ANSWER_MARGIN`] to send the answer, and every DynamoDB call of the
//! request shares it: a call may take its per-call budget (`DYNAMODB_CALL_BUDGET_MS`) or the
//! time left, whichever is shorter (the DynamoDB store's sleeps, which time its calls, attempts
//! and backoff, are cut to the time left: [`DeadlineSleep`]). A request that runs out answers
//! `503 SERVICE_BUSY` with `Retry-After`, never a timeout (`http::handle`).
//!
//! The deadline is a task-local: the store reads it where the request's calls are made, with no
//! parameter threaded through the operations. Outside a request (the admission tick, tools) or
//! with no Lambda context (the local server has none: a local request is bounded by the
//! per-call budget of each call only) there is no deadline and nothing is cut.

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::config::{AsyncSleep, Sleep};
use tokio::time::Instant;

/// Room kept between a request's deadline and the invocation's: enough to build the 503 and
/// hand it back to Lambda.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(500);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The request's deadline for an invocation that Lambda ends at `invocation_deadline`.
pub fn for_invocation(invocation_deadline: SystemTime) -> Instant {
    let left = invocation_deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Instant::now() + left.saturating_sub(ANSWER_MARGIN)
}

/// Runs `request` under `deadline` (none: unbounded), `Err(Elapsed)` when it ran out first.
pub async fn within<F: Future>(
    deadline: Option<Instant>,
    request: F,
) -> Result<F::Output, Elapsed> {
    match deadline {
        None => Ok(request.await),
        Some(deadline) => DEADLINE
            .scope(deadline, tokio::time::timeout_at(deadline, request))
            .await
            .map_err(|_| Elapsed),
    }
}

/// The request ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request's deadline passed")]
pub struct Elapsed;

/// Time left to the current request's deadline; `None` outside a request with one.
pub fn time_left() -> Option<Duration> {
    DEADLINE
        .try_with(|deadline| deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// Whether the current request's deadline has passed (never, without one).
pub fn passed() -> bool {
    time_left().is_some_and(|left| left.is_zero())
}

/// `wanted`, or the time left to the request's deadline when that is shorter.
pub fn capped(wanted: Duration) -> Duration {
    time_left().map_or(wanted, |left| wanted.min(left))
}

/// The DynamoDB client's sleep: the SDK times a call's budget, each attempt and the backoff
/// between attempts with it, so cutting every sleep to the time left makes each call's budget
/// min(per-call budget, time left) and stops retries at the deadline.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineSleep;

impl AsyncSleep for DeadlineSleep {
    fn sleep(&self, duration: Duration) -> Sleep {
        // Read when the SDK asks, inside the request's task: the task-local is in scope there.
        Sleep::new(tokio::time::sleep(capped(duration)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_sleep_inside_a_request_ends_at_its_deadline() {
        let deadline = Instant::now() + Duration::from_millis(300);
        let started = Instant::now();
        let slept = within(Some(deadline), async {
            DeadlineSleep.sleep(Duration::from_secs(3)).await;
            started.elapsed()
        })
        .await;
        // The sleep is cut to the 300 ms left, and ends just before the request's timeout.
        assert!(matches!(slept, Ok(d) if d == Duration::from_millis(300)) || slept == Err(Elapsed));
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }

    #[tokio::test(start_paused = true)]
    async fn outside_a_request_nothing_is_cut() {
        let started = Instant::now();
        DeadlineSleep.sleep(Duration::from_secs(3)).await;
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        assert_eq!(time_left(), None);
        assert!(!passed());
        assert_eq!(
            within(None, async { 7 }).await,
            Ok(7),
            "no deadline: the request runs to its end"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_past_its_deadline_is_cut_there() {
        let deadline = Instant::now() + Duration::from_secs(1);
        let outcome = within(Some(deadline), async {
            assert_eq!(capped(Duration::from_secs(5)), Duration::from_secs(1));
            tokio::time::sleep(Duration::from_secs(2)).await;
        })
        .await;
        assert_eq!(outcome, Err(Elapsed));
    }

    #[test]
    fn an_invocation_keeps_its_margin_to_answer() {
        let deadline = for_invocation(SystemTime::now() + Duration::from_secs(5));
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(5) - ANSWER_MARGIN, "{left:?}");
        assert!(left > Duration::from_secs(4), "{left:?}");
        // An invocation already out of time gets a deadline that has passed.
        let late = for_invocation(SystemTime::now() - Duration::from_secs(1));
        assert!(late <= Instant::now());
    }
}
