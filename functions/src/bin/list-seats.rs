//! `GET /concerts/{concertId}/dates/{date}/seats`

fn main() -> Result<(), lambda_http::Error> {
    ticketing::lambda::serve_endpoint(ticketing::http::Endpoint::ListSeats)
}
