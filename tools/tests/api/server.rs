//! The server under test: the real `local-server` binary on a free loopback port, stopped when
//! the test ends, and a client that speaks the API's headers.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

pub struct Server {
    child: Child,
    pub base: String,
    pub http: reqwest::Client,
    /// The DynamoDB endpoint and table behind the server, on the DynamoDB half.
    dynamodb: Option<(String, String)>,
    _catalog_dir: Option<TempDir>,
}

/// A scratch folder removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    DynamoDb,
}

#[derive(Default, Clone)]
pub struct Options {
    pub env: Vec<(&'static str, String)>,
    /// A catalog file's JSON instead of the demo catalog.
    pub catalog: Option<String>,
}

impl Server {
    /// `None` when the DynamoDB half has no endpoint (and is not required).
    pub fn start(backend: Backend, options: Options) -> Option<Server> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_local-server"));
        command
            .env("PORT", "0")
            .env("ADMIT_TICK_SECONDS", "1")
            // Tests send bursts from one fan on purpose; `throttling` sets its own limit.
            .env("RATE_LIMIT_PER_MINUTE", "60000")
            .env("RATE_LIMIT_BURST", "10000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in &options.env {
            command.env(name, value);
        }
        let mut dynamodb = None;
        if backend == Backend::DynamoDb {
            let Ok(endpoint) = std::env::var("TEST_DYNAMODB_ENDPOINT") else {
                assert!(
                    std::env::var("REQUIRE_DYNAMODB").as_deref() != Ok("1"),
                    "REQUIRE_DYNAMODB=1 but TEST_DYNAMODB_ENDPOINT is not set"
                );
                eprintln!("TEST_DYNAMODB_ENDPOINT not set: DynamoDB API test skipped");
                return None;
            };
            let table = format!("api-{}", uuid::Uuid::new_v4().simple());
            command.args(["--dynamodb", &endpoint, "--table", &table, "--create-table"]);
            if options.catalog.is_none() {
                command.arg("--demo-catalog");
            }
            dynamodb = Some((endpoint, table));
        }
        let catalog_dir = options.catalog.as_ref().map(|json| {
            let dir =
                std::env::temp_dir().join(format!("catalog-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("catalog.json"), json).unwrap();
            command.arg("--catalog").arg(dir.join("catalog.json"));
            TempDir(dir)
        });
        let mut child = command.spawn().expect("start local-server");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut first_line)
            .expect("read the listening line");
        let base = first_line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first_line:?}"))
            .to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Some(Server {
            child,
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            dynamodb,
            _catalog_dir: catalog_dir,
        })
    }

    /// The server's own table, to plant what no request can make (on the DynamoDB half only).
    pub async fn table(&self) -> Option<ticketing::store::DynamoStore> {
        let (endpoint, table) = self.dynamodb.as_ref()?;
        Some(ticketing::store::DynamoStore::connect(table.as_str(), Some(endpoint)).await)
    }

    pub fn as_user(&self, user: &str) -> Caller<'_> {
        Caller {
            server: self,
            user: Some(user.to_owned()),
            headers: Vec::new(),
        }
    }

    pub fn anonymous(&self) -> Caller<'_> {
        Caller {
            server: self,
            user: None,
            headers: Vec::new(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One caller's view: their identity and any extra headers.
#[derive(Clone)]
pub struct Caller<'s> {
    server: &'s Server,
    user: Option<String>,
    headers: Vec<(String, String)>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// Asserts a problem+json answer with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status.as_u16(), self.code()),
            (status, code),
            "body: {}",
            self.body
        );
        assert_eq!(self.content_type, "application/problem+json");
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["type"].is_string());
    }
}

impl<'s> Caller<'s> {
    pub fn with(&self, name: &str, value: &str) -> Caller<'s> {
        let mut next = self.clone();
        next.headers.push((name.to_owned(), value.to_owned()));
        next
    }

    pub fn token(&self, token: &str) -> Caller<'s> {
        self.with("X-Queue-Token", token)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<String>) -> Reply {
        let mut request = self
            .server
            .http
            .request(method, format!("{}{path}", self.server.base));
        if let Some(user) = &self.user {
            request = request.header("X-User-Id", user);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
        };
        Reply {
            status,
            body,
            content_type,
            headers,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// POSTs `body` as JSON; `Value::Null` sends no body at all.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        let body = (!body.is_null()).then(|| body.to_string());
        self.send(Method::POST, path, body).await
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> Reply {
        self.send(Method::POST, path, Some(body.to_owned())).await
    }

    /// Joins the queue and polls until admitted; returns the token.
    pub async fn admitted(&self, concert: &str) -> String {
        let joined = self
            .post(&format!("/concerts/{concert}/queue/tokens"), Value::Null)
            .await;
        assert!(joined.status.is_success(), "join: {}", joined.body);
        let token = joined.body["token"].as_str().unwrap().to_owned();
        for _ in 0..120 {
            let status = self.token(&token).get("/queue/status").await;
            assert_eq!(status.status, 200, "{}", status.body);
            if status.body["status"] == "ACTIVE" {
                return token;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("never admitted");
    }

    /// The first date on sale of a concert.
    pub async fn first_date(&self, concert: &str, token: &str) -> String {
        let dates = self
            .token(token)
            .get(&format!("/concerts/{concert}/dates"))
            .await;
        assert_eq!(dates.status, 200, "{}", dates.body);
        dates.body["dates"][0]["date"].as_str().unwrap().to_owned()
    }
}
