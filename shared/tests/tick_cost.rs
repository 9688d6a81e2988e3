//! What an admission tick costs after a queue has waited a long time: the requests it sends
//! follow the fans it walks past, not the hours of empty seconds since the last admission.

use std::sync::Arc;

use ticketing::booking::{Catalog, QueueStatus};
use ticketing::domain::{ConcertId, ManualClock, OperatorId, Timestamp, UserId};
use ticketing::store::{MemoryStore, MeteredStore, QueueControlChange};
use ticketing::{Settings, Ticketing};

/// 2026-12-01T00:00:00Z.
const START: i64 = 1_796_083_200;

#[tokio::test]
async fn a_tick_after_hours_of_quiet_reads_only_the_pages_with_fans() {
    let store = Arc::new(MeteredStore::new(MemoryStore::new()));
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
        START,
    )));
    let settings = Settings {
        waiting_idle_seconds: 86_400,
        ..Settings::default()
    };
    let booking = Ticketing::new(store.clone(), clock.clone(), settings);
    let catalog = Catalog::from_json(
        r#"{"concerts": [{"concertId": "gala", "title": "Gala", "dates": ["2026-12-24"],
            "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 80000}]}]}"#,
    )
    .unwrap();
    booking.load_catalog(&catalog).await.unwrap();
    let gala = ConcertId::parse("gala").unwrap();
    let ops = OperatorId::parse("ops").unwrap();
    let pause = |paused: bool| QueueControlChange {
        paused: Some(paused),
        ..QueueControlChange::default()
    };

    // One fan waits through six paused hours while the tick keeps counting the quiet seconds.
    booking
        .change_admission(&ops, &gala, &pause(true))
        .await
        .unwrap();
    let fan = UserId::parse("patient").unwrap();
    let (ticket, _) = booking.join_queue(&fan, &gala).await.unwrap();
    for _ in 0..(6 * 60) {
        clock.advance(60);
        booking.admit_waiting().await.unwrap();
    }
    let waiting = booking
        .queue_status(&fan, Some(&ticket.token))
        .await
        .unwrap();
    assert_eq!(
        (waiting.status, waiting.position),
        (QueueStatus::Waiting, Some(1))
    );

    booking
        .change_admission(&ops, &gala, &pause(false))
        .await
        .unwrap();
    clock.advance(60);
    store.take_requests();
    let report = booking.admit_waiting().await.unwrap();
    assert_eq!(report.admitted(), 1);
    let sent = store.take_requests();
    // The counters the tick seals and counts: the two minutes the last minute's seconds span,
    // 64 counters each, whatever waited before.
    let counters = |r: &&ticketing::store::meter::DynamoRequest| {
        r.items
            .iter()
            .all(|i| i.pk.starts_with("QUEUE#gala#COUNT#"))
    };
    let seals = sent.iter().filter(counters).count();
    assert_eq!(
        seals,
        2 * 64 + 2,
        "two minutes of seals and their two reads"
    );
    // Six hours are 2,160 pages of ten seconds; the fan's is the only one with a number.
    let rest = sent.len() - seals;
    assert!(rest < 30, "the tick sent {rest} other requests");
}
