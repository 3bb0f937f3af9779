//! Parent links of macvlan and ipvlan networks: finding them, creating the ones Docker creates,
//! and deleting those with their last network.
//!
//! Contract:
//! - `ensure` finds the parent by name, or creates it: the 802.1q sub-interface for a
//!   `name.vid` parent, a stand-in for a network without a parent. It reports whether it
//!   created the link. Pre-existing links are used and never deleted.
//! - Stand-ins: Docker creates a dummy link `dm-`/`di-` + 12 hex. Where the kernel has no dummy
//!   links (this machine), cnm creates an `ifb` link under the same name instead: also an
//!   Ethernet-type link that drops every frame sent to it, so ports on it reach each other
//!   (macvlan bridge mode) and nothing else. Without either, the error says so.
//! - `ParentUsers` is shared by the macvlan and ipvlan drivers: which networks use which parent
//!   and whether cnm created it. A created parent is deleted when its last user goes, and a
//!   network on a parent that cnm created for another network inherits the duty, as in Docker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cnm_types::Id;

use super::config::{check_vlan_id, parse_vlan_name};
use crate::error::{Error, ErrorKind, HasKind, Result};
use crate::osl::netlink::sublink::{ParentKind, unsupported_kind};
use crate::osl::{Netlink, OslError};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Use {
    network: Id,
    created: bool,
}

/// Which networks stack on which parent link (by name).
#[derive(Clone, Debug, Default)]
pub struct ParentUsers(Arc<Mutex<HashMap<String, Vec<Use>>>>);

impl ParentUsers {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Vec<Use>>) -> T) -> T {
        // A panic elsewhere cannot leave this map half-updated: every change is one push/retain.
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut map)
    }

    pub fn add(&self, parent: &str, network: &Id, created: bool) {
        self.with(|map| {
            let uses = map.entry(parent.to_owned()).or_default();
            uses.retain(|u| &u.network != network);
            uses.push(Use {
                network: network.clone(),
                created,
            });
        });
    }

    /// Forgets `network`'s use of `parent`; true when the parent is then unused and some
    /// user had it created by cnm (so it should go).
    pub fn remove(&self, parent: &str, network: &Id) -> bool {
        self.with(|map| {
            let Some(uses) = map.get_mut(parent) else {
                return false;
            };
            let created = uses.iter().any(|u| u.created);
            uses.retain(|u| &u.network != network);
            if uses.is_empty() {
                map.remove(parent);
                created
            } else {
                false
            }
        })
    }

    /// True when a network already uses `parent` and cnm created it.
    pub fn created_by_cnm(&self, parent: &str) -> bool {
        self.with(|map| {
            map.get(parent)
                .is_some_and(|uses| uses.iter().any(|u| u.created))
        })
    }

    /// Networks using `parent`.
    pub fn users(&self, parent: &str) -> Vec<Id> {
        self.with(|map| {
            map.get(parent)
                .map(|uses| uses.iter().map(|u| u.network.clone()).collect())
                .unwrap_or_default()
        })
    }
}

/// Finds or creates `parent`; returns whether it was created. `stand_in` is the name cnm
/// gives the parent of a network without one.
pub async fn ensure(host: &Netlink, parent: &str, stand_in: &str) -> Result<bool> {
    if host.link_by_name(parent).await?.is_some() {
        return Ok(false);
    }
    if parent == stand_in {
        create_stand_in(host, parent).await?;
    } else {
        create_vlan(host, parent).await?;
    }
    Ok(true)
}

async fn create_stand_in(host: &Netlink, name: &str) -> Result<()> {
    match host.add_parent_link(name, ParentKind::Dummy).await {
        Ok(_) => return Ok(()),
        Err(e) if unsupported_kind(&e) => {}
        Err(e) => return Err(e.into()),
    }
    match host.add_parent_link(name, ParentKind::Ifb).await {
        Ok(_) => {
            tracing::info!(
                link = name,
                "the kernel has no dummy links; using an ifb link as the stand-in parent"
            );
            Ok(())
        }
        Err(e) if unsupported_kind(&e) => Err(Error::new(
            ErrorKind::NotImplemented,
            format!(
                "cannot create the parent link {name} of a network without -o parent: the kernel has neither \
                 dummy nor ifb links; give -o parent=IFACE"
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Docker's `createVlanLink`: format, id, master, range, then the link (up).
async fn create_vlan(host: &Netlink, name: &str) -> Result<()> {
    let vlan = parse_vlan_name(name)?;
    let Some(master) = host.link_by_name(vlan.master).await? else {
        return Err(Error::invalid(format!(
            "-o parent interface was not found on the host: {}",
            vlan.master
        )));
    };
    let vid = check_vlan_id(vlan.vid)?;
    host.add_vlan(name, master.index, vid).await.map_err(|e| {
        Error::new(
            e.kind(),
            format!("failed to create {name} vlan link: {}", go_error(&e)),
        )
    })?;
    Ok(())
}

/// Deletes a parent cnm created, if it is still there and still of a kind cnm creates under
/// that name (a user's link that took the name meanwhile is left alone).
pub async fn remove(host: &Netlink, parent: &str, stand_in: bool) -> Result<()> {
    let Some(link) = host.link_by_name(parent).await? else {
        return Ok(());
    };
    let ours = match link.kind.as_deref() {
        Some("dummy" | "ifb") => stand_in,
        Some("vlan") => !stand_in,
        _ => false,
    };
    if !ours {
        tracing::warn!(link = parent, kind = ?link.kind, "not deleting a parent link of an unexpected kind");
        return Ok(());
    }
    match host.del_link(link.index).await {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other.map_err(Error::from),
    }
}

/// An OS error as Go prints a `syscall.Errno` (`operation not supported`), for Docker's
/// messages that embed one.
pub fn go_error(error: &OslError) -> String {
    match error.errno() {
        // glibc says "... on transport endpoint"; Go's table does not.
        Some(nix::errno::Errno::EOPNOTSUPP) => "operation not supported".to_owned(),
        Some(errno) => {
            let text = errno.desc();
            let mut chars = text.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text.to_owned(),
            }
        }
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use nix::errno::Errno;

    use super::*;

    fn id(n: u8) -> Id {
        Id::parse(&format!("{:064x}", u64::from(n) + 0xabc0)).unwrap()
    }

    #[test]
    fn the_last_user_of_a_created_parent_removes_it() {
        let users = ParentUsers::default();
        users.add("eth0.10", &id(1), true);
        assert!(users.created_by_cnm("eth0.10"));
        users.add("eth0.10", &id(2), users.created_by_cnm("eth0.10"));
        assert!(
            !users.remove("eth0.10", &id(1)),
            "another network still uses it"
        );
        assert_eq!(users.users("eth0.10"), vec![id(2)]);
        assert!(
            users.remove("eth0.10", &id(2)),
            "last user of a parent cnm created"
        );
        assert!(users.users("eth0.10").is_empty());
    }

    #[test]
    fn pre_existing_parents_are_never_removed() {
        let users = ParentUsers::default();
        users.add("eth0", &id(1), false);
        users.add("eth0", &id(2), false);
        assert!(!users.remove("eth0", &id(1)));
        assert!(!users.remove("eth0", &id(2)));
        assert!(!users.remove("eth0", &id(3)), "unknown network");
        assert!(!users.created_by_cnm("eth0"));
    }

    #[test]
    fn errnos_read_like_go() {
        let e = OslError::Netlink {
            op: "x".into(),
            errno: Errno::EOPNOTSUPP,
        };
        assert_eq!(go_error(&e), "operation not supported");
        let e = OslError::Netlink {
            op: "x".into(),
            errno: Errno::EEXIST,
        };
        assert_eq!(go_error(&e), "file exists");
        let e = OslError::Netlink {
            op: "x".into(),
            errno: Errno::EBUSY,
        };
        assert_eq!(go_error(&e), "device or resource busy");
    }
}
