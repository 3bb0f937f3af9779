//! The host port allocator: which host address, protocol and port belongs to which owner (an
//! endpoint), with a held socket per port (`reserve.rs`).
//!
//! Contract:
//! - Two holders conflict on the same protocol, family and port when their addresses are equal
//!   or either is the family's wildcard (as `bind(2)` decides).
//! - `allocate` takes a block of `len` consecutive ports on every given address at once (the
//!   IPv4 and IPv6 bindings of one `-p` get the same port, as in Docker). An explicit block is
//!   taken or refused; a range with one container port takes the first free port of the range;
//!   "any" scans the kernel's ephemeral range (`ip_local_port_range` minus
//!   `ip_local_reserved_ports`), round robin from after the last port handed out. A port is
//!   free when the allocator has no holder for it and the kernel lets the socket bind.
//! - On failure nothing stays taken. `release` frees everything an owner holds.
//! - `restore` re-takes ports recorded before a restart; when a socket cannot be bound (another
//!   process took the port meanwhile) the port stays allocated to its owner (the DNAT rule
//!   still wins for traffic to it) and a warning is logged.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;

use super::{PortRange, Proto, host_display, reserve};
use crate::error::{Error, ErrorKind, Result};

/// Docker's fallback when the kernel's range cannot be read.
const DEFAULT_EPHEMERAL: (u16, u16) = (49153, 65535);

struct Holder {
    ip: IpAddr,
    owner: String,
    _socket: Option<OwnedFd>,
}

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
    used: HashMap<Slot, Vec<Holder>>,
    owners: HashMap<String, Vec<Slot>>,
    ephemeral: (u16, u16),
    reserved: Vec<(u16, u16)>,
    cursor: u16,
    hold_sockets: bool,
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
            used: HashMap::new(),
            owners: HashMap::new(),
            ephemeral,
            reserved,
            cursor: ephemeral.0,
            hold_sockets: true,
        }
    }

    /// Bookkeeping only, no sockets (unit tests).
    pub fn without_sockets(ephemeral: (u16, u16)) -> Self {
        PortAllocator {
            used: HashMap::new(),
            owners: HashMap::new(),
            ephemeral,
            reserved: Vec::new(),
            cursor: ephemeral.0,
            hold_sockets: false,
        }
    }

    pub fn ephemeral_range(&self) -> (u16, u16) {
        self.ephemeral
    }

    fn taken(&self, proto: Proto, ip: IpAddr, port: u16) -> bool {
        self.used
            .get(&(proto, ip.is_ipv6(), port))
            .is_some_and(|hs| {
                hs.iter()
                    .any(|h| h.ip == ip || h.ip.is_unspecified() || ip.is_unspecified())
            })
    }

    /// Number of ports held (all owners, all addresses).
    pub fn held(&self) -> usize {
        self.used.values().map(Vec::len).sum()
    }

    fn hold(&self, proto: Proto, ip: IpAddr, port: u16) -> io::Result<Option<OwnedFd>> {
        if self.hold_sockets {
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
        for start in candidates {
            let block = start as u32..start as u32 + len;
            let busy = ips.iter().find_map(|ip| {
                block
                    .clone()
                    .find(|p| self.taken(proto, *ip, *p as u16))
                    .map(|p| (*ip, p))
            });
            if let Some((ip, port)) = busy {
                if single {
                    return Err(Error::conflict(format!(
                        "Bind for {}:{port} failed: port is already allocated",
                        host_display(ip)
                    )));
                }
                continue;
            }
            match self.bind_block(proto, ips, start, len) {
                Ok(held) => {
                    for (ip, port, socket) in held {
                        self.insert(owner, proto, ip, port, socket);
                    }
                    self.cursor = (start as u32 + len).min(u16::MAX as u32) as u16;
                    return Ok(PortRange::new(start, (start as u32 + len - 1) as u16));
                }
                Err((ip, port, e)) if single => return Err(bind_error(proto, ip, port, e)),
                Err(_) => continue,
            }
        }
        if want.is_any() {
            Err(Error::conflict("all ports are allocated"))
        } else {
            let ip = ips.first().copied().unwrap_or(IpAddr::from([0, 0, 0, 0]));
            Err(Error::conflict(format!(
                "Bind for {}:{want} failed: port is already allocated",
                host_display(ip)
            )))
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
        for port in a.ports.start..=a.ports.end {
            if self.taken(a.proto, a.host_ip, port) {
                tracing::warn!(owner, port, ip = %a.host_ip, "restored port binding clashes with another one");
            }
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
