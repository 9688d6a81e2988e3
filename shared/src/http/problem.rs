//! The one place that says what HTTP makes of a domain error: status, stable `code`, and an
//! `application/problem+json` body (RFC 9457). A 5xx never carries internals.
//!
//! A problem's `type` is a URI that resolves to the code's section of the page of problem types
//! (web/problems.html, one `<section id="{slug}">` a code): [`ProblemTypes`] is its base plus the
//! code's slug. The base is `PROBLEM_TYPE_BASE` (config.rs): on a deployed stack the hosted page,
//! `https://{distribution}/problems.html#`, or the operator's docs site; unset, the relative
//! `/problems/` the local server serves (tools/src/web.rs), which resolves against the API's URL
//! there only.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde_json::json;
use tracing::error;

use crate::booking::RateLimit;
use crate::domain::BookingError;
use crate::store::StoreError;

/// The status and the machine `code` of an error.
pub fn describe(error: &BookingError) -> (StatusCode, &'static str) {
    use BookingError::*;
    let (status, code) = match error {
        Unauthenticated => (401, "UNAUTHENTICATED"),
        InvalidRequest(_) => (400, "INVALID_REQUEST"),
        MalformedJson(_) => (400, "MALFORMED_JSON"),
        UnknownField(_) => (400, "UNKNOWN_FIELD"),
        PayloadTooLarge(_) => (413, "PAYLOAD_TOO_LARGE"),
        InvalidConcertId => (400, "INVALID_CONCERT_ID"),
        InvalidDate => (400, "INVALID_DATE"),
        InvalidSeatNumber => (400, "INVALID_SEAT_NUMBER"),
        InvalidSeats(_) => (400, "INVALID_SEATS"),
        InvalidAmount => (400, "INVALID_AMOUNT"),
        InvalidReservationId => (400, "INVALID_RESERVATION_ID"),
        InvalidPaymentId => (400, "INVALID_PAYMENT_ID"),
        InvalidIdempotencyKey => (400, "INVALID_IDEMPOTENCY_KEY"),
        InvalidCursor => (400, "INVALID_CURSOR"),
        InvalidLimit { .. } => (400, "INVALID_LIMIT"),
        InvalidCatalog(_) => (400, "INVALID_CATALOG"),
        InvalidAdmitPerTick => (400, "INVALID_ADMIT_PER_TICK"),
        InvalidMaxActive => (400, "INVALID_MAX_ACTIVE"),
        InvalidPaused => (400, "INVALID_PAUSED"),
        InvalidMaxHoldsPerSession => (400, "INVALID_MAX_HOLDS_PER_SESSION"),
        TooManyHolds { .. } => (429, "TOO_MANY_HOLDS"),
        RouteNotFound => (404, "ROUTE_NOT_FOUND"),
        MethodNotAllowed => (405, "METHOD_NOT_ALLOWED"),
        QueueTokenRequired => (401, "QUEUE_TOKEN_REQUIRED"),
        QueueTokenInvalid => (401, "QUEUE_TOKEN_INVALID"),
        QueueTokenExpired => (401, "QUEUE_TOKEN_EXPIRED"),
        QueueTokenIdle => (401, "QUEUE_TOKEN_IDLE"),
        QueueNotAdmitted { .. } => (403, "QUEUE_NOT_ADMITTED"),
        QueueTokenWrongConcert => (403, "QUEUE_TOKEN_WRONG_CONCERT"),
        QueueNotOpen { .. } => (409, "QUEUE_NOT_OPEN"),
        SoldOut => (409, "SOLD_OUT"),
        ConcertNotFound => (404, "CONCERT_NOT_FOUND"),
        DateNotFound => (404, "DATE_NOT_FOUND"),
        SeatNotFound => (404, "SEAT_NOT_FOUND"),
        SectionNotFound => (404, "SECTION_NOT_FOUND"),
        SectionRequired(_) => (400, "SECTION_REQUIRED"),
        SeatUnavailable(_) => (409, "SEAT_UNAVAILABLE"),
        TicketLimitReached { .. } => (409, "TICKET_LIMIT_REACHED"),
        ReservationNotFound => (404, "RESERVATION_NOT_FOUND"),
        ReservationExpired => (409, "RESERVATION_EXPIRED"),
        ReservationReleased => (409, "RESERVATION_RELEASED"),
        AlreadyPaid => (409, "ALREADY_PAID"),
        PaymentNotFound => (404, "PAYMENT_NOT_FOUND"),
        BalanceLimitExceeded => (409, "BALANCE_LIMIT_EXCEEDED"),
        InsufficientBalance => (409, "INSUFFICIENT_BALANCE"),
        TopUpNotFound => (404, "TOP_UP_NOT_FOUND"),
        TooManyTopUps { .. } => (429, "TOO_MANY_TOPUPS"),
        InvalidSignature(_) => (400, "INVALID_SIGNATURE"),
        PaymentProvider(_) => (503, "SERVICE_UNAVAILABLE"),
        IdempotencyKeyReused => (422, "IDEMPOTENCY_KEY_REUSED"),
        IdempotencyKeyInUse => (409, "IDEMPOTENCY_KEY_IN_USE"),
        RateLimited { .. } => (429, "RATE_LIMITED"),
        OperatorRequired => (401, "OPERATOR_REQUIRED"),
        NotAnOperator => (403, "NOT_AN_OPERATOR"),
        EdgeRequired => (403, "EDGE_REQUIRED"),
        ConcertExists => (409, "CONCERT_EXISTS"),
        Contention => (503, "SERVICE_BUSY"),
        Store(StoreError::Contention(_)) => (503, "SERVICE_BUSY"),
        Store(StoreError::Request(_)) => (503, "SERVICE_UNAVAILABLE"),
        Store(StoreError::Corrupt(_) | StoreError::Limit(_)) => (500, "INTERNAL_ERROR"),
    };
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        code,
    )
}

/// Where problem `type` URIs point: a base that ends in `/` or `#`, to which a code's slug is
/// appended (`SEAT_UNAVAILABLE` is `seat-unavailable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProblemTypes {
    base: String,
}

impl ProblemTypes {
    /// The local server's page of problem types, relative to the API's own URL.
    pub const LOCAL_BASE: &'static str = "/problems/";
    /// The longest base taken: a URL, not a document.
    pub const MAX_BASE_LEN: usize = 512;

    /// An absolute `https://` base with a host that ends in `/` or `#` (a path to append to,
    /// or a page whose anchors are the slugs), of visible ASCII a URI may hold unescaped, with no
    /// query and no fragment but the final `#`; anything else is `None`.
    pub fn absolute(base: &str) -> Option<Self> {
        let rest = base.strip_prefix("https://")?;
        let host_end = rest.find(['/', '#']).unwrap_or(rest.len());
        let uri_char = |c: char| c.is_ascii_graphic() && !"\"<>\\^`{|}?".contains(c);
        let valid = base.len() <= Self::MAX_BASE_LEN
            && host_end > 0
            && base.chars().all(uri_char)
            && (base.ends_with('/') || base.ends_with('#'))
            && base.find('#').is_none_or(|at| at == base.len() - 1);
        valid.then(|| Self {
            base: base.to_owned(),
        })
    }

    /// The `type` of the problem with this `code`.
    pub fn uri(&self, code: &str) -> String {
        format!("{}{}", self.base, slug(code))
    }

    /// The problem+json answer to `error`, its `type` under this base.
    pub fn response(&self, error: &BookingError) -> Response<Body> {
        problem(error, self)
    }
}

impl Default for ProblemTypes {
    fn default() -> Self {
        Self {
            base: Self::LOCAL_BASE.to_owned(),
        }
    }
}

/// A code's anchor on the page of problem types: `SEAT_UNAVAILABLE` is `seat-unavailable`.
pub fn slug(code: &str) -> String {
    code.to_ascii_lowercase().replace('_', "-")
}

/// The problem+json answer to `error`, its `type` under the local base ([`ProblemTypes`]).
pub fn problem_response(error: &BookingError) -> Response<Body> {
    problem(error, &ProblemTypes::default())
}

fn problem(error: &BookingError, types: &ProblemTypes) -> Response<Body> {
    let (status, code) = describe(error);
    let detail = if status.is_server_error() {
        error!(%error, code, "request failed");
        "The service could not complete the request. Retry shortly.".to_owned()
    } else {
        error.to_string()
    };
    let mut body = json!({
        "type": types.uri(code),
        "title": title(code),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    match error {
        BookingError::QueueNotAdmitted {
            position,
            estimated_wait_seconds,
        } => {
            body["position"] = json!(position);
            body["estimatedWaitSeconds"] = json!(estimated_wait_seconds);
        }
        BookingError::QueueNotOpen { opens_at } => body["queueOpensAt"] = json!(opens_at),
        BookingError::SeatUnavailable(seats) if !seats.is_empty() => {
            body["unavailableSeats"] = json!(seats);
        }
        BookingError::SectionRequired(sections) => body["sections"] = json!(sections),
        BookingError::TooManyHolds { limit } => body["limit"] = json!(limit),
        BookingError::TooManyTopUps { limit } => body["limit"] = json!(limit),
        BookingError::TicketLimitReached {
            limit,
            held,
            bought,
        } => {
            body["limit"] = json!(limit);
            body["held"] = json!(held);
            body["bought"] = json!(bought);
        }
        _ => {}
    }
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/problem+json")
        // A problem is about one request: never kept.
        .header(header::CACHE_CONTROL, super::caching::NO_STORE);
    if let Some(seconds) = retry_after(error) {
        response = response.header(header::RETRY_AFTER, seconds.to_string());
    }
    if let BookingError::RateLimited {
        retry_after,
        limit,
        window,
    } = error
    {
        let policy = RateLimit::POLICY;
        response = response
            .header(RATE_LIMIT, format!("\"{policy}\";r=0;t={retry_after}"))
            .header(
                RATE_LIMIT_POLICY,
                format!("\"{policy}\";q={limit};w={window}"),
            );
    }
    response
        .body(Body::Text(body.to_string()))
        .unwrap_or_default()
}

/// The IETF rate limit headers (draft-ietf-httpapi-ratelimit-headers): what is left of the
/// fan's bucket, and its quota.
pub const RATE_LIMIT: &str = "ratelimit";
pub const RATE_LIMIT_POLICY: &str = "ratelimit-policy";

/// A store that could not be reached is given a little longer than one that was busy.
const UNAVAILABLE_RETRY_SECONDS: u64 = 2;
/// Contention and a key's request in flight clear within about a second.
const BUSY_RETRY_SECONDS: u64 = 1;

/// Whole seconds to wait before sending the request again, where waiting is the answer: the
/// fan's bucket refills, a busy or unreachable store, a key whose first request is in flight.
pub fn retry_after(error: &BookingError) -> Option<u64> {
    match error {
        BookingError::RateLimited { retry_after, .. } => Some(*retry_after),
        BookingError::IdempotencyKeyInUse
        | BookingError::Contention
        | BookingError::Store(StoreError::Contention(_)) => Some(BUSY_RETRY_SECONDS),
        BookingError::Store(StoreError::Request(_)) | BookingError::PaymentProvider(_) => {
            Some(UNAVAILABLE_RETRY_SECONDS)
        }
        _ => None,
    }
}

/// `SEAT_UNAVAILABLE` reads "Seat unavailable".
fn title(code: &str) -> String {
    let words = code.to_ascii_lowercase().replace('_', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_a_stable_code_and_no_internals() {
        let response = problem_response(&BookingError::Store(StoreError::Request(
            "table tickets-prod in 123456789012 throttled".into(),
        )));
        assert_eq!(response.status(), 503);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let Body::Text(body) = response.body() else {
            panic!("text body")
        };
        assert!(
            !body.contains("123456789012") && !body.contains("tickets-prod"),
            "{body}"
        );
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
        assert_eq!(body["title"], "Service unavailable");
        assert_eq!(body["type"], "/problems/service-unavailable");
    }

    #[test]
    fn a_problem_type_resolves_under_the_configured_base() {
        let error = BookingError::SeatUnavailable(vec![]);
        let type_of = |types: &ProblemTypes| {
            let response = types.response(&error);
            let Body::Text(body) = response.body() else {
                panic!("text body")
            };
            serde_json::from_str::<serde_json::Value>(body).unwrap()["type"].clone()
        };
        assert_eq!(
            type_of(&ProblemTypes::default()),
            "/problems/seat-unavailable"
        );
        let hosted = ProblemTypes::absolute("https://d111.cloudfront.net/problems.html#").unwrap();
        assert_eq!(
            type_of(&hosted),
            "https://d111.cloudfront.net/problems.html#seat-unavailable"
        );
        let docs = ProblemTypes::absolute("https://docs.example.com/api/problems/").unwrap();
        assert_eq!(
            type_of(&docs),
            "https://docs.example.com/api/problems/seat-unavailable"
        );
    }

    #[test]
    fn a_problem_type_base_is_an_absolute_https_url_ending_in_a_slash_or_a_hash() {
        for good in [
            "https://d111.cloudfront.net/problems.html#",
            "https://docs.example.com/",
            "https://docs.example.com:8443/api/problems/",
        ] {
            assert!(ProblemTypes::absolute(good).is_some(), "{good}");
        }
        let long = format!(
            "https://example.com/{}/",
            "a".repeat(ProblemTypes::MAX_BASE_LEN)
        );
        for bad in [
            "/problems/",
            "http://docs.example.com/",
            "https://docs.example.com/problems.html",
            "https://",
            "https:///problems/",
            "https://#",
            "https://docs.example.com/a b/",
            "https://docs.example.com/?q=1/",
            "https://docs.example.com/#a#",
            "https://docs.example.com/\"x\"/",
            "",
            long.as_str(),
        ] {
            assert!(ProblemTypes::absolute(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn waiting_fans_learn_their_place() {
        let response = problem_response(&BookingError::QueueNotAdmitted {
            position: Some(7),
            estimated_wait_seconds: Some(20),
        });
        assert_eq!(response.status(), 403);
        let Body::Text(body) = response.body() else {
            panic!("text body")
        };
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            (
                body["position"].as_u64(),
                body["estimatedWaitSeconds"].as_u64()
            ),
            (Some(7), Some(20))
        );
    }

    #[test]
    fn a_fan_over_the_limit_learns_when_to_retry() {
        let response = problem_response(&BookingError::RateLimited {
            retry_after: 3,
            limit: 20,
            window: 10,
        });
        assert_eq!(response.status(), 429);
        let headers = response.headers();
        assert_eq!(headers["retry-after"], "3");
        assert_eq!(headers[RATE_LIMIT], "\"fan-writes\";r=0;t=3");
        assert_eq!(headers[RATE_LIMIT_POLICY], "\"fan-writes\";q=20;w=10");
        let Body::Text(body) = response.body() else {
            panic!("text body")
        };
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["code"], "RATE_LIMITED");
    }

    #[test]
    fn retry_after_is_chosen_by_the_situation() {
        let seconds = |e: BookingError| problem_response(&e).headers().get("retry-after").cloned();
        assert_eq!(seconds(BookingError::IdempotencyKeyInUse).unwrap(), "1");
        assert_eq!(seconds(BookingError::Contention).unwrap(), "1");
        assert_eq!(
            seconds(BookingError::Store(StoreError::Request("down".into()))).unwrap(),
            "2"
        );
        assert_eq!(seconds(BookingError::SeatNotFound), None);
    }
}
