//! The daemon's flags (DESIGN §3.1; dockerd's names) and the configuration built from them.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{ArgAction, Args};
use cnm_core::controller::{Config, DefaultBridge, Drivers};
use cnm_core::driver::bridge::BridgeSettings;
use cnm_core::driver::sublink::{Flavor, ParentUsers, SublinkSettings};
use cnm_core::driver::{BridgeDriver, Driver, SublinkDriver};
use cnm_core::ipam::PredefinedPools;
use cnm_core::ipam::pools::PoolBase;
use cnm_core::plugins::PluginSettings;
use ipnet::IpNet;

#[derive(Args, Debug, Clone)]
pub struct DaemonArgs {
    /// Socket to serve the API on.
    #[arg(short = 'H', long = "host", default_value = "unix:///run/cnm/cnm.sock")]
    pub host: String,
    /// Persistent state (the store, sandboxes' files).
    #[arg(long, default_value = "/var/lib/cnm")]
    pub data_root: PathBuf,
    /// Runtime state (namespace files).
    #[arg(long, default_value = "/run/cnm")]
    pub exec_root: PathBuf,
    /// Address and subnet of the default bridge, e.g. 192.168.1.1/24.
    #[arg(long)]
    pub bip: Option<String>,
    /// Sub-range of the default bridge's subnet to allocate from.
    #[arg(long)]
    pub fixed_cidr: Option<String>,
    /// `base=CIDR,size=N`: replaces the predefined local pools (repeatable).
    #[arg(long = "default-address-pool")]
    pub default_address_pools: Vec<String>,
    /// MTU of the default bridge.
    #[arg(long, default_value_t = 1500)]
    pub mtu: u32,
    /// Inter-container traffic on the default bridge.
    #[arg(long, action = ArgAction::Set, num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    pub icc: bool,
    /// Masquerade traffic leaving the default bridge.
    #[arg(long = "ip-masq", action = ArgAction::Set, num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    pub ip_masq: bool,
    /// Turn on IP forwarding when a network needs it.
    #[arg(long = "ip-forward", action = ArgAction::Set, num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    pub ip_forward: bool,
    /// Serve published ports on loopback with an in-daemon proxy where NAT cannot.
    #[arg(long = "userland-proxy", action = ArgAction::Set, num_args = 0..=1, default_value = "true", default_missing_value = "true")]
    pub userland_proxy: bool,
    /// Upstream DNS servers for sandboxes (repeatable; default: the host's resolv.conf).
    #[arg(long)]
    pub dns: Vec<String>,
    /// Directory of plugin sockets.
    #[arg(long, default_value = "/run/docker/plugins")]
    pub plugin_dir: PathBuf,
    /// Directory of plugin .spec/.json files (then /usr/lib/docker/plugins, as dockerd).
    #[arg(long, default_value = "/etc/docker/plugins")]
    pub plugin_spec_dir: PathBuf,
    /// Seconds a plugin may take to answer one call (dockerd's v1 plugins have no bound).
    #[arg(long, default_value_t = 30.0, hide = true)]
    pub plugin_timeout: f64,
    /// debug, info, warn or error.
    #[arg(long, default_value = "info")]
    pub log_level: String,
    /// Seconds between checks of cnm's nftables table for outside changes (0: never).
    #[arg(long, default_value_t = 2, hide = true)]
    pub firewall_check_interval: u64,
    /// The host's resolv.conf (source of nameservers when --dns is not given).
    #[arg(long, default_value = "/etc/resolv.conf", hide = true)]
    pub host_resolv_conf: PathBuf,
    /// Seconds a client has to send a request's line and headers (also the longest a
    /// kept-alive connection may wait for its next request).
    #[arg(long, default_value_t = 10.0, hide = true, value_parser = parse_seconds)]
    pub api_header_timeout: f64,
    /// Seconds a client has to send a request's body, counted from its headers.
    #[arg(long, default_value_t = 60.0, hide = true, value_parser = parse_seconds)]
    pub api_body_timeout: f64,
    /// Seconds a connection may sit with no request in progress and no byte moving (e.g. a
    /// client that does not read its response) before it is closed.
    #[arg(long, default_value_t = 60.0, hide = true, value_parser = parse_seconds)]
    pub api_idle_timeout: f64,
    /// API connections served at once; more wait to be accepted.
    #[arg(long, default_value_t = 256, hide = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub api_max_connections: u32,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!("{text:?} is not a number of seconds in (0, 86400]")),
    }
}

impl DaemonArgs {
    /// The API server's limits on slow clients.
    pub fn api_limits(&self) -> crate::daemon::server::Limits {
        crate::daemon::server::Limits {
            header_read: std::time::Duration::from_secs_f64(self.api_header_timeout),
            body_read: std::time::Duration::from_secs_f64(self.api_body_timeout),
            idle: std::time::Duration::from_secs_f64(self.api_idle_timeout),
            max_connections: self.api_max_connections as usize,
        }
    }
}

fn parse_cidr(flag: &str, text: &str) -> anyhow::Result<IpNet> {
    text.parse::<IpNet>()
        .with_context(|| format!("parse {flag} failed: invalid CIDR address: {text}"))
}

/// A stable host id for the IPv6 ULA pool, kept in the data root.
fn host_id(data_root: &std::path::Path) -> anyhow::Result<String> {
    let path = data_root.join("engine-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        return Ok(id.trim().to_string());
    }
    std::fs::create_dir_all(data_root)
        .with_context(|| format!("create {}", data_root.display()))?;
    let id = cnm_types::Id::random().to_string();
    std::fs::write(&path, &id).with_context(|| format!("write {}", path.display()))?;
    Ok(id)
}

impl DaemonArgs {
    pub fn controller_config(&self) -> anyhow::Result<Config> {
        let bip = self
            .bip
            .as_deref()
            .map(|b| parse_cidr("bip", b))
            .transpose()?;
        let fixed_cidr = self
            .fixed_cidr
            .as_deref()
            .map(|f| parse_cidr("fixed-cidr", f))
            .transpose()?;
        if let (Some(bip), Some(fixed)) = (bip, fixed_cidr)
            && !bip.trunc().contains(&fixed)
        {
            bail!(
                "fixed-cidr {fixed} is outside the bip subnet {}",
                bip.trunc()
            );
        }
        let mut bases = Vec::new();
        for entry in &self.default_address_pools {
            bases.push(
                entry
                    .parse::<PoolBase>()
                    .map_err(|e| anyhow::anyhow!("invalid --default-address-pool {entry}: {e}"))?,
            );
        }
        let id = host_id(&self.data_root)?;
        let pools = if bases.is_empty() {
            PredefinedPools::docker_defaults(&id)
        } else {
            PredefinedPools::with_default_address_pools(&bases, &id)
                .map_err(|e| anyhow::anyhow!("{e}"))?
        };
        let dns = self
            .dns
            .iter()
            .map(|d| {
                d.parse::<IpAddr>()
                    .with_context(|| format!("invalid --dns {d}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Config {
            data_root: self.data_root.clone(),
            exec_root: self.exec_root.clone(),
            default_bridge: DefaultBridge {
                name: "cnm0".to_string(),
                bip,
                fixed_cidr,
                mtu: self.mtu,
                icc: self.icc,
                ip_masq: self.ip_masq,
            },
            pools,
            dns,
            host_resolv_conf: self.host_resolv_conf.clone(),
            plugins: self.plugin_settings()?,
        })
    }

    /// Where plugins are found: `--plugin-dir`, then `--plugin-spec-dir` and, as dockerd,
    /// `/usr/lib/docker/plugins` (unless the spec dir was moved elsewhere).
    fn plugin_settings(&self) -> anyhow::Result<PluginSettings> {
        if !(self.plugin_timeout.is_finite() && self.plugin_timeout > 0.0) {
            bail!(
                "invalid --plugin-timeout {}: expected a positive number of seconds",
                self.plugin_timeout
            );
        }
        let mut spec_dirs = vec![self.plugin_spec_dir.clone()];
        if self.plugin_spec_dir == std::path::Path::new("/etc/docker/plugins") {
            spec_dirs.push(PathBuf::from("/usr/lib/docker/plugins"));
        }
        let call_timeout = std::time::Duration::from_secs_f64(self.plugin_timeout);
        let defaults = PluginSettings::default();
        Ok(PluginSettings {
            socket_dir: self.plugin_dir.clone(),
            spec_dirs,
            connect_retry: defaults.connect_retry.min(call_timeout),
            call_timeout,
            ..defaults
        })
    }
}

pub fn build_drivers(args: &DaemonArgs) -> anyhow::Result<Drivers> {
    let host =
        cnm_core::osl::Netlink::current().context("opening netlink for the bridge driver")?;
    let bridge = BridgeDriver::new(
        BridgeSettings {
            ip_forward: args.ip_forward,
        },
        host.clone(),
    );
    // One registry of parent links for both drivers, so neither deletes a parent the other uses.
    let parents = ParentUsers::default();
    let sublink = SublinkSettings {
        netns_dir: args.exec_root.join("netns"),
    };
    let sublink_driver =
        |flavor| SublinkDriver::new(flavor, sublink.clone(), host.clone(), parents.clone());
    Ok(Drivers {
        bridge: Driver::Bridge(Box::new(bridge)),
        host: Driver::Host,
        null: Driver::Null,
        macvlan: Driver::Macvlan(sublink_driver(Flavor::Macvlan)),
        ipvlan: Driver::Ipvlan(sublink_driver(Flavor::Ipvlan)),
        remote: Default::default(),
    })
}
