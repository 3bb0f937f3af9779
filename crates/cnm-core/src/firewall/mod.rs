//! nftables: cnm's own table, changed by one atomic `nft -f -` transaction per operation.
//!
//! Contract: cnm touches only `table ip cnm` (and later `ip6 cnm`). Per-network rules live
//! in their own chains, reached through verdict maps keyed by bridge name, so adding or
//! removing a network changes one map element and one chain: the transaction's size depends
//! on the change, not on how many networks exist.
//!
//! Layout (IPv4):
//! ```text
//! table ip cnm {
//!   map masq-in { type ifname : verdict }          # bridge -> its masquerade chain
//!   chain nat-postrouting { type nat hook postrouting priority srcnat; iifname vmap @masq-in }
//!   chain masq__<bridge> { oifname != "<bridge>" ip saddr <subnet> masquerade }
//! }
//! ```
//! Scripts reach the kernel through `nft::Nft` (libnftables in-process, or the `nft` binary).

use std::collections::BTreeMap;

use ipnet::Ipv4Net;

use crate::error::{Error, ErrorKind, HasKind};

pub mod nft;

use nft::Nft;

pub const TABLE: &str = "cnm";

/// The rules one bridge network needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRules {
    pub bridge: String,
    pub subnet_v4: Option<Ipv4Net>,
    /// Masquerade traffic from the subnet leaving through another interface.
    pub masquerade: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("nft is not installed or not on PATH: {0}")]
    NftMissing(std::io::Error),
    #[error("nft failed: {stderr}")]
    Nft { stderr: String },
}

impl HasKind for FirewallError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

impl From<FirewallError> for Error {
    fn from(e: FirewallError) -> Self {
        Error::new(e.kind(), e.to_string())
    }
}

/// The in-memory model of our table and the apply path.
#[derive(Default)]
pub struct Firewall {
    networks: BTreeMap<String, NetworkRules>,
    nft: Nft,
}

fn chain_of(bridge: &str) -> String {
    format!("masq__{bridge}")
}

fn network_script(rules: &NetworkRules, out: &mut String) {
    let chain = chain_of(&rules.bridge);
    out.push_str(&format!("add chain ip {TABLE} {chain}\n"));
    if let (true, Some(subnet)) = (rules.masquerade, rules.subnet_v4) {
        out.push_str(&format!(
            "add rule ip {TABLE} {chain} oifname != \"{}\" ip saddr {subnet} counter masquerade\n",
            rules.bridge
        ));
    }
    out.push_str(&format!("add element ip {TABLE} masq-in {{ \"{}\" : jump {chain} }}\n", rules.bridge));
}

impl Firewall {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a network without touching the kernel (restore path; `sync` applies).
    pub fn remember(&mut self, rules: NetworkRules) {
        self.networks.insert(rules.bridge.clone(), rules);
    }

    /// The whole table as one script that replaces whatever is there atomically.
    pub fn full_script(&self) -> String {
        let mut s = format!(
            "table ip {TABLE} {{}}\ndelete table ip {TABLE}\n\
             table ip {TABLE} {{\n\
             \tmap masq-in {{ type ifname : verdict; }}\n\
             \tchain nat-postrouting {{ type nat hook postrouting priority srcnat; policy accept; iifname vmap @masq-in; }}\n\
             }}\n"
        );
        for rules in self.networks.values() {
            network_script(rules, &mut s);
        }
        s
    }

    /// Makes the kernel match the model in one transaction.
    pub async fn sync(&self) -> Result<(), FirewallError> {
        self.nft.apply(&self.full_script()).await
    }

    pub async fn add_network(&mut self, rules: NetworkRules) -> Result<(), FirewallError> {
        let mut script = String::new();
        if let Some(old) = self.networks.get(&rules.bridge) {
            remove_script(old, &mut script);
        }
        network_script(&rules, &mut script);
        self.nft.apply(&script).await?;
        self.networks.insert(rules.bridge.clone(), rules);
        Ok(())
    }

    pub async fn remove_network(&mut self, bridge: &str) -> Result<(), FirewallError> {
        let Some(rules) = self.networks.get(bridge) else { return Ok(()) };
        let mut script = String::new();
        remove_script(rules, &mut script);
        self.nft.apply(&script).await?;
        self.networks.remove(bridge);
        Ok(())
    }
}

fn remove_script(rules: &NetworkRules, out: &mut String) {
    let chain = chain_of(&rules.bridge);
    out.push_str(&format!("delete element ip {TABLE} masq-in {{ \"{}\" }}\n", rules.bridge));
    out.push_str(&format!("flush chain ip {TABLE} {chain}\ndelete chain ip {TABLE} {chain}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_script_holds_one_chain_and_element_per_network() {
        let mut fw = Firewall::new();
        fw.remember(NetworkRules { bridge: "br-a".into(), subnet_v4: Some("172.18.0.0/16".parse().unwrap()), masquerade: true });
        fw.remember(NetworkRules { bridge: "br-b".into(), subnet_v4: Some("172.19.0.0/16".parse().unwrap()), masquerade: false });
        let s = fw.full_script();
        assert!(s.contains("add rule ip cnm masq__br-a oifname != \"br-a\" ip saddr 172.18.0.0/16 counter masquerade"));
        assert!(!s.contains("ip saddr 172.19.0.0/16"));
        assert_eq!(s.matches("add element").count(), 2);
    }
}
