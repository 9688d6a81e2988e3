//! `POST /webhooks/stripe`: the payment provider's events, no JWT; the signature is checked.

fn main() -> Result<(), lambda_http::Error> {
    ticketing::lambda::serve_endpoint(ticketing::http::Endpoint::StripeWebhook)
}
