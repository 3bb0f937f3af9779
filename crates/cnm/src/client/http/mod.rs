//! HTTP/1.1 to the daemon, the way the Docker Go client does it.
//!
//! Contract: [`ApiClient`] connects to a `unix://PATH` (or `tcp://HOST:PORT`) daemon, negotiates
//! the API version on first use (`HEAD /_ping`, falling back to `GET`; `min(ours, server)`;
//! `DOCKER_API_VERSION` pins it), and sends `/v{version}/...` requests. Non-2xx/3xx answers become
//! [`ClientError`]s whose text is exactly what the docker CLI prints (`Error response from daemon:
//! <message>`). Requests run on a current-thread tokio runtime that starts no other thread, so
//! the process stays single-threaded between calls (`sandbox exec` relies on that).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

use cnm_types::version::API_VERSION;

mod address;

pub use address::{Endpoint, encode_query, parse_host, path_segment, resolve_host, version_less};
use address::{escape, is_unreserved};

/// Host header Docker's client sends over unix sockets.
const DUMMY_HOST: &str = "api.moby.localhost";
/// What the Go client assumes when `/_ping` carries no `Api-Version`.
const FALLBACK_API_VERSION: &str = "1.24";

/// Errors of talking to the daemon; `Display` is the docker CLI's text.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("unable to parse cnm host `{0}`")]
    BadHost(String),
    #[error("Cannot connect to the cnm daemon at {0}. Is the cnm daemon running?")]
    Connect(String),
    #[error("permission denied while trying to connect to the cnm daemon socket at {0}")]
    PermissionDenied(String),
    #[error("error during connect: {0}")]
    Transport(String),
    /// A 4xx/5xx answer; `message` is already the full text.
    #[error("{message}")]
    Status { status: u16, message: String },
}

impl ClientError {
    /// True for 404 answers (the Go client's `errdefs.IsNotFound`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Status { status: 404, .. })
    }
}

/// One HTTP answer, body fully read.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    pub api_version: Option<String>,
    pub body: Bytes,
}

/// A Docker-style API client bound to one daemon.
pub struct ApiClient {
    host_url: String,
    endpoint: Endpoint,
    runtime: tokio::runtime::Runtime,
    /// The negotiated or pinned API version; `None` until first needed.
    version: Option<String>,
}

impl ApiClient {
    /// A client for `host_url`; `pinned` (from `DOCKER_API_VERSION`) skips negotiation.
    pub fn new(host_url: &str, pinned: Option<String>) -> Result<Self, ClientError> {
        let endpoint = parse_host(host_url)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        let version = pinned
            .map(|v| v.trim().trim_start_matches('v').to_string())
            .filter(|v| !v.is_empty());
        Ok(ApiClient {
            host_url: host_url.trim().to_string(),
            endpoint,
            runtime,
            version,
        })
    }

    /// The API version in use, negotiating it first if needed.
    pub fn version(&mut self) -> Result<String, ClientError> {
        if let Some(v) = &self.version {
            return Ok(v.clone());
        }
        let server = self.ping()?;
        let server = server
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| FALLBACK_API_VERSION.into());
        let chosen = if version_less(&server, API_VERSION) {
            server
        } else {
            API_VERSION.to_string()
        };
        self.version = Some(chosen.clone());
        Ok(chosen)
    }

    /// `HEAD /_ping` (then `GET` if HEAD did not answer 200 or 500); returns `Api-Version`.
    fn ping(&mut self) -> Result<Option<String>, ClientError> {
        let head = self.send(Method::HEAD, "/_ping", None);
        let resp = match head {
            Err(e @ (ClientError::Connect(_) | ClientError::PermissionDenied(_))) => return Err(e),
            Ok(r) if r.status == 200 || r.status == 500 => r,
            _ => self.send(Method::GET, "/_ping", None)?,
        };
        let version = resp.api_version.clone();
        self.check(resp, "/_ping")?;
        Ok(version)
    }

    /// Sends `method /v{version}{path}?{query}` with an optional JSON body; 4xx/5xx become errors.
    pub fn call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<Response, ClientError> {
        let version = self.version()?;
        let mut target = format!("/v{version}{path}");
        let query = encode_query(query);
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query);
        }
        let resp = self.send(method, &target, body)?;
        self.check(resp, &target)
    }

    /// Turns an error status into the Go client's error text.
    fn check(&self, resp: Response, target: &str) -> Result<Response, ClientError> {
        if (200..400).contains(&resp.status) {
            return Ok(resp);
        }
        let status_text = status_line(resp.status);
        let message = if resp.body.is_empty() {
            format!(
                "request returned {status_text} for API route and version {}, check if the server \
                 supports the requested API version",
                self.request_url(target)
            )
        } else if resp.content_type.as_deref() == Some("application/json") {
            match serde_json::from_slice::<serde_json::Value>(&resp.body) {
                Err(e) => format!("Error reading JSON: {e}"),
                Ok(v) => match v.get("message").and_then(|m| m.as_str()).map(str::trim) {
                    Some(m) if !m.is_empty() => format!("Error response from daemon: {m}"),
                    _ => format!(
                        "Error response from daemon: API returned a {} ({}) but provided no error-message",
                        resp.status,
                        reason(resp.status)
                    ),
                },
            }
        } else {
            format!(
                "Error response from daemon: {}",
                String::from_utf8_lossy(&resp.body).trim()
            )
        };
        Err(ClientError::Status {
            status: resp.status,
            message,
        })
    }

    /// The URL Go's client reports in errors: `http://%2Frun%2Fcnm%2Fcnm.sock/v1.51/...`.
    fn request_url(&self, target: &str) -> String {
        match &self.endpoint {
            Endpoint::Unix(path) => {
                format!(
                    "http://{}{target}",
                    escape(&path.to_string_lossy(), is_unreserved)
                )
            }
            Endpoint::Tcp(addr) => format!("http://{addr}{target}"),
        }
    }

    fn send(
        &self,
        method: Method,
        target: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response, ClientError> {
        let authority = match &self.endpoint {
            Endpoint::Unix(_) => DUMMY_HOST.to_string(),
            Endpoint::Tcp(addr) => addr.clone(),
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(target)
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::USER_AGENT,
                concat!("cnm/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        self.runtime.block_on(self.exchange(request))
    }

    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<Response, ClientError> {
        let connect_error = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                ClientError::PermissionDenied(self.host_url.clone())
            }
            _ => ClientError::Connect(self.host_url.clone()),
        };
        match &self.endpoint {
            Endpoint::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(connect_error)?;
                exchange_on(TokioIo::new(stream), request).await
            }
            Endpoint::Tcp(addr) => {
                let stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(connect_error)?;
                exchange_on(TokioIo::new(stream), request).await
            }
        }
    }
}

/// One request/response on a fresh connection.
async fn exchange_on<T>(io: T, request: Request<Full<Bytes>>) -> Result<Response, ClientError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let transport = |e: hyper::Error| ClientError::Transport(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(transport)?;
    let driver = tokio::spawn(conn);
    let result = async {
        let resp = sender.send_request(request).await.map_err(transport)?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let status = resp.status().as_u16();
        let content_type = header("content-type");
        let api_version = header("api-version");
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(transport)?
            .to_bytes();
        Ok(Response {
            status,
            content_type,
            api_version,
            body,
        })
    }
    .await;
    driver.abort();
    result
}

/// `"404 Not Found"`, as Go's `Response.Status`.
fn status_line(status: u16) -> String {
    format!("{status} {}", reason(status))
        .trim_end()
        .to_string()
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}
