//! The embedded DNS resolver at 127.0.0.11:53 inside each sandbox (spec §8).
//!
//! Contract:
//! - One `Resolver` per daemon (cheap to clone). `start(sandbox, netns, upstreams)` binds
//!   127.0.0.11:53, UDP and TCP, inside the sandbox's network namespace and serves it from
//!   tasks on the daemon's tokio runtime; `stop(sandbox)` closes both sockets and ends every
//!   task of that sandbox. `start` on a sandbox already served only updates its upstreams.
//! - Deliberate simplification against Docker: Docker listens on random ports of 127.0.0.11
//!   and DNATs port 53 to them with iptables rules in the container's namespace (§8.2). cnm
//!   binds port 53 itself (127.0.0.0/8 is on the sandbox's `lo`, which the controller brings
//!   up), so a sandbox needs no firewall rules at all and the listener is visible with `ss`.
//! - Names come from a `RecordTable` that the controller rebuilds from its state after every
//!   connect, disconnect and removal and swaps in whole with `set_records` (readers never see
//!   a half-updated table). What is answered locally and what is forwarded: `wire`.
//! - Forwarding (`forward`) happens from the daemon's namespace, to the sandbox's upstreams if
//!   `start` got some, else to the resolver's (`--dns`, or the host's resolv.conf), at most 3:
//!   short per-server timeouts, the next server started early, TCP retry on truncation. No
//!   upstreams → SERVFAIL at once; there is never a silent fallback to public resolvers.
//!   UDP goes over a few long-lived connected sockets per upstream shared by all sandboxes
//!   (`udp_pool`: rewritten ids, replies matched by id and question).
//! - `resolv_conf` renders the `/etc/resolv.conf` that goes with it (§8.6).

mod forward;
mod records;
mod resolv_conf;
mod server;
mod stats;
mod udp_pool;
mod wire;

pub use forward::Forwarded;
pub use records::{Family, NameLookup, RecordTable, RecordTableBuilder};
pub use resolv_conf::{HostResolvConf, ResolvConfSpec, resolv_conf};
pub use stats::ResolverStats;
pub use wire::{LOCAL_TTL, MAX_QUERY_LEN, Outcome, Transport, build_query, error_reply, handle};

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use cnm_types::Id;
use tokio::task::JoinHandle;

use crate::error::{Error, ErrorKind, HasKind};
use crate::osl::OslError;
use forward::{ForwardPolicy, Forwarder, usable_upstreams};
use server::{SandboxContext, serve_tcp, serve_udp};

/// The address every sandbox's resolver listens on (port 53, UDP and TCP).
pub const LISTEN_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// Docker forwards to at most this many upstreams; so do we.
pub const MAX_UPSTREAMS: usize = 3;

/// Identifies a served sandbox: its id.
pub type SandboxKey = Id;

/// Resolver settings (daemon-wide).
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    /// Default upstreams: `--dns`, else the host's resolv.conf nameservers (port 53 each).
    pub upstreams: Vec<SocketAddr>,
    /// The port to listen on at 127.0.0.11: 53 (tests may pick another).
    pub listen_port: u16,
    /// How long one upstream server gets to answer one query (Docker: 4 s).
    pub upstream_timeout: Duration,
    /// After this long without an answer the next upstream is asked too.
    pub hedge_after: Duration,
    /// Forwarded queries in flight, all sandboxes together (Docker: 1024).
    pub max_in_flight: usize,
    /// A TCP connection with no complete query for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// Concurrent TCP connections per sandbox.
    pub max_tcp_connections: usize,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            upstreams: Vec::new(),
            listen_port: 53,
            upstream_timeout: Duration::from_secs(1),
            hedge_after: Duration::from_millis(400),
            max_in_flight: 1024,
            tcp_idle_timeout: Duration::from_secs(3),
            max_tcp_connections: 64,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolverError {
    /// The namespace could not be entered (missing or not a network namespace).
    #[error("DNS resolver for sandbox {sandbox}: {source}")]
    Netns {
        sandbox: String,
        #[source]
        source: OslError,
    },
    /// 127.0.0.11:53 could not be bound inside the namespace (port taken, no 127.0.0.0/8, ...).
    #[error("DNS resolver for sandbox {sandbox}: bind {address} ({protocol}) in {}: {source}", netns.display())]
    Bind {
        sandbox: String,
        netns: PathBuf,
        address: SocketAddr,
        protocol: &'static str,
        #[source]
        source: io::Error,
    },
}

impl HasKind for ResolverError {
    fn kind(&self) -> ErrorKind {
        match self {
            ResolverError::Netns { source, .. } => source.kind(),
            ResolverError::Bind { .. } => ErrorKind::Internal,
        }
    }
}

impl From<ResolverError> for Error {
    fn from(e: ResolverError) -> Self {
        Error::new(e.kind(), e.to_string())
    }
}

/// State every listener reads: the records, the default upstreams, the forwarder.
pub struct Shared {
    config: ResolverConfig,
    records: RwLock<Arc<RecordTable>>,
    upstreams: RwLock<Arc<[SocketAddr]>>,
    forwarder: Forwarder,
    counters: stats::Counters,
}

impl Shared {
    fn records(&self) -> Arc<RecordTable> {
        self.records
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn default_upstreams(&self) -> Arc<[SocketAddr]> {
        self.upstreams
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// One served sandbox: its context (for upstream updates) and its two listener tasks.
struct Served {
    context: Arc<SandboxContext>,
    tasks: [JoinHandle<()>; 2],
}

struct Inner {
    shared: Arc<Shared>,
    served: Mutex<HashMap<SandboxKey, Served>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let served = self.served.get_mut().unwrap_or_else(|e| e.into_inner());
        for (_, server) in served.drain() {
            server.tasks.iter().for_each(JoinHandle::abort);
        }
    }
}

/// The daemon's embedded DNS resolver; see the module contract.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

impl Resolver {
    pub fn new(config: ResolverConfig) -> Self {
        let forwarder = Forwarder::new(ForwardPolicy {
            upstream_timeout: config.upstream_timeout,
            hedge_after: config.hedge_after,
            max_in_flight: config.max_in_flight,
        });
        let shared = Shared {
            records: RwLock::new(Arc::new(RecordTable::default())),
            upstreams: RwLock::new(usable_upstreams(&config.upstreams, MAX_UPSTREAMS)),
            forwarder,
            counters: stats::Counters::default(),
            config,
        };
        Resolver {
            inner: Arc::new(Inner {
                shared: Arc::new(shared),
                served: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Starts serving 127.0.0.11:53 (UDP and TCP) inside the namespace at `netns`, answering
    /// for `sandbox`. `upstreams` replaces the default upstreams for this sandbox only.
    /// Idempotent: a sandbox already served keeps its sockets and gets the new upstreams.
    pub async fn start(
        &self,
        sandbox: &SandboxKey,
        netns: &Path,
        upstreams: Option<Vec<SocketAddr>>,
    ) -> Result<(), ResolverError> {
        let upstreams = upstreams.map(|list| usable_upstreams(&list, MAX_UPSTREAMS));
        if let Some(served) = self.served().get(sandbox) {
            *served
                .context
                .upstreams
                .write()
                .unwrap_or_else(|e| e.into_inner()) = upstreams;
            return Ok(());
        }
        let address = SocketAddr::V4(SocketAddrV4::new(
            LISTEN_ADDRESS,
            self.inner.shared.config.listen_port,
        ));
        let (udp, tcp) = bind_in(sandbox, netns, address).await?;
        let bind_error = |protocol, source| ResolverError::Bind {
            sandbox: sandbox.to_string(),
            netns: netns.to_owned(),
            address,
            protocol,
            source,
        };
        let udp = tokio::net::UdpSocket::from_std(udp).map_err(|e| bind_error("udp", e))?;
        let tcp = tokio::net::TcpListener::from_std(tcp).map_err(|e| bind_error("tcp", e))?;
        let context = Arc::new(SandboxContext {
            sandbox: sandbox.clone(),
            shared: self.inner.shared.clone(),
            upstreams: RwLock::new(upstreams),
        });
        let tasks = [
            tokio::spawn(serve_udp(udp, context.clone())),
            tokio::spawn(serve_tcp(tcp, context.clone())),
        ];
        let mut served = self.served();
        if let Some(raced) = served.insert(sandbox.clone(), Served { context, tasks }) {
            // Two concurrent starts for one sandbox: the second bind would have failed with
            // EADDRINUSE, so this only happens across namespaces; keep the newest.
            raced.tasks.iter().for_each(JoinHandle::abort);
        }
        Ok(())
    }

    /// Stops serving `sandbox`: both sockets are closed and its tasks ended when this returns.
    /// Idempotent.
    pub async fn stop(&self, sandbox: &SandboxKey) {
        let Some(served) = self.served().remove(sandbox) else {
            return;
        };
        for task in served.tasks {
            task.abort();
            // Waiting for the cancelled task is what guarantees its socket is closed, so a new
            // `start` in the same namespace can bind port 53 again right away.
            let _ = task.await;
        }
    }

    /// True while `sandbox` is being served.
    pub fn is_serving(&self, sandbox: &SandboxKey) -> bool {
        self.served().contains_key(sandbox)
    }

    /// Replaces the whole name table atomically.
    pub fn set_records(&self, table: RecordTable) {
        *self
            .inner
            .shared
            .records
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
    }

    /// Replaces the default upstreams (e.g. after the host's resolv.conf changed).
    pub fn set_upstreams(&self, upstreams: Vec<SocketAddr>) {
        *self
            .inner
            .shared
            .upstreams
            .write()
            .unwrap_or_else(|e| e.into_inner()) = usable_upstreams(&upstreams, MAX_UPSTREAMS);
    }

    /// What the resolver did so far, all sandboxes together.
    pub fn stats(&self) -> ResolverStats {
        self.inner.shared.counters.snapshot()
    }

    fn served(&self) -> std::sync::MutexGuard<'_, HashMap<SandboxKey, Served>> {
        self.inner.served.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Upstreams on port 53 for nameserver addresses (`--dns`, a resolv.conf's `nameserver`s).
pub fn upstreams_on_port_53(nameservers: &[IpAddr]) -> Vec<SocketAddr> {
    nameservers
        .iter()
        .map(|ip| SocketAddr::new(*ip, 53))
        .collect()
}

/// Binds the UDP socket and the TCP listener inside the namespace (on a thread that joined
/// it); the sockets stay in that namespace wherever they are used afterwards.
async fn bind_in(
    sandbox: &SandboxKey,
    netns: &Path,
    address: SocketAddr,
) -> Result<(UdpSocket, TcpListener), ResolverError> {
    let path = netns.to_owned();
    // run_in spawns and joins an OS thread: keep that off the async workers.
    let bound = tokio::task::spawn_blocking(move || {
        crate::osl::netns::run_in(&path, move || -> Result<_, (&'static str, io::Error)> {
            let udp = UdpSocket::bind(address).map_err(|e| ("udp", e))?;
            udp.set_nonblocking(true).map_err(|e| ("udp", e))?;
            let tcp = TcpListener::bind(address).map_err(|e| ("tcp", e))?;
            tcp.set_nonblocking(true).map_err(|e| ("tcp", e))?;
            Ok((udp, tcp))
        })
    })
    .await
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
    match bound {
        Err(source) => Err(ResolverError::Netns {
            sandbox: sandbox.to_string(),
            source,
        }),
        Ok(Err((protocol, source))) => Err(ResolverError::Bind {
            sandbox: sandbox.to_string(),
            netns: netns.to_owned(),
            address,
            protocol,
            source,
        }),
        Ok(Ok(sockets)) => Ok(sockets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn start_and_stop_futures_can_be_spawned() {
        let resolver = Resolver::new(ResolverConfig::default());
        let sandbox = Id::random();
        assert_send(&resolver.start(&sandbox, Path::new("/nonexistent"), None));
        assert_send(&resolver.stop(&sandbox));
    }

    #[test]
    fn upstreams_are_capped_deduplicated_and_never_ourselves() {
        let ips: Vec<IpAddr> = [
            "127.0.0.11",
            "10.0.0.1",
            "10.0.0.1",
            "10.0.0.2",
            "::1",
            "10.0.0.4",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let kept = usable_upstreams(&upstreams_on_port_53(&ips), MAX_UPSTREAMS);
        let expected: Vec<SocketAddr> = ["10.0.0.1:53", "10.0.0.2:53", "[::1]:53"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(&*kept, expected.as_slice());
    }

    #[tokio::test]
    async fn stop_of_an_unknown_sandbox_is_a_no_op_and_bad_paths_fail_typed() {
        let resolver = Resolver::new(ResolverConfig::default());
        let sandbox = Id::random();
        resolver.stop(&sandbox).await;
        let error = resolver
            .start(&sandbox, Path::new("/nonexistent/netns"), None)
            .await
            .expect_err("no such namespace");
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
        assert!(!resolver.is_serving(&sandbox));
        assert_eq!(resolver.stats(), ResolverStats::default());
    }
}
