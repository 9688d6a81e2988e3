//! The per-fan rate limit's bucket (`store::rate`): the fan's `RATE` item, decided by
//! conditional UpdateItems and never read first.
//!
//! A fan whose bucket is full (the usual case: a fan's writes are seconds apart) costs one
//! write: `tat` set to `now + interval` on condition that it is absent or past. A fan within a
//! burst costs two: that write refused (DynamoDB charges a refused conditional write as a
//! write), then `tat` moved on by one interval on condition that it is ahead of now and no
//! later than the window allows. A refusal of that second write is the 429; concurrent
//! requests each move `tat` atomically, so a burst of one fan is counted exactly. Each is one
//! write unit (the item is under 1 KB), on the fan's own partition.

use async_trait::async_trait;

use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, Operation};
use super::request::{Change, Item};
use super::*;

#[async_trait]
impl RateStore for DynamoStore {
    async fn take_rate_token(&self, take: &RateTake) -> Result<RateTaken, StoreError> {
        let key = keys::rate(&take.user_id);
        let next = take.now_ms + take.interval_ms;
        let idle = Change::new("SET #tat = :next, #expires_at = :expires")
            .when("attribute_not_exists(#tat) OR #tat <= :now")
            .value(":next", next)?
            .value(":now", take.now_ms)?
            .value(":expires", take.expires_at(next))?;
        let found = match self.update_item(&key, idle, true).await? {
            Ok(_) => {
                return Ok(RateTaken {
                    taken: true,
                    tat_ms: next,
                    was_idle: true,
                })
            }
            Err(old) => tat_of(old.as_ref())?,
        };
        // Ahead of now: move it on by one interval while the window allows. `tat` only ever
        // grows, so what was found bounds the expiry of whatever this write leaves.
        let latest = take.latest_tat();
        let busy = Change::new("SET #tat = #tat + :interval, #expires_at = :expires")
            .when("#tat > :now AND #tat <= :latest")
            .value(":interval", take.interval_ms)?
            .value(":now", take.now_ms)?
            .value(":latest", latest)?
            .value(":expires", take.expires_at(latest + take.interval_ms))?;
        match self.update_item(&key, busy, true).await? {
            Ok(new) => Ok(RateTaken {
                taken: true,
                tat_ms: tat_of(Some(&new))?.max(found + take.interval_ms),
                was_idle: false,
            }),
            Err(old) => Ok(RateTaken {
                taken: false,
                tat_ms: tat_of(old.as_ref())?.max(found),
                was_idle: false,
            }),
        }
    }
}

fn tat_of(item: Option<&Item>) -> Result<i64, StoreError> {
    item.and_then(|i| i.get("tat"))
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(|| StoreError::Corrupt("a RATE item without its tat".into()))
}

/// The item: keys, `tat` and `expires_at`.
const RATE_ITEM_BYTES: usize = 64;

/// One conditional write when the fan's bucket was full, two within a burst (the first
/// refused: charged all the same).
pub(in crate::store) fn meter_take_rate_token(take: &RateTake) -> Vec<DynamoRequest> {
    let key: Key = keys::rate(&take.user_id);
    let size = key.pk.len() + key.sk.len() + RATE_ITEM_BYTES;
    vec![meter::write(Operation::UpdateItem, &key, size)]
}

/// What a decided take sent: a second write unless the bucket was full.
pub(in crate::store) fn meter_rate_taken(take: &RateTake, taken: &RateTaken) -> Vec<DynamoRequest> {
    let mut sent = meter_take_rate_token(take);
    if !taken.was_idle {
        sent.extend(meter_take_rate_token(take));
    }
    sent
}
