//! `cnm sandbox create`: flags → `SandboxCreateRequest`, then print the new id.
//!
//! Contract: [`request`] validates the flags (addresses, `-p` specs) with clear errors before
//! anything is sent; `--ip`, `--ip6` and `--alias` apply to the first `--network`, as with
//! `docker run`. On success the 64-hex id is printed, as `docker run -d` prints a container id.

use std::net::IpAddr;
use std::str::FromStr;

use cnm_types::engine::{EndpointIpamConfig, EndpointSettings};
use cnm_types::sandbox::{SandboxCreateRequest, SandboxCreateResponse, SandboxNetwork};

use crate::client::flags::Usage;
use crate::client::format::gojson::encoder_body;
use crate::client::http::ApiClient;
use crate::client::{CliError, Io};

use super::ports::parse_publish;

pub const USAGE: Usage = Usage {
    path: "sandbox create",
    args: "[OPTIONS]",
};

/// `cnm sandbox create` flags.
#[derive(clap::Args, Debug, Default)]
pub struct CreateArgs {
    /// Sandbox name (unique)
    #[arg(long, required = true)]
    pub name: String,
    /// Connect to this network (repeatable)
    #[arg(long = "network", value_name = "NET")]
    pub network: Vec<String>,
    /// IPv4 address on the first network
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address on the first network
    #[arg(long)]
    pub ip6: Option<String>,
    /// Network-scoped alias on the first network (repeatable)
    #[arg(long)]
    pub alias: Vec<String>,
    /// Host name of the sandbox
    #[arg(long)]
    pub hostname: Option<String>,
    /// DNS server for the sandbox's resolv.conf (repeatable)
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// Publish ports: [HOSTIP:]HOSTPORT[-END]:PORT[-END][/PROTO] (repeatable)
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,
    /// Adopt this existing network namespace (e.g. /proc/PID/ns/net) instead of creating one
    #[arg(long, value_name = "PATH")]
    pub netns: Option<String>,
}

fn check_ip(flag: &str, value: &str, want_v4: bool) -> Result<(), CliError> {
    match IpAddr::from_str(value) {
        Ok(ip) if ip.is_ipv4() == want_v4 => Ok(()),
        _ => Err(USAGE.flag_error(
            value,
            flag,
            format!(
                "invalid IPv{} address: {value}",
                if want_v4 { 4 } else { 6 }
            ),
        )),
    }
}

/// Validates the flags and builds the request body.
pub fn request(args: &CreateArgs) -> Result<SandboxCreateRequest, CliError> {
    if args.name.trim().is_empty() {
        return Err(USAGE.flag_error(&args.name, "--name", "the name must not be empty"));
    }
    if let Some(ip) = &args.ip {
        check_ip("--ip", ip, true)?;
    }
    if let Some(ip) = &args.ip6 {
        check_ip("--ip6", ip, false)?;
    }
    for d in &args.dns {
        IpAddr::from_str(d.trim()).map_err(|_| {
            USAGE.flag_error(
                d,
                "--dns",
                format!("IP address is not correctly formatted: {d}"),
            )
        })?;
    }
    let port_bindings = args
        .publish
        .iter()
        .map(|p| parse_publish(p).map_err(|e| USAGE.flag_error(p, "-p, --publish", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let first_network_settings = args.ip.is_some() || args.ip6.is_some() || !args.alias.is_empty();
    if first_network_settings && args.network.is_empty() {
        return Err(CliError::new(
            125,
            "--ip, --ip6 and --alias apply to the first --network, and none was given",
        ));
    }
    let networks = args
        .network
        .iter()
        .enumerate()
        .map(|(i, net)| {
            let endpoint_config = (i == 0 && first_network_settings).then(|| EndpointSettings {
                ipam_config: (args.ip.is_some() || args.ip6.is_some()).then(|| {
                    EndpointIpamConfig {
                        ipv4_address: args.ip.clone().unwrap_or_default(),
                        ipv6_address: args.ip6.clone().unwrap_or_default(),
                        link_local_ips: Vec::new(),
                    }
                }),
                aliases: args.alias.clone(),
                ..Default::default()
            });
            SandboxNetwork {
                network: net.clone(),
                endpoint_config,
            }
        })
        .collect();
    // The daemon runs elsewhere: send an absolute path, without resolving /proc magic links.
    let netns_path = match &args.netns {
        Some(p) => std::path::absolute(p)
            .map_err(|e| CliError::new(125, format!("invalid --netns path {p}: {e}")))?
            .to_string_lossy()
            .into_owned(),
        None => String::new(),
    };
    Ok(SandboxCreateRequest {
        name: args.name.clone(),
        hostname: args.hostname.clone().unwrap_or_default(),
        networks,
        netns_path,
        dns: args.dns.iter().map(|d| d.trim().to_string()).collect(),
        port_bindings,
    })
}

pub fn run(api: &mut ApiClient, io: &mut Io<'_>, args: CreateArgs) -> Result<(), CliError> {
    let body = encoder_body(&request(&args)?).map_err(|e| CliError::new(1, e.to_string()))?;
    let resp = api.call(hyper::Method::POST, "/sandboxes/create", &[], Some(body))?;
    let created: SandboxCreateResponse = serde_json::from_slice(&resp.body)
        .map_err(|e| CliError::new(1, format!("unexpected answer to sandbox create: {e}")))?;
    io.print(&format!("{}\n", created.id));
    Ok(())
}
