//! The HTTP contract (`openapi.yaml`) over API Gateway's payload-2.0 requests: routes, request parsing,
//! handlers, and the one mapping from domain errors to problem+json.

mod caching;
mod edge;
mod handlers;
mod json;
mod problem;
mod request;
mod routes;
mod trace;

use std::sync::Arc;

use crate::config::Config;
use crate::domain::SystemClock;
use crate::metrics::MetricsSink;
use crate::store::DynamoStore;
use crate::Ticketing;

pub use caching::{entity_tag, seconds_to_next_tick, Caching};
pub use edge::{Edge, OriginSecret, ORIGIN_VERIFY_HEADER};
pub use handlers::handle;
pub use problem::{describe, problem_response, slug, ProblemTypes};
pub use request::{MAX_BODY_BYTES, MAX_CONCERT_BODY_BYTES, OPERATORS_GROUP};
pub use routes::{allowed_methods, find_route, Endpoint, Route, ROUTES};
pub use trace::{stamp, RequestId, MAX_CALLER_REQUEST_ID, REQUEST_ID_HEADER};

/// What every request handler needs, built once per process.
#[derive(Clone)]
pub struct App {
    pub booking: Ticketing,
    pub trust_user_header: bool,
    pub metrics: MetricsSink,
    /// Problem `type` URIs, and whether fans must come through the API's edge.
    pub edge: Edge,
}

impl App {
    /// The deployed shape: configuration from the environment, DynamoDB as a Lambda function
    /// reaches it (`AWS_ENDPOINT_URL_DYNAMODB` points it at a local server). Everything is
    /// checked and built here, before the first invocation. No payment provider: see
    /// [`App::for_endpoint`].
    pub fn from_env() -> Result<Self, lambda_http::Error> {
        Self::built(None)
    }

    /// The deployed shape for one endpoint: the two that move money in provider mode (a charge,
    /// the provider's webhook) also get the provider, with its secrets read at start (from
    /// Secrets Manager in Lambda, see `stripe::secrets`), and refuse to start without them;
    /// the others never read them.
    pub async fn for_endpoint(endpoint: Endpoint) -> Result<Self, lambda_http::Error> {
        if !endpoint.handles_payments() {
            return Self::built(None);
        }
        let config = Config::from_env()?;
        if config.topup_mode == crate::config::TopUpMode::Direct {
            return Self::built(None);
        }
        let secrets =
            crate::stripe::secrets::read(crate::stripe::SECRETS, |n| std::env::var(n).ok()).await?;
        let payments = crate::stripe::payments(&config, |name| {
            secrets
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        })?;
        Self::built(payments)
    }

    fn built(payments: Option<crate::booking::Payments>) -> Result<Self, lambda_http::Error> {
        let config = Config::from_env()?;
        let store = DynamoStore::for_lambda(
            config.table_name,
            config.dynamodb_attempt_timeout,
            config.dynamodb_call_budget,
        )?;
        let mut booking = Ticketing::new(Arc::new(store), Arc::new(SystemClock), config.settings)
            .with_rate_limit(config.rate_limit);
        if let Some(payments) = payments {
            booking = booking.with_payments(payments);
        }
        Ok(App {
            booking,
            trust_user_header: config.trust_user_header,
            metrics: MetricsSink::Stdout,
            edge: Edge {
                problem_types: config.problem_types,
                origin_secret: config.origin_secret,
            },
        })
    }
}
