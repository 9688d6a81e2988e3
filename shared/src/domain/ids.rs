use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::BookingError;

/// A string identifier with a validating constructor, stored and sent as a plain string.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $valid:expr, $error:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, BookingError> {
                let valid: fn(&str) -> bool = $valid;
                if valid(raw) {
                    Ok(Self(raw.to_owned()))
                } else {
                    Err($error)
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = BookingError;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn is_slug(raw: &str) -> bool {
    (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

string_id!(
    /// A concert's catalog id: 1 to 64 ASCII letters, digits, `-` or `_`.
    ConcertId,
    is_slug,
    BookingError::InvalidConcertId
);

string_id!(
    /// The caller: the JWT `sub` claim (or `X-User-Id` locally), 1 to 128 visible characters.
    UserId,
    |raw| (1..=128).contains(&raw.chars().count()) && super::is_plain_text(raw),
    BookingError::Unauthenticated
);

string_id!(
    /// Who turned a knob: the IAM principal (SigV4) of an `/admin` call, or `X-Operator-Id`
    /// locally; 1 to 2048 visible characters (an ARN).
    OperatorId,
    |raw| (1..=2048).contains(&raw.chars().count()) && super::is_plain_text(raw),
    BookingError::OperatorRequired
);

string_id!(
    /// The `Idempotency-Key` header: 1 to 64 characters, none hidden (`domain::text`).
    IdempotencyKey,
    |raw| (1..=64).contains(&raw.chars().count()) && super::is_plain_text(raw),
    BookingError::InvalidIdempotencyKey
);

/// A random id in its hyphenated lowercase form, the only form accepted back.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $generate:expr, $error:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// The lowest and highest ids, to bound a range of them.
            pub const MIN: Self = Self(Uuid::nil());
            pub const MAX: Self = Self(Uuid::max());

            pub fn new() -> Self {
                Self($generate)
            }

            pub fn parse(raw: &str) -> Result<Self, BookingError> {
                parse_hyphenated(raw).map(Self).ok_or($error)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl TryFrom<String> for $name {
            type Error = BookingError;
            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

fn parse_hyphenated(raw: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(raw).ok()?;
    (id.hyphenated().to_string() == raw).then_some(id)
}

uuid_id!(
    /// Time-ordered (UUIDv7), so that a fan's reservations list newest first by key alone.
    ReservationId,
    Uuid::now_v7(),
    BookingError::InvalidReservationId
);
uuid_id!(PaymentId, Uuid::new_v4(), BookingError::InvalidPaymentId);
uuid_id!(
    /// A top-up's id: random (it is the payment provider's idempotency key and travels in its
    /// metadata), and an id that is not one is simply no top-up of the caller's.
    TopUpId,
    Uuid::new_v4(),
    BookingError::TopUpNotFound
);

/// A queue token: `{concertId}.{joinSecond}.{32 hex digits}`. It names what a poll needs before
/// reading anything: the concert (whose ticket the caller holds) and the second it joined (which
/// page of queue counts gives its position), so that the reads of a poll go out together. The
/// random part is the secret that proves the ticket is the caller's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueToken {
    concert: ConcertId,
    joined_at: i64,
    secret: Uuid,
}

impl QueueToken {
    pub fn new(concert: ConcertId, joined_at: i64) -> Self {
        Self {
            concert,
            joined_at,
            secret: Uuid::new_v4(),
        }
    }

    pub fn parse(raw: &str) -> Result<Self, BookingError> {
        let invalid = || BookingError::QueueTokenInvalid;
        let mut parts = raw.rsplitn(3, '.');
        let (Some(secret), Some(joined_at), Some(concert)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let concert = ConcertId::parse(concert).map_err(|_| invalid())?;
        let canonical = !joined_at.is_empty()
            && joined_at.bytes().all(|b| b.is_ascii_digit())
            && (joined_at == "0" || !joined_at.starts_with('0'));
        let joined_at = joined_at
            .parse::<i64>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(invalid)?;
        let secret = Uuid::try_parse(secret)
            .ok()
            .filter(|id| id.simple().to_string() == secret)
            .ok_or_else(invalid)?;
        Ok(Self {
            concert,
            joined_at,
            secret,
        })
    }

    pub fn concert(&self) -> &ConcertId {
        &self.concert
    }

    /// The second the holder joined the queue.
    pub fn joined_at(&self) -> i64 {
        self.joined_at
    }

    /// The part only the holder knows, as the ticket stores it.
    pub fn secret(&self) -> String {
        self.secret.simple().to_string()
    }
}

impl TryFrom<String> for QueueToken {
    type Error = BookingError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<QueueToken> for String {
    fn from(token: QueueToken) -> String {
        token.to_string()
    }
}

impl fmt::Display for QueueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.concert,
            self.joined_at,
            self.secret.simple()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concert_ids_are_short_slugs() {
        assert!(ConcertId::parse("iu-2026_seoul").is_ok());
        for bad in ["", "a b", "a#b", "ü", &"x".repeat(65)] {
            assert!(ConcertId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_round_trip_only_in_canonical_form() {
        let id = ReservationId::new();
        assert_eq!(ReservationId::parse(&id.to_string()).unwrap(), id);
        assert!(ReservationId::parse(&id.to_string().to_uppercase()).is_err());
        assert!(ReservationId::parse(&id.to_string().replace('-', "")).is_err());
        assert!(PaymentId::parse("not-a-uuid").is_err());
    }

    #[test]
    fn queue_tokens_name_their_concert_and_join_second() {
        let token = QueueToken::new(ConcertId::parse("c1").unwrap(), 1_796_083_200);
        let parsed = QueueToken::parse(&token.to_string()).unwrap();
        assert_eq!(parsed, token);
        assert_eq!(parsed.concert().as_str(), "c1");
        assert_eq!(parsed.joined_at(), 1_796_083_200);
        assert!(token.to_string().starts_with("c1.1796083200."));
        let secret = "0".repeat(32);
        for bad in [
            String::new(),
            "c1".into(),
            "c1.".into(),
            format!("c1.{secret}"),
            format!("c1.12.{}", "x".repeat(32)),
            format!("c1.012.{secret}"),
            format!("c1.-3.{secret}"),
            format!("c#1.12.{secret}"),
        ] {
            assert!(QueueToken::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reservation_ids_sort_by_creation() {
        let first = ReservationId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(ReservationId::new() > first);
    }

    #[test]
    fn idempotency_keys_are_1_to_64_characters() {
        assert!(IdempotencyKey::parse("k").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(64)).is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(65)).is_err());
    }
}
