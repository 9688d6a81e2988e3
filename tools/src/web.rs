//! The fan page (`web/`), served by the local server beside the API: plain files, no build
//! step, compiled into the binary so that `local-server` serves them from any directory.

/// One file of the page: its path on the server, its media type, its bytes.
pub struct PageFile {
    pub path: &'static str,
    pub media_type: &'static str,
    pub bytes: &'static [u8],
}

macro_rules! page_files {
    ($(($path:literal, $media_type:literal)),* $(,)?) => {
        &[$(PageFile {
            path: concat!("/", $path),
            media_type: $media_type,
            bytes: include_bytes!(concat!("../../web/", $path)),
        }),*]
    };
}

/// Every file of `web/` (a test holds this list to the directory).
pub const PAGE_FILES: &[PageFile] = page_files![
    ("index.html", "text/html; charset=utf-8"),
    ("admin.html", "text/html; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"),
    ("api.js", "text/javascript; charset=utf-8"),
    ("fan.js", "text/javascript; charset=utf-8"),
    ("admin.js", "text/javascript; charset=utf-8"),
    ("favicon.svg", "image/svg+xml"),
];

/// What the page reads to find the API: locally the same origin, with `X-User-Id` sign-in.
/// A deployed stack writes its own `config.json` (the API's URL and the user pool).
pub const LOCAL_CONFIG: &str = r#"{"apiUrl": "", "signIn": "local"}"#;

/// Scripts and styles only from the page's own files (no inline code), the API anywhere over
/// HTTPS (or the same origin): as the stack's CloudFront serves the page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' https:; \
     img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

/// The file a GET of `path` serves, if any: `/` is the fan page.
pub fn page_file(path: &str) -> Option<&'static PageFile> {
    let path = if path == "/" { "/index.html" } else { path };
    PAGE_FILES.iter().find(|file| file.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_page_is_served_and_nothing_else() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| format!("/{}", entry.unwrap().file_name().to_string_lossy()))
            .collect();
        let mut served: Vec<String> = PAGE_FILES.iter().map(|f| f.path.to_owned()).collect();
        on_disk.sort();
        served.sort();
        assert_eq!(on_disk, served);
        assert_eq!(page_file("/").unwrap().path, "/index.html");
        assert!(page_file("/concerts").is_none());
        assert!(page_file("/../Cargo.toml").is_none());
    }

    /// The page shows every refusal as a sentence: each problem code openapi.yaml lists has one
    /// in `web/api.js`.
    #[test]
    fn every_problem_code_has_a_sentence_for_fans() {
        let openapi: serde_yaml::Value =
            serde_yaml::from_str(include_str!("../../openapi.yaml")).expect("openapi.yaml parses");
        let codes = openapi["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
            .as_sequence()
            .expect("the Problem schema lists its codes");
        let api_js = std::str::from_utf8(page_file("/api.js").unwrap().bytes).unwrap();
        let sentences = &api_js[api_js.find("const SENTENCES").expect("the sentences")..];
        let missing: Vec<&str> = codes
            .iter()
            .filter_map(|code| code.as_str())
            .filter(|code| !sentences.contains(&format!("\n  {code}: ")))
            .collect();
        assert!(codes.len() > 40, "{codes:?}");
        assert!(missing.is_empty(), "codes without a sentence: {missing:?}");
    }
}
