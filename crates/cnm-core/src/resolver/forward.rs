//! Forwarding queries that are not ours to upstream resolvers, from the daemon's namespace.
//!
//! Contract of `Forwarder::forward(query, upstreams, transport)`:
//! - The raw query bytes go out unchanged except for the id, which is replaced by one of ours
//!   per attempt (and the client's restored in the reply), so a reply is only accepted from
//!   the server it was asked of, for that attempt. UDP goes over a few long-lived connected
//!   sockets per server (`udp_pool`, which owns id allocation and reply matching); TCP opens a
//!   connection per attempt (rare: TCP clients and truncated answers).
//! - UDP queries go out over UDP and are retried over TCP, to the same server, when the reply
//!   has TC set; TCP queries go out over TCP.
//! - Servers are tried in order, each with its own short timeout (`upstream_timeout`), and the
//!   next one is started early, without cancelling the first, when the first has not answered
//!   within `hedge_after` or at once when it fails. The first usable reply wins.
//! - SERVFAIL and REFUSED count as failures (try the next); any other reply, NXDOMAIN included,
//!   is returned as is. A server that timed out, could not be reached, or was overtaken by a
//!   server asked after it is tried last for the next `SERVER_PENALTY`, so a dead first
//!   resolver costs one delay, not a delay on every query.
//! - `None` means every server failed (the caller answers SERVFAIL); `Refused` means the global
//!   cap on queries in flight was reached and no slot freed up within `upstream_timeout`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep, timeout};

use super::udp_pool::{UdpError, UdpPool};
use super::wire::Transport;

/// How long a server that timed out is tried after the healthy ones.
const SERVER_PENALTY: Duration = Duration::from_secs(30);
const SERVFAIL: u8 = 2;
const REFUSED: u8 = 5;

/// The result of forwarding one query.
#[derive(Debug, PartialEq, Eq)]
pub enum Forwarded {
    /// An upstream's reply, with the client's id restored.
    Reply(Vec<u8>),
    /// No server gave a usable reply (or there are none).
    Failed,
    /// Too many queries in flight.
    Refused,
}

/// Forwarding settings (from `ResolverConfig`).
#[derive(Clone, Debug)]
pub struct ForwardPolicy {
    pub upstream_timeout: Duration,
    pub hedge_after: Duration,
    pub max_in_flight: usize,
}

pub struct Forwarder {
    policy: ForwardPolicy,
    in_flight: Semaphore,
    /// Servers that recently timed out → until when they are tried last.
    penalized: Mutex<HashMap<SocketAddr, Instant>>,
    udp: UdpPool,
}

/// Why one attempt at one server gave no usable reply.
#[derive(Debug)]
enum AttemptError {
    /// No answer in time, or the server could not be reached: penalize it.
    Unreachable,
    /// The server answered SERVFAIL/REFUSED, or garbage; or we had no id free to ask it.
    Unusable,
}

impl From<UdpError> for AttemptError {
    fn from(error: UdpError) -> Self {
        match error {
            UdpError::Unreachable { .. } => AttemptError::Unreachable,
            // Our own congestion, not the server's fault: do not penalize it.
            UdpError::NoFreeId { .. } => AttemptError::Unusable,
        }
    }
}

impl Forwarder {
    pub fn new(policy: ForwardPolicy) -> Self {
        Forwarder {
            in_flight: Semaphore::new(policy.max_in_flight),
            penalized: Mutex::new(HashMap::new()),
            udp: UdpPool::default(),
            policy,
        }
    }

    /// Forwards `query` (raw bytes, as received) to `upstreams`; see the module contract.
    pub async fn forward(
        &self,
        query: &[u8],
        upstreams: &[SocketAddr],
        transport: Transport,
    ) -> Forwarded {
        if upstreams.is_empty() || query.len() < 12 {
            return Forwarded::Failed;
        }
        let Ok(Ok(_permit)) = timeout(self.policy.upstream_timeout, self.in_flight.acquire()).await
        else {
            return Forwarded::Refused;
        };
        let order = self.preference_order(upstreams);
        let mut attempts = FuturesUnordered::new();
        // Indices (into `order`) of the attempts still waiting for an answer.
        let mut outstanding: Vec<usize> = vec![0];
        attempts.push(self.attempt(query, 0, order[0], transport));
        let mut started = 1;
        let mut hedge = pin!(sleep(self.policy.hedge_after));
        loop {
            let start_another = tokio::select! {
                finished = attempts.next() => match finished {
                    Some((index, _, Ok(reply))) => {
                        // Servers asked before this one and still silent lost to a hedge:
                        // ask them last for a while, so they stop delaying every query.
                        for &slower in outstanding.iter().filter(|&&i| i < index) {
                            self.penalize(order[slower]);
                        }
                        return Forwarded::Reply(reply);
                    }
                    Some((index, server, Err(error))) => {
                        outstanding.retain(|&i| i != index);
                        if matches!(error, AttemptError::Unreachable) {
                            self.penalize(server);
                        }
                        true
                    }
                    None => return Forwarded::Failed,
                },
                () = hedge.as_mut(), if started < order.len() => true,
            };
            if start_another && started < order.len() {
                outstanding.push(started);
                attempts.push(self.attempt(query, started, order[started], transport));
                started += 1;
                hedge
                    .as_mut()
                    .reset(Instant::now() + self.policy.hedge_after);
            }
        }
    }

    /// Healthy servers first, in configured order, then the penalized ones.
    fn preference_order(&self, upstreams: &[SocketAddr]) -> Vec<SocketAddr> {
        let now = Instant::now();
        let mut penalized = self.penalized.lock().unwrap_or_else(|e| e.into_inner());
        penalized.retain(|_, until| *until > now);
        let (healthy, late): (Vec<SocketAddr>, Vec<SocketAddr>) = upstreams
            .iter()
            .partition(|server| !penalized.contains_key(server));
        healthy.into_iter().chain(late).collect()
    }

    fn penalize(&self, server: SocketAddr) {
        let mut penalized = self.penalized.lock().unwrap_or_else(|e| e.into_inner());
        penalized.insert(server, Instant::now() + SERVER_PENALTY);
    }

    fn forgive(&self, server: SocketAddr) {
        let mut penalized = self.penalized.lock().unwrap_or_else(|e| e.into_inner());
        penalized.remove(&server);
    }

    /// One exchange with one server, bounded by the per-server timeout.
    async fn attempt(
        &self,
        query: &[u8],
        index: usize,
        server: SocketAddr,
        transport: Transport,
    ) -> (usize, SocketAddr, Result<Vec<u8>, AttemptError>) {
        let exchange = async {
            match transport {
                Transport::Udp => match self.udp.exchange(server, query).await? {
                    reply if is_truncated(&reply) => exchange_tcp(query, server).await,
                    reply => Ok(reply),
                },
                Transport::Tcp => exchange_tcp(query, server).await,
            }
        };
        let outcome = match timeout(self.policy.upstream_timeout, exchange).await {
            Ok(Ok(mut reply)) => {
                self.forgive(server);
                if matches!(reply[3] & 0x0f, SERVFAIL | REFUSED) {
                    Err(AttemptError::Unusable)
                } else {
                    reply[..2].copy_from_slice(&query[..2]);
                    Ok(reply)
                }
            }
            Ok(Err(error)) => Err(error),
            Err(_elapsed) => Err(AttemptError::Unreachable),
        };
        (index, server, outcome)
    }
}

fn is_truncated(reply: &[u8]) -> bool {
    reply[2] & 0x02 != 0
}

/// True when `reply` answers the query sent with `id`: a response (QR) with that id.
fn answers(reply: &[u8], id: u16) -> bool {
    reply.len() >= 12 && reply[2] & 0x80 != 0 && u16::from_be_bytes([reply[0], reply[1]]) == id
}

/// One query over a fresh TCP connection, under a random id of ours.
async fn exchange_tcp(query: &[u8], server: SocketAddr) -> Result<Vec<u8>, AttemptError> {
    let id: u16 = rand::random();
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|_| AttemptError::Unreachable)?;
    let length = u16::try_from(query.len()).map_err(|_| AttemptError::Unusable)?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(&id.to_be_bytes());
    framed.extend_from_slice(&query[2..]);
    stream
        .write_all(&framed)
        .await
        .map_err(|_| AttemptError::Unreachable)?;
    let length = stream
        .read_u16()
        .await
        .map_err(|_| AttemptError::Unusable)?;
    let mut reply = vec![0u8; usize::from(length)];
    stream
        .read_exact(&mut reply)
        .await
        .map_err(|_| AttemptError::Unusable)?;
    if answers(&reply, id) {
        Ok(reply)
    } else {
        Err(AttemptError::Unusable)
    }
}

/// Keeps at most `max` upstreams and drops our own listening address (Docker's rules).
pub fn usable_upstreams(upstreams: &[SocketAddr], max: usize) -> Arc<[SocketAddr]> {
    let own = super::LISTEN_ADDRESS;
    let mut kept: Vec<SocketAddr> = Vec::with_capacity(max);
    for server in upstreams {
        if server.ip() != std::net::IpAddr::V4(own) && !kept.contains(server) && kept.len() < max {
            kept.push(*server);
        }
    }
    kept.into()
}
