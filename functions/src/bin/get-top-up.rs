//! `GET /balance/charges/{topUpId}`

fn main() -> Result<(), lambda_http::Error> {
    ticketing::lambda::serve_endpoint(ticketing::http::Endpoint::GetTopUp)
}
