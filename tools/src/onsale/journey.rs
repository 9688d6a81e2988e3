//! A fan's journey, one request at a time: what the fan sends next (an operation of the world's
//! executor, on a container of the function it calls) and what it does with the answer, as a
//! careful client: a 503 is sent again a second later, a token that ended ends the visit. A fan
//! orders its party's seats at once, picked from the chart or by best available. On a date of
//! more than `LIST_WHOLE_DATE_UP_TO` seats, listed a section at a time, a fan who picks seats
//! lists the date's sections first, picks one at random among those with room for its party
//! (another date when none has), lists that section and picks from it (scrolling on to its next
//! page while a page of 1,000 has no room for the party); best available names
//! no section. A fan who picks seats and finds no section of a date with room for its party
//! together, but some with fewer, settles for the most one has. A bot joins again every second instead of polling, lists seats with made-up
//! tokens while it waits (a random section's, on such a date), and once admitted holds all
//! the limit allows, lets the holds lapse and holds again; a spinning bot instead keeps each
//! hold a few seconds, releases it and holds again, until told `429 TOO_MANY_HOLDS`. A lapse
//! payer orders all the limit allows, and once topped up, waits for its hold's last seconds
//! and then sends the payment and a new hold of a seat at once (the race the ticket limit must
//! survive); it pays for whichever order it is left with. A `429 TOO_MANY_HOLDS` ends a visit: the session may hold
//! no more.

use std::cell::RefCell;
use std::rc::Rc;

use ticketing::booking::{
    Balance, DatesOnSale, HoldRequest, Payment, QueueStatus, QueueTicket, Reservation, SeatChart,
    SeatChoice, SeatCursor, SeatPage, SeatStatus, SectionMap,
};
use ticketing::domain::{
    ChargeAmount, ConcertDate, IdempotencyKey, QueueToken, ReservationId, SeatNumber, Won,
};
use ticketing::store::{QueueStore, ReservationStore, StoreError, TicketStatus};
use ticketing::BookingError;

use super::truth::Standing;
use super::world::Operation;
use super::{fan_id, Outcome, Sim, SIMULATED_TICKET_LIMIT, START};

/// How long a spinning bot keeps a hold before it lets it go and holds again, in seconds.
const SPIN_KEEP_SECONDS: std::ops::RangeInclusive<u64> = 10..=30;

/// Where an operation leaves what it got.
pub(super) type Slot<T> = Rc<RefCell<Option<T>>>;

pub(super) fn slot<T>() -> Slot<T> {
    Rc::new(RefCell::new(None))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Step {
    Arrive,
    Poll,
    Dates,
    Seats,
    Hold,
    Charge,
    Pay,
    /// A bot's seat listing with a made-up token.
    Hammer,
    /// A date's sections, on a date listed a section at a time.
    Sections,
    /// A spinning bot lets its hold go.
    Release,
    /// A lapse payer holds the limit again while its payment goes.
    Rehold,
}

/// What an admitted fan is doing.
#[derive(Debug, Default)]
pub(super) struct Basket {
    date: Option<ConcertDate>,
    /// The section picked, on a date listed a section at a time.
    section: Option<String>,
    /// Dates whose sections had no room for the party, since the fan last found all full.
    full_dates: Vec<ConcertDate>,
    /// Seats the last chart showed free, in seat order.
    candidates: Vec<SeatNumber>,
    /// The section and the cursor of its page to list next, once a page of it had no room for
    /// the party: the fan scrolls on through a section of more than one page.
    page: Option<(String, SeatCursor)>,
    /// The order held, and its total; and its `heldUntil` (epoch seconds).
    held: Option<(ReservationId, Won)>,
    held_until: i64,
    /// A lapse payer raced its hold's lapse already.
    raced: bool,
    /// Bumped by each answer that settles a charge or a payment: a retry after an error or a
    /// lost answer sends the same Idempotency-Key, as docs/api.md's retry rules say.
    charges: u32,
    payments: u32,
}

/// What the service answered a fan.
pub(super) enum Answer {
    Joined(Result<(QueueTicket, bool), BookingError>),
    Polled(Result<QueueTicket, BookingError>),
    Dates(Result<DatesOnSale, BookingError>),
    Seats(Result<SeatChart, BookingError>),
    Sections(Result<SectionMap, BookingError>),
    Held(Result<(Reservation, bool), BookingError>),
    /// What a bot's made-up token got (nothing it does depends on it).
    Hammered,
    Charged(Result<Balance, BookingError>),
    Paid(Result<Payment, BookingError>),
    Released(ReservationId, Result<(), BookingError>),
    /// A lapse payer's second hold.
    Reheld(Result<(Reservation, bool), BookingError>),
}

impl Sim<'_> {
    fn call(&mut self, function: &'static str) {
        self.traffic.api += 1;
        *self.traffic.by_endpoint.entry(function).or_default() += 1;
    }

    fn gives_up(&mut self, fan: u32) -> bool {
        if self.rng.f64() < self.options.abandon_rate {
            self.fans[fan as usize].outcome = Outcome::GaveUp;
            return true;
        }
        false
    }

    /// The request `fan` sends for `step` in `second`, as an operation, and where its answer
    /// lands: `None` when it sends nothing now (it gave up, or goes back a step).
    pub(super) fn request(
        &mut self,
        second: u64,
        fan: u32,
        step: Step,
    ) -> Option<(Operation, Slot<Answer>)> {
        let user = fan_id(fan);
        let concert = self.concert.clone();
        let token = self.fans[fan as usize].token.clone();
        let answer = slot();
        let out = answer.clone();
        let operation: Operation = match step {
            Step::Arrive => {
                self.call("join-queue");
                self.traffic.joins += 1;
                let c = self.fleet.container("join-queue", second).clone();
                Box::pin(async move {
                    let joined = c.join_queue(&user, &concert).await;
                    out.replace(Some(Answer::Joined(joined)));
                })
            }
            Step::Poll if self.fans[fan as usize].bot => {
                // A bot joins again rather than polls: the same token, and its status.
                self.call("join-queue");
                self.buying.bot_requests += 1;
                let c = self.fleet.container("join-queue", second).clone();
                Box::pin(async move {
                    let joined = c.join_queue(&user, &concert).await;
                    out.replace(Some(Answer::Polled(joined.map(|(ticket, _)| ticket))));
                })
            }
            Step::Poll => {
                if self.gives_up(fan) {
                    return None;
                }
                self.call("queue-status");
                self.traffic.polls += 1;
                let c = self.fleet.container("queue-status", second).clone();
                Box::pin(async move {
                    let polled = c.queue_status(&user, token.as_ref()).await;
                    out.replace(Some(Answer::Polled(polled)));
                })
            }
            Step::Hammer => {
                if self.fans[fan as usize].outcome != Outcome::Waiting {
                    return None;
                }
                self.call("list-seats");
                self.buying.bot_requests += 1;
                let made_up = QueueToken::new(concert.clone(), START + second as i64);
                let date = self.dates[self.rng.usize(..self.dates.len())];
                let section = self
                    .by_section
                    .then(|| self.sections[self.rng.usize(..self.sections.len())].clone());
                let c = self.fleet.container("list-seats", second).clone();
                self.schedule(second + 1, fan, Step::Hammer);
                Box::pin(async move {
                    let _ = match section {
                        Some(section) => {
                            c.section_chart(&user, Some(&made_up), &concert, date, &section)
                                .await
                        }
                        None => c.seat_chart(&user, Some(&made_up), &concert, date).await,
                    };
                    out.replace(Some(Answer::Hammered));
                })
            }
            Step::Rehold => {
                let date = self.basket(fan).and_then(|b| b.date)?;
                self.call("hold-seat");
                self.holdings.figures.lapse_races += 1;
                // The fewest seats that, beside the order being paid, break the limit.
                let party = self.fans[fan as usize].party.min(SIMULATED_TICKET_LIMIT);
                let request = HoldRequest {
                    concert_id: concert,
                    date,
                    seats: SeatChoice::BestAvailable(SIMULATED_TICKET_LIMIT - party + 1),
                };
                let c = self.fleet.container("hold-seat", second).clone();
                Box::pin(async move {
                    let held = c.hold_seats(&user, token.as_ref(), &request, None).await;
                    out.replace(Some(Answer::Reheld(held)));
                })
            }
            // A fan who walks away from checkout leaves the fan page, which releases the order
            // it holds as it goes.
            _ if self.gives_up(fan) => {
                if !self.leaves_releasing(second, fan) {
                    return None;
                }
                self.holdings.figures.released_on_leaving += 1;
                self.release(second, fan, out)?
            }
            Step::Release => self.release(second, fan, out)?,
            Step::Dates => {
                self.call("list-dates");
                let c = self.fleet.container("list-dates", second).clone();
                Box::pin(async move {
                    let dates = c.dates_on_sale(&user, token.as_ref(), &concert).await;
                    out.replace(Some(Answer::Dates(dates)));
                })
            }
            Step::Sections => {
                let Some(date) = self.basket(fan).and_then(|b| b.date) else {
                    self.schedule(second + 1, fan, Step::Dates);
                    return None;
                };
                self.call("list-sections");
                let c = self.fleet.container("list-sections", second).clone();
                Box::pin(async move {
                    let map = c.date_sections(&user, token.as_ref(), &concert, date).await;
                    out.replace(Some(Answer::Sections(map)));
                })
            }
            Step::Seats => {
                let Some(date) = self.basket(fan).and_then(|b| b.date) else {
                    self.schedule(second + 1, fan, Step::Dates);
                    return None;
                };
                let section = if self.by_section {
                    // Listed a section at a time: best available lists nothing; a fan who
                    // picks lists its section, once it has picked one.
                    if !self.picks_seats(fan) {
                        self.schedule(second + 1, fan, Step::Hold);
                        return None;
                    }
                    let Some(section) = self.basket(fan).and_then(|b| b.section.clone()) else {
                        self.schedule(second + 1, fan, Step::Sections);
                        return None;
                    };
                    Some(section)
                } else {
                    None
                };
                let cursor = self
                    .basket(fan)
                    .and_then(|b| b.page.clone())
                    .filter(|(of, _)| section.as_ref() == Some(of))
                    .map(|(_, cursor)| cursor);
                let page = SeatPage {
                    cursor,
                    ..SeatPage::FIRST
                };
                self.call("list-seats");
                let c = self.fleet.container("list-seats", second).clone();
                Box::pin(async move {
                    let chart = c
                        .seat_listing(
                            &user,
                            token.as_ref(),
                            &concert,
                            date,
                            section.as_deref(),
                            page,
                        )
                        .await;
                    out.replace(Some(Answer::Seats(chart)));
                })
            }
            Step::Hold => {
                let (party, best_available, bot) = {
                    let f = &self.fans[fan as usize];
                    (f.party, f.best_available, f.bot)
                };
                let basket = self.fans[fan as usize].basket.as_mut()?;
                let Some(date) = basket.date else {
                    self.schedule(second + 1, fan, Step::Dates);
                    return None;
                };
                let seats = if bot {
                    // All the limit allows, whatever is free.
                    SeatChoice::BestAvailable(SIMULATED_TICKET_LIMIT)
                } else if best_available {
                    SeatChoice::BestAvailable(party)
                } else {
                    let n = party as usize;
                    if basket.candidates.len() < n {
                        self.schedule(second + 1, fan, Step::Seats);
                        return None;
                    }
                    // Adjacent seats from a random place in the chart, as a fan would pick.
                    let start = self.rng.usize(..=basket.candidates.len() - n);
                    SeatChoice::Seats(basket.candidates.drain(start..start + n).collect())
                };
                self.call("hold-seat");
                if bot {
                    self.buying.bot_requests += 1;
                }
                let request = HoldRequest {
                    concert_id: concert,
                    date,
                    seats,
                };
                let c = self.fleet.container("hold-seat", second).clone();
                Box::pin(async move {
                    let held = c.hold_seats(&user, token.as_ref(), &request, None).await;
                    out.replace(Some(Answer::Held(held)));
                })
            }
            Step::Charge => {
                let Some((_, price)) = self.basket(fan).and_then(|b| b.held) else {
                    self.schedule(second + 1, fan, Step::Seats);
                    return None;
                };
                let charges = self.basket(fan).map_or(0, |b| b.charges);
                let (Ok(key), Ok(amount)) = (
                    IdempotencyKey::parse(&format!("charge-{fan}-{charges}")),
                    ChargeAmount::parse(price.get()),
                ) else {
                    return None;
                };
                self.call("charge-balance");
                let c = self.fleet.container("charge-balance", second).clone();
                Box::pin(async move {
                    let charged = c.charge(&user, amount, Some(&key)).await;
                    out.replace(Some(Answer::Charged(charged)));
                })
            }
            Step::Pay => {
                let (held, payments) = {
                    let basket = self.basket(fan)?;
                    (basket.held, basket.payments)
                };
                let Some((reservation, _)) = held else {
                    self.schedule(second + 1, fan, Step::Seats);
                    return None;
                };
                let key = IdempotencyKey::parse(&format!("pay-{fan}-{payments}")).ok()?;
                self.call("pay");
                let c = self.fleet.container("pay", second).clone();
                Box::pin(async move {
                    let paid = c.pay(&user, token.as_ref(), reservation, Some(&key)).await;
                    out.replace(Some(Answer::Paid(paid)));
                })
            }
        };
        Some((operation, answer))
    }

    /// `DELETE /reservations/{id}` for the order `fan` holds.
    fn release(&mut self, second: u64, fan: u32, out: Slot<Answer>) -> Option<Operation> {
        let (reservation, _) = self.basket(fan).and_then(|b| b.held)?;
        self.releasing += u64::from(
            self.holdings
                .seats(fan, reservation)
                .unwrap_or(SIMULATED_TICKET_LIMIT),
        );
        self.call("release-reservation");
        self.buying.bot_requests += u64::from(self.fans[fan as usize].bot);
        let user = fan_id(fan);
        let c = self.fleet.container("release-reservation", second).clone();
        Some(Box::pin(async move {
            let released = c.release_reservation(&user, reservation).await;
            out.replace(Some(Answer::Released(reservation, released)));
        }))
    }

    /// A fan who just gave up holds a live order, and its page sends the release as it goes
    /// (`--leaving-releases`: a page that dies silently sends nothing). A bot's script just
    /// stops.
    fn leaves_releasing(&mut self, second: u64, fan: u32) -> bool {
        let f = &self.fans[fan as usize];
        let holds = !f.bot
            && f.basket
                .as_ref()
                .is_some_and(|b| b.held.is_some() && b.held_until > START + second as i64);
        holds && self.rng.f64() < self.options.leaving_releases
    }

    fn basket(&self, fan: u32) -> Option<&Basket> {
        self.fans[fan as usize].basket.as_deref()
    }

    /// The fan picks its seats from a chart (neither best available nor a bot).
    fn picks_seats(&self, fan: u32) -> bool {
        let f = &self.fans[fan as usize];
        !f.bot && !f.best_available
    }

    /// What `fan` does with the answer to its `step` of `second`.
    pub(super) async fn answered(&mut self, second: u64, fan: u32, step: Step, answer: Answer) {
        match answer {
            Answer::Joined(joined) => self.joined(second, fan, joined).await,
            Answer::Polled(polled) => self.polled(second, fan, polled),
            Answer::Dates(listed) => match listed {
                Ok(list) => {
                    let full = self
                        .basket(fan)
                        .map(|b| b.full_dates.clone())
                        .unwrap_or_default();
                    let open: Vec<ConcertDate> = list
                        .dates
                        .iter()
                        .filter(|d| d.remaining_seats > 0 && !full.contains(&d.date))
                        .map(|d| d.date)
                        .collect();
                    // The last few seats: a party no date has room for any more settles for
                    // what is left, as fans do, rather than wait for seats that will not come.
                    let most = list
                        .dates
                        .iter()
                        .map(|d| d.remaining_seats)
                        .max()
                        .unwrap_or(0);
                    self.settle_for(fan, most);
                    if open.is_empty() {
                        if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                            // Every date tried had no room: start over, later.
                            basket.full_dates.clear();
                        }
                        // Sold out, or every seat held: look again later unless all are sold.
                        if self.sold >= self.seats {
                            self.fans[fan as usize].outcome = Outcome::GaveUp;
                        } else {
                            self.schedule(second + 10, fan, Step::Dates);
                        }
                        return;
                    }
                    let date = open[self.rng.usize(..open.len())];
                    if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                        basket.date = Some(date);
                        basket.section = None;
                    }
                    let think = self.rng.u64(1..=2);
                    let next = match (self.by_section, self.picks_seats(fan)) {
                        (false, _) => Step::Seats,
                        (true, true) => Step::Sections,
                        (true, false) => Step::Hold,
                    };
                    self.schedule(second + think, fan, next);
                }
                Err(error) => self.shopping_failed(second, fan, step, &error),
            },
            Answer::Sections(listed) => match listed {
                Ok(map) => {
                    // The last seats scattered one here, two there: a party no section has room
                    // for together, while some have fewer, settles for the most one has, as
                    // fans at a real on-sale take the seats apart.
                    let most = map.sections.iter().map(|s| s.free_seats).max().unwrap_or(0);
                    if self.settle_for(fan, most) {
                        self.buying.parties_settled += 1;
                    }
                    // A section with room for the party, at random among them: the crowd
                    // spreads.
                    let party = self.fans[fan as usize].party;
                    let open: Vec<&String> = map
                        .sections
                        .iter()
                        .filter(|s| s.free_seats >= party)
                        .filter_map(|s| s.section.as_ref())
                        .collect();
                    let section =
                        (!open.is_empty()).then(|| open[self.rng.usize(..open.len())].clone());
                    let Some(basket) = self.fans[fan as usize].basket.as_mut() else {
                        return;
                    };
                    match section {
                        Some(section) => {
                            basket.section = Some(section);
                            let think = self.rng.u64(1..=2);
                            self.schedule(second + think, fan, Step::Seats);
                        }
                        None => {
                            // No room on this date: another.
                            basket.section = None;
                            basket.full_dates.extend(basket.date);
                            self.schedule(second + 1, fan, Step::Dates);
                        }
                    }
                }
                Err(error) => self.shopping_failed(second, fan, step, &error),
            },
            Answer::Seats(chart) => match chart {
                Ok(chart) => {
                    let free: Vec<SeatNumber> = chart
                        .seats
                        .iter()
                        .filter(|s| s.status == SeatStatus::Available)
                        .map(|s| s.seat_number)
                        .collect();
                    if self.by_section {
                        // This page of its section has no room for the party now: the next
                        // page, or another section after the last.
                        let party = self.fans[fan as usize].party as usize;
                        if free.len() < party {
                            let next = chart
                                .next_cursor
                                .as_deref()
                                .and_then(|c| SeatCursor::parse(c).ok());
                            if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                                match (next, basket.section.clone()) {
                                    (Some(cursor), Some(section)) => {
                                        basket.page = Some((section, cursor));
                                        return self.schedule(second + 1, fan, Step::Seats);
                                    }
                                    _ => {
                                        basket.section = None;
                                        basket.page = None;
                                    }
                                }
                            }
                            return self.schedule(second + 1, fan, Step::Sections);
                        }
                    } else if free.is_empty() {
                        return self.schedule(second + 5, fan, Step::Dates);
                    }
                    if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                        basket.candidates = free;
                    }
                    let think = self.rng.u64(1..=2);
                    self.schedule(second + think, fan, Step::Hold);
                }
                Err(error) => self.shopping_failed(second, fan, step, &error),
            },
            Answer::Held(held) => self.held(second, fan, held).await,
            Answer::Hammered => {}
            Answer::Charged(charged) => match charged {
                Ok(_) => {
                    if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                        basket.charges += 1;
                    }
                    match self.lapse_second(second, fan) {
                        Some(at) => {
                            self.fans[fan as usize].racing = true;
                            self.schedule(at, fan, Step::Pay);
                            self.schedule(at, fan, Step::Rehold);
                        }
                        None => self.schedule(second + 1, fan, Step::Pay),
                    }
                }
                Err(error) => self.shopping_failed(second, fan, step, &error),
            },
            Answer::Paid(paid) => match paid {
                Ok(payment) => {
                    let seats = payment.seat_numbers.len() as u32;
                    self.holdings
                        .paid(fan, second, payment.reservation_id, seats);
                    let f = &mut self.fans[fan as usize];
                    if f.racing {
                        self.holdings.figures.lapse_race_payments += 1;
                    }
                    f.outcome = Outcome::Bought;
                    f.basket = None;
                }
                Err(BookingError::ReservationExpired | BookingError::ReservationReleased) => {
                    self.settled_payment(fan);
                    // Racing, the new hold's answer comes next: pay for whatever it holds
                    // then.
                    let next = if self.fans[fan as usize].racing {
                        Step::Pay
                    } else {
                        Step::Seats
                    };
                    self.schedule(second + 1, fan, next)
                }
                Err(BookingError::InsufficientBalance) => {
                    self.settled_payment(fan);
                    self.schedule(second + 1, fan, Step::Charge)
                }
                Err(error) => self.shopping_failed(second, fan, step, &error),
            },
            Answer::Released(reservation, released) => {
                if released.is_ok() {
                    self.holdings.released(fan, second, reservation);
                }
                // The page of a fan who left sent its release once, and nobody reads the answer.
                if self.fans[fan as usize].outcome == Outcome::GaveUp {
                    return;
                }
                match released {
                    Ok(()) | Err(BookingError::ReservationExpired) => {
                        if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                            basket.held = None;
                        }
                        self.schedule(second + 1, fan, Step::Hold)
                    }
                    Err(error) => self.shopping_failed(second, fan, step, &error),
                }
            }
            Answer::Reheld(held) => {
                let bot = self.fans[fan as usize].bot;
                self.fans[fan as usize].racing = false;
                match held {
                    Ok((reservation, _)) => {
                        self.holdings.figures.lapse_race_holds += 1;
                        self.holds_answered(second, fan, bot, &reservation);
                        // Unless it bought the first order, it pays for this one.
                        if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                            basket.held = Some((reservation.reservation_id, reservation.price));
                            basket.held_until = reservation.held_until.epoch_seconds();
                        }
                    }
                    Err(BookingError::TooManyHolds { .. }) => self.too_many_holds(bot),
                    Err(_) => {}
                }
            }
        }
    }

    /// For a lapse payer holding an order it has not raced yet: the second to pay in, its
    /// hold's last by true time, or one of the seconds around it that the clocks' skew blurs
    /// (a clock ahead may see the hold lapsed while one behind sees it live, from as much as
    /// the skew before its `heldUntil` to its `heldUntil` itself).
    fn lapse_second(&mut self, second: u64, fan: u32) -> Option<u64> {
        if !self.fans[fan as usize].lapse_payer {
            return None;
        }
        let skew = self.options.clock_skew;
        let back = if skew == 0 { 1 } else { self.rng.u64(..=skew) };
        let basket = self.fans[fan as usize].basket.as_mut()?;
        if basket.raced || basket.held.is_none() {
            return None;
        }
        basket.raced = true;
        let at = basket.held_until - back as i64 - START;
        Some((at.max(0) as u64).max(second + 1))
    }

    /// A hold the service answered `201` (or `200`, holding it already), in the simulator's
    /// account of what the fan owns.
    fn holds_answered(&mut self, second: u64, fan: u32, bot: bool, reservation: &Reservation) {
        self.holdings.held(
            fan,
            bot,
            second,
            reservation.reservation_id,
            reservation.seat_numbers.len() as u32,
            reservation.held_until.epoch_seconds(),
        );
    }

    /// A fan's party shrinks to `most` seats when that is all there is room for (and some):
    /// whether it did. A bot asks for what its script asks.
    fn settle_for(&mut self, fan: u32, most: u32) -> bool {
        let f = &mut self.fans[fan as usize];
        let settles = !f.bot && most > 0 && most < f.party;
        if settles {
            f.party = most;
        }
        settles
    }

    /// `429 TOO_MANY_HOLDS`: the session may hold no more, so the visit ends.
    fn too_many_holds(&mut self, bot: bool) {
        let f = &mut self.holdings.figures;
        f.too_many_holds += 1;
        if !bot {
            f.too_many_holds_to_fans += 1;
        }
    }

    async fn held(
        &mut self,
        second: u64,
        fan: u32,
        held: Result<(Reservation, bool), BookingError>,
    ) {
        let (bot, picked) = {
            let f = &self.fans[fan as usize];
            (f.bot, !f.bot && !f.best_available)
        };
        match held {
            Ok((reservation, _)) => {
                self.holds_answered(second, fan, bot, &reservation);
                self.buying.holds += 1;
                if picked {
                    self.buying.picked_holds += 1;
                } else {
                    self.buying.best_available_holds += 1;
                }
                if let Ok(tally) = self
                    .memory
                    .inner()
                    .fan_tally(&fan_id(fan), &self.concert)
                    .await
                {
                    let now = self.clock_now();
                    let seats = tally.held(now) + tally.bought;
                    self.buying.seats_per_fan_max = self.buying.seats_per_fan_max.max(seats);
                }
                if self.fans[fan as usize].spinner {
                    // Keeps the seats from fans a while, then lets them go and holds again.
                    if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                        basket.held = Some((reservation.reservation_id, reservation.price));
                    }
                    let keep = self.rng.u64(SPIN_KEEP_SECONDS);
                    return self.schedule(second + keep, fan, Step::Release);
                }
                if bot {
                    // Never pays; asks for more at once, as a scalper's script would.
                    return self.schedule(second + 1, fan, Step::Hold);
                }
                if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
                    basket.held = Some((reservation.reservation_id, reservation.price));
                    basket.held_until = reservation.held_until.epoch_seconds();
                }
                let think = self.rng.u64(1..=2);
                self.schedule(second + think, fan, Step::Charge);
            }
            Err(BookingError::TicketLimitReached { .. }) => {
                self.buying.tickets_limit_refusals += 1;
                if bot {
                    // Holds lapse in five minutes; it tries again well before.
                    self.schedule(second + 30, fan, Step::Hold);
                } else {
                    self.fans[fan as usize].outcome = Outcome::GaveUp;
                }
            }
            Err(BookingError::TooManyHolds { .. }) => {
                self.too_many_holds(bot);
                self.fans[fan as usize].outcome = Outcome::GaveUp;
            }
            // A seat of a picked order was taken: look at the chart again and pick again.
            Err(BookingError::SeatUnavailable(seats)) if !seats.is_empty() => {
                self.buying.picked_conflicts += 1;
                self.schedule(second + 1, fan, Step::Seats)
            }
            // Fewer seats free than asked: another date.
            Err(BookingError::SeatUnavailable(_)) => {
                self.buying.holds_refused_no_room += 1;
                // Listed a section at a time, best available stands for the chart it did not
                // list: no room is an empty chart, looked at again as late.
                let later = if self.by_section { 5 } else { 1 };
                self.schedule(second + later, fan, Step::Dates)
            }
            Err(error) => {
                if matches!(
                    error,
                    BookingError::Contention | BookingError::Store(StoreError::Contention(_))
                ) {
                    self.buying.holds_busy += 1;
                }
                self.shopping_failed(second, fan, Step::Hold, &error)
            }
        }
    }

    async fn joined(
        &mut self,
        second: u64,
        fan: u32,
        joined: Result<(QueueTicket, bool), BookingError>,
    ) {
        // Whatever the fan was told, its ticket may be stored (an answer lost after the join
        // went through): the truth follows the store.
        self.register(second, fan).await;
        match joined {
            Ok((ticket, _)) => {
                self.fans[fan as usize].token = Some(ticket.token.clone());
                self.told(fan, &ticket);
                let next = ticket.poll_after_seconds.max(1);
                self.schedule(second + next, fan, Step::Poll);
            }
            Err(BookingError::SoldOut) => {
                self.fans[fan as usize].outcome = Outcome::SoldOut;
                self.sold_out.joins_refused += 1;
            }
            Err(_) => self.schedule(second + 1, fan, Step::Arrive),
        }
    }

    /// Takes a fan's stored ticket into the truth, once: its place, and when it came.
    async fn register(&mut self, second: u64, fan: u32) {
        if self.fans[fan as usize].standing.is_some() {
            return;
        }
        let Ok(Some(ticket)) = self
            .memory
            .inner()
            .ticket(&fan_id(fan), &self.concert)
            .await
        else {
            return;
        };
        if !matches!(ticket.status, TicketStatus::Waiting | TicketStatus::Active) {
            return;
        }
        let place = ticket.place();
        let standing = if self.sale_opens.is_some_and(|opens| place.second < opens) {
            Standing::PreQueue(None)
        } else {
            Standing::FirstCome(place)
        };
        let f = &mut self.fans[fan as usize];
        f.standing = Some(standing);
        f.queued = true;
        f.joined = second;
        self.truth.joined(standing, second);
    }

    /// A position the fan was told, to be judged once the second is over.
    fn told(&mut self, fan: u32, ticket: &QueueTicket) {
        if let (QueueStatus::Waiting, Some(position)) = (ticket.status, ticket.position) {
            // The truth has not learned this second's admissions yet: this is its start.
            let at_start = self.fans[fan as usize]
                .standing
                .and_then(|s| self.truth.position(s));
            self.told.push((fan, position, at_start));
        }
    }

    fn polled(&mut self, second: u64, fan: u32, polled: Result<QueueTicket, BookingError>) {
        match polled {
            Ok(ticket) if ticket.status == QueueStatus::Active => {
                let f = &mut self.fans[fan as usize];
                f.outcome = Outcome::Shopping;
                f.basket = Some(Box::default());
                let think = self.rng.u64(1..=3);
                self.schedule(second + think, fan, Step::Dates);
            }
            Ok(ticket) if ticket.status == QueueStatus::SoldOut => {
                self.fans[fan as usize].outcome = Outcome::SoldOut;
                self.sold_out.told += 1;
            }
            Ok(ticket) => {
                if let Some(last_sale) = self.sellout {
                    let late = second.saturating_sub(last_sale);
                    let s = &mut self.sold_out;
                    s.still_waiting_after_sellout_max_seconds = Some(
                        s.still_waiting_after_sellout_max_seconds
                            .unwrap_or(0)
                            .max(late),
                    );
                }
                self.told(fan, &ticket);
                let next = ticket.poll_after_seconds.max(1);
                self.schedule(second + next, fan, Step::Poll);
            }
            Err(BookingError::QueueTokenExpired | BookingError::QueueTokenIdle) => {
                self.fans[fan as usize].outcome = Outcome::DroppedWhilePolling;
            }
            Err(_) => self.schedule(second + 1, fan, Step::Poll),
        }
    }

    /// An admitted fan's call failed: a token that ended ends the visit, anything else is
    /// sent again in a second.
    fn settled_payment(&mut self, fan: u32) {
        if let Some(basket) = self.fans[fan as usize].basket.as_mut() {
            basket.payments += 1;
        }
    }

    fn shopping_failed(&mut self, second: u64, fan: u32, step: Step, error: &BookingError) {
        match error {
            BookingError::QueueTokenExpired | BookingError::QueueTokenIdle => {
                self.fans[fan as usize].outcome = Outcome::TokenExpired;
            }
            _ => self.schedule(second + 1, fan, step),
        }
    }
}
