//! The DynamoDB store: one table, items mapped by serde_dynamo, every race decided by a
//! condition expression or a `TransactWriteItems`. One file per concern, each holding its calls
//! and, beside each, the `meter_*` function that says what it sends (the simulator charges the
//! in-memory store with those; `tests/meter.rs` holds them to the wire).

mod admission;
mod catalog;
mod contention;
mod https;
mod idempotency;
mod inventory;
mod keys;
#[cfg(test)]
mod maxima;
pub mod meter;
mod payments;
mod queue;
mod rate;
mod request;
mod reservations;
mod size;
mod slots;
mod table;
mod topups;
mod wallet;

use aws_sdk_dynamodb::Client;

use self::request::Transaction;
use super::*;

pub use self::contention::CONFLICT_BUDGET;
pub use self::request::{conflict_pause_ms, CONFLICT_RETRIES};
pub use self::table::Expiry;
pub(in crate::store) use self::{
    admission::*, catalog::*, idempotency::*, payments::*, queue::*, rate::*, reservations::*,
    slots::*, topups::*, wallet::*,
};

/// The attribute DynamoDB's TTL reads; TTL only collects garbage, conditions compare it to now.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// How a store reaches DynamoDB.
#[derive(Debug, Clone, Default)]
pub struct Connection<'a> {
    /// A local DynamoDB (DynamoDB Local) instead of AWS.
    pub endpoint: Option<&'a str>,
    /// The most one attempt of a request may take before it is abandoned and retried. `None`
    /// for local servers (an emulator on a busy test machine may answer slowly under a crowd,
    /// and abandoning its queued attempts only piles retries onto it).
    pub attempt_timeout: Option<std::time::Duration>,
    /// The most one call may take, every attempt and the backoff between them included: kept
    /// under the function's timeout, so that a slow DynamoDB is answered 503 with Retry-After
    /// by the function rather than a bare 500 by API Gateway once the function is cut off.
    pub call_budget: Option<std::time::Duration>,
    pub log: Option<meter::RequestLog>,
}

/// One attempt's ceiling in Lambda when none is configured: DynamoDB answers in milliseconds.
pub const DEFAULT_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1_000);
/// One call's ceiling in Lambda, attempts and backoff included, when none is configured: well
/// inside the shortest function timeout (5 s), with room left to answer.
pub const DEFAULT_CALL_BUDGET: std::time::Duration = std::time::Duration::from_millis(3_000);

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A client from the standard AWS environment: profiles, the credential chain, the system's
    /// certificates, for the tools on a developer's machine. With `endpoint` (a local DynamoDB),
    /// requests go there, with placeholder credentials and region when none are
    /// configured.
    pub async fn connect(table: impl Into<String>, endpoint: Option<&str>) -> Self {
        Self::connect_with(
            table,
            Connection {
                endpoint,
                ..Connection::default()
            },
        )
        .await
    }

    /// As [`DynamoStore::connect`], logging every request the client transmits.
    pub async fn connect_logged(
        table: impl Into<String>,
        endpoint: Option<&str>,
        log: meter::RequestLog,
    ) -> Self {
        Self::connect_with(
            table,
            Connection {
                endpoint,
                log: Some(log),
                ..Connection::default()
            },
        )
        .await
    }

    pub async fn connect_with(table: impl Into<String>, connection: Connection<'_>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(
                aws_config::meta::region::RegionProviderChain::default_provider()
                    .or_else("us-east-1"),
            )
            .timeout_config(timeouts(&connection));
        if let Some(endpoint) = connection.endpoint {
            loader = loader
                .endpoint_url(endpoint)
                .stalled_stream_protection(local_stream_protection());
            if let Some(credentials) = local_credentials() {
                loader = loader.credentials_provider(credentials);
            }
        }
        let config = aws_sdk_dynamodb::config::Builder::from(&loader.load().await);
        Self::with_interceptors(config, table, connection.log)
    }

    /// A client for a Lambda function, from what Lambda puts in its environment: `AWS_REGION`
    /// and the role's credentials (`AWS_ENDPOINT_URL_DYNAMODB` points it at a local DynamoDB).
    /// It reads no profile file, builds no credential chain and loads no certificate store (see
    /// `https`): each costs a cold start milliseconds, and a function has no use for them.
    pub fn for_lambda(
        table: impl Into<String>,
        attempt_timeout: std::time::Duration,
        call_budget: std::time::Duration,
    ) -> Result<Self, StoreError> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok();
        Self::for_lambda_with(
            table,
            Connection {
                endpoint: endpoint.as_deref(),
                attempt_timeout: Some(attempt_timeout),
                call_budget: Some(call_budget),
                log: None,
            },
        )
    }

    /// As [`DynamoStore::for_lambda`], reaching DynamoDB as `connection` says.
    pub fn for_lambda_with(
        table: impl Into<String>,
        connection: Connection<'_>,
    ) -> Result<Self, StoreError> {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
        let http =
            https::client().map_err(|e| StoreError::Request(format!("configuring TLS: {e}")))?;
        let mut config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new(region))
            .http_client(http)
            .timeout_config(timeouts(&connection))
            .credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        if let Some(endpoint) = connection.endpoint {
            config = config
                .endpoint_url(endpoint)
                .stalled_stream_protection(local_stream_protection());
            if let Some(credentials) = local_credentials() {
                config = config.credentials_provider(credentials);
            }
        }
        Ok(Self::with_interceptors(config, table, connection.log))
    }

    fn with_interceptors(
        config: aws_sdk_dynamodb::config::Builder,
        table: impl Into<String>,
        log: Option<meter::RequestLog>,
    ) -> Self {
        // Every call of a request shares the request's deadline (`crate::deadline`).
        let mut config = config
            .interceptor(request::ThrottleCounter)
            .sleep_impl(crate::deadline::DeadlineSleep);
        if let Some(log) = log {
            config = config.interceptor(log);
        }
        Self::new(Client::from_conf(config.build()), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// A stalled attempt is abandoned and retried, and a call out of budget refused with a 503, well
/// before the function's own timeout. Local servers handle one request at a time: connections
/// may wait their turn.
fn timeouts(connection: &Connection<'_>) -> aws_sdk_dynamodb::config::timeout::TimeoutConfig {
    let mut timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder();
    timeouts.set_operation_attempt_timeout(connection.attempt_timeout);
    timeouts.set_operation_timeout(connection.call_budget);
    if connection.endpoint.is_some() {
        timeouts = timeouts.connect_timeout(std::time::Duration::from_secs(30));
    }
    timeouts.build()
}

/// A local DynamoDB on a busy test machine may take seconds to start answering; the SDK's
/// stalled-stream protection would abandon such an attempt and send it again, though the first
/// may have been applied (a queue number drawn twice, say). Locally, a slow answer is waited
/// for; against AWS, the attempt timeout bounds it.
fn local_stream_protection() -> aws_sdk_dynamodb::config::StalledStreamProtectionConfig {
    aws_sdk_dynamodb::config::StalledStreamProtectionConfig::disabled()
}

/// Placeholder credentials for a local endpoint, when the environment has none.
fn local_credentials() -> Option<aws_sdk_dynamodb::config::Credentials> {
    std::env::var_os("AWS_ACCESS_KEY_ID").is_none().then(|| {
        aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local-endpoint")
    })
}

fn plain_outcome(tx: Transaction) -> CommitOutcome {
    match tx {
        Transaction::Committed => CommitOutcome::Committed,
        Transaction::Cancelled(_) => CommitOutcome::Refused,
    }
}
