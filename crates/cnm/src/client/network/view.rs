//! A network as the docker CLI (28.x) decodes it: `network.Inspect`, field for field.
//!
//! Contract: [`NetworkView`] deserializes the daemon's JSON with Go's `json.Unmarshal` rules
//! (missing or `null` fields are zero values, `null` maps stay nil, unknown fields are ignored,
//! so a 20.10 daemon's answer without `EnableIPv4` reads as `false`, as in docker).
//! [`NetworkView::to_go`] gives the typed value `network inspect -f` templates run on;
//! [`NetworkView::list_context`] gives the `networkContext` of `network ls --format`.

use std::collections::BTreeMap;
use std::sync::Arc;

use cnm_types::engine::null_as_default as nd;
use gotmpl::Value;
use serde::Deserialize;

use crate::client::format::gojson::quote;
use crate::client::format::gotime::GoTime;
use crate::client::format::goval::{GoField, GoVal};

type StringMap = BTreeMap<String, String>;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NetworkView {
    #[serde(rename = "Name", deserialize_with = "nd")]
    pub name: String,
    #[serde(rename = "Id", deserialize_with = "nd")]
    pub id: String,
    #[serde(rename = "Created", deserialize_with = "nd")]
    pub created: String,
    #[serde(rename = "Scope", deserialize_with = "nd")]
    pub scope: String,
    #[serde(rename = "Driver", deserialize_with = "nd")]
    pub driver: String,
    #[serde(rename = "EnableIPv4", deserialize_with = "nd")]
    pub enable_ipv4: bool,
    #[serde(rename = "EnableIPv6", deserialize_with = "nd")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM", deserialize_with = "nd")]
    pub ipam: IpamView,
    #[serde(rename = "Internal", deserialize_with = "nd")]
    pub internal: bool,
    #[serde(rename = "Attachable", deserialize_with = "nd")]
    pub attachable: bool,
    #[serde(rename = "Ingress", deserialize_with = "nd")]
    pub ingress: bool,
    #[serde(rename = "ConfigFrom", deserialize_with = "nd")]
    pub config_from: ConfigFromView,
    #[serde(rename = "ConfigOnly", deserialize_with = "nd")]
    pub config_only: bool,
    #[serde(rename = "Containers")]
    pub containers: Option<BTreeMap<String, EndpointView>>,
    #[serde(rename = "Options")]
    pub options: Option<StringMap>,
    #[serde(rename = "Labels")]
    pub labels: Option<StringMap>,
    #[serde(rename = "Peers")]
    pub peers: Option<Vec<PeerView>>,
    #[serde(rename = "Services")]
    pub services: Option<BTreeMap<String, ServiceView>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct IpamView {
    #[serde(deserialize_with = "nd")]
    pub driver: String,
    pub options: Option<StringMap>,
    pub config: Option<Vec<IpamConfigView>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct IpamConfigView {
    #[serde(rename = "Subnet", deserialize_with = "nd")]
    pub subnet: String,
    #[serde(rename = "IPRange", deserialize_with = "nd")]
    pub ip_range: String,
    #[serde(rename = "Gateway", deserialize_with = "nd")]
    pub gateway: String,
    #[serde(rename = "AuxiliaryAddresses")]
    pub aux_addresses: Option<StringMap>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ConfigFromView {
    #[serde(rename = "Network", deserialize_with = "nd")]
    pub network: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointView {
    #[serde(rename = "Name", deserialize_with = "nd")]
    pub name: String,
    #[serde(rename = "EndpointID", deserialize_with = "nd")]
    pub endpoint_id: String,
    #[serde(rename = "MacAddress", deserialize_with = "nd")]
    pub mac_address: String,
    #[serde(rename = "IPv4Address", deserialize_with = "nd")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address", deserialize_with = "nd")]
    pub ipv6_address: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct PeerView {
    #[serde(rename = "Name", deserialize_with = "nd")]
    pub name: String,
    #[serde(rename = "IP", deserialize_with = "nd")]
    pub ip: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceView {
    #[serde(rename = "VIP", deserialize_with = "nd")]
    pub vip: String,
    #[serde(rename = "Ports")]
    pub ports: Option<Vec<String>>,
    #[serde(rename = "LocalLBIndex", deserialize_with = "nd")]
    pub local_lb_index: i64,
    #[serde(rename = "Tasks")]
    pub tasks: Option<Vec<TaskView>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TaskView {
    #[serde(rename = "Name", deserialize_with = "nd")]
    pub name: String,
    #[serde(rename = "EndpointID", deserialize_with = "nd")]
    pub endpoint_id: String,
    #[serde(rename = "EndpointIP", deserialize_with = "nd")]
    pub endpoint_ip: String,
    #[serde(rename = "Info")]
    pub info: Option<StringMap>,
}

fn s(v: &str) -> GoVal {
    GoVal::str(v)
}

fn go_map<T>(m: &Option<BTreeMap<String, T>>, f: impl Fn(&T) -> GoVal) -> GoVal {
    GoVal::Map(
        m.as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), f(v))).collect()),
    )
}

fn go_slice<T>(v: &Option<Vec<T>>, f: impl Fn(&T) -> GoVal) -> GoVal {
    GoVal::Slice(v.as_ref().map(|v| v.iter().map(f).collect()))
}

impl IpamConfigView {
    fn to_go(&self) -> GoVal {
        GoVal::Struct(vec![
            GoField::tagged("Subnet", "Subnet", true, s(&self.subnet)),
            GoField::tagged("IPRange", "IPRange", true, s(&self.ip_range)),
            GoField::tagged("Gateway", "Gateway", true, s(&self.gateway)),
            GoField::tagged(
                "AuxAddress",
                "AuxiliaryAddresses",
                true,
                GoVal::string_map(self.aux_addresses.as_ref()),
            ),
        ])
    }
}

impl EndpointView {
    fn to_go(&self) -> GoVal {
        GoVal::Struct(vec![
            GoField::new("Name", s(&self.name)),
            GoField::new("EndpointID", s(&self.endpoint_id)),
            GoField::new("MacAddress", s(&self.mac_address)),
            GoField::new("IPv4Address", s(&self.ipv4_address)),
            GoField::new("IPv6Address", s(&self.ipv6_address)),
        ])
    }
}

impl ServiceView {
    fn to_go(&self) -> GoVal {
        let task = |t: &TaskView| {
            GoVal::Struct(vec![
                GoField::new("Name", s(&t.name)),
                GoField::new("EndpointID", s(&t.endpoint_id)),
                GoField::new("EndpointIP", s(&t.endpoint_ip)),
                GoField::new("Info", GoVal::string_map(t.info.as_ref())),
            ])
        };
        GoVal::Struct(vec![
            GoField::new("VIP", s(&self.vip)),
            GoField::new("Ports", GoVal::string_slice(self.ports.as_ref())),
            GoField::new("LocalLBIndex", GoVal::Int(self.local_lb_index)),
            GoField::new("Tasks", go_slice(&self.tasks, task)),
        ])
    }
}

impl NetworkView {
    /// The typed `network.Inspect` value.
    pub fn to_go(&self) -> GoVal {
        let ipam = GoVal::Struct(vec![
            GoField::new("Driver", s(&self.ipam.driver)),
            GoField::new("Options", GoVal::string_map(self.ipam.options.as_ref())),
            GoField::new("Config", go_slice(&self.ipam.config, IpamConfigView::to_go)),
        ]);
        let peer = |p: &PeerView| {
            GoVal::Struct(vec![
                GoField::new("Name", s(&p.name)),
                GoField::new("IP", s(&p.ip)),
            ])
        };
        GoVal::Struct(vec![
            GoField::new("Name", s(&self.name)),
            GoField::tagged("ID", "Id", false, s(&self.id)),
            GoField::new("Created", GoVal::Time(GoTime::parse(&self.created))),
            GoField::new("Scope", s(&self.scope)),
            GoField::new("Driver", s(&self.driver)),
            GoField::new("EnableIPv4", GoVal::Bool(self.enable_ipv4)),
            GoField::new("EnableIPv6", GoVal::Bool(self.enable_ipv6)),
            GoField::new("IPAM", ipam),
            GoField::new("Internal", GoVal::Bool(self.internal)),
            GoField::new("Attachable", GoVal::Bool(self.attachable)),
            GoField::new("Ingress", GoVal::Bool(self.ingress)),
            GoField::new(
                "ConfigFrom",
                GoVal::Struct(vec![GoField::new("Network", s(&self.config_from.network))]),
            ),
            GoField::new("ConfigOnly", GoVal::Bool(self.config_only)),
            GoField::new("Containers", go_map(&self.containers, EndpointView::to_go)),
            GoField::new("Options", GoVal::string_map(self.options.as_ref())),
            GoField::new("Labels", GoVal::string_map(self.labels.as_ref())),
            GoField::tagged("Peers", "Peers", true, go_slice(&self.peers, peer)),
            GoField::tagged(
                "Services",
                "Services",
                true,
                go_map(&self.services, ServiceView::to_go),
            ),
        ])
    }

    /// `k=v` pairs joined by commas. Go walks the map in random order; we sort.
    fn labels_joined(&self) -> String {
        self.labels
            .as_ref()
            .map(|l| {
                l.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    }

    /// docker's `networkContext`: `ID` (12 characters unless `no_trunc`), `Name`, `Driver`,
    /// `Scope`, `IPv4`, `IPv6`, `Internal`, `Labels`, `Label "k"`, `CreatedAt`; `{{json .}}`
    /// is an object of those strings with sorted keys and HTML escaping.
    pub fn list_context(&self, no_trunc: bool) -> GoVal {
        let id = if no_trunc {
            self.id.clone()
        } else {
            self.id.chars().take(12).collect()
        };
        let created = GoTime::parse(&self.created).go_string();
        let labels = self.labels.clone().unwrap_or_default();
        let label: gotmpl::ValueFunc = Arc::new(move |args: &[Value]| {
            let key = args.first().map(|a| a.to_string()).unwrap_or_default();
            Ok(Value::String(Arc::from(
                labels.get(&key).map_or("", String::as_str),
            )))
        });
        let strings = [
            ("CreatedAt", created),
            ("Driver", self.driver.clone()),
            ("ID", id),
            ("IPv4", self.enable_ipv4.to_string()),
            ("IPv6", self.enable_ipv6.to_string()),
            ("Internal", self.internal.to_string()),
            ("Labels", self.labels_joined()),
            ("Name", self.name.clone()),
            ("Scope", self.scope.clone()),
        ];
        let json = format!(
            "{{{}}}",
            strings
                .iter()
                .map(|(k, v)| format!("{}:{}", quote(k, true), quote(v, true)))
                .collect::<Vec<_>>()
                .join(",")
        );
        let mut fields: Vec<GoField> = strings
            .into_iter()
            .map(|(k, v)| GoField::new(k, GoVal::Str(v)))
            .collect();
        fields.push(GoField::new("Label", GoVal::Func(label)));
        GoVal::Marshaler(Box::new(GoVal::Struct(fields)), json)
    }
}

/// docker's header context for network tables (`SubHeaderContext` with its `Label` method).
pub fn list_header() -> GoVal {
    let label: gotmpl::ValueFunc = Arc::new(|args: &[Value]| {
        let name = args.first().map(|a| a.to_string()).unwrap_or_default();
        let last = name
            .rsplit('.')
            .next()
            .unwrap_or("")
            .replace(['-', '_'], " ");
        Ok(Value::String(Arc::from(last)))
    });
    let headers = [
        ("ID", "NETWORK ID"),
        ("Name", "NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("IPv4", "IPV4"),
        ("IPv6", "IPV6"),
        ("Internal", "INTERNAL"),
        ("Labels", "LABELS"),
        ("CreatedAt", "CREATED AT"),
    ];
    let mut m: BTreeMap<String, GoVal> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), GoVal::str(*v)))
        .collect();
    m.insert("Label".into(), GoVal::Func(label));
    GoVal::Map(Some(m))
}
