//! `cnm network connect` and `cnm network disconnect`, with docker's flags and bodies.
//!
//! Contract: [`connect_body`] is the JSON the docker CLI sends (`EndpointConfig` always present
//! with an `IPAMConfig` object); flag values are checked with docker's messages. Both commands
//! print nothing on success. `CONTAINER` may name a cnm sandbox.

use serde_json::{Value, json};

use crate::client::flags::{self, Usage};
use crate::client::format::gojson::encoder_body;
use crate::client::http::{ApiClient, path_segment};
use crate::client::{CliError, Io};

use super::inspect::trim_id;

pub const CONNECT_USAGE: Usage = Usage {
    path: "network connect",
    args: "[OPTIONS] NETWORK CONTAINER",
};
pub const DISCONNECT_USAGE: Usage = Usage {
    path: "network disconnect",
    args: "[OPTIONS] NETWORK CONTAINER",
};

/// `docker network connect` flags.
#[derive(clap::Args, Debug, Default)]
pub struct ConnectArgs {
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long, default_value = "")]
    pub ip: String,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long, default_value = "")]
    pub ip6: String,
    /// Add link to another container
    #[arg(long, value_name = "list")]
    pub link: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long, value_name = "strings")]
    pub alias: Vec<String>,
    /// Add a link-local address for the container
    #[arg(long = "link-local-ip", value_name = "strings")]
    pub link_local_ip: Vec<String>,
    /// driver options for the network
    #[arg(long = "driver-opt", value_name = "strings")]
    pub driver_opt: Vec<String>,
    /// Highest gw-priority provides the default gateway. Accepts positive and negative values.
    #[arg(long = "gw-priority", value_name = "int", allow_hyphen_values = true)]
    pub gw_priority: Option<String>,
    #[arg(value_name = "NETWORK CONTAINER")]
    pub args: Vec<String>,
}

/// `docker network disconnect` flags.
#[derive(clap::Args, Debug, Default)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    #[arg(value_name = "NETWORK CONTAINER")]
    pub args: Vec<String>,
}

/// docker's `convertDriverOpt`.
fn driver_opts(values: &[String]) -> Result<serde_json::Map<String, Value>, String> {
    let mut opts = serde_json::Map::new();
    let mut sorted = std::collections::BTreeMap::new();
    for v in values {
        let (k, val) = v
            .split_once('=')
            .map_or((v.trim(), None), |(k, val)| (k.trim(), Some(val)));
        match val {
            Some(val) if !k.is_empty() => {
                sorted.insert(k.to_string(), val.trim().to_string());
            }
            _ => return Err("invalid key/value pair format in driver options".into()),
        }
    }
    for (k, v) in sorted {
        opts.insert(k, Value::String(v));
    }
    Ok(opts)
}

/// Validates the flags and builds the `POST /networks/{id}/connect` body.
pub fn connect_body(args: &ConnectArgs) -> Result<(String, Value), CliError> {
    for l in &args.link {
        flags::validate_link(l).map_err(|e| CONNECT_USAGE.flag_error(l, "--link", e))?;
    }
    let gw_priority = match &args.gw_priority {
        Some(v) => {
            flags::parse_go_int(v).map_err(|e| CONNECT_USAGE.flag_error(v, "--gw-priority", e))?
        }
        None => 0,
    };
    let aliases = flags::string_slice(&CONNECT_USAGE, "--alias", &args.alias)?;
    let link_local = flags::string_slice(&CONNECT_USAGE, "--link-local-ip", &args.link_local_ip)?;
    let opts = flags::string_slice(&CONNECT_USAGE, "--driver-opt", &args.driver_opt)?;
    CONNECT_USAGE.exact_args(2, args.args.len())?;
    let driver_opts = driver_opts(&opts).map_err(|e| CliError::new(1, e))?;
    let network = trim_id("network", &args.args[0]).map_err(|e| CliError::new(1, e))?;
    let container = trim_id("container", &args.args[1]).map_err(|e| CliError::new(1, e))?;

    let mut ipam = serde_json::Map::new();
    if !args.ip.is_empty() {
        ipam.insert("IPv4Address".into(), json!(args.ip));
    }
    if !args.ip6.is_empty() {
        ipam.insert("IPv6Address".into(), json!(args.ip6));
    }
    if !link_local.is_empty() {
        ipam.insert("LinkLocalIPs".into(), json!(link_local));
    }
    let links = if args.link.is_empty() {
        Value::Null
    } else {
        json!(args.link)
    };
    let body = json!({
        "Container": container,
        "EndpointConfig": {
            "IPAMConfig": Value::Object(ipam),
            "Links": links,
            "Aliases": aliases,
            "MacAddress": "",
            "DriverOpts": Value::Object(driver_opts),
            "GwPriority": gw_priority,
            "NetworkID": "",
            "EndpointID": "",
            "Gateway": "",
            "IPAddress": "",
            "IPPrefixLen": 0,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DNSNames": Value::Null,
        }
    });
    Ok((network, body))
}

fn post(api: &mut ApiClient, network: &str, action: &str, body: &Value) -> Result<(), CliError> {
    let bytes = encoder_body(body).map_err(|e| CliError::new(1, e.to_string()))?;
    api.call(
        hyper::Method::POST,
        &format!("/networks/{}/{action}", path_segment(network)),
        &[],
        Some(bytes),
    )?;
    Ok(())
}

pub fn run_connect(
    api: &mut ApiClient,
    _io: &mut Io<'_>,
    args: ConnectArgs,
) -> Result<(), CliError> {
    let (network, body) = connect_body(&args)?;
    post(api, &network, "connect", &body)
}

pub fn run_disconnect(
    api: &mut ApiClient,
    _io: &mut Io<'_>,
    args: DisconnectArgs,
) -> Result<(), CliError> {
    DISCONNECT_USAGE.exact_args(2, args.args.len())?;
    let network = trim_id("network", &args.args[0]).map_err(|e| CliError::new(1, e))?;
    let container = trim_id("container", &args.args[1]).map_err(|e| CliError::new(1, e))?;
    post(
        api,
        &network,
        "disconnect",
        &json!({"Container": container, "Force": args.force}),
    )
}
