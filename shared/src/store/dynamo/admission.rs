//! The tick's side of the queue: the registry of live queues, the tick's claim, sealing and
//! counting the numbers drawn, walking the entries, admitting in transactions that all check
//! the claim, and the state written last.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use futures::StreamExt;

use super::contention::resend_on_conflict;
use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, Operation, SMALL_ITEM};
use super::queue::{page_attribute, page_size, COUNTER_KEPT_SECONDS};
use super::request::{
    build_error, from_item, key_item, number_attribute, partition_key, record_item, request_error,
    sort_key, value, Change, Item,
};
use super::slots::meter_slot_item;
use super::*;
use crate::domain::{QueuePlace, QUEUE_SHARDS};

/// Counter items of every shard, for each minute from `from` through `through`.
fn counter_keys(concert: &ConcertId, from: i64, through: i64) -> Vec<Key> {
    (keys::counter_minute(from)..=keys::counter_minute(through))
        .flat_map(|minute| (0..QUEUE_SHARDS).map(move |shard| (minute, shard)))
        .map(|(minute, shard)| keys::counter(concert, shard, minute))
        .collect()
}

/// The last second from `from` through `through` whose every counter is sealed, given each
/// counter item's seal (by counter and minute): the counts of every second up to it are final.
fn sealed_through(from: i64, through: i64, seal: impl Fn(u8, i64) -> Option<i64>) -> i64 {
    let mut last = through;
    for minute in keys::counter_minute(from)..=keys::counter_minute(through) {
        let needed = (minute * 60 + 59).min(through);
        for shard in 0..QUEUE_SHARDS {
            let sealed = seal(shard, minute).unwrap_or(i64::MIN);
            if sealed < needed {
                last = last.min(sealed.max(minute * 60 - 1));
            }
        }
    }
    last.max(from - 1)
}

/// Seals in flight at once: a tick's 64 (or 128) go out in a few waves rather than all at
/// once, which a loaded DynamoDB endpoint (or the test machine's) takes better.
const SEALS_AT_ONCE: usize = 16;

/// The counters a count from `from` through `through` seals: those of the minutes that end at
/// or after `unsealed_before`.
fn sealed_counter_keys(
    concert: &ConcertId,
    from: i64,
    through: i64,
    unsealed_before: i64,
) -> Vec<Key> {
    let from = from.max(keys::counter_minute(unsealed_before) * 60);
    if through < from {
        return Vec::new();
    }
    counter_keys(concert, from, through)
}

fn shard_of(pk: &str) -> Option<u8> {
    pk.rsplit('#').next()?.parse().ok()
}

fn minute_of(sk: &str) -> Option<i64> {
    sk.strip_prefix("M#")?.parse().ok()
}

/// The claim as stored: its version and slot, the draw, and the pending admissions.
fn claim_from_item(item: &Item) -> Result<TickClaimRecord, StoreError> {
    let lottery = item
        .get("lottery")
        .map(|v| serde_dynamo::from_attribute_value(v.clone()))
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("the claim's draw: {e}")))?;
    let pending = item
        .keys()
        .filter_map(|name| {
            let second = name.strip_prefix('a')?.parse::<i64>().ok()?;
            Some((second, number_attribute(item, name)? as u32))
        })
        .collect();
    let committed = matches!(
        item.get("committed"),
        Some(aws_sdk_dynamodb::types::AttributeValue::Bool(true))
    );
    Ok(TickClaimRecord {
        version: number_attribute(item, "version").unwrap_or(0) as u64,
        slot: number_attribute(item, "slot").unwrap_or(0),
        lottery,
        pending,
        committed,
    })
}

#[async_trait]
impl AdmissionStore for DynamoStore {
    async fn slot_ledger(
        &self,
        concert: &ConcertId,
    ) -> Result<Vec<(u32, SlotShardRecord)>, StoreError> {
        self.slot_shards(concert).await
    }

    async fn prune_slot_shard(
        &self,
        concert: &ConcertId,
        shard: u32,
        ends: &[i64],
    ) -> Result<(), StoreError> {
        self.prune_slots(concert, shard, ends).await
    }

    async fn live_queues(&self) -> Result<Vec<LiveQueue>, StoreError> {
        let Some(item) = self.get_item(&keys::live_queues(), true).await? else {
            return Ok(Vec::new());
        };
        let mut live = Vec::new();
        for name in item.keys() {
            let Ok(concert) = ConcertId::parse(name) else {
                continue;
            };
            let (last, first) = keys::live_attributes(&concert);
            if let (Some(last), Some(first)) = (
                number_attribute(&item, &last),
                number_attribute(&item, &first),
            ) {
                live.push(LiveQueue {
                    concert_id: concert,
                    first_registered: first,
                    last_registered: last,
                });
            }
        }
        live.sort_by(|a, b| a.concert_id.cmp(&b.concert_id));
        Ok(live)
    }

    async fn retire_queue(
        &self,
        concert: &ConcertId,
        last_registered: i64,
    ) -> Result<bool, StoreError> {
        let (last, first) = keys::live_attributes(concert);
        let change = Change::new("REMOVE #last, #first")
            .when("#last = :seen")
            .name("#last", last)
            .name("#first", first)
            .value(":seen", last_registered)?;
        Ok(self
            .update_item(&keys::live_queues(), change, false)
            .await?
            .is_ok())
    }

    async fn claim_tick(
        &self,
        concert: &ConcertId,
        seen: u64,
        slot: i64,
        takeover: bool,
    ) -> Result<TickClaim, StoreError> {
        let claimable = "(attribute_not_exists(#version) OR #version = :seen) \
                         AND (attribute_not_exists(#slot) OR #slot < :slot)";
        let condition = if takeover {
            format!("{claimable} AND (attribute_not_exists(#committed) OR #committed = :no)")
        } else {
            claimable.to_owned()
        };
        let change = Change::new("SET #version = :next, #slot = :slot, #committed = :no")
            .when(&condition)
            .value(":next", seen + 1)?
            .value(":seen", seen)?
            .value(":slot", slot)?
            .value(":no", false)?;
        Ok(
            match self
                .update_item(&keys::queue_version(concert), change, true)
                .await?
            {
                Ok(item) => TickClaim::Claimed(claim_from_item(&item)?),
                Err(old) => TickClaim::Held(match old {
                    Some(item) => claim_from_item(&item)?,
                    None => TickClaimRecord::default(),
                }),
            },
        )
    }

    async fn keep_draw(
        &self,
        concert: &ConcertId,
        version: u64,
        draw: &LotteryRecord,
    ) -> Result<Option<LotteryRecord>, StoreError> {
        let change = Change::new("SET #lottery = if_not_exists(#lottery, :draw)")
            .when("#version = :version")
            .value(":draw", draw)?
            .value(":version", version)?;
        match self
            .update_item(&keys::queue_version(concert), change, false)
            .await?
        {
            Ok(item) => Ok(claim_from_item(&item)?.lottery),
            Err(_) => Ok(None),
        }
    }

    async fn seal_queue_counts(
        &self,
        concert: &ConcertId,
        from: i64,
        through: i64,
        unsealed_before: i64,
    ) -> Result<SealedCounts, StoreError> {
        let mut counts: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        if through < from {
            return Ok(SealedCounts {
                through: from - 1,
                counts,
            });
        }
        let keys = counter_keys(concert, from, through);
        let sealed_keys = sealed_counter_keys(concert, from, through, unsealed_before);
        let seals: Vec<_> = sealed_keys
            .into_iter()
            .map(|key| async move {
                let minute = minute_of(&key.sk).unwrap_or_default();
                let change = Change::new(
                    "SET #sealed = :through, #expires_at = if_not_exists(#expires_at, :expires)",
                )
                .when("attribute_not_exists(#sealed) OR #sealed < :through")
                .name("#sealed", keys::SEALED_ATTRIBUTE)
                .value(":through", through)?
                .value(":expires", minute * 60 + COUNTER_KEPT_SECONDS)?;
                // Sealed further already (another tick counted on): as good.
                self.update_item(&key, change, false).await.map(|_| ())
            })
            .collect();
        // A seal that fails only holds its counter's seconds back for a later tick: what is
        // counted is what the read below finds sealed.
        futures::stream::iter(seals)
            .buffer_unordered(SEALS_AT_ONCE)
            .collect::<Vec<_>>()
            .await;
        let items = self.batch_get(&keys).await?;
        let mut sealed: HashMap<(u8, i64), i64> = HashMap::default();
        for item in &items {
            let (Some(shard), Some(minute)) =
                (shard_of(partition_key(item)), minute_of(sort_key(item)))
            else {
                continue;
            };
            if let Some(at) = number_attribute(item, keys::SEALED_ATTRIBUTE) {
                sealed.insert((shard, minute), at);
            }
        }
        let counted = sealed_through(from, through, |shard, minute| {
            if minute * 60 + 59 < unsealed_before {
                return Some(i64::MAX);
            }
            sealed.get(&(shard, minute)).copied()
        });
        for item in items {
            let (Some(shard), Some(minute)) =
                (shard_of(partition_key(&item)), minute_of(sort_key(&item)))
            else {
                continue;
            };
            for second in (minute * 60).max(from)..=(minute * 60 + 59).min(counted) {
                if let Some(drawn) = number_attribute(&item, &keys::second_attribute(second)) {
                    let row = counts
                        .entry(second)
                        .or_insert_with(|| vec![0; usize::from(QUEUE_SHARDS)]);
                    row[usize::from(shard)] = drawn as u32;
                }
            }
        }
        Ok(SealedCounts {
            through: counted,
            counts,
        })
    }

    async fn write_queue_pages(
        &self,
        concert: &ConcertId,
        pages: &BTreeMap<i64, QueuePageRecord>,
    ) -> Result<(), StoreError> {
        for (minute, page) in pages {
            // SET per second: a page only ever gains seconds, whoever writes it.
            let mut update = Vec::new();
            let mut names = std::collections::HashMap::new();
            let mut values = Item::new();
            for (i, (second, counts)) in page.seconds.iter().enumerate() {
                update.push(format!("#s{i} = :s{i}"));
                names.insert(format!("#s{i}"), keys::second_attribute(*second));
                values.insert(format!(":s{i}"), page_attribute(counts));
            }
            if update.is_empty() {
                continue;
            }
            let write = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(request::key_item(&keys::queue_page(
                    concert, *minute,
                ))?))
                .update_expression(format!("SET {}", update.join(", ")))
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values));
            resend_on_conflict(|| write.clone().send())
                .await
                .map_err(request_error)?;
        }
        Ok(())
    }

    async fn queue_entries(
        &self,
        concert: &ConcertId,
        shard: u8,
        after: (i64, u32),
        through: (i64, u32),
    ) -> Result<Vec<QueueEntryRecord>, StoreError> {
        if after >= through {
            return Ok(Vec::new());
        }
        let items = self
            .query(
                "#pk = :pk AND #sk BETWEEN :from AND :to",
                vec![
                    (":pk", value(keys::entries_pk(concert, shard))?),
                    (":from", value(keys::entry_sk(after.0, after.1 + 1))?),
                    (":to", value(keys::entry_sk(through.0, through.1))?),
                ],
                true,
                None,
            )
            .await?;
        items.into_iter().map(from_item).collect()
    }

    async fn queue_entries_at(
        &self,
        concert: &ConcertId,
        places: &[QueuePlace],
    ) -> Result<Vec<QueueEntryRecord>, StoreError> {
        let keys: Vec<Key> = places.iter().map(|p| keys::entry(concert, *p)).collect();
        let items = self.batch_get(&keys).await?;
        items.into_iter().map(from_item).collect()
    }

    async fn tickets(
        &self,
        concert: &ConcertId,
        users: &[UserId],
    ) -> Result<Vec<TicketRecord>, StoreError> {
        let keys: Vec<Key> = users.iter().map(|u| keys::ticket(u, concert)).collect();
        let items = self.batch_get(&keys).await?;
        items.into_iter().map(from_item).collect()
    }

    async fn commit_admission_batch(
        &self,
        batch: &AdmissionBatchPlan,
    ) -> Result<CommitOutcome, StoreError> {
        let concert = &batch.concert_id;
        let claim = keys::queue_version(concert);
        let mut items = vec![if batch.admit.is_empty() {
            self.check(
                &claim,
                "#version = :version",
                vec![],
                vec![(":version", value(batch.claim_version)?)],
            )?
        } else {
            // The admissions count as pending on the claim until a state counts them.
            let pending = Change::new("ADD #pending :admitted")
                .when("#version = :version")
                .name("#pending", keys::pending_attribute(batch.admitted_at))
                .value(":admitted", batch.admit.len())?
                .value(":version", batch.claim_version)?;
            self.update(&claim, pending)?
        }];
        for (user, token) in &batch.admit {
            let change = Change::new(
                "SET #status = :active, #admitted_at = :at, #active_until = :until, \
                 #expires_at = :expires",
            )
            .when("#token = :token AND #status = :waiting")
            .value(":active", TicketStatus::Active)?
            .value(":at", batch.admitted_at)?
            .value(":until", batch.active_until)?
            .value(":expires", memory::ticket_expiry(batch.active_until))?
            .value(":token", token)?
            .value(":waiting", TicketStatus::Waiting)?;
            items.push(self.update(&keys::ticket(user, concert), change)?);
        }
        // The admissions' slots, counted at their end on one shard (see `booking::slots`).
        if let Some(slots) = batch.slot_move() {
            items.push(self.slot_move_item(concert, &slots)?);
        }
        for (user, token, seen) in &batch.drop {
            let change = Change::new("SET #status = :dropped")
                .when("#token = :token AND #status = :waiting AND #last_seen_at = :seen")
                .value(":dropped", TicketStatus::Dropped)?
                .value(":token", token)?
                .value(":waiting", TicketStatus::Waiting)?
                .value(":seen", seen)?;
            items.push(self.update(&keys::ticket(user, concert), change)?);
        }
        for place in &batch.voids {
            let void = QueueEntryRecord {
                second: place.second,
                shard: place.shard,
                number: place.number,
                user_id: None,
            };
            items.push(self.put(
                record_item(&keys::entry(concert, *place), &void)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?);
        }
        Ok(claimed_outcome(self.transact(items).await?))
    }

    async fn commit_queue_state(
        &self,
        concert: &ConcertId,
        state: &QueueStateRecord,
        settled: &[i64],
    ) -> Result<CommitOutcome, StoreError> {
        let claim = keys::queue_version(concert);
        let values = vec![(":version", value(state.version)?), (":yes", value(true)?)];
        // The claim says its state is written, and drops the pending admissions the state
        // now holds (REMOVE of attributes named by data: one placeholder each).
        let names: std::collections::HashMap<String, String> = settled
            .iter()
            .enumerate()
            .map(|(i, second)| (format!("#p{i}"), keys::pending_attribute(*second)))
            .chain([
                ("#version".to_owned(), "version".to_owned()),
                ("#committed".to_owned(), "committed".to_owned()),
            ])
            .collect();
        let removed: Vec<String> = (0..settled.len()).map(|i| format!("#p{i}")).collect();
        let mut expression = "SET #committed = :yes".to_owned();
        if !removed.is_empty() {
            expression = format!("{expression} REMOVE {}", removed.join(", "));
        }
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_item(&claim)?))
            .update_expression(expression)
            .condition_expression("#version = :version")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(request::values(values))
            .build()
            .map_err(build_error)?;
        let claim_item = aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .update(update)
            .build();
        let items = vec![
            claim_item,
            self.put(
                record_item(&keys::queue_state(concert), state)?,
                None,
                vec![],
            )?,
        ];
        Ok(claimed_outcome(self.transact(items).await?))
    }
}

/// A transaction whose first item checks the tick's claim.
fn claimed_outcome(tx: Transaction) -> CommitOutcome {
    match tx {
        Transaction::Committed => CommitOutcome::Committed,
        tx if tx.failed_at(0) => CommitOutcome::ClaimLost,
        Transaction::Cancelled(_) => CommitOutcome::Refused,
    }
}

pub(in crate::store) fn meter_live_queues(found: &[LiveQueue]) -> Vec<DynamoRequest> {
    let size: usize = found
        .iter()
        .map(|q| 2 * q.concert_id.as_str().len() + 6 + 2 * 6)
        .sum();
    vec![meter::get(&keys::live_queues(), 12 + size, true)]
}

pub(in crate::store) fn meter_retire_queue() -> Vec<DynamoRequest> {
    vec![meter::write(
        Operation::UpdateItem,
        &keys::live_queues(),
        SMALL_ITEM,
    )]
}

pub(in crate::store) fn meter_claim_tick(concert: &ConcertId) -> Vec<DynamoRequest> {
    vec![meter::write(
        Operation::UpdateItem,
        &keys::queue_version(concert),
        SMALL_ITEM,
    )]
}

pub(in crate::store) fn meter_keep_draw(concert: &ConcertId) -> Vec<DynamoRequest> {
    meter_claim_tick(concert)
}

pub(in crate::store) fn meter_seal_queue_counts(
    concert: &ConcertId,
    from: i64,
    through: i64,
    unsealed_before: i64,
) -> Vec<DynamoRequest> {
    if through < from {
        return Vec::new();
    }
    // A counter holds at most a minute of small numbers: a unit to seal, a unit to read.
    let keys = counter_keys(concert, from, through);
    let mut requests: Vec<DynamoRequest> =
        sealed_counter_keys(concert, from, through, unsealed_before)
            .iter()
            .map(|key| meter::write(Operation::UpdateItem, key, SMALL_ITEM))
            .collect();
    requests.extend(meter::batch_get(
        keys.into_iter().map(|key| (key, SMALL_ITEM)).collect(),
    ));
    requests
}

pub(in crate::store) fn meter_write_queue_pages(
    concert: &ConcertId,
    pages: &BTreeMap<i64, QueuePageRecord>,
    written: &BTreeMap<i64, QueuePageRecord>,
) -> Vec<DynamoRequest> {
    pages
        .iter()
        .filter(|(_, page)| !page.seconds.is_empty())
        .map(|(minute, page)| {
            let key = keys::queue_page(concert, *minute);
            let whole = written.get(minute).unwrap_or(page);
            meter::write(Operation::UpdateItem, &key, page_size(&key, whole))
        })
        .collect()
}

pub(in crate::store) fn meter_queue_entries(
    concert: &ConcertId,
    shard: u8,
    after: (i64, u32),
    through: (i64, u32),
    found: &[QueueEntryRecord],
) -> Vec<DynamoRequest> {
    if after >= through {
        return Vec::new();
    }
    meter::query(
        keys::entries_pk(concert, shard),
        found
            .iter()
            .map(|e| meter::sized(&keys::entry(concert, e.place()), e)),
    )
}

pub(in crate::store) fn meter_queue_entries_at(
    concert: &ConcertId,
    places: &[QueuePlace],
    found: &[QueueEntryRecord],
) -> Vec<DynamoRequest> {
    meter::batch_get(
        places
            .iter()
            .map(|p| {
                let key = keys::entry(concert, *p);
                let size = found
                    .iter()
                    .find(|e| e.place() == *p)
                    .map_or(0, |e| meter::sized(&key, e));
                (key, size)
            })
            .collect(),
    )
}

pub(in crate::store) fn meter_tickets(
    concert: &ConcertId,
    users: &[UserId],
    found: &[TicketRecord],
) -> Vec<DynamoRequest> {
    meter::batch_get(
        users
            .iter()
            .map(|u| {
                let key = keys::ticket(u, concert);
                let size = found
                    .iter()
                    .find(|t| &t.user_id == u)
                    .map_or(0, |t| meter::sized(&key, t));
                (key, size)
            })
            .collect(),
    )
}

/// `slots` is the batch's slot shard after it.
pub(in crate::store) fn meter_commit_admission_batch(
    batch: &AdmissionBatchPlan,
    slots: &SlotShardRecord,
) -> Vec<DynamoRequest> {
    let concert = &batch.concert_id;
    let mut items = vec![(keys::queue_version(concert), SMALL_ITEM)];
    items.extend(
        batch
            .admit
            .iter()
            .map(|(user, _)| (keys::ticket(user, concert), SMALL_ITEM)),
    );
    if !batch.admit.is_empty() {
        items.push(meter_slot_item(concert, batch.slot_shard, slots));
    }
    items.extend(
        batch
            .drop
            .iter()
            .map(|(user, _, _)| (keys::ticket(user, concert), SMALL_ITEM)),
    );
    items.extend(
        batch
            .voids
            .iter()
            .map(|place| (keys::entry(concert, *place), SMALL_ITEM)),
    );
    vec![meter::transact(items)]
}

pub(in crate::store) fn meter_commit_queue_state(
    concert: &ConcertId,
    state: &QueueStateRecord,
) -> Vec<DynamoRequest> {
    let key = keys::queue_state(concert);
    vec![meter::transact(vec![
        (keys::queue_version(concert), SMALL_ITEM),
        (key.clone(), meter::sized(&key, state)),
    ])]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_stops_where_the_first_counter_is_not_sealed() {
        // Minute 10 (seconds 600..=659), counting 610 through 625.
        let all = |at: i64| move |_: u8, _: i64| Some(at);
        assert_eq!(sealed_through(610, 625, all(625)), 625);
        assert_eq!(
            sealed_through(610, 625, all(700)),
            625,
            "sealed further: as good"
        );
        assert_eq!(
            sealed_through(610, 625, all(620)),
            620,
            "an earlier seal holds back"
        );
        let one_missing = |shard: u8, _: i64| (shard != 7).then_some(625);
        assert_eq!(
            sealed_through(610, 625, one_missing),
            609,
            "nothing past the last count"
        );
        // Across minutes: the first minute's counters are done; one of the next is behind.
        let behind = |shard: u8, minute: i64| match (shard, minute) {
            (3, 11) => Some(662),
            (_, 10) => Some(659),
            _ => Some(670),
        };
        assert_eq!(sealed_through(650, 670, behind), 662);
    }
}
