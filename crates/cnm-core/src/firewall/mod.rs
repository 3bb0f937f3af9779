//! nftables: cnm's own table, changed by one atomic transaction per operation whose size
//! depends only on the change.
//!
//! Contract:
//! - cnm touches only `table inet cnm` (and deletes the `table ip cnm` of older cnm versions).
//!   No other table, no global policy, no iptables chain. Its base chains all have policy
//!   accept; its drops match only traffic to or from cnm's bridges (and, when cnm itself turned
//!   on forwarding, forwarded traffic that touches no cnm bridge).
//! - The table's chains and rules are fixed (`layout.rs`); networks, ports and isolation are
//!   elements of its sets and maps (`policy.rs`). `add_network`, `remove_network`,
//!   `set_ports` and `set_forward_guard` each apply one transaction of element additions and
//!   deletions. Publishing a port range is one interval element.
//! - If an operation's transaction fails (e.g. someone deleted the table or an element), the
//!   firewall reconciles instead: it lists the kernel's table, computes the difference with the
//!   whole desired state and applies it in one transaction (`reconcile.rs`). The first
//!   operation after start does the same, as does `reconcile`.
//! - Reconcile, never flush: elements that are right are left alone, so a daemon restart keeps
//!   established flows through published ports (their DNAT entries never disappear).
//! - `check_and_repair` is cheap while nothing changed: it reads the ruleset generation (one
//!   netlink round trip) and lists the table only when the generation moved since cnm's own
//!   last transaction.
//!
//! Layout (`nft list table inet cnm`): base chains `forward` (filter), `prerouting` (filter,
//! priority -150: direct access to container addresses from outside their bridge is dropped in
//! gateway mode nat, and 127.0.0.0/8 arriving from a bridge), `nat-prerouting` and `nat-output`
//! (published ports, for local destinations), `nat-postrouting` (masquerade/SNAT, hairpin and
//! host-loopback masquerade); regular chains `into-bridge` (what may enter a bridge from
//! elsewhere: published ports, nat-unprotected, routed ICMP, trusted interfaces), `ports`
//! (DNAT lookups) and `user`. Per network: `bridges`, `same_icc`/`same_noicc`, `internal`,
//! `own_v4/6`, `protected_v4/6`, `direct_ok_v4/6`, `masq_v4/6`, `snat_v4/6`, `unprotected`,
//! `routed`, `trusted`. Per published port: `dnat_v4/6` (host address), `dnat_any_v4/6` (every
//! local address), `published_v4/6` (hash, single ports); `dnat_range_v4/6` and
//! `published_range_v4/6` (interval, one element per range). No userland proxy: NAT serves the
//! outside, the host's addresses, 127.0.0.1 (`route_localnet` on the bridge plus masquerade)
//! and hairpin; `::1` cannot be routed to a container and is refused at request time.
//!
//! The user chain (what `DOCKER-USER` is to Docker users), for the README:
//!
//! > cnm creates the chain `user` in `table inet cnm` once, empty, and never changes, flushes
//! > or deletes it, also not when it repairs or reconciles its table. The first rule of cnm's
//! > `forward` chain (filter hook forward, priority 0) jumps to it, so your rules there see
//! > every forwarded packet before cnm's own rules. In your rules, `drop` (or `reject`) stops
//! > the packet; `accept` ends cnm's evaluation for that packet (it skips cnm's isolation
//! > drops, as an ACCEPT in DOCKER-USER does), and `return` or falling off the end continues
//! > with cnm's rules. Published ports are DNATed before forwarding, so match them by the
//! > container's address and port (`ip daddr 172.18.0.2 tcp dport 80`) or by the port the
//! > client used (`meta l4proto tcp ct original proto-dst 8080`). Example, to only let
//! > 192.0.2.0/24 reach published ports:
//! > `nft add rule inet cnm user ct status dnat ip saddr != 192.0.2.0/24 drop`.
//! > Rules in other tables (ufw, firewalld) still apply too: a packet must be accepted by
//! > every table's chain on the hook. If `nft flush ruleset` removes cnm's table, cnm
//! > recreates it within seconds with an empty `user` chain: keep your rules in a file and
//! > re-load it (e.g. `nft -f /etc/cnm-user.nft`).

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, ErrorKind, HasKind};

pub mod batch;
pub mod conntrack;
pub mod elements;
pub mod generation;
pub mod kernel;
pub mod layout;
pub mod nfnl;
pub mod nft;
pub mod policy;
pub mod reconcile;

use elements::{Data, Key};
use generation::Generation;
use kernel::KernelTable;
use nfnl::NfnlSocket;
use nft::Nft;
pub use policy::{GatewayMode, NetworkPolicy, PortRule};
use reconcile::{Desired, Plan};

pub const TABLE: &str = layout::TABLE;

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("nft is not installed or not on PATH: {0}")]
    NftMissing(std::io::Error),
    #[error("nft failed: {stderr}")]
    Nft { stderr: String },
    /// The object a command names does not exist.
    #[error("nft: {stderr}")]
    Missing { stderr: String },
    #[error("cannot read nft's listing: {0}")]
    Listing(String),
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

/// The in-memory model of the table and the apply path.
pub struct Firewall {
    networks: BTreeMap<String, NetworkPolicy>,
    /// Published ports by owner (an endpoint id).
    ports: BTreeMap<String, Vec<PortRule>>,
    /// Families (`true` = IPv6) where cnm turned forwarding on.
    guard: BTreeSet<bool>,
    nft: Nft,
    /// Element changes go straight to the kernel through this socket (see `batch.rs`).
    nfnl: Option<NfnlSocket>,
    generation: Option<Generation>,
    /// The ruleset generation at which the kernel was last known to match the model.
    known_generation: Option<u32>,
    /// The kernel has been reconciled once since start.
    synced: bool,
    legacy_checked: bool,
}

impl Default for Firewall {
    fn default() -> Self {
        Self::new()
    }
}

type ElementRef<'a> = (&'a Key, Option<&'a Data>);

/// The elements that differ between `old` and `new`, by set: deletions, then additions.
type Delta<'a> = [BTreeMap<&'static str, Vec<ElementRef<'a>>>; 2];

fn delta<'a>(old: &'a [policy::Element], new: &'a [policy::Element]) -> Delta<'a> {
    let index =
        |els: &'a [policy::Element]| -> BTreeMap<(&'static str, &'a Key), &'a Option<Data>> {
            els.iter().map(|(s, k, d)| ((*s, k), d)).collect()
        };
    let (old_map, new_map) = (index(old), index(new));
    let mut deletes: BTreeMap<&str, Vec<ElementRef>> = BTreeMap::new();
    let mut adds: BTreeMap<&str, Vec<ElementRef>> = BTreeMap::new();
    for ((set, key), data) in &old_map {
        if new_map.get(&(*set, *key)) != Some(data) {
            deletes.entry(set).or_default().push((key, data.as_ref()));
        }
    }
    for ((set, key), data) in &new_map {
        if old_map.get(&(*set, *key)) != Some(data) {
            adds.entry(set).or_default().push((key, data.as_ref()));
        }
    }
    [deletes, adds]
}

/// The delta as an nft script (the path when there is no netlink socket).
fn delta_script(delta: &Delta) -> String {
    let mut out = String::new();
    for (verb, groups) in ["delete", "add"].into_iter().zip(delta) {
        for (set, items) in groups {
            reconcile::element_commands(verb, set, items, &mut out);
        }
    }
    out
}

/// The delta as one nfnetlink batch: `None` if some element cannot be encoded.
fn delta_batch(delta: &Delta, first_seq: u32) -> Option<(Vec<u8>, Vec<u32>)> {
    let mut batch = batch::Batch::new(first_seq);
    for (i, groups) in delta.iter().enumerate() {
        for (set, items) in groups {
            let decl = layout::set_decl(set)?;
            let items: Vec<_> = items
                .iter()
                .map(|(k, d)| (k.as_slice(), d.map(Vec::as_slice)))
                .collect();
            let encoded = if i == 0 {
                batch.delete(decl, &items)
            } else {
                batch.add(decl, &items)
            };
            if let Err(e) = encoded {
                tracing::warn!(
                    set = e.0,
                    "element cannot be encoded for netlink; using nft"
                );
                return None;
            }
        }
    }
    (!batch.is_empty()).then(|| batch.finish())
}

impl Firewall {
    /// Binds to the caller's network namespace (the daemon's); touches nothing yet.
    pub fn new() -> Self {
        let generation = Generation::open()
            .map_err(|e| tracing::warn!(error = %e, "cannot read the nftables generation; every check will list the table"))
            .ok();
        Firewall {
            networks: BTreeMap::new(),
            ports: BTreeMap::new(),
            guard: BTreeSet::new(),
            nft: Nft::new(),
            nfnl: NfnlSocket::open()
                .map_err(|e| tracing::warn!(error = %e, "no netfilter netlink socket; element changes will go through nft"))
                .ok(),
            generation,
            known_generation: None,
            synced: false,
            legacy_checked: false,
        }
    }

    /// Records a network without touching the kernel (restore path; `reconcile` applies).
    pub fn remember_network(&mut self, policy: NetworkPolicy) {
        self.networks.insert(policy.bridge.clone(), policy);
    }

    /// Records an owner's published ports without touching the kernel (restore path).
    pub fn remember_ports(&mut self, owner: &str, rules: Vec<PortRule>) {
        if rules.is_empty() {
            self.ports.remove(owner);
        } else {
            self.ports.insert(owner.to_string(), rules);
        }
    }

    pub fn remember_forward_guard(&mut self, v6: bool) {
        self.guard.insert(v6);
    }

    /// How element changes reach the kernel: `"netlink"` (raw batches) or `"nft"`.
    pub fn element_path(&self) -> &'static str {
        if self.nfnl.is_some() {
            "netlink"
        } else {
            "nft"
        }
    }

    pub fn network(&self, bridge: &str) -> Option<&NetworkPolicy> {
        self.networks.get(bridge)
    }

    /// Every element the kernel should hold, by set.
    pub fn desired(&self) -> Desired {
        let mut d = Desired::new();
        let all = self
            .networks
            .values()
            .flat_map(NetworkPolicy::elements)
            .chain(self.ports.values().flat_map(|r| policy::port_elements(r)))
            .chain(self.guard.iter().map(|v6| policy::guard_element(*v6)));
        for (set, key, data) in all {
            d.entry(set).or_default().insert(key, data);
        }
        d
    }

    /// The script that creates the whole table on a kernel that has none of it.
    pub fn fresh_script(&self) -> String {
        reconcile::fresh(&self.desired()).script
    }

    pub async fn add_network(&mut self, policy: NetworkPolicy) -> Result<(), FirewallError> {
        let new = policy.elements();
        let previous = self.networks.insert(policy.bridge.clone(), policy.clone());
        let old = previous
            .as_ref()
            .map(NetworkPolicy::elements)
            .unwrap_or_default();
        if let Err(e) = self.apply_delta(&old, &new).await {
            match previous {
                Some(p) => self.networks.insert(p.bridge.clone(), p),
                None => self.networks.remove(&policy.bridge),
            };
            return Err(e);
        }
        Ok(())
    }

    pub async fn remove_network(&mut self, bridge: &str) -> Result<(), FirewallError> {
        let Some(previous) = self.networks.remove(bridge) else {
            return Ok(());
        };
        if let Err(e) = self.apply_delta(&previous.elements(), &[]).await {
            self.networks.insert(bridge.to_string(), previous);
            return Err(e);
        }
        Ok(())
    }

    /// Replaces `owner`'s published ports (empty: removes them) in one transaction.
    pub async fn set_ports(
        &mut self,
        owner: &str,
        rules: Vec<PortRule>,
    ) -> Result<(), FirewallError> {
        let new = policy::port_elements(&rules);
        let previous = if rules.is_empty() {
            self.ports.remove(owner)
        } else {
            self.ports.insert(owner.to_string(), rules)
        };
        let old = previous
            .as_deref()
            .map(policy::port_elements)
            .unwrap_or_default();
        if let Err(e) = self.apply_delta(&old, &new).await {
            match previous {
                Some(p) => self.ports.insert(owner.to_string(), p),
                None => self.ports.remove(owner),
            };
            return Err(e);
        }
        Ok(())
    }

    /// Limits forwarding of `v6` (or IPv4) to cnm's bridges: cnm turned it on, so nothing
    /// else on the host asked for it (Docker sets the FORWARD policy to DROP in that case).
    pub async fn set_forward_guard(&mut self, v6: bool) -> Result<(), FirewallError> {
        if !self.guard.insert(v6) {
            return Ok(());
        }
        let result = self.apply_delta(&[], &[policy::guard_element(v6)]).await;
        if result.is_err() {
            self.guard.remove(&v6);
        }
        result
    }

    fn read_generation(&mut self) -> Option<u32> {
        self.generation.as_mut().and_then(|g| g.read().ok())
    }

    async fn apply_delta(
        &mut self,
        old: &[policy::Element],
        new: &[policy::Element],
    ) -> Result<(), FirewallError> {
        if !self.synced {
            return self.reconcile().await.map(drop);
        }
        let delta = delta(old, new);
        if delta.iter().all(BTreeMap::is_empty) {
            return Ok(());
        }
        let before = self.read_generation();
        let result = match self.nfnl.as_mut() {
            Some(socket) => match delta_batch(&delta, socket.next_seq()) {
                Some((bytes, acked)) => socket.transact(&bytes, &acked),
                None => self.nft.apply(&delta_script(&delta)).await,
            },
            None => self.nft.apply(&delta_script(&delta)).await,
        };
        match result {
            Ok(()) => {
                let after = self.read_generation();
                // Still known-good only if nobody else committed since we last looked.
                let ours = matches!((self.known_generation, before, after), (Some(k), Some(b), Some(a)) if k == b && a == b.wrapping_add(1));
                self.known_generation = if ours { after } else { None };
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "nft transaction failed; reconciling cnm's table with the kernel");
                self.reconcile().await.map(drop)
            }
        }
    }

    /// Lists the kernel's table and applies the difference to the model in one transaction.
    /// Returns what was changed (empty when the kernel already matched).
    pub async fn reconcile(&mut self) -> Result<Vec<String>, FirewallError> {
        let result = self.reconcile_with_nft().await;
        self.nft.release();
        result
    }

    async fn reconcile_with_nft(&mut self) -> Result<Vec<String>, FirewallError> {
        let before = self.read_generation();
        let (kernel, exists) = self.list_kernel().await?;
        if !self.synced {
            self.adopt_forward_guard(&kernel);
        }
        let mut plan: Plan = reconcile::plan(&self.desired(), &kernel, exists);
        if !self.legacy_checked && self.legacy_table_exists().await {
            plan.script
                .insert_str(0, &format!("delete table ip {TABLE}\n"));
            plan.changes += 1;
            plan.notes.push(format!("deleted the old table ip {TABLE}"));
        }
        if plan.changes > 0 {
            self.nft.apply(&plan.script).await?;
        }
        self.legacy_checked = true;
        self.synced = true;
        let after = self.read_generation();
        let expected = before.map(|b| b.wrapping_add((plan.changes > 0) as u32));
        self.known_generation = if after.is_some() && after == expected {
            after
        } else {
            None
        };
        Ok(plan.notes)
    }

    /// Whether cnm turned forwarding on is only known to the run that did it; the kernel's
    /// table carries it across restarts.
    fn adopt_forward_guard(&mut self, kernel: &KernelTable) {
        let listed = kernel
            .sets
            .get("forward_guard")
            .and_then(|s| s.elements.as_ref());
        for key in listed.into_iter().flat_map(|e| e.keys()) {
            if let [elements::Part::Family(f)] = key.as_slice() {
                self.guard.insert(*f == elements::FAMILY_V6);
            }
        }
    }

    async fn legacy_table_exists(&self) -> bool {
        self.nft
            .list(&format!("list table ip {TABLE}"))
            .await
            .is_ok()
    }

    /// cnm's table as the kernel has it, and whether it exists at all.
    async fn list_kernel(&self) -> Result<(KernelTable, bool), FirewallError> {
        match self
            .nft
            .list(&format!("list table {} {TABLE}", layout::FAMILY))
            .await
        {
            Ok(json) => Ok((
                KernelTable::parse(&json).map_err(FirewallError::Listing)?,
                true,
            )),
            Err(FirewallError::Missing { .. }) => Ok((KernelTable::default(), false)),
            Err(e) => Err(e),
        }
    }

    /// What `reconcile` would change, without changing anything (for `cnm doctor`).
    pub async fn drift(&self) -> Result<Vec<String>, FirewallError> {
        let listed = self.list_kernel().await;
        self.nft.release();
        let (kernel, exists) = listed?;
        let plan = reconcile::plan(&self.desired(), &kernel, exists);
        Ok(if plan.changes > 0 {
            plan.notes
        } else {
            Vec::new()
        })
    }

    /// Restores the table if anything changed it since cnm last looked; true when it had to.
    /// Cheap when nothing changed (one netlink round trip).
    pub async fn check_and_repair(&mut self) -> Result<bool, FirewallError> {
        let now = self.read_generation();
        if self.synced && now.is_some() && now == self.known_generation {
            return Ok(false);
        }
        let notes = self.reconcile().await?;
        if notes.is_empty() {
            return Ok(false);
        }
        tracing::warn!(changes = ?notes, "cnm's nftables table was changed or removed outside cnm; restored it");
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(bridge: &str, subnet: &str) -> NetworkPolicy {
        NetworkPolicy {
            bridge: bridge.into(),
            subnet_v4: Some(subnet.parse().unwrap()),
            subnet_v6: None,
            icc: true,
            internal: false,
            mode_v4: GatewayMode::Nat,
            mode_v6: GatewayMode::Nat,
            masquerade: true,
            snat_v4: None,
            snat_v6: None,
            trusted: vec![],
        }
    }

    #[test]
    fn delta_of_a_changed_network_touches_only_what_changed() {
        let old = policy("br-a", "172.18.0.0/16").elements();
        let new = NetworkPolicy {
            icc: false,
            ..policy("br-a", "172.18.0.0/16")
        }
        .elements();
        let s = delta_script(&delta(&old, &new));
        assert_eq!(
            s,
            "delete element inet cnm same_icc { \"br-a\" . \"br-a\" }\nadd element inet cnm same_noicc { \"br-a\" . \"br-a\" }\n"
        );
        assert_eq!(delta_script(&delta(&old, &old)), "");
    }

    #[test]
    fn the_fresh_script_holds_every_network() {
        let mut fw = Firewall::new();
        fw.remember_network(policy("br-a", "172.18.0.0/16"));
        fw.remember_network(NetworkPolicy {
            masquerade: false,
            ..policy("br-b", "172.19.0.0/16")
        });
        let s = fw.fresh_script();
        assert!(
            s.contains("add element inet cnm masq_v4 { 172.18.0.0/16 }"),
            "{s}"
        );
        assert!(!s.contains("172.19.0.0/16 }\nadd element inet cnm masq"));
        assert!(s.contains("\"br-b\""));
    }
}
