//! A small HTTP/1.1 load generator for `scripts/throughput.py`: keep-alive connections, each
//! sending one GET after another, for a fixed time after a warm-up.
//!
//!   http-load [--connections N] [--seconds S] [--warmup S] [--header 'Name: value']... URL
//!
//! Prints one line of JSON: requests answered in the measured time, per second, and how many of
//! them were not `200`. It reads responses with nothing but a Content-Length (what the local
//! server and hyper send), so that the client costs the shared CPU little.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    connections: usize,
    seconds: f64,
    warmup: f64,
    headers: Vec<String>,
    url: String,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        connections: 32,
        seconds: 5.0,
        warmup: 1.0,
        headers: Vec::new(),
        url: String::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--connections" => options.connections = value("--connections")?.parse()?,
            "--seconds" => options.seconds = value("--seconds")?.parse()?,
            "--warmup" => options.warmup = value("--warmup")?.parse()?,
            "--header" => options.headers.push(value("--header")?),
            url if !url.starts_with("--") && options.url.is_empty() => options.url = url.into(),
            other => bail!("unknown argument {other:?}"),
        }
    }
    if options.url.is_empty() {
        bail!("usage: http-load [--connections N] [--seconds S] [--warmup S] [--header 'Name: value']... URL");
    }
    Ok(options)
}

/// `http://host:port/path?query` into the address to connect to and the request to send.
fn request(options: &Options) -> anyhow::Result<(String, Vec<u8>)> {
    let rest = options
        .url
        .strip_prefix("http://")
        .context("only http:// URLs")?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    let mut text = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n");
    for header in &options.headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    Ok((authority.to_owned(), text.into_bytes()))
}

#[derive(Default)]
struct Counts {
    answered: AtomicU64,
    not_ok: AtomicU64,
}

/// Sends the request over one connection until `stop`, counting answers while `counting`.
async fn connection(
    address: String,
    request: Arc<Vec<u8>>,
    counting: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(&address)
        .await
        .with_context(|| format!("connecting to {address}"))?;
    stream.set_nodelay(true)?;
    let mut buffer = Vec::with_capacity(16 * 1024);
    while !stop.load(Ordering::Relaxed) {
        stream.write_all(&request).await?;
        let status = read_response(&mut stream, &mut buffer).await?;
        if counting.load(Ordering::Relaxed) {
            counts.answered.fetch_add(1, Ordering::Relaxed);
            if status != 200 {
                counts.not_ok.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// Reads one response (its head, then Content-Length bytes of body) and returns its status.
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<u16> {
    buffer.clear();
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if stream.read_buf(buffer).await? == 0 {
            bail!("the server closed the connection");
        }
    };
    let head = std::str::from_utf8(&buffer[..head_end]).context("a response head in UTF-8")?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("a status line")?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .context("a Content-Length")?;
    while buffer.len() < head_end + length {
        if stream.read_buf(buffer).await? == 0 {
            bail!("the server closed the connection mid-body");
        }
    }
    Ok(status)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let (address, request) = request(&options)?;
    let request = Arc::new(request);
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let connections: Vec<_> = (0..options.connections)
        .map(|_| {
            tokio::spawn(connection(
                address.clone(),
                request.clone(),
                counting.clone(),
                stop.clone(),
                counts.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(options.warmup)).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(options.seconds)).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for connection in connections {
        connection.await??;
    }
    let answered = counts.answered.load(Ordering::Relaxed);
    println!(
        "{{\"requests\": {answered}, \"per_second\": {:.0}, \"not_ok\": {}}}",
        answered as f64 / elapsed,
        counts.not_ok.load(Ordering::Relaxed)
    );
    Ok(())
}
