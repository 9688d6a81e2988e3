//! Creating PaymentIntents at Stripe: one form-encoded POST to `{base}/v1/payment_intents` with
//! the secret key as a Bearer token, the top-up's id as Stripe's `Idempotency-Key` (a resent
//! create returns the first PaymentIntent, never a second payment), the amount in won
//! (zero-decimal) and the top-up and fan in the metadata, which the webhook matches on. It
//! speaks HTTP/1.1 over rustls with the compiled-in roots, as the DynamoDB client does; plain
//! `http://` is for a local fake only. The secret key is never logged (no `Debug`).

use std::time::Duration;

use async_trait::async_trait;
use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::booking::{
    CreatedPayment, PaymentProvider, PaymentRequest, ProviderError, CURRENCY, METADATA_TOP_UP_ID,
    METADATA_USER_ID,
};

/// A create that takes longer is abandoned (and the fan's retry, under the same top-up id
/// only when replayed by its Idempotency-Key, finds Stripe's first answer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct StripeClient {
    base: String,
    secret_key: String,
    client: Client<HttpsConnector<HttpConnector>, SdkBody>,
}

#[derive(Deserialize)]
struct Intent {
    id: String,
    client_secret: String,
}

#[derive(Deserialize)]
struct Failure {
    error: FailureDetail,
}

#[derive(Deserialize)]
struct FailureDetail {
    #[serde(default)]
    message: String,
}

impl StripeClient {
    /// A client of the API at `base` (`https://api.stripe.com`, or a fake's `http://` URL).
    pub fn new(base: &str, secret_key: &str) -> Result<Self, rustls::Error> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Ok(StripeClient {
            base: base.trim_end_matches('/').to_owned(),
            secret_key: secret_key.to_owned(),
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }
}

/// The form body of a create.
pub fn payment_form(request: &PaymentRequest) -> String {
    [
        ("amount", request.amount.get().to_string()),
        ("currency", CURRENCY.to_owned()),
        ("automatic_payment_methods[enabled]", "true".to_owned()),
        (
            &format!("metadata[{METADATA_TOP_UP_ID}]"),
            request.top_up_id.to_string(),
        ),
        (
            &format!("metadata[{METADATA_USER_ID}]"),
            request.user_id.to_string(),
        ),
    ]
    .iter()
    .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
    .collect::<Vec<_>>()
    .join("&")
}

fn form_encode(raw: &str) -> String {
    let mut encoded = String::with_capacity(raw.len());
    for b in raw.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(b as char)
            }
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    encoded
}

#[async_trait]
impl PaymentProvider for StripeClient {
    async fn create_payment(
        &self,
        request: &PaymentRequest,
    ) -> Result<CreatedPayment, ProviderError> {
        let failed = |what: String| ProviderError(format!("Stripe: {what}"));
        let http_request = http::Request::builder()
            .method("POST")
            .uri(format!("{}/v1/payment_intents", self.base))
            .header("authorization", format!("Bearer {}", self.secret_key))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("idempotency-key", request.top_up_id.to_string())
            .body(SdkBody::from(payment_form(request)))
            .map_err(|e| failed(e.to_string()))?;
        let answered = tokio::time::timeout(REQUEST_TIMEOUT, async {
            let response = self
                .client
                .request(http_request)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| failed(e.to_string()))?
                .to_bytes();
            Ok::<_, ProviderError>((status, body))
        })
        .await
        .map_err(|_| failed("no answer in time".into()))??;
        let (status, body) = answered;
        if !status.is_success() {
            let message = serde_json::from_slice::<Failure>(&body)
                .map(|f| f.error.message)
                .unwrap_or_default();
            return Err(failed(format!("{status}: {message}")));
        }
        let intent: Intent = serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
        Ok(CreatedPayment {
            id: intent.id,
            client_secret: intent.client_secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TopUpId, UserId, Won};

    #[test]
    fn the_form_carries_won_and_the_top_up_encoded() {
        let top_up_id = TopUpId::new();
        let form = payment_form(&PaymentRequest {
            top_up_id,
            user_id: UserId::parse("fan 1&x=y").unwrap(),
            amount: Won::new(50_000).unwrap(),
        });
        assert_eq!(
            form,
            format!(
                "amount=50000&currency=krw&automatic_payment_methods%5Benabled%5D=true&\
                 metadata%5Btop_up_id%5D={top_up_id}&metadata%5Buser_id%5D=fan%201%26x%3Dy"
            )
        );
    }
}
