//! Network drivers (spec §2): the data plane of a network and its endpoints.
//!
//! Contract: the controller calls a driver only after IPAM has allocated, and undoes the
//! driver call if a later step fails. A driver returns data (`JoinInfo`) instead of calling
//! back into the controller. Built-in drivers are variants of one enum, so remote plugins
//! can later be one more variant without `dyn`.
//!
//! cnm merges Docker's CreateEndpoint and Join into `attach`: the sandbox is always known
//! when an endpoint is made, so the interface is created directly inside the sandbox's
//! namespace under its final name (one netlink request instead of create + move + rename).

use std::net::IpAddr;
use std::path::Path;

use crate::error::Result;
use crate::model::{Endpoint, Network};
use crate::osl::Netlink;

pub mod bridge;
pub mod fake;
pub mod options;
pub mod remote;
pub mod sublink;

pub use bridge::BridgeDriver;
pub use fake::FakeDriver;
pub use remote::RemoteDriver;
pub use sublink::SublinkDriver;

/// Where a driver's state and connectivity reach (spec §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    pub data_scope: &'static str,
    pub connectivity_scope: &'static str,
}

/// What a driver tells the controller after attaching an endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JoinInfo {
    pub gateway_v4: Option<IpAddr>,
    pub gateway_v6: Option<IpAddr>,
    /// Host-side interface name, recorded to find the interface again after a restart.
    pub host_ifname: Option<String>,
}

/// The sandbox side of an attach.
pub struct SandboxLink<'a> {
    pub netns: &'a Path,
    pub netlink: &'a Netlink,
    /// Final interface name inside the sandbox, chosen by the controller.
    pub ifname: &'a str,
}

pub enum Driver {
    Null,
    Host,
    Bridge(Box<BridgeDriver>),
    /// A test double (no kernel); see `fake.rs`.
    Fake(FakeDriver),
    Macvlan(SublinkDriver),
    Ipvlan(SublinkDriver),
    /// A plugin speaking `NetworkDriver.*` (`remote/`).
    Remote(RemoteDriver),
}

/// The names of built-in drivers, for error messages and `docker info`-like listings.
pub const BUILTIN: [&str; 5] = ["bridge", "host", "ipvlan", "macvlan", "null"];

impl Driver {
    pub fn name(&self) -> &'static str {
        match self {
            Driver::Null => "null",
            Driver::Host => "host",
            Driver::Bridge(_) | Driver::Fake(_) => "bridge",
            Driver::Macvlan(_) => "macvlan",
            Driver::Ipvlan(_) => "ipvlan",
            Driver::Remote(r) => r.name(),
        }
    }

    pub fn capability(&self) -> Capability {
        match self {
            Driver::Macvlan(_) | Driver::Ipvlan(_) => Capability {
                data_scope: "local",
                connectivity_scope: "global",
            },
            Driver::Remote(r) => r.capability(),
            _ => Capability {
                data_scope: "local",
                connectivity_scope: "local",
            },
        }
    }

    /// Null and host networks get no IPAM allocation (Docker's "special drivers").
    pub fn allocates_addresses(&self) -> bool {
        matches!(
            self,
            Driver::Bridge(_)
                | Driver::Fake(_)
                | Driver::Macvlan(_)
                | Driver::Ipvlan(_)
                | Driver::Remote(_)
        )
    }

    /// Whether the driver needs real subnets (the null IPAM driver's `0.0.0.0/0` is refused).
    /// Remote drivers may do their own addressing, which is what the null IPAM driver is for.
    pub fn needs_real_pools(&self) -> bool {
        !matches!(self, Driver::Remote(_))
    }

    /// Whether the controller gives endpoints a random MAC when the user gave none. Remote
    /// plugins may choose it themselves in `CreateEndpoint`, as with Docker.
    pub fn controller_assigns_mac(&self) -> bool {
        !matches!(self, Driver::Remote(_))
    }

    /// Checks options and conflicts before anything is allocated or created.
    pub fn validate(&self, network: &Network, others: &[&Network]) -> Result<()> {
        match self {
            Driver::Bridge(b) => b.validate(network, others),
            Driver::Macvlan(d) | Driver::Ipvlan(d) => d.validate(network),
            Driver::Null | Driver::Host | Driver::Fake(_) | Driver::Remote(_) => Ok(()),
        }
    }

    /// `(skip IPv4 gateway, skip IPv6 gateway)` (Docker's `GetSkipGwAlloc`).
    pub fn skip_gateway(&self, network: &Network) -> Result<(bool, bool)> {
        match self {
            Driver::Bridge(b) => b.skip_gateway(network),
            Driver::Macvlan(d) | Driver::Ipvlan(d) => d.skip_gateway(network),
            // Plugins are asked over HTTP: see `skip_gateway_checked`.
            Driver::Null | Driver::Host | Driver::Fake(_) | Driver::Remote(_) => Ok((false, false)),
        }
    }

    /// `skip_gateway`, also asking remote plugins that want to be asked (`GwAllocCheck`).
    pub async fn skip_gateway_checked(&self, network: &Network) -> Result<(bool, bool)> {
        match self {
            Driver::Remote(r) => r.skip_gateway(network).await,
            other => other.skip_gateway(network),
        }
    }

    /// Creates the data plane; returns whether an existing device was adopted.
    pub async fn create_network(&mut self, network: &Network, others: &[&Network]) -> Result<bool> {
        match self {
            Driver::Bridge(b) => b.create_network(network, others).await,
            Driver::Macvlan(d) | Driver::Ipvlan(d) => d.create_network(network).await,
            Driver::Remote(r) => r.create_network(network).await,
            Driver::Fake(f) => f.create_network(network),
            Driver::Null | Driver::Host => Ok(false),
        }
    }

    /// Brings an existing network's data plane back after a restart (recreating what is
    /// missing).
    pub async fn restore_network(&mut self, network: &Network) -> Result<()> {
        match self {
            Driver::Bridge(b) => b.restore_network(network).await,
            Driver::Macvlan(d) | Driver::Ipvlan(d) => d.restore_network(network).await,
            Driver::Fake(f) => f.create_network(network).map(|_| ()),
            // Plugins keep their own state across a daemon restart, as with Docker.
            Driver::Null | Driver::Host | Driver::Remote(_) => Ok(()),
        }
    }

    pub async fn delete_network(&mut self, network: &Network) -> Result<()> {
        match self {
            Driver::Bridge(b) => b.delete_network(network).await,
            Driver::Macvlan(d) | Driver::Ipvlan(d) => d.delete_network(network).await,
            Driver::Remote(r) => r.delete_network(network).await,
            Driver::Fake(f) => f.delete_network(network),
            Driver::Null | Driver::Host => Ok(()),
        }
    }

    /// Creates and configures the endpoint's interface inside the sandbox.
    pub async fn attach(
        &mut self,
        network: &Network,
        endpoint: &Endpoint,
        sandbox: &SandboxLink<'_>,
    ) -> Result<JoinInfo> {
        match self {
            Driver::Bridge(b) => b.attach(network, endpoint, sandbox).await,
            Driver::Macvlan(d) | Driver::Ipvlan(d) => d.attach(network, endpoint, sandbox).await,
            Driver::Remote(r) => r.attach(network, endpoint, sandbox).await,
            Driver::Fake(f) => f.attach(network, endpoint, sandbox),
            Driver::Null | Driver::Host => Ok(JoinInfo::default()),
        }
    }

    /// Removes the endpoint's interface. Missing interfaces are not an error.
    pub async fn detach(&mut self, network: &Network, endpoint: &Endpoint) -> Result<()> {
        match self {
            Driver::Bridge(b) => b.detach(network, endpoint).await,
            Driver::Macvlan(d) | Driver::Ipvlan(d) => d.detach(network, endpoint).await,
            Driver::Remote(r) => r.detach(network, endpoint).await,
            Driver::Null | Driver::Host | Driver::Fake(_) => Ok(()),
        }
    }

    /// Publishes the sandbox's ports through this endpoint; returns the actual bindings.
    /// Only bridge networks publish ports; others publish nothing, as with Docker.
    pub async fn program_ports(
        &mut self,
        network: &Network,
        endpoint: &Endpoint,
        specs: &[crate::portmap::PortSpec],
    ) -> Result<Vec<cnm_types::sandbox::PortBinding>> {
        match self {
            Driver::Bridge(b) => b.program_ports(network, endpoint, specs).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Unpublishes what the endpoint published (idempotent).
    pub async fn revoke_ports(&mut self, network: &Network, endpoint: &Endpoint) -> Result<()> {
        match self {
            Driver::Bridge(b) => b.revoke_ports(network, endpoint).await,
            _ => Ok(()),
        }
    }

    /// Re-takes stored bindings after a restart, without changing the kernel.
    pub async fn restore_ports(&mut self, network: &Network, endpoint: &Endpoint) -> Result<()> {
        match self {
            Driver::Bridge(b) if !endpoint.ports.is_empty() => b
                .restore_ports(network, endpoint, &endpoint.ports)
                .await
                .map(|_| ()),
            _ => Ok(()),
        }
    }

    /// True when the network's data plane is as recorded (for `cnm doctor`).
    pub async fn network_intact(&self, network: &Network) -> Result<bool> {
        match self {
            Driver::Bridge(b) => b.network_intact(network).await,
            _ => Ok(true),
        }
    }

    /// True when the endpoint's interface exists as recorded (for restart reconciliation).
    pub async fn endpoint_intact(&self, network: &Network, endpoint: &Endpoint) -> Result<bool> {
        match self {
            Driver::Bridge(b) => b.endpoint_intact(network, endpoint).await,
            Driver::Macvlan(d) | Driver::Ipvlan(d) => d.endpoint_intact(network, endpoint).await,
            // Docker does not check a plugin's interfaces at start-up either.
            Driver::Null | Driver::Host | Driver::Fake(_) | Driver::Remote(_) => Ok(true),
        }
    }

    /// What a plugin assigned to an endpoint's interface in the last `attach` (addresses and
    /// MAC from `CreateEndpoint`, the name from `Join`), for the controller's record.
    pub fn take_assigned_interface(
        &mut self,
        endpoint: &cnm_types::Id,
    ) -> Option<remote::AssignedInterface> {
        match self {
            Driver::Remote(r) => r.take_assigned(endpoint),
            _ => None,
        }
    }

    /// Operational data of an endpoint (`EndpointOperInfo`); built-ins have none to add.
    pub async fn endpoint_oper_info(
        &self,
        network: &Network,
        endpoint: &Endpoint,
    ) -> Result<cnm_types::plugin::Options> {
        match self {
            Driver::Remote(r) => r.endpoint_oper_info(network, endpoint).await,
            _ => Ok(cnm_types::plugin::Options::new()),
        }
    }
}
