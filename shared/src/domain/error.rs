use super::{SeatNumber, Timestamp};

/// `SEAT_UNAVAILABLE`'s detail: which seats, when the request named them.
fn seats_unavailable(seats: &[SeatNumber]) -> String {
    match seats {
        [] => "not enough free seats are left".to_owned(),
        [seat] => format!("seat {} is held or sold", seat.get()),
        seats => {
            let numbers: Vec<String> = seats.iter().map(|s| s.get().to_string()).collect();
            format!("seats {} are held or sold", numbers.join(", "))
        }
    }
}

/// What a store says when a request fails: raised by the stores, carried by [`BookingError`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database request failed: {0}")]
    Request(String),
    /// Refused by contention, not by the items' conditions: transactions writing the same items
    /// at that moment (DynamoDB's `TransactionConflict`) or throttling, still so after the
    /// retries the request had time for. Nothing was written; a later retry may well succeed.
    #[error("database busy: {0}")]
    Contention(String),
    /// Refused for breaking one of DynamoDB's hard limits (an item over 400 KB, a transaction
    /// over 100 items or 4 MB, a batch over 100 keys): no retry can succeed, so it is a bug or
    /// a catalog over its stated maxima. Both stores raise it alike.
    #[error("database limit exceeded: {0}")]
    Limit(String),
    #[error("stored item does not match its shape: {0}")]
    Corrupt(String),
}

/// Everything that can go wrong in the service, named as the API names it. The HTTP edge maps
/// each variant to a status and a stable `code` in one place (`http::problem`).
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    // Identity and input.
    #[error("the request carries no verified user")]
    Unauthenticated,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("unknown field `{0}`")]
    UnknownField(String),
    /// Over the route's body cap, in bytes.
    #[error("the request body is larger than {} KiB", .0 / 1024)]
    PayloadTooLarge(usize),
    #[error("this queue session has placed its {limit} holds; join the queue again to hold more")]
    TooManyHolds { limit: u32 },
    #[error("concertId must be 1 to 64 letters, digits, '-' or '_'")]
    InvalidConcertId,
    #[error("dates are written YYYY-MM-DD and must exist in the calendar")]
    InvalidDate,
    #[error("seatNumber must be an integer from 1 to 100,000")]
    InvalidSeatNumber,
    #[error("{0}")]
    InvalidSeats(String),
    #[error("amount must be an integer number of won from 1 to 10,000,000")]
    InvalidAmount,
    #[error("reservationId is not a reservation id")]
    InvalidReservationId,
    #[error("paymentId is not a payment id")]
    InvalidPaymentId,
    #[error("Idempotency-Key must be 1 to 64 characters")]
    InvalidIdempotencyKey,
    #[error("cursor is not one this service returned")]
    InvalidCursor,
    /// Out of 1 to the listing's `max`.
    #[error("limit must be an integer from 1 to {max}")]
    InvalidLimit { max: usize },
    #[error("the catalog is invalid: {0}")]
    InvalidCatalog(String),
    #[error("admitPerTick must be an integer from 1 to 10,000")]
    InvalidAdmitPerTick,
    #[error("maxActive must be an integer from 1 to 100,000")]
    InvalidMaxActive,
    #[error("paused must be true or false")]
    InvalidPaused,
    #[error("maxHoldsPerSession must be an integer from 1 to 100")]
    InvalidMaxHoldsPerSession,
    #[error("no such route")]
    RouteNotFound,
    #[error("this route does not accept that method")]
    MethodNotAllowed,

    // Queue.
    #[error("this endpoint needs an X-Queue-Token header")]
    QueueTokenRequired,
    #[error("the queue token is not one of yours")]
    QueueTokenInvalid,
    #[error("the queue token has expired or was used by a payment")]
    QueueTokenExpired,
    #[error("the queue token ended: no request carried it for ACTIVE_IDLE_SECONDS; join again")]
    QueueTokenIdle,
    #[error(
        "not admitted yet: still waiting in the queue, or in the pre-queue before the sale opens"
    )]
    QueueNotAdmitted {
        /// `None` in the pre-queue, where no order exists yet.
        position: Option<u64>,
        /// `None` while admission is paused or every slot is taken, as the ticket says.
        estimated_wait_seconds: Option<u64>,
    },
    #[error("the queue token is for another concert")]
    QueueTokenWrongConcert,

    #[error("the queue of this concert opens at {opens_at}")]
    QueueNotOpen { opens_at: Timestamp },
    #[error("every seat of this concert is sold")]
    SoldOut,

    // Catalog and seats.
    #[error("no such concert")]
    ConcertNotFound,
    #[error("the concert has no such date")]
    DateNotFound,
    #[error("the concert has no such seat")]
    SeatNotFound,
    #[error("the concert has no such section")]
    SectionNotFound,
    #[error(
        "this date has too many seats to list at once: name one of its sections with ?section="
    )]
    SectionRequired(Vec<String>),
    #[error("{}", seats_unavailable(.0))]
    SeatUnavailable(Vec<SeatNumber>),
    #[error("a fan may hold and buy at most {limit} seats of this concert: {held} held, {bought} bought")]
    TicketLimitReached { limit: u32, held: u32, bought: u32 },

    // Reservations and payments.
    #[error("no such reservation of yours")]
    ReservationNotFound,
    #[error("the hold on this seat has expired")]
    ReservationExpired,
    #[error("the hold on this seat was released")]
    ReservationReleased,
    #[error("the reservation is already paid")]
    AlreadyPaid,
    #[error("no such payment of yours")]
    PaymentNotFound,

    // Wallet.
    #[error("a balance may not exceed 1,000,000,000 won")]
    BalanceLimitExceeded,
    #[error("the balance does not cover the price")]
    InsufficientBalance,
    #[error("no such top-up of yours")]
    TopUpNotFound,
    #[error("a fan may start at most {limit} top-ups a day")]
    TooManyTopUps { limit: u32 },
    #[error("the webhook's Stripe-Signature does not verify: {0}")]
    InvalidSignature(String),
    #[error("the payment provider could not be reached: {0}")]
    PaymentProvider(String),

    // Rate limit (`booking::rate`).
    #[error("too many requests: a fan may send {limit} of these in {window} s; retry in {retry_after} s")]
    RateLimited {
        /// Whole seconds until the fan's bucket holds a token again.
        retry_after: u64,
        /// The burst, and the seconds it takes to refill.
        limit: u32,
        window: u64,
    },

    // Idempotency.
    #[error("this Idempotency-Key was used with another request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still in flight")]
    IdempotencyKeyInUse,

    // The API's edge (ApiEdge): the direct API Gateway URL is refused.
    #[error(
        "this API is answered only through its edge: call the URL the fan page's config.json names"
    )]
    EdgeRequired,

    // Operators.
    #[error("the /admin routes need an operator's identity")]
    OperatorRequired,
    #[error("this sign-in is not an operator's: the user is not in the operators group")]
    NotAnOperator,
    #[error("a concert with this id already exists")]
    ConcertExists,

    // Infrastructure: never shown to callers beyond a generic message.
    #[error("too many concurrent updates; retry shortly")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
}
