//! Contention: writes DynamoDB refuses for what other writes are doing at that moment, not for
//! what the items hold.
//!
//! DynamoDB cancels a `TransactWriteItems` with a `TransactionConflict` reason when another
//! transaction is writing one of its items, and refuses a `PutItem`, `UpdateItem` or `DeleteItem`
//! of such an item with `TransactionConflictException`. Neither was even looked at: nothing was
//! written, and the same write a few milliseconds later, once the other transaction is done,
//! may well go through. The SDK retries neither (the Rust SDK classifies only throttling and
//! transient codes as retryable; a cancellation is never retried, since its reasons may be
//! conditions), so the store resends them itself, as the SDK does throttling: jittered pauses
//! that double (`conflict_pause_ms`), at most `CONFLICT_RETRIES` times and for at most
//! [`CONFLICT_BUDGET`]. A write
//! still refused then is [`StoreError::Contention`], which the service answers `503
//! SERVICE_BUSY` with `Retry-After`: never a condition's answer (a taken seat, a lapsed hold),
//! which would tell the fan something false, and never a re-read and retry in the booking code,
//! which would multiply the crowd on the hottest items.
//!
//! A cancellation throttled on one of its items (`ThrottlingError`,
//! `ProvisionedThroughputExceeded`) is contention too. One with a `ConditionalCheckFailed`
//! reason is the conditions' answer, whatever else it says: the state moved, and the caller
//! reads it again.

use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use tokio::time::Instant;

use super::request::{conflict_pause_ms, CONFLICT_RETRIES};

/// A write refused only by contention is not sent again once this long has passed since its
/// first send (nor more than `CONFLICT_RETRIES` times): a third of a call's budget in Lambda
/// (`DEFAULT_CALL_BUDGET`), so that the request still answers well inside the function's
/// timeout with its other calls.
pub const CONFLICT_BUDGET: Duration = Duration::from_millis(1_000);

/// The code of a single-item write refused for a transaction in flight on its item.
const CONFLICT_EXCEPTION: &str = "TransactionConflictException";
/// Cancellation reasons that say nothing about the items' conditions.
const CONTENTION_REASONS: [&str; 3] = [
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
];
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// What a cancelled transaction's reasons (one code per item, `None` for the items that were
/// not the cause) say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cancellation {
    /// A condition failed: the state moved since it was read.
    Conditions,
    /// Only other writes (or throttling) stood in the way: send it again.
    Contention,
    /// Anything else (a validation error, an unknown reason): no resend mends it.
    Invalid,
}

pub(super) fn cancellation(codes: &[String]) -> Cancellation {
    let causes: Vec<&str> = codes
        .iter()
        .map(String::as_str)
        .filter(|c| *c != "None")
        .collect();
    if causes.contains(&CONDITION_FAILED) {
        Cancellation::Conditions
    } else if !causes.is_empty() && causes.iter().all(|c| CONTENTION_REASONS.contains(c)) {
        Cancellation::Contention
    } else {
        Cancellation::Invalid
    }
}

/// Whether a single-item write was refused for a transaction in flight on its item.
pub(super) fn is_conflict<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == CONFLICT_EXCEPTION)
}

/// The pacing of one write's resends.
pub(super) struct Resends {
    started: Instant,
    sent: u32,
}

impl Resends {
    pub(super) fn new() -> Self {
        Resends {
            started: Instant::now(),
            sent: 1,
        }
    }

    /// The pause before the next send, or `None` when the count or the time is spent.
    pub(super) fn next_pause(&mut self) -> Option<Duration> {
        let pause = Duration::from_millis(fastrand::u64(0..=conflict_pause_ms(self.sent - 1)));
        if self.sent > CONFLICT_RETRIES || self.started.elapsed() + pause > CONFLICT_BUDGET {
            return None;
        }
        self.sent += 1;
        Some(pause)
    }

    /// Waits the next pause; `false` (at once) when the write must give up.
    pub(super) async fn pause(&mut self) -> bool {
        match self.next_pause() {
            Some(pause) => {
                tokio::time::sleep(pause).await;
                true
            }
            None => false,
        }
    }

    /// What a write that gave up says: how often it was sent, for how long.
    pub(super) fn gave_up(&self, what: &str) -> String {
        format!(
            "{what}, still refused after {} sends in {} ms",
            self.sent,
            self.started.elapsed().as_millis()
        )
    }
}

/// Sends a single-item write until it is not refused for a transaction in flight on its item,
/// or the resends are spent (the last refusal is returned: `request_error` makes it
/// [`crate::store::StoreError::Contention`]).
pub(super) async fn resend_on_conflict<T, E, R, F, Fut>(mut send: F) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
{
    let mut resends = Resends::new();
    loop {
        let answer = send().await;
        let conflicted = matches!(&answer, Err(error) if is_conflict(error));
        if !conflicted || !resends.pause().await {
            return answer;
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::types::error::TransactionConflictException;

    use super::super::request::request_error;
    use super::*;
    use crate::store::StoreError;

    fn codes(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn a_failed_condition_is_the_answer_whatever_else_the_reasons_say() {
        for reasons in [
            &["None", "ConditionalCheckFailed"][..],
            &["TransactionConflict", "ConditionalCheckFailed", "None"],
            &["ConditionalCheckFailed", "ThrottlingError"],
        ] {
            assert_eq!(
                cancellation(&codes(reasons)),
                Cancellation::Conditions,
                "{reasons:?}"
            );
        }
    }

    #[test]
    fn conflicts_and_throttles_alone_are_contention() {
        for reasons in [
            &["None", "TransactionConflict"][..],
            &["TransactionConflict", "TransactionConflict", "None", "None"],
            &["ThrottlingError", "None"],
            &["ProvisionedThroughputExceeded", "TransactionConflict"],
        ] {
            assert_eq!(
                cancellation(&codes(reasons)),
                Cancellation::Contention,
                "{reasons:?}"
            );
        }
    }

    #[test]
    fn anything_else_is_not_resent() {
        for reasons in [
            &["None", "ValidationError"][..],
            &["TransactionConflict", "ItemCollectionSizeLimitExceeded"],
            &["None", "None"],
            &[],
            &["SomethingNew"],
        ] {
            assert_eq!(
                cancellation(&codes(reasons)),
                Cancellation::Invalid,
                "{reasons:?}"
            );
        }
    }

    /// A PutItem refused as DynamoDB refuses it (the error's code from the answer's `__type`).
    fn refused(code: &str) -> SdkError<PutItemError, ()> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("refused")
            .build();
        let error = match code {
            CONFLICT_EXCEPTION => PutItemError::TransactionConflictException(
                TransactionConflictException::builder().meta(meta).build(),
            ),
            _ => PutItemError::generic(meta),
        };
        SdkError::service_error(error, ())
    }

    #[test]
    fn a_single_write_refused_for_a_transaction_in_flight_is_contention() {
        assert!(is_conflict(&refused(CONFLICT_EXCEPTION)));
        assert!(matches!(
            request_error(refused(CONFLICT_EXCEPTION)),
            StoreError::Contention(_)
        ));
        // Throttling the SDK retried in vain stays what it was: the store is unavailable.
        for code in [
            "ProvisionedThroughputExceededException",
            "InternalServerError",
        ] {
            assert!(!is_conflict(&refused(code)), "{code}");
            assert!(
                matches!(request_error(refused(code)), StoreError::Request(_)),
                "{code}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_single_write_is_resent_while_it_conflicts_and_then_gives_up() {
        // Conflicted twice, then applied.
        let mut sends = 0;
        let answer = resend_on_conflict(|| {
            sends += 1;
            let answer = if sends <= 2 {
                Err(refused(CONFLICT_EXCEPTION))
            } else {
                Ok(sends)
            };
            async move { answer }
        })
        .await;
        assert_eq!(answer.ok(), Some(3));
        // Conflicted for ever: it gives up within its bounds, with the conflict.
        let mut sends = 0;
        let started = Instant::now();
        let answer: Result<(), _> = resend_on_conflict(|| {
            sends += 1;
            async { Err(refused(CONFLICT_EXCEPTION)) }
        })
        .await;
        assert!(answer.as_ref().is_err_and(is_conflict));
        assert!(sends <= CONFLICT_RETRIES + 1, "{sends}");
        assert!(
            started.elapsed() <= CONFLICT_BUDGET,
            "{:?}",
            started.elapsed()
        );
        // Any other refusal is not resent.
        let mut sends = 0;
        let answer: Result<(), _> = resend_on_conflict(|| {
            sends += 1;
            async { Err(refused("ConditionalCheckFailedException")) }
        })
        .await;
        assert!(answer.is_err());
        assert_eq!(sends, 1);
    }

    #[test]
    fn resends_stop_at_their_count() {
        let mut resends = Resends::new();
        let mut pauses = Vec::new();
        while let Some(pause) = resends.next_pause() {
            pauses.push(pause);
        }
        assert_eq!(pauses.len(), CONFLICT_RETRIES as usize);
        // Each pause stays under its doubling ceiling.
        for (i, pause) in pauses.iter().enumerate() {
            let ceiling = conflict_pause_ms(i as u32);
            assert!(pause.as_millis() <= u128::from(ceiling), "{i}: {pause:?}");
        }
        assert!(resends
            .gave_up("x")
            .contains(&format!("{} sends", CONFLICT_RETRIES + 1)));
    }

    #[tokio::test(start_paused = true)]
    async fn resends_stop_at_their_time_budget() {
        let mut resends = Resends::new();
        // Each send took long (a slow DynamoDB): the budget ends the resends before the count.
        let mut sent = 1;
        loop {
            tokio::time::advance(CONFLICT_BUDGET / 4).await;
            if !resends.pause().await {
                break;
            }
            sent += 1;
        }
        assert!(sent <= 4, "{sent} sends");
        assert!(resends.started.elapsed() <= CONFLICT_BUDGET + CONFLICT_BUDGET / 4);
    }
}
