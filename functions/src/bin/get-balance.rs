//! `GET /balance`

fn main() -> Result<(), lambda_http::Error> {
    ticketing::lambda::serve_endpoint(ticketing::http::Endpoint::GetBalance)
}
