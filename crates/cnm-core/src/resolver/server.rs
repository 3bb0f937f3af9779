//! The per-sandbox listeners: a UDP loop and a TCP accept loop on 127.0.0.11:53.
//!
//! Contract:
//! - Both loops run as tokio tasks on the daemon's runtime; only their sockets live in the
//!   sandbox's namespace. Aborting a loop's task closes its socket and ends everything it
//!   started (pending forwards, TCP connections), so `Resolver::stop` leaves nothing behind.
//! - UDP: local answers are sent inline; forwarded queries run concurrently inside the loop
//!   (at most `MAX_PENDING_UDP` per sandbox; beyond that a query gets REFUSED at once).
//!   Datagrams longer than `MAX_QUERY_LEN` are ignored.
//! - TCP: length-prefixed messages, pipelined (replies may come out of order, RFC 7766), at
//!   most `MAX_PIPELINED` forwards in flight per connection. A connection closes when no full
//!   query arrived for `tcp_idle_timeout` and nothing is in flight, when a frame is longer than
//!   `MAX_QUERY_LEN`, or when the client does not read a reply within the same timeout. At most
//!   `max_tcp_connections` connections per sandbox; extra ones are closed on accept. A stalled
//!   client only ever holds its own connection's task.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use cnm_types::Id;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use hickory_proto::op::{Message, ResponseCode};
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use super::Shared;
use super::forward::Forwarded;
use super::stats::Fate;
use super::wire::{MAX_QUERY_LEN, Outcome, Transport, error_reply, handle};

/// Forwarded UDP queries in flight per sandbox before new ones are refused. As large as the
/// daemon-wide cap (`max_in_flight`, Docker's 1024), so a burst from one sandbox (dnsperf
/// keeps 100 outstanding; a restarting service can fire hundreds) waits for upstream slots
/// rather than being REFUSED; still a bound, since each pending query holds ~1-2 KiB (its
/// bytes, the parsed request, the forward's state).
const MAX_PENDING_UDP: usize = 1024;
/// Forwarded queries in flight per TCP connection before it stops reading.
const MAX_PIPELINED: usize = 32;
/// Pause after an accept/receive error (EMFILE, ENOBUFS), so a persistent one cannot spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(20);

/// What one sandbox's listeners need: whom they answer for and where to forward.
pub struct SandboxContext {
    pub sandbox: Id,
    pub shared: Arc<Shared>,
    /// Upstreams for this sandbox only; `None` → the resolver's default upstreams.
    pub upstreams: RwLock<Option<Arc<[SocketAddr]>>>,
}

impl SandboxContext {
    fn decide(&self, query: &[u8], transport: Transport) -> Outcome {
        let table = self.shared.records();
        let outcome = handle(query, &table, &self.sandbox, transport);
        match outcome {
            Outcome::Reply(_) => self.shared.counters.count(Fate::Local),
            Outcome::Drop => self.shared.counters.count(Fate::Dropped),
            // Counted when the forward ends.
            Outcome::Forward(_) => {}
        }
        outcome
    }

    fn upstreams(&self) -> Arc<[SocketAddr]> {
        let own = self
            .upstreams
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        own.unwrap_or_else(|| self.shared.default_upstreams())
    }

    /// Forwards a query that is not ours and turns failure into SERVFAIL/REFUSED.
    async fn forward(
        self: Arc<Self>,
        query: Vec<u8>,
        request: Box<Message>,
        transport: Transport,
    ) -> Vec<u8> {
        let upstreams = self.upstreams();
        let forwarder = &self.shared.forwarder;
        let (fate, reply) = match forwarder.forward(&query, &upstreams, transport).await {
            Forwarded::Reply(reply) => (Fate::Forwarded, reply),
            Forwarded::Failed => (
                Fate::UpstreamFailure,
                error_reply(&request, ResponseCode::ServFail, transport),
            ),
            Forwarded::Refused => (
                Fate::Refused,
                error_reply(&request, ResponseCode::Refused, transport),
            ),
        };
        self.shared.counters.count(fate);
        reply
    }
}

pub async fn serve_udp(socket: UdpSocket, context: Arc<SandboxContext>) {
    // One byte more than the largest query, so an oversize datagram shows as a full buffer.
    let mut buffer = vec![0u8; MAX_QUERY_LEN + 1];
    let mut pending = FuturesUnordered::new();
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buffer) => {
                let Ok((len, peer)) = received else {
                    sleep(ERROR_BACKOFF).await;
                    continue;
                };
                if len > MAX_QUERY_LEN {
                    continue;
                }
                let query = &buffer[..len];
                match context.decide(query, Transport::Udp) {
                    Outcome::Reply(reply) => {
                        let _ = socket.send_to(&reply, peer).await;
                    }
                    Outcome::Forward(request) if pending.len() >= MAX_PENDING_UDP => {
                        context.shared.counters.count(Fate::Refused);
                        let refused = error_reply(&request, ResponseCode::Refused, Transport::Udp);
                        let _ = socket.send_to(&refused, peer).await;
                    }
                    Outcome::Forward(request) => {
                        let forward = context.clone().forward(query.to_vec(), request, Transport::Udp);
                        pending.push(forward.map(move |reply| (peer, reply)));
                    }
                    Outcome::Drop => {}
                }
            }
            Some((peer, reply)) = pending.next(), if !pending.is_empty() => {
                let _ = socket.send_to(&reply, peer).await;
            }
        }
    }
}

pub async fn serve_tcp(listener: TcpListener, context: Arc<SandboxContext>) {
    let slots = Arc::new(Semaphore::new(context.shared.config.max_tcp_connections));
    // Owned here, so aborting this task aborts every connection too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        connections.spawn(serve_connection(stream, context.clone(), slot));
                    }
                    Err(_) => drop(stream),
                },
                Err(_) => sleep(ERROR_BACKOFF).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves one TCP connection until it idles out, errs or the client closes; see the contract.
async fn serve_connection(
    stream: TcpStream,
    context: Arc<SandboxContext>,
    _slot: OwnedSemaphorePermit,
) {
    let idle = context.shared.config.tcp_idle_timeout;
    let (mut reader, mut writer) = stream.into_split();
    let mut buffer: Vec<u8> = Vec::with_capacity(MAX_QUERY_LEN + 2);
    let mut pending = FuturesUnordered::new();
    let mut deadline = Instant::now() + idle;
    let mut reading = true;
    loop {
        while pending.len() < MAX_PIPELINED {
            let Some(frame) = take_frame(&mut buffer) else {
                break;
            };
            let Ok(query) = frame else { return };
            deadline = Instant::now() + idle;
            match context.decide(&query, Transport::Tcp) {
                Outcome::Reply(reply) => {
                    if !write_frame(&mut writer, &reply, idle).await {
                        return;
                    }
                }
                Outcome::Forward(request) => {
                    pending.push(context.clone().forward(query, request, Transport::Tcp));
                }
                Outcome::Drop => {}
            }
        }
        if !reading && pending.is_empty() {
            return;
        }
        tokio::select! {
            read = reader.read_buf(&mut buffer), if reading && pending.len() < MAX_PIPELINED => {
                if !matches!(read, Ok(n) if n > 0) {
                    reading = false;
                }
            }
            Some(reply) = pending.next(), if !pending.is_empty() => {
                if !write_frame(&mut writer, &reply, idle).await {
                    return;
                }
                deadline = Instant::now() + idle;
            }
            () = sleep_until(deadline), if pending.is_empty() => return,
        }
    }
}

/// Takes the first complete length-prefixed message off `buffer`: `None` when incomplete,
/// `Err` when its announced length is over `MAX_QUERY_LEN`.
fn take_frame(buffer: &mut Vec<u8>) -> Option<Result<Vec<u8>, ()>> {
    let &[high, low, ..] = buffer.as_slice() else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([high, low]));
    if len > MAX_QUERY_LEN {
        return Some(Err(()));
    }
    if buffer.len() < 2 + len {
        return None;
    }
    let frame = buffer[2..2 + len].to_vec();
    buffer.drain(..2 + len);
    Some(Ok(frame))
}

async fn write_frame(writer: &mut OwnedWriteHalf, reply: &[u8], limit: Duration) -> bool {
    let Ok(len) = u16::try_from(reply.len()) else {
        return true;
    };
    let mut framed = Vec::with_capacity(reply.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(reply);
    matches!(timeout(limit, writer.write_all(&framed)).await, Ok(Ok(())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_taken_whole_and_in_order() {
        let mut buffer = vec![0, 2, 0xaa, 0xbb, 0, 1];
        assert_eq!(take_frame(&mut buffer), Some(Ok(vec![0xaa, 0xbb])));
        assert_eq!(take_frame(&mut buffer), None, "second frame incomplete");
        buffer.push(0xcc);
        assert_eq!(take_frame(&mut buffer), Some(Ok(vec![0xcc])));
        assert!(buffer.is_empty());
        let mut empty = Vec::new();
        assert_eq!(take_frame(&mut empty), None);
        let mut one_byte = vec![0];
        assert_eq!(take_frame(&mut one_byte), None);
    }

    #[test]
    fn oversize_frames_are_refused() {
        let mut buffer = vec![0xff, 0xff];
        assert_eq!(take_frame(&mut buffer), Some(Err(())));
        let mut zero = vec![0, 0];
        assert_eq!(take_frame(&mut zero), Some(Ok(vec![])));
    }
}
