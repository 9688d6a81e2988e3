//! Reading a request: the caller, the API's headers, path and query parameters, and JSON
//! bodies (at most 16 KiB, 64 KiB for a concert, objects only, no unknown fields).

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde_json::{Map, Value};

use super::App;
use crate::domain::{BookingError, IdempotencyKey, OperatorId, QueueToken, UserId};

/// The body cap of every route but `POST /admin/concerts`.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The body cap of `POST /admin/concerts`: a concert at the catalog's maxima (150 dates, 200
/// sections named with 64 characters) is about 28 KB as one line, 37 KB pretty-printed.
pub const MAX_CONCERT_BODY_BYTES: usize = 64 * 1024;

/// The verified caller: the JWT authorizer's `sub` claim. When trusted (the local server and
/// tests), `X-User-Id`, else the bearer token read without verifying it (see [`bearer_subject`]).
pub(super) fn caller(app: &App, request: &Request) -> Result<UserId, BookingError> {
    if app.trust_user_header {
        if let Some(header) = request.headers().get("x-user-id") {
            let raw = header.to_str().map_err(|_| BookingError::Unauthenticated)?;
            return UserId::parse(raw);
        }
        if let Some(header) = request.headers().get(http::header::AUTHORIZATION) {
            let raw = header.to_str().map_err(|_| BookingError::Unauthenticated)?;
            let subject = bearer_subject(raw).ok_or(BookingError::Unauthenticated)?;
            return UserId::parse(&subject);
        }
    }
    let sub = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .and_then(|jwt| jwt.claims.get("sub")),
        _ => None,
    };
    UserId::parse(sub.ok_or(BookingError::Unauthenticated)?)
}

/// Who a trusted server takes a bearer token for, so that a client generated from the
/// contract, which sends `Authorization: Bearer`, works against the local server unchanged:
/// a JWT's `sub` claim (its signature is not checked: there is no issuer to check it against
/// here; in AWS the JWT authorizer does), else the opaque token itself. `None` for anything but
/// a bearer token, and for a JWT without a `sub`.
fn bearer_subject(authorization: &str) -> Option<String> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    let [_, payload, _] = parts[..] else {
        return (!token.is_empty()).then(|| token.to_owned());
    };
    // base64url without padding, as JWTs write it, into the standard alphabet the decoder reads.
    let mut standard: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while standard.len() % 4 != 0 {
        standard.push('=');
    }
    let claims: Value =
        serde_json::from_slice(&aws_smithy_types::base64::decode(standard).ok()?).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// The Cognito group whose members are operators: a verified JWT opens the `/admin` routes only
/// when its `cognito:groups` claim names it (the operator page signs in like the fan page).
pub const OPERATORS_GROUP: &str = "operators";

/// The operator behind an `/admin` call: the IAM principal API Gateway verified (SigV4), a
/// verified JWT of a member of [`OPERATORS_GROUP`] (`cognito:<sub>`), or `X-Operator-Id` when
/// trusted. Any other JWT is a fan's, refused `403 NOT_AN_OPERATOR`: checked here, on every
/// admin route, whatever the authorizer in front let through.
pub(super) fn operator(app: &App, request: &Request) -> Result<OperatorId, BookingError> {
    let authorizer = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.authorizer.as_ref(),
        _ => None,
    };
    let principal = authorizer
        .and_then(|a| a.iam.as_ref())
        .and_then(|iam| iam.user_arn.as_deref());
    if let Some(arn) = principal {
        return OperatorId::parse(arn);
    }
    if let Some(claims) = authorizer
        .and_then(|a| a.jwt.as_ref())
        .map(|jwt| &jwt.claims)
    {
        let member = claims
            .get("cognito:groups")
            .is_some_and(|groups| names_group(groups, OPERATORS_GROUP));
        let sub = claims.get("sub").filter(|sub| !sub.is_empty());
        return match (member, sub) {
            (true, Some(sub)) => OperatorId::parse(&format!("cognito:{sub}")),
            _ => Err(BookingError::NotAnOperator),
        };
    }
    if app.trust_user_header {
        if let Some(header) = request.headers().get("x-operator-id") {
            let raw = header
                .to_str()
                .map_err(|_| BookingError::OperatorRequired)?;
            return OperatorId::parse(raw);
        }
    }
    Err(BookingError::OperatorRequired)
}

/// Whether a `cognito:groups` claim names `group`. API Gateway hands a JWT's list claim to the
/// function flattened to a string, `[operators fans]`; a JSON list (`["operators"]`) or a
/// comma-separated one reads the same.
fn names_group(claim: &str, group: &str) -> bool {
    claim
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|name| name.trim_matches('"'))
        .any(|name| name == group)
}

/// `X-Queue-Token`: absent is for the operation to judge; present must be well-formed.
pub(super) fn queue_token(request: &Request) -> Result<Option<QueueToken>, BookingError> {
    header(request, "x-queue-token", BookingError::QueueTokenInvalid)?
        .map(QueueToken::parse)
        .transpose()
}

pub(super) fn idempotency_key(request: &Request) -> Result<Option<IdempotencyKey>, BookingError> {
    header(
        request,
        "idempotency-key",
        BookingError::InvalidIdempotencyKey,
    )?
    .map(IdempotencyKey::parse)
    .transpose()
}

fn header<'r>(
    request: &'r Request,
    name: &str,
    unreadable: BookingError,
) -> Result<Option<&'r str>, BookingError> {
    match request.headers().get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(Some).map_err(|_| unreadable),
    }
}

/// A path parameter the route guarantees; a missing one reads as empty and fails validation.
pub(super) fn path_parameter(request: &Request, name: &str) -> String {
    request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .unwrap_or_default()
        .to_owned()
}

pub(super) fn query_parameter(request: &Request, name: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::to_owned)
}

/// A JSON object body whose fields are all among `allowed`.
pub(super) struct JsonBody(Map<String, Value>);

/// The request's body as bytes (none for an empty one).
pub(super) fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// Every route refuses a body over its cap (`Endpoint::body_limit`), whether or not it reads
/// one: nothing is done for a request that large.
pub(super) fn within_body_limit(request: &Request, limit: usize) -> Result<(), BookingError> {
    if body_bytes(request).len() > limit {
        return Err(BookingError::PayloadTooLarge(limit));
    }
    Ok(())
}

impl JsonBody {
    /// The body of a request already held to its route's cap.
    pub(super) fn parse(request: &Request, allowed: &[&str]) -> Result<Self, BookingError> {
        let bytes = body_bytes(request);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(BookingError::InvalidRequest(
                "this endpoint needs a JSON object body".into(),
            ));
        }
        let value = super::json::parse_unique(bytes)
            .map_err(|e| BookingError::MalformedJson(e.to_string()))?;
        let Value::Object(fields) = value else {
            return Err(BookingError::InvalidRequest(
                "the body must be a JSON object".into(),
            ));
        };
        if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(BookingError::UnknownField(unknown.clone()));
        }
        Ok(JsonBody(fields))
    }

    /// A string field, or `invalid` when it is missing or not a string.
    pub(super) fn string(&self, name: &str, invalid: BookingError) -> Result<&str, BookingError> {
        self.0.get(name).and_then(Value::as_str).ok_or(invalid)
    }

    /// An optional field: absent is `None`, present must pass `read` or be `invalid`.
    pub(super) fn optional<T>(
        &self,
        name: &str,
        read: impl FnOnce(&Value) -> Option<T>,
        invalid: BookingError,
    ) -> Result<Option<T>, BookingError> {
        self.0.get(name).map(|v| read(v).ok_or(invalid)).transpose()
    }

    /// The whole object, for bodies a typed reader checks (a catalog concert).
    pub(super) fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    /// An integer field (`5`, not `5.0` or `"5"`), or `invalid`.
    pub(super) fn integer(&self, name: &str, invalid: BookingError) -> Result<i64, BookingError> {
        self.0.get(name).and_then(Value::as_i64).ok_or(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::{bearer_subject, names_group};

    #[test]
    fn a_trusted_server_takes_a_bearer_token_for_its_subject_or_itself() {
        // {"sub":"ana-42","cognito:groups":["fans"]} and {"iss":"x"}, base64url without padding.
        let ana = "eyJzdWIiOiJhbmEtNDIiLCJjb2duaXRvOmdyb3VwcyI6WyJmYW5zIl19";
        let no_sub = "eyJpc3MiOiJ4In0";
        assert_eq!(
            bearer_subject(&format!("Bearer h.{ana}.sig")).as_deref(),
            Some("ana-42")
        );
        assert_eq!(
            bearer_subject(&format!("bearer  h.{ana}.sig ")).as_deref(),
            Some("ana-42")
        );
        assert_eq!(bearer_subject("Bearer bob").as_deref(), Some("bob"));
        assert_eq!(bearer_subject(&format!("Bearer h.{no_sub}.sig")), None);
        assert_eq!(bearer_subject("Bearer h.!!!.sig"), None);
        assert_eq!(bearer_subject("Bearer "), None);
        assert_eq!(bearer_subject("Basic YW5hOnB3"), None);
        assert_eq!(bearer_subject("AWS4-HMAC-SHA256 Credential=x"), None);
    }

    #[test]
    fn the_groups_claim_is_read_as_api_gateway_flattens_it() {
        for claim in [
            "[operators]",
            "[fans operators]",
            "[\"fans\",\"operators\"]",
            "operators",
        ] {
            assert!(names_group(claim, "operators"), "{claim}");
        }
        for claim in ["", "[]", "[fans]", "[operators-read-only]", "[xoperators]"] {
            assert!(!names_group(claim, "operators"), "{claim}");
        }
    }
}
