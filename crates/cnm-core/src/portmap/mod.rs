//! Published ports: validating requests, allocating and holding host ports, and Docker's view.
//!
//! Contract:
//! - `parse_port_bindings` validates a request completely before anything changes: protocol,
//!   port numbers and ranges, range sizes, host addresses (they must be addresses of this host,
//!   checked with `bind(2)` in the caller's namespace), and bindings within the request that
//!   would take the same host port. Errors are `InvalidParameter` (400) with Docker's wording
//!   where Docker has one.
//! - `PortAllocator` hands out host ports. A single port is held with a socket of the daemon,
//!   as Docker does (`reserve.rs`): a TCP socket that is bound but never listens, a UDP socket
//!   bound with a drop-all filter. No other process can bind the port, and nothing is accepted
//!   on it. A block of more than one host port (TCP, UDP) is recorded by the allocator and
//!   checked against the host's existing sockets with one sock_diag dump per family
//!   (`diag.rs`), but not held: publishing 1000 ports costs about what one does, and a host
//!   process can still bind a port inside a published block later. Either way traffic reaches
//!   the container through the kernel's DNAT (the firewall), never through a process. SCTP
//!   ports are always held one by one, and only in the allocator when the kernel has no SCTP
//!   sockets.
//! - A second binding of a host address and port (or a wildcard and a specific address of the
//!   same family) fails with `Bind for 0.0.0.0:8080 failed: port is already allocated` (409);
//!   so does a block over a port on which a host socket listens (TCP) or is bound (UDP).
//! - `docker_ports` renders actual bindings as `NetworkSettings.Ports` (`{"80/tcp": [{"HostIp":
//!   "0.0.0.0", "HostPort": "8080"}]}`), one key per container port.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use cnm_types::sandbox::PortBinding;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub mod allocator;
pub mod diag;
mod reserve;

pub use allocator::{Allocation, PortAllocator};

/// A transport protocol a port can be published for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn parse(s: &str) -> Result<Proto> {
        match s {
            "" | "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "sctp" => Ok(Proto::Sctp),
            other => Err(Error::invalid(format!("invalid proto: {other}"))),
        }
    }

    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inclusive port range; `(0, 0)` as a host range means "any free port".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn new(start: u16, end: u16) -> Self {
        PortRange { start, end }
    }
    #[allow(clippy::len_without_is_empty)] // a range always holds at least one port
    pub fn len(&self) -> u32 {
        self.end as u32 - self.start as u32 + 1
    }
    pub fn is_any(&self) -> bool {
        self.start == 0
    }
    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.start <= other.end && other.start <= self.end
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// A validated request for one published port or range.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortSpec {
    pub proto: Proto,
    pub container: PortRange,
    /// `None`: the network's default (`host_binding_ipv4`, else every address).
    pub host_ip: Option<IpAddr>,
    /// `(0, 0)`: pick free ports. A range for one container port: pick one port in it.
    pub host: PortRange,
}

impl PortSpec {
    /// The host ports this spec will take as a block: the container range's size.
    pub fn block_len(&self) -> u32 {
        self.container.len()
    }
}

/// `host_ip` as Docker writes it in messages: `0.0.0.0`, `[::]`.
pub fn host_display(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// `""` → `None`; brackets around IPv6 addresses are accepted.
pub fn parse_host_ip(text: &str) -> Result<Option<IpAddr>> {
    let trimmed = text.trim_start_matches('[').trim_end_matches(']');
    if trimmed.is_empty() {
        return Ok(None);
    }
    trimmed
        .parse()
        .map(Some)
        .map_err(|_| Error::invalid(format!("invalid IP address: {text}")))
}

/// True when `ip` is an address of this host (or unspecified): `bind(2)` to it succeeds.
pub fn is_local_address(ip: IpAddr) -> bool {
    ip.is_unspecified() || reserve::can_bind_address(ip)
}

/// Validates one requested binding (see the module contract).
fn parse_one(b: &PortBinding) -> Result<PortSpec> {
    let proto = Proto::parse(&b.proto)?;
    if b.container_port == 0 {
        return Err(Error::invalid("invalid containerPort: 0"));
    }
    let container_end = if b.container_port_end == 0 {
        b.container_port
    } else {
        b.container_port_end
    };
    if container_end < b.container_port {
        return Err(Error::invalid(format!(
            "invalid containerPort: {}-{container_end}",
            b.container_port
        )));
    }
    let container = PortRange::new(b.container_port, container_end);
    let host_end = if b.host_port_end == 0 {
        b.host_port
    } else {
        b.host_port_end
    };
    if b.host_port == 0 && host_end != 0 {
        return Err(Error::invalid(format!("invalid hostPort: 0-{host_end}")));
    }
    if host_end < b.host_port {
        return Err(Error::invalid(format!(
            "invalid hostPort: {}-{host_end}",
            b.host_port
        )));
    }
    let host = PortRange::new(b.host_port, host_end);
    if !host.is_any() && container.len() > 1 && host.len() != container.len() {
        return Err(Error::invalid(format!(
            "Invalid ranges specified for container and host Ports: {container} and {host}"
        )));
    }
    let host_ip = parse_host_ip(&b.host_ip)?;
    if let Some(ip) = host_ip
        && !is_local_address(ip)
    {
        return Err(Error::invalid(format!(
            "invalid host IP {ip}: it is not an address of this host"
        )));
    }
    Ok(PortSpec {
        proto,
        container,
        host_ip,
        host,
    })
}

/// Validates every binding of a request; see the module contract. Exact duplicates collapse.
pub fn parse_port_bindings(bindings: &[PortBinding]) -> Result<Vec<PortSpec>> {
    let mut specs: Vec<PortSpec> = Vec::new();
    for b in bindings {
        let spec = parse_one(b)?;
        if specs.contains(&spec) {
            continue;
        }
        // Explicit host ports of the same protocol and address must not overlap: the second
        // would fail to bind anyway, and the request is refused before anything is taken.
        let clash = specs.iter().find(|s| {
            s.proto == spec.proto
                && !s.host.is_any()
                && !spec.host.is_any()
                && s.host.overlaps(&spec.host)
                && addresses_overlap(s.host_ip, spec.host_ip)
        });
        if let Some(other) = clash {
            let ip = spec
                .host_ip
                .or(other.host_ip)
                .unwrap_or(IpAddr::from([0, 0, 0, 0]));
            let port = spec.host.start.max(other.host.start);
            return Err(Error::invalid(format!(
                "Bind for {}:{port} failed: port is already allocated",
                host_display(ip)
            )));
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// Whether two host addresses can take the same port: equal, or one covers the other.
fn addresses_overlap(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) => {
            a == b || (a.is_ipv4() == b.is_ipv4() && (a.is_unspecified() || b.is_unspecified()))
        }
    }
}

/// One host side of a published port, as `NetworkSettings.Ports` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostBinding {
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    #[serde(rename = "HostPort")]
    pub host_port: String,
}

/// Docker's `NetworkSettings.Ports` for actual bindings: `"80/tcp"` → host bindings.
pub fn docker_ports(bindings: &[PortBinding]) -> BTreeMap<String, Vec<HostBinding>> {
    let mut out: BTreeMap<String, Vec<HostBinding>> = BTreeMap::new();
    for b in bindings {
        let end = b.container_port_end.max(b.container_port);
        for (i, port) in (b.container_port..=end).enumerate() {
            let proto = if b.proto.is_empty() {
                "tcp"
            } else {
                b.proto.as_str()
            };
            let host_port = if b.host_port == 0 {
                String::new()
            } else {
                (b.host_port + i as u16).to_string()
            };
            out.entry(format!("{port}/{proto}"))
                .or_default()
                .push(HostBinding {
                    host_ip: b.host_ip.clone(),
                    host_port,
                });
        }
    }
    out
}

#[cfg(test)]
mod tests;
