//! Configuration from the environment, checked once at start: a wrong value stops the function
//! with a message that names the variable.
//!
//! Two shortcuts exist for local runs and tests only: demo money (`TOPUP_MODE=direct`, a charge
//! credits at once) and the trusted `X-User-Id` header. A function started by Lambda (it has
//! `AWS_LAMBDA_FUNCTION_NAME`) refuses to start with demo money unless `ALLOW_DEMO_MONEY=true`
//! says so a second time, and with the trusted header at all: one setting changed by hand in a
//! console must not let money in unpaid or a fan act as another.

use crate::booking::{RateLimit, Settings};
use crate::domain::{AdmitPerTick, MaxActive, MaxHoldsPerSession};
use crate::http::{OriginSecret, ProblemTypes};
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
    #[error("refusing to start in Lambda: {0}")]
    RefusedInLambda(&'static str),
    #[error("{0} must be set in provider mode")]
    Missing(&'static str),
    #[error("the payment provider's client could not be built: {0}")]
    Provider(String),
    #[error("{name}: the secret could not be read: {why}")]
    Secret { name: &'static str, why: String },
}

/// How money enters a balance (`TOPUP_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopUpMode {
    /// A charge credits at once: demo money, for the local server and tests.
    Direct,
    /// A charge creates a payment at the provider; its confirmed webhook credits.
    Provider,
}

/// Top-ups a fan may start a day in provider mode, unless `MAX_TOPUPS_PER_DAY` says otherwise.
pub const DEFAULT_MAX_TOPUPS_PER_DAY: u32 = 10;
/// The payment provider's API, unless `STRIPE_API_BASE` points elsewhere (a local fake).
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

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
    /// `TOPUP_MODE`: `direct` (the default) or `provider`.
    pub topup_mode: TopUpMode,
    /// `ALLOW_DEMO_MONEY=true`: the second word a Lambda function needs to run in direct mode.
    pub allow_demo_money: bool,
    /// `MAX_TOPUPS_PER_DAY`: top-ups one fan may start a day (provider mode).
    pub max_topups_per_day: u32,
    /// `STRIPE_API_BASE`: where PaymentIntents are created (`https://`, or `http://` for a fake).
    pub stripe_api_base: String,
    /// `RATE_LIMIT_PER_MINUTE` and `RATE_LIMIT_BURST`: each fan's writes (`booking::rate`).
    pub rate_limit: RateLimit,
    /// `PROBLEM_TYPE_BASE`: the base of problem `type` URIs, an absolute `https://` URL ending
    /// in `/` or `#` (the hosted `problems.html#`); unset, the local server's `/problems/`.
    pub problem_types: ProblemTypes,
    /// `ORIGIN_VERIFY_SECRET`: the secret the API's edge adds to every request it forwards;
    /// set, a fan's request without it is refused (`http::Edge`).
    pub origin_secret: Option<OriginSecret>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Settings::default();
        let ranged = |name: &'static str,
                      default: i64,
                      range: std::ops::RangeInclusive<i64>,
                      expected: &'static str| match get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or(ConfigError::Invalid {
                    name,
                    expected,
                    value: raw,
                }),
        };
        let number = |name: &'static str, default: i64, max: i64, expected: &'static str| {
            ranged(name, default, 1..=max, expected)
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
        let flag = |name: &'static str| match get(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ConfigError::Invalid {
                name,
                expected: "true or false",
                value: other.to_owned(),
            }),
        };
        let trust_user_header = flag("TRUST_USER_HEADER")?;
        let allow_demo_money = flag("ALLOW_DEMO_MONEY")?;
        let topup_mode = match get("TOPUP_MODE").as_deref() {
            None | Some("direct") => TopUpMode::Direct,
            Some("provider") => TopUpMode::Provider,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "TOPUP_MODE",
                    expected: "direct or provider",
                    value: other.to_owned(),
                })
            }
        };
        if get("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            if trust_user_header {
                return Err(ConfigError::RefusedInLambda(
                    "TRUST_USER_HEADER=true would let any caller act as any fan",
                ));
            }
            if topup_mode == TopUpMode::Direct && !allow_demo_money {
                return Err(ConfigError::RefusedInLambda(
                    "TOPUP_MODE=direct credits unpaid money; set ALLOW_DEMO_MONEY=true as well \
                     to mean it",
                ));
            }
        }
        let stripe_api_base = match get("STRIPE_API_BASE") {
            None => DEFAULT_STRIPE_API_BASE.to_owned(),
            Some(raw) => {
                let base = raw.trim().trim_end_matches('/');
                let host = base
                    .strip_prefix("https://")
                    .or_else(|| base.strip_prefix("http://"));
                if host.is_none_or(str::is_empty) {
                    return Err(ConfigError::Invalid {
                        name: "STRIPE_API_BASE",
                        expected: "an http(s) URL",
                        value: raw,
                    });
                }
                base.to_owned()
            }
        };
        let problem_types = match get("PROBLEM_TYPE_BASE") {
            None => ProblemTypes::default(),
            Some(raw) => ProblemTypes::absolute(raw.trim()).ok_or(ConfigError::Invalid {
                name: "PROBLEM_TYPE_BASE",
                expected: "an absolute https:// URL ending in / or # (e.g. \
                           https://d111.cloudfront.net/problems.html#)",
                value: raw,
            })?,
        };
        let origin_secret = match get("ORIGIN_VERIFY_SECRET") {
            None => None,
            // The value is a secret: the error names its length, never the value.
            Some(raw) => Some(OriginSecret::new(&raw).ok_or(ConfigError::Invalid {
                name: "ORIGIN_VERIFY_SECRET",
                expected: "32 to 256 characters of A-Z a-z 0-9 - _ . ~ + / =",
                value: format!("(a value of {} characters, not shown)", raw.chars().count()),
            })?),
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
            active_idle_seconds: ranged(
                "ACTIVE_IDLE_SECONDS",
                defaults.active_idle_seconds,
                crate::booking::ACTIVE_IDLE_RANGE,
                "30 to 1800 seconds",
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
        let max_topups_per_day = number(
            "MAX_TOPUPS_PER_DAY",
            i64::from(DEFAULT_MAX_TOPUPS_PER_DAY),
            1_000,
            "1 to 1000 top-ups",
        )? as u32;
        let rate_limit = RateLimit::new(
            number(
                "RATE_LIMIT_PER_MINUTE",
                i64::from(RateLimit::DEFAULT_PER_MINUTE),
                i64::from(RateLimit::MAX_PER_MINUTE),
                "1 to 60000 requests a minute",
            )? as u32,
            number(
                "RATE_LIMIT_BURST",
                i64::from(RateLimit::DEFAULT_BURST),
                i64::from(RateLimit::MAX_BURST),
                "1 to 10000 requests",
            )? as u32,
        )
        .unwrap_or_default();
        Ok(Config {
            table_name,
            rate_limit,
            settings,
            dynamodb_attempt_timeout,
            dynamodb_call_budget,
            trust_user_header,
            topup_mode,
            allow_demo_money,
            max_topups_per_day,
            stripe_api_base,
            problem_types,
            origin_secret,
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
        assert_eq!(c.topup_mode, TopUpMode::Direct);
        assert!(!c.allow_demo_money);
        assert_eq!(c.max_topups_per_day, DEFAULT_MAX_TOPUPS_PER_DAY);
        assert_eq!(c.rate_limit, RateLimit::default());
        assert_eq!(c.stripe_api_base, DEFAULT_STRIPE_API_BASE);
        assert_eq!(c.problem_types, ProblemTypes::default());
        assert_eq!(c.origin_secret, None);
    }

    #[test]
    fn the_problem_type_base_is_an_absolute_https_url() {
        let hosted = "https://d111.cloudfront.net/problems.html#";
        let c = config(&[("PROBLEM_TYPE_BASE", hosted)]).unwrap();
        assert_eq!(c.problem_types, ProblemTypes::absolute(hosted).unwrap());
        assert_eq!(
            c.problem_types.uri("SOLD_OUT"),
            "https://d111.cloudfront.net/problems.html#sold-out"
        );
        for bad in [
            "/problems/",
            "http://docs.example.com/problems/",
            "https://docs.example.com/problems",
            "",
        ] {
            let error = config(&[("PROBLEM_TYPE_BASE", bad)])
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("PROBLEM_TYPE_BASE must be"), "{error}");
            assert!(error.contains("https://"), "{error}");
        }
    }

    #[test]
    fn the_origin_secret_is_checked_and_never_shown() {
        let secret = "k3Jv9QwZr8TtLm2NpXy7Bc4Dh6Fg1Hs5";
        let c = config(&[("ORIGIN_VERIFY_SECRET", secret)]).unwrap();
        assert_eq!(c.origin_secret, OriginSecret::new(secret));
        assert!(c.origin_secret.is_some());
        for bad in [&secret[..31], "", "k3Jv9QwZr8TtLm2NpXy7Bc4Dh6Fg1Hs5 x"] {
            let error = config(&[("ORIGIN_VERIFY_SECRET", bad)])
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("ORIGIN_VERIFY_SECRET must be"), "{error}");
            if !bad.is_empty() {
                assert!(!error.contains(bad), "{error}");
            }
        }
        assert!(!format!("{c:?}").contains(secret));
    }

    #[test]
    fn lambda_refuses_demo_money_unless_told_twice() {
        let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "charge-balance");
        let refused = config(&[lambda]).unwrap_err().to_string();
        assert!(refused.contains("TOPUP_MODE=direct"), "{refused}");
        assert!(config(&[lambda, ("TOPUP_MODE", "direct")]).is_err());
        assert!(config(&[lambda, ("ALLOW_DEMO_MONEY", "true")]).is_ok());
        let provider = config(&[lambda, ("TOPUP_MODE", "provider")]).unwrap();
        assert_eq!(provider.topup_mode, TopUpMode::Provider);
        // Outside Lambda, direct mode is the default and needs no second word.
        assert!(config(&[("TOPUP_MODE", "direct")]).is_ok());
    }

    #[test]
    fn lambda_refuses_the_trusted_user_header_outright() {
        let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "hold-seat");
        for allowed in ["true", "false"] {
            let refused = config(&[
                lambda,
                ("TOPUP_MODE", "provider"),
                ("ALLOW_DEMO_MONEY", allowed),
                ("TRUST_USER_HEADER", "true"),
            ])
            .unwrap_err()
            .to_string();
            assert!(refused.contains("TRUST_USER_HEADER"), "{refused}");
        }
        assert!(config(&[("TRUST_USER_HEADER", "true")]).is_ok());
    }

    #[test]
    fn values_are_read_and_checked() {
        let c = config(&[
            ("HOLD_SECONDS", "60"),
            ("ACTIVE_IDLE_SECONDS", "1800"),
            ("TRUST_USER_HEADER", "true"),
            ("TABLE_NAME", "t-1"),
        ])
        .unwrap();
        assert_eq!(c.settings.hold_seconds, 60);
        assert_eq!(c.settings.active_idle_seconds, 1_800);
        assert!(c.trust_user_header);
        let fake = config(&[("STRIPE_API_BASE", "http://127.0.0.1:4010/")]).unwrap();
        assert_eq!(fake.stripe_api_base, "http://127.0.0.1:4010");
        for (name, bad) in [
            ("HOLD_SECONDS", "0"),
            ("HOLD_SECONDS", "five"),
            ("ADMIT_PER_TICK", "10001"),
            ("ACTIVE_PER_FREE_SEAT", "0"),
            ("MAX_HOLDS_PER_SESSION", "101"),
            ("ADMIT_TICK_SECONDS", "61"),
            ("ACTIVE_IDLE_SECONDS", "29"),
            ("ACTIVE_IDLE_SECONDS", "1801"),
            ("DYNAMODB_ATTEMPT_TIMEOUT_MS", "0"),
            ("DYNAMODB_CALL_BUDGET_MS", "60001"),
            ("TRUST_USER_HEADER", "yes"),
            ("ALLOW_DEMO_MONEY", "1"),
            ("TOPUP_MODE", "stripe"),
            ("MAX_TOPUPS_PER_DAY", "0"),
            ("RATE_LIMIT_PER_MINUTE", "0"),
            ("RATE_LIMIT_BURST", "10001"),
            ("STRIPE_API_BASE", "api.stripe.com"),
            ("STRIPE_API_BASE", "https://"),
            ("TABLE_NAME", "a b"),
        ] {
            let error = config(&[(name, bad)]).unwrap_err().to_string();
            assert!(error.starts_with(name), "{error}");
            assert!(error.contains(bad), "{error}");
        }
    }
}
