//! Every answer names its request, so a fan can quote it to support and support can find it.
//!
//! The id is the caller's own `X-Request-Id` when it is well formed ([`RequestId::caller`]),
//! else the Lambda invocation's request id (the one in the function's log lines and in the
//! stage's access log as `lambdaRequestId`), else, on the local server, a fresh UUID. It goes
//! back as the `X-Request-Id` header of every answer (CORS exposes it), as `requestId` in every
//! problem (with `instance`, the path the problem happened at), on the request's tracing span
//! and on its metric line. When the caller chose the id, the span also records the Lambda
//! request id, so the two can be joined.

use lambda_http::http::{header, HeaderValue};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

/// The header that carries the id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest caller id kept: a UUID, a ULID or a trace id fit with room to spare.
pub const MAX_CALLER_REQUEST_ID: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId {
    id: String,
    /// The Lambda invocation's own id, when the caller's id was kept instead.
    invocation: Option<String>,
}

impl RequestId {
    /// The id of `request` (see the module note).
    pub fn of(request: &Request) -> Self {
        let invocation = request
            .lambda_context_ref()
            .map(|context| context.request_id.clone())
            .filter(|id| !id.is_empty());
        let caller = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(Self::caller);
        match (caller, invocation) {
            (Some(id), invocation) => RequestId { id, invocation },
            (None, Some(id)) => RequestId {
                id,
                invocation: None,
            },
            (None, None) => Self::fresh(),
        }
    }

    /// A new id, for a request that arrived with none (the local server's own answers).
    pub fn fresh() -> Self {
        RequestId {
            id: uuid::Uuid::new_v4().to_string(),
            invocation: None,
        }
    }

    /// The caller's own well-formed id (see [`RequestId::caller`]).
    pub fn called(id: String) -> Self {
        RequestId {
            id,
            invocation: None,
        }
    }

    /// A caller's id is kept when it is 1 to [`MAX_CALLER_REQUEST_ID`] letters, digits, `-`,
    /// `_`, `.` or `:`: nothing that could forge a log line or a header.
    pub fn caller(raw: &str) -> Option<String> {
        let well_formed = (1..=MAX_CALLER_REQUEST_ID).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        well_formed.then(|| raw.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The Lambda invocation's id when the caller chose the request's.
    pub fn invocation(&self) -> Option<&str> {
        self.invocation.as_deref()
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

/// Names the request on its answer: the header always, and `requestId` and `instance` in a
/// problem body.
pub fn stamp(response: &mut Response<Body>, id: &RequestId, path: &str) {
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !is_problem {
        return;
    }
    let Body::Text(text) = response.body() else {
        return;
    };
    let Ok(Value::Object(mut problem)) = serde_json::from_str::<Value>(text) else {
        return;
    };
    problem.insert("requestId".into(), id.as_str().into());
    problem
        .entry("instance")
        .or_insert_with(|| path.to_owned().into());
    *response.body_mut() = Body::Text(Value::Object(problem).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;

    #[test]
    fn a_callers_id_is_kept_only_when_well_formed() {
        for good in ["abc", "0f8c-12_ab.cd:9", &"a".repeat(MAX_CALLER_REQUEST_ID)] {
            assert_eq!(RequestId::caller(good).as_deref(), Some(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "line\nbreak",
            "é",
            "<script>",
            &"a".repeat(MAX_CALLER_REQUEST_ID + 1),
        ] {
            assert_eq!(RequestId::caller(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_request_without_an_id_gets_a_fresh_one() {
        let request = Request::default();
        let (a, b) = (RequestId::of(&request), RequestId::of(&request));
        assert_ne!(a, b);
        assert!(uuid::Uuid::parse_str(a.as_str()).is_ok());
    }

    #[test]
    fn a_problem_carries_its_request_id_and_instance() {
        let mut response = Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "application/problem+json")
            .body(Body::Text(
                r#"{"code":"SEAT_NOT_FOUND","status":404}"#.into(),
            ))
            .unwrap();
        let id = RequestId {
            id: "req-1".into(),
            invocation: None,
        };
        stamp(&mut response, &id, "/reservations/x");
        assert_eq!(response.headers()[REQUEST_ID_HEADER], "req-1");
        let Body::Text(text) = response.body() else {
            panic!("text")
        };
        let body: Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["requestId"], "req-1");
        assert_eq!(body["instance"], "/reservations/x");
        assert_eq!(body["code"], "SEAT_NOT_FOUND");
    }

    #[test]
    fn an_answer_that_is_no_problem_keeps_its_body() {
        let mut response = Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(r#"{"balance":5}"#.into()))
            .unwrap();
        let id = RequestId::fresh();
        stamp(&mut response, &id, "/balance");
        assert_eq!(response.headers()[REQUEST_ID_HEADER], id.as_str());
        assert_eq!(response.body(), &Body::Text(r#"{"balance":5}"#.into()));
    }
}
