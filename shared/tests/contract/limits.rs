//! DynamoDB's hard limits, refused alike by both stores: an item over 400 KB, a transaction of
//! more than 100 items. The memory store (and so the local server and the simulator) must
//! refuse what the service refuses, with the same error, and write nothing.

use ticketing::domain::QueueToken;
use ticketing::store::{AdmissionBatchPlan, CommitOutcome, StoreError};

use crate::world::{concert_id, fan, World, SPRING};

fn is_limit<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Limit(_)))
}

pub async fn an_item_over_400_kb_is_refused_and_nothing_is_written(world: World) {
    let mut concert = world
        .store
        .concert(&concert_id(SPRING))
        .await
        .expect("read the concert")
        .expect("the demo concert");
    concert.concert_id = concert_id("too-big");
    concert.title = "x".repeat(401 * 1024);
    let refused = world.store.put_concert(&concert).await;
    assert!(is_limit(&refused), "an item over 400 KB: {refused:?}");
    assert_eq!(
        world.store.concert(&concert_id("too-big")).await.unwrap(),
        None,
        "nothing written"
    );

    // Under the limit by a few KB (the key and the other attributes included), it is taken.
    concert.title = "x".repeat(390 * 1024);
    assert!(world.store.put_concert(&concert).await.unwrap());
}

pub async fn a_transaction_of_more_than_100_items_is_refused(world: World) {
    let plan = |fans: usize| AdmissionBatchPlan {
        concert_id: concert_id(SPRING),
        claim_version: 7,
        admit: (0..fans)
            .map(|i| {
                (
                    fan(&format!("fan-{i}")),
                    QueueToken::new(concert_id(SPRING), 0),
                )
            })
            .collect(),
        admitted_at: 0,
        active_until: 600,
        slot_shard: 3,
        drop: Vec::new(),
        voids: Vec::new(),
    };
    // The tick's claim, 98 tickets and their slot shard: 100 items, judged on their conditions
    // (no such claim).
    let at_limit = world.store.commit_admission_batch(&plan(98)).await;
    assert!(
        matches!(
            at_limit,
            Ok(CommitOutcome::ClaimLost | CommitOutcome::Refused)
        ),
        "100 items are judged on their conditions: {at_limit:?}"
    );
    let over = world.store.commit_admission_batch(&plan(99)).await;
    assert!(is_limit(&over), "101 items: {over:?}");
}
