//! Long-lived connected UDP sockets to upstream servers, shared by every sandbox.
//!
//! Why: a fresh socket per forwarded query (what Docker does) costs socket, bind, connect,
//! two epoll_ctl and close on top of the send and receive, 15 syscalls a query instead of ~5.
//!
//! Contract of `UdpPool::exchange(server, query)`:
//! - The query goes out on one of `SOCKETS_PER_SERVER` sockets connected to `server` (opened on
//!   first use, in the namespace of the calling thread, i.e. the daemon's), with its id replaced
//!   by one not in flight on that socket. The reply comes back with the *upstream's* id; the
//!   caller restores the client's.
//! - A reply is accepted only from `server` (the socket is connected), only for an id in flight,
//!   only with QR set and the same question as the query (case-insensitive). Anything else — a
//!   late reply to a query that timed out, a stray or forged datagram — is dropped, so one
//!   query can never get another's answer.
//! - Dropping the `exchange` future (timeout, hedge won elsewhere, client gone) frees its id at
//!   once; a reply that arrives later is dropped as stale.
//! - An ICMP port/host unreachable on a socket fails every query in flight on it with
//!   `Unreachable` at once (they all went to the same dead server).
//! - Each socket is retired after `ROTATE_AFTER` queries and a new one (new random source
//!   port) takes its place; the old one lives until its last query is done. Together with the
//!   random ids and the question check this keeps off-path spoofing about as hard as with a
//!   port per query. Servers not asked for `IDLE_EVICT` lose their sockets when a new server
//!   is first asked (the sweep stays off the hot path; the set of servers is small anyway).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep};

/// Sockets per server used in turn: spreads replies over several source ports.
const SOCKETS_PER_SERVER: usize = 4;
/// Queries a socket carries before it is replaced by one on a new random port.
const ROTATE_AFTER: u32 = 2048;
/// A server not asked for this long gets its sockets closed.
const IDLE_EVICT: Duration = Duration::from_secs(120);
/// Tries at a random free id before giving up (only near 65536 ids in flight on one socket).
const ID_TRIES: usize = 64;
/// Pause after an unexpected receive error, so a persistent one cannot spin.
const ERROR_BACKOFF: Duration = Duration::from_millis(20);

/// Why an exchange over UDP gave no reply.
#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    /// The socket could not be opened or the query not sent, or the server answered with
    /// ICMP unreachable.
    #[error("upstream {server} unreachable: {source}")]
    Unreachable {
        server: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// No free query id on the chosen socket (tens of thousands of queries in flight).
    #[error("no free query id towards {server}")]
    NoFreeId { server: SocketAddr },
}

/// See the module contract.
#[derive(Default)]
pub struct UdpPool {
    servers: Mutex<HashMap<SocketAddr, Server>>,
}

/// One server's sockets, used round-robin.
struct Server {
    sockets: Vec<Arc<Channel>>,
    next: usize,
    last_used: Instant,
}

/// One connected socket and the task that reads its replies. Dropping the last `Arc` of it
/// (the pool replaced it and its last query finished) ends the task and closes the socket.
struct Channel {
    shared: Arc<ChannelShared>,
    receiver: AbortHandle,
    sent: AtomicU32,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

/// What the exchanges and the receiving task share.
struct ChannelShared {
    server: SocketAddr,
    socket: UdpSocket,
    pending: Mutex<HashMap<u16, Waiter>>,
    /// Tells apart successive users of one id, so a finished query's guard cannot remove
    /// the entry of a newer query that reuses its id.
    serial: AtomicU64,
}

struct Waiter {
    serial: u64,
    /// The question section of the query as sent; the reply must repeat it.
    question: Box<[u8]>,
    reply: oneshot::Sender<Result<Vec<u8>, io::Error>>,
}

impl UdpPool {
    /// Sends `query` to `server` and waits for its reply; see the module contract. Unbounded
    /// in time: the caller puts a timeout around it.
    pub async fn exchange(&self, server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, UdpError> {
        let channel = self.channel(server)?;
        let shared = &channel.shared;
        let (sender, receiver) = oneshot::channel();
        let (id, serial) = shared.register(query, sender)?;
        // Frees the id on every way out of here, including this future being dropped.
        let _registered = Registration { shared, id, serial };
        let mut outgoing = query.to_vec();
        outgoing[..2].copy_from_slice(&id.to_be_bytes());
        let unreachable = |source| UdpError::Unreachable { server, source };
        shared.socket.send(&outgoing).await.map_err(unreachable)?;
        match receiver.await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(source)) => Err(unreachable(source)),
            // The receiving task ended (the pool is being dropped).
            Err(_) => Err(unreachable(io::ErrorKind::ConnectionAborted.into())),
        }
    }

    /// The next socket for `server`, opening or replacing one as needed.
    fn channel(&self, server: SocketAddr) -> Result<Arc<Channel>, UdpError> {
        let now = Instant::now();
        let mut servers = self.servers.lock().unwrap_or_else(|e| e.into_inner());
        if !servers.contains_key(&server) {
            // Only here, so the sweep costs nothing on the hot path.
            servers.retain(|_, known| now.duration_since(known.last_used) < IDLE_EVICT);
            servers.insert(
                server,
                Server {
                    sockets: Vec::with_capacity(SOCKETS_PER_SERVER),
                    next: 0,
                    last_used: now,
                },
            );
        }
        let entry = servers.get_mut(&server).expect("inserted above");
        entry.last_used = now;
        let slot = entry.next;
        entry.next = (slot + 1) % SOCKETS_PER_SERVER;
        if let Some(channel) = entry.sockets.get(slot)
            && channel.sent.fetch_add(1, Ordering::Relaxed) < ROTATE_AFTER
        {
            return Ok(channel.clone());
        }
        // A slot not filled yet, or a worn-out socket: the old one lives on in the queries
        // still using it and closes with the last of them.
        let fresh = Arc::new(Channel::open(server)?);
        fresh.sent.store(1, Ordering::Relaxed);
        match entry.sockets.get_mut(slot) {
            Some(worn_out) => *worn_out = fresh.clone(),
            None => entry.sockets.push(fresh.clone()),
        }
        Ok(fresh)
    }
}

impl Channel {
    /// Binds a random port and connects it to `server`, from the calling thread's namespace.
    fn open(server: SocketAddr) -> Result<Self, UdpError> {
        let unreachable = |source| UdpError::Unreachable { server, source };
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = std::net::UdpSocket::bind(local).map_err(unreachable)?;
        socket.connect(server).map_err(unreachable)?;
        socket.set_nonblocking(true).map_err(unreachable)?;
        let socket = UdpSocket::from_std(socket).map_err(unreachable)?;
        let shared = Arc::new(ChannelShared {
            server,
            socket,
            pending: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(0),
        });
        let receiver = tokio::spawn(receive(shared.clone())).abort_handle();
        Ok(Channel {
            shared,
            receiver,
            sent: AtomicU32::new(0),
        })
    }
}

impl ChannelShared {
    /// Picks a random id not in flight on this socket and records the waiter under it.
    fn register(
        &self,
        query: &[u8],
        reply: oneshot::Sender<Result<Vec<u8>, io::Error>>,
    ) -> Result<(u16, u64), UdpError> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let question = question(query).unwrap_or_default().into();
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..ID_TRIES {
            let id: u16 = rand::random();
            if let std::collections::hash_map::Entry::Vacant(slot) = pending.entry(id) {
                slot.insert(Waiter {
                    serial,
                    question,
                    reply,
                });
                return Ok((id, serial));
            }
        }
        Err(UdpError::NoFreeId {
            server: self.server,
        })
    }

    /// Hands `reply` to the query waiting for it, if any; see the contract for what counts.
    fn deliver(&self, reply: &[u8]) {
        if reply.len() < 12 || reply[2] & 0x80 == 0 {
            return;
        }
        let id = u16::from_be_bytes([reply[0], reply[1]]);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let Some(waiter) = pending.get(&id) else {
            return; // late (its query gave up) or never asked
        };
        if !same_question(&waiter.question, reply) {
            return;
        }
        let waiter = pending.remove(&id).expect("looked up above");
        drop(pending);
        let _ = waiter.reply.send(Ok(reply.to_vec()));
    }

    /// After a socket error: an ICMP unreachable fails every query in flight on this socket
    /// (they all went to the same server). False for other errors (not the server's doing).
    fn fail(&self, kind: io::ErrorKind) -> bool {
        if !matches!(
            kind,
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
        ) {
            // ENOMEM and the like: the per-query timeouts still apply.
            return false;
        }
        let drained: Vec<Waiter> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.drain().map(|(_, waiter)| waiter).collect()
        };
        for waiter in drained {
            let _ = waiter.reply.send(Err(kind.into()));
        }
        true
    }
}

/// Removes its id from the pending map when the exchange ends, however it ends.
struct Registration<'a> {
    shared: &'a ChannelShared,
    id: u16,
    serial: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if pending
            .get(&self.id)
            .is_some_and(|w| w.serial == self.serial)
        {
            pending.remove(&self.id);
        }
    }
}

thread_local! {
    /// Receive buffer for the largest datagram, one per runtime thread rather than one per
    /// socket: it is never held across an await.
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(vec![0u8; usize::from(u16::MAX)]);
}

/// Reads replies off one socket for as long as the channel lives (it aborts this task).
async fn receive(shared: Arc<ChannelShared>) {
    let socket = &shared.socket;
    loop {
        // ERROR too: an ICMP unreachable raises only EPOLLERR, which is not "readable".
        let Ok(ready) = socket.ready(Interest::READABLE | Interest::ERROR).await else {
            sleep(ERROR_BACKOFF).await;
            continue;
        };
        if ready.is_error() {
            // Reading SO_ERROR clears it; returning WouldBlock clears tokio's ERROR readiness
            // (it would stay set and spin this loop otherwise).
            let _ = socket.try_io(Interest::ERROR, || {
                if let Ok(Some(error)) = socket.take_error() {
                    shared.fail(error.kind());
                }
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            });
        }
        // Drain everything queued before waiting again: one wake-up, many replies.
        let failed = BUFFER.with_borrow_mut(|buffer| {
            loop {
                match socket.try_recv(buffer) {
                    Ok(len) => shared.deliver(&buffer[..len]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                    Err(e) => return Some(e.kind()),
                }
            }
        });
        if let Some(kind) = failed
            && !shared.fail(kind)
        {
            // Whatever it is may persist: do not spin on it.
            sleep(ERROR_BACKOFF).await;
        }
    }
}

/// The question section of a message (from byte 12 through the first question's type and
/// class), or `None` when it has no plain question (count 0, compressed or cut short).
fn question(message: &[u8]) -> Option<&[u8]> {
    if message.len() < 12 || u16::from_be_bytes([message[4], message[5]]) == 0 {
        return None;
    }
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        if len == 0 {
            break;
        }
        // A pointer (or reserved label type) cannot start the first name of a message.
        if len & 0xc0 != 0 {
            return None;
        }
        at += 1 + len;
    }
    let end = at + 1 + 4;
    (end <= message.len()).then(|| &message[12..end])
}

/// True when `reply` carries `question` (ASCII case-insensitive: some servers echo names in
/// their own case). An empty expected question (the query had none we could read) matches
/// anything: the id alone decides then.
fn same_question(question: &[u8], reply: &[u8]) -> bool {
    question.is_empty()
        || reply
            .get(12..12 + question.len())
            .is_some_and(|echoed| echoed.eq_ignore_ascii_case(question))
}

#[cfg(test)]
#[path = "udp_pool_tests.rs"]
mod tests;
