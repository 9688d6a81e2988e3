//! A fan's side of the queue: the ticket under the fan's own partition, a number drawn from one
//! of 64 counters, the entry that tells the tick whose number it is, and the state and pages the
//! tick leaves for everyone to read (and cache).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{self, Key};
use super::meter::{self, DynamoRequest, Operation, SMALL_ITEM};
use super::request::{from_item, record_item, value, Change, Item};
use super::size;
use super::*;

/// Counter items are garbage a week after their minute.
pub(super) const COUNTER_KEPT_SECONDS: i64 = 7 * 86_400;

/// A page attribute: the second's base, then each counter's count, trailing zeros left out.
fn page_from_item(page_number: i64, item: &Item) -> Result<QueuePageRecord, StoreError> {
    let (first, _) = page_seconds(page_number);
    let mut page = QueuePageRecord::default();
    for (name, attribute) in item {
        let Some(second) = name
            .strip_prefix('s')
            .filter(|n| n.len() == 2)
            .and_then(|n| n.parse::<i64>().ok())
        else {
            continue;
        };
        let AttributeValue::L(numbers) = attribute else {
            return Err(StoreError::Corrupt(format!("page attribute {name}")));
        };
        let mut numbers = numbers.iter().map(|n| match n {
            AttributeValue::N(n) => n.parse::<u64>().ok(),
            _ => None,
        });
        let base = numbers.next().flatten().unwrap_or(0);
        let mut counts: Vec<u32> = numbers.map(|n| n.unwrap_or(0) as u32).collect();
        counts.resize(usize::from(crate::domain::QUEUE_SHARDS), 0);
        // The attribute names the second within its minute; the page, which ten of them.
        let second = first + (second - first.rem_euclid(60)).rem_euclid(60);
        page.seconds.insert(second, SecondCounts { base, counts });
    }
    Ok(page)
}

/// A second's counts as a page attribute.
pub(super) fn page_attribute(counts: &SecondCounts) -> AttributeValue {
    let used = counts
        .counts
        .iter()
        .rposition(|c| *c > 0)
        .map_or(0, |last| last + 1);
    let numbers = std::iter::once(counts.base)
        .chain(counts.counts[..used].iter().map(|c| u64::from(*c)))
        .map(|n| AttributeValue::N(n.to_string()))
        .collect();
    AttributeValue::L(numbers)
}

/// The size of a page item as stored.
pub(super) fn page_size(key: &Key, page: &QueuePageRecord) -> usize {
    let attributes: usize = page
        .seconds
        .values()
        .map(|counts| {
            let used = counts
                .counts
                .iter()
                .rposition(|c| *c > 0)
                .map_or(0, |l| l + 1);
            let numbers = std::iter::once(counts.base)
                .chain(counts.counts[..used].iter().map(|c| u64::from(*c)));
            3 + 3 + numbers.map(|n| 1 + size::integer(n.into())).sum::<usize>()
        })
        .sum();
    "pk".len() + key.pk.len() + "sk".len() + key.sk.len() + attributes
}

#[async_trait]
impl QueueStore for DynamoStore {
    async fn ticket(
        &self,
        user: &UserId,
        concert: &ConcertId,
    ) -> Result<Option<TicketRecord>, StoreError> {
        self.get(&keys::ticket(user, concert), true).await
    }

    async fn draw_queue_number(
        &self,
        concert: &ConcertId,
        shard: u8,
        second: i64,
    ) -> Result<Draw, StoreError> {
        let attribute = keys::second_attribute(second);
        let change = Change::new("SET #expires_at = :expires ADD #second :one")
            .when("attribute_not_exists(#sealed) OR #sealed < :drawn_in")
            .name("#second", attribute.clone())
            .name("#sealed", keys::SEALED_ATTRIBUTE)
            .value(":expires", second + COUNTER_KEPT_SECONDS)?
            .value(":one", 1)?
            .value(":drawn_in", second)?;
        let key = keys::counter(concert, shard, keys::counter_minute(second));
        match self.update_item(&key, change, true).await? {
            Ok(item) => request::number_attribute(&item, &attribute)
                .map(|n| Draw::Number(n as u32))
                .ok_or_else(|| StoreError::Corrupt("the counter returned no number".into())),
            Err(old) => old
                .and_then(|item| request::number_attribute(&item, keys::SEALED_ATTRIBUTE))
                .map(Draw::Sealed)
                .ok_or_else(|| StoreError::Corrupt("a refused draw found no seal".into())),
        }
    }

    async fn enqueue(
        &self,
        ticket: &TicketRecord,
        previous: Option<&QueueToken>,
    ) -> Result<EnqueueOutcome, StoreError> {
        let entry = QueueEntryRecord {
            second: ticket.token.joined_at(),
            shard: ticket.shard,
            number: ticket.number,
            user_id: Some(ticket.user_id.clone()),
        };
        let ticket_item = record_item(&keys::ticket(&ticket.user_id, &ticket.concert_id), ticket)?;
        let items = vec![
            match previous {
                None => self.put(ticket_item, Some("attribute_not_exists(pk)"), vec![])?,
                Some(previous) => self.put(
                    ticket_item,
                    Some("#token = :previous"),
                    vec![(":previous", value(previous)?)],
                )?,
            },
            self.put(
                record_item(&keys::entry(&ticket.concert_id, ticket.place()), &entry)?,
                Some("attribute_not_exists(pk)"),
                vec![],
            )?,
        ];
        Ok(match self.transact(items).await? {
            Transaction::Committed => EnqueueOutcome::Enqueued,
            tx if tx.failed_at(0) => EnqueueOutcome::TicketMoved,
            _ => EnqueueOutcome::NumberPassed,
        })
    }

    async fn poll_ticket(
        &self,
        user: &UserId,
        token: &QueueToken,
        now: i64,
    ) -> Result<Option<TicketRecord>, StoreError> {
        let change = Change::new("SET #last_seen_at = :now")
            .when("#token = :token AND #status = :waiting")
            .value(":now", now)?
            .value(":token", token)?
            .value(":waiting", TicketStatus::Waiting)?;
        let key = keys::ticket(user, token.concert());
        match self.update_item(&key, change, true).await? {
            Ok(updated) => from_item(updated).map(Some),
            // Not this token, or no longer waiting: the ticket as it stands, if there is one.
            Err(old) => old.map(from_item).transpose(),
        }
    }

    async fn renew_ticket(&self, renewal: &SlotRenewal) -> Result<CommitOutcome, StoreError> {
        self.renew(renewal).await
    }

    async fn register_queue(&self, concert: &ConcertId, now: i64) -> Result<(), StoreError> {
        let (last, first) = keys::live_attributes(concert);
        let change = Change::new("SET #last = :now, #first = if_not_exists(#first, :now)")
            .name("#last", last)
            .name("#first", first)
            .value(":now", now)?;
        self.update_item(&keys::live_queues(), change, false)
            .await
            .map(|_| ())
    }

    async fn queue_state(
        &self,
        concert: &ConcertId,
        consistent: bool,
    ) -> Result<Option<QueueStateRecord>, StoreError> {
        self.get(&keys::queue_state(concert), consistent).await
    }

    async fn queue_page(
        &self,
        concert: &ConcertId,
        minute: i64,
    ) -> Result<Option<QueuePageRecord>, StoreError> {
        // Eventually consistent, at half the price: a page only ever gains seconds, and a copy
        // that lacks one is read again when the state says that second is counted.
        let item = self
            .get_item(&keys::queue_page(concert, minute), false)
            .await?;
        item.map(|item| page_from_item(minute, &item)).transpose()
    }

    async fn queue_control(&self, concert: &ConcertId) -> Result<QueueControlRecord, StoreError> {
        Ok(self
            .get(&keys::queue_control(concert), true)
            .await?
            .unwrap_or_default())
    }

    async fn change_queue_control(
        &self,
        concert: &ConcertId,
        change: &QueueControlChange,
    ) -> Result<QueueControlRecord, StoreError> {
        let key = keys::queue_control(concert);
        let Some(update) = control_update(change) else {
            return self.queue_control(concert).await;
        };
        let mut write = Change::new(&update);
        if let Some(paused) = change.paused {
            write = write.value(":paused", paused)?;
        }
        if let Some(admit) = change.admit_per_tick {
            write = write.value(":admit", admit)?;
        }
        if let Some(max) = change.max_active {
            write = write.value(":max", max)?;
        }
        if let Some(holds) = change.max_holds_per_session {
            write = write.value(":holds", holds)?;
        }
        match self.update_item(&key, write, false).await? {
            Ok(item) => from_item(item),
            Err(_) => Err(StoreError::Corrupt("unconditional update refused".into())),
        }
    }
}

/// `SET` of the settings an operator's change gives; `None` when it gives none.
fn control_update(change: &QueueControlChange) -> Option<String> {
    let sets: Vec<&str> = [
        change.paused.map(|_| "#paused = :paused"),
        change.admit_per_tick.map(|_| "#admit_per_tick = :admit"),
        change.max_active.map(|_| "#max_active = :max"),
        change
            .max_holds_per_session
            .map(|_| "#max_holds_per_session = :holds"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!sets.is_empty()).then(|| format!("SET {}", sets.join(", ")))
}

fn ticket_size(user: &UserId, concert: &ConcertId, found: Option<&TicketRecord>) -> usize {
    found.map_or(0, |t| meter::sized(&keys::ticket(user, concert), t))
}

pub(in crate::store) fn meter_ticket(
    user: &UserId,
    concert: &ConcertId,
    found: Option<&TicketRecord>,
) -> Vec<DynamoRequest> {
    let size = ticket_size(user, concert, found);
    vec![meter::get(&keys::ticket(user, concert), size, true)]
}

pub(in crate::store) fn meter_draw_queue_number(
    concert: &ConcertId,
    shard: u8,
    second: i64,
) -> Vec<DynamoRequest> {
    // A minute's counter holds at most 60 small numbers: under 1 KB.
    let key = keys::counter(concert, shard, keys::counter_minute(second));
    vec![meter::write(Operation::UpdateItem, &key, SMALL_ITEM)]
}

pub(in crate::store) fn meter_enqueue(ticket: &TicketRecord) -> Vec<DynamoRequest> {
    let ticket_key = keys::ticket(&ticket.user_id, &ticket.concert_id);
    let entry = QueueEntryRecord {
        second: ticket.token.joined_at(),
        shard: ticket.shard,
        number: ticket.number,
        user_id: Some(ticket.user_id.clone()),
    };
    let entry_key = keys::entry(&ticket.concert_id, ticket.place());
    vec![meter::transact(vec![
        (ticket_key.clone(), meter::sized(&ticket_key, ticket)),
        (entry_key.clone(), meter::sized(&entry_key, &entry)),
    ])]
}

pub(in crate::store) fn meter_poll_ticket(
    user: &UserId,
    token: &QueueToken,
    found: Option<&TicketRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::ticket(user, token.concert());
    let size = ticket_size(user, token.concert(), found);
    vec![meter::write(Operation::UpdateItem, &key, size)]
}

pub(in crate::store) fn meter_register_queue(live: &[LiveQueue]) -> Vec<DynamoRequest> {
    // Two numbers per live concert, named by its id.
    let size: usize = live
        .iter()
        .map(|q| 2 * q.concert_id.as_str().len() + 6 + 2 * 6)
        .sum();
    vec![meter::write(
        Operation::UpdateItem,
        &keys::live_queues(),
        12 + size,
    )]
}

pub(in crate::store) fn meter_queue_state(
    concert: &ConcertId,
    consistent: bool,
    found: Option<&QueueStateRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::queue_state(concert);
    let size = found.map_or(0, |s| meter::sized(&key, s));
    vec![meter::get(&key, size, consistent)]
}

pub(in crate::store) fn meter_queue_page(
    concert: &ConcertId,
    minute: i64,
    found: Option<&QueuePageRecord>,
) -> Vec<DynamoRequest> {
    let key = keys::queue_page(concert, minute);
    let size = found.map_or(0, |p| page_size(&key, p));
    vec![meter::get(&key, size, false)]
}

pub(in crate::store) fn meter_queue_control(concert: &ConcertId) -> Vec<DynamoRequest> {
    vec![meter::get(&keys::queue_control(concert), SMALL_ITEM, true)]
}

pub(in crate::store) fn meter_change_queue_control(
    concert: &ConcertId,
    change: &QueueControlChange,
) -> Vec<DynamoRequest> {
    if change.is_empty() {
        return meter_queue_control(concert);
    }
    vec![meter::write(
        Operation::UpdateItem,
        &keys::queue_control(concert),
        SMALL_ITEM,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_read_back_and_are_sized_exactly() {
        let key = keys::queue_page(&ConcertId::parse("c").unwrap(), 179_608_320);
        let mut page = QueuePageRecord::default();
        let mut counts = vec![0; 64];
        counts[0] = 150;
        counts[5] = 7;
        page.seconds.insert(
            179_608_320 * 10 + 7,
            SecondCounts {
                base: 1_234_567,
                counts,
            },
        );
        let mut item = request::key_item(&key).unwrap();
        for (second, counts) in &page.seconds {
            item.insert(keys::second_attribute(*second), page_attribute(counts));
        }
        assert_eq!(page_from_item(179_608_320, &item).unwrap(), page);
        assert_eq!(page_size(&key, &page), meter::item_size(&item));
    }
}
