//! The Genesys Cloud Platform API, as much of it as a table sync needs: an OAuth client-credentials token, and
//! every page of a listing. The API is shared with the organisation's other integrations (about 300 requests a
//! minute per token), so the client is polite: it waits as long as a 429 says, stops before the rate-limit headers
//! say the window is spent, retries server errors with backoff, and fetches a new token when one expires.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value};

/// Entities per page: the API's usual maximum.
const PAGE_SIZE: u32 = 100;
/// More pages than any listing of an organisation has (a million entities): a server that never ends is an error.
const MAX_PAGES: u32 = 10_000;
/// A page or a token answer larger than this is refused rather than read.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Tries of one request on 5xx or a broken connection; waits of 0.5, 1, 2, 4 s between them.
const SERVER_TRIES: u32 = 5;
/// 429s in a row on one request before the sync gives up.
const THROTTLED_TRIES: u32 = 20;
/// The longest wait a `Retry-After` or a rate-limit reset may impose on the sync (it runs within a Lambda timeout).
const MAX_WAIT: Duration = Duration::from_secs(60);

/// An OAuth client of the organisation (client credentials grant), with the roles to list what is synced.
#[derive(Clone)]
pub struct Credentials {
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials {{ client_id: {}, client_secret: (withheld) }}", self.client_id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GenesysError {
    #[error("`{0}` is not a Genesys Cloud region domain (e.g. mypurecloud.com, mypurecloud.ie) or an http(s) URL")]
    BadDomain(String),
    #[error("the token request was refused ({status}): check the OAuth client's id and secret ({body})")]
    TokenRefused { status: u16, body: String },
    #[error("GET {path}: {status} ({body})")]
    Refused { path: String, status: u16, body: String },
    #[error("{what}: {reason}")]
    Unreachable { what: String, reason: String },
    #[error("GET {path}: still {status} after {tries} tries")]
    GaveUp { path: String, status: u16, tries: u32 },
    #[error("GET {path}: {reason}")]
    BadPage { path: String, reason: String },
}

/// A client of one organisation's API.
pub struct Genesys {
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    login: String,
    api: String,
    credentials: Credentials,
    token: Option<String>,
    /// Requests made so far, the token's included.
    pub requests: u32,
    /// Base of the backoff between server-error retries (tests make it short).
    backoff: Duration,
}

/// A response: its status, headers and body.
struct Answer {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Genesys {
    /// A client for the region `domain` (`mypurecloud.com`: `https://login.mypurecloud.com` and
    /// `https://api.mypurecloud.com`), or for one base URL that serves both (`http://127.0.0.1:8080`: a proxy, or
    /// a test server).
    pub fn new(domain: &str, credentials: Credentials) -> Result<Genesys, GenesysError> {
        let (login, api) = if domain.starts_with("https://") || domain.starts_with("http://") {
            let base = domain.trim_end_matches('/').to_owned();
            (base.clone(), base)
        } else if !domain.is_empty() && domain.split('.').all(|p| !p.is_empty() && p.bytes().all(is_host_byte)) {
            (format!("https://login.{domain}"), format!("https://api.{domain}"))
        } else {
            return Err(GenesysError::BadDomain(domain.to_owned()));
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| GenesysError::Unreachable {
                what: "the system's CA certificates".into(),
                reason: e.to_string(),
            })?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(https);
        Ok(Genesys { http, login, api, credentials, token: None, requests: 0, backoff: Duration::from_millis(500) })
    }

    /// The same client with a shorter (or longer) backoff between server-error retries.
    pub fn with_backoff(mut self, backoff: Duration) -> Genesys {
        self.backoff = backoff;
        self
    }

    /// Every entity of the listing at `path` (`/api/v2/routing/queues`), with `query` (`state=any`) on each page.
    pub async fn list(&mut self, path: &str, query: &str) -> Result<Vec<Map<String, Value>>, GenesysError> {
        let mut url = format!("{path}?pageSize={PAGE_SIZE}&pageNumber=1");
        if !query.is_empty() {
            url = format!("{url}&{query}");
        }
        let (mut entities, mut seen) = (Vec::new(), HashSet::new());
        for page_number in 1..=MAX_PAGES {
            seen.insert(url.clone());
            let page = self.get(&url).await?;
            let page: Value = serde_json::from_slice(&page).map_err(|e| bad_page(path, format!("not JSON: {e}")))?;
            let listed = page["entities"].as_array().ok_or_else(|| bad_page(path, "no `entities` list".into()))?;
            for entity in listed {
                let entity = entity.as_object().ok_or_else(|| bad_page(path, "an entity is not an object".into()))?;
                entities.push(entity.clone());
            }
            let next = match page["nextUri"].as_str().filter(|n| !n.is_empty()) {
                Some(next) => relative(next),
                None if page["pageCount"].as_u64().is_some_and(|count| u64::from(page_number) < count) => {
                    url.replacen(&format!("pageNumber={page_number}"), &format!("pageNumber={}", page_number + 1), 1)
                }
                None => return Ok(entities),
            };
            if !seen.insert(next.clone()) {
                return Err(bad_page(path, format!("the next page is one already read ({next})")));
            }
            url = next;
        }
        Err(bad_page(path, format!("more than {MAX_PAGES} pages")))
    }

    /// GETs `path_and_query` of the API: the body of its 200.
    async fn get(&mut self, path_and_query: &str) -> Result<Bytes, GenesysError> {
        let path = path_and_query.split('?').next().unwrap_or(path_and_query).to_owned();
        let (mut server_errors, mut throttled, mut renewed) = (0, 0, false);
        loop {
            let token = match &self.token {
                Some(token) => token.clone(),
                None => self.fetch_token().await?,
            };
            let request = Request::get(format!("{}{path_and_query}", self.api))
                .header("authorization", format!("Bearer {token}"))
                .header("accept", "application/json")
                .body(Full::new(Bytes::new()))
                .expect("a GET with valid headers");
            let answer = match self.send(request).await {
                Ok(answer) => answer,
                Err(reason) => {
                    server_errors += 1;
                    if server_errors >= SERVER_TRIES {
                        return Err(GenesysError::Unreachable { what: format!("GET {path}"), reason });
                    }
                    tokio::time::sleep(self.backoff * 2u32.pow(server_errors - 1)).await;
                    continue;
                }
            };
            pace(&answer.headers).await;
            match answer.status {
                StatusCode::OK => return Ok(answer.body),
                StatusCode::UNAUTHORIZED if !renewed => {
                    // The token expired (or was revoked): one new token, then the request again.
                    self.token = None;
                    renewed = true;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    throttled += 1;
                    if throttled >= THROTTLED_TRIES {
                        return Err(GenesysError::GaveUp { path, status: 429, tries: throttled });
                    }
                    let wait = retry_after(&answer.headers).unwrap_or(Duration::from_secs(1));
                    tracing::info!(path, wait_ms = wait.as_millis() as u64, "Genesys Cloud throttled the sync");
                    tokio::time::sleep(wait).await;
                }
                status if status.is_server_error() => {
                    server_errors += 1;
                    if server_errors >= SERVER_TRIES {
                        return Err(GenesysError::GaveUp { path, status: status.as_u16(), tries: server_errors });
                    }
                    let wait = retry_after(&answer.headers).unwrap_or(self.backoff * 2u32.pow(server_errors - 1));
                    tokio::time::sleep(wait).await;
                }
                status => {
                    return Err(GenesysError::Refused { path, status: status.as_u16(), body: excerpt(&answer.body) });
                }
            }
        }
    }

    /// A new token (client credentials grant), kept for the requests that follow.
    async fn fetch_token(&mut self) -> Result<String, GenesysError> {
        let Credentials { client_id, client_secret } = &self.credentials;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{client_secret}"));
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/oauth/token", self.login))
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(b"grant_type=client_credentials")))
            .expect("a POST with valid headers");
        let answer = self
            .send(request)
            .await
            .map_err(|reason| GenesysError::Unreachable { what: "the token request".into(), reason })?;
        if answer.status != StatusCode::OK {
            return Err(GenesysError::TokenRefused { status: answer.status.as_u16(), body: excerpt(&answer.body) });
        }
        let token: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let token = token["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| GenesysError::TokenRefused { status: 200, body: "the answer has no access_token".into() })?;
        self.token = Some(token.to_owned());
        Ok(token.to_owned())
    }

    async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Answer, String> {
        self.requests += 1;
        let call = self.http.request(request);
        let response = tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .map_err(|_| "no answer within 30 s".to_owned())?
            .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok(Answer { status: parts.status, headers: parts.headers, body })
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn bad_page(path: &str, reason: String) -> GenesysError {
    GenesysError::BadPage { path: path.to_owned(), reason }
}

/// A `nextUri` as a path on the API's own host: an absolute URL keeps only its path and query, so a page cannot
/// send the token anywhere else.
fn relative(next: &str) -> String {
    match next.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or_else(|| "/".to_owned(), |at| rest[at..].to_owned()),
        None if next.starts_with('/') => next.to_owned(),
        None => format!("/{next}"),
    }
}

/// `Retry-After` in seconds (what the API sends), capped.
fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get("retry-after")?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_WAIT))
}

/// Waits out the rate-limit window when the headers say it is spent (`inin-ratelimit-count` ≥ `-allowed`, the
/// window resetting in `inin-ratelimit-reset` seconds), so the next request is not a 429.
async fn pace(headers: &hyper::HeaderMap) {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    if let (Some(count), Some(allowed), Some(reset)) =
        (number("inin-ratelimit-count"), number("inin-ratelimit-allowed"), number("inin-ratelimit-reset"))
        && count >= allowed
    {
        let wait = Duration::from_secs(reset).min(MAX_WAIT);
        tracing::info!(wait_ms = wait.as_millis() as u64, "Genesys Cloud rate limit reached; the sync waits");
        tokio::time::sleep(wait).await;
    }
}

/// The start of an error body, for a message (an error body names what was wrong; it holds no entity data).
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_next_uri_stays_on_the_api_host() {
        assert_eq!(relative("/api/v2/users?pageNumber=2"), "/api/v2/users?pageNumber=2");
        assert_eq!(relative("https://evil.example/api/v2/users?pageNumber=2"), "/api/v2/users?pageNumber=2");
        assert_eq!(relative("api/v2/users"), "/api/v2/users");
    }

    #[test]
    fn a_region_domain_or_a_url() {
        let credentials = Credentials { client_id: "id".into(), client_secret: "secret".into() };
        let region = Genesys::new("mypurecloud.ie", credentials.clone()).unwrap();
        assert_eq!(
            (region.login.as_str(), region.api.as_str()),
            ("https://login.mypurecloud.ie", "https://api.mypurecloud.ie")
        );
        let local = Genesys::new("http://127.0.0.1:9/", credentials.clone()).unwrap();
        assert_eq!((local.login.as_str(), local.api.as_str()), ("http://127.0.0.1:9", "http://127.0.0.1:9"));
        assert!(matches!(Genesys::new("login.my purecloud.com", credentials), Err(GenesysError::BadDomain(_))));
        let shown = format!("{:?}", Credentials { client_id: "id".into(), client_secret: "s3cr3t".into() });
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
