//! A minimal HTTP/1.1 keep-alive client over a unix socket that times each request.
//!
//! Contract: one connection, one request at a time (as `docker` and SDKs do in a loop).
//! `call` measures wall time from the first byte sent to the last byte of the body read,
//! so what is timed is the daemon's work plus one local socket round trip. If the daemon
//! closes the connection, the next call reconnects (the reconnect is not part of the time of
//! any request: timing starts once the connection is ready).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// A daemon that takes longer than this to answer one request is taken as hung (dockerd takes
/// about a minute to start or remove a container with 1000 published ports).
const TIMEOUT: Duration = Duration::from_secs(600);

/// The answer to one request, with its measured latency.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
    pub elapsed: Duration,
}

impl Answer {
    /// The body as JSON, for reading ids out of create answers.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).with_context(|| {
            format!(
                "answer is not JSON: {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Fails with the daemon's message unless the status is a success.
    pub fn ok(self, what: &str) -> anyhow::Result<Self> {
        if !self.status.is_success() {
            bail!(
                "{what}: {} {}",
                self.status,
                String::from_utf8_lossy(&self.body).trim()
            );
        }
        Ok(self)
    }
}

pub struct UnixClient {
    socket: PathBuf,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl UnixClient {
    pub fn new(socket: &Path) -> Self {
        Self {
            socket: socket.to_path_buf(),
            sender: None,
        }
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = UnixStream::connect(&self.socket)
            .await
            .with_context(|| format!("connect {}", self.socket.display()))?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            // The connection ends when the daemon closes it; the next call reconnects.
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends one request; `body` is sent as JSON when given.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<Answer> {
        let payload = match body {
            Some(v) => Bytes::from(serde_json::to_vec(v)?),
            None => Bytes::new(),
        };
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("Host", "localhost");
        if body.is_some() {
            builder = builder.header("Content-Type", "application/json");
        }
        let request = builder.body(Full::new(payload))?;
        let mut sender = match self.sender.take() {
            Some(s) if !s.is_closed() => s,
            _ => self.connect().await?,
        };
        if sender.ready().await.is_err() {
            sender = self.connect().await?;
        }
        let start = Instant::now();
        let exchange = async {
            let response = sender
                .send_request(request)
                .await
                .with_context(|| format!("{method} {path}"))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .with_context(|| format!("read body of {method} {path}"))?;
            anyhow::Ok((status, body.to_bytes()))
        };
        let (status, body) = tokio::time::timeout(TIMEOUT, exchange)
            .await
            .with_context(|| format!("{method} {path}: no answer in {TIMEOUT:?}"))??;
        let elapsed = start.elapsed();
        self.sender = Some(sender);
        Ok(Answer {
            status,
            body,
            elapsed,
        })
    }

    pub async fn get(&mut self, path: &str) -> anyhow::Result<Answer> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str, body: &serde_json::Value) -> anyhow::Result<Answer> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// A POST without a body (`/containers/{id}/start`).
    pub async fn post_empty(&mut self, path: &str) -> anyhow::Result<Answer> {
        self.call(Method::POST, path, None).await
    }

    pub async fn delete(&mut self, path: &str) -> anyhow::Result<Answer> {
        self.call(Method::DELETE, path, None).await
    }
}
