//! The invariants money and seats must keep, checked over a whole inventory: no seat sold twice,
//! every sold seat paid once and confirmed once, no fan holding more seats of a concert than
//! its ticket limit, every concert listed once and as its record says, every balance the sum of
//! its entries and never negative, every date's ledger counting exactly the seats its blocks
//! sold. The simulator runs it at the end of an on-sale; tests run it after races.

use std::collections::{BTreeMap, HashMap};

use crate::domain::{ConcertDate, ConcertId, SeatNumber, UserId, Won};
use crate::store::{ConcertListingRecord, EntryKind, Inventory, StoredReservationStatus};

type SeatKey = (ConcertId, ConcertDate, SeatNumber);

fn seat_key(concert: &ConcertId, date: ConcertDate, seat: SeatNumber) -> SeatKey {
    (concert.clone(), date, seat)
}

/// Every broken rule, in words; empty when all hold.
pub fn audit(inventory: &Inventory) -> Vec<String> {
    let mut violations = Vec::new();

    let mut payments: HashMap<SeatKey, usize> = HashMap::new();
    for p in &inventory.payments {
        for seat in &p.seat_numbers {
            *payments
                .entry(seat_key(&p.concert_id, p.date, *seat))
                .or_default() += 1;
        }
    }
    let mut confirmed: HashMap<SeatKey, usize> = HashMap::new();
    // Seats each fan bought of each concert.
    let mut bought: HashMap<(&UserId, &ConcertId), u32> = HashMap::new();
    for r in &inventory.reservations {
        if r.status == StoredReservationStatus::Confirmed {
            for seat in &r.seats {
                *confirmed
                    .entry(seat_key(&r.concert_id, r.date, seat.seat_number))
                    .or_default() += 1;
            }
            *bought.entry((&r.user_id, &r.concert_id)).or_default() += r.seats.len() as u32;
        }
    }
    for concert in &inventory.concerts {
        let limit = concert.max_tickets_per_fan.get();
        for ((user, _), n) in bought
            .iter()
            .filter(|((_, c), _)| **c == concert.concert_id)
        {
            if *n > limit {
                violations.push(format!(
                    "{user} bought {n} seats of {}, over its limit of {limit}",
                    concert.concert_id
                ));
            }
        }
    }
    // The listing `GET /concerts` reads is written and changed with its record, never apart.
    let mut listings: HashMap<&ConcertId, Vec<&ConcertListingRecord>> = HashMap::new();
    for listing in &inventory.listings {
        listings
            .entry(&listing.concert_id)
            .or_default()
            .push(listing);
    }
    for concert in &inventory.concerts {
        let expected = ConcertListingRecord::of(concert);
        match listings.remove(&concert.concert_id).as_deref() {
            Some([listing]) if **listing == expected => {}
            found => violations.push(format!(
                "{}: its listing is {found:?}, its record says {expected:?}",
                concert.concert_id
            )),
        }
    }
    for concert in listings.keys() {
        violations.push(format!("{concert} is listed but has no concert"));
    }
    let mut ledger_sold: HashMap<(&ConcertId, ConcertDate), i64> = HashMap::new();
    for (concert, date, _, ledger) in &inventory.ledgers {
        *ledger_sold.entry((concert, *date)).or_default() += ledger.sold;
    }
    for (concert, date, taken) in &inventory.seats {
        let counted = ledger_sold.remove(&(concert, *date)).unwrap_or(0);
        if counted != taken.sold.len() as i64 {
            violations.push(format!(
                "{concert} {date}: the ledger counts {counted} seats sold, the blocks {}",
                taken.sold.len()
            ));
        }
        let Some(record) = inventory.concerts.iter().find(|c| &c.concert_id == concert) else {
            violations.push(format!("{concert} has seats but no concert"));
            continue;
        };
        for seat in record.seats().map(|(seat, _)| seat) {
            let key = seat_key(concert, *date, seat);
            let (paid, held) = (
                payments.remove(&key).unwrap_or(0),
                confirmed.remove(&key).unwrap_or(0),
            );
            let name = format!("{concert} {date} seat {}", seat.get());
            if taken.is_sold(seat) && (paid != 1 || held != 1) {
                violations.push(format!(
                    "{name} is sold with {paid} payments and {held} confirmed reservations"
                ));
            }
            if !taken.is_sold(seat) && (paid > 0 || held > 0) {
                violations.push(format!(
                    "{name} is unsold yet has {paid} payments and {held} confirmed reservations"
                ));
            }
        }
    }
    for ((concert, date), counted) in ledger_sold {
        if counted != 0 {
            violations.push(format!(
                "{concert} {date}: the ledger counts {counted} seats sold, no block any"
            ));
        }
    }
    for ((c, d, s), n) in payments {
        violations.push(format!(
            "{n} payments for {c} {d} seat {}, which does not exist",
            s.get()
        ));
    }

    let mut entries: BTreeMap<&UserId, Vec<_>> = BTreeMap::new();
    for (user, entry) in &inventory.entries {
        entries.entry(user).or_default().push(entry);
    }
    for (user, balance) in &inventory.balances {
        let mut running = 0i64;
        let mut list = entries.remove(user).unwrap_or_default();
        list.sort_by_key(|e| e.version);
        for e in &list {
            running += match e.kind {
                EntryKind::Charge | EntryKind::TopUp => e.amount.get(),
                EntryKind::Payment => -e.amount.get(),
            };
            if running < 0 || Won::new(running) != Some(e.balance_after) {
                violations.push(format!(
                    "{user}: entry {} leaves {} but the entries sum to {running}",
                    e.version,
                    e.balance_after.get()
                ));
            }
        }
        if balance.amount.get() != running || balance.version != list.len() as u64 {
            violations.push(format!(
                "{user}: balance {} at version {} but {} entries sum to {running}",
                balance.amount.get(),
                balance.version,
                list.len()
            ));
        }
    }
    for (user, list) in entries {
        violations.push(format!("{user} has {} entries and no balance", list.len()));
    }
    violations
}
