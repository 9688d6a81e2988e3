//! The examples of the README and docs/, run as a newcomer pastes them: the walkthrough
//! (twice: the second paste must say SEAT_UNAVAILABLE, as the README says), the sale opening,
//! the venue and the operators' calls, each block verbatim in bash, from the repository's root,
//! against a fresh local server on a free port (the sale opening and the venue start their own
//! beside it). A documented step that breaks fails here, with what the shell printed.
//!
//! `cargo run --bin local-server` in a block stands for the binary this test run built (a shell
//! function of that name runs it): the block is otherwise the page's text, byte for byte.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The first `sh` block after `heading` in the README or in one of the docs it maps
/// (`docs/*.md`).
fn block(heading: &str) -> String {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("a docs entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    let marker = format!("\n{heading}\n");
    let text = pages
        .iter()
        .map(|page| std::fs::read_to_string(page).expect("a page of the docs"))
        .find(|text| text.contains(&marker))
        .unwrap_or_else(|| panic!("neither the README nor docs/ has the heading {heading:?}"));
    let section = text.split_once(&marker).expect("found above").1;
    let code = section
        .split_once("```sh\n")
        .unwrap_or_else(|| panic!("no sh block under {heading:?}"))
        .1;
    code.split_once("\n```")
        .expect("the block ends")
        .0
        .to_owned()
}

/// A local server on a free port, stopped when dropped.
struct LocalServer {
    child: Child,
    port: u16,
}

impl LocalServer {
    fn start() -> LocalServer {
        Self::start_on(0).expect("a local server on a free port")
    }

    /// `None` when the port is taken.
    fn start_on(port: u16) -> Option<LocalServer> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_local-server"))
            .env("PORT", port.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start local-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        let Some(port) = line.trim().rsplit(':').next().and_then(|p| p.parse().ok()) else {
            let _ = child.wait();
            return None;
        };
        Some(LocalServer { child, port })
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a newcomer's shell printed for one paste.
struct Pasted {
    output: String,
}

impl Pasted {
    fn says(&self, expected: &str) -> &Self {
        assert!(
            self.output.contains(expected),
            "the README's block should print {expected:?}; it printed:\n{}",
            self.output
        );
        self
    }

    fn never_says(&self, unexpected: &str) -> &Self {
        assert!(
            !self.output.contains(unexpected),
            "the README's block printed {unexpected:?}:\n{}",
            self.output
        );
        self
    }
}

/// Runs `block` in bash from the repository's root with `env`, in a process group of its own
/// that is ended afterwards (with whatever the block left running in the background).
fn paste(block: &str, env: &[(&str, String)]) -> Pasted {
    use std::os::unix::process::CommandExt;

    let shim = format!(
        r#"cargo() {{
  if [ "$1 $2 $3" = "run --bin local-server" ]; then
    shift 3; [ "${{1:-}}" = "--" ] && shift
    "{binary}" "$@"
  else
    echo "the README test runs only cargo run --bin local-server, not: cargo $*" >&2; return 2
  fi
}}
"#,
        binary = env!("CARGO_BIN_EXE_local-server")
    );
    let output_file = std::env::temp_dir().join(format!("readme-{}.out", uuid::Uuid::new_v4()));
    let output = std::fs::File::create(&output_file).expect("an output file");
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(format!("{shim}{block}"))
        .current_dir(root())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(output.try_clone().expect("the output file"))
        .stderr(output)
        .process_group(0)
        .spawn()
        .expect("run bash");
    let group = child.id();
    // A paste takes seconds (two admissions, a server's start); ten times that is a hang.
    let deadline = Instant::now() + Duration::from_secs(180);
    let finished = loop {
        if child.try_wait().expect("wait for bash").is_some() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
    let output = std::fs::read_to_string(&output_file).unwrap_or_default();
    let _ = std::fs::remove_file(&output_file);
    assert!(finished, "the block did not finish in 180 s:\n{output}");
    Pasted { output }
}

#[test]
fn the_walkthrough_works_on_the_first_paste_and_says_seat_unavailable_on_the_second() {
    let server = LocalServer::start();
    let walkthrough = block("## Walkthrough");
    let env = [("PORT", server.port.to_string())];

    paste(&walkthrough, &env)
        .says(r#""status":"ACTIVE""#)
        .says(r#""status":"HELD""#)
        .says(r#""seatNumbers":[7,8]"#)
        .says(r#""balance":400000"#)
        .says(r#""paymentId":"#)
        .says(r#""seatNumber": 8"#)
        .says(r#""status": "SOLD""#)
        .says("-> 401 QUEUE_TOKEN_EXPIRED")
        .never_says("Traceback")
        .never_says("ROUTE_NOT_FOUND");

    paste(&walkthrough, &env)
        .says(r#""status":"ACTIVE""#)
        .says("-> 409 SEAT_UNAVAILABLE: seats 7, 8 are held or sold")
        .never_says("Traceback");
}

#[test]
fn the_operators_example_reads_and_turns_the_waiting_room_and_adds_the_repositorys_concert() {
    let server = LocalServer::start();
    let env = [("PORT", server.port.to_string())];
    paste(&block("## Operators"), &env)
        .says(r#""concertId":"aurora-nights""#)
        .says(r#""admitPerTick":500"#)
        .says(r#""maxActive":3000"#)
        .says(r#""concertId":"seoul-strings""#)
        .never_says(r#""code""#);
}

#[test]
fn the_venues_example_lists_a_stadiums_sections_and_holds_the_best_seats_of_one() {
    // The example starts its own server, on port 3002, beside the walkthrough's.
    paste(&block("## Venues"), &[])
        .says(r#""sections":[{"section":"Floor A","fromSeat":1,"toSeat":500,"price":150000,"freeSeats":500}"#)
        .says(r#""code":"SECTION_REQUIRED""#)
        .says(r#""sections":["Floor A","Floor B","Stand 101"]"#)
        .says(r#"{"seatNumber":1,"section":"Floor A","price":150000,"status":"AVAILABLE"}"#)
        .says(r#""status":"HELD""#)
        .says(r#""section":"Stand 101""#)
        .never_says("SECTION_NOT_FOUND")
        .never_says("QUEUE_NOT_ADMITTED");
}

#[test]
fn the_sale_opening_example_starts_beside_another_server_and_puts_a_fan_in_the_pre_queue() {
    // The walkthrough's server, on the port the example says it starts beside (taken already
    // when a developer's own server is on it, which is the same test).
    let _first = LocalServer::start_on(3000);
    paste(&block("## Sale opening and sell-out"), &[])
        .says(r#""status":"PRE_QUEUE""#)
        .says(r#""position":null"#)
        .never_says(r#""code""#);
}
