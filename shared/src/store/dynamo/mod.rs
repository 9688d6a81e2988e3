//! The DynamoDB store: one table, items mapped by serde_dynamo, every race decided by a
//! condition expression or a `TransactWriteItems`. One file per concern, each holding its calls
//! and, beside each, the `meter_*` function that says what it sends (the simulator charges the
//! in-memory store with those; `tests/meter.rs` holds them to the wire).

mod admission;
mod catalog;
mod idempotency;
mod inventory;
mod keys;
pub mod meter;
mod payments;
mod queue;
mod request;
mod reservations;
mod size;
mod table;
mod wallet;

use aws_sdk_dynamodb::Client;

use self::request::Transaction;
use super::*;

pub(in crate::store) use self::{
    admission::*, catalog::*, idempotency::*, payments::*, queue::*, reservations::*, wallet::*,
};

/// The attribute DynamoDB's TTL reads; TTL only collects garbage, conditions compare it to now.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// How a store reaches DynamoDB.
#[derive(Debug, Clone, Default)]
pub struct Connection<'a> {
    /// A local DynamoDB or moto instead of AWS.
    pub endpoint: Option<&'a str>,
    /// The most one attempt of a request may take before it is abandoned and retried. `None`
    /// for local servers (moto serves one request at a time, so a queue of them is normal
    /// there, and abandoning queued attempts only piles retries onto it).
    pub attempt_timeout: Option<std::time::Duration>,
    pub log: Option<meter::RequestLog>,
}

/// One attempt's ceiling in Lambda when none is configured: DynamoDB answers in milliseconds,
/// and three attempts of this fit well inside the shortest function timeout (5 s).
pub const DEFAULT_ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1_000);

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

    /// A client from the standard AWS environment. With `endpoint` (a local DynamoDB or moto),
    /// requests go there, with placeholder credentials and region when none are configured.
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
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(
            aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1"),
        );
        // A stalled attempt is abandoned and retried (or, with no retry left, refused with a
        // 503) well before the function's own timeout.
        let mut timeouts = aws_config::timeout::TimeoutConfig::builder();
        timeouts.set_operation_attempt_timeout(connection.attempt_timeout);
        if connection.endpoint.is_some() {
            // Local servers handle one request at a time: connections may wait their turn.
            timeouts = timeouts.connect_timeout(std::time::Duration::from_secs(30));
        }
        loader = loader.timeout_config(timeouts.build());
        if let Some(endpoint) = connection.endpoint {
            loader = loader.endpoint_url(endpoint);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "local",
                    "local",
                    None,
                    None,
                    "local-endpoint",
                ));
            }
        }
        let mut config = aws_sdk_dynamodb::config::Builder::from(&loader.load().await)
            .interceptor(request::ThrottleCounter);
        if let Some(log) = connection.log {
            config = config.interceptor(log);
        }
        Self::new(Client::from_conf(config.build()), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

fn plain_outcome(tx: Transaction) -> CommitOutcome {
    match tx {
        Transaction::Committed => CommitOutcome::Committed,
        Transaction::Cancelled(_) => CommitOutcome::Refused,
    }
}
