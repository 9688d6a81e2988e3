//! The sample events of `events/` (the files `cargo lambda invoke --data-file` takes), fed to
//! the handler of the function each is named after. They carry placeholder tokens and ids; the
//! `with_*` helpers swap in live ones.

use std::path::PathBuf;

use lambda_http::{Body, Response};
use serde_json::Value;
use ticketing::http::{handle, App, ROUTES};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn event(function: &str) -> Value {
    let path = root().join("events").join(format!("{function}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("event files are JSON")
}

/// Feeds an event to the handler of the function it is named after.
pub async fn invoke(app: &App, function: &str, event: &Value) -> (u16, Value) {
    let route = ROUTES
        .iter()
        .find(|r| r.function == function)
        .unwrap_or_else(|| panic!("no route is served by {function}"));
    assert_eq!(
        event["routeKey"],
        format!("{} {}", route.method, route.path),
        "events/{function}.json has the route key of its function"
    );
    let request = lambda_http::request::from_str(&event.to_string()).expect("a payload 2.0 event");
    // Boxed: unboxed, the handler's large future overflows a debug build's test stack.
    let response: Response<Body> = Box::pin(handle(app, route.endpoint, request)).await;
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
        _ => Value::Null,
    };
    (response.status().as_u16(), body)
}

pub fn with_token(mut event: Value, token: &Value) -> Value {
    event["headers"]["x-queue-token"] = token.clone();
    event
}

pub fn with_path(mut event: Value, name: &str, id: &Value) -> Value {
    let id = id.as_str().unwrap();
    let placeholder = event["pathParameters"][name].as_str().unwrap().to_owned();
    event["pathParameters"][name] = id.into();
    event["rawPath"] = event["rawPath"]
        .as_str()
        .unwrap()
        .replace(&placeholder, id)
        .into();
    event
}

pub fn with_body(mut event: Value, body: Value) -> Value {
    event["body"] = body.to_string().into();
    event
}
