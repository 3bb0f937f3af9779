//! The answers of the test plugin (`plugin_server.rs`): a veth-creating network driver and a
//! pool-handing IPAM driver, method by method, over the plugin's recorded state.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use serde_json::{Value, json};

use super::{PluginState, ip, short};

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// The normal answer of `method`; `Err(message)` goes out in the protocol's error field.
pub(super) fn answer(s: &mut PluginState, method: &str, req: &Value) -> Result<Value, String> {
    let b = s.behaviour.clone();
    Ok(match method {
        "Plugin.Activate" => json!({ "Implements": b.implements }),
        "NetworkDriver.GetCapabilities" => {
            json!({ "Scope": b.scope, "ConnectivityScope": b.scope, "GwAllocChecker": b.gw_alloc_checker })
        }
        "NetworkDriver.GwAllocCheck" => json!({ "SkipIPv4": true, "SkipIPv6": false }),
        "NetworkDriver.CreateNetwork" => {
            let nid = str_of(req, "NetworkID");
            let bridge = format!("tb-{}", short(nid));
            if !ip(&["link", "add", &bridge, "type", "bridge"])
                || !ip(&["link", "set", &bridge, "up"])
            {
                return Err(format!("cannot create bridge {bridge}"));
            }
            let gateway = req["IPv4Data"][0]["Gateway"].as_str();
            if let Some(gw) = gateway {
                ip(&["addr", "add", gw, "dev", &bridge]);
            }
            let gateway = gateway
                .and_then(|g| g.parse::<ipnet::IpNet>().ok())
                .map(|g| g.addr());
            s.networks.insert(nid.to_string(), (bridge, gateway));
            json!({})
        }
        "NetworkDriver.DeleteNetwork" => {
            let nid = str_of(req, "NetworkID");
            s.networks.remove(nid);
            ip(&["link", "del", &format!("tb-{}", short(nid))]);
            json!({})
        }
        "NetworkDriver.CreateEndpoint" => {
            let given = str_of(&req["Interface"], "Address");
            match b.assign_from {
                Some(pool) if given.is_empty() => {
                    s.assigned += 1;
                    let pool: ipnet::Ipv4Net = pool.parse().unwrap();
                    let addr = Ipv4Addr::from(u32::from(pool.network()) + 1 + s.assigned);
                    let mac = format!("02:42:ac:1e:00:{:02x}", s.assigned);
                    json!({ "Interface": { "Address": format!("{addr}/{}", pool.prefix_len()), "MacAddress": mac } })
                }
                _ => json!(null),
            }
        }
        "NetworkDriver.Join" => {
            let (nid, eid) = (str_of(req, "NetworkID"), str_of(req, "EndpointID"));
            let (host, peer) = (format!("th{}", short(eid)), format!("tc{}", short(eid)));
            let (bridge, gateway) = s
                .networks
                .get(nid)
                .cloned()
                .ok_or_else(|| format!("no network {nid}"))?;
            if !ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer])
                || !ip(&["link", "set", &host, "master", &bridge, "up"])
            {
                return Err(format!("cannot create veth {host}"));
            }
            s.endpoints.insert(eid.to_string(), host);
            let mut answer = json!({ "InterfaceName": { "SrcName": peer, "DstPrefix": "eth" } });
            if let Some(gw) = gateway {
                answer["Gateway"] = json!(gw.to_string());
                // One route per network, so a sandbox on two of them gets both.
                let IpAddr::V4(v4) = gw else {
                    unreachable!("IPv4 gateways only")
                };
                let destination = format!("10.99.{}.0/24", v4.octets()[1]);
                answer["StaticRoutes"] = json!([{ "Destination": destination, "RouteType": 0, "NextHop": gw.to_string() }]);
            }
            answer
        }
        "NetworkDriver.DeleteEndpoint" => {
            let eid = str_of(req, "EndpointID");
            s.endpoints.remove(eid);
            ip(&["link", "del", &format!("th{}", short(eid))]);
            json!({})
        }
        "NetworkDriver.EndpointOperInfo" => {
            json!({ "Value": { "test.host_veth": s.endpoints.get(str_of(req, "EndpointID")) } })
        }
        "NetworkDriver.AllocateNetwork" => json!({ "Options": { "test.allocated": "yes" } }),
        "NetworkDriver.Leave"
        | "NetworkDriver.FreeNetwork"
        | "NetworkDriver.ProgramExternalConnectivity"
        | "NetworkDriver.RevokeExternalConnectivity"
        | "NetworkDriver.DiscoverNew"
        | "NetworkDriver.DiscoverDelete" => json!({}),
        "IpamDriver.GetCapabilities" => {
            json!({ "RequiresMACAddress": b.requires_mac, "RequiresRequestReplay": b.requires_replay })
        }
        "IpamDriver.GetDefaultAddressSpaces" => {
            json!({ "LocalDefaultAddressSpace": "TestLocal", "GlobalDefaultAddressSpace": "TestGlobal" })
        }
        "IpamDriver.RequestPool" => {
            if req["V6"].as_bool() == Some(true) {
                return Err("this plugin has no IPv6 pools".into());
            }
            let asked = str_of(req, "Pool");
            if asked.is_empty() && !str_of(req, "SubPool").is_empty() {
                return Err("SubPool without Pool".into());
            }
            let space = str_of(req, "AddressSpace");
            let pool: ipnet::Ipv4Net = if asked.is_empty() {
                // Dynamic: the first pool of the series `pool`, `pool`+1, ... not handed out yet.
                let base: ipnet::Ipv4Net = b.pool.parse().unwrap();
                let size = 1u32 << (32 - base.prefix_len());
                (0..16)
                    .map(|i| {
                        ipnet::Ipv4Net::new(
                            Ipv4Addr::from(u32::from(base.network()) + i * size),
                            base.prefix_len(),
                        )
                        .unwrap()
                    })
                    .find(|p| !s.pools.contains_key(&format!("{space}/{p}")))
                    .ok_or("no pools left")?
            } else {
                asked.parse().map_err(|e| format!("{e}"))?
            };
            let id = format!("{space}/{pool}");
            s.pools.entry(id.clone()).or_insert((pool, BTreeSet::new()));
            json!({ "PoolID": id, "Pool": pool.to_string(), "Data": {} })
        }
        "IpamDriver.ReleasePool" => {
            s.pools.remove(str_of(req, "PoolID"));
            json!({})
        }
        "IpamDriver.RequestAddress" => {
            let (pool, used) = s
                .pools
                .get_mut(str_of(req, "PoolID"))
                .ok_or("unknown pool")?;
            let addr = match str_of(req, "Address") {
                "" => pool
                    .hosts()
                    .find(|a| !used.contains(a))
                    .ok_or("pool is full")?,
                text => text.parse::<Ipv4Addr>().map_err(|e| e.to_string())?,
            };
            if !used.insert(addr) {
                return Err(format!("address {addr} is in use"));
            }
            json!({ "Address": format!("{addr}/{}", pool.prefix_len()), "Data": {} })
        }
        "IpamDriver.ReleaseAddress" => {
            if let (Some((_, used)), Ok(addr)) = (
                s.pools.get_mut(str_of(req, "PoolID")),
                str_of(req, "Address").parse(),
            ) {
                used.remove(&addr);
            }
            json!({})
        }
        other => return Err(format!("unknown method {other}")),
    })
}
