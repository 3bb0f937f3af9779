//! Docker Engine API bodies for `/networks` (`reference/libnetwork-spec.md` §6).
//!
//! Request types accept JSON `null` for every field and ignore unknown fields, as Docker
//! does (docker-py sends `"Driver": null`). Response types serialize in Docker's field order.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub type StringMap = BTreeMap<String, String>;

/// `{"message": "..."}`, the body of every error response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub message: String,
}

/// `POST /networks/create` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkCreateRequest {
    pub name: Option<String>,
    pub check_duplicate: Option<bool>,
    pub driver: Option<String>,
    pub scope: Option<String>,
    pub internal: Option<bool>,
    pub attachable: Option<bool>,
    pub ingress: Option<bool>,
    pub config_only: Option<bool>,
    pub config_from: Option<ConfigReference>,
    #[serde(rename = "IPAM")]
    pub ipam: Option<Ipam>,
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: Option<bool>,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: Option<bool>,
    pub options: Option<StringMap>,
    pub labels: Option<StringMap>,
}

/// `POST /networks/create` answer (201).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkCreateResponse {
    pub id: String,
    pub warning: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigReference {
    pub network: String,
}

/// The `IPAM` object of requests and responses.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    #[serde(default, deserialize_with = "null_as_default")]
    pub driver: String,
    /// Exactly what the creator sent: `null` when it sent none.
    #[serde(default)]
    pub options: Option<StringMap>,
    /// `null` for networks without allocation (host, none, config-only).
    #[serde(default)]
    pub config: Option<Vec<IpamConfig>>,
}

/// One subnet's configuration; empty fields are omitted on output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub subnet: String,
    #[serde(
        rename = "IPRange",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ip_range: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub auxiliary_addresses: StringMap,
}

/// One endpoint in a network's `Containers` map.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointResource {
    pub name: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub mac_address: String,
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// Per-subnet address usage (`Status.IPAM.Subnets`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetStatus {
    #[serde(rename = "IPsInUse")]
    pub ips_in_use: u64,
    #[serde(rename = "DynamicIPsAvailable")]
    pub dynamic_ips_available: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamStatus {
    pub subnets: BTreeMap<String, SubnetStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkStatus {
    #[serde(rename = "IPAM")]
    pub ipam: IpamStatus,
}

/// A network as `GET /networks/{id}` (with `containers`) and `GET /networks` show it, in the
/// field order of current Docker (API ≥ 1.48).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv4")]
    pub enable_ipv4: bool,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigReference,
    pub config_only: bool,
    pub options: StringMap,
    pub labels: StringMap,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<BTreeMap<String, EndpointResource>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NetworkStatus>,
}

/// The same network in the shape Docker 20.10–27 sent (API < 1.48): no `EnableIPv4`,
/// `Containers` before `Options`, and `Containers` present (`{}`) in list items too.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LegacyNetwork {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    pub internal: bool,
    pub attachable: bool,
    pub ingress: bool,
    pub config_from: ConfigReference,
    pub config_only: bool,
    pub containers: BTreeMap<String, EndpointResource>,
    pub options: StringMap,
    pub labels: StringMap,
}

impl From<Network> for LegacyNetwork {
    fn from(n: Network) -> Self {
        let mut ipam = n.ipam;
        // Before v25 a network without allocation showed `[]`, not `null`.
        if ipam.config.is_none() {
            ipam.config = Some(Vec::new());
        }
        LegacyNetwork {
            name: n.name,
            id: n.id,
            created: n.created,
            scope: n.scope,
            driver: n.driver,
            enable_ipv6: n.enable_ipv6,
            ipam,
            internal: n.internal,
            attachable: n.attachable,
            ingress: n.ingress,
            config_from: n.config_from,
            config_only: n.config_only,
            containers: n.containers.unwrap_or_default(),
            options: n.options,
            labels: n.labels,
        }
    }
}

/// `IPAMConfig` inside `EndpointSettings`: the addresses a client asks for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointIpamConfig {
    #[serde(
        rename = "IPv4Address",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    #[serde(
        rename = "IPv6Address",
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv6_address: String,
    #[serde(
        rename = "LinkLocalIPs",
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub link_local_ips: Vec<String>,
}

/// `EndpointSettings`: the input of connect, and the per-network view of a sandbox.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    #[serde(deserialize_with = "null_as_default")]
    pub links: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub aliases: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub mac_address: String,
    #[serde(deserialize_with = "null_as_default")]
    pub driver_opts: StringMap,
    pub gw_priority: i64,
    #[serde(rename = "NetworkID", deserialize_with = "null_as_default")]
    pub network_id: String,
    #[serde(rename = "EndpointID", deserialize_with = "null_as_default")]
    pub endpoint_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub gateway: String,
    #[serde(rename = "IPAddress", deserialize_with = "null_as_default")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway", deserialize_with = "null_as_default")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address", deserialize_with = "null_as_default")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    #[serde(rename = "DNSNames", deserialize_with = "null_as_default")]
    pub dns_names: Vec<String>,
}

/// `POST /networks/{id}/connect` body. `Container` names a sandbox by name or id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkConnectRequest {
    #[serde(deserialize_with = "null_as_default")]
    pub container: String,
    pub endpoint_config: Option<EndpointSettings>,
}

/// `POST /networks/{id}/disconnect` body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkDisconnectRequest {
    #[serde(deserialize_with = "null_as_default")]
    pub container: String,
    #[serde(deserialize_with = "null_as_default")]
    pub force: bool,
}

/// `POST /networks/prune` answer: the *names* of removed networks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkPruneResponse {
    pub networks_deleted: Option<Vec<String>>,
}

/// `GET /version` answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    pub platform: Platform,
    pub components: Vec<Component>,
    pub version: String,
    pub api_version: String,
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: String,
    pub git_commit: String,
    pub go_version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub build_time: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Platform {
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Component {
    pub name: String,
    pub version: String,
    pub details: StringMap,
}

/// Treats JSON `null` like an absent field.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_accepts_nulls_and_unknown_fields() {
        let body = r#"{"Name":"n","Driver":null,"Options":null,"CheckDuplicate":null,
            "IPAM":{"Driver":null,"Config":[{"Subnet":"10.0.0.0/24","IPRange":null}]},"Bogus":1}"#;
        let req: NetworkCreateRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.name.as_deref(), Some("n"));
        assert_eq!(req.driver, None);
        let ipam = req.ipam.unwrap();
        assert_eq!(ipam.driver, "");
        assert_eq!(ipam.config.unwrap()[0].subnet, "10.0.0.0/24");
    }

    #[test]
    fn network_serializes_in_docker_order() {
        let n = Network {
            name: "n".into(),
            ..Default::default()
        };
        let json = serde_json::to_string(&n).unwrap();
        assert!(json.starts_with(
            r#"{"Name":"n","Id":"","Created":"","Scope":"","Driver":"","EnableIPv4":false"#
        ));
        assert!(!json.contains("Containers"));
        let legacy = serde_json::to_string(&LegacyNetwork::from(n)).unwrap();
        assert!(legacy.contains(r#""ConfigOnly":false,"Containers":{},"Options":{}"#));
        assert!(legacy.contains(r#""Config":[]"#));
    }
}
