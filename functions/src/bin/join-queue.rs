//! `POST /concerts/{concertId}/queue/tokens`

fn main() -> Result<(), lambda_http::Error> {
    ticketing::lambda::serve_endpoint(ticketing::http::Endpoint::JoinQueue)
}
