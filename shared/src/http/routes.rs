//! Every route of the API (`openapi.yaml`), once. The local server matches requests against this
//! table; each Lambda function serves one row; tests hold `openapi.yaml` and `infra/` to it.

use super::request::{MAX_BODY_BYTES, MAX_CONCERT_BODY_BYTES};
use crate::domain::BookingError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    ListConcerts,
    JoinQueue,
    QueueStatus,
    ListDates,
    ListSeats,
    ListSections,
    HoldSeat,
    ListReservations,
    GetReservation,
    ReleaseReservation,
    ChargeBalance,
    GetTopUp,
    StripeWebhook,
    GetBalance,
    ListBalanceTransactions,
    Pay,
    GetPayment,
    GetWaitingRoom,
    ChangeWaitingRoom,
    AddConcert,
}

impl Endpoint {
    /// The endpoint's row of [`ROUTES`].
    pub fn route(self) -> &'static Route {
        ROUTES
            .iter()
            .find(|r| r.endpoint == self)
            // Every endpoint has its row: `every_endpoint_has_one_route_and_one_function`.
            .unwrap_or(&ROUTES[0])
    }

    /// The largest body the route takes: a concert's can be larger than anything a fan sends.
    pub fn body_limit(self) -> usize {
        match self {
            // A provider's event carries the whole payment object: a few KB, more than a fan's.
            Endpoint::AddConcert | Endpoint::StripeWebhook => MAX_CONCERT_BODY_BYTES,
            _ => MAX_BODY_BYTES,
        }
    }

    /// The endpoints that move money through the payment provider in provider mode.
    pub fn handles_payments(self) -> bool {
        matches!(self, Endpoint::ChargeBalance | Endpoint::StripeWebhook)
    }

    /// The payment provider's webhook: no fan, no JWT; the body's signature is the caller's proof.
    pub fn for_provider(self) -> bool {
        self == Endpoint::StripeWebhook
    }

    /// The writes a fan sends, which the per-fan rate limit covers (`booking::rate`): reads
    /// are left to the stage's throttle.
    pub fn rate_limited(self) -> bool {
        matches!(
            self,
            Endpoint::JoinQueue
                | Endpoint::HoldSeat
                | Endpoint::ReleaseReservation
                | Endpoint::ChargeBalance
                | Endpoint::Pay
        )
    }

    /// The `/admin` routes: operators, authorized by IAM (or `X-Operator-Id` locally), never
    /// by a fan's identity.
    pub fn for_operators(self) -> bool {
        matches!(
            self,
            Endpoint::GetWaitingRoom | Endpoint::ChangeWaitingRoom | Endpoint::AddConcert
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
    pub method: &'static str,
    pub path: &'static str,
    /// The Lambda binary in `functions/` that serves it.
    pub function: &'static str,
}

pub const ROUTES: &[Route] = &[
    route(Endpoint::ListConcerts, "GET", "/concerts", "list-concerts"),
    route(
        Endpoint::JoinQueue,
        "POST",
        "/concerts/{concertId}/queue/tokens",
        "join-queue",
    ),
    route(
        Endpoint::QueueStatus,
        "GET",
        "/queue/status",
        "queue-status",
    ),
    route(
        Endpoint::ListDates,
        "GET",
        "/concerts/{concertId}/dates",
        "list-dates",
    ),
    route(
        Endpoint::ListSeats,
        "GET",
        "/concerts/{concertId}/dates/{date}/seats",
        "list-seats",
    ),
    route(
        Endpoint::ListSections,
        "GET",
        "/concerts/{concertId}/dates/{date}/sections",
        "list-sections",
    ),
    route(Endpoint::HoldSeat, "POST", "/reservations", "hold-seat"),
    route(
        Endpoint::ListReservations,
        "GET",
        "/reservations",
        "list-reservations",
    ),
    route(
        Endpoint::GetReservation,
        "GET",
        "/reservations/{reservationId}",
        "get-reservation",
    ),
    route(
        Endpoint::ReleaseReservation,
        "DELETE",
        "/reservations/{reservationId}",
        "release-reservation",
    ),
    route(
        Endpoint::ChargeBalance,
        "POST",
        "/balance/charges",
        "charge-balance",
    ),
    route(
        Endpoint::GetTopUp,
        "GET",
        "/balance/charges/{topUpId}",
        "get-top-up",
    ),
    route(
        Endpoint::StripeWebhook,
        "POST",
        "/webhooks/stripe",
        "stripe-webhook",
    ),
    route(Endpoint::GetBalance, "GET", "/balance", "get-balance"),
    route(
        Endpoint::ListBalanceTransactions,
        "GET",
        "/balance/transactions",
        "list-balance-transactions",
    ),
    route(Endpoint::Pay, "POST", "/payments", "pay"),
    route(
        Endpoint::GetPayment,
        "GET",
        "/payments/{paymentId}",
        "get-payment",
    ),
    route(
        Endpoint::GetWaitingRoom,
        "GET",
        "/admin/concerts/{concertId}/waiting-room",
        "get-waiting-room",
    ),
    route(
        Endpoint::ChangeWaitingRoom,
        "PATCH",
        "/admin/concerts/{concertId}/waiting-room",
        "change-waiting-room",
    ),
    route(
        Endpoint::AddConcert,
        "POST",
        "/admin/concerts",
        "add-concert",
    ),
];

const fn route(
    endpoint: Endpoint,
    method: &'static str,
    path: &'static str,
    function: &'static str,
) -> Route {
    Route {
        endpoint,
        method,
        path,
        function,
    }
}

pub type PathParameters = Vec<(String, String)>;

/// The route a method and path select, with the path's parameters.
pub fn find_route(
    method: &str,
    path: &str,
) -> Result<(&'static Route, PathParameters), BookingError> {
    let mut path_matched = false;
    for route in ROUTES {
        if let Some(parameters) = match_path(route.path, path) {
            if route.method.eq_ignore_ascii_case(method) {
                return Ok((route, parameters));
            }
            path_matched = true;
        }
    }
    Err(if path_matched {
        BookingError::MethodNotAllowed
    } else {
        BookingError::RouteNotFound
    })
}

/// The methods a path accepts, for `Allow` on a 405.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    ROUTES
        .iter()
        .filter(|r| match_path(r.path, path).is_some())
        .map(|r| r.method)
        .collect()
}

fn match_path(pattern: &str, path: &str) -> Option<PathParameters> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let mut parameters = Vec::new();
    let mut actual = path.split('/');
    for expected in pattern.split('/') {
        let segment = actual.next()?;
        match expected.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
            Some(name) if !segment.is_empty() => {
                parameters.push((name.to_owned(), segment.to_owned()))
            }
            Some(_) => return None,
            None if expected == segment => {}
            None => return None,
        }
    }
    actual.next().is_none().then_some(parameters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_select_routes_and_parameters() {
        let (route, params) = find_route("GET", "/concerts/c1/dates/2026-12-24/seats").unwrap();
        assert_eq!(route.endpoint, Endpoint::ListSeats);
        assert_eq!(
            params,
            [
                ("concertId".into(), "c1".into()),
                ("date".into(), "2026-12-24".into())
            ]
        );
        assert_eq!(
            find_route("GET", "/balance/").unwrap().0.endpoint,
            Endpoint::GetBalance
        );
        assert!(matches!(
            find_route("PUT", "/balance"),
            Err(BookingError::MethodNotAllowed)
        ));
        assert!(matches!(
            find_route("GET", "/nope"),
            Err(BookingError::RouteNotFound)
        ));
        assert!(matches!(
            find_route("GET", "/concerts//dates"),
            Err(BookingError::RouteNotFound)
        ));
        assert_eq!(allowed_methods("/reservations/x"), ["GET", "DELETE"]);
        assert_eq!(
            allowed_methods("/admin/concerts/c1/waiting-room"),
            ["GET", "PATCH"]
        );
        for route in ROUTES {
            assert_eq!(
                route.endpoint.for_operators(),
                route.path.starts_with("/admin/"),
                "{}",
                route.path
            );
        }
    }

    #[test]
    fn every_endpoint_has_one_route_and_one_function() {
        for route in ROUTES {
            assert_eq!(
                ROUTES
                    .iter()
                    .filter(|r| r.endpoint == route.endpoint)
                    .count(),
                1
            );
            assert_eq!(
                ROUTES
                    .iter()
                    .filter(|r| r.function == route.function)
                    .count(),
                1
            );
        }
    }
}
