//! The random operations the chaos test throws at the daemon (`tests/chaos.rs`).
//!
//! Contract:
//! - `next_op` picks an operation from the model with a seeded `Rng` (SplitMix64), so a seed
//!   replays the same sequence as long as the daemon answers the same way. Mostly valid
//!   operations, and now and then one the daemon must refuse; at most 10 networks and 16
//!   sandboxes exist at once.
//! - `Op::expect` says, from the model alone, whether the daemon must accept or refuse it (a
//!   stale endpoint, a leaked address or a lost network shows up as a valid operation refused,
//!   or an invalid one accepted); `Op::is_docker_refusal` recognises a refusal as Docker words
//!   it.

use serde_json::{Value, json};

use super::chaos_model::{ANCHOR, Model};

const MAX_NETWORKS: usize = 10;
const MAX_SANDBOXES: usize = 16;

/// SplitMix64: tiny, seedable, good enough to pick operations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len() as u64) as usize])
    }
}

#[derive(Clone, Debug)]
pub enum Op {
    CreateNetwork {
        name: String,
        subnet: Option<String>,
        internal: bool,
    },
    RemoveNetwork {
        name: String,
    },
    CreateSandbox {
        name: String,
        networks: Vec<String>,
        port: bool,
    },
    RemoveSandbox {
        name: String,
    },
    Connect {
        sandbox: String,
        network: String,
    },
    Disconnect {
        sandbox: String,
        network: String,
    },
}

/// What the daemon must answer, judged from the model before the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Accept,
    Refuse,
}

impl Op {
    /// `(method, path, body)` of the API call.
    pub fn request(&self) -> (&'static str, String, Option<String>) {
        match self {
            Op::CreateNetwork {
                name,
                subnet,
                internal,
            } => {
                let mut body = json!({ "Name": name, "Internal": internal });
                if let Some(subnet) = subnet {
                    body["IPAM"] = json!({ "Config": [{ "Subnet": subnet }] });
                }
                ("POST", "/networks/create".into(), Some(body.to_string()))
            }
            Op::RemoveNetwork { name } => ("DELETE", format!("/networks/{name}"), None),
            Op::CreateSandbox {
                name,
                networks,
                port,
            } => {
                let nets: Vec<Value> = networks.iter().map(|n| json!({ "Network": n })).collect();
                let mut body = json!({ "Name": name, "Networks": nets });
                if *port {
                    body["PortBindings"] =
                        json!([{ "Proto": "tcp", "ContainerPort": 80, "HostPort": 0 }]);
                }
                ("POST", "/sandboxes/create".into(), Some(body.to_string()))
            }
            Op::RemoveSandbox { name } => ("DELETE", format!("/sandboxes/{name}?force=1"), None),
            Op::Connect { sandbox, network } => (
                "POST",
                format!("/networks/{network}/connect"),
                Some(json!({ "Container": sandbox }).to_string()),
            ),
            Op::Disconnect { sandbox, network } => (
                "POST",
                format!("/networks/{network}/disconnect"),
                Some(json!({ "Container": sandbox }).to_string()),
            ),
        }
    }

    /// The sandbox whose namespace the operation may remove (its listener must go first).
    pub fn removed_sandbox(&self) -> Option<&str> {
        match self {
            Op::RemoveSandbox { name } => Some(name),
            _ => None,
        }
    }

    /// A refusal as Docker words it: a 4xx; the 500 Docker answers for disconnecting a
    /// sandbox that is not connected; the 503 for a full pool (`reference/libnetwork-spec.md`,
    /// disconnect and IPAM errors).
    pub fn is_docker_refusal(&self, code: u16, body: &str) -> bool {
        let allocates = matches!(self, Op::Connect { .. } | Op::CreateSandbox { .. });
        (400..=499).contains(&code)
            || (matches!(self, Op::Disconnect { .. })
                && code == 500
                && body.contains("is not connected to network"))
            || (allocates && code == 503 && body.contains("no available IPv4 addresses"))
    }

    pub fn expect(&self, model: &Model) -> Expect {
        let verdict = |ok: bool| if ok { Expect::Accept } else { Expect::Refuse };
        match self {
            Op::CreateNetwork { subnet, .. } => {
                verdict(subnet.is_none() || !model.networks.values().any(|n| n.subnet == *subnet))
            }
            Op::RemoveNetwork { name } => verdict(model.users_of(name) == 0),
            Op::CreateSandbox { networks, .. } => {
                verdict(!networks.iter().any(|n| n == ANCHOR) || model.anchor_has_room())
            }
            Op::RemoveSandbox { .. } => Expect::Accept,
            Op::Connect { sandbox, network } => verdict(
                !model.sandboxes[sandbox].networks.contains(network)
                    && (network != ANCHOR || model.anchor_has_room()),
            ),
            Op::Disconnect { sandbox, network } => {
                verdict(model.sandboxes[sandbox].networks.contains(network))
            }
        }
    }
}

/// Picks the next operation; `serial` makes names unique.
pub fn next_op(model: &Model, rng: &mut Rng, serial: usize) -> Op {
    let nets: Vec<&String> = model.networks.keys().collect();
    let removable: Vec<&String> = nets.iter().copied().filter(|n| *n != ANCHOR).collect();
    let empty: Vec<&String> = removable
        .iter()
        .copied()
        .filter(|n| model.users_of(n) == 0)
        .collect();
    let sbs: Vec<&String> = model.sandboxes.keys().collect();
    let roll = rng.below(100);
    if nets.len() < 3 || (roll < 12 && nets.len() < MAX_NETWORKS) {
        let subnet = rng
            .chance(30)
            .then(|| format!("172.{}.{}.0/24", 20 + rng.below(12), rng.below(256)));
        return Op::CreateNetwork {
            name: format!("n{serial}"),
            subnet,
            internal: rng.chance(20),
        };
    }
    if roll < 22 && !removable.is_empty() {
        let pool = if !empty.is_empty() && rng.chance(85) {
            &empty
        } else {
            &removable
        };
        let name = (*rng.pick(pool).expect("non-empty")).clone();
        return Op::RemoveNetwork { name };
    }
    if sbs.is_empty() || (roll < 42 && sbs.len() < MAX_SANDBOXES) {
        let first = (*rng.pick(&nets).expect("networks exist")).clone();
        let mut networks = vec![first];
        if rng.chance(25) {
            let second = (*rng.pick(&nets).expect("networks exist")).clone();
            if second != networks[0] {
                networks.push(second);
            }
        }
        return Op::CreateSandbox {
            name: format!("s{serial}"),
            networks,
            port: rng.chance(40),
        };
    }
    let sandbox = (*rng.pick(&sbs).expect("sandboxes exist")).clone();
    if roll < 54 {
        return Op::RemoveSandbox { name: sandbox };
    }
    let joined = &model.sandboxes[&sandbox].networks;
    let (on, off): (Vec<&String>, Vec<&String>) =
        nets.iter().copied().partition(|n| joined.contains(*n));
    // Mostly valid requests; now and then one the daemon must refuse.
    let valid = rng.chance(90);
    let connect = roll < 80;
    let candidates = match (connect, valid) {
        (true, true) | (false, false) => &off,
        (true, false) | (false, true) => &on,
    };
    let network = match rng.pick(candidates) {
        Some(n) => (*n).clone(),
        None => (*rng.pick(&nets).expect("networks exist")).clone(),
    };
    if connect {
        Op::Connect { sandbox, network }
    } else {
        Op::Disconnect { sandbox, network }
    }
}
