//! Sandboxes: network namespaces cnm creates (or adopts) and the files that go with them
//! (spec §1.6, §1.10).
//!
//! Create: namespace → netlink connection inside it (`lo` up) → hosts/resolv.conf → persist
//! → connect each requested network. Any failure undoes all of it, so a failed create leaves
//! no namespace, file, endpoint or address behind.

use std::path::PathBuf;

use cnm_types::Id;
use cnm_types::sandbox::SandboxCreateRequest;

use super::undo::{Step, Undo};
use super::views::SandboxView;
use super::{Controller, Lookup, State, etc};
use crate::error::{Error, Result};
use crate::model::{Sandbox, now_rfc3339};
use crate::osl::{Netlink, netns};
use crate::store::{Batch, Kind};

/// Docker's container name rule.
pub fn check_sandbox_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !first_ok || !rest_ok || name.len() < 2 || name.len() > 253 {
        return Err(Error::invalid(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    Ok(())
}

impl Controller {
    pub(crate) fn netns_dir(&self) -> PathBuf {
        self.config.exec_root.join("netns")
    }

    pub(crate) fn sandbox_dir(&self, id: &Id) -> PathBuf {
        self.config.data_root.join("sandboxes").join(id.as_str())
    }

    /// The daemon's own namespace, bind-mounted once so host-mode sandboxes have a path.
    fn host_netns(&self) -> PathBuf {
        self.netns_dir().join("default")
    }

    pub async fn create_sandbox(&self, req: SandboxCreateRequest) -> Result<Id> {
        let id = Id::random();
        let name = if req.name.is_empty() {
            id.short().to_string()
        } else {
            req.name.trim_start_matches('/').to_string()
        };
        check_sandbox_name(&name)?;
        for n in &req.networks {
            self.ensure_network_plugins(&n.network).await?;
        }
        let mut state = self.state.lock().await;
        if let Some(existing) = state.sandbox_names.get(&name) {
            return Err(Error::conflict(format!(
                "Conflict. The container name \"/{name}\" is already in use by container \"{existing}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        // Resolve every network first: a typo fails before anything is created.
        let mut networks = Vec::new();
        let requested = if req.networks.is_empty() {
            vec![cnm_types::sandbox::SandboxNetwork {
                network: "bridge".into(),
                endpoint_config: None,
            }]
        } else {
            req.networks.clone()
        };
        for n in &requested {
            networks.push((
                state.find_network(&n.network, Lookup::Inspect)?,
                n.endpoint_config.clone().unwrap_or_default(),
            ));
        }
        let host_mode = networks
            .iter()
            .any(|(id, _)| state.networks[id].driver == "host");
        // Bad port bindings are refused before anything exists.
        crate::driver::bridge::BridgeDriver::parse_port_bindings(&req.port_bindings)?;
        let dns = req
            .dns
            .iter()
            .map(|d| {
                d.parse()
                    .map_err(|_| Error::invalid(format!("invalid DNS server address: {d}")))
            })
            .collect::<Result<Vec<std::net::IpAddr>>>()?;
        let mut undo = Undo::default();
        let result = self
            .build_sandbox(&mut state, &id, &name, &req, host_mode, &dns, &mut undo)
            .await;
        let result = match result {
            Ok(()) => self.join_all(&mut state, &id, networks).await,
            Err(e) => Err(e),
        };
        // The create is complete: clear the intent record in the store.
        let result = result.and_then(|()| {
            let mut sandbox = state.sandboxes[&id].clone();
            sandbox.unfinished = false;
            let mut batch = Batch::default();
            batch.put(Kind::Sandbox, id.as_str(), &sandbox);
            self.commit(&batch)?;
            state.insert_sandbox(sandbox);
            Ok(())
        });
        match result {
            Ok(()) => {
                undo.commit();
                tracing::info!(sandbox = %name, id = %id.short(), "sandbox created");
                Ok(id)
            }
            Err(e) => {
                self.discard_sandbox_record(&mut state, &id).await;
                undo.rollback(&mut state).await;
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn build_sandbox(
        &self,
        state: &mut State,
        id: &Id,
        name: &str,
        req: &SandboxCreateRequest,
        host_mode: bool,
        dns: &[std::net::IpAddr],
        undo: &mut Undo,
    ) -> Result<()> {
        let (path, external) = if host_mode {
            (self.host_netns(), true)
        } else if !req.netns_path.is_empty() {
            let path = PathBuf::from(&req.netns_path);
            netns::open(&path)
                .map_err(|e| Error::invalid(format!("invalid --netns {}: {e}", path.display())))?;
            (path, true)
        } else {
            let path = self.netns_dir().join(id.as_str());
            netns::create(&path)?;
            undo.push(Step::RemoveNetns(path.clone()));
            (path, false)
        };
        let dir = self.sandbox_dir(id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::internal(format!("create {}: {e}", dir.display())))?;
        undo.push(Step::RemoveDir(dir.clone()));
        let sandbox = Sandbox {
            id: id.clone(),
            name: name.to_string(),
            created: now_rfc3339(),
            hostname: if req.hostname.is_empty() {
                name.to_string()
            } else {
                req.hostname.clone()
            },
            netns: path.clone(),
            external,
            dns: req.dns.clone(),
            port_bindings: req.port_bindings.clone(),
            endpoints: Vec::new(),
            resolv_conf: dir.join("resolv.conf"),
            hosts: dir.join("hosts"),
            unfinished: true,
        };
        let resolvers = if dns.is_empty() {
            self.config.dns.clone()
        } else {
            dns.to_vec()
        };
        etc::write_resolv_conf(
            &sandbox.resolv_conf,
            &self.config.host_resolv_conf,
            &resolvers,
        )?;
        etc::write_hosts(&sandbox.hosts, &sandbox.hostname, &[])?;
        if !host_mode {
            let netlink = Netlink::open_in(&path)?;
            if let Some(lo) = netlink.link_by_name("lo").await? {
                netlink.set_up(lo.index).await?;
            }
            state.sandbox_links.insert(id.clone(), netlink);
        }
        let mut batch = Batch::default();
        batch.put(Kind::Sandbox, id.as_str(), &sandbox);
        self.commit(&batch)?;
        state.insert_sandbox(sandbox);
        undo.push(Step::ForgetSandbox(id.clone()));
        Ok(())
    }

    async fn join_all(
        &self,
        state: &mut State,
        id: &Id,
        networks: Vec<(Id, cnm_types::engine::EndpointSettings)>,
    ) -> Result<()> {
        for (network, settings) in networks {
            self.connect_in_state(state, &network, id, settings).await?;
        }
        Ok(())
    }

    /// Removes a half-made sandbox's endpoints and record (create rollback).
    async fn discard_sandbox_record(&self, state: &mut State, id: &Id) {
        let endpoints: Vec<_> = state
            .endpoints
            .values()
            .filter(|e| &e.sandbox == id)
            .cloned()
            .collect();
        for e in endpoints {
            let _ = self.detach_endpoint(state, &e).await;
        }
        if state.sandboxes.contains_key(id) {
            let mut batch = Batch::default();
            batch.delete(Kind::Sandbox, id.as_str());
            let _ = self.commit(&batch);
        }
    }

    pub async fn delete_sandbox(&self, term: &str, force: bool) -> Result<()> {
        let mut state = self.state.lock().await;
        let id = state.find_sandbox(term)?;
        let sandbox = state.sandboxes[&id].clone();
        if !force && !sandbox.endpoints.is_empty() {
            return Err(Error::conflict(format!(
                "cannot remove sandbox \"{}\": it is connected to networks: disconnect it or force remove",
                sandbox.name
            )));
        }
        self.remove_sandbox_in_state(&mut state, &sandbox).await
    }

    /// Disconnects every endpoint, forgets the record, then removes the namespace and files.
    pub(crate) async fn remove_sandbox_in_state(
        &self,
        state: &mut State,
        sandbox: &Sandbox,
    ) -> Result<()> {
        // Intent first: a crash half-way through is finished by the next start.
        if let Some(current) = state.sandboxes.get(&sandbox.id)
            && !current.unfinished
        {
            let mut marked = current.clone();
            marked.unfinished = true;
            let mut batch = Batch::default();
            batch.put(Kind::Sandbox, marked.id.as_str(), &marked);
            self.commit(&batch)?;
            state.insert_sandbox(marked);
        }
        for eid in sandbox.endpoints.iter().rev() {
            if let Some(e) = state.endpoints.get(eid).cloned() {
                self.detach_endpoint(state, &e).await?;
            }
        }
        let mut batch = Batch::default();
        batch.delete(Kind::Sandbox, sandbox.id.as_str());
        self.commit(&batch)?;
        state.remove_sandbox(&sandbox.id);
        self.resolver.stop(&sandbox.id).await;
        self.refresh_records(state);
        if !sandbox.external
            && let Err(e) = netns::remove(&sandbox.netns)
        {
            tracing::warn!(sandbox = %sandbox.name, error = %e, "removing namespace; the next start sweeps it");
        }
        let _ = std::fs::remove_dir_all(self.sandbox_dir(&sandbox.id));
        tracing::info!(sandbox = %sandbox.name, id = %sandbox.id.short(), "sandbox removed");
        Ok(())
    }

    pub async fn sandbox(&self, term: &str) -> Result<SandboxView> {
        let state = self.state.lock().await;
        let id = state.find_sandbox(term)?;
        Ok(SandboxView::build(&state, &state.sandboxes[&id]))
    }

    pub async fn sandboxes(&self) -> Vec<SandboxView> {
        let state = self.state.lock().await;
        state
            .sandboxes
            .values()
            .map(|s| SandboxView::build(&state, s))
            .collect()
    }
}
