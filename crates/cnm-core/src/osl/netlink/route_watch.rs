//! A live view of the IPv4 link-scope routes of the main table (the host's connected
//! subnets), kept current by route notifications instead of a dump per request.
//!
//! Why: IPAM must avoid the host's connected subnets when it picks a dynamic pool. Dumping
//! the routes on every network create costs time in proportion to the routes, and each cnm
//! bridge adds one: network create would slow down as networks fill up. Subscribing first and
//! dumping once keeps create flat; every later change arrives as an event.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use ipnet::IpNet;
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::LinkFlags;
use rtnetlink::sys::{AsyncSocket, SocketAddr};

use super::route::route_info;
use super::{Netlink, runtime_handle};
use crate::osl::{OslError, OslResult};

/// `(destination, output link)` of every link-scope IPv4 route of the main table.
#[derive(Clone, Default)]
pub struct LinkRoutes {
    routes: Arc<RwLock<BTreeSet<(IpNet, u32)>>>,
}

impl LinkRoutes {
    /// The destinations, deduplicated.
    pub fn snapshot(&self) -> Vec<IpNet> {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<IpNet> = routes.iter().map(|(dest, _)| *dest).collect();
        out.dedup();
        out
    }

    /// The kernel announces new routes but flushes connected ones silently when their address
    /// goes, their link goes down, or the link is deleted: those events drop them here.
    fn forget_link(&self, index: u32) {
        self.routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(_, out)| *out != index);
    }

    fn apply(&self, message: RouteNetlinkMessage) {
        let (added, message) = match message {
            RouteNetlinkMessage::DelLink(link) => return self.forget_link(link.header.index),
            RouteNetlinkMessage::NewLink(link) if !link.header.flags.contains(LinkFlags::Up) => {
                return self.forget_link(link.header.index);
            }
            RouteNetlinkMessage::DelAddress(addr) => {
                let local = addr.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Local(ip) | AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                });
                if let Some(net) = local.and_then(|ip| IpNet::new(ip, addr.header.prefix_len).ok())
                {
                    self.routes
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&(net.trunc(), addr.header.index));
                }
                return;
            }
            RouteNetlinkMessage::NewRoute(r) => (true, RouteNetlinkMessage::NewRoute(r)),
            // Parsed like an announcement: the attributes are the same.
            RouteNetlinkMessage::DelRoute(r) => (false, RouteNetlinkMessage::NewRoute(r)),
            _ => return,
        };
        let Some(info) = route_info(&message) else {
            return;
        };
        if !info.link_scope || !matches!(info.destination, IpNet::V4(_)) {
            return;
        }
        let key = (info.destination, info.output.unwrap_or(0));
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        if added {
            routes.insert(key);
        } else {
            routes.remove(&key);
        }
    }
}

impl Netlink {
    /// Subscribes to IPv4 route changes in the caller's namespace, then loads the current
    /// routes; the returned view stays current for as long as the runtime runs.
    pub async fn watch_link_routes() -> OslResult<LinkRoutes> {
        let op = "watch IPv4 routes";
        let runtime = runtime_handle(op)?;
        let io = |source| OslError::Io {
            op: op.to_owned(),
            source,
        };
        let (mut connection, handle, mut events) = {
            let _entered = runtime.enter();
            rtnetlink::new_connection().map_err(io)?
        };
        use rtnetlink::constants::{RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_LINK};
        let groups = RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_IFADDR | RTMGRP_LINK;
        connection
            .socket_mut()
            .socket_mut()
            .bind(&SocketAddr::new(0, groups))
            .map_err(io)?;
        runtime.spawn(connection);
        let view = LinkRoutes::default();
        let updater = view.clone();
        runtime.spawn(async move {
            while let Some((message, _)) = events.next().await {
                if let NetlinkPayload::InnerMessage(inner) = message.payload {
                    updater.apply(inner);
                }
            }
        });
        // Subscribed before dumping: a change during the dump is not lost (both are idempotent).
        let dumper = Netlink { handle };
        for info in dumper.routes(false).await? {
            if info.link_scope {
                view.apply_info(info.destination, info.output.unwrap_or(0));
            }
        }
        Ok(view)
    }
}

impl LinkRoutes {
    fn apply_info(&self, destination: IpNet, output: u32) {
        self.routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((destination, output));
    }
}
