//! Stripe, the payment provider of `TOPUP_MODE=provider`: creating payments, and verifying the
//! webhook's signatures.

pub mod client;
pub mod secrets;
pub mod signature;

pub use client::StripeClient;

use std::sync::Arc;

use crate::booking::Payments;
use crate::config::{Config, ConfigError, TopUpMode};

/// The Stripe secrets, each with the variable that names its Secrets Manager secret in Lambda.
pub const SECRETS: &[(&str, &str)] = &[
    ("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY_SECRET_ID"),
    ("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_ID"),
];

/// Provider mode's parts from `config` and the two secrets `secret` names
/// (`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`); `None` in direct mode. A secret that is
/// missing stops the start, naming it but never showing it.
pub fn payments(
    config: &Config,
    secret: impl Fn(&str) -> Option<String>,
) -> Result<Option<Payments>, ConfigError> {
    if config.topup_mode == TopUpMode::Direct {
        return Ok(None);
    }
    let present = |name: &'static str| {
        secret(name)
            .filter(|s| !s.trim().is_empty())
            .ok_or(ConfigError::Missing(name))
    };
    let secret_key = present("STRIPE_SECRET_KEY")?;
    let webhook_secret = present("STRIPE_WEBHOOK_SECRET")?;
    let client = StripeClient::new(&config.stripe_api_base, &secret_key)
        .map_err(|e| ConfigError::Provider(e.to_string()))?;
    Ok(Some(Payments {
        provider: Arc::new(client),
        webhook_secret,
        max_per_day: config.max_topups_per_day,
    }))
}
