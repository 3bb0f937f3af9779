//! The host port allocator: which host address, protocol and port belongs to which owner (an
//! endpoint). Single ports are held by a socket each (`reserve.rs`); blocks of several ports are
//! recorded and checked against the host's sockets (`diag.rs`), not held.
//!
//! Contract:
//! - Two bindings conflict on the same protocol, family and port when their addresses are equal
//!   or either is the family's wildcard (as `bind(2)` decides).
//! - `allocate` takes a block of `len` consecutive ports on every given address at once (the
//!   IPv4 and IPv6 bindings of one `-p` get the same port, as in Docker). An explicit block is
//!   taken or refused; a range with one container port takes the first free port of the range;
//!   "any" scans the kernel's ephemeral range (`ip_local_port_range` minus
//!   `ip_local_reserved_ports`), round robin from after the last port handed out.
//! - One port (`len == 1`, and every SCTP port): free when the allocator has no binding on it
//!   and a socket of the daemon can bind it; that socket then holds the port, as Docker >= 25
//!   does. A refused `bind(2)` is `failed to bind host port ...: address already in use`.
//! - A block of more than one port (TCP, UDP): free when the allocator has no binding in it and
//!   no socket of the caller's namespace receives new traffic on a port of it on a clashing
//!   address: one sock_diag dump per family (`diag::receivers`: listening TCP, unconnected
//!   UDP; an IPv4 binding also looks at dual-stack IPv6 sockets), whatever the block's size.
//!   The block is then one record of the allocator, with no socket, so 1000 ports cost about
//!   what one does. Consequences: a TCP socket that is bound but not listening is not seen, and
//!   a host process can still bind a port inside a published block later (traffic to it from
//!   outside and from the host is DNATed to the container all the same). When the kernel has
//!   no sock_diag for the protocol, the block is held with a socket per port instead.
//! - Any conflict with the allocator or with the host's sockets found before binding is
//!   Docker's `Bind for 0.0.0.0:8080 failed: port is already allocated` (409), naming the
//!   requested address and the first clashing port.
//! - On failure nothing stays taken. `release` frees everything an owner holds.
//! - `restore` re-takes bindings recorded before a restart, single ports with sockets and
//!   blocks as records. It never refuses: when a socket cannot be bound or another binding or
//!   host socket clashes, the binding stays its owner's (the DNAT rule still wins for traffic
//!   to it) and a warning is logged.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;

use super::diag::{self, Receiver};
use super::{PortRange, Proto, host_display, reserve};
use crate::error::{Error, ErrorKind, Result};

/// Docker's fallback when the kernel's range cannot be read.
const DEFAULT_EPHEMERAL: (u16, u16) = (49153, 65535);

/// A single port on one address, held by its socket (none without sockets, or SCTP without
/// kernel support).
struct Holder {
    ip: IpAddr,
    owner: String,
    _socket: Option<OwnedFd>,
}

/// A block of several ports on one address: a record only, no socket.
struct Block {
    proto: Proto,
    ip: IpAddr,
    ports: PortRange,
    owner: String,
}

/// (protocol, IPv6, port); ordered so that a block's ports are one range query.
type Slot = (Proto, bool, u16);

/// A port bound on one address, with its socket (none without sockets or SCTP).
type Held = (IpAddr, u16, Option<OwnedFd>);

/// What an owner was given: one block on one address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub proto: Proto,
    pub host_ip: IpAddr,
    pub ports: PortRange,
}

pub struct PortAllocator {
    used: BTreeMap<Slot, Vec<Holder>>,
    blocks: Vec<Block>,
    owners: HashMap<String, Vec<Slot>>,
    ephemeral: (u16, u16),
    reserved: Vec<(u16, u16)>,
    cursor: u16,
    /// Hold single ports with sockets and check blocks with sock_diag; off in unit tests.
    kernel: bool,
}

fn clash(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4() && (a == b || a.is_unspecified() || b.is_unspecified())
}

fn already_allocated(ip: IpAddr, port: impl std::fmt::Display) -> Error {
    Error::conflict(format!(
        "Bind for {}:{port} failed: port is already allocated",
        host_display(ip)
    ))
}

fn read_ranges(path: &str) -> Option<Vec<(u16, u16)>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut out = Vec::new();
    for item in text
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let mut parts = item.split(['-', '\t', ' ']).filter(|s| !s.is_empty());
        let lo: u16 = parts.next()?.parse().ok()?;
        let hi: u16 = parts.next().map(|p| p.parse().ok()).unwrap_or(Some(lo))?;
        out.push((lo, hi));
    }
    Some(out)
}

impl Default for PortAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl PortAllocator {
    /// Reads the ephemeral range of the caller's namespace; holds ports with sockets.
    pub fn new() -> Self {
        let ephemeral = read_ranges("/proc/sys/net/ipv4/ip_local_port_range")
            .and_then(|r| r.first().copied())
            .filter(|(lo, hi)| lo <= hi && *lo > 0)
            .unwrap_or(DEFAULT_EPHEMERAL);
        let reserved =
            read_ranges("/proc/sys/net/ipv4/ip_local_reserved_ports").unwrap_or_default();
        PortAllocator {
            reserved,
            kernel: true,
            ..Self::without_sockets(ephemeral)
        }
    }

    /// Bookkeeping only, no sockets and no sock_diag (unit tests).
    pub fn without_sockets(ephemeral: (u16, u16)) -> Self {
        PortAllocator {
            used: BTreeMap::new(),
            blocks: Vec::new(),
            owners: HashMap::new(),
            ephemeral,
            reserved: Vec::new(),
            cursor: ephemeral.0,
            kernel: false,
        }
    }

    pub fn ephemeral_range(&self) -> (u16, u16) {
        self.ephemeral
    }

    /// The first port of `ports` that another binding of the allocator clashes with on `ip`.
    fn busy(&self, proto: Proto, ip: IpAddr, ports: PortRange) -> Option<u16> {
        let v6 = ip.is_ipv6();
        let single = self
            .used
            .range((proto, v6, ports.start)..=(proto, v6, ports.end))
            .find(|(_, hs)| hs.iter().any(|h| clash(h.ip, ip)))
            .map(|((_, _, port), _)| *port);
        let block = self
            .blocks
            .iter()
            .filter(|b| b.proto == proto && b.ports.overlaps(&ports) && clash(b.ip, ip))
            .map(|b| b.ports.start.max(ports.start))
            .min();
        single.into_iter().chain(block).min()
    }

    /// Number of ports taken (all owners, all addresses), held or recorded.
    pub fn held(&self) -> usize {
        let blocks: u32 = self.blocks.iter().map(|b| b.ports.len()).sum();
        self.used.values().map(Vec::len).sum::<usize>() + blocks as usize
    }

    fn hold(&self, proto: Proto, ip: IpAddr, port: u16) -> io::Result<Option<OwnedFd>> {
        if self.kernel {
            reserve::hold(proto, ip, port)
        } else {
            Ok(None)
        }
    }

    /// Binds every port of the block on every address, or nothing.
    fn bind_block(
        &self,
        proto: Proto,
        ips: &[IpAddr],
        start: u16,
        len: u32,
    ) -> std::result::Result<Vec<Held>, (IpAddr, u16, io::Error)> {
        let mut held = Vec::new();
        for ip in ips {
            for port in (start as u32..start as u32 + len).map(|p| p as u16) {
                match self.hold(proto, *ip, port) {
                    Ok(fd) => held.push((*ip, port, fd)),
                    Err(e) => return Err((*ip, port, e)),
                }
            }
        }
        Ok(held)
    }

    /// The host's sockets that receive traffic in `span`, for bindings on `ips`; `None` when
    /// the kernel cannot say (the caller then holds the ports with sockets).
    fn receivers(&self, proto: Proto, ips: &[IpAddr], span: PortRange) -> Option<Vec<Receiver>> {
        let mut out = Vec::new();
        if ips.iter().any(IpAddr::is_ipv4) {
            match diag::receivers(proto, false, span) {
                Ok(r) => out.extend(r),
                Err(e) => {
                    tracing::warn!(%proto, error = %e, "sock_diag unavailable; holding the port range with sockets");
                    return None;
                }
            }
        }
        // IPv6 sockets matter to IPv4 bindings too (dual-stack `[::]`), but a kernel without
        // IPv6 has none: an error is fatal only when an IPv6 address is asked for.
        match diag::receivers(proto, true, span) {
            Ok(r) => out.extend(r),
            Err(e) if ips.iter().any(IpAddr::is_ipv6) => {
                tracing::warn!(%proto, error = %e, "sock_diag unavailable; holding the port range with sockets");
                return None;
            }
            Err(_) => {}
        }
        Some(out)
    }

    fn candidates(&self, want: PortRange, len: u32) -> Vec<u16> {
        if !want.is_any() {
            return if len == 1 {
                (want.start..=want.end).collect()
            } else {
                vec![want.start]
            };
        }
        let (lo, hi) = self.ephemeral;
        let span = hi as u32 - lo as u32 + 1;
        if len > span {
            return Vec::new();
        }
        let last_start = hi as u32 + 1 - len;
        let reserved = |p: u32| {
            self.reserved
                .iter()
                .any(|(a, b)| (*a as u32..=*b as u32).contains(&p))
        };
        let start = self.cursor.clamp(lo, hi) as u32;
        (0..span)
            .map(|i| lo as u32 + (start - lo as u32 + i) % span)
            .filter(|p| *p <= last_start && !(*p..*p + len).any(reserved))
            .map(|p| p as u16)
            .collect()
    }

    /// Takes a block of `len` ports on every address in `ips` for `owner`.
    pub fn allocate(
        &mut self,
        owner: &str,
        proto: Proto,
        ips: &[IpAddr],
        want: PortRange,
        len: u32,
    ) -> Result<PortRange> {
        let candidates = self.candidates(want, len);
        let single = candidates.len() == 1;
        // A block of several ports is recorded, not held: one dump of the host's sockets over
        // every candidate replaces a socket per port and address (see the module contract).
        let (record, receivers) = if len > 1 && proto != Proto::Sctp {
            if self.kernel {
                let span = if want.is_any() {
                    PortRange::new(self.ephemeral.0, self.ephemeral.1)
                } else {
                    PortRange::new(want.start, (want.start as u32 + len - 1) as u16)
                };
                let receivers = self.receivers(proto, ips, span);
                (receivers.is_some(), receivers.unwrap_or_default())
            } else {
                (true, Vec::new())
            }
        } else {
            (false, Vec::new())
        };
        for start in candidates {
            let block = PortRange::new(start, (start as u32 + len - 1) as u16);
            let busy = ips.iter().find_map(|ip| {
                self.busy(proto, *ip, block)
                    .or_else(|| diag::conflict(&receivers, *ip, block))
                    .map(|p| (*ip, p))
            });
            if let Some((ip, port)) = busy {
                if single {
                    return Err(already_allocated(ip, port));
                }
                continue;
            }
            if record {
                for ip in ips {
                    self.blocks.push(Block {
                        proto,
                        ip: *ip,
                        ports: block,
                        owner: owner.to_string(),
                    });
                }
            } else {
                match self.bind_block(proto, ips, start, len) {
                    Ok(held) => {
                        for (ip, port, socket) in held {
                            self.insert(owner, proto, ip, port, socket);
                        }
                    }
                    Err((ip, port, e)) if single => return Err(bind_error(proto, ip, port, e)),
                    Err(_) => continue,
                }
            }
            self.cursor = (start as u32 + len).min(u16::MAX as u32) as u16;
            return Ok(block);
        }
        if want.is_any() {
            Err(Error::conflict("all ports are allocated"))
        } else {
            let ip = ips.first().copied().unwrap_or(IpAddr::from([0, 0, 0, 0]));
            Err(already_allocated(ip, want))
        }
    }

    fn insert(
        &mut self,
        owner: &str,
        proto: Proto,
        ip: IpAddr,
        port: u16,
        socket: Option<OwnedFd>,
    ) {
        let slot = (proto, ip.is_ipv6(), port);
        self.used.entry(slot).or_default().push(Holder {
            ip,
            owner: owner.to_string(),
            _socket: socket,
        });
        self.owners.entry(owner.to_string()).or_default().push(slot);
    }

    /// Re-takes a recorded allocation after a restart (see the module contract).
    pub fn restore(&mut self, owner: &str, a: &Allocation) {
        if let Some(port) = self.busy(a.proto, a.host_ip, a.ports) {
            tracing::warn!(owner, port, ip = %a.host_ip, "restored port binding clashes with another one");
        }
        if a.ports.len() > 1 && a.proto != Proto::Sctp {
            if self.kernel
                && let Some(port) = self
                    .receivers(a.proto, &[a.host_ip], a.ports)
                    .and_then(|r| diag::conflict(&r, a.host_ip, a.ports))
            {
                tracing::warn!(owner, port, ip = %a.host_ip, proto = %a.proto, "a host socket receives traffic inside a restored port range; the DNAT rule takes new flows to it");
            }
            self.blocks.push(Block {
                proto: a.proto,
                ip: a.host_ip,
                ports: a.ports,
                owner: owner.to_string(),
            });
            return;
        }
        for port in a.ports.start..=a.ports.end {
            let socket = match self.hold(a.proto, a.host_ip, port) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(owner, port, ip = %a.host_ip, proto = %a.proto, error = %e, "cannot hold a restored host port; another process may use it");
                    None
                }
            };
            self.insert(owner, a.proto, a.host_ip, port, socket);
        }
    }

    /// Frees everything `owner` holds (closing its sockets).
    pub fn release(&mut self, owner: &str) {
        for slot in self.owners.remove(owner).unwrap_or_default() {
            if let Some(holders) = self.used.get_mut(&slot) {
                holders.retain(|h| h.owner != owner);
                if holders.is_empty() {
                    self.used.remove(&slot);
                }
            }
        }
        self.blocks.retain(|b| b.owner != owner);
    }
}

fn bind_error(proto: Proto, ip: IpAddr, port: u16, e: io::Error) -> Error {
    let kind = if e.raw_os_error() == Some(libc::EADDRINUSE) {
        ErrorKind::Conflict
    } else {
        ErrorKind::Internal
    };
    let why = if kind == ErrorKind::Conflict {
        "address already in use".to_string()
    } else {
        e.to_string()
    };
    Error::new(
        kind,
        format!(
            "failed to bind host port {}:{port}/{proto}: {why}",
            host_display(ip)
        ),
    )
}
