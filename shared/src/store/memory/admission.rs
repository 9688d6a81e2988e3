use async_trait::async_trait;

use super::*;
use crate::domain::QUEUE_SHARDS;

#[async_trait]
impl AdmissionStore for MemoryStore {
    async fn live_queues(&self) -> Result<Vec<LiveQueue>, StoreError> {
        Ok(self
            .tables()
            .live_queues
            .iter()
            .map(|(concert, (first, last))| LiveQueue {
                concert_id: concert.clone(),
                first_registered: *first,
                last_registered: *last,
            })
            .collect())
    }

    async fn slot_ledger(
        &self,
        concert: &ConcertId,
    ) -> Result<Vec<(u32, SlotShardRecord)>, StoreError> {
        let t = self.tables();
        Ok((0..SLOT_SHARDS)
            .map(|shard| {
                let record = t.slots.get(&(concert.clone(), shard)).cloned();
                (shard, record.unwrap_or_default())
            })
            .collect())
    }

    async fn prune_slot_shard(
        &self,
        concert: &ConcertId,
        shard: u32,
        ends: &[i64],
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        if let Some(record) = t.slots.get_mut(&(concert.clone(), shard)) {
            within_limits(dynamo::meter_prune_slot_shard(concert, shard, record))?;
            for end in ends {
                record.ends.remove(end);
            }
        }
        Ok(())
    }

    async fn retire_queue(
        &self,
        concert: &ConcertId,
        last_registered: i64,
    ) -> Result<bool, StoreError> {
        let mut t = self.tables();
        if t.live_queues.get(concert).map(|(_, last)| *last) != Some(last_registered) {
            return Ok(false);
        }
        t.live_queues.remove(concert);
        Ok(true)
    }

    async fn claim_tick(
        &self,
        concert: &ConcertId,
        seen: u64,
        slot: i64,
        takeover: bool,
    ) -> Result<TickClaim, StoreError> {
        let mut t = self.tables();
        let claim = t.claims.entry(concert.clone()).or_default();
        // A claim nobody took yet has no slot: any slot is later.
        let slot_free = claim.version == 0 || claim.slot < slot;
        if claim.version != seen || !slot_free || (takeover && claim.committed) {
            return Ok(TickClaim::Held(claim.clone()));
        }
        claim.version = seen + 1;
        claim.slot = slot;
        claim.committed = false;
        Ok(TickClaim::Claimed(claim.clone()))
    }

    async fn keep_draw(
        &self,
        concert: &ConcertId,
        version: u64,
        draw: &LotteryRecord,
    ) -> Result<Option<LotteryRecord>, StoreError> {
        let mut t = self.tables();
        let Some(claim) = t.claims.get_mut(concert).filter(|c| c.version == version) else {
            return Ok(None);
        };
        Ok(Some(*claim.lottery.get_or_insert(*draw)))
    }

    async fn seal_queue_counts(
        &self,
        concert: &ConcertId,
        from: i64,
        through: i64,
        unsealed_before: i64,
    ) -> Result<SealedCounts, StoreError> {
        let mut t = self.tables();
        let mut counts = BTreeMap::new();
        if through < from {
            return Ok(SealedCounts {
                through: from - 1,
                counts,
            });
        }
        let first_sealed = from.div_euclid(60).max(unsealed_before.div_euclid(60));
        for minute in first_sealed..=through.div_euclid(60) {
            for shard in 0..QUEUE_SHARDS {
                let seal = t
                    .seals
                    .entry((concert.clone(), shard, minute))
                    .or_insert(through);
                *seal = (*seal).max(through);
            }
        }
        for second in from..=through {
            let drawn = t.drawn_in(concert, second);
            if drawn.iter().any(|n| *n > 0) {
                counts.insert(second, drawn);
            }
        }
        Ok(SealedCounts { through, counts })
    }

    async fn write_queue_pages(
        &self,
        concert: &ConcertId,
        pages: &BTreeMap<i64, QueuePageRecord>,
    ) -> Result<(), StoreError> {
        let mut t = self.tables();
        let mut written = BTreeMap::new();
        for (minute, page) in pages {
            let mut stored = t
                .pages
                .get(&(concert.clone(), *minute))
                .cloned()
                .unwrap_or_default();
            stored
                .seconds
                .extend(page.seconds.iter().map(|(s, c)| (*s, c.clone())));
            written.insert(*minute, stored);
        }
        within_limits(dynamo::meter_write_queue_pages(concert, pages, &written))?;
        for (minute, page) in written {
            t.pages.insert((concert.clone(), minute), page);
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
        let t = self.tables();
        let from = (concert.clone(), shard, after.0, after.1);
        let to = (concert.clone(), shard, through.0, through.1);
        if from >= to {
            return Ok(Vec::new());
        }
        Ok(t.queue_entries
            .range((
                std::ops::Bound::Excluded(from),
                std::ops::Bound::Included(to),
            ))
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn queue_entries_at(
        &self,
        concert: &ConcertId,
        places: &[QueuePlace],
    ) -> Result<Vec<QueueEntryRecord>, StoreError> {
        let t = self.tables();
        Ok(places
            .iter()
            .filter_map(|p| {
                t.queue_entries
                    .get(&(concert.clone(), p.shard, p.second, p.number))
                    .cloned()
            })
            .collect())
    }

    async fn tickets(
        &self,
        concert: &ConcertId,
        users: &[UserId],
    ) -> Result<Vec<TicketRecord>, StoreError> {
        let t = self.tables();
        Ok(users
            .iter()
            .filter_map(|u| t.tickets.get(&(u.clone(), concert.clone())).cloned())
            .collect())
    }

    async fn commit_admission_batch(
        &self,
        batch: &AdmissionBatchPlan,
    ) -> Result<CommitOutcome, StoreError> {
        let mut t = self.tables();
        let slots = batch.slot_move();
        let after = slots
            .as_ref()
            .map(|slots| t.slots_after(&batch.concert_id, slots))
            .unwrap_or_default();
        // DynamoDB validates a request's shape before it judges any condition.
        within_limits(dynamo::meter_commit_admission_batch(batch, &after))?;
        let concert = &batch.concert_id;
        let version = t.claims.get(concert).map_or(0, |c| c.version);
        if version != batch.claim_version {
            return Ok(CommitOutcome::ClaimLost);
        }
        let waiting = |t: &Tables, user: &UserId, token: &QueueToken| {
            t.tickets
                .get(&(user.clone(), concert.clone()))
                .filter(|r| &r.token == token && r.status == TicketStatus::Waiting)
                .cloned()
        };
        let allowed = batch
            .admit
            .iter()
            .all(|(user, token)| waiting(&t, user, token).is_some())
            && batch.drop.iter().all(|(user, token, seen)| {
                waiting(&t, user, token).is_some_and(|r| r.last_seen_at == *seen)
            })
            && batch.voids.iter().all(|p| {
                !t.queue_entries
                    .contains_key(&(concert.clone(), p.shard, p.second, p.number))
            });
        if !allowed {
            return Ok(CommitOutcome::Refused);
        }
        if !batch.admit.is_empty() {
            if let Some(claim) = t.claims.get_mut(concert) {
                *claim.pending.entry(batch.admitted_at).or_default() += batch.admit.len() as u32;
            }
        }
        // Drops first: the batch passes its idle fans and admits the rest in one step, and a
        // reader of the changes should never see an admission ahead of a fan still waiting.
        for (user, _, _) in &batch.drop {
            if let Some(r) = t.tickets.get_mut(&(user.clone(), concert.clone())) {
                r.status = TicketStatus::Dropped;
            }
            t.record(user, concert, TicketChangeKind::Dropped);
        }
        for (user, _) in &batch.admit {
            if let Some(r) = t.tickets.get_mut(&(user.clone(), concert.clone())) {
                r.status = TicketStatus::Active;
                r.admitted_at = Some(batch.admitted_at);
                r.active_until = Some(batch.active_until);
                r.expires_at = ticket_expiry(batch.active_until);
            }
            let admitted = TicketChangeKind::Admitted {
                at: batch.admitted_at,
                until: batch.active_until,
            };
            t.record(user, concert, admitted);
        }
        if let Some(slots) = slots {
            t.slots.insert((concert.clone(), slots.shard), after);
        }
        for p in &batch.voids {
            t.queue_entries.insert(
                (concert.clone(), p.shard, p.second, p.number),
                QueueEntryRecord {
                    second: p.second,
                    shard: p.shard,
                    number: p.number,
                    user_id: None,
                },
            );
        }
        Ok(CommitOutcome::Committed)
    }

    async fn commit_queue_state(
        &self,
        concert: &ConcertId,
        state: &QueueStateRecord,
        settled: &[i64],
    ) -> Result<CommitOutcome, StoreError> {
        within_limits(dynamo::meter_commit_queue_state(concert, state))?;
        let mut t = self.tables();
        let Some(claim) = t
            .claims
            .get_mut(concert)
            .filter(|c| c.version == state.version)
        else {
            return Ok(CommitOutcome::ClaimLost);
        };
        for second in settled {
            claim.pending.remove(second);
        }
        claim.committed = true;
        t.states.insert(concert.clone(), state.clone());
        Ok(CommitOutcome::Committed)
    }
}
