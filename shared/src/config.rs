//! Configuration from the environment, checked once at start: a wrong value stops the function
//! with a message that names the variable.

use crate::booking::Settings;
use crate::domain::{AdmitPerTick, MaxActive, MaxHoldsPerSession};
use crate::store::{DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CALL_BUDGET};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} must be {expected}, got {value:?}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
        value: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub table_name: String,
    pub settings: Settings,
    /// `DYNAMODB_ATTEMPT_TIMEOUT_MS`: one DynamoDB attempt's ceiling, well below the function's
    /// timeout, so that a stalled request is retried or refused (503) instead of hanging.
    pub dynamodb_attempt_timeout: Duration,
    /// `DYNAMODB_CALL_BUDGET_MS`: one DynamoDB call's ceiling, its attempts and their backoff
    /// included, below the function's timeout: a call over it is answered 503 with Retry-After.
    pub dynamodb_call_budget: Duration,
    /// Take the caller from `X-User-Id` instead of the JWT claims: local runs and tests only.
    pub trust_user_header: bool,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        let number =
            |name: &'static str, default: i64, max: i64, expected: &'static str| match get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or(ConfigError::Invalid {
                        name,
                        expected,
                        value: raw,
                    }),
            };
        let table_name = match get("TABLE_NAME") {
            None => "ticketing".to_owned(),
            Some(raw) => {
                let valid = (3..=255).contains(&raw.len())
                    && raw
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
                if !valid {
                    return Err(ConfigError::Invalid {
                        name: "TABLE_NAME",
                        expected: "a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)",
                        value: raw,
                    });
                }
                raw
            }
        };
        let trust_user_header = match get("TRUST_USER_HEADER").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "TRUST_USER_HEADER",
                    expected: "true or false",
                    value: other.to_owned(),
                })
            }
        };
        let settings = Settings {
            hold_seconds: number(
                "HOLD_SECONDS",
                defaults.hold_seconds,
                86_400,
                "1 to 86400 seconds",
            )?,
            active_seconds: number(
                "ACTIVE_SECONDS",
                defaults.active_seconds,
                86_400,
                "1 to 86400 seconds",
            )?,
            admit_tick_seconds: number(
                "ADMIT_TICK_SECONDS",
                defaults.admit_tick_seconds as i64,
                60,
                "1 to 60 seconds",
            )? as u64,
            admit_per_tick: number(
                "ADMIT_PER_TICK",
                i64::from(defaults.admit_per_tick),
                i64::from(AdmitPerTick::MAX),
                "1 to 10000 users",
            )? as u32,
            max_active: number(
                "MAX_ACTIVE",
                i64::from(defaults.max_active),
                i64::from(MaxActive::MAX),
                "1 to 100000 tokens",
            )? as u32,
            waiting_idle_seconds: number(
                "WAITING_IDLE_SECONDS",
                defaults.waiting_idle_seconds,
                86_400,
                "1 to 86400 seconds",
            )?,
            active_per_free_seat: number(
                "ACTIVE_PER_FREE_SEAT",
                i64::from(defaults.active_per_free_seat),
                1_000,
                "1 to 1000 tokens per free seat",
            )? as u32,
            max_holds_per_session: number(
                "MAX_HOLDS_PER_SESSION",
                i64::from(defaults.max_holds_per_session),
                i64::from(MaxHoldsPerSession::MAX),
                "1 to 100 holds",
            )? as u32,
        };
        let dynamodb_attempt_timeout = Duration::from_millis(number(
            "DYNAMODB_ATTEMPT_TIMEOUT_MS",
            DEFAULT_ATTEMPT_TIMEOUT.as_millis() as i64,
            30_000,
            "1 to 30000 milliseconds",
        )? as u64);
        let dynamodb_call_budget = Duration::from_millis(number(
            "DYNAMODB_CALL_BUDGET_MS",
            DEFAULT_CALL_BUDGET.as_millis() as i64,
            60_000,
            "1 to 60000 milliseconds",
        )? as u64);
        Ok(Config {
            table_name,
            settings,
            dynamodb_attempt_timeout,
            dynamodb_call_budget,
            trust_user_header,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_are_those_of_the_api() {
        let c = config(&[]).unwrap();
        assert_eq!(c.settings, Settings::default());
        assert_eq!(c.table_name, "ticketing");
        assert_eq!(c.dynamodb_attempt_timeout, DEFAULT_ATTEMPT_TIMEOUT);
        assert_eq!(c.dynamodb_call_budget, DEFAULT_CALL_BUDGET);
        assert!(!c.trust_user_header);
    }

    #[test]
    fn values_are_read_and_checked() {
        let c = config(&[
            ("HOLD_SECONDS", "60"),
            ("TRUST_USER_HEADER", "true"),
            ("TABLE_NAME", "t-1"),
        ])
        .unwrap();
        assert_eq!(c.settings.hold_seconds, 60);
        assert!(c.trust_user_header);
        for (name, bad) in [
            ("HOLD_SECONDS", "0"),
            ("HOLD_SECONDS", "five"),
            ("ADMIT_PER_TICK", "10001"),
            ("ACTIVE_PER_FREE_SEAT", "0"),
            ("MAX_HOLDS_PER_SESSION", "101"),
            ("ADMIT_TICK_SECONDS", "61"),
            ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "0"),
            ("DYNAMODB_CALL_BUDGET_MS", "60001"),
            ("TRUST_USER_HEADER", "yes"),
            ("TABLE_NAME", "a b"),
        ] {
            let error = config(&[(name, bad)]).unwrap_err().to_string();
            assert!(error.starts_with(name), "{error}");
            assert!(error.contains(bad), "{error}");
        }
    }
}
