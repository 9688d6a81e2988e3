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

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::Value;

use super::keys::{self, Key};
use super::request::{Item, BATCH_GET_LIMIT};
use super::size;
use super::QueuePointer;
use crate::domain::{
    ConcertDate, ConcertId, IdempotencyKey, PaymentId, QueueToken, ReservationId, SeatNumber,
    UserId,
};
use crate::store::*;

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

fn read_units(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent {
        units
    } else {
        units / 2.0
    }
}

fn write_units(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

/// The size of a record stored under `key`.
fn sized(key: &Key, record: &impl Serialize) -> usize {
    size::record_size(&key.pk, &key.sk, record)
}

/// A fixed-shape item updated or checked by key: under 1 KB, so one unit.
const SMALL_ITEM: usize = 1;

// ------------------------------------------------------------------------------- requests

fn on_item(key: &Key, read_units: f64, write_units: f64) -> ItemUnits {
    ItemUnits {
        pk: key.pk.clone(),
        sk: Some(key.sk.clone()),
        read_units,
        write_units,
    }
}

fn get(key: &Key, size: usize) -> DynamoRequest {
    DynamoRequest {
        operation: Operation::GetItem,
        consistent: true,
        items: vec![on_item(key, read_units(size, true), 0.0)],
    }
}

/// One request per 100 keys, each item rounded on its own.
fn batch_get(keys: Vec<(Key, usize)>) -> Vec<DynamoRequest> {
    keys.chunks(BATCH_GET_LIMIT)
        .map(|chunk| DynamoRequest {
            operation: Operation::BatchGetItem,
            consistent: true,
            items: chunk
                .iter()
                .map(|(key, size)| on_item(key, read_units(*size, true), 0.0))
                .collect(),
        })
        .collect()
}

/// One request per 1 MB page of what the query reads.
fn query(pk: String, sizes: impl IntoIterator<Item = usize>) -> Vec<DynamoRequest> {
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
            consistent: true,
            items: vec![ItemUnits {
                pk: pk.clone(),
                sk: None,
                read_units: read_units(bytes, true),
                write_units: 0.0,
            }],
        })
        .collect()
}

fn write(operation: Operation, key: &Key, size: usize) -> DynamoRequest {
    DynamoRequest {
        operation,
        consistent: false,
        items: vec![on_item(key, 0.0, write_units(size))],
    }
}

/// Every item of a transaction costs twice, condition checks included.
fn transact(items: Vec<(Key, usize)>) -> DynamoRequest {
    DynamoRequest {
        operation: Operation::TransactWriteItems,
        consistent: false,
        items: items
            .iter()
            .map(|(key, size)| on_item(key, 0.0, 2.0 * write_units(*size)))
            .collect(),
    }
}

// ------------------------------------------------------------------------------- the store's calls

pub fn put_catalog_item(item: &CatalogItem) -> Vec<DynamoRequest> {
    let (key, size) = match item {
        CatalogItem::Concert(c) => {
            let key = keys::concert(&c.concert_id);
            let size = sized(&key, c);
            (key, size)
        }
        CatalogItem::Date(d) => {
            let key = keys::date(&d.concert_id, d.date);
            let size = sized(&key, d);
            (key, size)
        }
        CatalogItem::Seat(s) => {
            let key = keys::seat(&s.concert_id, s.date, s.seat_number);
            let size = sized(&key, s);
            (key, size)
        }
    };
    vec![write(Operation::PutItem, &key, size)]
}

pub fn concerts(found: &[ConcertRecord]) -> Vec<DynamoRequest> {
    query(
        keys::CONCERTS_PK.to_owned(),
        found
            .iter()
            .map(|c| sized(&keys::concert(&c.concert_id), c)),
    )
}

pub fn concert(concert: &ConcertId, found: Option<&ConcertRecord>) -> Vec<DynamoRequest> {
    let key = keys::concert(concert);
    let size = found.map_or(0, |c| sized(&key, c));
    vec![get(&key, size)]
}

pub fn dates(concert: &ConcertId, found: &[DateRecord]) -> Vec<DynamoRequest> {
    query(
        keys::dates_pk(concert),
        found.iter().map(|d| sized(&keys::date(concert, d.date), d)),
    )
}

pub fn date(
    concert: &ConcertId,
    date: ConcertDate,
    found: Option<&DateRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::date(concert, date);
    let size = found.map_or(0, |d| sized(&key, d));
    vec![get(&key, size)]
}

pub fn seat(
    concert: &ConcertId,
    date: ConcertDate,
    seat: SeatNumber,
    found: Option<&SeatRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::seat(concert, date, seat);
    let size = found.map_or(0, |s| sized(&key, s));
    vec![get(&key, size)]
}

pub fn seat_map(concert: &ConcertId, date: ConcertDate, map: &SeatMap) -> Vec<DynamoRequest> {
    let seats = map
        .seats
        .iter()
        .map(|s| sized(&keys::seat(concert, date, s.seat_number), s));
    let holds = map
        .holds
        .iter()
        .map(|h| sized(&keys::hold(concert, date, h.seat_number), h));
    query(keys::seats_pk(concert, date), seats.chain(holds))
}

pub fn queue_pointer(
    user: &UserId,
    concert: &ConcertId,
    found: Option<&QueueToken>,
) -> Vec<DynamoRequest> {
    let key = keys::queue_pointer(user, concert);
    let size = found.map_or(0, |token| {
        sized(
            &key,
            &QueuePointer {
                token: token.clone(),
                expires_at: 0,
            },
        )
    });
    vec![get(&key, size)]
}

pub fn token(token: &QueueToken, found: Option<&TokenRecord>) -> Vec<DynamoRequest> {
    let key = keys::token(token);
    let size = found.map_or(0, |r| sized(&key, r));
    vec![get(&key, size)]
}

pub fn token_and_queue(
    token: &QueueToken,
    found: Option<&TokenRecord>,
    queue: &QueueStateRecord,
) -> Vec<DynamoRequest> {
    let token_key = keys::token(token);
    let state_key = keys::queue_state(token.concert());
    let token_size = found.map_or(0, |r| sized(&token_key, r));
    let state_size = sized(&state_key, queue);
    batch_get(vec![(token_key, token_size), (state_key, state_size)])
}

pub fn issue_queue_number(concert: &ConcertId, state: &QueueStateRecord) -> Vec<DynamoRequest> {
    let key = keys::queue_state(concert);
    let size = sized(&key, state);
    vec![write(Operation::UpdateItem, &key, size)]
}

pub fn enqueue(token: &TokenRecord) -> Vec<DynamoRequest> {
    let token_key = keys::token(&token.token);
    let entry_key = keys::queue_entry(&token.concert_id, token.seq);
    let entry = QueueEntryRecord {
        seq: token.seq,
        token: Some(token.token.clone()),
        joined_at: token.last_seen_at,
    };
    let pointer_key = keys::queue_pointer(&token.user_id, &token.concert_id);
    let pointer = QueuePointer {
        token: token.token.clone(),
        expires_at: token.expires_at,
    };
    vec![transact(vec![
        (token_key.clone(), sized(&token_key, token)),
        (entry_key.clone(), sized(&entry_key, &entry)),
        (pointer_key.clone(), sized(&pointer_key, &pointer)),
        (keys::queue_state(&token.concert_id), SMALL_ITEM),
    ])]
}

pub fn void_queue_number(concert: &ConcertId, seq: u64, now: i64) -> Vec<DynamoRequest> {
    let entry_key = keys::queue_entry(concert, seq);
    let entry = QueueEntryRecord {
        seq,
        token: None,
        joined_at: now,
    };
    vec![transact(vec![
        (entry_key.clone(), sized(&entry_key, &entry)),
        (keys::queue_state(concert), SMALL_ITEM),
    ])]
}

pub fn heartbeat(token: &QueueToken) -> Vec<DynamoRequest> {
    vec![write(
        Operation::UpdateItem,
        &keys::token(token),
        SMALL_ITEM,
    )]
}

pub fn queue_state(concert: &ConcertId, found: &QueueStateRecord) -> Vec<DynamoRequest> {
    let key = keys::queue_state(concert);
    let size = sized(&key, found);
    vec![get(&key, size)]
}

pub fn active_set(concert: &ConcertId, found: &ActiveSetRecord) -> Vec<DynamoRequest> {
    let key = keys::active_set(concert);
    let size = sized(&key, found);
    vec![get(&key, size)]
}

pub fn queue_entries(concert: &ConcertId, found: &[QueueEntryRecord]) -> Vec<DynamoRequest> {
    query(
        keys::queue_pk(concert),
        found
            .iter()
            .map(|e| sized(&keys::queue_entry(concert, e.seq), e)),
    )
}

pub fn tokens(asked: &[QueueToken], found: &[TokenRecord]) -> Vec<DynamoRequest> {
    let sizes: HashMap<&QueueToken, usize> = found
        .iter()
        .map(|r| (&r.token, sized(&keys::token(&r.token), r)))
        .collect();
    batch_get(
        asked
            .iter()
            .map(|t| (keys::token(t), sizes.get(t).copied().unwrap_or(0)))
            .collect(),
    )
}

pub fn commit_admission(plan: &AdmissionPlan) -> Vec<DynamoRequest> {
    let active_key = keys::active_set(&plan.concert_id);
    let mut items = vec![
        (keys::queue_state(&plan.concert_id), SMALL_ITEM),
        (active_key.clone(), sized(&active_key, &plan.active_set)),
    ];
    items.extend(plan.admitted.iter().map(|t| (keys::token(t), SMALL_ITEM)));
    items.extend(
        plan.dropped
            .iter()
            .map(|(t, _)| (keys::token(t), SMALL_ITEM)),
    );
    items.extend(
        plan.holes
            .iter()
            .map(|seq| (keys::queue_entry(&plan.concert_id, *seq), SMALL_ITEM)),
    );
    vec![transact(items)]
}

pub fn place_hold(reservation: &ReservationRecord) -> Vec<DynamoRequest> {
    let r = reservation;
    let hold_key = keys::hold(&r.concert_id, r.date, r.seat_number);
    let reservation_key = keys::reservation(&r.user_id, r.reservation_id);
    vec![transact(vec![
        (keys::seat(&r.concert_id, r.date, r.seat_number), SMALL_ITEM),
        (hold_key.clone(), sized(&hold_key, &r.hold())),
        (reservation_key.clone(), sized(&reservation_key, r)),
    ])]
}

pub fn reservation(
    user: &UserId,
    reservation: ReservationId,
    found: Option<&ReservationRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::reservation(user, reservation);
    let size = found.map_or(0, |r| sized(&key, r));
    vec![get(&key, size)]
}

pub fn release_hold(reservation: &ReservationRecord) -> Vec<DynamoRequest> {
    let r = reservation;
    vec![transact(vec![
        (keys::reservation(&r.user_id, r.reservation_id), SMALL_ITEM),
        (keys::hold(&r.concert_id, r.date, r.seat_number), SMALL_ITEM),
    ])]
}

pub fn balance(user: &UserId, found: &BalanceRecord) -> Vec<DynamoRequest> {
    let key = keys::balance(user);
    let size = if found.version == 0 {
        0
    } else {
        sized(&key, found)
    };
    vec![get(&key, size)]
}

/// The balance, its entry and the idempotency completion riding with them.
fn balance_items(change: &BalanceChange) -> Vec<(Key, usize)> {
    let entry = &change.entry;
    let balance_key = keys::balance(&change.user_id);
    let balance = BalanceRecord {
        amount: entry.balance_after,
        version: entry.version,
    };
    let entry_key = keys::balance_entry(&change.user_id, entry.version);
    let mut items = vec![
        (balance_key.clone(), sized(&balance_key, &balance)),
        (entry_key.clone(), sized(&entry_key, entry)),
    ];
    if let Some(c) = &change.completion {
        let key = keys::idempotency(&c.user_id, &c.key);
        // The claim's fixed fields (request, claim id, state, times) plus the response it keeps.
        let size = key.pk.len() + key.sk.len() + 160 + c.response.len();
        items.push((key, size));
    }
    items
}

pub fn apply_balance_change(change: &BalanceChange) -> Vec<DynamoRequest> {
    vec![transact(balance_items(change))]
}

pub fn balance_entries(
    user: &UserId,
    before_version: Option<u64>,
    found: &[BalanceEntryRecord],
) -> Vec<DynamoRequest> {
    if matches!(before_version, Some(0 | 1)) {
        return Vec::new();
    }
    query(
        keys::user_pk(user),
        found
            .iter()
            .map(|e| sized(&keys::balance_entry(user, e.version), e)),
    )
}

pub fn payment_context(
    user: &UserId,
    reservation: ReservationId,
    token: &QueueToken,
    found: &PaymentContext,
) -> Vec<DynamoRequest> {
    let reservation_key = keys::reservation(user, reservation);
    let balance_key = keys::balance(user);
    let token_key = keys::token(token);
    let reservation_size = found
        .reservation
        .as_ref()
        .map_or(0, |r| sized(&reservation_key, r));
    let balance_size = if found.balance.version == 0 {
        0
    } else {
        sized(&balance_key, &found.balance)
    };
    let token_size = found.token.as_ref().map_or(0, |t| sized(&token_key, t));
    batch_get(vec![
        (reservation_key, reservation_size),
        (balance_key, balance_size),
        (token_key, token_size),
    ])
}

pub fn commit_payment(payment: &PaymentCommit) -> Vec<DynamoRequest> {
    let p = payment;
    let r = &p.reservation;
    let payment_key = keys::payment(&r.user_id, p.payment.payment_id);
    let mut items = vec![
        (keys::reservation(&r.user_id, r.reservation_id), SMALL_ITEM),
        (keys::hold(&r.concert_id, r.date, r.seat_number), SMALL_ITEM),
        (keys::seat(&r.concert_id, r.date, r.seat_number), SMALL_ITEM),
        (keys::date(&r.concert_id, r.date), SMALL_ITEM),
        (keys::token(&p.token), SMALL_ITEM),
        (payment_key.clone(), sized(&payment_key, &p.payment)),
    ];
    items.extend(balance_items(&p.balance));
    vec![transact(items)]
}

pub fn payment(
    user: &UserId,
    payment: PaymentId,
    found: Option<&PaymentRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::payment(user, payment);
    let size = found.map_or(0, |p| sized(&key, p));
    vec![get(&key, size)]
}

pub fn claim_idempotency_key(claim: &IdempotencyRecord) -> Vec<DynamoRequest> {
    let key = keys::idempotency(&claim.user_id, &claim.key);
    let size = sized(&key, claim);
    vec![write(Operation::PutItem, &key, size)]
}

pub fn release_idempotency_key(user: &UserId, key: &IdempotencyKey) -> Vec<DynamoRequest> {
    vec![write(
        Operation::DeleteItem,
        &keys::idempotency(user, key),
        SMALL_ITEM,
    )]
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

/// An SDK interceptor that logs every request the client transmits, retries included. Attach
/// it with [`super::DynamoStore::connect_logged`]; tests compare it with the meter.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<LoggedRequest>>>);

impl RequestLog {
    pub fn take(&self) -> Vec<LoggedRequest> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<LoggedRequest>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "RequestLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
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
        self.lock().push(logged);
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
        use crate::domain::{ConcertDate, Won};
        use std::collections::BTreeMap;
        let user = UserId::parse("fan-17").unwrap();
        let concert = ConcertId::parse("aurora").unwrap();
        let token = QueueToken::new(concert.clone());
        let record = TokenRecord {
            token: token.clone(),
            user_id: user.clone(),
            concert_id: concert.clone(),
            seq: 123_456,
            status: TokenStatus::Active,
            last_seen_at: 1_796_083_200,
            active_until: Some(1_796_083_800),
            expires_at: 1_796_170_200,
        };
        let reservation = ReservationRecord {
            reservation_id: ReservationId::new(),
            user_id: user.clone(),
            concert_id: concert.clone(),
            date: ConcertDate::parse("2026-12-24").unwrap(),
            seat_number: SeatNumber::parse(7).unwrap(),
            price: Won::new(99_000).unwrap(),
            held_until: 1_796_083_500,
            status: StoredReservationStatus::Held,
            payment_id: None,
        };
        let mut active = BTreeMap::new();
        active.insert("a".repeat(40), 17);
        active.insert("b".repeat(40), 1_796_083_200);
        let set = ActiveSetRecord { active };
        let entries = [
            QueueEntryRecord {
                seq: 1,
                token: Some(token),
                joined_at: 5,
            },
            QueueEntryRecord {
                seq: 2,
                token: None,
                joined_at: 0,
            },
        ];
        let exact = |key: &Key, record: &dyn erased::Sizable| (record.item(key), record.size(key));
        for (item, fast) in [
            exact(&keys::token(&record.token), &record),
            exact(
                &keys::reservation(&user, reservation.reservation_id),
                &reservation,
            ),
            exact(&keys::active_set(&concert), &set),
            exact(&keys::queue_entry(&concert, 1), &entries[0]),
            exact(&keys::queue_entry(&concert, 2), &entries[1]),
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
        let tx = transact(vec![(keys::balance(&UserId::parse("u").unwrap()), 10)]);
        assert_eq!(tx.write_units(), 2.0);
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
