//! cnm's own `/sandboxes` API: create, list, inspect and delete network namespaces that
//! cnm manages (or adopts by path). The shapes borrow Docker's container `NetworkSettings`
//! so tools that read `docker inspect` output find the same fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::{EndpointSettings, null_as_default};

/// One network to join at creation time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SandboxNetwork {
    /// Network name, id or unique id prefix.
    #[serde(deserialize_with = "null_as_default")]
    pub network: String,
    /// The same settings `POST /networks/{id}/connect` takes.
    pub endpoint_config: Option<EndpointSettings>,
}

/// One published port: `[HOSTIP:]HOSTPORT[-END]:PORT[-END][/PROTO]`.
///
/// Ranges are inclusive; a single port has `*_end == *_port` (or 0); host port 0 means "pick
/// a free port"; a host range with a single container port means "any one port of that range".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    #[serde(deserialize_with = "null_as_default")]
    pub proto: String,
    pub container_port: u16,
    pub container_port_end: u16,
    #[serde(rename = "HostIP", deserialize_with = "null_as_default")]
    pub host_ip: String,
    pub host_port: u16,
    pub host_port_end: u16,
}

/// `POST /sandboxes/create` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct SandboxCreateRequest {
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub hostname: String,
    #[serde(deserialize_with = "null_as_default")]
    pub networks: Vec<SandboxNetwork>,
    /// Adopt this existing namespace (`/proc/PID/ns/net`, or a bind mount) instead of
    /// creating one. cnm never deletes an adopted namespace.
    #[serde(deserialize_with = "null_as_default")]
    pub netns_path: String,
    #[serde(deserialize_with = "null_as_default")]
    pub dns: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub port_bindings: Vec<PortBinding>,
}

/// `POST /sandboxes/create` answer (201).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SandboxCreateResponse {
    pub id: String,
}

/// `NetworkSettings` of a sandbox, as in `docker inspect`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkSettings {
    pub sandbox_key: String,
    /// Published ports as `docker inspect` shows them: `"80/tcp": [{"HostIp": "0.0.0.0",
    /// "HostPort": "8080"}]`, one key per container port.
    pub ports: BTreeMap<String, Vec<PortMapping>>,
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// One host side of a published port.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortMapping {
    pub host_ip: String,
    pub host_port: String,
}

impl PortBinding {
    /// The `docker inspect` entries of this binding: one per container port of its range.
    pub fn mappings(&self) -> Vec<(String, PortMapping)> {
        let end = self.container_port_end.max(self.container_port);
        (self.container_port..=end)
            .map(|port| {
                let offset = port - self.container_port;
                let host_port = if self.host_port == 0 {
                    0
                } else {
                    self.host_port + offset
                };
                let host_port = if host_port == 0 {
                    String::new()
                } else {
                    host_port.to_string()
                };
                (
                    format!("{port}/{}", self.proto),
                    PortMapping {
                        host_ip: self.host_ip.clone(),
                        host_port,
                    },
                )
            })
            .collect()
    }
}

/// `GET /sandboxes/{id}` answer, and the items of `GET /sandboxes`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Sandbox {
    pub id: String,
    pub name: String,
    pub created: String,
    pub hostname: String,
    /// True when cnm adopted an existing namespace rather than creating it.
    pub external: bool,
    pub resolv_conf_path: String,
    pub hosts_path: String,
    pub network_settings: NetworkSettings,
}
