//! The HTTP/1.1 client of one plugin (spec §5.1 "Transport"), over a unix socket or TCP.
//!
//! Contract:
//! - `POST /<Interface>.<Method>` with `Accept: application/vnd.docker.plugins.v1.2+json`, no
//!   Content-Type, the JSON body plus Go's trailing newline (empty body when there are no
//!   arguments), and `Host: plugin.moby.localhost` over unix sockets.
//! - Every call opens a fresh connection, so a plugin that restarted is simply reached again.
//!   Connecting is retried with back-off (50 ms doubling) while it fails, for at most
//!   `connect_retry` (the request was never sent, so retrying is safe); once connected, the
//!   exchange is bounded by `timeout`. Errors after sending are never retried. Once a plugin
//!   was found unreachable, calls within the next `UNREACHABLE_MEMORY` try to connect once
//!   only, so the rollback of a failed operation (or a detach) does not wait again per call;
//!   the first successful connection forgets it.
//! - 200: the body decodes as JSON (empty, `null` and `{}` are empty success); undecodable
//!   bodies are `BadResponse`. 404: `NotImplemented` (optional methods tolerate it). Any other
//!   status: `Status` with the body's `Err`, else the raw body. Answers are capped at 4 MiB.
//! - Error fields *inside* 200 answers (`Err`/`Error`) are the callers' business: they differ
//!   between the two protocols.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cnm_types::plugin::{MEDIA_TYPE, StatusErrorBody, decode_response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};

use super::PluginError;
use super::discovery::Address;

const MAX_ANSWER: usize = 4 << 20;

#[derive(Clone, Debug)]
pub struct PluginClient {
    name: String,
    address: Address,
    timeout: Duration,
    connect_retry: Duration,
    /// When the plugin was last found unreachable (shared by clones).
    unreachable_since: Arc<Mutex<Option<Instant>>>,
}

/// How long an unreachable plugin is not waited for again.
const UNREACHABLE_MEMORY: Duration = Duration::from_secs(5);

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

impl PluginClient {
    pub fn new(name: &str, address: Address, timeout: Duration, connect_retry: Duration) -> Self {
        PluginClient {
            name: name.to_string(),
            address,
            timeout,
            connect_retry,
            unreachable_since: Arc::new(Mutex::new(None)),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    /// Calls `method` (e.g. `NetworkDriver.Join`) with `request` (`None`: empty body) and
    /// decodes the 200 answer.
    pub async fn call<Req: Serialize, Resp: DeserializeOwned + Default>(
        &self,
        method: &str,
        request: Option<&Req>,
    ) -> Result<Resp, PluginError> {
        let body = match request {
            Some(r) => {
                let mut bytes = serde_json::to_vec(r).expect("plugin requests always serialize");
                bytes.push(b'\n');
                bytes
            }
            None => Vec::new(),
        };
        let stream = self.connect(method).await?;
        let exchange = self.exchange(stream, method, body);
        let (status, answer) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| PluginError::Timeout {
                method: method.to_string(),
                name: self.name.clone(),
                timeout: self.timeout,
            })??;
        match status {
            200 => decode_response(&answer).map_err(|e| self.bad_response(method, &e.to_string())),
            404 => Err(PluginError::NotImplemented {
                method: method.to_string(),
            }),
            _ => {
                let message = match decode_response::<StatusErrorBody>(&answer) {
                    Ok(parsed) if !parsed.err.is_empty() => parsed.err,
                    _ => String::from_utf8_lossy(&answer).trim().to_string(),
                };
                Err(PluginError::Status {
                    method: method.to_string(),
                    status,
                    message,
                })
            }
        }
    }

    pub(crate) fn bad_response(&self, method: &str, reason: &str) -> PluginError {
        PluginError::BadResponse {
            method: method.to_string(),
            name: self.name.clone(),
            reason: reason.to_string(),
        }
    }

    /// Connects, retrying refused/missing sockets with back-off for at most `connect_retry`.
    async fn connect(&self, method: &str) -> Result<Box<dyn Stream>, PluginError> {
        let recently_down = self
            .unreachable_since
            .lock()
            .expect("unreachable lock")
            .is_some_and(|since| since.elapsed() < UNREACHABLE_MEMORY);
        let retry = if recently_down {
            Duration::ZERO
        } else {
            self.connect_retry
        };
        let start = Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            let attempt: std::io::Result<Box<dyn Stream>> = match &self.address {
                Address::Unix(path) => tokio::net::UnixStream::connect(path)
                    .await
                    .map(|s| Box::new(s) as Box<dyn Stream>),
                Address::Tcp(host) => {
                    tokio::net::TcpStream::connect(host.as_str())
                        .await
                        .map(|s| {
                            let _ = s.set_nodelay(true);
                            Box::new(s) as Box<dyn Stream>
                        })
                }
            };
            match attempt {
                Ok(stream) => {
                    *self.unreachable_since.lock().expect("unreachable lock") = None;
                    return Ok(stream);
                }
                Err(e) if start.elapsed() + delay <= retry => {
                    tracing::debug!(plugin = %self.name, error = %e, "plugin not reachable yet; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Err(e) => {
                    // Keep the first failure's time: after the memory, calls wait fully again.
                    let mut since = self.unreachable_since.lock().expect("unreachable lock");
                    if since.is_none_or(|t| t.elapsed() >= UNREACHABLE_MEMORY) {
                        *since = Some(Instant::now());
                    }
                    return Err(PluginError::Unreachable {
                        method: method.to_string(),
                        name: self.name.clone(),
                        address: self.address.to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        }
    }

    /// One request on a fresh connection: `(status, body)`.
    async fn exchange(
        &self,
        stream: Box<dyn Stream>,
        method: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Bytes), PluginError> {
        let transport = |e: &dyn std::fmt::Display| PluginError::Unreachable {
            method: method.to_string(),
            name: self.name.clone(),
            address: self.address.to_string(),
            reason: e.to_string(),
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| transport(&e))?;
        let driver = tokio::spawn(connection);
        let host = match &self.address {
            Address::Unix(_) => "plugin.moby.localhost".to_string(),
            Address::Tcp(host) => host.clone(),
        };
        let request = hyper::Request::post(format!("/{method}"))
            .header(hyper::header::HOST, host)
            .header(hyper::header::ACCEPT, MEDIA_TYPE)
            .body(Full::new(Bytes::from(body)))
            .expect("a valid request");
        let result = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| transport(&e))?;
            let status = response.status().as_u16();
            let answer = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| self.bad_response(method, &format!("reading the answer: {e}")))?
                .to_bytes();
            Ok((status, answer))
        }
        .await;
        driver.abort();
        result
    }
}
