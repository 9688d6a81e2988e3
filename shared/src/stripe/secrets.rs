//! The Stripe secrets in Lambda: never in the template or the environment, but named there
//! (`STRIPE_SECRET_KEY_SECRET_ID`, `STRIPE_WEBHOOK_SECRET_ID`: Secrets Manager secret ARNs) and
//! read once at start through the AWS Parameters and Secrets Lambda Extension, a layer that
//! serves `GetSecretValue` on localhost with the function's own role. That costs the function
//! no SDK client (no build time, no cold-start weight) and one local round trip per secret.
//! Outside Lambda the secrets come from `STRIPE_SECRET_KEY` and `STRIPE_WEBHOOK_SECRET`.

use std::time::Duration;

use aws_smithy_types::body::SdkBody;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

use crate::config::ConfigError;

/// The extension's port unless `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` says otherwise.
const EXTENSION_PORT: u16 = 2773;
/// The extension starts beside the function: a start that finds it not yet listening waits
/// this long between tries, this many times.
const TRIES: u32 = 20;
const PAUSE: Duration = Duration::from_millis(50);

#[derive(Deserialize)]
struct SecretValue {
    #[serde(rename = "SecretString")]
    secret_string: Option<String>,
}

/// The secrets `wanted` (each a variable that holds the secret itself, and the variable that
/// names its Secrets Manager secret), with their values: the first variable when set, else the
/// secret the second names, read through the extension. One named by neither is left out.
pub async fn read(
    wanted: &[(&'static str, &'static str)],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(&'static str, String)>, ConfigError> {
    let mut found = Vec::new();
    for (name, id_variable) in wanted {
        if let Some(value) = env(name).filter(|v| !v.trim().is_empty()) {
            found.push((*name, value));
            continue;
        }
        let Some(secret_id) = env(id_variable).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let port = env("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
            .and_then(|p| p.parse().ok())
            .unwrap_or(EXTENSION_PORT);
        let token = env("AWS_SESSION_TOKEN").unwrap_or_default();
        let value = from_extension(port, &secret_id, &token)
            .await
            .map_err(|why| ConfigError::Secret {
                name: id_variable,
                why,
            })?;
        found.push((*name, value));
    }
    Ok(found)
}

async fn from_extension(port: u16, secret_id: &str, token: &str) -> Result<String, String> {
    let client: Client<HttpConnector, SdkBody> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let uri = format!(
        "http://localhost:{port}/secretsmanager/get?secretId={}",
        query_encode(secret_id)
    );
    let mut last = String::new();
    for _ in 0..TRIES {
        let request = http::Request::builder()
            .method("GET")
            .uri(&uri)
            .header("x-aws-parameters-secrets-token", token)
            .body(SdkBody::empty())
            .map_err(|e| e.to_string())?;
        match client.request(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                if !status.is_success() {
                    // Never the body: it could echo what it was asked for.
                    return Err(format!("the secrets extension answered {status}"));
                }
                let value: SecretValue = serde_json::from_slice(&body)
                    .map_err(|_| "the secrets extension's answer is not a secret".to_owned())?;
                return value
                    .secret_string
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| "the secret has no SecretString".to_owned());
            }
            Err(error) => last = error.to_string(),
        }
        tokio::time::sleep(PAUSE).await;
    }
    Err(format!(
        "the secrets extension (the AWS Parameters and Secrets Lambda Extension layer) is not \
         answering on port {port}: {last}"
    ))
}

fn query_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const WANTED: &[(&str, &str)] = &[
        ("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY_SECRET_ID"),
        ("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET_ID"),
    ];

    /// A stand-in for the extension: answers every request with the secret named in its query,
    /// if the token is right, and keeps the request lines.
    async fn extension() -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let served = tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..2 {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut buffer = vec![0; 4096];
                let n = stream.read(&mut buffer).await.unwrap();
                let request = String::from_utf8_lossy(&buffer[..n]).into_owned();
                let line = request.lines().next().unwrap_or_default().to_owned();
                let authorized = request
                    .to_ascii_lowercase()
                    .contains("x-aws-parameters-secrets-token: session-token");
                let id = line
                    .split("secretId=")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .unwrap_or_default()
                    .to_owned();
                let (status, body) = if authorized {
                    (
                        "200 OK",
                        format!(r#"{{"Name":"x","SecretString":"value-of-{id}"}}"#),
                    )
                } else {
                    ("401 Unauthorized", String::new())
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(answer.as_bytes()).await.unwrap();
                seen.push(line);
            }
            seen
        });
        (port, served)
    }

    #[tokio::test]
    async fn secrets_named_by_arn_are_read_through_the_extension() {
        let (port, served) = extension().await;
        let env: HashMap<&str, String> = HashMap::from([
            (
                "STRIPE_SECRET_KEY_SECRET_ID",
                "arn:aws:secretsmanager:k".into(),
            ),
            ("STRIPE_WEBHOOK_SECRET_ID", "webhook".into()),
            ("AWS_SESSION_TOKEN", "session-token".into()),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.to_string()),
        ]);
        let found = read(WANTED, |n| env.get(n).cloned()).await.unwrap();
        assert_eq!(
            found,
            [
                (
                    "STRIPE_SECRET_KEY",
                    "value-of-arn%3Aaws%3Asecretsmanager%3Ak".to_owned()
                ),
                ("STRIPE_WEBHOOK_SECRET", "value-of-webhook".to_owned()),
            ]
        );
        let seen = served.await.unwrap();
        assert!(seen[0].starts_with("GET /secretsmanager/get?secretId=arn%3Aaws"));
    }

    #[tokio::test]
    async fn a_refusing_extension_stops_the_start_without_showing_the_secret() {
        let (port, _served) = extension().await;
        let env: HashMap<&str, String> = HashMap::from([
            ("STRIPE_SECRET_KEY_SECRET_ID", "key".into()),
            ("AWS_SESSION_TOKEN", "wrong".into()),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.to_string()),
        ]);
        let error = read(WANTED, |n| env.get(n).cloned()).await.unwrap_err();
        assert!(
            error.to_string().contains("STRIPE_SECRET_KEY_SECRET_ID"),
            "{error}"
        );
        assert!(error.to_string().contains("401"), "{error}");
    }

    #[tokio::test]
    async fn a_secret_in_the_environment_is_taken_as_it_is() {
        let env: HashMap<&str, String> =
            HashMap::from([("STRIPE_SECRET_KEY", "sk_local".to_owned())]);
        let found = read(WANTED, |n| env.get(n).cloned()).await.unwrap();
        assert_eq!(found, [("STRIPE_SECRET_KEY", "sk_local".to_owned())]);
    }
}
