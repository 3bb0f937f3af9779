//! Docker's well-known option keys (`com.docker.network.*`, spec §1.13 and §3.3.1).

pub const GENERIC: &str = "com.docker.network.generic";
pub const ENABLE_IPV4: &str = "com.docker.network.enable_ipv4";
pub const ENABLE_IPV6: &str = "com.docker.network.enable_ipv6";
pub const MTU: &str = "com.docker.network.driver.mtu";
pub const CONTAINER_IFACE_PREFIX: &str = "com.docker.network.container_iface_prefix";
pub const HOST_IPV4: &str = "com.docker.network.host_ipv4";
pub const HOST_IPV6: &str = "com.docker.network.host_ipv6";

pub const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
pub const BRIDGE_ENABLE_IP_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
pub const BRIDGE_ENABLE_ICC: &str = "com.docker.network.bridge.enable_icc";
pub const BRIDGE_HOST_BINDING_IPV4: &str = "com.docker.network.bridge.host_binding_ipv4";
pub const BRIDGE_INHIBIT_IPV4: &str = "com.docker.network.bridge.inhibit_ipv4";
pub const BRIDGE_GATEWAY_MODE_IPV4: &str = "com.docker.network.bridge.gateway_mode_ipv4";
pub const BRIDGE_GATEWAY_MODE_IPV6: &str = "com.docker.network.bridge.gateway_mode_ipv6";
pub const BRIDGE_TRUSTED_HOST_INTERFACES: &str =
    "com.docker.network.bridge.trusted_host_interfaces";
pub const BRIDGE_DEFAULT_BRIDGE: &str = "com.docker.network.bridge.default_bridge";

pub const ENDPOINT_IFNAME: &str = "com.docker.network.endpoint.ifname";
pub const ENDPOINT_SYSCTLS: &str = "com.docker.network.endpoint.sysctls";
pub const ENDPOINT_MACADDRESS: &str = "com.docker.network.endpoint.macaddress";
