//! The DynamoDB store: one table, items mapped by serde_dynamo, every race decided by a
//! condition expression or a `TransactWriteItems`.

mod keys;
pub mod meter;
mod request;
mod size;
mod table;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use self::request::{
    from_item, partition_key, record_item, request_error, sort_key, value, Item, Transaction,
};
use super::*;

/// The attribute DynamoDB's TTL reads; TTL only collects garbage, conditions compare it to now.
pub const TTL_ATTRIBUTE: &str = "expires_at";

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The user's current token for a concert.
#[derive(Debug, Serialize, Deserialize)]
struct QueuePointer {
    token: QueueToken,
    expires_at: i64,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A client from the standard AWS environment. With `endpoint` (a local DynamoDB or moto),
    /// requests go there, with placeholder credentials and region when none are configured.
    pub async fn connect(table: impl Into<String>, endpoint: Option<&str>) -> Self {
        Self::connect_with(table, endpoint, None).await
    }

    /// As [`DynamoStore::connect`], logging every request the client transmits.
    pub async fn connect_logged(
        table: impl Into<String>,
        endpoint: Option<&str>,
        log: meter::RequestLog,
    ) -> Self {
        Self::connect_with(table, endpoint, Some(log)).await
    }

    async fn connect_with(
        table: impl Into<String>,
        endpoint: Option<&str>,
        log: Option<meter::RequestLog>,
    ) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(
            aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1"),
        );
        if let Some(endpoint) = endpoint {
            // Local servers handle one request at a time: connections may wait their turn.
            let patient = aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(30))
                .build();
            loader = loader.endpoint_url(endpoint).timeout_config(patient);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "local",
                    "local",
                    None,
                    None,
                    "local-endpoint",
                ));
            }
        }
        let mut config = aws_sdk_dynamodb::config::Builder::from(&loader.load().await);
        if let Some(log) = log {
            config = config.interceptor(log);
        }
        Self::new(Client::from_conf(config.build()), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Writes an item only when its key is free. `false` when it already existed.
    async fn put_absent(
        &self,
        key: &keys::Key,
        record: &impl Serialize,
    ) -> Result<bool, StoreError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(key, record)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(request_error(e)),
        }
    }

    /// The balance write and entry of a change, and the idempotency completion riding with it.
    fn balance_items(
        &self,
        change: &BalanceChange,
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
        let entry = &change.entry;
        let balance = BalanceRecord {
            amount: entry.balance_after,
            version: entry.version,
        };
        let balance_item = record_item(&keys::balance(&change.user_id), &balance)?;
        let mut items = vec![if entry.version == 1 {
            self.put(balance_item, Some("attribute_not_exists(pk)"), vec![])?
        } else {
            self.put(
                balance_item,
                Some("#version = :previous"),
                vec![(":previous", value(entry.version - 1)?)],
            )?
        }];
        items.push(self.put(
            record_item(&keys::balance_entry(&change.user_id, entry.version), entry)?,
            Some("attribute_not_exists(pk)"),
            vec![],
        )?);
        if let Some(c) = &change.completion {
            items.push(self.update(
                &keys::idempotency(&c.user_id, &c.key),
                "SET #state = :done, #response = :response",
                "#claim_id = :claim AND #state = :in_flight",
                vec![
                    (":done", value(IdempotencyState::Done)?),
                    (":response", value(&c.response)?),
                    (":claim", value(&c.claim_id)?),
                    (":in_flight", value(IdempotencyState::InFlight)?),
                ],
            )?);
        }
        Ok(items)
    }
}

fn is_condition_failure<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// Maps a cancelled balance-changing transaction: the completion is always its last item.
fn balance_outcome(tx: Transaction, completion_index: Option<usize>) -> CommitOutcome {
    match tx {
        Transaction::Committed => CommitOutcome::Committed,
        _ if completion_index.is_some_and(|i| tx.failed_at(i)) => CommitOutcome::ClaimLost,
        Transaction::Cancelled(_) => CommitOutcome::Refused,
    }
}

fn plain_outcome(tx: Transaction) -> CommitOutcome {
    match tx {
        Transaction::Committed => CommitOutcome::Committed,
        Transaction::Cancelled(_) => CommitOutcome::Refused,
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn put_catalog_item(&self, item: &CatalogItem) -> Result<bool, StoreError> {
        match item {
            CatalogItem::Concert(c) => self.put_absent(&keys::concert(&c.concert_id), c).await,
            CatalogItem::Date(d) => self.put_absent(&keys::date(&d.concert_id, d.date), d).await,
            CatalogItem::Seat(s) => {
                let key = keys::seat(&s.concert_id, s.date, s.seat_number);
                self.put_absent(&key, s).await
            }
        }
    }

    async fn concerts(&self) -> Result<Vec<ConcertRecord>, StoreError> {
        let items = self
            .query_all(
                "#pk = :pk",
                vec![(":pk", value(keys::CONCERTS_PK)?)],
                true,
                None,
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn concert(&self, concert: &ConcertId) -> Result<Option<ConcertRecord>, StoreError> {
        self.get(&keys::concert(concert)).await
    }

    async fn dates(&self, concert: &ConcertId) -> Result<Vec<DateRecord>, StoreError> {
        let items = self
            .query_all(
                "#pk = :pk AND begins_with(#sk, :prefix)",
                vec![
                    (":pk", value(keys::dates_pk(concert))?),
                    (":prefix", value(keys::DATE_PREFIX)?),
                ],
                true,
                None,
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn date(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<Option<DateRecord>, StoreError> {
        self.get(&keys::date(concert, date)).await
    }

    async fn seat(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
        seat: SeatNumber,
    ) -> Result<Option<SeatRecord>, StoreError> {
        self.get(&keys::seat(concert, date, seat)).await
    }

    async fn seat_map(
        &self,
        concert: &ConcertId,
        date: ConcertDate,
    ) -> Result<SeatMap, StoreError> {
        let items = self
            .query_all(
                "#pk = :pk",
                vec![(":pk", value(keys::seats_pk(concert, date))?)],
                true,
                None,
            )
            .await?;
        let mut map = SeatMap::default();
        for item in items {
            if sort_key(&item).starts_with(keys::SEAT_PREFIX) {
                map.seats.push(from_item(item)?);
            } else if sort_key(&item).starts_with(keys::HOLD_PREFIX) {
                map.holds.push(from_item(item)?);
            }
        }
        Ok(map)
    }

    async fn queue_pointer(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<Option<QueueToken>, StoreError> {
        let pointer: Option<QueuePointer> = self.get(&keys::queue_pointer(user, concert)).await?;
        Ok(pointer.map(|p| p.token))
    }

    async fn token(&self, token: &QueueToken) -> Result<Option<TokenRecord>, StoreError> {
        self.get(&keys::token(token)).await
    }

    async fn token_and_queue(
        &self,
        token: &QueueToken,
    ) -> Result<(Option<TokenRecord>, QueueStateRecord), StoreError> {
        let token_key = keys::token(token);
        let items = self
            .batch_get(&[token_key.clone(), keys::queue_state(token.concert())])
            .await?;
        let mut record = None;
        let mut state = QueueStateRecord::default();
        for item in items {
            if sort_key(&item) == token_key.sk {
                record = Some(from_item(item)?);
            } else {
                state = from_item(item)?;
            }
        }
        Ok((record, state))
    }

    async fn issue_queue_number(
        &self,
        concert: &ConcertId,
    ) -> Result<QueueStateRecord, StoreError> {
        let update = "SET #issued = if_not_exists(#issued, :zero) + :one, \
                      #cursor = if_not_exists(#cursor, :zero)";
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(request::key_item(&keys::queue_state(concert))?))
            .update_expression(update)
            .set_expression_attribute_names(request::names(&[update]))
            .set_expression_attribute_values(request::values(vec![
                (":zero", value(0)?),
                (":one", value(1)?),
            ]))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(request_error)?;
        from_item(output.attributes.unwrap_or_default())
    }

    async fn enqueue(
        &self,
        token: &TokenRecord,
        previous: Option<&QueueToken>,
    ) -> Result<EnqueueOutcome, StoreError> {
        let entry = QueueEntryRecord {
            seq: token.seq,
            token: Some(token.token.clone()),
            joined_at: token.last_seen_at,
        };
        let pointer = QueuePointer {
            token: token.token.clone(),
            expires_at: token.expires_at,
        };
        let pointer_item = record_item(
            &keys::queue_pointer(&token.user_id, &token.concert_id),
            &pointer,
        )?;
        let items = vec![
            self.put(
                record_item(&keys::token(&token.token), token)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
            self.put(
                record_item(&keys::queue_entry(&token.concert_id, token.seq), &entry)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
            match previous {
                None => self.put(pointer_item, Some("attribute_not_exists(pk)"), vec![])?,
                Some(previous) => self.put(
                    pointer_item,
                    Some("#token = :previous"),
                    vec![(":previous", value(previous)?)],
                )?,
            },
            self.check(
                &keys::queue_state(&token.concert_id),
                "#cursor < :seq",
                vec![(":seq", value(token.seq)?)],
            )?,
        ];
        Ok(match self.transact(items).await? {
            Transaction::Committed => EnqueueOutcome::Enqueued,
            tx if tx.failed_at(2) => EnqueueOutcome::PointerMoved,
            _ => EnqueueOutcome::NumberPassed,
        })
    }

    async fn void_queue_number(
        &self,
        concert: &ConcertId,
        seq: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        let entry = QueueEntryRecord {
            seq,
            token: None,
            joined_at: now,
        };
        let items = vec![
            self.put(
                record_item(&keys::queue_entry(concert, seq), &entry)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
            self.check(
                &keys::queue_state(concert),
                "#cursor < :seq",
                vec![(":seq", value(seq)?)],
            )?,
        ];
        // Refused means the tick already passed the number: nothing left to void.
        self.transact(items).await.map(|_| ())
    }

    async fn heartbeat(
        &self,
        token: &QueueToken,
        user: &UserId,
        now: i64,
    ) -> Result<(), StoreError> {
        let update = "SET #last_seen_at = :now";
        let condition = "#user_id = :user AND #status = :waiting";
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(request::key_item(&keys::token(token))?))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(request::names(&[update, condition]))
            .set_expression_attribute_values(request::values(vec![
                (":now", value(now)?),
                (":user", value(user)?),
                (":waiting", value(TokenStatus::Waiting)?),
            ]))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Admitted or dropped meanwhile: there is no idle clock left to refresh.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(request_error(e)),
        }
    }

    async fn queue_state(&self, concert: &ConcertId) -> Result<QueueStateRecord, StoreError> {
        Ok(self
            .get(&keys::queue_state(concert))
            .await?
            .unwrap_or_default())
    }

    async fn active_set(&self, concert: &ConcertId) -> Result<ActiveSetRecord, StoreError> {
        Ok(self
            .get(&keys::active_set(concert))
            .await?
            .unwrap_or_default())
    }

    async fn queue_entries(
        &self,
        concert: &ConcertId,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<QueueEntryRecord>, StoreError> {
        let items = self
            .query_all(
                "#pk = :pk AND #sk BETWEEN :from AND :to",
                vec![
                    (":pk", value(keys::queue_pk(concert))?),
                    (":from", value(keys::queue_entry_sk(after_seq + 1))?),
                    (":to", value(keys::queue_entry_sk(u64::MAX))?),
                ],
                true,
                Some(limit),
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn tokens(&self, tokens: &[QueueToken]) -> Result<Vec<TokenRecord>, StoreError> {
        let keys: Vec<keys::Key> = tokens.iter().map(keys::token).collect();
        let items = self.batch_get(&keys).await?;
        items.into_iter().map(from_item).collect()
    }

    async fn commit_admission(&self, plan: &AdmissionPlan) -> Result<CommitOutcome, StoreError> {
        let mut items = vec![
            self.update(
                &keys::queue_state(&plan.concert_id),
                "SET #cursor = :new",
                "#cursor = :expected",
                vec![
                    (":new", value(plan.new_cursor)?),
                    (":expected", value(plan.expected_cursor)?),
                ],
            )?,
            self.put(
                record_item(&keys::active_set(&plan.concert_id), &plan.active_set)?,
                None,
                vec![],
            )?,
        ];
        for token in &plan.admitted {
            items.push(self.update(
                &keys::token(token),
                "SET #status = :active, #active_until = :until, #expires_at = :expires",
                "#status = :waiting",
                vec![
                    (":active", value(TokenStatus::Active)?),
                    (":until", value(plan.active_until)?),
                    (":expires", value(memory::token_expiry(plan.active_until))?),
                    (":waiting", value(TokenStatus::Waiting)?),
                ],
            )?);
        }
        for (token, seen) in &plan.dropped {
            items.push(self.update(
                &keys::token(token),
                "SET #status = :dropped",
                "#status = :waiting AND #last_seen_at = :seen",
                vec![
                    (":dropped", value(TokenStatus::Dropped)?),
                    (":waiting", value(TokenStatus::Waiting)?),
                    (":seen", value(seen)?),
                ],
            )?);
        }
        for seq in &plan.holes {
            items.push(self.check(
                &keys::queue_entry(&plan.concert_id, *seq),
                "attribute_not_exists(pk)",
                vec![],
            )?);
        }
        Ok(plain_outcome(self.transact(items).await?))
    }

    async fn place_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError> {
        let r = reservation;
        let items = vec![
            self.check(
                &keys::seat(&r.concert_id, r.date, r.seat_number),
                "attribute_exists(pk) AND #sold = :false",
                vec![(":false", value(false)?)],
            )?,
            self.put(
                record_item(&keys::hold(&r.concert_id, r.date, r.seat_number), &r.hold())?,
                Some("attribute_not_exists(pk) OR #expires_at <= :now"),
                vec![(":now", value(now)?)],
            )?,
            self.put(
                record_item(&keys::reservation(&r.user_id, r.reservation_id), r)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
        ];
        Ok(plain_outcome(self.transact(items).await?))
    }

    async fn reservation(
        &self,
        user: &UserId,
        reservation: ReservationId,
    ) -> Result<Option<ReservationRecord>, StoreError> {
        self.get(&keys::reservation(user, reservation)).await
    }

    async fn release_hold(
        &self,
        reservation: &ReservationRecord,
        now: i64,
    ) -> Result<CommitOutcome, StoreError> {
        let r = reservation;
        let items = vec![
            self.update(
                &keys::reservation(&r.user_id, r.reservation_id),
                "SET #status = :released",
                "#status = :held AND #held_until > :now",
                vec![
                    (":released", value(StoredReservationStatus::Released)?),
                    (":held", value(StoredReservationStatus::Held)?),
                    (":now", value(now)?),
                ],
            )?,
            self.delete(
                &keys::hold(&r.concert_id, r.date, r.seat_number),
                "#reservation_id = :reservation",
                vec![(":reservation", value(r.reservation_id)?)],
            )?,
        ];
        Ok(plain_outcome(self.transact(items).await?))
    }

    async fn balance(&self, user: &UserId) -> Result<BalanceRecord, StoreError> {
        Ok(self.get(&keys::balance(user)).await?.unwrap_or_default())
    }

    async fn apply_balance_change(
        &self,
        change: &BalanceChange,
    ) -> Result<CommitOutcome, StoreError> {
        let items = self.balance_items(change)?;
        let completion_index = change.completion.as_ref().map(|_| items.len() - 1);
        Ok(balance_outcome(
            self.transact(items).await?,
            completion_index,
        ))
    }

    async fn balance_entries(
        &self,
        user: &UserId,
        before_version: Option<u64>,
        limit: usize,
    ) -> Result<Vec<BalanceEntryRecord>, StoreError> {
        let newest = match before_version {
            Some(0 | 1) => return Ok(Vec::new()),
            Some(v) => v - 1,
            None => u64::MAX,
        };
        let items = self
            .query_all(
                "#pk = :pk AND #sk BETWEEN :oldest AND :newest",
                vec![
                    (":pk", value(keys::user_pk(user))?),
                    (":oldest", value(keys::balance_entry_sk(1))?),
                    (":newest", value(keys::balance_entry_sk(newest))?),
                ],
                false,
                Some(limit),
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn payment_context(
        &self,
        user: &UserId,
        reservation: ReservationId,
        token: &QueueToken,
    ) -> Result<PaymentContext, StoreError> {
        let reservation_key = keys::reservation(user, reservation);
        let balance_key = keys::balance(user);
        let token_key = keys::token(token);
        let items = self
            .batch_get(&[
                reservation_key.clone(),
                balance_key.clone(),
                token_key.clone(),
            ])
            .await?;
        let mut context = PaymentContext {
            reservation: None,
            balance: BalanceRecord::default(),
            token: None,
        };
        for item in items {
            let (pk, sk) = (partition_key(&item).to_owned(), sort_key(&item).to_owned());
            if pk == token_key.pk && sk == token_key.sk {
                context.token = Some(from_item(item)?);
            } else if sk == balance_key.sk {
                context.balance = from_item(item)?;
            } else if sk == reservation_key.sk {
                context.reservation = Some(from_item(item)?);
            }
        }
        Ok(context)
    }

    async fn commit_payment(&self, p: &PaymentCommit) -> Result<CommitOutcome, StoreError> {
        let r = &p.reservation;
        let mut items = vec![
            self.update(
                &keys::reservation(&r.user_id, r.reservation_id),
                "SET #status = :confirmed, #payment_id = :payment",
                "#status = :held AND #held_until > :now",
                vec![
                    (":confirmed", value(StoredReservationStatus::Confirmed)?),
                    (":payment", value(p.payment.payment_id)?),
                    (":held", value(StoredReservationStatus::Held)?),
                    (":now", value(p.now)?),
                ],
            )?,
            self.delete(
                &keys::hold(&r.concert_id, r.date, r.seat_number),
                "#reservation_id = :reservation AND #expires_at > :now",
                vec![
                    (":reservation", value(r.reservation_id)?),
                    (":now", value(p.now)?),
                ],
            )?,
            self.update(
                &keys::seat(&r.concert_id, r.date, r.seat_number),
                "SET #sold = :true",
                "attribute_exists(pk) AND #sold = :false",
                vec![(":true", value(true)?), (":false", value(false)?)],
            )?,
            self.update(
                &keys::date(&r.concert_id, r.date),
                "SET #remaining_seats = #remaining_seats - :one",
                "#remaining_seats > :zero",
                vec![(":one", value(1)?), (":zero", value(0)?)],
            )?,
            self.update(
                &keys::token(&p.token),
                "SET #status = :used",
                "#user_id = :user AND #concert_id = :concert AND #status = :active \
                 AND #active_until > :now",
                vec![
                    (":used", value(TokenStatus::Used)?),
                    (":user", value(&r.user_id)?),
                    (":concert", value(&r.concert_id)?),
                    (":active", value(TokenStatus::Active)?),
                    (":now", value(p.now)?),
                ],
            )?,
            self.put(
                record_item(&keys::payment(&r.user_id, p.payment.payment_id), &p.payment)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
        ];
        items.extend(self.balance_items(&p.balance)?);
        let completion_index = p.balance.completion.as_ref().map(|_| items.len() - 1);
        Ok(balance_outcome(
            self.transact(items).await?,
            completion_index,
        ))
    }

    async fn payment(
        &self,
        user: &UserId,
        payment: PaymentId,
    ) -> Result<Option<PaymentRecord>, StoreError> {
        self.get(&keys::payment(user, payment)).await
    }

    async fn claim_idempotency_key(
        &self,
        claim: &IdempotencyRecord,
        now: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let key = keys::idempotency(&claim.user_id, &claim.key);
        let condition = "attribute_not_exists(pk) OR #expires_at <= :now \
                         OR (#state = :in_flight AND #locked_until <= :now AND #request = :request)";
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_item(&key, claim)?))
            .condition_expression(condition)
            .set_expression_attribute_names(request::names(&[condition]))
            .set_expression_attribute_values(request::values(vec![
                (":now", value(now)?),
                (":in_flight", value(IdempotencyState::InFlight)?),
                (":request", value(&claim.request)?),
            ]))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(ClaimOutcome::Claimed),
            Err(e) if is_condition_failure(&e) => {
                let old: Option<Item> = e.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                        c.item.clone()
                    }
                    _ => None,
                });
                let existing = match old {
                    Some(item) => from_item(item)?,
                    // Older servers do not return the item: read it.
                    None => self.get(&key).await?.ok_or_else(|| {
                        StoreError::Request("idempotency record vanished while claimed".into())
                    })?,
                };
                Ok(ClaimOutcome::Existing(existing))
            }
            Err(e) => Err(request_error(e)),
        }
    }

    async fn release_idempotency_key(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
        claim_id: &str,
    ) -> Result<(), StoreError> {
        let condition = "#claim_id = :claim AND #state = :in_flight";
        let sent = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(request::key_item(&keys::idempotency(user, key))?))
            .condition_expression(condition)
            .set_expression_attribute_names(request::names(&[condition]))
            .set_expression_attribute_values(request::values(vec![
                (":claim", value(claim_id)?),
                (":in_flight", value(IdempotencyState::InFlight)?),
            ]))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(request_error(e)),
        }
    }
}
