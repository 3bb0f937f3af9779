//! Drift checks of a bridge network for `cnm doctor`.

use super::BridgeDriver;
use crate::error::Result;
use crate::model::Network;

impl BridgeDriver {
    /// What differs between cnm's nftables model and the kernel's table.
    pub async fn firewall_drift(&self) -> Result<Vec<String>> {
        Ok(self.firewall.lock().await.drift().await?)
    }

    /// Applies the difference found by `firewall_drift`.
    pub async fn repair_firewall_drift(&self) -> Result<()> {
        self.firewall.lock().await.reconcile().await?;
        Ok(())
    }

    /// True when the network's bridge exists and carries its gateway addresses.
    pub async fn network_intact(&self, network: &Network) -> Result<bool> {
        let cfg = self.config_of(network)?;
        let Some(link) = self.host.link_by_name(&cfg.bridge_name).await? else {
            return Ok(false);
        };
        if link.kind.as_deref() != Some("bridge") {
            return Ok(false);
        }
        let have = self.host.addresses(link.index).await?;
        Ok(Self::bridge_addresses(network, &cfg)
            .iter()
            .all(|a| have.contains(a)))
    }
}
