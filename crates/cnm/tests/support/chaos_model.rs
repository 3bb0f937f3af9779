//! The chaos test's model of what must exist (`tests/chaos.rs`).
//!
//! Contract:
//! - `Model` holds every network and sandbox the API acknowledged (2xx), with the connections
//!   the API acknowledged, and the names of everything whose removal it acknowledged. Names are
//!   never reused, so a removed name seen again means a removed object came back.
//! - `Model::apply` applies an acknowledged operation. `Model::reconcile` settles an operation
//!   interrupted by a kill from what the API shows of that one object after the restart:
//!   done, not done, or half done (`Settled::Partial`, e.g. a sandbox removal that detached
//!   some endpoints but kept the sandbox); an answer no outcome of the operation explains is
//!   an error.
//! - One network, `ANCHOR`, has a /28 (13 addresses) and is never removed: a leaked address
//!   there makes a later valid connect fail, and the test's end fills it completely.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::chaos_ops::Op;

/// The long-lived small network that catches leaked addresses.
pub const ANCHOR: &str = "anchor";
pub const ANCHOR_SUBNET: &str = "172.19.0.0/28";
/// Addresses the anchor hands out: 16 minus network, broadcast and gateway.
pub const ANCHOR_CAPACITY: usize = 13;

#[derive(Clone, Debug, PartialEq)]
pub struct NetModel {
    pub id: String,
    /// The requested subnet, or the one first seen for a dynamic network (then kept forever).
    pub subnet: Option<String>,
    pub explicit: bool,
    pub internal: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SbModel {
    pub id: String,
    pub networks: BTreeSet<String>,
    /// Publishes container port 80/tcp on host port 0 (a free port).
    pub port: bool,
    /// The host port seen at the last check, while the connections stay as they were.
    pub host_port: Option<u16>,
    /// The interrupted operation that last touched it (`reconcile`), until a check finds its
    /// port and default route right again: a lost port or route is then a known gap of the
    /// daemon (reported; fatal only when strict), not a broken invariant.
    pub at_risk: Option<String>,
}

#[derive(Default)]
pub struct Model {
    pub networks: BTreeMap<String, NetModel>,
    pub sandboxes: BTreeMap<String, SbModel>,
    pub removed: BTreeSet<String>,
}

/// How an interrupted operation turned out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    Done,
    NotDone,
    /// Neither: part of it happened (e.g. a sandbox removal that detached some endpoints).
    Partial(String),
}

impl Model {
    pub fn users_of(&self, network: &str) -> usize {
        self.sandboxes
            .values()
            .filter(|s| s.networks.contains(network))
            .count()
    }

    pub fn anchor_has_room(&self) -> bool {
        self.users_of(ANCHOR) < ANCHOR_CAPACITY
    }

    /// Applies an acknowledged operation; `body` is the daemon's 2xx answer.
    pub fn apply(&mut self, op: &Op, body: &str) {
        let id = || {
            serde_json::from_str::<Value>(body).unwrap_or_default()["Id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        match op {
            Op::CreateNetwork {
                name,
                subnet,
                internal,
            } => {
                let net = NetModel {
                    id: id(),
                    subnet: subnet.clone(),
                    explicit: subnet.is_some(),
                    internal: *internal,
                };
                self.networks.insert(name.clone(), net);
            }
            Op::RemoveNetwork { name } => {
                self.networks.remove(name);
                self.removed.insert(name.clone());
            }
            Op::CreateSandbox {
                name,
                networks,
                port,
            } => {
                let sb = SbModel {
                    id: id(),
                    networks: networks.iter().cloned().collect(),
                    port: *port,
                    host_port: None,
                    at_risk: None,
                };
                self.sandboxes.insert(name.clone(), sb);
            }
            Op::RemoveSandbox { name } => {
                self.sandboxes.remove(name);
                self.removed.insert(name.clone());
            }
            Op::Connect { sandbox, network } => {
                let sb = self.sandboxes.get_mut(sandbox).expect("modelled sandbox");
                sb.networks.insert(network.clone());
                sb.host_port = None;
            }
            Op::Disconnect { sandbox, network } => {
                let sb = self.sandboxes.get_mut(sandbox).expect("modelled sandbox");
                sb.networks.remove(network);
                sb.host_port = None;
            }
        }
    }

    /// Settles an operation interrupted by a kill from the daemon's inspect answers after the
    /// restart (`None`: 404): the object is taken as the API shows it. Err when the answer
    /// is not a possible outcome of the operation at all (something never requested).
    pub fn reconcile(
        &mut self,
        op: &Op,
        network: Option<&Value>,
        sandbox: Option<&Value>,
    ) -> Result<Settled, String> {
        let id_body = |v: &Value| json!({ "Id": v["Id"] }).to_string();
        let settled = match op {
            Op::CreateNetwork {
                subnet, internal, ..
            } => match network {
                None => Settled::NotDone,
                Some(n) => {
                    let seen_subnet = n["IPAM"]["Config"][0]["Subnet"].as_str();
                    if n["Internal"] != *internal
                        || subnet.as_ref().is_some_and(|s| seen_subnet != Some(s))
                    {
                        return Err(format!("network exists, but not as requested: {n}"));
                    }
                    self.apply(op, &id_body(n));
                    Settled::Done
                }
            },
            Op::RemoveNetwork { .. } if network.is_none() => {
                self.apply(op, "");
                Settled::Done
            }
            Op::RemoveNetwork { .. } => Settled::NotDone,
            Op::CreateSandbox {
                name,
                networks,
                port,
            } => match sandbox {
                None => Settled::NotDone,
                Some(s) => {
                    let seen = joined_networks(s);
                    let wanted: BTreeSet<String> = networks.iter().cloned().collect();
                    if !seen.is_subset(&wanted) {
                        return Err(format!("sandbox joined {seen:?}, requested {wanted:?}"));
                    }
                    self.apply(op, &id_body(s));
                    if seen == wanted {
                        Settled::Done
                    } else {
                        self.sandboxes.get_mut(name).expect("applied").networks = seen.clone();
                        Settled::Partial(format!(
                            "sandbox {name} exists on {seen:?} of {wanted:?} (port {port})"
                        ))
                    }
                }
            },
            Op::RemoveSandbox { name } => match sandbox {
                None => {
                    self.apply(op, "");
                    Settled::Done
                }
                Some(s) => {
                    let seen = joined_networks(s);
                    let sb = self.sandboxes.get_mut(name).expect("modelled sandbox");
                    if !seen.is_subset(&sb.networks) {
                        return Err(format!("sandbox joined {seen:?}, had {:?}", sb.networks));
                    }
                    if seen == sb.networks {
                        Settled::NotDone
                    } else {
                        let partial = format!(
                            "sandbox {name} survived on {seen:?}, it had {:?}",
                            sb.networks
                        );
                        sb.networks = seen;
                        sb.host_port = None;
                        Settled::Partial(partial)
                    }
                }
            },
            Op::Connect {
                sandbox: name,
                network: net,
            }
            | Op::Disconnect {
                sandbox: name,
                network: net,
            } => {
                let Some(s) = sandbox else {
                    return Err(format!("sandbox {name} is gone"));
                };
                let seen = joined_networks(s);
                let before = &self.sandboxes[name].networks;
                let mut after = before.clone();
                if matches!(op, Op::Connect { .. }) {
                    after.insert(net.clone());
                } else {
                    after.remove(net);
                }
                if seen == *before {
                    Settled::NotDone
                } else if seen == after {
                    self.apply(op, "");
                    Settled::Done
                } else {
                    return Err(format!("sandbox {name} joined {seen:?}, before {before:?}"));
                }
            }
        };
        let touched = match op {
            Op::CreateSandbox { name, .. } | Op::RemoveSandbox { name } => Some(name),
            Op::Connect { sandbox, .. } | Op::Disconnect { sandbox, .. } => Some(sandbox),
            _ => None,
        };
        if let Some(sb) = touched.and_then(|name| self.sandboxes.get_mut(name)) {
            sb.at_risk = Some(format!("{op:?} ({settled:?})"));
            sb.host_port = None;
        }
        Ok(settled)
    }
}

/// Names of the networks a sandbox inspect answer shows it joined to.
pub fn joined_networks(sandbox: &Value) -> BTreeSet<String> {
    sandbox["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}
