//! `GET /concerts/{concertId}/dates/{date}/sections`

fn main() -> Result<(), lambda_http::Error> {
    ticketing::lambda::serve_endpoint(ticketing::http::Endpoint::ListSections)
}
