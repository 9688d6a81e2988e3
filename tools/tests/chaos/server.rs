//! The server under test: the real `local-server` binary on a free loopback port, on a fresh
//! DynamoDB table reached through the fault proxy, stopped when dropped. (The start-up is
//! `tools/tests/api/server.rs`'s, pointed at the proxy; its log goes to a file, not the test's
//! output, because faults make it long.)

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Server {
    child: Child,
    pub base: String,
    pub table: String,
}

impl Server {
    /// Starts on `dynamodb` (the proxy) with a new table and the demo catalog; logs to `log`.
    pub fn start(dynamodb: &str, log: &Path) -> Server {
        Server::start_with(dynamodb, log, &[])
    }

    /// The same, with more environment (provider mode's, for the top-up run).
    pub fn start_with(dynamodb: &str, log: &Path, env: &[(&str, String)]) -> Server {
        let table = format!("chaos-{}", uuid::Uuid::new_v4().simple());
        let log_file = std::fs::File::create(log).expect("create the server log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_local-server"))
            .args(["--dynamodb", dynamodb, "--table", &table])
            .args(["--create-table", "--demo-catalog"])
            .env("PORT", "0")
            .env("ADMIT_TICK_SECONDS", "1")
            // Fans retry through faults on purpose: the per-fan limit is another test's.
            .env("RATE_LIMIT_PER_MINUTE", "60000")
            .env("RATE_LIMIT_BURST", "10000")
            .env("RUST_LOG", "warn,ticketing::booking=debug")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("start local-server");
        let mut first_line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut first_line)
            .expect("read the listening line");
        let base = first_line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| {
                let said = std::fs::read_to_string(log).unwrap_or_default();
                panic!("unexpected first line {first_line:?}; the server said:\n{said}")
            })
            .to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Server { child, base, table }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
