//! One daemon under test, cnm or dockerd, behind the same operations.
//!
//! Contract: every operation is one API request (two for a dockerd container: create, then
//! start) whose wall time is returned; a non-2xx answer is an error. The only difference
//! between the two daemons is what holds endpoints: cnm's sandboxes (`/sandboxes/create`),
//! dockerd's running containers (`bb sleep 1d`). Everything the benchmark creates is named
//! with `PREFIX`, so `cleanup` can remove exactly that and nothing else.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::json;

use crate::http::UnixClient;
use crate::rss;

/// Names of everything the benchmark creates start with this.
pub const PREFIX: &str = "bench-";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cnm,
    Dockerd,
}

impl Kind {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        match text {
            "cnm" => Ok(Self::Cnm),
            "dockerd" => Ok(Self::Dockerd),
            other => bail!("unknown daemon kind {other:?} (cnm or dockerd)"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cnm => "cnm",
            Self::Dockerd => "dockerd",
        }
    }

    /// What holds endpoints on this daemon, plural, for labels.
    pub fn holders(self) -> &'static str {
        match self {
            Self::Cnm => "sandboxes",
            Self::Dockerd => "containers",
        }
    }

    /// What holds endpoints on this daemon, for labels.
    pub fn holder(self) -> &'static str {
        match self {
            Self::Cnm => "sandbox",
            Self::Dockerd => "container",
        }
    }
}

/// Resident memory of the daemon, and of the helper processes it relies on.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub own_kib: u64,
    pub own_anon_kib: u64,
    pub own_file_kib: u64,
    pub helpers_kib: u64,
    pub helpers: usize,
}

pub struct Daemon {
    pub kind: Kind,
    client: UnixClient,
    pid: u32,
    /// Command-line text that marks the daemon's helper processes (dockerd's shims).
    helper_marker: Option<String>,
}

impl Daemon {
    pub fn new(kind: Kind, socket: &Path, pid: u32, helper_marker: Option<String>) -> Self {
        Self {
            kind,
            client: UnixClient::new(socket),
            pid,
            helper_marker,
        }
    }

    /// The API client, for requests this module does not wrap (published ports).
    pub fn client(&mut self) -> &mut UnixClient {
        &mut self.client
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn helper_marker(&self) -> Option<&str> {
        self.helper_marker.as_deref()
    }

    /// The daemon's version string (`GET /version`).
    pub async fn version(&mut self) -> anyhow::Result<String> {
        let v = self
            .client
            .get("/version")
            .await?
            .ok("GET /version")?
            .json()?;
        Ok(format!(
            "{} (API {})",
            v["Version"].as_str().unwrap_or("?"),
            v["ApiVersion"].as_str().unwrap_or("?")
        ))
    }

    pub fn memory(&self) -> anyhow::Result<Memory> {
        let own = rss::resident(self.pid)?;
        let (helpers_kib, helpers) = rss::helpers_rss_kib(self.pid, self.helper_marker.as_deref());
        Ok(Memory {
            own_kib: own.total_kib,
            own_anon_kib: own.anon_kib,
            own_file_kib: own.file_kib,
            helpers_kib,
            helpers,
        })
    }

    /// `POST /networks/create` of a bridge network with a dynamically chosen subnet.
    pub async fn create_network(&mut self, name: &str) -> anyhow::Result<(String, Duration)> {
        let body = json!({"Name": name, "Driver": "bridge", "CheckDuplicate": true});
        let answer = self
            .client
            .post("/networks/create", &body)
            .await?
            .ok(&format!("create network {name}"))?;
        let id = answer.json()?["Id"]
            .as_str()
            .context("create answer has no Id")?
            .to_string();
        Ok((id, answer.elapsed))
    }

    pub async fn remove_network(&mut self, id: &str) -> anyhow::Result<Duration> {
        Ok(self
            .client
            .delete(&format!("/networks/{id}"))
            .await?
            .ok(&format!("remove network {id}"))?
            .elapsed)
    }

    /// `GET /networks` (what `docker network ls` calls); also returns how many were listed.
    pub async fn list_networks(&mut self) -> anyhow::Result<(Vec<serde_json::Value>, Duration)> {
        let answer = self.client.get("/networks").await?.ok("list networks")?;
        let list = answer
            .json()?
            .as_array()
            .cloned()
            .context("GET /networks is not an array")?;
        Ok((list, answer.elapsed))
    }

    pub async fn inspect_network(&mut self, id: &str) -> anyhow::Result<Duration> {
        Ok(self
            .client
            .get(&format!("/networks/{id}"))
            .await?
            .ok(&format!("inspect network {id}"))?
            .elapsed)
    }

    /// Creates a sandbox (cnm) or runs a container (dockerd) attached to `network`.
    pub async fn create_holder(&mut self, name: &str, network: &str) -> anyhow::Result<Duration> {
        match self.kind {
            Kind::Cnm => {
                let body = json!({"Name": name, "Networks": [{"Network": network}]});
                Ok(self
                    .client
                    .post("/sandboxes/create", &body)
                    .await?
                    .ok(&format!("create sandbox {name}"))?
                    .elapsed)
            }
            Kind::Dockerd => {
                let body = json!({"Image": "bb", "Cmd": ["sleep", "1d"], "HostConfig": {"NetworkMode": network}});
                let create = self
                    .client
                    .post(&format!("/containers/create?name={name}"), &body)
                    .await?;
                let create = create.ok(&format!("create container {name}"))?;
                let start = self
                    .client
                    .post_empty(&format!("/containers/{name}/start"))
                    .await?;
                let start = start.ok(&format!("start container {name}"))?;
                Ok(create.elapsed + start.elapsed)
            }
        }
    }

    pub async fn remove_holder(&mut self, name: &str) -> anyhow::Result<Duration> {
        let path = match self.kind {
            Kind::Cnm => format!("/sandboxes/{name}?force=1"),
            Kind::Dockerd => format!("/containers/{name}?force=1"),
        };
        Ok(self
            .client
            .delete(&path)
            .await?
            .ok(&format!("remove {} {name}", self.kind.holder()))?
            .elapsed)
    }

    pub async fn connect(&mut self, network: &str, holder: &str) -> anyhow::Result<Duration> {
        let answer = self
            .client
            .post(
                &format!("/networks/{network}/connect"),
                &json!({"Container": holder}),
            )
            .await?;
        Ok(answer
            .ok(&format!("connect {holder} to {network}"))?
            .elapsed)
    }

    pub async fn disconnect(&mut self, network: &str, holder: &str) -> anyhow::Result<Duration> {
        let body = json!({"Container": holder, "Force": false});
        let answer = self
            .client
            .post(&format!("/networks/{network}/disconnect"), &body)
            .await?;
        Ok(answer
            .ok(&format!("disconnect {holder} from {network}"))?
            .elapsed)
    }

    /// Names of the holders this benchmark left (sandboxes or containers named `PREFIX...`).
    async fn holders(&mut self) -> anyhow::Result<Vec<String>> {
        let path = match self.kind {
            Kind::Cnm => "/sandboxes",
            Kind::Dockerd => "/containers/json?all=1",
        };
        let list = self.client.get(path).await?.ok("list holders")?.json()?;
        let names = list
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| match self.kind {
                Kind::Cnm => item["Name"].as_str().map(str::to_string),
                Kind::Dockerd => item["Names"][0]
                    .as_str()
                    .map(|n| n.trim_start_matches('/').to_string()),
            });
        Ok(names.filter(|n| n.starts_with(PREFIX)).collect())
    }

    /// Removes every holder and network named `PREFIX...`; returns how many it removed.
    pub async fn cleanup(&mut self) -> anyhow::Result<usize> {
        let mut removed = 0;
        for name in self.holders().await? {
            self.remove_holder(&name).await?;
            removed += 1;
        }
        let (networks, _) = self.list_networks().await?;
        for net in networks {
            if net["Name"].as_str().is_some_and(|n| n.starts_with(PREFIX)) {
                self.remove_network(net["Id"].as_str().context("network without Id")?)
                    .await?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}
