//! The page's files as the local server serves them: `HEAD` answers like `GET`, headers and
//! all, without a body, and at once (link checkers and uptime probes ask with `HEAD`).

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::server::{Backend, Options, Server};

/// A HEAD must not wait on anything a GET of a static file does not.
const PROMPTLY: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_file_answers_head_like_get() {
    let server = Server::start(Backend::Memory, Options::default()).expect("a memory server");
    let paths = ["/", "/config.json"]
        .into_iter()
        .chain(tools::web::PAGE_FILES.iter().map(|file| file.path));
    for path in paths {
        let url = format!("{}{path}", server.base);
        let get = server.http.get(&url).send().await.unwrap();
        let (get_status, get_headers) = (get.status(), get.headers().clone());
        let body = get.bytes().await.unwrap();
        assert_eq!(get_status, 200, "GET {path}");
        assert!(!body.is_empty(), "GET {path}");

        let started = Instant::now();
        let head = server
            .http
            .request(Method::HEAD, &url)
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        let (status, headers) = (head.status(), head.headers().clone());
        let head_body = head.bytes().await.unwrap();
        assert!(took < PROMPTLY, "HEAD {path} took {took:?}");
        assert_eq!(status, 200, "HEAD {path}");
        assert!(head_body.is_empty(), "HEAD {path} sent a body");
        for name in ["content-type", "cache-control", "content-security-policy"] {
            assert_eq!(
                headers.get(name),
                get_headers.get(name),
                "HEAD {path}: {name}"
            );
        }
        assert_eq!(
            headers
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok()),
            Some(body.len()),
            "HEAD {path}: the length a GET sends"
        );
    }

    // Not a file of the page: no file answers it, and a HEAD still carries no body.
    let missing = server
        .http
        .request(Method::HEAD, format!("{}/no-such-page.html", server.base))
        .send()
        .await
        .unwrap();
    assert_ne!(missing.status(), 200);
    assert!(missing.bytes().await.unwrap().is_empty());
}
