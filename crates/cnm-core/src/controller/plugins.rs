//! Loading remote plugins by name, lazily (spec §5.1): a network that names a driver or an
//! IPAM driver cnm does not know gets the plugin of that name.
//!
//! Contract:
//! - `ensure_plugins` registers the named drivers that are not registered yet: discovery
//!   (bounded by `PluginSettings::discovery_timeout`, where Docker waits ~15 s), activation
//!   (the plugin must implement `NetworkDriver` / `IpamDriver`), capabilities. The network
//!   traffic happens *without* the state lock, so a slow plugin never stalls other requests;
//!   a name loaded concurrently by another request keeps the first registration.
//! - `ensure_network_plugins` does the same for an existing network (after a restart the
//!   plugins of stored networks load on their first use, as with Docker).
//! - `load_for_restore` runs at start-up with the lock held (nothing else runs then); a
//!   plugin that cannot be loaded is logged and its networks stay as stored.
//! - An IPAM plugin that asks for replay (`RequiresRequestReplay`) and is loaded only after
//!   start-up (it was down then) gets the stored allocations of its networks replayed before
//!   anything else uses it, as start-up would have done (Docker never replays it then).

use std::collections::BTreeMap;

use super::{Controller, Lookup, State, ipam_alloc};
use crate::driver::{Driver, RemoteDriver};
use crate::error::Result;
use crate::ipam::{IpamDriver, RemoteIpam};
use crate::model::{Endpoint, Network};
use crate::osl::Netlink;
use crate::store::{Batch, Kind};
use cnm_types::plugin::{IPAM_DRIVER, NETWORK_DRIVER};

/// Plugins loaded for one operation, to be registered under their names.
#[derive(Default)]
struct Loaded {
    driver: Option<(String, Driver)>,
    ipam: Option<(String, IpamDriver)>,
}

impl State {
    /// Which of the names are unknown: `(driver, ipam)`.
    fn missing_plugins(
        &self,
        driver: Option<&str>,
        ipam: Option<&str>,
    ) -> (Option<String>, Option<String>) {
        (
            driver
                .filter(|d| self.drivers.get(d).is_none())
                .map(str::to_string),
            ipam.filter(|i| !self.ipams.contains(i)).map(str::to_string),
        )
    }

    /// Registers what was loaded; returns the name of a newly registered IPAM driver.
    fn register(&mut self, loaded: Loaded) -> Option<String> {
        if let Some((name, driver)) = loaded.driver {
            self.drivers.remote.entry(name).or_insert(driver);
        }
        match loaded.ipam {
            Some((name, ipam)) if !self.ipams.contains(&name) => {
                self.ipams.insert(&name, ipam);
                Some(name)
            }
            _ => None,
        }
    }
}

impl Controller {
    /// Loads the network driver `driver` and the IPAM driver `ipam` if they are plugins not
    /// loaded yet. Errors name the plugin (`plugin "x" not found`, 404, and the like).
    pub(crate) async fn ensure_plugins(
        &self,
        driver: Option<&str>,
        ipam: Option<&str>,
    ) -> Result<()> {
        let missing = self.state.lock().await.missing_plugins(driver, ipam);
        if missing == (None, None) {
            return Ok(());
        }
        let loaded = self.load(missing).await?;
        let mut state = self.state.lock().await;
        if let Some(ipam) = state.register(loaded) {
            self.replay_to(&mut state, &ipam).await;
        }
        Ok(())
    }

    /// `ensure_plugins` for the drivers of the network `term` names; nothing when there is no
    /// such network (the operation then reports that itself).
    pub(crate) async fn ensure_network_plugins(&self, term: &str) -> Result<()> {
        let names = {
            let state = self.state.lock().await;
            state.find_network(term, Lookup::Inspect).ok().map(|id| {
                let n = &state.networks[&id];
                (n.config_only, n.driver.clone(), n.ipam_driver.clone())
            })
        };
        match names {
            Some((false, driver, ipam)) => self.ensure_plugins(Some(&driver), Some(&ipam)).await,
            _ => Ok(()),
        }
    }

    /// Start-up: loads the plugins a stored network names, holding the lock.
    pub(crate) async fn load_for_restore(&self, state: &mut State, network: &Network) {
        if network.config_only {
            return;
        }
        let missing = state.missing_plugins(Some(&network.driver), Some(&network.ipam_driver));
        if missing == (None, None) {
            return;
        }
        match self.load(missing).await {
            // start() replays to it right after.
            Ok(loaded) => drop(state.register(loaded)),
            Err(e) => tracing::warn!(
                network = %network.name,
                error = %e,
                "cannot load the network's plugin now; it is kept and loaded on its next use"
            ),
        }
    }

    async fn load(&self, (driver, ipam): (Option<String>, Option<String>)) -> Result<Loaded> {
        let mut loaded = Loaded::default();
        if let Some(name) = driver {
            let plugin = self.plugins.get(&name, NETWORK_DRIVER).await?;
            let host = match &self.host {
                Some(host) => host.clone(),
                None => Netlink::current()?,
            };
            let remote = RemoteDriver::load(&plugin, host, self.netns_dir()).await?;
            loaded.driver = Some((name, Driver::Remote(remote)));
        }
        if let Some(name) = ipam {
            let plugin = self.plugins.get(&name, IPAM_DRIVER).await?;
            loaded.ipam = Some((name, IpamDriver::Remote(RemoteIpam::load(&plugin).await?)));
        }
        Ok(loaded)
    }

    /// Replays the stored allocations of every network using the IPAM driver `ipam`, when it
    /// asks for replay: pools, gateways and aux addresses, then endpoint addresses. Pool ids
    /// the plugin answers anew are recorded. Failures are logged: the records stay.
    async fn replay_to(&self, state: &mut State, ipam: &str) {
        let wants = state
            .ipams
            .get(ipam)
            .is_some_and(|d| d.capabilities().requires_request_replay);
        if !wants {
            return;
        }
        let networks: Vec<Network> = state
            .networks
            .values()
            .filter(|n| n.ipam_driver == ipam && !n.config_only)
            .cloned()
            .collect();
        let mut batch = Batch::default();
        for mut network in networks {
            if let Err(e) = ipam_alloc::replay_network(state, &mut network).await {
                tracing::warn!(network = %network.name, error = %e, "replaying allocations to the IPAM plugin");
                continue;
            }
            let endpoints: Vec<Endpoint> = state
                .endpoints_of(&network.id)
                .into_iter()
                .cloned()
                .collect();
            for mut endpoint in endpoints {
                for v6 in [false, true] {
                    let (addr, pool) = if v6 {
                        (endpoint.addr_v6, &mut endpoint.pool_v6)
                    } else {
                        (endpoint.addr_v4, &mut endpoint.pool_v4)
                    };
                    // Only addresses IPAM gave (a plugin-assigned one has no pool).
                    let (Some(addr), Some(pool)) = (addr, pool) else {
                        continue;
                    };
                    let Some(info) = network.all_ipam().find(|i| i.pool.contains(&addr.addr()))
                    else {
                        continue;
                    };
                    *pool = info.pool_id.clone();
                    let result = match state.ipams.get_mut(ipam) {
                        Ok(driver) => driver
                            .request_address(pool, Some(addr.addr()), &BTreeMap::new())
                            .await
                            .map(drop),
                        Err(e) => Err(e),
                    };
                    if let Err(e) = result {
                        tracing::warn!(endpoint = %endpoint.id.short(), error = %e, "replaying an address");
                    }
                }
                batch.put(Kind::Endpoint, endpoint.id.as_str(), &endpoint);
                state.insert_endpoint(endpoint);
            }
            batch.put(Kind::Network, network.id.as_str(), &network);
            state.insert_network(network);
        }
        if let Err(e) = self.commit(&batch) {
            tracing::warn!(error = %e, "persisting replayed pool ids");
        }
    }
}
