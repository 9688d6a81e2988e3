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
    ("signin.js", "text/javascript; charset=utf-8"),
    ("favicon.svg", "image/svg+xml"),
    ("problems.html", "text/html; charset=utf-8"),
];

/// What the page reads to find the API: locally the same origin, with `X-User-Id` sign-in.
/// A deployed stack writes its own `config.json` (the API's URL and the user pool).
pub const LOCAL_CONFIG: &str = r#"{"apiUrl": "", "signIn": "local"}"#;

/// Scripts and styles only from the page's own files (no inline code), connections to the API
/// alone (here the same origin), no `<base>` to redirect its relative links, forms only to
/// itself, never framed. The stack's CloudFront serves the same policy but for `connect-src`
/// ([`HOSTED_CONNECT_SRC`]).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; \
     img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// Where the hosted page may connect (the template's `Fn::Sub`): its own origin (config.json),
/// the region's API Gateway endpoints (the API's own host cannot be named: its CORS names the
/// page's distribution, which would then depend on the API, a cycle), with `ApiEdge` the API's
/// CloudFront distribution, and, with the stack's user pool, its managed login domain (the
/// token endpoint); nothing else.
pub const HOSTED_CONNECT_SRC: &str =
    "'self' https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}${EdgeOrigin}${SignInOrigin}";

/// What a browser may send the API from another origin, as the stack's HTTP API answers it
/// (`CorsConfiguration` in `infra/template.yaml`; a test holds the two together). The local
/// server answers the same for the origins in `CORS_ALLOWED_ORIGINS`, and lets its own
/// identity headers through too.
pub const CORS_ALLOW_METHODS: &[&str] = &["GET", "POST", "DELETE"];
pub const CORS_ALLOW_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "idempotency-key",
    "x-queue-token",
    "x-request-id",
    "if-none-match",
];
pub const CORS_EXPOSE_HEADERS: &[&str] = &[
    "location",
    "retry-after",
    "x-request-id",
    "etag",
    "ratelimit",
    "ratelimit-policy",
];
pub const CORS_MAX_AGE_SECONDS: u32 = 600;
const LOCAL_IDENTITY_HEADERS: &[&str] = &["x-user-id", "x-operator-id"];

/// The origins the local server answers cross-origin requests from (none by default: the page
/// it serves is same-origin).
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    /// A comma-separated list of origins, e.g. `http://127.0.0.1:8080`.
    pub fn new(origins: &str) -> Self {
        Cors {
            origins: origins
                .split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                .filter(|origin| !origin.is_empty())
                .collect(),
        }
    }

    /// The request's `Origin`, when it is one this server answers cross-origin.
    pub fn allowed_origin(&self, headers: &http::HeaderMap) -> Option<http::HeaderValue> {
        let origin = headers.get(http::header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|allowed| allowed == text)
            .then(|| origin.clone())
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`) from an
    /// allowed origin; other requests go on to the routes.
    pub fn preflight<B: Default>(
        &self,
        method: &http::Method,
        headers: &http::HeaderMap,
    ) -> Option<http::Response<B>> {
        let origin = self.allowed_origin(headers)?;
        if method != http::Method::OPTIONS
            || !headers.contains_key(http::header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let allowed_headers: Vec<&str> = CORS_ALLOW_HEADERS
            .iter()
            .chain(LOCAL_IDENTITY_HEADERS)
            .copied()
            .collect();
        http::Response::builder()
            .status(http::StatusCode::NO_CONTENT)
            .header(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)
            .header(
                http::header::ACCESS_CONTROL_ALLOW_METHODS,
                CORS_ALLOW_METHODS.join(", "),
            )
            .header(
                http::header::ACCESS_CONTROL_ALLOW_HEADERS,
                allowed_headers.join(", "),
            )
            .header(http::header::ACCESS_CONTROL_MAX_AGE, CORS_MAX_AGE_SECONDS)
            .header(http::header::VARY, "Origin")
            .body(B::default())
            .ok()
    }

    /// An answer to an allowed origin (see [`Cors::allowed_origin`]) says so, and lets the page
    /// read `Location`, `Retry-After`, `X-Request-Id`, `ETag` and the rate limit's headers.
    pub fn admit<B>(origin: http::HeaderValue, response: &mut http::Response<B>) {
        let headers = response.headers_mut();
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if let Ok(exposed) = http::HeaderValue::from_str(&CORS_EXPOSE_HEADERS.join(", ")) {
            headers.insert(http::header::ACCESS_CONTROL_EXPOSE_HEADERS, exposed);
        }
        // Beside what the answer already varies by (a cacheable listing: its caller).
        headers.append(http::header::VARY, http::HeaderValue::from_static("Origin"));
    }
}

/// The file a GET of `path` serves, if any: `/` is the fan page, and a problem's `type`
/// (`/problems/{kebab-case code}`) the page of problem types, when it has that code's section.
pub fn page_file(path: &str) -> Option<&'static PageFile> {
    if let Some(slug) = path.strip_prefix("/problems/") {
        let page = PAGE_FILES
            .iter()
            .find(|file| file.path == "/problems.html")?;
        let known = !slug.is_empty()
            && slug.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && std::str::from_utf8(page.bytes)
                .is_ok_and(|text| text.contains(&format!("<section id=\"{slug}\">")));
        return known.then_some(page);
    }
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
        // A problem's type resolves to its section of the page of problem types.
        assert_eq!(
            page_file("/problems/seat-unavailable").unwrap().path,
            "/problems.html"
        );
        assert!(page_file("/problems/no-such-problem").is_none());
        assert!(page_file("/problems/").is_none());
        assert!(page_file("/../Cargo.toml").is_none());
    }

    #[test]
    fn cross_origin_requests_are_answered_only_for_the_origins_given() {
        let cors = Cors::new("http://127.0.0.1:8080, https://tickets.example.com/");
        let mut preflight = http::HeaderMap::new();
        preflight.insert("origin", "https://tickets.example.com".parse().unwrap());
        preflight.insert("access-control-request-method", "POST".parse().unwrap());
        let answer: http::Response<()> = cors
            .preflight(&http::Method::OPTIONS, &preflight)
            .expect("a preflight from an allowed origin");
        assert_eq!(answer.status(), 204);
        assert_eq!(
            answer.headers()["access-control-allow-origin"],
            "https://tickets.example.com"
        );
        let allowed = answer.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        for header in ["idempotency-key", "x-queue-token", "x-user-id"] {
            assert!(allowed.contains(header), "{allowed}");
        }
        // Not a preflight, or another origin: the routes answer, and say nothing of CORS.
        assert!(cors
            .preflight::<()>(&http::Method::GET, &preflight)
            .is_none());
        preflight.insert("origin", "https://evil.example".parse().unwrap());
        assert!(cors
            .preflight::<()>(&http::Method::OPTIONS, &preflight)
            .is_none());
        assert!(cors.allowed_origin(&preflight).is_none());
        preflight.insert("origin", "http://127.0.0.1:8080".parse().unwrap());
        let mut response = http::Response::new(());
        Cors::admit(cors.allowed_origin(&preflight).unwrap(), &mut response);
        assert_eq!(
            response.headers()["access-control-expose-headers"],
            CORS_EXPOSE_HEADERS.join(", ")
        );
        assert!(Cors::default().allowed_origin(&preflight).is_none());
    }

    /// The page shows every refusal as a sentence: each problem code openapi.yaml lists has one
    /// in `web/api.js`.
    #[test]
    fn every_problem_code_has_a_sentence_for_fans() {
        let openapi: serde_yaml::Value =
            serde_yaml::from_str(include_str!("../../openapi.yaml")).expect("openapi.yaml parses");
        // `code` is an open string; `ProblemCode` lists the codes this version answers.
        let codes = openapi["components"]["schemas"]["ProblemCode"]["enum"]
            .as_sequence()
            .expect("ProblemCode lists the known codes");
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
