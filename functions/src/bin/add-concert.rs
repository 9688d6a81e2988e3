//! `POST /admin/concerts` (operators, IAM)

fn main() -> Result<(), lambda_http::Error> {
    ticketing::lambda::serve_endpoint(ticketing::http::Endpoint::AddConcert)
}
