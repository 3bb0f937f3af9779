//! The macvlan and ipvlan drivers (spec §3.4, §3.5): endpoints are ports stacked on a parent
//! link of the daemon's namespace, so sandboxes sit directly on the parent's LAN.
//!
//! Contract:
//! - One type serves both drivers (`Flavor`); they differ in options, port kind, how many
//!   networks a parent takes, and ipvlan L3's routing.
//! - `validate` parses the options (Docker's messages) before anything is allocated.
//!   `skip_gateway` is `(true, true)`: as in current Docker no gateway address is reserved
//!   unless `--gateway` is given, since the gateway is a router on the LAN, not cnm's (trap 31).
//! - `create_network` refuses a parent used incompatibly (ipvlan: any other ipvlan network;
//!   macvlan: passthru on either side), then finds or creates the parent (`parent.rs`). It
//!   returns whether the parent was adopted (existed), which the controller stores, so a
//!   restart knows which parents cnm must delete.
//! - `delete_network` deletes a parent cnm created once no network uses it; pre-existing
//!   parents are never deleted.
//! - `restore_network` rebuilds the in-memory state after a restart and recreates a missing
//!   parent that cnm had created; a missing user parent is only logged (attach reports it).
//! - Endpoints: `endpoint.rs`. Leftover stand-in parents (`dm-`/`di-` + 12 hex, dummy or ifb)
//!   that no network owns, e.g. after a crash during a create, are swept at the driver's first
//!   network operation after start.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use cnm_types::Id;

use super::{JoinInfo, SandboxLink};
use crate::error::{Error, Result};
use crate::model::{Endpoint, Network};
use crate::osl::Netlink;

pub mod config;
mod endpoint;
pub mod parent;

pub use config::{Flavor, SublinkConfig};
pub use parent::ParentUsers;

/// Daemon-wide settings of the macvlan and ipvlan drivers.
#[derive(Clone, Debug)]
pub struct SublinkSettings {
    /// Where cnm keeps its sandboxes' namespace files (`<exec-root>/netns`).
    pub netns_dir: PathBuf,
}

struct SublinkNetwork {
    config: SublinkConfig,
    /// The link the ports stack on (the stand-in's name when the network has no parent).
    parent: String,
    /// Docker's `CreatedSlaveLink`: cnm made the parent (or it was made for another network).
    created_parent: bool,
}

pub struct SublinkDriver {
    flavor: Flavor,
    settings: SublinkSettings,
    host: Netlink,
    parents: ParentUsers,
    networks: HashMap<Id, SublinkNetwork>,
    /// Endpoint → the namespace its port was created in (see `endpoint.rs`).
    placements: HashMap<Id, PathBuf>,
    swept: bool,
}

impl SublinkDriver {
    /// `parents` is shared with the other flavor's driver.
    pub fn new(
        flavor: Flavor,
        settings: SublinkSettings,
        host: Netlink,
        parents: ParentUsers,
    ) -> Self {
        SublinkDriver {
            flavor,
            settings,
            host,
            parents,
            networks: HashMap::new(),
            placements: HashMap::new(),
            swept: false,
        }
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    pub fn config_of(&self, network: &Network) -> Result<SublinkConfig> {
        SublinkConfig::parse(self.flavor, &network.options, network.internal)
    }

    pub fn validate(&self, network: &Network) -> Result<()> {
        self.config_of(network).map(drop)
    }

    pub fn skip_gateway(&self, _network: &Network) -> Result<(bool, bool)> {
        Ok((true, true))
    }

    pub async fn create_network(&mut self, network: &Network) -> Result<bool> {
        self.sweep_once().await;
        for (enabled, infos, family, any) in [
            (
                network.enable_ipv4,
                &network.ipam_v4,
                "ipv4",
                IpAddr::from([0u8; 4]),
            ),
            (
                network.enable_ipv6,
                &network.ipam_v6,
                "ipv6",
                IpAddr::from([0u16; 8]),
            ),
        ] {
            if enabled
                && infos
                    .first()
                    .is_none_or(|i| i.pool.prefix_len() == 0 && i.pool.addr() == any)
            {
                return Err(Error::invalid(format!("{family} pool is empty")));
            }
        }
        let config = self.config_of(network)?;
        let parent = config.parent_name(self.flavor, network.id.as_str());
        self.check_parent_free(network, &config, &parent)?;
        let stand_in = self.flavor.dummy_name(network.id.as_str());
        let created = parent::ensure(&self.host, &parent, &stand_in).await?
            || self.parents.created_by_cnm(&parent);
        self.parents.add(&parent, &network.id, created);
        self.networks.insert(
            network.id.clone(),
            SublinkNetwork {
                config,
                parent,
                created_parent: created,
            },
        );
        Ok(!created)
    }

    /// Docker's parent rules: ipvlan takes one network per parent; macvlan many, except that
    /// a passthru network has its parent to itself.
    fn check_parent_free(
        &self,
        network: &Network,
        config: &SublinkConfig,
        parent: &str,
    ) -> Result<()> {
        let others = self
            .networks
            .iter()
            .filter(|(id, n)| **id != network.id && n.parent == parent);
        for (other_id, other) in others {
            let message = match self.flavor {
                Flavor::Ipvlan => {
                    format!(
                        "network {} is already using parent interface {parent}",
                        self.flavor.dummy_name(other_id.as_str())
                    )
                }
                Flavor::Macvlan if config.passthru() => {
                    format!(
                        "cannot use mode passthru, macvlan network {other_id} is already using parent interface {parent}"
                    )
                }
                Flavor::Macvlan if other.config.passthru() => {
                    format!(
                        "macvlan network {other_id} is already using parent interface {parent} in mode passthru"
                    )
                }
                Flavor::Macvlan => continue,
            };
            return Err(Error::forbidden(message));
        }
        Ok(())
    }

    pub async fn restore_network(&mut self, network: &Network) -> Result<()> {
        let config = self.config_of(network)?;
        let parent = config.parent_name(self.flavor, network.id.as_str());
        let created = !network.adopted_device;
        if created {
            let stand_in = self.flavor.dummy_name(network.id.as_str());
            match parent::ensure(&self.host, &parent, &stand_in).await {
                Ok(true) => {
                    tracing::warn!(network = %network.name, link = %parent, "parent link was missing; recreated it")
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(network = %network.name, link = %parent, error = %e, "cannot recreate the parent link")
                }
            }
        } else if self.host.link_by_name(&parent).await?.is_none() {
            tracing::warn!(network = %network.name, link = %parent, "parent link is missing; endpoints cannot join until it is back");
        }
        self.parents.add(&parent, &network.id, created);
        self.networks.insert(
            network.id.clone(),
            SublinkNetwork {
                config,
                parent,
                created_parent: created,
            },
        );
        Ok(())
    }

    pub async fn delete_network(&mut self, network: &Network) -> Result<()> {
        self.sweep_once().await;
        let Some(net) = self.networks.remove(&network.id) else {
            return Ok(());
        };
        if self.parents.remove(&net.parent, &network.id) && net.created_parent {
            let stand_in = net.parent == self.flavor.dummy_name(network.id.as_str());
            parent::remove(&self.host, &net.parent, stand_in).await?;
        }
        Ok(())
    }

    pub async fn attach(
        &mut self,
        network: &Network,
        endpoint: &Endpoint,
        sandbox: &SandboxLink<'_>,
    ) -> Result<JoinInfo> {
        let net = self
            .networks
            .get(&network.id)
            .ok_or_else(|| Error::not_found(format!("No network ({}) exists", network.id)))?;
        let info = endpoint::attach(&self.host, net, network, endpoint, sandbox).await?;
        self.placements
            .insert(endpoint.id.clone(), sandbox.netns.to_owned());
        Ok(info)
    }

    pub async fn detach(&mut self, network: &Network, endpoint: &Endpoint) -> Result<()> {
        let recorded = self.placements.remove(&endpoint.id);
        let (Some(ifname), Some(net)) = (&endpoint.ifname, self.networks.get(&network.id)) else {
            return Ok(());
        };
        let path = recorded
            .unwrap_or_else(|| endpoint::conventional_netns(&self.settings.netns_dir, endpoint));
        endpoint::detach(&path, ifname, net.config.kind).await
    }

    pub async fn endpoint_intact(&self, network: &Network, endpoint: &Endpoint) -> Result<bool> {
        let Some(net) = self.networks.get(&network.id) else {
            return Ok(false);
        };
        let path = match self.placements.get(&endpoint.id) {
            Some(path) => path.clone(),
            None => endpoint::conventional_netns(&self.settings.netns_dir, endpoint),
        };
        endpoint::intact(&path, endpoint, net.config.kind).await
    }

    /// Deletes stand-in parents no network owns (left by a crash between creating one and
    /// recording its network). Runs once, after the restore, at the first network operation.
    async fn sweep_once(&mut self) {
        if std::mem::replace(&mut self.swept, true) {
            return;
        }
        let Ok(links) = self.host.links().await else {
            return;
        };
        let prefix = &self.flavor.dummy_name("")[..];
        for link in links {
            let id_part = link.name.strip_prefix(prefix).unwrap_or("");
            let looks_ours = id_part.len() == 12 && id_part.bytes().all(|c| c.is_ascii_hexdigit());
            let stand_in_kind = matches!(link.kind.as_deref(), Some("dummy" | "ifb"));
            if looks_ours && stand_in_kind && self.parents.users(&link.name).is_empty() {
                tracing::info!(link = %link.name, "removing a leftover stand-in parent link");
                let _ = self.host.del_link(link.index).await;
            }
        }
    }
}
