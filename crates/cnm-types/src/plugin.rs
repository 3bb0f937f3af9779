//! Bodies of Docker's legacy (v1) plugin protocol: `Plugin.Activate`, `NetworkDriver.*` and
//! `IpamDriver.*` (`reference/libnetwork-spec.md` §5).
//!
//! Contract:
//! - Field names are Docker's, including the one trap: network-driver responses carry their
//!   error in **`Err`**, IPAM responses in **`Error`** (both embedded as `Response` in Go).
//! - Requests serialize every field in Go's declaration order; only `IPAMData.Gateway` and
//!   `IPAMData.AuxAddresses` are omitted when empty, as Go's `omitempty` does. Empty option maps
//!   go out as `{}` (Go would send `null` for a nil map; `{}` is accepted by every decoder that
//!   accepts `null`, and by plugins in languages that reject `null`).
//! - Responses accept `null` for the whole body and for every field, and ignore unknown fields:
//!   `{}`, `null` and an empty body all mean "empty success".
//! - Addresses travel as strings (CIDR or plain IP, as the spec says per field); the engine
//!   parses them and reports bad ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::engine::null_as_default;

pub type StringMap = BTreeMap<String, String>;
/// A generic option map (`map[string]interface{}` in Go): typed values, e.g. booleans next
/// to the string map under `com.docker.network.generic`.
pub type Options = Map<String, Value>;

/// `Accept` header of every plugin call (moby `pkg/plugins/transport`).
pub const MEDIA_TYPE: &str = "application/vnd.docker.plugins.v1.2+json";
/// The interface names a plugin lists in `Implements`.
pub const NETWORK_DRIVER: &str = "NetworkDriver";
pub const IPAM_DRIVER: &str = "IpamDriver";

/// `NetworkDriver.StaticRoutes[].RouteType`: route via `NextHop`.
pub const ROUTE_NEXTHOP: i64 = 0;
/// `NetworkDriver.StaticRoutes[].RouteType`: on-link route bound to the interface.
pub const ROUTE_CONNECTED: i64 = 1;
/// `DiscoveryType` of node discovery, the only type forwarded to remote drivers.
pub const DISCOVERY_NODE: i64 = 1;

/// Decodes a response body: empty, `null` and `{}` are all the default value.
pub fn decode_response<T: Default + for<'de> Deserialize<'de>>(
    body: &[u8],
) -> serde_json::Result<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    Ok(serde_json::from_slice::<Option<T>>(body)?.unwrap_or_default())
}

fn null_map<'de, D: Deserializer<'de>>(d: D) -> Result<Options, D::Error> {
    null_as_default(d)
}

// ---------------------------------------------------------------------------------------------
// Plugin.Activate

/// `POST /Plugin.Activate` answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ActivateResponse {
    #[serde(deserialize_with = "null_as_default")]
    pub implements: Vec<String>,
    /// Some plugins report activation failures here.
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub err: String,
}

/// The body of a non-200 answer: `{"Err": "..."}` (the raw body is used when it is not this).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StatusErrorBody {
    #[serde(deserialize_with = "null_as_default")]
    pub err: String,
}

// ---------------------------------------------------------------------------------------------
// NetworkDriver.*

/// The error every network-driver response may carry (`{"Err": "..."}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub err: String,
}

/// `NetworkDriver.GetCapabilities` answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CapabilitiesResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub err: String,
    #[serde(deserialize_with = "null_as_default")]
    pub scope: String,
    #[serde(deserialize_with = "null_as_default")]
    pub connectivity_scope: String,
    #[serde(deserialize_with = "null_as_default")]
    pub gw_alloc_checker: bool,
}

/// `IPAMData`: one pool of a network. Gateway and aux addresses carry the pool's prefix length.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamData {
    #[serde(deserialize_with = "null_as_default")]
    pub address_space: String,
    #[serde(deserialize_with = "null_as_default")]
    pub pool: String,
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway: String,
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub aux_addresses: StringMap,
}

/// `NetworkDriver.GwAllocCheck` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GwAllocCheckRequest {
    #[serde(deserialize_with = "null_map")]
    pub options: Options,
}

/// `NetworkDriver.GwAllocCheck` answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GwAllocCheckResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub err: String,
    #[serde(rename = "SkipIPv4", deserialize_with = "null_as_default")]
    pub skip_ipv4: bool,
    #[serde(rename = "SkipIPv6", deserialize_with = "null_as_default")]
    pub skip_ipv6: bool,
}

/// `NetworkDriver.AllocateNetwork` request (global-scope plugins).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocateNetworkRequest {
    #[serde(rename = "NetworkID", deserialize_with = "null_as_default")]
    pub network_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub options: StringMap,
    #[serde(rename = "IPv4Data", deserialize_with = "null_as_default")]
    pub ipv4_data: Vec<IpamData>,
    #[serde(rename = "IPv6Data", deserialize_with = "null_as_default")]
    pub ipv6_data: Vec<IpamData>,
}

/// `NetworkDriver.AllocateNetwork` answer: options merged into the network's driver options.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AllocateNetworkResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub err: String,
    #[serde(deserialize_with = "null_as_default")]
    pub options: StringMap,
}

/// `NetworkDriver.CreateNetwork` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateNetworkRequest {
    #[serde(rename = "NetworkID", deserialize_with = "null_as_default")]
    pub network_id: String,
    #[serde(deserialize_with = "null_map")]
    pub options: Options,
    #[serde(rename = "IPv4Data", deserialize_with = "null_as_default")]
    pub ipv4_data: Vec<IpamData>,
    #[serde(rename = "IPv6Data", deserialize_with = "null_as_default")]
    pub ipv6_data: Vec<IpamData>,
}

/// `NetworkDriver.DeleteNetwork` and `NetworkDriver.FreeNetwork` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkIdRequest {
    #[serde(rename = "NetworkID", deserialize_with = "null_as_default")]
    pub network_id: String,
}

/// The interface of an endpoint: CIDR addresses and a MAC, empty when unknown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointInterface {
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
    #[serde(rename = "AddressIPv6", deserialize_with = "null_as_default")]
    pub address_ipv6: String,
    #[serde(deserialize_with = "null_as_default")]
    pub mac_address: String,
}

/// `NetworkDriver.CreateEndpoint` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateEndpointRequest {
    #[serde(rename = "NetworkID", deserialize_with = "null_as_default")]
    pub network_id: String,
    #[serde(rename = "EndpointID", deserialize_with = "null_as_default")]
    pub endpoint_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub interface: EndpointInterface,
    #[serde(deserialize_with = "null_map")]
    pub options: Options,
}

/// `NetworkDriver.CreateEndpoint` answer: values for the interface fields that were empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateEndpointResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub err: String,
    pub interface: Option<EndpointInterface>,
}

/// `NetworkDriver.{EndpointOperInfo,DeleteEndpoint,Leave,RevokeExternalConnectivity}` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointIdRequest {
    #[serde(rename = "NetworkID", deserialize_with = "null_as_default")]
    pub network_id: String,
    #[serde(rename = "EndpointID", deserialize_with = "null_as_default")]
    pub endpoint_id: String,
}

/// `NetworkDriver.EndpointOperInfo` answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointOperInfoResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub err: String,
    #[serde(deserialize_with = "null_map")]
    pub value: Options,
}

/// `NetworkDriver.Join` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JoinRequest {
    #[serde(rename = "NetworkID", deserialize_with = "null_as_default")]
    pub network_id: String,
    #[serde(rename = "EndpointID", deserialize_with = "null_as_default")]
    pub endpoint_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub sandbox_key: String,
    #[serde(deserialize_with = "null_map")]
    pub options: Options,
}

/// The interface a plugin hands over in `Join`: `SrcName` is moved into the sandbox and
/// renamed `DstPrefix` + index. `DstName` is ignored by current Docker, and by cnm.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InterfaceName {
    #[serde(deserialize_with = "null_as_default")]
    pub src_name: String,
    #[serde(deserialize_with = "null_as_default")]
    pub dst_prefix: String,
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub dst_name: String,
}

/// One of `Join`'s `StaticRoutes`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StaticRoute {
    #[serde(deserialize_with = "null_as_default")]
    pub destination: String,
    #[serde(deserialize_with = "null_as_default")]
    pub route_type: i64,
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub next_hop: String,
}

/// `NetworkDriver.Join` answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct JoinResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub err: String,
    pub interface_name: Option<InterfaceName>,
    #[serde(deserialize_with = "null_as_default")]
    pub gateway: String,
    #[serde(rename = "GatewayIPv6", deserialize_with = "null_as_default")]
    pub gateway_ipv6: String,
    #[serde(deserialize_with = "null_as_default")]
    pub static_routes: Vec<StaticRoute>,
    #[serde(deserialize_with = "null_as_default")]
    pub disable_gateway_service: bool,
}

/// `NetworkDriver.ProgramExternalConnectivity` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ProgramExternalConnectivityRequest {
    #[serde(rename = "NetworkID", deserialize_with = "null_as_default")]
    pub network_id: String,
    #[serde(rename = "EndpointID", deserialize_with = "null_as_default")]
    pub endpoint_id: String,
    #[serde(deserialize_with = "null_map")]
    pub options: Options,
}

/// `NetworkDriver.DiscoverNew` / `DiscoverDelete` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiscoveryNotification {
    #[serde(deserialize_with = "null_as_default")]
    pub discovery_type: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub discovery_data: Value,
}

/// `DiscoveryData` of node discovery (`DiscoveryType` 1).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NodeDiscoveryData {
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
    #[serde(deserialize_with = "null_as_default")]
    pub bind_address: String,
    #[serde(rename = "Self", deserialize_with = "null_as_default")]
    pub is_self: bool,
}

// ---------------------------------------------------------------------------------------------
// IpamDriver.*

/// The error every IPAM response may carry (`{"Error": "..."}`, not `Err`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub error: String,
}

/// `IpamDriver.GetCapabilities` answer (the call itself is optional: 404 means none).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamCapabilitiesResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub error: String,
    #[serde(rename = "RequiresMACAddress", deserialize_with = "null_as_default")]
    pub requires_mac_address: bool,
    #[serde(deserialize_with = "null_as_default")]
    pub requires_request_replay: bool,
}

/// `IpamDriver.GetDefaultAddressSpaces` answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AddressSpacesResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub error: String,
    #[serde(deserialize_with = "null_as_default")]
    pub local_default_address_space: String,
    #[serde(deserialize_with = "null_as_default")]
    pub global_default_address_space: String,
}

/// `IpamDriver.RequestPool` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestPoolRequest {
    #[serde(deserialize_with = "null_as_default")]
    pub address_space: String,
    #[serde(deserialize_with = "null_as_default")]
    pub pool: String,
    #[serde(deserialize_with = "null_as_default")]
    pub sub_pool: String,
    #[serde(deserialize_with = "null_as_default")]
    pub options: StringMap,
    #[serde(rename = "V6", deserialize_with = "null_as_default")]
    pub v6: bool,
}

/// `IpamDriver.RequestPool` answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestPoolResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub error: String,
    #[serde(rename = "PoolID", deserialize_with = "null_as_default")]
    pub pool_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub pool: String,
    #[serde(deserialize_with = "null_as_default")]
    pub data: StringMap,
}

/// `IpamDriver.ReleasePool` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReleasePoolRequest {
    #[serde(rename = "PoolID", deserialize_with = "null_as_default")]
    pub pool_id: String,
}

/// `IpamDriver.RequestAddress` request: `Address` empty asks for any free address.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestAddressRequest {
    #[serde(rename = "PoolID", deserialize_with = "null_as_default")]
    pub pool_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
    #[serde(deserialize_with = "null_as_default")]
    pub options: StringMap,
}

/// `IpamDriver.RequestAddress` answer: a CIDR, or empty for "no address".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RequestAddressResponse {
    #[serde(
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub error: String,
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
    #[serde(deserialize_with = "null_as_default")]
    pub data: StringMap,
}

/// `IpamDriver.ReleaseAddress` request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReleaseAddressRequest {
    #[serde(rename = "PoolID", deserialize_with = "null_as_default")]
    pub pool_id: String,
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
}

#[cfg(test)]
#[path = "plugin_tests.rs"]
mod tests;
