//! What a stranger's requests cost the items the crowd shares. Anyone may send any concert id:
//! a container answers an unknown one from memory for a while, so a flood of them is not a
//! strong read of the catalog (a concert's record, or the listings every concert shares) per
//! request.

use std::sync::Arc;

use ticketing::booking::{Catalog, CatalogConcert};
use ticketing::domain::{ConcertId, ManualClock, OperatorId, Timestamp, UserId};
use ticketing::store::{MemoryStore, MeteredStore};
use ticketing::{BookingError, Settings, Ticketing};

/// 2026-12-01T00:00:00Z.
const START: i64 = 1_796_083_200;

fn catalog_reads(store: &MeteredStore<MemoryStore>) -> usize {
    store
        .take_requests()
        .iter()
        .filter(|r| {
            r.items
                .iter()
                .any(|i| i.pk == "CONCERTS" || i.pk.starts_with("CONCERT#"))
        })
        .count()
}

#[tokio::test]
async fn a_flood_of_unknown_concert_ids_costs_one_catalog_read_a_while() {
    let store = Arc::new(MeteredStore::new(MemoryStore::new()));
    let clock = Arc::new(ManualClock::starting_at(Timestamp::from_epoch_seconds(
        START,
    )));
    let booking = Ticketing::new(store.clone(), clock.clone(), Settings::default());
    let unknown = ConcertId::parse("no-such-show").unwrap();
    let join = |n: usize| {
        let booking = booking.clone();
        let unknown = unknown.clone();
        async move {
            let fan = UserId::parse(&format!("stranger-{n}")).unwrap();
            booking.join_queue(&fan, &unknown).await
        }
    };

    for n in 0..200 {
        assert!(matches!(join(n).await, Err(BookingError::ConcertNotFound)));
    }
    assert_eq!(catalog_reads(&store), 1, "one read for 200 joins");

    // A while later the id is read again: an operator may have added it elsewhere.
    clock.advance(11);
    assert!(matches!(
        join(200).await,
        Err(BookingError::ConcertNotFound)
    ));
    assert_eq!(catalog_reads(&store), 1);

    // Added through this container, it is known at once.
    let concert: CatalogConcert = Catalog::from_json(
        r#"{"concerts": [{"concertId": "no-such-show", "title": "Late addition",
            "dates": ["2026-12-24"], "seatPrices": [{"fromSeat": 1, "toSeat": 50, "price": 80000}]}]}"#,
    )
    .unwrap()
    .concerts
    .remove(0);
    booking
        .add_concert(&OperatorId::parse("ops").unwrap(), &concert)
        .await
        .unwrap();
    assert!(join(201).await.is_ok(), "the added concert takes joins");
}
