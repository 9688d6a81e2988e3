//! The local server: hyper in front of the same handlers the Lambda functions run, routed by
//! the shared route table, with the admission tick running in-process.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::{Body, RequestExt};
use tokio::net::TcpListener;
use tracing::{info, warn};

use ticketing::http::{
    allowed_methods, find_route, handle, stamp, App, Endpoint, RequestId, REQUEST_ID_HEADER,
};
use ticketing::BookingError;

use crate::web;

/// Serves until `shutdown` completes, ticking admission every `admit_tick_seconds`.
pub async fn serve(
    app: App,
    cors: web::Cors,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let ticker = tokio::spawn(admission_ticks(app.clone()));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let (app, cors) = (app.clone(), cors.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (app, cors) = (app.clone(), cors.clone());
                        async move { Ok::<_, Infallible>(respond_to(&app, &cors, request).await) }
                    });
                    if let Err(error) = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        warn!(%error, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    ticker.abort();
    info!("stopped");
    Ok(())
}

async fn admission_ticks(app: App) {
    let every = Duration::from_secs(app.booking.settings().admit_tick_seconds.max(1));
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        match app.booking.admit_waiting().await {
            Ok(report) if report.admitted() + report.dropped() > 0 => {
                info!(
                    admitted = report.admitted(),
                    dropped = report.dropped(),
                    "admission tick"
                );
            }
            Ok(_) => {}
            Err(error) => warn!(%error, "admission tick failed"),
        }
    }
}

/// Answers a request as API Gateway would: its CORS first, then the route. Only a request
/// addressed to this machine by name (`Host: 127.0.0.1`, `localhost` or `[::1]`, any port) is
/// served: a web page that points a name of its own at 127.0.0.1 (DNS rebinding) is refused.
async fn respond_to(
    app: &App,
    cors: &web::Cors,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    if !is_local_host(request.headers().get(hyper::header::HOST)) {
        warn!("a request for another host was refused");
        let mut refused = app
            .edge
            .problem_types
            .response(&BookingError::InvalidRequest(
                "this server answers only Host 127.0.0.1, localhost or [::1]".into(),
            ));
        stamp(&mut refused, &RequestId::fresh(), request.uri().path());
        return into_hyper(refused);
    }
    if let Some(preflight) = cors.preflight(request.method(), request.headers()) {
        return preflight;
    }
    let origin = cors.allowed_origin(request.headers());
    let mut response = respond(app, request).await;
    if let Some(origin) = origin {
        web::Cors::admit(origin, &mut response);
    }
    response
}

async fn respond(app: &App, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let started = Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    // HEAD as GET: hyper sends the headers (Content-Length included) and leaves the body out.
    if method == hyper::Method::GET || method == hyper::Method::HEAD {
        if let Some(page) = fan_page(&path) {
            return page;
        }
    }
    // The server's own answers (no route, a body over the limit) are named as the handlers' are.
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::caller)
        .map_or_else(RequestId::fresh, RequestId::called);
    let mut response = match into_lambda_request(request).await {
        // Its own task, as a Lambda invocation runs to the end: a client that hangs up must not
        // cancel an operation half-way (a claimed Idempotency-Key would stay locked).
        Ok((endpoint, request)) => {
            let served = app.clone();
            let handler = tokio::spawn(async move { handle(&served, endpoint, request).await });
            match handler.await {
                Ok(response) => response,
                Err(error) => {
                    warn!(%error, "request handler failed");
                    app.edge.problem_types.response(&BookingError::Store(
                        ticketing::store::StoreError::Corrupt("the handler stopped".into()),
                    ))
                }
            }
        }
        Err(error) => {
            let mut response = app.edge.problem_types.response(&error);
            if matches!(error, BookingError::MethodNotAllowed) {
                let allow = allowed_methods(&path).join(", ");
                if let Ok(allow) = allow.parse() {
                    response.headers_mut().insert(hyper::header::ALLOW, allow);
                }
            }
            response
        }
    };
    if !response.headers().contains_key(REQUEST_ID_HEADER) {
        stamp(&mut response, &request_id, &path);
    }
    info!(
        "{method} {path} {} {}ms",
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    into_hyper(response)
}

fn into_hyper(response: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// The names this machine answers to, with or without a port.
const LOCAL_HOSTS: &[&str] = &["127.0.0.1", "localhost", "[::1]"];

fn is_local_host(host: Option<&hyper::header::HeaderValue>) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        // A port after the name (an IPv6 literal keeps its brackets).
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    LOCAL_HOSTS
        .iter()
        .any(|local| name.eq_ignore_ascii_case(local))
}

/// The fan page's files (`web/`) and its local `config.json`, beside the API's routes, with
/// the content security policy the deployed page is served with.
fn fan_page(path: &str) -> Option<hyper::Response<Full<Bytes>>> {
    let (media_type, bytes) = if path == "/config.json" {
        ("application/json", web::LOCAL_CONFIG.as_bytes())
    } else {
        let file = web::page_file(path)?;
        (file.media_type, file.bytes)
    };
    hyper::Response::builder()
        .header(hyper::header::CONTENT_TYPE, media_type)
        .header(hyper::header::CACHE_CONTROL, "no-cache")
        .header("content-security-policy", web::CONTENT_SECURITY_POLICY)
        .body(Full::new(Bytes::from_static(bytes)))
        .ok()
}

/// What API Gateway would hand a function: the route's endpoint, path and query parameters, and
/// the body, read up to the size limit.
async fn into_lambda_request(
    request: hyper::Request<Incoming>,
) -> Result<(Endpoint, lambda_http::Request), BookingError> {
    let (route, parameters) = find_route(request.method().as_str(), request.uri().path())?;
    let (parts, body) = request.into_parts();
    let limit = route.endpoint.body_limit();
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                BookingError::PayloadTooLarge(limit)
            } else {
                BookingError::InvalidRequest("the request body could not be read".into())
            }
        })?
        .to_bytes();
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(not_text) => Body::Binary(not_text.into_bytes()),
        }
    };
    let query: QueryMap = parts
        .uri
        .query()
        .unwrap_or_default()
        .parse()
        .unwrap_or_default();
    let path: HashMap<String, String> = parameters.into_iter().collect();
    let request = http::Request::from_parts(parts, body)
        .with_path_parameters(path)
        .with_query_string_parameters(query);
    Ok((route.endpoint, request))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machines_names_are_served() {
        let host = |h: &str| is_local_host(Some(&h.parse().unwrap()));
        for local in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "localhost",
            "LOCALHOST:8080",
            "[::1]:3000",
        ] {
            assert!(host(local), "{local}");
        }
        for other in [
            "attacker.example",
            "attacker.example:3000",
            "127.0.0.1.attacker.example",
            "localhost.attacker.example:3000",
            "127.0.0.2:3000",
            "",
        ] {
            assert!(!host(other), "{other}");
        }
        assert!(!is_local_host(None));
    }
}
