//! One handler per endpoint: parse, call the operation, answer as `openapi.yaml` says.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::{field, info_span, Instrument, Span};

use super::caching::{self, Caching, NO_STORE};
use super::problem::{describe, RATE_LIMIT, RATE_LIMIT_POLICY};
use super::request::{
    body_bytes, caller, idempotency_key, operator, path_parameter, query_parameter, queue_token,
    within_body_limit, JsonBody,
};
use super::routes::Endpoint;
use super::trace::{stamp, RequestId};
use super::App;
use crate::booking::{
    CatalogConcert, HistoryCursor, HoldRequest, PageLimit, ReservationCursor, SeatChoice,
    SeatCursor, SeatPage, SEAT_PAGE_LIMIT,
};
use crate::deadline;
use crate::domain::{
    AdmitPerTick, BookingError, ChargeAmount, ConcertDate, ConcertId, MaxActive,
    MaxHoldsPerSession, PaymentId, ReservationId, SeatNumber, TopUpId, UserId,
};
use crate::metrics::{self, RequestOutcome};
use crate::store::{QueueControlChange, StoreError};
use serde_json::Value;
use std::time::{Instant, SystemTime};

/// Serves one request of `endpoint`; every failure becomes a problem response. Each request
/// leaves one metric line (see `metrics`), and its answer names it (`trace`).
pub async fn handle(app: &App, endpoint: Endpoint, request: Request) -> Response<Body> {
    let request_id = RequestId::of(&request);
    let span = info_span!(
        "request",
        endpoint = ?endpoint,
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %request_id,
        lambda_request_id = request_id.invocation(),
        status = field::Empty,
    );
    async move {
        let started = Instant::now();
        let (served, tally) = metrics::tallied(serve_in_time(app, endpoint, &request)).await;
        let (mut response, code) = match served {
            Ok(response) => (response, None),
            Err(error) => (
                app.edge.problem_types.response(&error),
                Some(describe(&error).1),
            ),
        };
        stamp(&mut response, &request_id, request.uri().path());
        if !response.headers().contains_key(header::CACHE_CONTROL) {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
        }
        let status = response.status();
        Span::current().record("status", status.as_u16());
        let created = status == StatusCode::CREATED;
        let outcome = RequestOutcome {
            endpoint: endpoint.route().function,
            request_id: request_id.as_str(),
            status: status.as_u16(),
            code,
            latency: started.elapsed(),
            joined: endpoint == Endpoint::JoinQueue && created,
            held: endpoint == Endpoint::HoldSeat && created,
            sold: endpoint == Endpoint::Pay && created,
            payment_refused: endpoint == Endpoint::Pay && code.is_some(),
        };
        app.metrics
            .emit(|| vec![metrics::request_line(&outcome, &tally, SystemTime::now())]);
        response
    }
    .instrument(span)
    .await
}

/// Serves the request within its deadline when Lambda gave it one (`crate::deadline`): a
/// request that runs out, or whose DynamoDB call was cut at the deadline, is `503
/// SERVICE_BUSY` with `Retry-After`, answered before Lambda ends the invocation.
async fn serve_in_time(
    app: &App,
    endpoint: Endpoint,
    request: &Request,
) -> Result<Response<Body>, BookingError> {
    let deadline = request
        .lambda_context_ref()
        .filter(|context| context.deadline > 0)
        .map(|context| deadline::for_invocation(context.deadline()));
    let out_of_time = || {
        tracing::warn!("the request's deadline passed; answered 503 SERVICE_BUSY");
        BookingError::Contention
    };
    match deadline::within(deadline, serve(app, endpoint, request)).await {
        Err(deadline::Elapsed) => Err(out_of_time()),
        Ok(Err(error))
            if describe(&error).0.is_server_error()
                && deadline.is_some_and(|d| tokio::time::Instant::now() >= d) =>
        {
            Err(out_of_time())
        }
        Ok(served) => served,
    }
}

async fn serve(
    app: &App,
    endpoint: Endpoint,
    request: &Request,
) -> Result<Response<Body>, BookingError> {
    // First: a request that went around the edge is read no further.
    app.edge.admit(endpoint, request)?;
    within_body_limit(request, endpoint.body_limit())?;
    if endpoint.for_operators() {
        return serve_operator(app, endpoint, request).await;
    }
    if endpoint.for_provider() {
        let signature = request
            .headers()
            .get("stripe-signature")
            .and_then(|v| v.to_str().ok());
        let outcome = app
            .booking
            .payment_event(signature, body_bytes(request))
            .await?;
        tracing::info!(?outcome, "provider event handled");
        // Every verified event is 200, handled or not: anything else makes the provider resend.
        return json(StatusCode::OK, &serde_json::json!({ "received": true }));
    }
    let user = caller(app, request)?;
    let quota = if endpoint.rate_limited() {
        app.booking.take_rate_token(&user).await?
    } else {
        None
    };
    let response = serve_fan(app, endpoint, request, &user).await?;
    let now = app.booking.now_epoch_seconds();
    let tick = app.booking.settings().admit_tick_seconds;
    let mut response = caching::apply(Caching::of(endpoint), request, response, now, tick);
    if let Some(quota) = quota {
        let headers = response.headers_mut();
        for (name, value) in [
            (RATE_LIMIT, quota.header()),
            (RATE_LIMIT_POLICY, quota.limit.policy_header()),
        ] {
            headers.insert(name, value.parse().map_err(internal)?);
        }
    }
    Ok(response)
}

/// A fan's request, past its identity and its rate limit.
async fn serve_fan(
    app: &App,
    endpoint: Endpoint,
    request: &Request,
    user: &UserId,
) -> Result<Response<Body>, BookingError> {
    let user = user.clone();
    let booking = &app.booking;
    match endpoint {
        Endpoint::ListConcerts => json(StatusCode::OK, &booking.concerts_on_sale().await?),
        Endpoint::JoinQueue => {
            let concert = ConcertId::parse(&path_parameter(request, "concertId"))?;
            let (ticket, created) = booking.join_queue(&user, &concert).await?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            json(status, &ticket)
        }
        Endpoint::QueueStatus => {
            let token = queue_token(request)?;
            json(
                StatusCode::OK,
                &booking.queue_status(&user, token.as_ref()).await?,
            )
        }
        Endpoint::ListDates => {
            let concert = ConcertId::parse(&path_parameter(request, "concertId"))?;
            let token = queue_token(request)?;
            json(
                StatusCode::OK,
                &booking
                    .dates_on_sale(&user, token.as_ref(), &concert)
                    .await?,
            )
        }
        Endpoint::ListSeats => {
            let concert = ConcertId::parse(&path_parameter(request, "concertId"))?;
            let date = ConcertDate::parse(&path_parameter(request, "date"))?;
            let page = SeatPage {
                limit: page_limit(request, SeatPage::FIRST.limit, SEAT_PAGE_LIMIT)?,
                cursor: query_parameter(request, "cursor")
                    .map(|raw| SeatCursor::parse(&raw))
                    .transpose()?,
            };
            let token = queue_token(request)?;
            let section = query_parameter(request, "section");
            let chart = booking
                .seat_listing(
                    &user,
                    token.as_ref(),
                    &concert,
                    date,
                    section.as_deref(),
                    page,
                )
                .await?;
            json(StatusCode::OK, &chart)
        }
        Endpoint::ListSections => {
            let concert = ConcertId::parse(&path_parameter(request, "concertId"))?;
            let date = ConcertDate::parse(&path_parameter(request, "date"))?;
            let token = queue_token(request)?;
            let sections = booking
                .date_sections(&user, token.as_ref(), &concert, date)
                .await?;
            json(StatusCode::OK, &sections)
        }
        Endpoint::HoldSeat => {
            let hold = hold_request(request)?;
            let key = idempotency_key(request)?;
            let token = queue_token(request)?;
            let (reservation, new) = booking
                .hold_seats(&user, token.as_ref(), &hold, key.as_ref())
                .await?;
            if new {
                let location = format!("/reservations/{}", reservation.reservation_id);
                created(&location, &reservation)
            } else {
                // A retry by the fan who holds the seats: the same reservation, nothing changed.
                json(StatusCode::OK, &reservation)
            }
        }
        Endpoint::ListReservations => {
            let limit = page_limit(request, PageLimit::DEFAULT, PageLimit::MAX)?;
            let cursor = query_parameter(request, "cursor")
                .map(|raw| ReservationCursor::parse(&raw))
                .transpose()?;
            json(
                StatusCode::OK,
                &booking.reservations(&user, limit, cursor).await?,
            )
        }
        Endpoint::GetReservation => {
            let id = ReservationId::parse(&path_parameter(request, "reservationId"))?;
            json(StatusCode::OK, &booking.reservation(&user, id).await?)
        }
        Endpoint::ReleaseReservation => {
            let id = ReservationId::parse(&path_parameter(request, "reservationId"))?;
            booking.release_reservation(&user, id).await?;
            Ok(Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Body::Empty)
                .map_err(internal)?)
        }
        Endpoint::ChargeBalance => {
            let body = JsonBody::parse(request, &["amount"])?;
            let amount = ChargeAmount::parse(body.integer("amount", BookingError::InvalidAmount)?)?;
            let key = idempotency_key(request)?;
            if booking.takes_payments() {
                return json(
                    StatusCode::ACCEPTED,
                    &booking.start_top_up(&user, amount, key.as_ref()).await?,
                );
            }
            json(
                StatusCode::OK,
                &booking.charge(&user, amount, key.as_ref()).await?,
            )
        }
        Endpoint::GetTopUp => {
            // Any id that is not one is no top-up of the caller's.
            let top_up = TopUpId::parse(&path_parameter(request, "topUpId"))?;
            json(StatusCode::OK, &booking.top_up(&user, top_up).await?)
        }
        Endpoint::GetBalance => json(StatusCode::OK, &booking.balance(&user).await?),
        Endpoint::ListBalanceTransactions => {
            let limit = page_limit(request, PageLimit::DEFAULT, PageLimit::MAX)?;
            let cursor = query_parameter(request, "cursor")
                .map(|raw| HistoryCursor::parse(&raw))
                .transpose()?;
            json(
                StatusCode::OK,
                &booking.balance_history(&user, limit, cursor).await?,
            )
        }
        Endpoint::Pay => {
            let body = JsonBody::parse(request, &["reservationId"])?;
            let reservation = ReservationId::parse(
                body.string("reservationId", BookingError::InvalidReservationId)?,
            )?;
            let key = idempotency_key(request)?;
            let token = queue_token(request)?;
            let receipt = booking
                .pay(&user, token.as_ref(), reservation, key.as_ref())
                .await?;
            created(&format!("/payments/{}", receipt.payment_id), &receipt)
        }
        Endpoint::GetPayment => {
            let id = PaymentId::parse(&path_parameter(request, "paymentId"))?;
            json(StatusCode::OK, &booking.payment(&user, id).await?)
        }
        // Served above, before any caller is read.
        Endpoint::GetWaitingRoom | Endpoint::ChangeWaitingRoom | Endpoint::AddConcert => {
            Err(BookingError::OperatorRequired)
        }
        Endpoint::StripeWebhook => Err(BookingError::RouteNotFound),
    }
}

/// The `/admin` routes: the operator first, then the input, then the operation.
async fn serve_operator(
    app: &App,
    endpoint: Endpoint,
    request: &Request,
) -> Result<Response<Body>, BookingError> {
    let operator = operator(app, request)?;
    let booking = &app.booking;
    match endpoint {
        Endpoint::GetWaitingRoom => {
            let concert = ConcertId::parse(&path_parameter(request, "concertId"))?;
            json(StatusCode::OK, &booking.waiting_room(&concert).await?)
        }
        Endpoint::ChangeWaitingRoom => {
            let concert = ConcertId::parse(&path_parameter(request, "concertId"))?;
            let body = JsonBody::parse(
                request,
                &["paused", "admitPerTick", "maxActive", "maxHoldsPerSession"],
            )?;
            let change = QueueControlChange {
                paused: body.optional("paused", Value::as_bool, BookingError::InvalidPaused)?,
                admit_per_tick: body
                    .optional(
                        "admitPerTick",
                        Value::as_i64,
                        BookingError::InvalidAdmitPerTick,
                    )?
                    .map(AdmitPerTick::parse)
                    .transpose()?
                    .map(AdmitPerTick::get),
                max_active: body
                    .optional("maxActive", Value::as_i64, BookingError::InvalidMaxActive)?
                    .map(MaxActive::parse)
                    .transpose()?
                    .map(MaxActive::get),
                max_holds_per_session: body
                    .optional(
                        "maxHoldsPerSession",
                        Value::as_i64,
                        BookingError::InvalidMaxHoldsPerSession,
                    )?
                    .map(MaxHoldsPerSession::parse)
                    .transpose()?
                    .map(MaxHoldsPerSession::get),
            };
            json(
                StatusCode::OK,
                &booking
                    .change_admission(&operator, &concert, &change)
                    .await?,
            )
        }
        Endpoint::AddConcert => {
            let body = JsonBody::parse(request, CATALOG_CONCERT_FIELDS)?;
            let concert: CatalogConcert = serde_json::from_value(body.into_value())
                .map_err(|e| BookingError::InvalidCatalog(e.to_string()))?;
            let added = booking.add_concert(&operator, &concert).await?;
            let location = format!("/admin/concerts/{}/waiting-room", added.concert_id);
            created(&location, &added)
        }
        _ => Err(BookingError::RouteNotFound),
    }
}

/// `POST /reservations`: the date and exactly one of `seatNumber`, `seatNumbers` and
/// `quantity` (with an optional `section`).
fn hold_request(request: &Request) -> Result<HoldRequest, BookingError> {
    let body = JsonBody::parse(
        request,
        &[
            "concertId",
            "date",
            "seatNumber",
            "seatNumbers",
            "quantity",
            "section",
        ],
    )?;
    let seat = |v: &serde_json::Value| v.as_i64().and_then(|n| SeatNumber::parse(n).ok());
    let one = body.optional("seatNumber", seat, BookingError::InvalidSeatNumber)?;
    let many = body.optional(
        "seatNumbers",
        |v| v.as_array()?.iter().map(seat).collect::<Option<Vec<_>>>(),
        BookingError::InvalidSeats(
            "seatNumbers must be a list of seat numbers, each an integer from 1 to 100,000".into(),
        ),
    )?;
    let quantity = body.optional(
        "quantity",
        |v| v.as_u64().and_then(|n| u32::try_from(n).ok()),
        BookingError::InvalidSeats("quantity must be a positive integer".into()),
    )?;
    let section = body.optional(
        "section",
        |v| v.as_str().map(str::to_owned),
        BookingError::InvalidSeats("section must be a section's name".into()),
    )?;
    if section.is_some() && quantity.is_none() {
        return Err(BookingError::InvalidSeats(
            "section goes with quantity: chosen seats name their own section".into(),
        ));
    }
    let seats = match (one, many, quantity) {
        (Some(seat), None, None) => SeatChoice::Seats(vec![seat]),
        (None, Some(seats), None) => SeatChoice::Seats(seats),
        (None, None, Some(n)) => match section {
            Some(section) => SeatChoice::BestInSection {
                quantity: n,
                section,
            },
            None => SeatChoice::BestAvailable(n),
        },
        _ => {
            return Err(BookingError::InvalidSeats(
                "give exactly one of seatNumber, seatNumbers and quantity".into(),
            ))
        }
    };
    Ok(HoldRequest {
        concert_id: ConcertId::parse(body.string("concertId", BookingError::InvalidConcertId)?)?,
        date: ConcertDate::parse(body.string("date", BookingError::InvalidDate)?)?,
        seats,
    })
}

/// The fields of one concert in a catalog file.
const CATALOG_CONCERT_FIELDS: &[&str] = &[
    "concertId",
    "title",
    "dates",
    "seatPrices",
    "sections",
    "queueOpensAt",
    "saleOpensAt",
    "maxTicketsPerFan",
];

/// `limit` of a listing: 1 to `max`, `default` when absent.
fn page_limit(
    request: &Request,
    default: PageLimit,
    max: usize,
) -> Result<PageLimit, BookingError> {
    Ok(query_parameter(request, "limit")
        .map(|raw| PageLimit::parse_up_to(&raw, max))
        .transpose()?
        .unwrap_or(default))
}

/// Lambda refuses to return an answer over 6 MB, and API Gateway then gives the fan a bare
/// error. Every answer here is kept far below by design (listings are paged, catalogs have
/// maxima: docs/scale.md, "Limits"), about 1 MB at most; one past this budget is a bug. It is
/// answered as a clean 500 problem, and in debug builds (every test) it panics, so that a test
/// that makes one fails loudly.
pub const ANSWER_BYTES_BUDGET: usize = 2 * 1024 * 1024;
/// Lambda's own limit on an answer, for the record: the budget keeps a third of it.
pub const LAMBDA_ANSWER_LIMIT: usize = 6 * 1024 * 1024;
const _: () = assert!(ANSWER_BYTES_BUDGET * 3 <= LAMBDA_ANSWER_LIMIT);

fn json(status: StatusCode, body: &impl Serialize) -> Result<Response<Body>, BookingError> {
    let text = serde_json::to_string(body).map_err(internal)?;
    within_answer_budget(text.len())?;
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .map_err(internal)
}

fn created(location: &str, body: &impl Serialize) -> Result<Response<Body>, BookingError> {
    let mut response = json(StatusCode::CREATED, body)?;
    let location = location.parse().map_err(internal)?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

fn within_answer_budget(bytes: usize) -> Result<(), BookingError> {
    debug_assert!(
        bytes <= ANSWER_BYTES_BUDGET,
        "an answer of {bytes} bytes, over the {ANSWER_BYTES_BUDGET}-byte budget (Lambda: 6 MB)"
    );
    if bytes > ANSWER_BYTES_BUDGET {
        return Err(internal(format!(
            "an answer of {bytes} bytes is over the {ANSWER_BYTES_BUDGET}-byte budget"
        )));
    }
    Ok(())
}

fn internal(error: impl std::fmt::Display) -> BookingError {
    StoreError::Corrupt(format!("building a response: {error}")).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_within_the_budget_is_sent() {
        let body = serde_json::json!({ "seats": "x".repeat(ANSWER_BYTES_BUDGET - 20) });
        assert_eq!(
            json(StatusCode::OK, &body).unwrap().status(),
            StatusCode::OK
        );
    }

    #[test]
    #[should_panic(expected = "over the")]
    fn an_answer_past_the_budget_fails_loudly_in_tests() {
        let body = serde_json::json!({ "seats": "x".repeat(ANSWER_BYTES_BUDGET) });
        let _ = json(StatusCode::OK, &body);
    }
}
