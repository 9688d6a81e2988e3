//! Top-ups that are paid for (`TOPUP_MODE=provider`). A top-up is written PENDING under the fan
//! before the payment provider is asked for a payment (so a payment never exists for a top-up we
//! do not know), with the provider's idempotency key set to the top-up's id (so a resent create
//! never makes a second payment). The balance changes only when the provider's signed webhook
//! says the payment succeeded, in one transaction with the top-up's PENDING -> SUCCEEDED and
//! the event's id: a redelivered, reordered or concurrently duplicated event credits once. A
//! payment that matches no pending top-up of the same amount, currency and fan is kept for an
//! operator and logged, never credited.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, instrument, warn};

use super::Ticketing;
use crate::domain::{BookingError, ChargeAmount, IdempotencyKey, Timestamp, TopUpId, UserId, Won};
use crate::store::{
    BalanceChange, BalanceEntryRecord, CommitOutcome, EntryKind, PaymentEventRecord,
    PaymentLinkRecord, TopUpCredit, TopUpRecord, TopUpStart, TopUpStatus, UnmatchedPaymentRecord,
};
use crate::stripe::signature;

/// The currency of every payment: the won has no minor unit (Stripe's "zero-decimal"), so an
/// amount is sent and received in won as it is.
pub const CURRENCY: &str = "krw";
/// The only event that credits.
pub const PAYMENT_SUCCEEDED: &str = "payment_intent.succeeded";
/// The event that ends a payment for good: its top-up fails. (`payment_failed` does not: the
/// fan may try another card on the same PaymentIntent.)
pub const PAYMENT_CANCELED: &str = "payment_intent.canceled";
/// The metadata keys a payment carries its top-up in.
pub const METADATA_TOP_UP_ID: &str = "top_up_id";
pub const METADATA_USER_ID: &str = "user_id";
/// A credited event's id is kept this long: far past the provider's redeliveries (three days).
const EVENT_KEPT_SECONDS: i64 = 30 * 86_400;
const DAY_SECONDS: i64 = 86_400;

/// A payment to create at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    pub top_up_id: TopUpId,
    pub user_id: UserId,
    pub amount: Won,
}

/// What the fan's client completes the payment with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedPayment {
    pub id: String,
    pub client_secret: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

/// The payment provider, behind the one call the service makes to it.
#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// Creates a payment of `amount` won with the top-up in its metadata; resending the same
    /// top-up creates nothing new (the top-up id is the provider's idempotency key).
    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<CreatedPayment, ProviderError>;
}

/// Provider mode's parts: the provider, the webhook's secret, the daily cap.
pub struct Payments {
    pub provider: Arc<dyn PaymentProvider>,
    pub webhook_secret: String,
    pub max_per_day: u32,
}

/// `POST /balance/charges` in provider mode: `202`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopUpStarted {
    pub top_up_id: TopUpId,
    pub status: TopUpStatus,
    pub amount: Won,
    pub client_secret: String,
}

/// `GET /balance/charges/{topUpId}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopUpView {
    pub top_up_id: TopUpId,
    pub status: TopUpStatus,
    pub amount: Won,
    pub created_at: Timestamp,
}

/// What a verified webhook delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    Credited,
    /// A redelivery, or a duplicate that lost the race: the top-up was credited already.
    AlreadyCredited,
    /// Kept for an operator, not credited.
    Unmatched,
    /// A canceled payment's pending top-up marked FAILED.
    Failed,
    /// An event type that changes nothing.
    Ignored,
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: Value,
}

#[derive(Deserialize)]
struct PaymentIntent {
    id: String,
    amount: i64,
    currency: String,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

impl PaymentIntent {
    /// A metadata value by its key as this service writes it (`top_up_id`), or camel-cased
    /// (`topUpId`), as a hand-made payment might carry it.
    fn named(&self, key: &str) -> Option<&str> {
        let camel: String = key
            .split('_')
            .enumerate()
            .map(|(i, part)| match i {
                0 => part.to_owned(),
                _ => part[..1].to_uppercase() + &part[1..],
            })
            .collect();
        self.metadata
            .get(key)
            .or_else(|| self.metadata.get(&camel))
            .map(String::as_str)
    }
}

impl Ticketing {
    /// Sets provider mode: charges start paid top-ups instead of crediting.
    pub fn with_payments(mut self, payments: Payments) -> Self {
        self.payments = Some(Arc::new(payments));
        self
    }

    /// Whether charges go through the payment provider.
    pub fn takes_payments(&self) -> bool {
        self.payments.is_some()
    }

    fn payments(&self) -> Result<&Payments, BookingError> {
        self.payments
            .as_deref()
            .ok_or_else(|| BookingError::PaymentProvider("no payment provider is set up".into()))
    }

    /// Starts a top-up: PENDING, counted on the fan's day, then the provider's payment.
    #[instrument(skip(self, key), fields(user = %user, amount = i64::from(amount)))]
    pub async fn start_top_up(
        &self,
        user: &UserId,
        amount: ChargeAmount,
        key: Option<&IdempotencyKey>,
    ) -> Result<TopUpStarted, BookingError> {
        let payments = self.payments()?;
        let request = format!("topup:{}", i64::from(amount));
        let first_read = async { Ok(self.store.balance(user).await?) };
        self.idempotent(
            user,
            key,
            request,
            first_read,
            |claim, balance| async move {
                // Refused now rather than kept unpaid-for later: the credit would break the cap.
                balance.amount.credit(amount)?;
                let now = self.now().epoch_seconds();
                let day = now.div_euclid(DAY_SECONDS);
                let top_up = TopUpRecord {
                    top_up_id: TopUpId::new(),
                    user_id: user.clone(),
                    amount: amount.won(),
                    status: TopUpStatus::Pending,
                    created_at: now,
                };
                let start = TopUpStart {
                    top_up: top_up.clone(),
                    day,
                    max_per_day: payments.max_per_day,
                    day_expires_at: (day + 2) * DAY_SECONDS,
                };
                if !self.store.start_top_up(&start).await? {
                    return Err(BookingError::TooManyTopUps {
                        limit: payments.max_per_day,
                    });
                }
                let created = payments
                    .provider
                    .create_payment(&PaymentRequest {
                        top_up_id: top_up.top_up_id,
                        user_id: user.clone(),
                        amount: top_up.amount,
                    })
                    .await;
                let created = match created {
                    Ok(created) => created,
                    Err(error) => {
                        // No payment can complete a top-up whose client secret nobody has.
                        let failed = self.store.fail_top_up(user, top_up.top_up_id).await;
                        if let Err(failed) = failed {
                            warn!(%failed, top_up = %top_up.top_up_id, "a top-up left pending");
                        }
                        return Err(BookingError::PaymentProvider(error.0));
                    }
                };
                info!(top_up = %top_up.top_up_id, payment = %created.id, "top-up started");
                let link = PaymentLinkRecord {
                    payment_intent: created.id.clone(),
                    top_up_id: top_up.top_up_id,
                    user_id: user.clone(),
                };
                // The metadata names the top-up too: a lost link only loses the second way.
                if let Err(error) = self.store.link_payment(&link).await {
                    warn!(%error, top_up = %top_up.top_up_id, "the payment's link was not kept");
                }
                let started = TopUpStarted {
                    top_up_id: top_up.top_up_id,
                    status: TopUpStatus::Pending,
                    amount: top_up.amount,
                    client_secret: created.client_secret,
                };
                if let Some(claim) = claim {
                    if !self
                        .store
                        .complete_idempotency_key(&claim.completion(&started)?)
                        .await?
                    {
                        return Err(BookingError::IdempotencyKeyInUse);
                    }
                }
                Ok(started)
            },
        )
        .await
    }

    /// The caller's own top-up.
    #[instrument(skip(self), fields(user = %user))]
    pub async fn top_up(&self, user: &UserId, top_up: TopUpId) -> Result<TopUpView, BookingError> {
        let record = self
            .store
            .top_up(user, top_up)
            .await?
            .ok_or(BookingError::TopUpNotFound)?;
        Ok(TopUpView {
            top_up_id: record.top_up_id,
            status: record.status,
            amount: record.amount,
            created_at: Timestamp::from_epoch_seconds(record.created_at),
        })
    }

    /// A webhook delivery: verified against `signature` (the `Stripe-Signature` header) before
    /// its body is read; then `payment_intent.succeeded` credits its pending top-up once.
    #[instrument(skip_all)]
    pub async fn payment_event(
        &self,
        signature_header: Option<&str>,
        body: &[u8],
    ) -> Result<WebhookOutcome, BookingError> {
        let secret = self
            .payments
            .as_ref()
            .map(|p| p.webhook_secret.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| BookingError::InvalidSignature("no webhook secret is set up".into()))?;
        let now = self.now().epoch_seconds();
        signature::verify(signature_header, body, secret, now)
            .map_err(|e| BookingError::InvalidSignature(e.to_string()))?;
        let event: Event =
            serde_json::from_slice(body).map_err(|e| BookingError::MalformedJson(e.to_string()))?;
        if event.kind == PAYMENT_CANCELED {
            return self.payment_canceled(&event.id, event.data.object).await;
        }
        if event.kind != PAYMENT_SUCCEEDED {
            info!(event = %event.id, kind = %event.kind, "provider event ignored");
            return Ok(WebhookOutcome::Ignored);
        }
        let intent: PaymentIntent = serde_json::from_value(event.data.object)
            .map_err(|e| BookingError::MalformedJson(e.to_string()))?;
        let unmatched = |reason: &str| UnmatchedPaymentRecord {
            event_id: event.id.clone(),
            payment_intent: intent.id.clone(),
            top_up_id: intent.named(METADATA_TOP_UP_ID).map(str::to_owned),
            user_id: intent.named(METADATA_USER_ID).map(str::to_owned),
            amount: intent.amount,
            currency: intent.currency.clone(),
            reason: reason.to_owned(),
            at: now,
        };
        let Some((top_up_id, user)) = self.payment_of(&intent).await? else {
            return self
                .keep_unmatched(unmatched("no top-up in the metadata"))
                .await;
        };
        if intent.currency != CURRENCY {
            return self.keep_unmatched(unmatched("not in won")).await;
        }
        let decided = self
            .until_committed(|| async {
                // The top-up and the balance in one round trip: both are the fan's own items.
                let (top_up, current) = tokio::join!(
                    self.store.top_up(&user, top_up_id),
                    self.store.balance(&user)
                );
                let Some(top_up) = top_up? else {
                    return Ok((CommitOutcome::Committed, Err("no such top-up of this fan")));
                };
                match top_up.status {
                    TopUpStatus::Succeeded => {
                        return Ok((
                            CommitOutcome::Committed,
                            Ok(WebhookOutcome::AlreadyCredited),
                        ))
                    }
                    TopUpStatus::Failed => {
                        return Ok((CommitOutcome::Committed, Err("the top-up had failed")))
                    }
                    TopUpStatus::Pending if top_up.amount.get() != intent.amount => {
                        return Ok((CommitOutcome::Committed, Err("another amount")))
                    }
                    TopUpStatus::Pending => {}
                }
                let Ok(amount) = ChargeAmount::parse(top_up.amount.get()) else {
                    return Ok((
                        CommitOutcome::Committed,
                        Err("an amount no charge may have"),
                    ));
                };
                let current = current?;
                let Ok(balance_after) = current.amount.credit(amount) else {
                    return Ok((CommitOutcome::Committed, Err("the balance cap")));
                };
                let credit = TopUpCredit {
                    balance: BalanceChange {
                        user_id: user.clone(),
                        entry: BalanceEntryRecord {
                            version: current.version + 1,
                            kind: EntryKind::TopUp,
                            amount: top_up.amount,
                            balance_after,
                            at: now,
                            payment_id: None,
                            top_up_id: Some(top_up_id),
                        },
                        completion: None,
                    },
                    event: PaymentEventRecord {
                        event_id: event.id.clone(),
                        top_up_id,
                        user_id: user.clone(),
                        amount: top_up.amount,
                        at: now,
                        expires_at: now + EVENT_KEPT_SECONDS,
                    },
                    top_up,
                };
                let outcome = self.store.credit_top_up(&credit).await?;
                Ok((outcome, Ok(WebhookOutcome::Credited)))
            })
            .await?;
        match decided {
            Ok(outcome) => {
                info!(event = %event.id, top_up = %top_up_id, ?outcome, "payment confirmed");
                Ok(outcome)
            }
            Err(reason) => self.keep_unmatched(unmatched(reason)).await,
        }
    }

    /// A canceled PaymentIntent fails its top-up, if still pending; anything else is left.
    async fn payment_canceled(
        &self,
        event_id: &str,
        object: Value,
    ) -> Result<WebhookOutcome, BookingError> {
        let intent: PaymentIntent = serde_json::from_value(object)
            .map_err(|e| BookingError::MalformedJson(e.to_string()))?;
        let Some((top_up, user)) = self.payment_of(&intent).await? else {
            return Ok(WebhookOutcome::Ignored);
        };
        let failed = self.store.fail_top_up(&user, top_up).await?;
        info!(event = %event_id, top_up = %top_up, failed, "payment canceled");
        Ok(if failed {
            WebhookOutcome::Failed
        } else {
            WebhookOutcome::Ignored
        })
    }

    /// The top-up and fan a payment is for: by its metadata, else by the link kept when it
    /// was created.
    async fn payment_of(
        &self,
        intent: &PaymentIntent,
    ) -> Result<Option<(TopUpId, UserId)>, BookingError> {
        let top_up = intent
            .named(METADATA_TOP_UP_ID)
            .and_then(|raw| TopUpId::parse(raw).ok());
        let user = intent
            .named(METADATA_USER_ID)
            .and_then(|raw| UserId::parse(raw).ok());
        if let (Some(top_up), Some(user)) = (top_up, user) {
            return Ok(Some((top_up, user)));
        }
        let link = self.store.payment_link(&intent.id).await?;
        Ok(link
            .filter(|l| top_up.is_none_or(|t| t == l.top_up_id))
            .map(|l| (l.top_up_id, l.user_id)))
    }

    async fn keep_unmatched(
        &self,
        record: UnmatchedPaymentRecord,
    ) -> Result<WebhookOutcome, BookingError> {
        warn!(
            event = %record.event_id,
            payment = %record.payment_intent,
            top_up = ?record.top_up_id,
            user = ?record.user_id,
            amount = record.amount,
            currency = %record.currency,
            reason = %record.reason,
            "a confirmed payment matches no pending top-up: kept for an operator, not credited"
        );
        self.store.record_unmatched_payment(&record).await?;
        Ok(WebhookOutcome::Unmatched)
    }
}
