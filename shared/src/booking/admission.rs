//! The admission tick: admits waiting users of each concert in queue order.

use std::collections::HashMap;

use tracing::{instrument, warn};

use super::Ticketing;
use crate::domain::{BookingError, ConcertId, QueueToken};
use crate::store::{ActiveSetRecord, AdmissionPlan, CommitOutcome, TokenStatus};

/// One transaction holds at most 100 items; two of them are the queue's counters.
const MAX_PLAN_ITEMS: usize = 96;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdmissionReport {
    pub concerts: usize,
    pub admitted: usize,
    pub dropped: usize,
    /// Concerts whose step failed or lost a race; the next tick retries them.
    pub deferred: usize,
    /// Who was admitted and who was dropped, for metrics and the on-sale simulator.
    pub admitted_tokens: Vec<QueueToken>,
    pub dropped_tokens: Vec<QueueToken>,
}

impl Ticketing {
    /// One tick over every concert.
    #[instrument(skip(self))]
    pub async fn admit_waiting(&self) -> Result<AdmissionReport, BookingError> {
        let mut report = AdmissionReport::default();
        for concert in self.store.concerts().await? {
            report.concerts += 1;
            match self.admission_step(&concert.concert_id).await {
                Ok(Some((admitted, dropped))) => {
                    report.admitted += admitted.len();
                    report.dropped += dropped.len();
                    report.admitted_tokens.extend(admitted);
                    report.dropped_tokens.extend(dropped);
                }
                Ok(None) => report.deferred += 1,
                Err(error) => {
                    warn!(concert = %concert.concert_id, %error, "admission step failed");
                    report.deferred += 1;
                }
            }
        }
        Ok(report)
    }

    /// One tick for one concert: `(admitted, dropped)`, or `None` when another tick moved the
    /// queue first. Never lets more than `max_active` tokens be active at once.
    pub async fn admit_concert(
        &self,
        concert: &ConcertId,
    ) -> Result<Option<(usize, usize)>, BookingError> {
        let step = self.admission_step(concert).await?;
        Ok(step.map(|(admitted, dropped)| (admitted.len(), dropped.len())))
    }

    /// One tick for one concert: the tokens admitted and dropped.
    async fn admission_step(
        &self,
        concert: &ConcertId,
    ) -> Result<Option<(Vec<QueueToken>, Vec<QueueToken>)>, BookingError> {
        let now = self.now().epoch_seconds();
        let queue = self.store.queue_state(concert).await?;
        if queue.cursor >= queue.issued {
            return Ok(Some(Default::default()));
        }

        // Who is still active: admitted by a tick, not yet ended, not spent by a payment.
        let tracked: Vec<QueueToken> = self
            .store
            .active_set(concert)
            .await?
            .active
            .iter()
            .filter(|(_, until)| **until > now)
            .filter_map(|(token, _)| QueueToken::parse(token).ok())
            .collect();
        let mut active_set = ActiveSetRecord::default();
        for record in self.store.tokens(&tracked).await? {
            if let (TokenStatus::Active, Some(until)) = (record.status, record.active_until) {
                if until > now {
                    active_set.active.insert(record.token.to_string(), until);
                }
            }
        }
        let free = (self.settings.max_active as usize).saturating_sub(active_set.active.len());
        let slots = free.min(self.settings.admit_per_tick as usize);
        if slots == 0 {
            return Ok(Some(Default::default()));
        }

        let entries = self
            .store
            .queue_entries(concert, queue.cursor, MAX_PLAN_ITEMS)
            .await?;
        let queued: Vec<QueueToken> = entries.iter().filter_map(|e| e.token.clone()).collect();
        let records: HashMap<QueueToken, _> = self
            .store
            .tokens(&queued)
            .await?
            .into_iter()
            .map(|r| (r.token.clone(), r))
            .collect();

        let active_until = now + self.settings.active_seconds;
        let mut plan = AdmissionPlan {
            concert_id: concert.clone(),
            expected_cursor: queue.cursor,
            new_cursor: queue.cursor,
            admitted: Vec::new(),
            active_until,
            dropped: Vec::new(),
            holes: Vec::new(),
            active_set: ActiveSetRecord::default(),
        };
        for entry in entries {
            let planned = plan.admitted.len() + plan.dropped.len() + plan.holes.len();
            let holes_before = entry.seq - plan.new_cursor - 1;
            if plan.admitted.len() == slots || planned + holes_before as usize >= MAX_PLAN_ITEMS {
                break;
            }
            // A number with no entry belongs to a join that died before writing it; later
            // numbers exist, so it is skipped, on condition that it is still absent.
            plan.holes.extend(plan.new_cursor + 1..entry.seq);
            let record = entry.token.as_ref().and_then(|t| records.get(t));
            match record {
                Some(r) if r.status == TokenStatus::Waiting => {
                    if now - r.last_seen_at > self.settings.waiting_idle_seconds {
                        plan.dropped.push((r.token.clone(), r.last_seen_at));
                    } else {
                        plan.admitted.push(r.token.clone());
                        active_set.active.insert(r.token.to_string(), active_until);
                    }
                }
                // A voided number, or a token already handled: nothing to do but pass it.
                _ => {}
            }
            plan.new_cursor = entry.seq;
        }
        if plan.new_cursor == queue.cursor {
            return Ok(Some(Default::default()));
        }
        plan.active_set = active_set;
        match self.store.commit_admission(&plan).await? {
            CommitOutcome::Committed => {
                let dropped = plan.dropped.into_iter().map(|(token, _)| token).collect();
                Ok(Some((plan.admitted, dropped)))
            }
            CommitOutcome::Refused | CommitOutcome::ClaimLost => Ok(None),
        }
    }
}
