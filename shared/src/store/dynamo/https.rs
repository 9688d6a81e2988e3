//! The HTTPS client the Lambda functions hand the SDK: hyper over rustls, HTTP/1.1, with the
//! Mozilla root certificates compiled in (`webpki-roots`, already parsed into trust anchors).
//!
//! The SDK's default client loads the system's certificate store when a client is built: on
//! Debian that is some 150 files read and PEM-decoded, half of a function's cold start, and the
//! roots are parsed again when the first request builds its connector. Here nothing is read or
//! parsed; certificates are verified as strictly (rustls' WebPKI verifier, the same roots a
//! browser trusts). A Lambda function has no proxy and no private CA to honour; the tools, which
//! run where either may exist, keep the SDK's client.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_sdk_dynamodb::config::http::{HttpRequest, HttpResponse};
use aws_sdk_dynamodb::config::{HttpClient, RuntimeComponents, SharedHttpClient};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::ErrorKind;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

type BoxError = Box<dyn StdError + Send + Sync>;

/// The client, built once per process; each timeout setting gets its own connection pool.
pub(super) fn client() -> Result<SharedHttpClient, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    Ok(SharedHttpClient::new(LambdaHttpClient {
        tls: tls_config(roots)?,
        pools: Mutex::default(),
    }))
}

/// rustls with the aws-lc provider (the SDK's), verifying servers against `roots`.
fn tls_config(roots: rustls::RootCertStore) -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(tls))
}

/// A pool's connect and read timeouts.
type Timeouts = (Option<Duration>, Option<Duration>);

#[derive(Debug)]
struct LambdaHttpClient {
    tls: Arc<rustls::ClientConfig>,
    pools: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

impl HttpClient for LambdaHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut pools = self
            .pools
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pools
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(Pool::new(&self.tls, key.0, key.1)))
            .clone()
    }
}

/// One hyper client (and its keep-alive connections) with its timeouts.
#[derive(Debug, Clone)]
struct Pool {
    client: Client<BoundedConnect<HttpsConnector<TcpConnector>>, SdkBody>,
    read_timeout: Option<Duration>,
}

impl Pool {
    fn new(
        tls: &Arc<rustls::ClientConfig>,
        connect_timeout: Option<Duration>,
        read_timeout: Option<Duration>,
    ) -> Self {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        // `https_or_http`: a local DynamoDB is plain HTTP.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((**tls).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .build(BoundedConnect {
                inner: https,
                limit: connect_timeout,
            });
        Pool {
            client,
            read_timeout,
        }
    }
}

impl HttpConnector for Pool {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(error) => {
                return HttpConnectorFuture::ready(Err(ConnectorError::user(error.into())))
            }
        };
        let sent = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answered = match read_timeout {
                None => sent.await,
                Some(limit) => tokio::time::timeout(limit, sent)
                    .await
                    .map_err(|elapsed| ConnectorError::timeout(elapsed.into()))?,
            };
            let response = answered.map_err(|error| classify(error.into()))?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// Says which failures a retry may cure, as the SDK's own client does: a connection that could
/// not be made, was closed or broke is I/O (retried), a timeout is a timeout (retried), a request
/// hyper refused to send is the caller's; anything else is not retried.
fn classify(error: BoxError) -> ConnectorError {
    let kind = kind_of(error.as_ref());
    kind(error)
}

fn kind_of(error: &(dyn StdError + 'static)) -> fn(BoxError) -> ConnectorError {
    if causes(error).any(|e| e.is::<tokio::time::error::Elapsed>()) {
        return ConnectorError::timeout;
    }
    if let Some(hyper_error) = causes(error).find_map(|e| e.downcast_ref::<hyper::Error>()) {
        if hyper_error.is_timeout() {
            return ConnectorError::timeout;
        }
        if hyper_error.is_user() {
            return ConnectorError::user;
        }
        if hyper_error.is_incomplete_message() {
            return |e| ConnectorError::other(e, Some(ErrorKind::TransientError));
        }
    }
    let connect = causes(error)
        .filter_map(|e| e.downcast_ref::<hyper_util::client::legacy::Error>())
        .any(|e| e.is_connect());
    if connect || causes(error).any(|e| e.is::<std::io::Error>() || is_closed(e)) {
        return ConnectorError::io;
    }
    |e| ConnectorError::other(e, None)
}

/// `error` and the errors under it. An `io::Error`'s `source()` skips the error it wraps, where
/// hyper and rustls put theirs, so the walk steps into it instead.
fn causes<'e>(
    error: &'e (dyn StdError + 'static),
) -> impl Iterator<Item = &'e (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| match e.downcast_ref::<std::io::Error>() {
        Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
        None => e.source(),
    })
}

fn is_closed(error: &(dyn StdError + 'static)) -> bool {
    error
        .downcast_ref::<hyper::Error>()
        .is_some_and(|e| e.is_closed() || e.is_canceled())
}

/// A connector whose connecting (TCP and the TLS handshake) gives up after `limit`, as the
/// SDK's connect timeout means.
#[derive(Debug, Clone)]
struct BoundedConnect<C> {
    inner: C,
    limit: Option<Duration>,
}

impl<C> tower_service::Service<http::Uri> for BoundedConnect<C>
where
    C: tower_service::Service<http::Uri>,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<C::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match limit {
                None => connecting.await.map_err(Into::into),
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(connected) => connected.map_err(Into::into),
                    Err(elapsed) => Err(elapsed.into()),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    // A test CA, and a certificate it issued for 127.0.0.1 (see testdata/README.md).
    const TEST_CA: &str = include_str!("testdata/test-ca.pem");
    const LOCALHOST: &str = include_str!("testdata/localhost.pem");
    const LOCALHOST_KEY: &str = include_str!("testdata/localhost.key");

    /// An HTTPS server on loopback, its certificate issued by the test CA, that answers every
    /// connection with `204`.
    async fn test_ca_server() -> String {
        let certificate = CertificateDer::from_pem_slice(LOCALHOST.as_bytes()).unwrap();
        let key = PrivateKeyDer::from_pem_slice(LOCALHOST_KEY.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut request = [0u8; 1024];
                    let _ = tls.read(&mut request).await;
                    let answer = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n";
                    let _ = tls.write_all(answer).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        format!("https://{address}/")
    }

    fn pool(roots: rustls::RootCertStore) -> Pool {
        Pool::new(
            &tls_config(roots).unwrap(),
            Some(Duration::from_secs(5)),
            None,
        )
    }

    #[tokio::test]
    async fn servers_are_verified_against_the_compiled_in_roots() {
        let url = test_ca_server().await;
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let refused = pool(roots)
            .call(HttpRequest::get(&url).unwrap())
            .await
            .expect_err("a certificate no compiled-in root vouches for is refused");
        let unknown_issuer = causes(&refused).any(|e| {
            matches!(
                e.downcast_ref::<rustls::Error>(),
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                ))
            )
        });
        assert!(unknown_issuer, "{refused:?}");
        assert!(!refused.is_timeout());

        // The same server, its CA trusted: the client speaks HTTPS to it.
        let mut trusting = rustls::RootCertStore::empty();
        trusting
            .add(CertificateDer::from_pem_slice(TEST_CA.as_bytes()).unwrap())
            .unwrap();
        let answered = pool(trusting)
            .call(HttpRequest::get(&url).unwrap())
            .await
            .unwrap();
        assert_eq!(answered.status().as_u16(), 204);
    }

    #[tokio::test]
    async fn a_refused_connection_is_io_that_a_retry_may_cure() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        drop(listener);
        let roots = rustls::RootCertStore::empty();
        let failed = pool(roots)
            .call(HttpRequest::get(&url).unwrap())
            .await
            .unwrap_err();
        assert!(failed.is_io(), "{failed:?}");
    }
}
