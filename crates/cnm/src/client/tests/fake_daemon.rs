//! A fake daemon on a unix socket: records every request and answers from a closure.

use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::http::{Request, Response};

/// One request as the daemon saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Path and query, e.g. `/v1.51/networks?filters=...`.
    pub uri: String,
    pub content_type: Option<String>,
    pub body: String,
}

/// The answer to one request.
pub struct Reply {
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub api_version: Option<&'static str>,
    pub body: String,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Reply {
            status,
            content_type: Some("application/json"),
            api_version: Some("1.51"),
            body: body.into(),
        }
    }

    pub fn empty(status: u16) -> Self {
        Reply {
            status,
            content_type: None,
            api_version: Some("1.51"),
            body: String::new(),
        }
    }

    /// `{"message": ...}` with Docker's content type.
    pub fn error(status: u16, message: &str) -> Self {
        Reply::json(
            status,
            serde_json::json!({ "message": message }).to_string(),
        )
    }
}

type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

pub struct FakeDaemon {
    _dir: tempfile::TempDir,
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeDaemon {
    /// Serves `handler` on a fresh socket; a ping answers `Api-Version: 1.51` unless the handler
    /// says otherwise.
    pub fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cnm.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Handler = Arc::new(handler);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let seen = requests.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(move |req: Request<Body>| {
                    let (handler, seen) = (handler.clone(), seen.clone());
                    async move { answer(req, &handler, &seen).await }
                });
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        let url = format!("unix://{}", path.display());
        FakeDaemon {
            _dir: dir,
            url,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Everything received so far, pings included.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Requests other than `/_ping`, as `METHOD URI`.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.uri != "/_ping")
            .map(|r| format!("{} {}", r.method, r.uri))
            .collect()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn answer(
    req: Request<Body>,
    handler: &Handler,
    seen: &Mutex<Vec<Recorded>>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        uri: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        content_type: parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(recorded.clone());
    let reply = if recorded.uri == "/_ping" && recorded.method != "POST" {
        let r = handler(&recorded);
        if r.status == 0 { Reply::empty(200) } else { r }
    } else {
        handler(&recorded)
    };
    let mut builder = Response::builder().status(reply.status);
    if let Some(ct) = reply.content_type {
        builder = builder.header("content-type", ct);
    }
    if let Some(v) = reply.api_version {
        builder = builder.header("api-version", v);
    }
    builder.body(Body::from(reply.body)).unwrap_or_default()
}
