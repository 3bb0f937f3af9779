//! The name table the embedded resolver answers from (spec §8.3–8.4).
//!
//! Contract:
//! - The controller builds a whole `RecordTable` from its state with `RecordTable::builder()`
//!   and hands it to `Resolver::set_records`; a table never changes once built.
//! - A sandbox sees only the networks it is attached to (an `add_endpoint` naming it), walked
//!   in the order its endpoints were added (the controller adds them in gateway-priority order).
//! - Names are matched case-insensitively, with any trailing dot ignored. For `a.b.c` the
//!   candidates are `a.b.c` in every attached network, then `a.b` in network `c`, then `a` in
//!   network `b.c` (Docker's split, so dotted container and network names both work).
//! - The first network holding addresses of the asked family wins, and all of its addresses
//!   for the name are returned shuffled (round robin). A name known only with the other family
//!   (or with no address at all) is `NoData`: answered empty, never forwarded.
//! - Reverse lookups answer `<first name>.<network>` for every endpoint address; the first
//!   name is the endpoint's primary name (the sandbox name), never an alias.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use cnm_types::Id;
use rand::seq::SliceRandom;

/// Which address family a query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

/// The outcome of a forward lookup in the sandbox's scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameLookup {
    /// The name is ours, with these addresses (shuffled).
    Found(Vec<IpAddr>),
    /// The name is ours but has no address of the asked family: NOERROR with no answer.
    NoData,
    /// Not a name of any network the sandbox is attached to.
    Unknown,
}

#[derive(Clone, Debug, Default)]
struct Addresses {
    v4: Vec<Ipv4Addr>,
    v6: Vec<Ipv6Addr>,
}

#[derive(Clone, Debug)]
struct NetworkRecords {
    /// Lower-cased network name, matched against the tail of dotted queries.
    name_key: String,
    /// Lower-cased DNS name → every address registered under it on this network.
    names: HashMap<String, Addresses>,
    /// Endpoint address → `<first name>.<network>` (no trailing dot).
    reverse: HashMap<IpAddr, String>,
}

/// Every DNS record of every network, and which networks each sandbox is attached to.
#[derive(Clone, Debug, Default)]
pub struct RecordTable {
    networks: HashMap<Id, NetworkRecords>,
    /// Sandbox → attached networks, in the order their endpoints were added.
    attachments: HashMap<Id, Vec<Id>>,
}

/// Collects networks and endpoints, then freezes them into a `RecordTable`.
#[derive(Debug, Default)]
pub struct RecordTableBuilder {
    network_names: HashMap<Id, String>,
    table: RecordTable,
}

/// Lower-cases a DNS name and drops a trailing dot, the form every key is stored in.
fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

impl RecordTable {
    pub fn builder() -> RecordTableBuilder {
        RecordTableBuilder::default()
    }

    /// True when the sandbox is attached to at least one network of this table.
    pub fn serves(&self, sandbox: &Id) -> bool {
        self.attachments.contains_key(sandbox)
    }

    fn attached<'a>(&'a self, sandbox: &Id) -> impl Iterator<Item = &'a NetworkRecords> + 'a {
        self.attachments
            .get(sandbox)
            .into_iter()
            .flatten()
            .filter_map(|network| self.networks.get(network))
    }

    /// Forward lookup of `name` (any case, trailing dot allowed) as seen from `sandbox`.
    pub fn lookup_name(&self, sandbox: &Id, name: &str, family: Family) -> NameLookup {
        let name = normalize(name);
        let mut known = false;
        for (wanted, in_network) in candidates(&name) {
            for network in self.attached(sandbox) {
                if in_network.is_some_and(|n| n != network.name_key) {
                    continue;
                }
                let Some(addresses) = network.names.get(wanted) else {
                    continue;
                };
                known = true;
                let mut found: Vec<IpAddr> = match family {
                    Family::V4 => addresses.v4.iter().copied().map(IpAddr::V4).collect(),
                    Family::V6 => addresses.v6.iter().copied().map(IpAddr::V6).collect(),
                };
                if !found.is_empty() {
                    found.shuffle(&mut rand::rng());
                    return NameLookup::Found(found);
                }
            }
        }
        if known {
            NameLookup::NoData
        } else {
            NameLookup::Unknown
        }
    }

    /// True when `name` is a name of the sandbox's scope, whatever its addresses.
    pub fn knows_name(&self, sandbox: &Id, name: &str) -> bool {
        self.lookup_name(sandbox, name, Family::V4) != NameLookup::Unknown
    }

    /// Reverse lookup: `<first name>.<network>` (no trailing dot) of an endpoint address on a
    /// network the sandbox is attached to.
    pub fn lookup_address(&self, sandbox: &Id, address: IpAddr) -> Option<&str> {
        self.attached(sandbox)
            .find_map(|network| network.reverse.get(&address))
            .map(String::as_str)
    }
}

/// `(name, network)` pairs to try for a normalized query name: the whole name in every
/// network, then each split at a dot, from the right, as `name` in network `rest`.
fn candidates(name: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    let splits = name
        .rmatch_indices('.')
        .map(move |(dot, _)| (&name[..dot], Some(&name[dot + 1..])));
    std::iter::once((name, None))
        .chain(splits)
        .filter(|(wanted, network)| !wanted.is_empty() && network.is_none_or(|n| !n.is_empty()))
}

impl RecordTableBuilder {
    /// Declares a network and its name (used for `name.network` and PTR answers).
    pub fn add_network(&mut self, network_id: Id, network_name: &str) -> &mut Self {
        let key = normalize(network_name);
        let records = self.network_entry(&network_id);
        records.name_key = key;
        self.network_names
            .insert(network_id, network_name.trim_end_matches('.').to_owned());
        self
    }

    /// Registers one endpoint of `sandbox` on `network_id`. `names` are its DNS names, the
    /// primary name (the sandbox name) first, then aliases, short id, hostname; duplicates and
    /// empty names are ignored. An endpoint with no names still puts the network in the
    /// sandbox's scope. Declare the network first; otherwise its id stands for its name.
    pub fn add_endpoint(
        &mut self,
        network_id: Id,
        sandbox: Id,
        names: Vec<String>,
        ipv4: Option<Ipv4Addr>,
        ipv6: Option<Ipv6Addr>,
    ) -> &mut Self {
        let network_name = self
            .network_names
            .get(&network_id)
            .cloned()
            .unwrap_or_else(|| network_id.to_string());
        let records = self.network_entry(&network_id);
        let mut keys: Vec<String> = Vec::with_capacity(names.len());
        for key in names.iter().map(|n| normalize(n)) {
            if !key.is_empty() && !keys.contains(&key) {
                keys.push(key);
            }
        }
        for key in &keys {
            let entry = records.names.entry(key.clone()).or_default();
            if let Some(v4) = ipv4.filter(|a| !entry.v4.contains(a)) {
                entry.v4.push(v4);
            }
            if let Some(v6) = ipv6.filter(|a| !entry.v6.contains(a)) {
                entry.v6.push(v6);
            }
        }
        if let Some(primary) = names
            .iter()
            .map(|n| n.trim_end_matches('.'))
            .find(|n| !n.is_empty())
        {
            let target = format!("{primary}.{network_name}");
            for address in [ipv4.map(IpAddr::V4), ipv6.map(IpAddr::V6)]
                .into_iter()
                .flatten()
            {
                // The first endpoint registered for an address keeps it, as in Docker.
                records
                    .reverse
                    .entry(address)
                    .or_insert_with(|| target.clone());
            }
        }
        let attached = self.table.attachments.entry(sandbox).or_default();
        if !attached.contains(&network_id) {
            attached.push(network_id);
        }
        self
    }

    pub fn build(self) -> RecordTable {
        self.table
    }

    fn network_entry(&mut self, network_id: &Id) -> &mut NetworkRecords {
        self.table
            .networks
            .entry(network_id.clone())
            .or_insert_with(|| NetworkRecords {
                name_key: normalize(network_id.as_str()),
                names: HashMap::new(),
                reverse: HashMap::new(),
            })
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
