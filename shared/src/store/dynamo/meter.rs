//! What each store call costs on DynamoDB: the requests the DynamoDB store sends for it, the
//! items they touch, and their read and write units by DynamoDB's rules. The on-sale simulator
//! runs the in-memory store and charges every call with these; `tests/meter.rs` holds them to
//! the requests the DynamoDB store really sends, logged by [`RequestLog`]. A change to a request
//! in the store changes its twin here in the same commit.
//!
//! Units, as DynamoDB bills them:
//! - a read is one unit per 4 KB of each item (a strongly consistent read; half as eventually
//!   consistent), at least one unit even when the item is absent; a Query is charged by the total
//!   size of the items it reads, per 1 MB page;
//! - a write is one unit per 1 KB of the item, at least one, conditions failed or not;
//! - in `TransactWriteItems` every item costs twice, a `ConditionCheck` included (it is billed
//!   as a write), and a cancelled transaction is charged as if it had run (the conservative
//!   reading: DynamoDB reports no capacity for it).
//!
//! Items updated by key, whose full image the call does not carry, are charged as one unit: every
//! such item here has a fixed, small shape (a token, a reservation, a seat, a counter), well under
//! 1 KB. Items whose size grows (the active set, queries) are sized from their content.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde::Serialize;
use serde_json::Value;

use super::keys::Key;
use super::request::{Item, BATCH_GET_LIMIT};
use super::size;

/// A Query returns at most this much per page.
const QUERY_PAGE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Operation {
    GetItem,
    BatchGetItem,
    Query,
    PutItem,
    UpdateItem,
    DeleteItem,
    TransactWriteItems,
}

impl Operation {
    pub fn name(self) -> &'static str {
        match self {
            Operation::GetItem => "GetItem",
            Operation::BatchGetItem => "BatchGetItem",
            Operation::Query => "Query",
            Operation::PutItem => "PutItem",
            Operation::UpdateItem => "UpdateItem",
            Operation::DeleteItem => "DeleteItem",
            Operation::TransactWriteItems => "TransactWriteItems",
        }
    }
}

/// One request the DynamoDB store sends, with what it costs.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamoRequest {
    pub operation: Operation,
    /// Reads only: strongly consistent.
    pub consistent: bool,
    pub items: Vec<ItemUnits>,
}

/// The units one request spends on one item, or on a partition as a whole (`sk` is `None` for
/// a Query, charged by what it reads from the partition).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemUnits {
    pub pk: String,
    pub sk: Option<String>,
    pub read_units: f64,
    pub write_units: f64,
    /// The item's size (what a Query read, for a partition).
    pub bytes: usize,
}

impl DynamoRequest {
    pub fn read_units(&self) -> f64 {
        self.items.iter().map(|i| i.read_units).sum()
    }

    pub fn write_units(&self) -> f64 {
        self.items.iter().map(|i| i.write_units).sum()
    }

    /// The request as [`RequestLog`] sees it on the wire.
    pub fn logged(&self) -> LoggedRequest {
        let mut keys: Vec<(String, Option<String>)> = self
            .items
            .iter()
            .map(|i| (i.pk.clone(), i.sk.clone()))
            .collect();
        keys.sort();
        LoggedRequest {
            operation: self.operation.name().to_owned(),
            consistent: self.consistent,
            keys,
        }
    }
}

// ------------------------------------------------------------------------------- unit rules

/// An item's size as DynamoDB counts it: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// One byte per two significant digits, plus one.
fn number_size(number: &str) -> usize {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.max(1).div_ceil(2) + 1
}

pub(super) fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

pub(super) fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// The size of a record stored under `key`.
pub(super) fn sized(key: &Key, record: &impl Serialize) -> usize {
    size::record_size(&key.pk, &key.sk, record)
}

/// A fixed-shape item updated or checked by key: under 1 KB, so one unit.
pub(super) const SMALL_ITEM: usize = 1;

// ------------------------------------------------------------------------------- requests

pub(super) fn on_item(key: &Key, bytes: usize, read_units: f64, write_units: f64) -> ItemUnits {
    ItemUnits {
        pk: key.pk.clone(),
        sk: Some(key.sk.clone()),
        read_units,
        write_units,
        bytes,
    }
}

pub(super) fn get(key: &Key, size: usize, consistent: bool) -> DynamoRequest {
    DynamoRequest {
        operation: Operation::GetItem,
        consistent,
        items: vec![on_item(key, size, read_units(size, consistent), 0.0)],
    }
}

/// One request per 100 keys, each item rounded on its own.
pub(super) fn batch_get(keys: Vec<(Key, usize)>) -> Vec<DynamoRequest> {
    keys.chunks(BATCH_GET_LIMIT)
        .map(|chunk| DynamoRequest {
            operation: Operation::BatchGetItem,
            consistent: true,
            items: chunk
                .iter()
                .map(|(key, size)| on_item(key, *size, read_units(*size, true), 0.0))
                .collect(),
        })
        .collect()
}

/// One request per 1 MB page of what the query reads.
pub(super) fn query(pk: String, sizes: impl IntoIterator<Item = usize>) -> Vec<DynamoRequest> {
    query_read(pk, sizes, true)
}

/// A query read strongly or eventually consistent (half the units).
pub(super) fn query_read(
    pk: String,
    sizes: impl IntoIterator<Item = usize>,
    consistent: bool,
) -> Vec<DynamoRequest> {
    let mut pages = vec![0usize];
    for size in sizes {
        let page = pages.last_mut().expect("at least one page");
        if *page + size > QUERY_PAGE_BYTES && *page > 0 {
            pages.push(size);
        } else {
            *page += size;
        }
    }
    pages
        .into_iter()
        .map(|bytes| DynamoRequest {
            operation: Operation::Query,
            consistent,
            items: vec![ItemUnits {
                pk: pk.clone(),
                sk: None,
                read_units: read_units(bytes, consistent),
                write_units: 0.0,
                bytes,
            }],
        })
        .collect()
}

pub(super) fn write(operation: Operation, key: &Key, size: usize) -> DynamoRequest {
    DynamoRequest {
        operation,
        consistent: false,
        items: vec![on_item(key, size, 0.0, write_units(size))],
    }
}

/// Every item of a transaction costs twice, condition checks included.
pub(super) fn transact(items: Vec<(Key, usize)>) -> DynamoRequest {
    DynamoRequest {
        operation: Operation::TransactWriteItems,
        consistent: false,
        items: items
            .iter()
            .map(|(key, size)| on_item(key, *size, 0.0, 2.0 * write_units(*size)))
            .collect(),
    }
}

// ------------------------------------------------------------------------------- the wire

/// A request as it left the SDK: the operation, its consistency, and the keys it names (a
/// Query names its partition only).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoggedRequest {
    pub operation: String,
    pub consistent: bool,
    pub keys: Vec<(String, Option<String>)>,
}

/// One attempt as it went over the wire: the request, when it was sent, and when its answer (or
/// failure) came back.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedRequest {
    pub request: LoggedRequest,
    /// When the caller started the operation, for its first attempt; when a retry left the SDK,
    /// for the others. Not when the first attempt reached the socket: requests started together
    /// are signed one after the other on a busy machine, and one may be answered before the
    /// next is on the wire, though the caller never waited for it.
    pub sent: Instant,
    /// `None` while the attempt is still in flight.
    pub answered: Option<Instant>,
}

/// The longest chain of requests in which each was sent only after the one before it was
/// answered: the round trips a caller waited for one after another. Requests that overlap in
/// time went out together and count once. (Picking the earliest answered request that starts
/// after the chain's last one is optimal, as in interval scheduling.)
pub fn sequential_round_trips(requests: &[TimedRequest]) -> usize {
    let mut spans: Vec<(Instant, Instant)> = requests
        .iter()
        .map(|r| (r.sent, r.answered.unwrap_or(r.sent)))
        .collect();
    spans.sort_by_key(|&(_, answered)| answered);
    let mut chain = 0;
    let mut free_from: Option<Instant> = None;
    for (sent, answered) in spans {
        if free_from.is_none_or(|free| sent >= free) {
            chain += 1;
            free_from = Some(answered);
        }
    }
    chain
}

/// An SDK interceptor that logs every attempt the client transmits, retries included, with its
/// timing. Attach it with [`super::DynamoStore::connect_logged`]; tests compare it with the
/// meter and count round trips with it.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Attempts>>);

#[derive(Debug, Default)]
struct Attempts {
    sent: u64,
    /// Each with the number it was sent as.
    logged: Vec<(u64, TimedRequest)>,
}

/// The number of the attempt in flight, kept in its operation's config bag.
#[derive(Debug, Clone, Copy)]
struct LoggedAttempt(u64);

impl Storable for LoggedAttempt {
    type Storer = StoreReplace<Self>;
}

/// When the caller started the operation, until its first attempt is logged.
#[derive(Debug, Clone, Copy)]
struct OperationStarted(Instant);

impl Storable for OperationStarted {
    type Storer = StoreReplace<Self>;
}

impl RequestLog {
    /// The requests logged since the last take, in the order they were sent.
    pub fn take(&self) -> Vec<LoggedRequest> {
        self.take_timed().into_iter().map(|t| t.request).collect()
    }

    /// As [`RequestLog::take`], with when each was sent and answered.
    pub fn take_timed(&self) -> Vec<TimedRequest> {
        std::mem::take(&mut self.lock().logged)
            .into_iter()
            .map(|(_, timed)| timed)
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Attempts> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(OperationStarted(Instant::now()));
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let logged = parse_logged(operation, &body);
        let sent = match cfg.load::<OperationStarted>().copied() {
            Some(OperationStarted(started)) => {
                cfg.interceptor_state().unset::<OperationStarted>();
                started
            }
            None => Instant::now(),
        };
        let mut attempts = self.lock();
        attempts.sent += 1;
        let number = attempts.sent;
        cfg.interceptor_state().store_put(LoggedAttempt(number));
        let timed = TimedRequest {
            request: logged,
            sent,
            answered: None,
        };
        attempts.logged.push((number, timed));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let answered = Instant::now();
        if let Some(LoggedAttempt(number)) = cfg.load::<LoggedAttempt>().copied() {
            // A later attempt that fails before it is sent must not close this one again.
            cfg.interceptor_state().unset::<LoggedAttempt>();
            // Taken from the log while in flight: nothing to close.
            let mut attempts = self.lock();
            if let Some((_, timed)) = attempts.logged.iter_mut().find(|(n, _)| *n == number) {
                timed.answered = Some(answered);
            }
        }
        Ok(())
    }
}

fn parse_logged(operation: String, body: &Value) -> LoggedRequest {
    let key_of = |item: &Value| {
        (
            item["pk"]["S"].as_str().unwrap_or_default().to_owned(),
            item["sk"]["S"].as_str().map(str::to_owned),
        )
    };
    let mut consistent = body["ConsistentRead"].as_bool().unwrap_or(false);
    let mut keys = Vec::new();
    match operation.as_str() {
        "GetItem" | "UpdateItem" | "DeleteItem" => keys.push(key_of(&body["Key"])),
        "PutItem" => keys.push(key_of(&body["Item"])),
        "Query" => keys.push((
            body["ExpressionAttributeValues"][":pk"]["S"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            None,
        )),
        "BatchGetItem" => {
            if let Some(tables) = body["RequestItems"].as_object() {
                for request in tables.values() {
                    consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
                    for key in request["Keys"].as_array().into_iter().flatten() {
                        keys.push(key_of(key));
                    }
                }
            }
        }
        "TransactWriteItems" => {
            for action in body["TransactItems"].as_array().into_iter().flatten() {
                if let Some(put) = action.get("Put") {
                    keys.push(key_of(&put["Item"]));
                }
                for kind in ["Update", "Delete", "ConditionCheck"] {
                    if let Some(keyed) = action.get(kind) {
                        keys.push(key_of(&keyed["Key"]));
                    }
                }
            }
        }
        _ => {}
    }
    keys.sort();
    LoggedRequest {
        operation,
        consistent,
        keys,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let mut item = Item::new();
        item.insert("pk".into(), AttributeValue::S("USER#ana".into()));
        item.insert("n".into(), AttributeValue::N("12345".into()));
        item.insert("ok".into(), AttributeValue::Bool(true));
        // "pk"+8, "n" + (5 digits -> 3 + 1), "ok" + 1
        assert_eq!(item_size(&item), 2 + 8 + 1 + 4 + 2 + 1);
        assert_eq!(number_size("100"), 2);
        assert_eq!(number_size("-0.5"), 2);
    }

    #[test]
    fn records_are_sized_as_serde_dynamo_maps_them() {
        use super::super::keys;
        use crate::domain::*;
        use crate::store::*;
        use std::collections::BTreeMap;
        let user = UserId::parse("fan-17").unwrap();
        let concert = ConcertId::parse("aurora").unwrap();
        let token = QueueToken::new(concert.clone(), 1_796_083_200);
        let ticket = TicketRecord {
            token: token.clone(),
            user_id: user.clone(),
            concert_id: concert.clone(),
            shard: 7,
            number: 120,
            status: TicketStatus::Active,
            last_seen_at: 1_796_083_200,
            admitted_at: Some(1_796_083_210),
            active_until: Some(1_796_083_800),
            ended_tokens: vec![QueueToken::new(concert.clone(), 1_796_000_000)],
            holds_placed: 3,
            expires_at: 1_796_170_200,
        };
        let reservation = ReservationRecord {
            reservation_id: ReservationId::new(),
            user_id: user.clone(),
            concert_id: concert.clone(),
            date: ConcertDate::parse("2026-12-24").unwrap(),
            seats: vec![
                ReservedSeat {
                    seat_number: SeatNumber::parse(59_907).unwrap(),
                    price: Won::new(99_000).unwrap(),
                    section: 119,
                    section_name: Some("Upper 420".into()),
                    block: SeatNumber::parse(59_901).unwrap(),
                },
                ReservedSeat {
                    seat_number: SeatNumber::parse(59_908).unwrap(),
                    price: Won::new(99_000).unwrap(),
                    section: 119,
                    section_name: Some("Upper 420".into()),
                    block: SeatNumber::parse(59_901).unwrap(),
                },
            ],
            price: Won::new(198_000).unwrap(),
            held_until: 1_796_083_500,
            status: StoredReservationStatus::Held,
            payment_id: None,
            expires_at: Some(1_798_675_530),
        };
        let mut seconds = BTreeMap::new();
        seconds.insert(
            1_796_083_200,
            SecondCounts {
                base: 12_345,
                counts: vec![0, 3, 150, 0],
            },
        );
        let page = QueuePageRecord { seconds };
        let state = QueueStateRecord {
            version: 3,
            cursor: Some(ticket.place()),
            admission_rate: 12.5,
            dates: vec![DateStanding {
                date: reservation.date,
                unsold: 50,
                free: 48,
                sections: vec![500; 120],
            }],
            ..QueueStateRecord::default()
        };
        let entries = [
            QueueEntryRecord {
                second: 5,
                shard: 2,
                number: 9,
                user_id: Some(user.clone()),
            },
            QueueEntryRecord {
                second: 5,
                shard: 2,
                number: 10,
                user_id: None,
            },
        ];
        let mut tally = FanTallyRecord {
            version: 4,
            bought: 2,
            ..FanTallyRecord::default()
        };
        tally.holds.insert(
            reservation.reservation_id,
            TalliedHold {
                date: reservation.date,
                seats: reservation.seat_numbers(),
                until: reservation.held_until,
            },
        );
        let exact = |key: &Key, record: &dyn erased::Sizable| (record.item(key), record.size(key));
        for (item, fast) in [
            exact(&keys::ticket(&user, &concert), &ticket),
            exact(
                &keys::reservation(&user, reservation.reservation_id),
                &reservation,
            ),
            exact(&keys::tally(&user, &concert), &tally),
            exact(&keys::queue_page(&concert, 3), &page),
            exact(&keys::queue_state(&concert), &state),
            exact(&keys::entry(&concert, entries[0].place()), &entries[0]),
            exact(&keys::entry(&concert, entries[1].place()), &entries[1]),
        ] {
            assert_eq!(item_size(&item), fast, "{item:?}");
        }
    }

    /// Sizes records of different types through one table.
    mod erased {
        use super::super::super::request::record_item;
        use super::*;

        pub trait Sizable {
            fn item(&self, key: &Key) -> Item;
            fn size(&self, key: &Key) -> usize;
        }

        impl<T: Serialize> Sizable for T {
            fn item(&self, key: &Key) -> Item {
                record_item(key, self).unwrap()
            }
            fn size(&self, key: &Key) -> usize {
                sized(key, self)
            }
        }
    }

    #[test]
    fn units_round_up_and_halve_when_eventually_consistent() {
        assert_eq!(read_units(0, true), 1.0);
        assert_eq!(read_units(4097, true), 2.0);
        assert_eq!(read_units(100, false), 0.5);
        assert_eq!(write_units(1), 1.0);
        assert_eq!(write_units(2049), 3.0);
        let key = Key {
            pk: "USER#u".into(),
            sk: "BALANCE".into(),
        };
        let tx = transact(vec![(key, 10)]);
        assert_eq!(tx.write_units(), 2.0);
    }

    #[test]
    fn round_trips_count_the_longest_chain_of_requests_not_in_flight_together() {
        let start = Instant::now();
        let at = |ms: u64| start + std::time::Duration::from_millis(ms);
        let request = |sent: u64, answered: u64| TimedRequest {
            request: LoggedRequest {
                operation: "GetItem".into(),
                consistent: true,
                keys: vec![],
            },
            sent: at(sent),
            answered: Some(at(answered)),
        };
        assert_eq!(sequential_round_trips(&[]), 0);
        // Three reads together, then a write once they are answered.
        let together = [request(0, 5), request(1, 6), request(2, 4)];
        assert_eq!(sequential_round_trips(&together), 1);
        let mut then = together.to_vec();
        then.push(request(6, 9));
        assert_eq!(sequential_round_trips(&then), 2);
        // One sent after its neighbour came back is a round trip more, in any order logged.
        let chained = [request(10, 12), request(0, 3), request(4, 9), request(2, 8)];
        assert_eq!(sequential_round_trips(&chained), 3);
    }

    #[test]
    fn queries_are_charged_per_page_by_size() {
        let pages = query("P".into(), std::iter::repeat_n(600 * 1024, 3));
        assert_eq!(pages.len(), 3);
        assert_eq!(pages[0].read_units(), 150.0);
        let empty = query("P".into(), std::iter::empty());
        assert_eq!((empty.len(), empty[0].read_units()), (1, 1.0));
    }
}
