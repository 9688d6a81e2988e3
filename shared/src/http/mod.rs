//! The HTTP contract (`openapi.yaml`) over API Gateway's payload-2.0 requests: routes, request parsing,
//! handlers, and the one mapping from domain errors to problem+json.

mod handlers;
mod problem;
mod request;
mod routes;

use std::sync::Arc;

use crate::config::Config;
use crate::domain::SystemClock;
use crate::metrics::MetricsSink;
use crate::store::DynamoStore;
use crate::Ticketing;

pub use handlers::handle;
pub use problem::{describe, problem_response};
pub use request::{MAX_BODY_BYTES, MAX_CONCERT_BODY_BYTES};
pub use routes::{allowed_methods, find_route, Endpoint, Route, ROUTES};

/// What every request handler needs, built once per process.
#[derive(Clone)]
pub struct App {
    pub booking: Ticketing,
    pub trust_user_header: bool,
    pub metrics: MetricsSink,
}

impl App {
    /// The deployed shape: configuration from the environment, DynamoDB as a Lambda function
    /// reaches it (`AWS_ENDPOINT_URL_DYNAMODB` points it at a local server). Everything is
    /// checked and built here, before the first invocation.
    pub fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let store = DynamoStore::for_lambda(
            config.table_name,
            config.dynamodb_attempt_timeout,
            config.dynamodb_call_budget,
        )?;
        let booking = Ticketing::new(Arc::new(store), Arc::new(SystemClock), config.settings);
        Ok(App {
            booking,
            trust_user_header: config.trust_user_header,
            metrics: MetricsSink::Stdout,
        })
    }
}
