//! What a cache may do with an answer (`Cache-Control`), and conditional listings.
//!
//! - The catalog's listings (`GET /concerts`, a concert's dates, a date's sections) change at
//!   most once a tick: the tick writes sold-out marks and the sections' free seats. They may be
//!   kept, by the caller alone (they answer a signed-in fan), until the next tick is due:
//!   `private, max-age` of the seconds left in the tick's slot (ticks run at multiples of
//!   `ADMIT_TICK_SECONDS` on the clock).
//! - A seat listing is live (a hold shows at once), so it is `private, no-cache`: kept, but
//!   asked again each time. It and the sections carry an `ETag` (a hash of the body), and an
//!   `If-None-Match` that names it is answered `304 Not Modified` without the body: a client
//!   that polls a section's seats pays for what changed only.
//! - Everything else is personal or a write: `private, no-store`.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use super::routes::Endpoint;

/// For personal data and writes: never kept.
pub const NO_STORE: &str = "private, no-store";
/// For a live listing: kept, but revalidated every time.
pub const REVALIDATE: &str = "private, no-cache";
/// What a kept listing was answered for: the caller and its queue token.
pub const VARY: &str = "Authorization, X-Queue-Token, X-User-Id";

/// How an endpoint's answers may be cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// Until the next tick; with an `ETag` too when `tagged`.
    UntilTick {
        tagged: bool,
    },
    /// Live, with an `ETag`.
    Revalidate,
    NoStore,
}

impl Caching {
    pub fn of(endpoint: Endpoint) -> Self {
        match endpoint {
            Endpoint::ListConcerts | Endpoint::ListDates => Caching::UntilTick { tagged: false },
            Endpoint::ListSections => Caching::UntilTick { tagged: true },
            Endpoint::ListSeats => Caching::Revalidate,
            _ => Caching::NoStore,
        }
    }

    fn tagged(self) -> bool {
        matches!(
            self,
            Caching::Revalidate | Caching::UntilTick { tagged: true }
        )
    }
}

/// Seconds left before the next tick slot: at least 1.
pub fn seconds_to_next_tick(now: i64, tick_seconds: u64) -> u64 {
    let every = i64::try_from(tick_seconds.max(1)).unwrap_or(1);
    u64::try_from(every - now.rem_euclid(every)).unwrap_or(1)
}

/// Adds the endpoint's `Cache-Control` (and `ETag`) to a success, and turns it into `304` when
/// the request's `If-None-Match` names its tag. Problems are never cached.
pub fn apply(
    caching: Caching,
    request: &Request,
    mut response: Response<Body>,
    now: i64,
    tick_seconds: u64,
) -> Response<Body> {
    let control = match caching {
        Caching::NoStore => NO_STORE.to_owned(),
        Caching::Revalidate => REVALIDATE.to_owned(),
        Caching::UntilTick { .. } => format!(
            "private, max-age={}",
            seconds_to_next_tick(now, tick_seconds)
        ),
    };
    let ok = response.status() == StatusCode::OK;
    let control = if ok { control } else { NO_STORE.to_owned() };
    if let Ok(value) = HeaderValue::from_str(&control) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    if ok && caching != Caching::NoStore {
        // A browser keeps one copy a URL: one caller's, or one token's, is not another's.
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static(VARY));
    }
    if !ok || !caching.tagged() {
        return response;
    }
    let tag = match response.body() {
        Body::Text(text) => entity_tag(text.as_bytes()),
        Body::Binary(bytes) => entity_tag(bytes),
        _ => return response,
    };
    let matched = request
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| names(v, &tag));
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    if matched {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        *response.body_mut() = Body::Empty;
        response.headers_mut().remove(header::CONTENT_TYPE);
    }
    response
}

/// A strong tag of the body: FNV-1a, the same in every container of a build and across builds.
pub fn entity_tag(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

/// `If-None-Match` names `tag`: `*`, or a list holding it (weak or strong: a GET compares
/// weakly, RFC 9110 13.1.2).
fn names(if_none_match: &str, tag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(body: &str) -> Response<Body> {
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(body.into()))
            .unwrap()
    }

    fn asking(if_none_match: Option<&str>) -> Request {
        let mut request = Request::default();
        if let Some(tag) = if_none_match {
            request
                .headers_mut()
                .insert(header::IF_NONE_MATCH, tag.parse().unwrap());
        }
        request
    }

    #[test]
    fn the_catalog_is_kept_until_the_next_tick() {
        assert_eq!(seconds_to_next_tick(1_000, 10), 10);
        assert_eq!(seconds_to_next_tick(1_003, 10), 7);
        assert_eq!(seconds_to_next_tick(1_009, 10), 1);
        let answer = apply(
            Caching::of(Endpoint::ListConcerts),
            &asking(None),
            listing("{}"),
            1_004,
            10,
        );
        assert_eq!(
            answer.headers()[header::CACHE_CONTROL],
            "private, max-age=6"
        );
        assert_eq!(answer.headers()[header::VARY], VARY);
        assert!(answer.headers().get(header::ETAG).is_none());
    }

    #[test]
    fn personal_answers_and_problems_are_never_stored() {
        let balance = apply(
            Caching::of(Endpoint::GetBalance),
            &asking(None),
            listing("{}"),
            0,
            10,
        );
        assert_eq!(balance.headers()[header::CACHE_CONTROL], NO_STORE);
        let mut refused = listing("{}");
        *refused.status_mut() = StatusCode::NOT_FOUND;
        let refused = apply(
            Caching::of(Endpoint::ListSeats),
            &asking(None),
            refused,
            0,
            10,
        );
        assert_eq!(refused.headers()[header::CACHE_CONTROL], NO_STORE);
        assert!(refused.headers().get(header::ETAG).is_none());
    }

    #[test]
    fn an_unchanged_listing_is_304_without_its_body() {
        let body = r#"{"seats":[1,2,3]}"#;
        let first = apply(Caching::Revalidate, &asking(None), listing(body), 0, 10);
        let tag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_eq!(first.headers()[header::CACHE_CONTROL], REVALIDATE);
        let again = apply(
            Caching::Revalidate,
            &asking(Some(&tag)),
            listing(body),
            0,
            10,
        );
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.body(), &Body::Empty);
        assert_eq!(again.headers()[header::ETAG], tag.as_str());
        let weak = format!("\"other\", W/{tag}");
        let weakly = apply(
            Caching::Revalidate,
            &asking(Some(&weak)),
            listing(body),
            0,
            10,
        );
        assert_eq!(weakly.status(), StatusCode::NOT_MODIFIED);
        let changed = apply(
            Caching::Revalidate,
            &asking(Some(&tag)),
            listing(r#"{"seats":[1,2]}"#),
            0,
            10,
        );
        assert_eq!(changed.status(), StatusCode::OK);
        assert_ne!(changed.headers()[header::ETAG], tag.as_str());
    }
}
