//! Round trips of the plugin protocol's bodies against the examples of
//! `reference/libnetwork-spec.md` §5 (written out from the spec), as insta snapshots, plus the
//! tolerance rules: `null`/`{}`/empty bodies, `null` fields, unknown fields, and the error
//! fields `Err` (network driver) and `Error` (IPAM).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::*;

/// Parses `example`, re-serializes it, checks that parsing the output gives the same value, and
/// returns the output pretty-printed for the snapshot.
fn round_trip<T>(example: &str) -> String
where
    T: Serialize + DeserializeOwned + Default + PartialEq + std::fmt::Debug,
{
    let parsed: T =
        decode_response(example.as_bytes()).unwrap_or_else(|e| panic!("{example}: {e}"));
    let out = serde_json::to_string(&parsed).unwrap();
    let again: T = decode_response(out.as_bytes()).unwrap();
    assert_eq!(parsed, again, "round trip changed the value of {example}");
    serde_json::to_string_pretty(&parsed).unwrap()
}

#[test]
fn activate() {
    insta::assert_snapshot!(round_trip::<ActivateResponse>(
        r#"{"Implements": ["NetworkDriver", "IpamDriver"]}"#
    ));
}

#[test]
fn network_driver_capabilities() {
    insta::assert_snapshot!(round_trip::<CapabilitiesResponse>(
        r#"{"Scope":"local","ConnectivityScope":"global","GwAllocChecker":true}"#
    ));
}

#[test]
fn gw_alloc_check() {
    insta::assert_snapshot!(round_trip::<GwAllocCheckRequest>(
        r#"{"Options":{"com.docker.network.enable_ipv4":true,"com.docker.network.generic":{"opt1":"drv1"}}}"#
    ));
    insta::assert_snapshot!(round_trip::<GwAllocCheckResponse>(
        r#"{"SkipIPv4":true,"SkipIPv6":false}"#
    ));
}

#[test]
fn create_network() {
    insta::assert_snapshot!(round_trip::<CreateNetworkRequest>(
        r#"{"NetworkID":"3d1d1f9c5d0c4b1e","Options":{"com.docker.network.enable_ipv4":true,
            "com.docker.network.enable_ipv6":false,"com.docker.network.generic":{"opt1":"drv1","opt2":"drv2"}},
            "IPv4Data":[{"AddressSpace":"LocalDefault","Pool":"172.18.0.0/16","Gateway":"172.18.0.1/16",
                         "AuxAddresses":{"router":"172.18.1.5/16"}}],
            "IPv6Data":[]}"#
    ));
}

#[test]
fn ipam_data_omits_an_absent_gateway_and_aux_addresses() {
    let data = IpamData {
        address_space: "LocalDefault".into(),
        pool: "172.20.0.0/16".into(),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&data).unwrap(),
        r#"{"AddressSpace":"LocalDefault","Pool":"172.20.0.0/16"}"#
    );
}

#[test]
fn allocate_and_free_network() {
    insta::assert_snapshot!(round_trip::<AllocateNetworkRequest>(
        r#"{"NetworkID":"n1","Options":{"vni":"4097"},"IPv4Data":[{"AddressSpace":"GlobalDefault","Pool":"10.0.0.0/24"}],"IPv6Data":null}"#
    ));
    insta::assert_snapshot!(round_trip::<AllocateNetworkResponse>(
        r#"{"Options":{"com.example.vni":"4097"}}"#
    ));
    insta::assert_snapshot!(round_trip::<NetworkIdRequest>(r#"{"NetworkID":"n1"}"#));
}

#[test]
fn create_endpoint() {
    insta::assert_snapshot!(round_trip::<CreateEndpointRequest>(
        r#"{"NetworkID":"n1","EndpointID":"e1","Options":{"com.docker.network.endpoint.exposedports":[{"Proto":6,"Port":80}]},
            "Interface":{"Address":"10.0.0.2/24","AddressIPv6":"","MacAddress":""}}"#
    ));
    insta::assert_snapshot!(round_trip::<CreateEndpointResponse>(
        r#"{"Interface":{"Address":"","AddressIPv6":"fd00::2/64","MacAddress":"02:42:0a:00:00:02"}}"#
    ));
}

#[test]
fn endpoint_oper_info() {
    insta::assert_snapshot!(round_trip::<EndpointIdRequest>(
        r#"{"NetworkID":"n1","EndpointID":"e1"}"#
    ));
    insta::assert_snapshot!(round_trip::<EndpointOperInfoResponse>(
        r#"{"Value":{"com.docker.network.endpoint.macaddress":"02:42:0a:00:00:02","custom":1}}"#
    ));
}

#[test]
fn join() {
    insta::assert_snapshot!(round_trip::<JoinRequest>(
        r#"{"NetworkID":"n1","EndpointID":"e1","SandboxKey":"/var/run/docker/netns/abc","Options":{}}"#
    ));
    insta::assert_snapshot!(round_trip::<JoinResponse>(
        r#"{"InterfaceName":{"SrcName":"veth1234","DstPrefix":"eth"},
            "Gateway":"10.0.0.1","GatewayIPv6":"",
            "StaticRoutes":[{"Destination":"192.168.0.0/16","RouteType":0,"NextHop":"10.0.0.254"},
                            {"Destination":"0.0.0.0/0","RouteType":1}],
            "DisableGatewayService":false}"#
    ));
}

#[test]
fn external_connectivity_and_discovery() {
    insta::assert_snapshot!(round_trip::<ProgramExternalConnectivityRequest>(
        r#"{"NetworkID":"n1","EndpointID":"e1","Options":{"com.docker.network.driver.private.no_proxy_6to4":true}}"#
    ));
    let note: DiscoveryNotification = decode_response(
        br#"{"DiscoveryType":1,"DiscoveryData":{"Address":"10.0.0.5","BindAddress":"","Self":false}}"#,
    )
    .unwrap();
    assert_eq!(note.discovery_type, DISCOVERY_NODE);
    let node: NodeDiscoveryData = serde_json::from_value(note.discovery_data.clone()).unwrap();
    assert_eq!(
        node,
        NodeDiscoveryData {
            address: "10.0.0.5".into(),
            bind_address: String::new(),
            is_self: false
        }
    );
    insta::assert_snapshot!(serde_json::to_string_pretty(&note).unwrap());
}

#[test]
fn ipam_calls() {
    insta::assert_snapshot!(round_trip::<IpamCapabilitiesResponse>(
        r#"{"RequiresMACAddress":true,"RequiresRequestReplay":false}"#
    ));
    insta::assert_snapshot!(round_trip::<AddressSpacesResponse>(
        r#"{"LocalDefaultAddressSpace":"localAS","GlobalDefaultAddressSpace":"globalAS"}"#
    ));
    insta::assert_snapshot!(round_trip::<RequestPoolRequest>(
        r#"{"AddressSpace":"localAS","Pool":"172.28.0.0/16","SubPool":"172.28.5.0/24","Options":{"foo":"bar"},"V6":false}"#
    ));
    insta::assert_snapshot!(round_trip::<RequestPoolResponse>(
        r#"{"PoolID":"localAS/172.28.0.0/16","Pool":"172.28.0.0/16","Data":{"com.docker.network.gateway":"172.28.0.254/16"}}"#
    ));
    insta::assert_snapshot!(round_trip::<ReleasePoolRequest>(
        r#"{"PoolID":"localAS/172.28.0.0/16"}"#
    ));
    insta::assert_snapshot!(round_trip::<RequestAddressRequest>(
        r#"{"PoolID":"localAS/172.28.0.0/16","Address":"172.28.0.10","Options":{"RequestAddressType":"com.docker.network.gateway"}}"#
    ));
    insta::assert_snapshot!(round_trip::<RequestAddressResponse>(
        r#"{"Address":"172.28.0.10/16","Data":{}}"#
    ));
    insta::assert_snapshot!(round_trip::<ReleaseAddressRequest>(
        r#"{"PoolID":"localAS/172.28.0.0/16","Address":"172.28.0.10"}"#
    ));
}

#[test]
fn empty_bodies_mean_empty_success() {
    for body in ["", "  \n", "null", "{}"] {
        assert_eq!(
            decode_response::<NetworkResponse>(body.as_bytes()).unwrap(),
            NetworkResponse::default(),
            "{body:?}"
        );
        assert_eq!(
            decode_response::<JoinResponse>(body.as_bytes()).unwrap(),
            JoinResponse::default(),
            "{body:?}"
        );
        assert_eq!(
            decode_response::<IpamResponse>(body.as_bytes()).unwrap(),
            IpamResponse::default(),
            "{body:?}"
        );
    }
}

#[test]
fn null_fields_and_unknown_fields_are_tolerated() {
    let join: JoinResponse = decode_response(
        br#"{"InterfaceName":null,"Gateway":null,"StaticRoutes":null,"DisableGatewayService":null,"Extra":[1,2]}"#,
    )
    .unwrap();
    assert_eq!(join, JoinResponse::default());
    let pool: RequestPoolResponse =
        decode_response(br#"{"PoolID":"p","Pool":"10.0.0.0/24","Data":null,"Future":{}}"#).unwrap();
    assert_eq!(pool.pool_id, "p");
    assert!(pool.data.is_empty());
}

#[test]
fn the_error_field_differs_between_the_two_protocols() {
    let driver: NetworkResponse = decode_response(br#"{"Err":"boom"}"#).unwrap();
    assert_eq!(driver.err, "boom");
    // An IPAM plugin answers `Error`; `Err` is not its field and is ignored.
    let ipam: IpamResponse =
        decode_response(br#"{"Error":"no more pools","Err":"ignored"}"#).unwrap();
    assert_eq!(ipam.error, "no more pools");
    let pool: RequestPoolResponse = decode_response(br#"{"Error":"exhausted"}"#).unwrap();
    assert_eq!(pool.error, "exhausted");
    let caps: CapabilitiesResponse = decode_response(br#"{"Err":"not ready"}"#).unwrap();
    assert_eq!(caps.err, "not ready");
}

#[test]
fn wrong_types_and_bad_json_are_errors() {
    assert!(decode_response::<CapabilitiesResponse>(br#"{"Scope":5}"#).is_err());
    assert!(decode_response::<JoinResponse>(br#"{"StaticRoutes":"none"}"#).is_err());
    assert!(decode_response::<RequestAddressResponse>(b"<html>oops</html>").is_err());
    assert!(decode_response::<ActivateResponse>(br#"{"Implements":"NetworkDriver"}"#).is_err());
}
