//! The chaos test's checks after each restart, beyond `invariants::check` (API == kernel):
//! the model against the API, default routes against gateway endpoints, published ports
//! against real connections and the firewall (`chaos_firewall`), and the daemon's own drift
//! report.
//!
//! Contract: every check returns `Err(Broken)` naming the invariant and what was seen; the
//! caller fails on the first one. `Checks::run` counts every invariant it evaluated. Published
//! ports are probed with real connections (`chaos_ports`). Known gaps of the daemon are
//! collected in `gaps` (once each) and fail only when `strict`: a stale host neighbour entry
//! for a reused address, and a lost default route on a sandbox that an interrupted operation
//! touched (`SbModel::at_risk`, cleared once the sandbox checks out). A lost published port
//! always fails.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::Path;

use serde_json::Value;

use super::chaos_client;
use super::chaos_firewall::nft_text;
use super::chaos_model::{Model, joined_networks};
use super::chaos_ports::{FIRST_TRY, SECOND_TRY, clear_stale_neighbours, listen_in, probe};
use crate::support::TestHost;
use crate::support::api::ip_json;

const PREDEFINED: [&str; 3] = ["bridge", "host", "none"];

#[derive(Debug)]
pub struct Broken {
    pub invariant: &'static str,
    pub detail: String,
}

pub(crate) fn broken(invariant: &'static str, detail: impl Into<String>) -> Broken {
    Broken {
        invariant,
        detail: detail.into(),
    }
}

/// What the API reports, by name (predefined networks left out).
pub struct Observed {
    pub networks: BTreeMap<String, Value>,
    pub sandboxes: BTreeMap<String, Value>,
}

pub fn observe(host: &TestHost) -> Result<Observed, Broken> {
    let list = |path: &str| -> Result<Vec<Value>, Broken> {
        let (code, body) = get(host, path);
        serde_json::from_str(&body)
            .ok()
            .filter(|_| code == 200)
            .ok_or_else(|| {
                broken(
                    "the API lists objects",
                    format!("GET {path}: {code} {body}"),
                )
            })
    };
    let by_name = |items: Vec<Value>| {
        items
            .into_iter()
            .map(|v| (v["Name"].as_str().unwrap_or_default().to_string(), v))
            .filter(|(name, _)| !PREDEFINED.contains(&name.as_str()))
            .collect()
    };
    let mut networks: BTreeMap<String, Value> = by_name(list("/networks")?);
    // The list leaves `Containers` empty, as Docker's does: inspect each network.
    for (name, net) in networks.iter_mut() {
        *net = inspect(host, "networks", name)?
            .ok_or_else(|| broken("listed networks can be inspected", format!("{name}: 404")))?;
    }
    Ok(Observed {
        networks,
        sandboxes: by_name(list("/sandboxes")?),
    })
}

/// Inspect answer of one object, `None` on 404.
pub fn inspect(host: &TestHost, kind: &str, name: &str) -> Result<Option<Value>, Broken> {
    match get(host, &format!("/{kind}/{name}")) {
        (200, body) => Ok(serde_json::from_str(&body).ok()),
        (404, _) => Ok(None),
        (code, body) => Err(broken(
            "the API answers inspect",
            format!("GET /{kind}/{name}: {code} {body}"),
        )),
    }
}

fn get(host: &TestHost, path: &str) -> (u16, String) {
    chaos_client::call(&host.socket_path(), "GET", path, None)
}

fn names<T>(map: &BTreeMap<String, T>) -> BTreeSet<String> {
    map.keys().cloned().collect()
}

/// The published host port of a sandbox's `80/tcp`, if it has one.
fn host_port(sandbox: &Value) -> Option<u16> {
    sandbox["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
        .as_str()
        .and_then(|p| p.parse().ok())
}

#[derive(Default)]
pub struct Checks {
    /// Invariants evaluated so far.
    pub evaluated: usize,
    /// TCP connections made through published ports.
    pub port_probes: usize,
    /// Known gaps seen (allowed unless `strict`), for the report.
    pub gaps: Vec<String>,
    /// Known gaps fail the test too.
    pub strict: bool,
    listeners: BTreeMap<String, TcpListener>,
    /// Sandboxes with a known gap in the current round.
    troubled: BTreeSet<String>,
}

impl Checks {
    pub fn new(strict: bool) -> Checks {
        Checks {
            strict,
            ..Checks::default()
        }
    }

    /// Forgets the listener of a sandbox about to be removed, so our socket does not keep its
    /// namespace alive.
    pub fn drop_listener(&mut self, sandbox: &str) {
        self.listeners.remove(sandbox);
    }

    /// Every check of one round, in order; the model learns dynamic subnets and host ports.
    pub fn run(&mut self, host: &TestHost, model: &mut Model) -> Result<(), Broken> {
        let seen = observe(host)?;
        self.model_matches_api(model, &seen)?;
        self.troubled.clear();
        self.routes_follow_gateways(model, &seen)?;
        self.ports_are_published(model, &seen)?;
        self.firewall_matches(model, &seen)?;
        self.doctor_is_clean(host)?;
        self.listeners
            .retain(|name, _| model.sandboxes.contains_key(name));
        // A sandbox an interrupted operation touched is trusted again once it checks out.
        for (name, sb) in model.sandboxes.iter_mut() {
            if !self.troubled.contains(name) {
                sb.at_risk = None;
            }
        }
        Ok(())
    }

    /// Each sandbox's default route goes through its gateway endpoint: the first of its
    /// networks, by name, that gives it a gateway (non-internal), as the daemon reports it.
    fn routes_follow_gateways(&mut self, model: &Model, seen: &Observed) -> Result<(), Broken> {
        for (name, sb) in &model.sandboxes {
            let api_sb = &seen.sandboxes[name];
            let endpoints = api_sb["NetworkSettings"]["Networks"].as_object();
            let by_name: BTreeMap<&String, &Value> = endpoints.into_iter().flatten().collect();
            let expected = by_name
                .values()
                .filter_map(|e| e["Gateway"].as_str().filter(|g| !g.is_empty()))
                .next()
                .map(String::from);
            let key = api_sb["NetworkSettings"]["SandboxKey"]
                .as_str()
                .unwrap_or_default();
            let routes: Vec<String> = ip_json(Some(key), &["route", "show", "default"])
                .iter()
                .map(|r| r["gateway"].as_str().unwrap_or("(none)").to_string())
                .collect();
            self.evaluated += 1;
            if routes != Vec::from_iter(expected.clone()) {
                let detail =
                    format!("{name} routes via {routes:?}, its gateway endpoint is {expected:?}");
                self.gap_unless_strict(
                    name,
                    &sb.at_risk,
                    "sandboxes route through their gateway",
                    detail,
                )?;
            }
        }
        Ok(())
    }

    pub(crate) fn count(
        &mut self,
        ok: bool,
        invariant: &'static str,
        detail: impl FnOnce() -> String,
    ) -> Result<(), Broken> {
        self.evaluated += 1;
        if ok {
            Ok(())
        } else {
            Err(broken(invariant, detail()))
        }
    }

    /// Records a known gap once (a lasting one is seen again at every check).
    fn note_gap(&mut self, gap: String) {
        if !self.gaps.contains(&gap) {
            self.gaps.push(gap);
        }
    }

    /// A broken invariant on a sandbox that an interrupted operation touched is a known gap
    /// of the daemon (recorded, `Ok`) unless strict; on any other sandbox it is an error.
    pub(crate) fn gap_unless_strict(
        &mut self,
        sandbox: &str,
        at_risk: &Option<String>,
        invariant: &'static str,
        detail: String,
    ) -> Result<(), Broken> {
        match at_risk {
            Some(op) if !self.strict => {
                self.troubled.insert(sandbox.to_string());
                self.note_gap(format!(
                    "'{invariant}' broken after a kill during {op}: {detail}"
                ));
                Ok(())
            }
            Some(op) => Err(broken(
                invariant,
                format!("after a kill during {op}: {detail}"),
            )),
            None => Err(broken(invariant, detail)),
        }
    }

    /// (c): acknowledged objects exist as acknowledged; nothing removed or refused exists.
    fn model_matches_api(&mut self, model: &mut Model, seen: &Observed) -> Result<(), Broken> {
        for name in seen.networks.keys().chain(seen.sandboxes.keys()) {
            self.count(
                !model.removed.contains(name),
                "nothing removed comes back",
                || format!("{name} was removed and is listed again"),
            )?;
        }
        let (want, got) = (names(&model.networks), names(&seen.networks));
        self.count(
            want == got,
            "acknowledged networks exist, and only they",
            || format!("missing {:?}, unexpected {:?}", &want - &got, &got - &want),
        )?;
        let (want, got) = (names(&model.sandboxes), names(&seen.sandboxes));
        self.count(
            want == got,
            "acknowledged sandboxes exist, and only they",
            || format!("missing {:?}, unexpected {:?}", &want - &got, &got - &want),
        )?;
        for (name, sb) in &model.sandboxes {
            let api_sb = &seen.sandboxes[name];
            let joined = joined_networks(api_sb);
            self.count(
                api_sb["Id"] == sb.id.as_str() && joined == sb.networks,
                "acknowledged connections exist, and only they",
                || {
                    format!(
                        "sandbox {name}: model {sb:?}, API joined {joined:?} id {}",
                        api_sb["Id"]
                    )
                },
            )?;
        }
        for (name, net) in model.networks.iter_mut() {
            let api_net = &seen.networks[name];
            let subnet = api_net["IPAM"]["Config"][0]["Subnet"]
                .as_str()
                .map(String::from);
            let same = api_net["Id"] == net.id.as_str()
                && api_net["Internal"] == net.internal
                && (net.subnet.is_none() || subnet == net.subnet);
            self.count(same, "networks keep their id, subnet and options", || {
                format!("{name}: model {net:?}, API {api_net}")
            })?;
            net.subnet = net.subnet.take().or(subnet);
            let members: BTreeSet<String> = api_net["Containers"]
                .as_object()
                .map(|m| {
                    m.values()
                        .filter_map(|c| c["Name"].as_str())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            let expected: BTreeSet<String> = model
                .sandboxes
                .iter()
                .filter(|(_, s)| s.networks.contains(name))
                .map(|(n, _)| n.clone())
                .collect();
            self.count(members == expected, "network and sandbox views agree", || {
                format!("network {name} lists {members:?}, the sandboxes say {expected:?}: {api_net}")
            })?;
        }
        Ok(())
    }

    /// (d): a sandbox with a published port and a non-internal network is reachable through
    /// 127.0.0.1:<host port>, and keeps that port while its connections stay the same.
    fn ports_are_published(&mut self, model: &mut Model, seen: &Observed) -> Result<(), Broken> {
        for (name, sb) in model.sandboxes.iter_mut() {
            let api_sb = &seen.sandboxes[name];
            let active = sb.port && sb.networks.iter().any(|n| !model.networks[n].internal);
            let port = host_port(api_sb);
            self.evaluated += 1;
            match (active, port) {
                (false, None) => continue,
                (false, Some(p)) => {
                    return Err(broken(
                        "only reachable sandboxes publish ports",
                        format!("{name} publishes {p} without a non-internal network"),
                    ));
                }
                (true, None) => {
                    // No longer a known gap: the start re-publishes on the gateway endpoint.
                    let during = sb
                        .at_risk
                        .as_ref()
                        .map(|op| format!(" after a kill during {op}"))
                        .unwrap_or_default();
                    return Err(broken(
                        "published ports survive",
                        format!(
                            "{name} lost its port{during}: {}",
                            api_sb["NetworkSettings"]
                        ),
                    ));
                }
                (true, Some(p)) => {
                    if sb.host_port.is_some_and(|old| old != p) {
                        return Err(broken(
                            "published ports survive",
                            format!("{name} moved from {:?} to {p}", sb.host_port),
                        ));
                    }
                    sb.host_port = Some(p);
                }
            }
            if !self.listeners.contains_key(name) {
                let key = api_sb["NetworkSettings"]["SandboxKey"]
                    .as_str()
                    .unwrap_or_default();
                let listener = listen_in(Path::new(key))
                    .map_err(|e| broken("sandbox namespace exists", format!("{name}: {e}")))?;
                self.listeners.insert(name.clone(), listener);
            }
            let port = sb.host_port.expect("just set");
            let mut reached = probe(&self.listeners[name], port, FIRST_TRY);
            self.port_probes += 1;
            if reached.is_err() {
                // A reused address whose host neighbour entry still names the previous
                // sandbox's MAC stalls new connections for seconds (cnm sends no unsolicited
                // ARP on join yet): note it, clear the entry and probe the NAT path again.
                let stale = clear_stale_neighbours(api_sb);
                if !stale.is_empty() {
                    let gap = format!(
                        "{name}: host neighbour entries {stale:?} named a previous sandbox's MAC"
                    );
                    if self.strict {
                        return Err(broken("a reused address is announced on join", gap));
                    }
                    self.note_gap(gap);
                }
                reached = probe(&self.listeners[name], port, SECOND_TRY);
                self.port_probes += 1;
            }
            self.count(reached.is_ok(), "published ports are reachable", || {
                format!(
                    "{name}: 127.0.0.1:{port}: {}; sandbox {}; nft {}",
                    reached.unwrap_err(),
                    api_sb["NetworkSettings"],
                    nft_text()
                )
            })?;
        }
        Ok(())
    }

    fn doctor_is_clean(&mut self, host: &TestHost) -> Result<(), Broken> {
        let (code, body) = get(host, "/doctor");
        let findings = serde_json::from_str::<Value>(&body).unwrap_or_default()["Findings"].clone();
        self.count(
            code == 200 && findings.as_array().is_some_and(Vec::is_empty),
            "doctor finds no drift",
            || format!("{code} {body}"),
        )
    }
}
