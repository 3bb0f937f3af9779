//! The API server loop: HTTP/1 on the unix socket, with limits on slow and idle clients.
//!
//! Contract: at most [`Limits::max_connections`] connections are served at once (the next
//! one is accepted when a slot frees; until then it waits in the socket's backlog). On each
//! connection:
//! - the request line and headers must arrive within [`Limits::header_read`] (hyper's
//!   `header_read_timeout`; hyper also runs it while a kept-alive connection waits for its
//!   next request, so it bounds keep-alive idleness too), else the connection is closed;
//! - a request body must arrive within [`Limits::body_read`] of the request's headers (read
//!   by `api::body::JsonBody`, which answers 408 and closes the connection);
//! - when no request is being handled and no byte moves for [`Limits::idle`] (a client that
//!   stops reading its response, or sits on an open connection), the connection is closed.
//!
//! A handler that is working is never cut off: the controller's operations run to their end.
//! On shutdown, no new connection is accepted, open ones finish their request and close, and
//! [`serve`] returns once all have.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// How long slow clients may take, and how many may be connected.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read: Duration,
    pub body_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

/// When a request's body must have arrived; put in each request's extensions.
#[derive(Clone, Copy, Debug)]
pub struct BodyDeadline(pub Instant);

/// What a connection's watchdog looks at: requests in progress and the last byte moved.
struct Activity {
    start: Instant,
    last_io_ms: AtomicU64,
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            start: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        })
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_since(&self) -> Instant {
        self.start + Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed))
    }
}

/// Marks a request as being handled while it lives.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        Busy(activity.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// A stream that records when bytes move.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then waits for open connections.
pub async fn serve(
    listener: UnixListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.map_err(io::Error::other)?,
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting an API connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let app = app.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            connection(stream, app, limits, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot: all slots back means all connections are gone.
    let all = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

async fn connection(
    stream: tokio::net::UnixStream,
    app: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Activity::new();
    let io = Watched {
        inner: stream,
        activity: activity.clone(),
    };
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let busy = Busy::new(&service_activity);
        req.extensions_mut()
            .insert(BodyDeadline(Instant::now() + limits.body_read));
        let app = app.clone();
        async move {
            let response = app.oneshot(req.map(Body::new)).await;
            drop(busy);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        // While a request is being handled the clock does not run (rechecked every `idle`).
        let idle_deadline = if activity.busy.load(Ordering::Relaxed) > 0 {
            Instant::now() + limits.idle
        } else {
            activity.idle_since() + limits.idle
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "API connection ended");
                }
                return;
            }
            _ = tokio::time::sleep_until(idle_deadline) => {
                let quiet = activity.idle_since() + limits.idle <= Instant::now();
                if quiet && activity.busy.load(Ordering::Relaxed) == 0 {
                    tracing::debug!("closing an idle API connection");
                    return;
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
