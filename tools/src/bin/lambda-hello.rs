//! A bare `lambda_http` function that answers "hello": the baseline `scripts/startup_time.py`
//! prints beside each function, built by the same workspace with the same release profile.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    lambda_http::run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
