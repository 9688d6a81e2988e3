//! A careful client of the API: a transport error, a timeout or a 5xx is answered by sending the
//! same request again (same body, same `Idempotency-Key`) after the server's `Retry-After` or a
//! growing pause. Every answer is tallied by endpoint, and every 5xx is checked for the shape
//! the API promises (`openapi.yaml`, docs/api.md's "Retrying requests"): `503` problem+json with `Retry-After` and no internals.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

/// How long a client waits for an answer before it gives up on that attempt. Shorter than the
/// proxy's late answers can add up to, so that some requests time out and are sent again.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);

/// Words a 5xx body must not carry: they would leak the store behind the API.
const INTERNALS: &[&str] = &[
    "dynamodb",
    "aws",
    "sdk",
    "exception",
    "throughput",
    "throttl",
    "dispatch",
    "transact",
    "conditional",
    "moto",
    "127.0.0.1",
];

pub struct Api {
    base: String,
    http: reqwest::Client,
    table: String,
    tally: Mutex<BTreeMap<&'static str, BTreeMap<String, u64>>>,
    bad_5xx: Mutex<Vec<String>>,
}

/// One request, sent as often as it takes: the same each time.
#[derive(Clone, Debug)]
pub struct Request {
    pub endpoint: &'static str,
    method: Method,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Request {
    pub fn get(endpoint: &'static str, path: impl Into<String>) -> Request {
        Request {
            endpoint,
            method: Method::GET,
            path: path.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn post(endpoint: &'static str, path: impl Into<String>, body: Option<Value>) -> Request {
        Request {
            method: Method::POST,
            body,
            ..Request::get(endpoint, path)
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Request {
        self.headers.push((name, value.into()));
        self
    }

    pub fn token(self, token: &str) -> Request {
        self.header("X-Queue-Token", token)
    }
}

#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// `409 SEAT_UNAVAILABLE`, or `200` when there is no code.
    pub fn describe(&self) -> String {
        match self.code() {
            "" => self.status.to_string(),
            code => format!("{} {code}", self.status),
        }
    }
}

/// What came back from one attempt.
enum Attempt {
    Answered(Reply),
    /// A 5xx: the server says to try again (after `Retry-After` seconds).
    Unavailable(Option<u64>),
    /// No answer: a transport error or a timeout.
    Transport,
}

/// A request's final answer (not a 5xx), and how it got there.
#[derive(Debug)]
pub struct Sent {
    pub reply: Reply,
    /// Some earlier attempt may have reached the server: its effect may already be there.
    pub retried: bool,
    /// Some earlier attempt ended without any answer (transport error or timeout).
    pub after_transport_error: bool,
}

/// The deadline passed with no answer but 5xx and transport errors: the outcome is unknown.
#[derive(Debug)]
pub struct GaveUp {
    pub attempts: u32,
    /// Some attempt ended without any answer: the server may still be running it.
    pub after_transport_error: bool,
}

impl Api {
    pub fn new(base: &str, table: &str) -> Api {
        Api {
            base: base.to_owned(),
            http: reqwest::Client::builder()
                .timeout(ATTEMPT_TIMEOUT)
                .build()
                .unwrap(),
            table: table.to_owned(),
            tally: Mutex::default(),
            bad_5xx: Mutex::default(),
        }
    }

    /// Sends `request` for `user` until it is answered with anything but a 5xx, or `deadline`.
    pub async fn send(
        &self,
        user: &str,
        request: &Request,
        deadline: Instant,
    ) -> Result<Sent, GaveUp> {
        let mut attempts = 0;
        let mut after_transport_error = false;
        loop {
            if Instant::now() >= deadline {
                return Err(GaveUp {
                    attempts,
                    after_transport_error,
                });
            }
            attempts += 1;
            let pause = match self.attempt(user, request).await {
                Attempt::Answered(reply) => {
                    return Ok(Sent {
                        reply,
                        retried: attempts > 1,
                        after_transport_error,
                    })
                }
                Attempt::Unavailable(retry_after) => {
                    Duration::from_secs(retry_after.unwrap_or(1)) + jitter(250)
                }
                Attempt::Transport => {
                    after_transport_error = true;
                    backoff(attempts)
                }
            };
            pause_until(pause, deadline).await;
        }
    }

    /// One attempt, tallied; a 5xx is checked against the contract.
    async fn attempt(&self, user: &str, request: &Request) -> Attempt {
        let mut builder = self
            .http
            .request(
                request.method.clone(),
                format!("{}{}", self.base, request.path),
            )
            .header("X-User-Id", user);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let answer = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let header = |name| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                        .map(str::to_owned)
                };
                let content_type = header("content-type");
                let retry_after = header("retry-after");
                response
                    .text()
                    .await
                    .map(|text| (status, content_type, retry_after, text))
            }
            Err(error) => Err(error),
        };
        let (status, content_type, retry_after, text) = match answer {
            Ok(answer) => answer,
            Err(error) => {
                let kind = if error.is_timeout() {
                    "timeout"
                } else {
                    "transport error"
                };
                self.count(request.endpoint, kind.to_owned());
                return Attempt::Transport;
            }
        };
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let reply = Reply { status, body };
        self.count(request.endpoint, reply.describe());
        if status < 500 {
            return Attempt::Answered(reply);
        }
        self.check_5xx(request, &reply, content_type, retry_after.as_deref(), &text);
        Attempt::Unavailable(retry_after.and_then(|s| s.trim().parse().ok()))
    }

    fn check_5xx(
        &self,
        request: &Request,
        reply: &Reply,
        content_type: Option<String>,
        retry_after: Option<&str>,
        text: &str,
    ) {
        let mut wrong = Vec::new();
        if reply.status != 503 {
            wrong.push(format!("status {} (only 503 is retryable)", reply.status));
        }
        if content_type.as_deref() != Some("application/problem+json") {
            wrong.push(format!("content-type {content_type:?}"));
        }
        if retry_after.is_none_or(|s| s.trim().parse::<u64>().is_err()) {
            wrong.push(format!("Retry-After {retry_after:?}"));
        }
        if reply.body["status"] != reply.status || !reply.body["code"].is_string() {
            wrong.push("not a problem with status and code".to_owned());
        }
        let lower = text.to_ascii_lowercase();
        let leaks: Vec<&str> = INTERNALS
            .iter()
            .copied()
            .chain([self.table.as_str()])
            .filter(|word| lower.contains(&word.to_ascii_lowercase()))
            .collect();
        if !leaks.is_empty() {
            wrong.push(format!("internals {leaks:?}"));
        }
        if !wrong.is_empty() {
            self.bad_5xx.lock().unwrap().push(format!(
                "{} {}: {}; body {text}",
                request.method,
                request.path,
                wrong.join(", ")
            ));
        }
    }

    fn count(&self, endpoint: &'static str, outcome: String) {
        *self
            .tally
            .lock()
            .unwrap()
            .entry(endpoint)
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }

    /// Answers by endpoint and outcome (`200`, `409 SEAT_UNAVAILABLE`, `503 SERVICE_UNAVAILABLE`,
    /// `timeout`, …) since the last call; starts a new tally.
    pub fn take_tally(&self) -> BTreeMap<&'static str, BTreeMap<String, u64>> {
        std::mem::take(&mut *self.tally.lock().unwrap())
    }

    /// Every 5xx that broke the contract's promise about them.
    pub fn bad_5xx(&self) -> Vec<String> {
        self.bad_5xx.lock().unwrap().clone()
    }
}

/// 0.25 s, 0.5 s, 1 s, then 2 s, each with up to a quarter second of jitter.
fn backoff(attempts: u32) -> Duration {
    Duration::from_millis(250 << attempts.saturating_sub(1).min(3)) + jitter(250)
}

pub fn jitter(max_ms: u64) -> Duration {
    Duration::from_millis(fastrand::u64(0..=max_ms))
}

/// Sleeps for `pause`, but not past `deadline`.
pub async fn pause_until(pause: Duration, deadline: Instant) {
    let left = deadline.saturating_duration_since(Instant::now());
    tokio::time::sleep(pause.min(left)).await;
}
