//! The function binaries themselves, as Lambda runs them: spawned with Lambda's environment, they
//! ask a stand-in Runtime API on 127.0.0.1 for an invocation, serve it against DynamoDB Local
//! with the client they build for Lambda, and post the answer back. The handlers are tested
//! everywhere else; this holds the `main`s, their runtime and their start-up to the contract.

#[allow(dead_code)] // the handlers' helpers, for the other tests
mod sample;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sample::{event, root};
use serde_json::Value;
use ticketing::booking::{Catalog, QueueStatus};
use ticketing::domain::{ConcertId, SystemClock, UserId};
use ticketing::store::DynamoStore;
use ticketing::{Settings, Ticketing};

/// A stand-in for the Lambda Runtime API that hands out one invocation and reports the answer.
struct RuntimeApi {
    address: String,
    answers: mpsc::Receiver<(String, Value)>,
}

impl RuntimeApi {
    /// `event` goes to the first `next` call; later calls wait until the function is killed.
    fn serving(event: Value, deadline_ms: u64) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (sender, answers) = mpsc::channel();
        std::thread::spawn(move || {
            let mut handed_out = false;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some((request_line, body)) = read_request(&mut stream) else {
                    continue;
                };
                if request_line.starts_with("GET /2018-06-01/runtime/invocation/next") {
                    if handed_out {
                        // The function's next poll: it stays waiting, as on Lambda.
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_secs(60));
                            drop(stream);
                        });
                        continue;
                    }
                    handed_out = true;
                    let body = event.to_string();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                         lambda-runtime-aws-request-id: invocation-1\r\n\
                         lambda-runtime-deadline-ms: {deadline_ms}\r\n\
                         lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:probe\r\n\
                         lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n\
                         content-length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body.as_bytes());
                } else {
                    let _ = stream.write_all(
                        b"HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
                    );
                    let answer = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let _ = sender.send((request_line, answer));
                }
            }
        });
        RuntimeApi { address, answers }
    }
}

/// One HTTP/1.1 request: its request line and body (by Content-Length).
fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((request_line.trim().to_owned(), body))
}

/// A function binary, killed when dropped.
struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `binary` as Lambda would for one invocation of `event` with `seconds` left before its
/// deadline, against `table` at `dynamodb`; returns what it posted back as the response.
fn invoke(binary: &str, event: Value, seconds: u64, dynamodb: &str, table: &str) -> Value {
    let runtime_api = RuntimeApi::serving(event, in_ms(seconds));
    let mut function = Function(
        Command::new(binary)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &runtime_api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "probe")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/probe")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb)
            .env("TABLE_NAME", table)
            // The handlers' charges credit at once here: demo money, said in both places that
            // a function in Lambda needs.
            .env("TOPUP_MODE", "direct")
            .env("ALLOW_DEMO_MONEY", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{binary}: {e}")),
    );
    let Ok((posted_to, answer)) = runtime_api.answers.recv_timeout(Duration::from_secs(60)) else {
        panic!(
            "{binary}: no answer within a minute (exited: {:?})",
            function.0.try_wait().ok().flatten()
        );
    };
    assert_eq!(
        posted_to,
        "POST /2018-06-01/runtime/invocation/invocation-1/response HTTP/1.1"
    );
    answer
}

fn in_ms(seconds: u64) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now + Duration::from_secs(seconds)).as_millis() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binaries_serve_invocations_through_the_runtime_api() {
    let Ok(dynamodb) = std::env::var("TEST_DYNAMODB_ENDPOINT") else {
        assert!(
            std::env::var("REQUIRE_DYNAMODB").as_deref() != Ok("1"),
            "REQUIRE_DYNAMODB=1 but TEST_DYNAMODB_ENDPOINT is not set"
        );
        eprintln!("TEST_DYNAMODB_ENDPOINT not set: function binaries not run");
        return;
    };
    let table = format!("binaries-{}", uuid::Uuid::new_v4().simple());
    let store = DynamoStore::connect(table.as_str(), Some(&dynamodb)).await;
    store
        .create_table_if_missing(ticketing::store::Expiry::Collected)
        .await
        .unwrap();
    let booking = Ticketing::new(
        std::sync::Arc::new(store),
        std::sync::Arc::new(SystemClock),
        Settings::default(),
    );
    let catalog = std::fs::read_to_string(root().join("catalog/example.json")).unwrap();
    booking
        .load_catalog(&Catalog::from_json(&catalog).unwrap())
        .await
        .unwrap();
    let aurora = ConcertId::parse("aurora-nights").unwrap();
    let ana = UserId::parse("fan-ana").unwrap();
    let (ticket, _) = booking.join_queue(&ana, &aurora).await.unwrap();

    // An API function: API Gateway's event in, its response out.
    let answer = invoke(
        env!("CARGO_BIN_EXE_list-concerts"),
        event("list-concerts"),
        30,
        &dynamodb,
        &table,
    );
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    let concerts: Vec<&str> = body["concerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["concertId"].as_str().unwrap())
        .collect();
    assert_eq!(concerts, ["aurora-nights", "han-river-jazz"], "{body}");

    // The tick admits from seconds three seconds old, when every join of the second has landed.
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The admitter: the schedule's event in, its minute's report out (one tick: the deadline
    // leaves no time for a second), and the waiting fan admitted.
    let answer = invoke(
        env!("CARGO_BIN_EXE_admit-queue"),
        event("admit-queue"),
        3,
        &dynamodb,
        &table,
    );
    assert_eq!(answer["ticks"], 1, "{answer}");
    assert_eq!(answer["admitted"], 1, "{answer}");
    let now = booking
        .queue_status(&ana, Some(&ticket.token))
        .await
        .unwrap();
    assert_eq!(now.status, QueueStatus::Active, "{now:?}");
}
