//! Remote plugins over Docker's v1 plugin protocol (spec §5.1): discovery, activation, and
//! the HTTP/JSON client that remote network drivers and remote IPAM drivers use.
//!
//! Contract:
//! - `Plugins::get(name, interface)` finds the plugin by name (`discovery`), activates it once
//!   (`POST /Plugin.Activate`, retried while the socket refuses connections, bounded), and
//!   checks that it implements `interface` (`NetworkDriver` or `IpamDriver`). An activated
//!   plugin is remembered, so one implementing both interfaces is activated once.
//! - Bounds (all in `PluginSettings`): discovery waits at most `discovery_timeout` for a
//!   missing plugin (Docker: ~15 s); connecting is retried for `connect_retry`; each exchange
//!   is cut after `call_timeout` (Docker v1: no timeout at all).
//! - Errors are typed (`PluginError`) with Docker's wording where Docker has one, and a kind:
//!   unknown plugin 404; unreachable or silent plugin 503; anything the plugin got wrong 500.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cnm_types::plugin::ActivateResponse;

use crate::error::{Error, ErrorKind, HasKind};

pub mod client;
pub mod discovery;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod driver_tests;
#[cfg(test)]
mod test_server;

pub use client::PluginClient;
pub use discovery::Address;

/// Where plugins are found and how long cnm waits for them.
#[derive(Clone, Debug)]
pub struct PluginSettings {
    /// `--plugin-dir`: sockets `N.sock` and `N/N.sock`.
    pub socket_dir: PathBuf,
    /// `--plugin-spec-dir` (then `/usr/lib/docker/plugins`): `.spec` and `.json` files.
    pub spec_dirs: Vec<PathBuf>,
    pub discovery_timeout: Duration,
    pub connect_retry: Duration,
    pub call_timeout: Duration,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            socket_dir: PathBuf::from("/run/docker/plugins"),
            spec_dirs: vec![
                PathBuf::from("/etc/docker/plugins"),
                PathBuf::from("/usr/lib/docker/plugins"),
            ],
            discovery_timeout: Duration::from_millis(1500),
            connect_retry: Duration::from_secs(3),
            call_timeout: Duration::from_secs(30),
        }
    }
}

/// Errors of the plugin layer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// Docker's wording for an unknown driver name.
    #[error("plugin \"{0}\" not found")]
    NotFound(String),
    #[error("plugin \"{name}\": invalid spec file {}: {message}", path.display())]
    BadSpec {
        name: String,
        path: PathBuf,
        message: String,
    },
    #[error(
        "plugin \"{name}\" is served over TLS ({url}), which cnm does not support: serve it on a unix socket or a plain tcp:// address"
    )]
    TlsUnsupported { name: String, url: String },
    /// Docker's `ErrNotImplements`, with what the plugin does implement.
    #[error(
        "Plugin does not implement the requested driver: plugin \"{name}\" implements {implements:?}, not {wanted}"
    )]
    NotImplements {
        name: String,
        wanted: String,
        implements: Vec<String>,
    },
    #[error("{method}: plugin \"{name}\" is not reachable at {address}: {reason}")]
    Unreachable {
        method: String,
        name: String,
        address: String,
        reason: String,
    },
    #[error("{method}: plugin \"{name}\" did not answer within {timeout:?}")]
    Timeout {
        method: String,
        name: String,
        timeout: Duration,
    },
    /// HTTP 404: the plugin does not implement this method.
    #[error("{method}: not implemented by the plugin (404)")]
    NotImplemented { method: String },
    /// Any other non-200 status, with the `Err` of the body or the raw body (Docker's form).
    #[error("{method}: {message}")]
    Status {
        method: String,
        status: u16,
        message: String,
    },
    /// 200 with a body that is not what the protocol says (bad JSON, wrong types, bad values).
    #[error("{method}: invalid answer from plugin \"{name}\": {reason}")]
    BadResponse {
        method: String,
        name: String,
        reason: String,
    },
    /// The plugin's own error (`Err` or `Error` of a 200 answer), as Docker words it.
    #[error("remote: {0}")]
    Remote(String),
}

impl HasKind for PluginError {
    fn kind(&self) -> ErrorKind {
        match self {
            PluginError::NotFound(_) => ErrorKind::NotFound,
            PluginError::Unreachable { .. } | PluginError::Timeout { .. } => ErrorKind::Unavailable,
            PluginError::NotImplemented { .. } => ErrorKind::NotImplemented,
            PluginError::BadSpec { .. }
            | PluginError::TlsUnsupported { .. }
            | PluginError::NotImplements { .. }
            | PluginError::Status { .. }
            | PluginError::BadResponse { .. }
            | PluginError::Remote(_) => ErrorKind::Internal,
        }
    }
}

impl From<PluginError> for Error {
    fn from(e: PluginError) -> Self {
        Error::new(e.kind(), e.to_string())
    }
}

/// An activated plugin.
#[derive(Debug)]
pub struct Plugin {
    pub client: PluginClient,
    pub implements: Vec<String>,
}

/// Activated plugins by name.
pub struct Plugins {
    settings: PluginSettings,
    activated: Mutex<HashMap<String, Arc<Plugin>>>,
}

impl Plugins {
    pub fn new(settings: PluginSettings) -> Self {
        Plugins {
            settings,
            activated: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &PluginSettings {
        &self.settings
    }

    /// The plugin `name`, activated, checked to implement `interface`.
    pub async fn get(&self, name: &str, interface: &str) -> Result<Arc<Plugin>, PluginError> {
        let known = self
            .activated
            .lock()
            .expect("plugin map lock")
            .get(name)
            .cloned();
        let plugin = match known {
            Some(plugin) => plugin,
            None => {
                let plugin = Arc::new(self.activate(name).await?);
                self.activated
                    .lock()
                    .expect("plugin map lock")
                    .entry(name.to_string())
                    .or_insert(plugin)
                    .clone()
            }
        };
        if !plugin.implements.iter().any(|i| i == interface) {
            return Err(PluginError::NotImplements {
                name: name.to_string(),
                wanted: interface.to_string(),
                implements: plugin.implements.clone(),
            });
        }
        Ok(plugin)
    }

    async fn activate(&self, name: &str) -> Result<Plugin, PluginError> {
        let s = &self.settings;
        let address =
            discovery::discover(name, &s.socket_dir, &s.spec_dirs, s.discovery_timeout).await?;
        let client = PluginClient::new(name, address, s.call_timeout, s.connect_retry);
        let answer: ActivateResponse = client.call::<(), _>("Plugin.Activate", None).await?;
        if !answer.err.is_empty() {
            return Err(PluginError::Remote(answer.err));
        }
        tracing::info!(plugin = name, address = %client.address(), implements = ?answer.implements, "plugin activated");
        Ok(Plugin {
            client,
            implements: answer.implements,
        })
    }
}
