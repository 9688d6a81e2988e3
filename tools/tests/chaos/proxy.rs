//! The fault proxy's control API (`scripts/fault_proxy.py`): set the fault rate and the
//! conflict window, read counts.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

pub struct FaultProxy {
    pub endpoint: String,
    http: reqwest::Client,
}

impl FaultProxy {
    /// The proxy at `TEST_FAULT_PROXY_ENDPOINT`; `None` (test skipped) only when DynamoDB tests
    /// are not required.
    pub fn from_env() -> Option<FaultProxy> {
        let Ok(endpoint) = std::env::var("TEST_FAULT_PROXY_ENDPOINT") else {
            assert!(
                std::env::var("REQUIRE_DYNAMODB").as_deref() != Ok("1"),
                "REQUIRE_DYNAMODB=1 but TEST_FAULT_PROXY_ENDPOINT is not set \
                 (scripts/test starts scripts/fault_proxy.py and sets it)"
            );
            eprintln!("TEST_FAULT_PROXY_ENDPOINT not set: chaos test skipped");
            return None;
        };
        Some(FaultProxy {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        })
    }

    /// Changes the configuration (`{"rate", "weights", "delayMs", "conflictWindowMs"}`, any
    /// subset).
    pub async fn configure(&self, change: Value) -> Value {
        let response = self
            .http
            .put(format!("{}/__faults", self.endpoint))
            .json(&change)
            .send()
            .await
            .expect("the fault proxy answers");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON from the fault proxy");
        assert_eq!(status, 200, "the fault proxy refused {change}: {body}");
        body
    }

    /// No faults yet (for a run's start-up: table, catalog), and the mix a run injects once
    /// `faults_on` turns them on: each fault alike, late answers 1.5 to 3 s late.
    pub async fn quiet_with_the_runs_mix(&self) {
        self.configure(json!({
            "rate": 0,
            "weights": {"throttle": 1, "server_error": 1, "lost_response": 1, "late_answer": 1},
            "delayMs": [1500, 3000],
        }))
        .await;
    }

    /// Counts of forwarded requests, of each injected fault and of the conflicts, in total and
    /// by operation (conflicts also by key).
    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/__faults/stats", self.endpoint))
            .send()
            .await
            .expect("the fault proxy answers")
            .json()
            .await
            .expect("JSON from the fault proxy")
    }

    pub async fn reset_stats(&self) {
        let response = self
            .http
            .delete(format!("{}/__faults/stats", self.endpoint))
            .send()
            .await
            .expect("the fault proxy answers");
        assert_eq!(response.status(), 200);
    }

    /// Faults at `rate`, and transactions in flight for `conflict_window_ms` (conflicting with
    /// the writes that meet them), until the guard is dropped, however the test ends (a
    /// panicking test must not leave the proxy failing requests).
    pub async fn faults_on(&self, rate: f64, conflict_window_ms: u64) -> FaultsOn {
        self.configure(json!({"rate": rate, "conflictWindowMs": conflict_window_ms}))
            .await;
        FaultsOn {
            endpoint: self.endpoint.clone(),
        }
    }
}

pub struct FaultsOn {
    endpoint: String,
}

impl Drop for FaultsOn {
    /// Blocking on purpose: `Drop` cannot await, and this must also run while unwinding.
    fn drop(&mut self) {
        let body = r#"{"rate": 0, "conflictWindowMs": 0}"#;
        let address = self.endpoint.trim_start_matches("http://");
        let sent = TcpStream::connect(address).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            write!(
                stream,
                "PUT /__faults HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            let mut answer = String::new();
            stream.read_to_string(&mut answer)?;
            Ok(answer)
        });
        match sent {
            Ok(answer) if answer.starts_with("HTTP/1.1 200") => {}
            other => {
                eprintln!("could not turn the fault proxy's faults and conflicts off: {other:?}")
            }
        }
    }
}
