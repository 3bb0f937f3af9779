//! The controller: owns the state and orders every operation (spec §1.14).
//!
//! Contract:
//! - One `State` behind one async mutex is the source of truth while the daemon runs; the
//!   store is written through, one batch per operation, after the kernel changes succeed.
//! - Creates change the kernel first and persist last; deletes persist first and change the
//!   kernel after. So a crash at any point leaves either a record whose kernel state can be
//!   rebuilt, or kernel leftovers without a record, which the start-up sweep removes.
//! - Every operation undoes its completed steps when a later step fails (`undo.rs`).
//! - Lookups by id, name and id prefix are indexed; nothing scans the kernel on a request.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cnm_types::Id;
use ipnet::IpNet;
use tokio::sync::Mutex;

use crate::driver::Driver;
use crate::error::{Error, Result};
use crate::ipam::{DefaultIpam, Ipams, PredefinedPools};
use crate::model::{Endpoint, Network, Sandbox};
use crate::osl::Netlink;
use crate::resolver::{Resolver, ResolverConfig, upstreams_on_port_53};
use crate::store::{Batch, KvStore};

mod dns;
mod doctor;
mod endpoint;
mod etc;
pub mod failpoint;
mod gateway;
mod ipam_alloc;
mod network;
mod plugins;
mod resolve;
mod restore;
mod sandbox;
pub mod spec;
#[cfg(test)]
mod tests;
mod undo;
mod views;

pub use doctor::Finding;
pub use network::{PruneFilter, label_matches};
pub use resolve::Lookup;
pub use views::{Counts, EndpointView, NetworkView, SandboxView};

/// Daemon settings the controller needs (`cnm daemon` flags, DESIGN §3.1).
#[derive(Clone, Debug)]
pub struct Config {
    pub data_root: PathBuf,
    pub exec_root: PathBuf,
    pub default_bridge: DefaultBridge,
    pub pools: PredefinedPools,
    /// `--dns`: upstream resolvers written into sandboxes' resolv.conf.
    pub dns: Vec<IpAddr>,
    /// The host's resolv.conf, source of nameservers when `--dns` is not given.
    pub host_resolv_conf: PathBuf,
    /// Where remote plugins are found (`--plugin-dir`, `--plugin-spec-dir`) and time bounds.
    pub plugins: crate::plugins::PluginSettings,
}

/// How the predefined `bridge` network is set up.
#[derive(Clone, Debug)]
pub struct DefaultBridge {
    pub name: String,
    /// `--bip`: gateway address and subnet.
    pub bip: Option<IpNet>,
    pub fixed_cidr: Option<IpNet>,
    pub mtu: u32,
    pub icc: bool,
    pub ip_masq: bool,
}

/// The built-in drivers, by name, and the remote plugins loaded so far.
pub struct Drivers {
    pub bridge: Driver,
    pub host: Driver,
    pub null: Driver,
    pub macvlan: Driver,
    pub ipvlan: Driver,
    /// Remote network drivers by plugin name, loaded on first use (`plugins.rs`).
    pub remote: BTreeMap<String, Driver>,
}

impl Drivers {
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Driver> {
        match name {
            "bridge" => Some(&mut self.bridge),
            "host" => Some(&mut self.host),
            "null" => Some(&mut self.null),
            "macvlan" => Some(&mut self.macvlan),
            "ipvlan" => Some(&mut self.ipvlan),
            _ => self.remote.get_mut(name),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Driver> {
        match name {
            "bridge" => Some(&self.bridge),
            "host" => Some(&self.host),
            "null" => Some(&self.null),
            "macvlan" => Some(&self.macvlan),
            "ipvlan" => Some(&self.ipvlan),
            _ => self.remote.get(name),
        }
    }
}

/// Everything the controller knows, indexed.
pub(crate) struct State {
    pub networks: BTreeMap<Id, Network>,
    pub network_names: HashMap<String, Id>,
    /// Each network's `GET /networks` item, serialized once when the record is stored
    /// (records never change afterwards): `(current shape, legacy shape)`.
    pub network_list_items: HashMap<Id, (Vec<u8>, Vec<u8>)>,
    pub endpoints: HashMap<Id, Endpoint>,
    /// `(network, endpoint name)` → endpoint.
    pub endpoint_names: HashMap<(Id, String), Id>,
    /// network → its endpoints, so inspect and delete never scan all endpoints.
    pub network_endpoints: HashMap<Id, std::collections::BTreeSet<Id>>,
    pub sandboxes: BTreeMap<Id, Sandbox>,
    pub sandbox_names: HashMap<String, Id>,
    /// Open netlink connections into each sandbox's namespace.
    pub sandbox_links: HashMap<Id, Netlink>,
    pub ipams: Ipams,
    pub drivers: Drivers,
    /// A prune is running (Docker refuses a second one with 409).
    pub pruning: bool,
}

pub struct Controller {
    state: Mutex<State>,
    store: Arc<dyn KvStore>,
    config: Config,
    /// Netlink in the daemon's own namespace (host routes for IPAM's exclude list).
    host: Option<Netlink>,
    /// The embedded DNS of every sandbox on a user-defined network.
    resolver: Resolver,
    /// Repairs made to the kernel: at start, by `doctor --fix` and by the firewall check.
    repairs: std::sync::atomic::AtomicU64,
    /// The host's connected subnets, kept current by route events (IPAM's exclude list).
    link_routes: Option<crate::osl::netlink::route_watch::LinkRoutes>,
    /// Remote plugins activated so far.
    plugins: crate::plugins::Plugins,
}

impl State {
    fn new(ipams: Ipams, drivers: Drivers) -> Self {
        State {
            networks: BTreeMap::new(),
            network_names: HashMap::new(),
            network_list_items: HashMap::new(),
            endpoints: HashMap::new(),
            endpoint_names: HashMap::new(),
            network_endpoints: HashMap::new(),
            sandboxes: BTreeMap::new(),
            sandbox_names: HashMap::new(),
            sandbox_links: HashMap::new(),
            ipams,
            drivers,
            pruning: false,
        }
    }

    pub fn insert_network(&mut self, n: Network) {
        self.network_list_items
            .insert(n.id.clone(), views::list_item_json(&n));
        self.network_names.insert(n.name.clone(), n.id.clone());
        self.networks.insert(n.id.clone(), n);
    }

    pub fn remove_network(&mut self, id: &Id) -> Option<Network> {
        let n = self.networks.remove(id)?;
        self.network_list_items.remove(id);
        if self.network_names.get(&n.name) == Some(id) {
            self.network_names.remove(&n.name);
        }
        Some(n)
    }

    pub fn insert_endpoint(&mut self, e: Endpoint) {
        self.endpoint_names
            .insert((e.network.clone(), e.name.clone()), e.id.clone());
        self.network_endpoints
            .entry(e.network.clone())
            .or_default()
            .insert(e.id.clone());
        self.endpoints.insert(e.id.clone(), e);
    }

    pub fn remove_endpoint(&mut self, id: &Id) -> Option<Endpoint> {
        let e = self.endpoints.remove(id)?;
        self.endpoint_names
            .remove(&(e.network.clone(), e.name.clone()));
        if let Some(set) = self.network_endpoints.get_mut(&e.network) {
            set.remove(id);
            if set.is_empty() {
                self.network_endpoints.remove(&e.network);
            }
        }
        Some(e)
    }

    pub fn insert_sandbox(&mut self, s: Sandbox) {
        self.sandbox_names.insert(s.name.clone(), s.id.clone());
        self.sandboxes.insert(s.id.clone(), s);
    }

    pub fn remove_sandbox(&mut self, id: &Id) -> Option<Sandbox> {
        let s = self.sandboxes.remove(id)?;
        self.sandbox_names.remove(&s.name);
        self.sandbox_links.remove(id);
        Some(s)
    }

    /// Endpoints attached to a network.
    pub fn endpoints_of(&self, network: &Id) -> Vec<&Endpoint> {
        self.network_endpoints
            .get(network)
            .map(|ids| ids.iter().filter_map(|id| self.endpoints.get(id)).collect())
            .unwrap_or_default()
    }

    pub fn network_in_use(&self, network: &Id) -> bool {
        self.network_endpoints
            .get(network)
            .is_some_and(|s| !s.is_empty())
    }
}

impl Controller {
    /// Builds a controller over `store`; call `start` before serving.
    pub fn new(
        config: Config,
        store: Arc<dyn KvStore>,
        drivers: Drivers,
        host: Option<Netlink>,
    ) -> Self {
        let ipams = Ipams::new(DefaultIpam::new(&config.pools));
        let nameservers = if config.dns.is_empty() {
            etc::host_nameservers(&config.host_resolv_conf)
        } else {
            config.dns.clone()
        };
        let resolver = Resolver::new(ResolverConfig {
            upstreams: upstreams_on_port_53(&nameservers),
            ..Default::default()
        });
        let plugins = crate::plugins::Plugins::new(config.plugins.clone());
        Controller {
            state: Mutex::new(State::new(ipams, drivers)),
            store,
            config,
            host,
            resolver,
            plugins,
            link_routes: None,
            repairs: Default::default(),
        }
    }

    /// Uses a live view of the host's connected subnets for IPAM's exclude list instead of a
    /// route dump per network create.
    pub fn with_link_routes(
        mut self,
        routes: crate::osl::netlink::route_watch::LinkRoutes,
    ) -> Self {
        self.link_routes = Some(routes);
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Checks cnm's nftables table against the kernel (one netlink round trip while nothing
    /// changed) and repairs it when someone altered or flushed it; true when it repaired.
    pub async fn repair_firewall(&self) -> Result<bool> {
        let state = self.state.lock().await;
        let repaired = match &state.drivers.bridge {
            Driver::Bridge(bridge) => bridge.check_and_repair().await?,
            _ => false,
        };
        if repaired {
            self.note_repairs(1);
        }
        Ok(repaired)
    }

    /// Counts repairs for `/metrics`.
    pub(crate) fn note_repairs(&self, n: u64) {
        self.repairs
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Repairs made so far (restarts, doctor, firewall checks).
    pub fn repairs(&self) -> u64 {
        self.repairs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// What the embedded DNS did so far (answers, forwards, upstream failures).
    pub fn resolver_stats(&self) -> crate::resolver::ResolverStats {
        self.resolver.stats()
    }

    pub async fn counts(&self) -> Counts {
        let state = self.state.lock().await;
        Counts {
            networks: state.networks.len(),
            sandboxes: state.sandboxes.len(),
            endpoints: state.endpoints.len(),
        }
    }

    fn commit(&self, batch: &Batch) -> Result<()> {
        self.store.commit(batch).map_err(Error::from)
    }
}
