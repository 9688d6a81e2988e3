//! Top-ups in provider mode: a fake provider records the payments asked for; webhooks are signed
//! here as Stripe signs them, on the scenario's clock.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::json;
use ticketing::booking::{
    CreatedPayment, PageLimit, PaymentProvider, PaymentRequest, Payments, ProviderError,
    WebhookOutcome,
};
use ticketing::domain::{ChargeAmount, IdempotencyKey, TopUpId, UserId};
use ticketing::store::{EntryKind, TopUpStatus};
use ticketing::stripe::signature;
use ticketing::{BookingError, Ticketing};

use crate::world::*;

const SECRET: &str = "whsec_contract";

#[derive(Default)]
struct FakeProvider {
    asked: Mutex<Vec<PaymentRequest>>,
    /// Answers every create with an error (Stripe down, or refusing).
    failing: bool,
}

#[async_trait]
impl PaymentProvider for FakeProvider {
    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<CreatedPayment, ProviderError> {
        self.asked.lock().unwrap().push(request.clone());
        if self.failing {
            return Err(ProviderError("Stripe: 500 Internal Server Error".into()));
        }
        Ok(CreatedPayment {
            id: format!("pi_{}", request.top_up_id.to_string().replace('-', "")),
            client_secret: format!("pi_{}_secret_x", request.top_up_id),
        })
    }
}

struct Paid {
    booking: Ticketing,
    provider: Arc<FakeProvider>,
}

fn paid(w: &World, max_per_day: u32) -> Paid {
    paid_through(w, max_per_day, FakeProvider::default())
}

fn paid_through(w: &World, max_per_day: u32, provider: FakeProvider) -> Paid {
    let provider = Arc::new(provider);
    let booking = w.booking.clone().with_payments(Payments {
        provider: provider.clone(),
        webhook_secret: SECRET.into(),
        max_per_day,
    });
    Paid { booking, provider }
}

fn won(amount: i64) -> ChargeAmount {
    ChargeAmount::parse(amount).unwrap()
}

/// A `payment_intent.succeeded` event as Stripe sends it, for a top-up of `user`.
fn succeeded(
    event_id: &str,
    top_up: TopUpId,
    user: &UserId,
    amount: i64,
    currency: &str,
) -> Vec<u8> {
    json!({
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": format!("pi_{top_up}"),
            "object": "payment_intent",
            "amount": amount,
            "amount_received": amount,
            "currency": currency,
            "status": "succeeded",
            "metadata": {"top_up_id": top_up.to_string(), "user_id": user.to_string()}
        }}
    })
    .to_string()
    .into_bytes()
}

impl Paid {
    async fn deliver(&self, w: &World, body: &[u8]) -> Result<WebhookOutcome, BookingError> {
        let header = signature::sign(body, SECRET, w.now().epoch_seconds());
        self.booking.payment_event(Some(&header), body).await
    }
}

async fn balance(w: &World, user: &UserId) -> i64 {
    w.booking.balance(user).await.unwrap().balance.get()
}

pub async fn a_top_up_credits_once_however_often_it_is_delivered(w: World) {
    let p = paid(&w, 10);
    let ana = fan("ana");
    let started = p
        .booking
        .start_top_up(&ana, won(50_000), None)
        .await
        .unwrap();
    assert_eq!(started.status, TopUpStatus::Pending);
    assert_eq!(started.amount.get(), 50_000);
    assert!(started.client_secret.contains("_secret_"));
    let asked = p.provider.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].top_up_id, started.top_up_id);
    assert_eq!(asked[0].user_id, ana);
    assert_eq!(asked[0].amount.get(), 50_000);
    // Nothing is credited before the provider confirms.
    assert_eq!(balance(&w, &ana).await, 0);
    let view = p.booking.top_up(&ana, started.top_up_id).await.unwrap();
    assert_eq!(view.status, TopUpStatus::Pending);

    let event = succeeded("evt_1", started.top_up_id, &ana, 50_000, "krw");
    assert_eq!(
        p.deliver(&w, &event).await.unwrap(),
        WebhookOutcome::Credited
    );
    assert_eq!(balance(&w, &ana).await, 50_000);
    for _ in 0..3 {
        w.advance(60);
        assert_eq!(
            p.deliver(&w, &event).await.unwrap(),
            WebhookOutcome::AlreadyCredited
        );
    }
    // Another event for the same payment (a resend under a new id) credits nothing either.
    let again = succeeded("evt_2", started.top_up_id, &ana, 50_000, "krw");
    assert_eq!(
        p.deliver(&w, &again).await.unwrap(),
        WebhookOutcome::AlreadyCredited
    );
    // An earlier event of the payment delivered late changes nothing.
    let late = json!({"id": "evt_0", "type": "payment_intent.processing",
        "data": {"object": {"id": "pi_x", "amount": 50_000, "currency": "krw"}}})
    .to_string();
    assert_eq!(
        p.deliver(&w, late.as_bytes()).await.unwrap(),
        WebhookOutcome::Ignored
    );
    assert_eq!(balance(&w, &ana).await, 50_000);
    let view = p.booking.top_up(&ana, started.top_up_id).await.unwrap();
    assert_eq!(view.status, TopUpStatus::Succeeded);
    let history = w
        .booking
        .balance_history(&ana, PageLimit::DEFAULT, None)
        .await
        .unwrap();
    let kinds: Vec<(EntryKind, i64)> = history
        .items
        .iter()
        .map(|i| (i.kind, i.amount.get()))
        .collect();
    assert_eq!(kinds, [(EntryKind::TopUp, 50_000)]);
    // The entry names its top-up, and only that.
    assert_eq!(
        (history.items[0].top_up_id, history.items[0].payment_id),
        (Some(started.top_up_id), None)
    );
    // Another fan never sees it.
    assert!(matches!(
        p.booking.top_up(&fan("bob"), started.top_up_id).await,
        Err(BookingError::TopUpNotFound)
    ));
    assert!(p.provider.asked.lock().unwrap().len() == 1);
}

pub async fn concurrent_duplicate_deliveries_credit_once(w: World) {
    let p = Arc::new(paid(&w, 10));
    let ana = fan("ana");
    let mut events = Vec::new();
    for (i, amount) in [10_000, 20_000, 30_000, 40_000].into_iter().enumerate() {
        let started = p
            .booking
            .start_top_up(&ana, won(amount), None)
            .await
            .unwrap();
        events.push(succeeded(
            &format!("evt_{i}"),
            started.top_up_id,
            &ana,
            amount,
            "krw",
        ));
    }
    let mut deliveries = Vec::new();
    for event in &events {
        for _ in 0..6 {
            let (p, event, w_now) = (p.clone(), event.clone(), w.now().epoch_seconds());
            deliveries.push(tokio::spawn(async move {
                let header = signature::sign(&event, SECRET, w_now);
                p.booking.payment_event(Some(&header), &event).await
            }));
        }
    }
    let mut credited = 0;
    for delivery in deliveries {
        match delivery.await.unwrap().unwrap() {
            WebhookOutcome::Credited => credited += 1,
            WebhookOutcome::AlreadyCredited => {}
            other => panic!("a duplicate answered {other:?}"),
        }
    }
    assert_eq!(credited, 4);
    assert_eq!(balance(&w, &ana).await, 100_000);
    let history = w
        .booking
        .balance_history(&ana, PageLimit::DEFAULT, None)
        .await
        .unwrap();
    assert_eq!(history.items.len(), 4);
}

pub async fn forged_stale_and_unmatched_events_credit_nothing(w: World) {
    let p = paid(&w, 10);
    let ana = fan("ana");
    let started = p
        .booking
        .start_top_up(&ana, won(70_000), None)
        .await
        .unwrap();
    let event = succeeded("evt_1", started.top_up_id, &ana, 70_000, "krw");
    let now = w.now().epoch_seconds();

    let forged = signature::sign(&event, "whsec_attacker", now);
    let stale = signature::sign(&event, SECRET, now - signature::TOLERANCE_SECONDS - 1);
    for header in [Some(forged.as_str()), Some(stale.as_str()), None] {
        assert!(matches!(
            p.booking.payment_event(header, &event).await,
            Err(BookingError::InvalidSignature(_))
        ));
    }
    // Direct mode has no webhook secret: nothing verifies.
    let good = signature::sign(&event, SECRET, now);
    assert!(matches!(
        w.booking.payment_event(Some(&good), &event).await,
        Err(BookingError::InvalidSignature(_))
    ));

    let bob = fan("bob");
    let mismatches = [
        succeeded("evt_amount", started.top_up_id, &ana, 7_000_000, "krw"),
        succeeded("evt_currency", started.top_up_id, &ana, 70_000, "usd"),
        succeeded("evt_user", started.top_up_id, &bob, 70_000, "krw"),
        succeeded("evt_unknown", TopUpId::new(), &ana, 70_000, "krw"),
    ];
    for mismatch in &mismatches {
        assert_eq!(
            p.deliver(&w, mismatch).await.unwrap(),
            WebhookOutcome::Unmatched
        );
        // A redelivery keeps it once.
        assert_eq!(
            p.deliver(&w, mismatch).await.unwrap(),
            WebhookOutcome::Unmatched
        );
    }
    assert_eq!(balance(&w, &ana).await, 0);
    assert_eq!(balance(&w, &bob).await, 0);
    let view = p.booking.top_up(&ana, started.top_up_id).await.unwrap();
    assert_eq!(view.status, TopUpStatus::Pending);
    let kept = w.store.unmatched_payments(100).await.unwrap();
    let mut ids: Vec<&str> = kept.iter().map(|k| k.event_id.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        ["evt_amount", "evt_currency", "evt_unknown", "evt_user"]
    );
    let amount = kept.iter().find(|k| k.event_id == "evt_amount").unwrap();
    assert_eq!(amount.amount, 7_000_000);
    assert_eq!(amount.reason, "another amount");

    // The right event still credits, once.
    assert_eq!(
        p.deliver(&w, &event).await.unwrap(),
        WebhookOutcome::Credited
    );
    assert_eq!(balance(&w, &ana).await, 70_000);
}

pub async fn top_ups_are_capped_a_day_and_replayed_by_their_key(w: World) {
    let p = paid(&w, 3);
    let ana = fan("ana");
    let key = IdempotencyKey::parse("topup-1").unwrap();
    let first = p
        .booking
        .start_top_up(&ana, won(1_000), Some(&key))
        .await
        .unwrap();
    let replay = p
        .booking
        .start_top_up(&ana, won(1_000), Some(&key))
        .await
        .unwrap();
    assert_eq!(replay, first);
    assert!(matches!(
        p.booking.start_top_up(&ana, won(2_000), Some(&key)).await,
        Err(BookingError::IdempotencyKeyReused)
    ));
    assert_eq!(p.provider.asked.lock().unwrap().len(), 1);
    for _ in 0..2 {
        p.booking
            .start_top_up(&ana, won(1_000), None)
            .await
            .unwrap();
    }
    assert!(matches!(
        p.booking.start_top_up(&ana, won(1_000), None).await,
        Err(BookingError::TooManyTopUps { limit: 3 })
    ));
    assert_eq!(p.provider.asked.lock().unwrap().len(), 3);
    // Another fan has a day of its own; the next day is a new count.
    p.booking
        .start_top_up(&fan("bob"), won(1_000), None)
        .await
        .unwrap();
    w.advance(86_400);
    p.booking
        .start_top_up(&ana, won(1_000), None)
        .await
        .unwrap();
    assert_eq!(balance(&w, &ana).await, 0);
}

pub async fn a_canceled_or_uncreated_payment_fails_its_top_up(w: World) {
    let ana = fan("ana");
    let down = paid_through(
        &w,
        10,
        FakeProvider {
            failing: true,
            ..FakeProvider::default()
        },
    );
    assert!(matches!(
        down.booking.start_top_up(&ana, won(5_000), None).await,
        Err(BookingError::PaymentProvider(_))
    ));
    let asked = down.provider.asked.lock().unwrap()[0].top_up_id;
    let view = down.booking.top_up(&ana, asked).await.unwrap();
    assert_eq!(view.status, TopUpStatus::Failed);

    let p = paid(&w, 10);
    let started = p
        .booking
        .start_top_up(&ana, won(8_000), None)
        .await
        .unwrap();
    let canceled = json!({"id": "evt_cancel", "type": "payment_intent.canceled",
        "data": {"object": {"id": "pi_c", "amount": 8_000, "currency": "krw",
            "metadata": {"top_up_id": started.top_up_id.to_string(), "user_id": "ana"}}}})
    .to_string();
    assert_eq!(
        p.deliver(&w, canceled.as_bytes()).await.unwrap(),
        WebhookOutcome::Failed
    );
    assert_eq!(
        p.deliver(&w, canceled.as_bytes()).await.unwrap(),
        WebhookOutcome::Ignored
    );
    let view = p.booking.top_up(&ana, started.top_up_id).await.unwrap();
    assert_eq!(view.status, TopUpStatus::Failed);
    // A success reported after the cancel credits nothing: an operator settles it.
    let late = succeeded("evt_late", started.top_up_id, &ana, 8_000, "krw");
    assert_eq!(
        p.deliver(&w, &late).await.unwrap(),
        WebhookOutcome::Unmatched
    );
    assert_eq!(balance(&w, &ana).await, 0);
}

pub async fn a_payment_is_found_by_its_id_or_camel_cased_metadata(w: World) {
    let p = paid(&w, 10);
    let ana = fan("ana");
    let first = p
        .booking
        .start_top_up(&ana, won(4_000), None)
        .await
        .unwrap();
    let second = p
        .booking
        .start_top_up(&ana, won(6_000), None)
        .await
        .unwrap();
    let intent = format!("pi_{}", first.top_up_id.to_string().replace('-', ""));
    let bare = json!({"id": "evt_bare", "type": "payment_intent.succeeded",
        "data": {"object": {"id": intent, "amount": 4_000, "currency": "krw", "metadata": {}}}})
    .to_string();
    assert_eq!(
        p.deliver(&w, bare.as_bytes()).await.unwrap(),
        WebhookOutcome::Credited
    );
    let camel = json!({"id": "evt_camel", "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_elsewhere", "amount": 6_000, "currency": "krw",
            "metadata": {"topUpId": second.top_up_id.to_string(), "userId": "ana"}}}})
    .to_string();
    assert_eq!(
        p.deliver(&w, camel.as_bytes()).await.unwrap(),
        WebhookOutcome::Credited
    );
    assert_eq!(balance(&w, &ana).await, 10_000);
    // A payment nobody started, without metadata: kept, not credited.
    let stray = json!({"id": "evt_stray", "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_unknown", "amount": 1_000, "currency": "krw"}}})
    .to_string();
    assert_eq!(
        p.deliver(&w, stray.as_bytes()).await.unwrap(),
        WebhookOutcome::Unmatched
    );
    assert_eq!(balance(&w, &ana).await, 10_000);
}
