//! The studio's HTTP server: hyper (already in the build for the AWS SDK and `weft tables sync`) on 127.0.0.1
//! only. Every request must carry the token and name this address as its host; anything else gets a bare 403,
//! so neither another user of the machine nor a web page the browser has open (DNS rebinding) can read events.
//! Answers are made on tokio's blocking threads: judging an event and the AWS calls of a redrive take the judges'
//! lock, which the watcher holds while it judges everything again.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;

use super::Studio;
use super::api::{self, Answer};

/// The largest request body read (a redrive's selection of message ids).
const MAX_BODY: usize = 1 << 20;

/// Who may ask: the token, and the host names this server answers to.
pub struct Gate {
    token: String,
    hosts: [String; 2],
}

impl Gate {
    fn new(token: String, port: u16) -> Gate {
        Gate { token, hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")] }
    }

    /// Whether a request names this server as its host and carries the token (in the query or `x-weft-token`).
    pub fn admits(&self, host: Option<&str>, query: &str, token_header: Option<&str>) -> bool {
        let host_ok = host.is_some_and(|h| self.hosts.iter().any(|mine| mine == h));
        let offered = token_header.map(str::to_owned).or_else(|| {
            form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
        });
        host_ok && offered.is_some_and(|offered| same(offered.as_bytes(), self.token.as_bytes()))
    }
}

/// Compares in time independent of where the bytes differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the operating system, as hex.
fn token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for the studio's token: {e}"))?;
    Ok(weft::rules::signing::to_hex(&bytes))
}

pub async fn serve(studio: Arc<Studio>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let gate = Arc::new(Gate::new(token()?, port));
    let url = format!("http://127.0.0.1:{port}/?token={}", gate.token);
    // On standard output, alone on its line, as soon as the first judgement is ready: what a person copies and a
    // test reads.
    println!("weft studio: {url}");
    eprintln!("weft studio: serving on 127.0.0.1 only; stop with Ctrl-C");
    if !studio.args.no_open {
        open_browser(&url);
    }
    loop {
        let (stream, _) = listener.accept().await?;
        let (studio, gate) = (studio.clone(), gate.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| handle(studio.clone(), gate.clone(), request));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn handle(
    studio: Arc<Studio>,
    gate: Arc<Gate>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let query = request.uri().query().unwrap_or("").to_owned();
    if !gate.admits(header("host"), &query, header("x-weft-token")) {
        return Ok(reply(Answer { status: StatusCode::FORBIDDEN, content_type: "text/plain", body: Vec::new() }));
    }
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return Ok(reply(Answer::error(StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large"))),
    };
    let runtime = tokio::runtime::Handle::current();
    let answer = tokio::task::spawn_blocking(move || api::answer(&studio, &method, &path, &query, &body, &runtime))
        .await
        .unwrap_or_else(|panic| {
            Answer::error(StatusCode::INTERNAL_SERVER_ERROR, &format!("weft panicked (a bug): {panic}"))
        });
    Ok(reply(answer))
}

fn reply(answer: Answer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static(answer.content_type));
    headers.insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    // The page is whole in itself: nothing is fetched from anywhere else, and the address with the token in it is
    // never sent on as a referrer.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        ),
    );
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    response
}

/// Opens the address in the desktop's browser, when there is a desktop; otherwise the printed address is all.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        Some("open")
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        Some("xdg-open")
    } else {
        None
    };
    if let Some(opener) = opener {
        let null = std::process::Stdio::null;
        let _ = std::process::Command::new(opener).arg(url).stdout(null()).stderr(null()).spawn();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_host_with_the_token_is_admitted() {
        let gate = Gate::new("abc".into(), 8080);
        assert!(gate.admits(Some("127.0.0.1:8080"), "token=abc", None));
        assert!(gate.admits(Some("localhost:8080"), "x=1&token=abc", None));
        assert!(gate.admits(Some("127.0.0.1:8080"), "", Some("abc")));
        assert!(!gate.admits(Some("127.0.0.1:8080"), "", None), "no token");
        assert!(!gate.admits(Some("127.0.0.1:8080"), "token=abd", None), "a wrong token");
        assert!(!gate.admits(Some("127.0.0.1:8080"), "token=ab", None), "a prefix of it");
        assert!(!gate.admits(Some("evil.example:8080"), "token=abc", None), "another host name (DNS rebinding)");
        assert!(!gate.admits(None, "token=abc", None), "no host");
    }
}
