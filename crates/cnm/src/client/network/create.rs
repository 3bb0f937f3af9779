//! `cnm network create`: docker's flags, client-side checks and request body.
//!
//! Contract: [`CreateArgs`] takes exactly `docker network create`'s flags; [`request_body`]
//! builds the JSON the docker CLI sends (same fields in the same order: the `IPAM` object is
//! always there with `Options: {}`, `EnableIPv4`/`EnableIPv6` only when given) after the same
//! client-side validation with the same messages ([`ipam_config`]). On success the new
//! network's id is printed.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde_json::{Value, json};

use crate::client::flags::{self, Usage};
use crate::client::format::gojson::encoder_body;
use crate::client::http::{ApiClient, version_less};
use crate::client::{CliError, Io};

pub const USAGE: Usage = Usage {
    path: "network create",
    args: "[OPTIONS] NETWORK",
};

/// `docker network create` flags.
#[derive(clap::Args, Debug, Default)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opt: Vec<String>,
    /// Set metadata on a network
    #[arg(long, value_name = "list")]
    pub label: Vec<String>,
    /// Restrict external access to the network
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool")]
    pub internal: Option<String>,
    /// Enable or disable IPv4 address assignment
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool")]
    pub ipv4: Option<String>,
    /// Enable or disable IPv6 address assignment
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool")]
    pub ipv6: Option<String>,
    /// Enable manual container attachment
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool")]
    pub attachable: Option<String>,
    /// Create swarm routing-mesh network
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool")]
    pub ingress: Option<String>,
    /// Control the network's scope
    #[arg(long, default_value = "")]
    pub scope: String,
    /// Create a configuration only network
    #[arg(long = "config-only", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "bool")]
    pub config_only: Option<String>,
    /// The network from which to copy the configuration
    #[arg(long = "config-from", default_value = "")]
    pub config_from: String,
    /// IP Address Management Driver
    #[arg(long = "ipam-driver", default_value = "default")]
    pub ipam_driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long, value_name = "strings")]
    pub subnet: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range", value_name = "strings")]
    pub ip_range: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long, value_name = "strings")]
    pub gateway: Vec<String>,
    /// Auxiliary IPv4 or IPv6 addresses used by Network driver
    #[arg(long = "aux-address", value_name = "map")]
    pub aux_address: Vec<String>,
    /// Set IPAM driver specific options
    #[arg(long = "ipam-opt", value_name = "map")]
    pub ipam_opt: Vec<String>,
    /// NETWORK
    #[arg(value_name = "NETWORK")]
    pub names: Vec<String>,
}

/// One `IPAM.Config` entry as the CLI assembles it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpamEntry {
    pub subnet: String,
    pub ip_range: String,
    pub gateway: String,
    pub aux: BTreeMap<String, String>,
}

/// Go's `net.ParseCIDR` failure text.
fn parse_cidr(s: &str) -> Result<IpNet, String> {
    IpNet::from_str(s).map_err(|_| format!("invalid CIDR address: {s}"))
}

/// docker's `subnetMatches`: does `subnet` contain the address (or CIDR's address) `data`?
fn subnet_matches(subnet: &str, data: &str) -> Result<bool, String> {
    let net = parse_cidr(subnet).map_err(|e| format!("invalid subnet: {e}"))?;
    let ip = if data.contains('/') {
        Some(parse_cidr(data)?.addr())
    } else {
        IpAddr::from_str(data).ok()
    };
    // Go treats an IPv4-mapped IPv6 address as IPv4.
    let ip = ip.map(|ip| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    });
    Ok(ip.is_some_and(|ip| net.contains(&ip)))
}

/// docker's `createIPAMConfig`: groups ranges, gateways and aux addresses by subnet.
pub fn ipam_config(
    subnets: &[String],
    ranges: &[String],
    gateways: &[String],
    aux: &BTreeMap<String, String>,
) -> Result<Vec<IpamEntry>, String> {
    if subnets.len() < ranges.len() || subnets.len() < gateways.len() {
        return Err("every ip-range or gateway must have a corresponding subnet".into());
    }
    let mut entries: Vec<IpamEntry> = Vec::new();
    for s in subnets {
        for existing in &entries {
            if subnet_matches(s, &existing.subnet)? || subnet_matches(&existing.subnet, s)? {
                return Err("multiple overlapping subnet configuration is not supported".into());
            }
        }
        entries.push(IpamEntry {
            subnet: s.clone(),
            ..Default::default()
        });
    }
    let index = |entries: &[IpamEntry], s: &str| entries.iter().position(|e| e.subnet == s);
    for r in ranges {
        let mut matched = false;
        for s in subnets {
            parse_cidr(r)?;
            if !subnet_matches(s, r)? {
                continue;
            }
            let i = index(&entries, s).unwrap_or_default();
            let e = &mut entries[i];
            if !e.ip_range.is_empty() {
                return Err(format!(
                    "cannot configure multiple ranges ({r}, {}) on the same subnet ({s})",
                    e.ip_range
                ));
            }
            e.ip_range = r.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for range {r}"));
        }
    }
    for g in gateways {
        let mut matched = false;
        for s in subnets {
            if !subnet_matches(s, g)? {
                continue;
            }
            let i = index(&entries, s).unwrap_or_default();
            let e = &mut entries[i];
            if !e.gateway.is_empty() {
                return Err(format!(
                    "cannot configure multiple gateways ({g}, {}) for the same subnet ({s})",
                    e.gateway
                ));
            }
            e.gateway = g.clone();
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for gateway {g}"));
        }
    }
    for (key, address) in aux {
        let mut matched = false;
        for s in subnets {
            if !subnet_matches(s, address)? {
                continue;
            }
            let i = index(&entries, s).unwrap_or_default();
            entries[i].aux.insert(key.clone(), address.clone());
            matched = true;
        }
        if !matched {
            return Err(format!("no matching subnet for aux-address {address}"));
        }
    }
    Ok(entries)
}

/// Validates the flags and builds the `POST /networks/create` body for `api_version`.
pub fn request_body(args: &CreateArgs, api_version: &str) -> Result<Value, CliError> {
    for l in &args.label {
        flags::validate_label(l).map_err(|e| USAGE.flag_error(l, "--label", e))?;
    }
    let flag = |name: &str, v: &Option<String>| flags::optional_bool(&USAGE, name, v.as_deref());
    let internal = flag("--internal", &args.internal)?.unwrap_or(false);
    let ipv4 = flag("--ipv4", &args.ipv4)?;
    let ipv6 = flag("--ipv6", &args.ipv6)?;
    let attachable = flag("--attachable", &args.attachable)?.unwrap_or(false);
    let ingress = flag("--ingress", &args.ingress)?.unwrap_or(false);
    let config_only = flag("--config-only", &args.config_only)?.unwrap_or(false);
    let subnets = flags::string_slice(&USAGE, "--subnet", &args.subnet)?;
    let ranges = flags::string_slice(&USAGE, "--ip-range", &args.ip_range)?;
    let gateways = flags::string_slice(&USAGE, "--gateway", &args.gateway)?;
    USAGE.exact_args(1, args.names.len())?;
    let aux = flags::map_opts(&args.aux_address);
    let entries =
        ipam_config(&subnets, &ranges, &gateways, &aux).map_err(|e| CliError::new(1, e))?;

    let config: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            let mut c = serde_json::Map::new();
            for (k, v) in [
                ("Subnet", e.subnet),
                ("IPRange", e.ip_range),
                ("Gateway", e.gateway),
            ] {
                if !v.is_empty() {
                    c.insert(k.into(), Value::String(v));
                }
            }
            if !e.aux.is_empty() {
                c.insert("AuxiliaryAddresses".into(), json!(e.aux));
            }
            Value::Object(c)
        })
        .collect();
    let labels: BTreeMap<String, String> = args
        .label
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let mut body = serde_json::Map::new();
    body.insert("Driver".into(), json!(args.driver));
    body.insert("Scope".into(), json!(args.scope));
    if let Some(v) = ipv4 {
        body.insert("EnableIPv4".into(), json!(v));
    }
    if let Some(v) = ipv6 {
        body.insert("EnableIPv6".into(), json!(v));
    }
    body.insert(
        "IPAM".into(),
        json!({"Driver": args.ipam_driver, "Options": flags::map_opts(&args.ipam_opt), "Config": config}),
    );
    body.insert("Internal".into(), json!(internal));
    body.insert("Attachable".into(), json!(attachable));
    body.insert("Ingress".into(), json!(ingress));
    body.insert("ConfigOnly".into(), json!(config_only));
    let config_from = (!args.config_from.is_empty()).then(|| json!({"Network": args.config_from}));
    body.insert("ConfigFrom".into(), config_from.unwrap_or(Value::Null));
    body.insert("Options".into(), json!(flags::map_opts(&args.opt)));
    body.insert("Labels".into(), json!(labels));
    body.insert("Name".into(), json!(args.names[0]));
    // Daemons before API 1.44 only reject duplicate names when asked to.
    if version_less(api_version, "1.44") {
        body.insert("CheckDuplicate".into(), json!(true));
    }
    Ok(Value::Object(body))
}

pub fn run(api: &mut ApiClient, io: &mut Io<'_>, args: CreateArgs) -> Result<(), CliError> {
    // Validate before talking to the daemon (the version only matters for the body).
    request_body(&args, "1.44")?;
    let version = api.version()?;
    let body = request_body(&args, &version)?;
    let bytes = encoder_body(&body).map_err(|e| CliError::new(1, e.to_string()))?;
    let resp = api.call(hyper::Method::POST, "/networks/create", &[], Some(bytes))?;
    let created: serde_json::Value =
        serde_json::from_slice(&resp.body).map_err(|e| CliError::new(1, e.to_string()))?;
    let id = created
        .get("Id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    io.print(&format!("{id}\n"));
    Ok(())
}
