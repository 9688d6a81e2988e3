//! The admission tick, fired each minute by EventBridge Scheduler.

fn main() -> Result<(), lambda_http::Error> {
    ticketing::lambda::serve_admission()
}
