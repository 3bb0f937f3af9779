//! Routes of the main table: list, add, delete (one request each).
//!
//! Routes cnm adds carry protocol `boot`, like `ip route add`. Deletions match any protocol,
//! type and scope (scope `nowhere` is the kernel's wildcard), so they remove what `ip` made too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use nix::errno::Errno;
use rtnetlink::packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{Netlink, RouteInfo, same_family};
use crate::osl::OslResult;

impl Netlink {
    /// Adds a default route via `gateway` out of `index` (family from the gateway).
    pub async fn add_default_route(&self, gateway: IpAddr, index: u32) -> OslResult<()> {
        self.add_route(default_of(gateway.is_ipv6()), Some(gateway), index)
            .await
    }

    /// Removes the default route of the given family, if any.
    pub async fn del_default_route(&self, v6: bool) -> OslResult<()> {
        match self.del_route(default_of(v6), None, None).await {
            Err(e) if e.errno() == Some(Errno::ESRCH) => Ok(()),
            other => other,
        }
    }

    /// Adds a route to `destination` out of link `index`, via `gateway` if given (else a
    /// scope-link route to a directly connected subnet).
    pub async fn add_route(
        &self,
        destination: IpNet,
        gateway: Option<IpAddr>,
        index: u32,
    ) -> OslResult<()> {
        let op = || match gateway {
            Some(via) => format!("add route {destination} via {via} dev #{index}"),
            None => format!("add route {destination} dev #{index}"),
        };
        if let Some(via) = gateway {
            same_family(op, destination.addr(), via)?;
        }
        let mut route = route_message(destination, gateway, Some(index));
        route.header.protocol = RouteProtocol::Boot;
        route.header.kind = RouteType::Unicast;
        route.header.scope = if gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        self.request(
            RouteNetlinkMessage::NewRoute(route),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            op,
        )
        .await
        .map(drop)
    }

    /// Deletes the main-table route to `destination`; `gateway` and `index`, when given,
    /// narrow the match. `ESRCH` (NotFound) when nothing matches.
    pub async fn del_route(
        &self,
        destination: IpNet,
        gateway: Option<IpAddr>,
        index: Option<u32>,
    ) -> OslResult<()> {
        let op = || format!("delete route {destination}");
        if let Some(via) = gateway {
            same_family(op, destination.addr(), via)?;
        }
        let mut route = route_message(destination, gateway, index);
        route.header.scope = RouteScope::NoWhere;
        self.request(
            RouteNetlinkMessage::DelRoute(route),
            NLM_F_REQUEST | NLM_F_ACK,
            op,
        )
        .await
        .map(drop)
    }

    /// Unicast routes of the main table, of one family.
    pub async fn routes(&self, v6: bool) -> OslResult<Vec<RouteInfo>> {
        let mut query = RouteMessage::default();
        query.header.address_family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        // With strict checking on, the kernel filters the dump by table and type itself.
        query.header.table = RouteHeader::RT_TABLE_MAIN;
        query.header.kind = RouteType::Unicast;
        let family = if v6 { "IPv6" } else { "IPv4" };
        let answers = self
            .request(
                RouteNetlinkMessage::GetRoute(query),
                NLM_F_REQUEST | NLM_F_DUMP,
                || format!("list {family} routes"),
            )
            .await?;
        Ok(answers.iter().filter_map(route_info).collect())
    }

    /// Link-scope IPv4 route destinations of the main table (for IPAM's exclude list).
    pub async fn link_scope_routes_v4(&self) -> OslResult<Vec<IpNet>> {
        let routes = self.routes(false).await?;
        Ok(routes
            .into_iter()
            .filter(|r| r.link_scope)
            .map(|r| r.destination)
            .collect())
    }
}

fn default_of(v6: bool) -> IpNet {
    if v6 {
        IpNet::new(Ipv6Addr::UNSPECIFIED.into(), 0).expect("prefix 0 is valid")
    } else {
        IpNet::new(Ipv4Addr::UNSPECIFIED.into(), 0).expect("prefix 0 is valid")
    }
}

fn route_message(destination: IpNet, gateway: Option<IpAddr>, index: Option<u32>) -> RouteMessage {
    let mut route = RouteMessage::default();
    route.header.address_family = match destination {
        IpNet::V4(_) => AddressFamily::Inet,
        IpNet::V6(_) => AddressFamily::Inet6,
    };
    route.header.table = RouteHeader::RT_TABLE_MAIN;
    route.header.destination_prefix_length = destination.prefix_len();
    if destination.prefix_len() > 0 {
        route.attributes.push(RouteAttribute::Destination(
            destination.trunc().addr().into(),
        ));
    }
    if let Some(via) = gateway {
        route.attributes.push(RouteAttribute::Gateway(via.into()));
    }
    if let Some(index) = index {
        route.attributes.push(RouteAttribute::Oif(index));
    }
    route
}

/// Our view of a `RTM_NEWROUTE` answer: unicast routes of the main table only.
pub(super) fn route_info(message: &RouteNetlinkMessage) -> Option<RouteInfo> {
    let RouteNetlinkMessage::NewRoute(route) = message else {
        return None;
    };
    let mut table = u32::from(route.header.table);
    let mut destination = None;
    let mut gateway = None;
    let mut output = None;
    for attribute in &route.attributes {
        match attribute {
            RouteAttribute::Table(id) => table = *id,
            RouteAttribute::Destination(address) => destination = ip_of(address),
            RouteAttribute::Gateway(address) => gateway = ip_of(address),
            RouteAttribute::Oif(index) => output = Some(*index),
            _ => {}
        }
    }
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) || route.header.kind != RouteType::Unicast {
        return None;
    }
    let v6 = route.header.address_family == AddressFamily::Inet6;
    let base = destination.unwrap_or_else(|| default_of(v6).addr());
    let destination = IpNet::new(base, route.header.destination_prefix_length)
        .ok()?
        .trunc();
    Some(RouteInfo {
        destination,
        gateway,
        output,
        link_scope: route.header.scope == RouteScope::Link,
    })
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(ip) => Some(IpAddr::V4(*ip)),
        RouteAddress::Inet6(ip) => Some(IpAddr::V6(*ip)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_routes_have_no_destination_attribute() {
        let route = route_message(
            default_of(false),
            Some("10.0.0.1".parse().unwrap()),
            Some(2),
        );
        assert_eq!(route.header.destination_prefix_length, 0);
        assert!(
            !route
                .attributes
                .iter()
                .any(|a| matches!(a, RouteAttribute::Destination(_)))
        );
    }

    #[test]
    fn main_table_link_routes_read_back() {
        let mut route = route_message("172.18.0.0/16".parse().unwrap(), None, Some(4));
        route.header.kind = RouteType::Unicast;
        route.header.scope = RouteScope::Link;
        let info = route_info(&RouteNetlinkMessage::NewRoute(route)).unwrap();
        assert_eq!(info.destination, "172.18.0.0/16".parse::<IpNet>().unwrap());
        assert!(info.link_scope);
        assert_eq!(info.output, Some(4));
    }

    #[test]
    fn other_tables_are_ignored() {
        let mut route = route_message("10.0.0.0/8".parse().unwrap(), None, Some(4));
        route.header.kind = RouteType::Unicast;
        route.header.table = 255;
        assert!(route_info(&RouteNetlinkMessage::NewRoute(route)).is_none());
    }
}
