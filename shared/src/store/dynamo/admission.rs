//! The tick's side of the queue: the registry of live queues, counting the numbers drawn,
//! walking the entries, admitting in transactions that all check the state's version, and the
//! state written last.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, Operation, SMALL_ITEM};
use super::queue::{page_attribute, page_size};
use super::request::{
    from_item, number_attribute, partition_key, record_item, request_error, sort_key, value,
    Change, Item,
};
use super::*;
use crate::domain::{QueuePlace, QUEUE_SHARDS};

/// Counter items of every shard, for each minute from `from` through `through`.
fn counter_keys(concert: &ConcertId, from: i64, through: i64) -> Vec<Key> {
    (keys::counter_minute(from)..=keys::counter_minute(through))
        .flat_map(|minute| (0..QUEUE_SHARDS).map(move |shard| (minute, shard)))
        .map(|(minute, shard)| keys::counter(concert, shard, minute))
        .collect()
}

fn shard_of(pk: &str) -> Option<u8> {
    pk.rsplit('#').next()?.parse().ok()
}

fn minute_of(sk: &str) -> Option<i64> {
    sk.strip_prefix("M#")?.parse().ok()
}

#[async_trait]
impl AdmissionStore for DynamoStore {
    async fn live_queues(&self) -> Result<Vec<LiveQueue>, StoreError> {
        let Some(item) = self.get_item(&keys::live_queues()).await? else {
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

    async fn queue_counts(
        &self,
        concert: &ConcertId,
        from: i64,
        through: i64,
    ) -> Result<BTreeMap<i64, Vec<u32>>, StoreError> {
        let mut counts: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        if through < from {
            return Ok(counts);
        }
        for item in self
            .batch_get(&counter_keys(concert, from, through))
            .await?
        {
            let (Some(shard), Some(minute)) =
                (shard_of(partition_key(&item)), minute_of(sort_key(&item)))
            else {
                continue;
            };
            for second in (minute * 60).max(from)..=(minute * 60 + 59).min(through) {
                if let Some(drawn) = number_attribute(&item, &keys::second_attribute(second)) {
                    let row = counts
                        .entry(second)
                        .or_insert_with(|| vec![0; usize::from(QUEUE_SHARDS)]);
                    row[usize::from(shard)] = drawn as u32;
                }
            }
        }
        Ok(counts)
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
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(request::key_item(&keys::queue_page(
                    concert, *minute,
                ))?))
                .update_expression(format!("SET {}", update.join(", ")))
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .send()
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
        limit: usize,
    ) -> Result<Vec<QueueEntryRecord>, StoreError> {
        if after >= through || limit == 0 {
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
                Some(limit),
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
        let mut items = vec![if batch.state_version == 0 {
            self.check(
                &keys::queue_version(concert),
                "attribute_not_exists(pk)",
                vec![],
                vec![],
            )?
        } else {
            self.check(
                &keys::queue_version(concert),
                "#version = :version",
                vec![],
                vec![(":version", value(batch.state_version)?)],
            )?
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
        Ok(plain_outcome(self.transact(items).await?))
    }

    async fn commit_queue_state(
        &self,
        concert: &ConcertId,
        state: &QueueStateRecord,
        expected_version: u64,
    ) -> Result<CommitOutcome, StoreError> {
        let next = Change::new("SET #version = :next").value(":next", state.version)?;
        let version = if expected_version == 0 {
            next.when("attribute_not_exists(pk)")
        } else {
            next.when("#version = :expected")
                .value(":expected", expected_version)?
        };
        let items = vec![
            self.update(&keys::queue_version(concert), version)?,
            self.put(
                record_item(&keys::queue_state(concert), state)?,
                None,
                vec![],
            )?,
        ];
        Ok(plain_outcome(self.transact(items).await?))
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

pub(in crate::store) fn meter_queue_counts(
    concert: &ConcertId,
    from: i64,
    through: i64,
) -> Vec<DynamoRequest> {
    if through < from {
        return Vec::new();
    }
    // A counter holds at most a minute of small numbers: one unit to read.
    meter::batch_get(
        counter_keys(concert, from, through)
            .into_iter()
            .map(|key| (key, SMALL_ITEM))
            .collect(),
    )
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
    limit: usize,
    found: &[QueueEntryRecord],
) -> Vec<DynamoRequest> {
    if after >= through || limit == 0 {
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

pub(in crate::store) fn meter_commit_admission_batch(
    batch: &AdmissionBatchPlan,
) -> Vec<DynamoRequest> {
    let concert = &batch.concert_id;
    let mut items = vec![(keys::queue_version(concert), SMALL_ITEM)];
    items.extend(
        batch
            .admit
            .iter()
            .map(|(user, _)| (keys::ticket(user, concert), SMALL_ITEM)),
    );
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
