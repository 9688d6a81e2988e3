//! `PATCH /admin/concerts/{concertId}/waiting-room` (operators, IAM)

fn main() -> Result<(), lambda_http::Error> {
    ticketing::lambda::serve_endpoint(ticketing::http::Endpoint::ChangeWaitingRoom)
}
