//! Published ports through the API: what publishing and unpublishing cost, how connect latency
//! behaves with many ports already published, and the memory many ports take.
//!
//! Contract (`cnm-bench ports`, driven by `bench/ports`; everything it creates is named
//! `bench-...` and removed at the end, and `cleanup` removes what a failed run left):
//! 1. networks `bench-pn` and `bench-pn2` (bridges) and, on cnm, `bench-pi` (internal: a sandbox
//!    parked there has no gateway endpoint, so its ports are published only once it is connected
//!    to `bench-pn`);
//! 2. publish series for 0, 1, 100 (separate bindings) and 1000 (one range binding) ports,
//!    `reps` times each (warm-up first):
//!    - `connect` (cnm): a sandbox parked on `bench-pi` with the bindings; timed connect to
//!      `bench-pn` (publishes) and disconnect (unpublishes);
//!    - `run` (both): cnm `POST /sandboxes/create` on `bench-pn` with the bindings, then
//!      `DELETE /sandboxes/{id}?force=1`; dockerd `docker run -d -p` (create + start), then
//!      `docker rm -f`. Docker has no range binding: 1000 ports are 1000 bindings. dockerd runs
//!      the 1000-port case `large_reps` times, and skips it when 10× the 100-port time exceeds
//!      `budget_s`;
//!    - after each publish: the daemon's child processes (docker-proxy for dockerd).
//! 3. fill levels (ports already published): holders `bench-fill-NNN` with 100 ports each are
//!    added until the level is reached; then memory (RSS and PSS of the daemon and its helper
//!    processes) and `connect_reps` timed pairs of: connect/disconnect of `bench-pn2` to a holder
//!    on `bench-pn`; on cnm, connect/disconnect of a parked sandbox with one port (publishes and
//!    unpublishes it); and run/rm of a holder with one port (`docker run -p` / sandbox create;
//!    `reps` of them on dockerd). The kinds take turns, after one warm-up turn.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::daemon::{Daemon, Kind, PREFIX};
use crate::measure::progress;
use crate::rss;
use crate::stats::{Summary, summarize};

/// First host (and container) port of the publish series, of the fill, and of the one-port
/// holder in the fill levels.
const PUBLISH_BASE: u16 = 20000;
const FILL_BASE: u16 = 30000;
const SINGLE_PORT: u16 = 19000;
/// Ports per fill holder, as separate bindings.
const FILL_PER_HOLDER: usize = 100;

#[derive(Clone, Debug)]
pub struct PortsPlan {
    pub reps: usize,
    pub large_reps: usize,
    pub connect_reps: usize,
    pub levels: Vec<usize>,
    pub budget_s: f64,
}

/// Timed publish/unpublish of one port count by one method.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublishSeries {
    /// `connect` (cnm: connect of a parked sandbox) or `run` (sandbox create / docker run).
    pub mode: String,
    pub ports: usize,
    pub up: Option<Summary>,
    pub down: Option<Summary>,
    /// The daemon's child processes while the ports were published.
    pub children: usize,
    /// Of them, docker-proxy processes.
    pub proxies: usize,
    pub skipped: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PortsMemory {
    pub own_rss_kib: u64,
    pub own_pss_kib: u64,
    /// Children and marked helpers (dockerd: containerd, shims, docker-proxy).
    pub helpers_rss_kib: u64,
    pub helpers_pss_kib: u64,
    pub helpers: usize,
    pub proxies: usize,
}

/// Measurements with `ports` ports already published on other holders.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Level {
    pub ports: usize,
    pub memory: PortsMemory,
    pub connect: Summary,
    pub disconnect: Summary,
    /// cnm: connect of a parked sandbox with one port (publishes it), and its disconnect.
    pub publish1_connect: Option<Summary>,
    pub publish1_disconnect: Option<Summary>,
    /// Holder up with one port (sandbox create / docker run -p), and its removal.
    pub run1_up: Summary,
    pub run1_down: Summary,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PortsResults {
    pub daemon: String,
    pub version: String,
    pub idle: PortsMemory,
    pub publish: Vec<PublishSeries>,
    pub levels: Vec<Level>,
    pub seconds: f64,
}

impl PortsResults {
    pub fn series(&self, mode: &str, ports: usize) -> Option<&PublishSeries> {
        self.publish
            .iter()
            .find(|s| s.mode == mode && s.ports == ports)
    }

    pub fn level(&self, ports: usize) -> Option<&Level> {
        self.levels.iter().find(|l| l.ports == ports)
    }
}

/// `count` ports from `first` (host port = container port), as one range binding or as
/// `count` separate ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ports {
    pub first: u16,
    pub count: u16,
    pub range: bool,
}

impl Ports {
    fn none() -> Self {
        Self {
            first: 0,
            count: 0,
            range: false,
        }
    }

    /// The `PortBindings` of cnm's `POST /sandboxes/create`.
    pub fn cnm_bindings(self) -> Value {
        let binding = |first: u16, last: u16| {
            json!({"Proto": "tcp", "ContainerPort": first, "ContainerPortEnd": last,
                   "HostIP": "", "HostPort": first, "HostPortEnd": last})
        };
        if self.count == 0 {
            return json!([]);
        }
        if self.range {
            return json!([binding(self.first, self.first + (self.count - 1))]);
        }
        Value::Array(
            (0..self.count)
                .map(|i| binding(self.first + i, self.first + i))
                .collect(),
        )
    }

    /// `ExposedPorts` and `HostConfig.PortBindings` of Docker's `POST /containers/create`, as
    /// `docker run -p` sends them (the CLI expands a range into one binding per port).
    pub fn docker_config(self) -> (Value, Value) {
        let mut exposed = serde_json::Map::new();
        let mut bindings = serde_json::Map::new();
        for i in 0..self.count {
            let port = self.first + i;
            exposed.insert(format!("{port}/tcp"), json!({}));
            bindings.insert(
                format!("{port}/tcp"),
                json!([{"HostIp": "", "HostPort": port.to_string()}]),
            );
        }
        (Value::Object(exposed), Value::Object(bindings))
    }
}

fn name(what: &str) -> String {
    format!("{PREFIX}{what}")
}

/// Brings up a holder on `network` with `ports` published: cnm's sandbox create, or dockerd's
/// create + start (`docker run -d -p`). Returns the wall time.
async fn up(d: &mut Daemon, holder: &str, network: &str, ports: Ports) -> anyhow::Result<Duration> {
    match d.kind {
        Kind::Cnm => {
            let body = json!({"Name": holder, "Networks": [{"Network": network}],
                              "PortBindings": ports.cnm_bindings()});
            Ok(d.client()
                .post("/sandboxes/create", &body)
                .await?
                .ok(&format!("create sandbox {holder}"))?
                .elapsed)
        }
        Kind::Dockerd => {
            let (exposed, bindings) = ports.docker_config();
            let body = json!({"Image": "bb", "Cmd": ["sleep", "1d"], "ExposedPorts": exposed,
                              "HostConfig": {"NetworkMode": network, "PortBindings": bindings}});
            let create = d
                .client()
                .post(&format!("/containers/create?name={holder}"), &body)
                .await?
                .ok(&format!("create container {holder}"))?
                .elapsed;
            let start = d
                .client()
                .post_empty(&format!("/containers/{holder}/start"))
                .await?
                .ok(&format!("start container {holder}"))?
                .elapsed;
            Ok(create + start)
        }
    }
}

/// cnm: a sandbox on the internal network `bench-pi` holding `ports` that are not published yet.
async fn park(d: &mut Daemon, holder: &str, ports: Ports) -> anyhow::Result<()> {
    up(d, holder, &name("pi"), ports).await.map(|_| ())
}

fn children(d: &Daemon) -> (usize, usize) {
    let kids = rss::helpers(d.pid(), None);
    let proxies = kids
        .iter()
        .filter(|(_, c)| c.contains("docker-proxy"))
        .count();
    (kids.len(), proxies)
}

fn memory(d: &Daemon) -> anyhow::Result<PortsMemory> {
    let own = rss::resident(d.pid())?;
    let mut m = PortsMemory {
        own_rss_kib: own.total_kib,
        own_pss_kib: rss::pss_kib(d.pid()).unwrap_or(0),
        ..PortsMemory::default()
    };
    for (pid, cmdline) in rss::helpers(d.pid(), d.helper_marker()) {
        let Ok(r) = rss::resident(pid) else { continue };
        m.helpers_rss_kib += r.total_kib;
        m.helpers_pss_kib += rss::pss_kib(pid).unwrap_or(0);
        m.helpers += 1;
        m.proxies += usize::from(cmdline.contains("docker-proxy"));
    }
    Ok(m)
}

fn log_summary(label: &str, s: &Summary) {
    progress(&format!(
        "{label}: median {:.2} ms (min {:.2}, max {:.2}, n={})",
        s.median_ms, s.min_ms, s.max_ms, s.count
    ));
}

/// The publish series of `ports` ports (step 2).
async fn publish_series(
    d: &mut Daemon,
    ports: Ports,
    reps: usize,
    out: &mut Vec<PublishSeries>,
) -> anyhow::Result<()> {
    let count = usize::from(ports.count);
    if d.kind == Kind::Cnm {
        let (mut ups, mut downs, mut kids) = (Vec::new(), Vec::new(), (0, 0));
        for i in 0..reps {
            let holder = name(&format!("pc-{count}-{i}"));
            park(d, &holder, ports).await?;
            ups.push(d.connect(&name("pn"), &holder).await?);
            kids = children(d);
            downs.push(d.disconnect(&name("pn"), &holder).await?);
            d.remove_holder(&holder).await?;
        }
        let (up, down) = (summarize(&ups), summarize(&downs));
        log_summary(&format!("connect publishing {count} ports"), &up);
        log_summary(&format!("disconnect unpublishing {count} ports"), &down);
        out.push(PublishSeries {
            mode: "connect".into(),
            ports: count,
            up: Some(up),
            down: Some(down),
            children: kids.0,
            proxies: kids.1,
            skipped: None,
        });
    }
    let (mut ups, mut downs, mut kids) = (Vec::new(), Vec::new(), (0, 0));
    for i in 0..reps {
        let holder = name(&format!("pr-{count}-{i}"));
        let started = Instant::now();
        ups.push(up(d, &holder, &name("pn"), ports).await?);
        kids = children(d);
        downs.push(d.remove_holder(&holder).await?);
        progress(&format!(
            "{} with {count} ports up and down in {:.2} s",
            d.kind.holder(),
            started.elapsed().as_secs_f64()
        ));
    }
    let (up, down) = (summarize(&ups), summarize(&downs));
    log_summary(&format!("{} up with {count} ports", d.kind.holder()), &up);
    log_summary(&format!("{} removal", d.kind.holder()), &down);
    out.push(PublishSeries {
        mode: "run".into(),
        ports: count,
        up: Some(up),
        down: Some(down),
        children: kids.0,
        proxies: kids.1,
        skipped: None,
    });
    Ok(())
}

/// Step 3 at one level: the holders up to `level` ports must exist already.
async fn level(d: &mut Daemon, plan: &PortsPlan, level: usize) -> anyhow::Result<Level> {
    tokio::time::sleep(Duration::from_secs(1)).await; // let freed buffers settle
    let memory = memory(d)?;
    progress(&format!(
        "{level} ports published: daemon RSS {} KiB (PSS {}), helpers {} KiB (PSS {}) in {} processes, {} docker-proxy",
        memory.own_rss_kib,
        memory.own_pss_kib,
        memory.helpers_rss_kib,
        memory.helpers_pss_kib,
        memory.helpers,
        memory.proxies
    ));
    let holder = name("holder");
    let (pn2, single) = (name("pn2"), name("single"));
    let one = Ports {
        first: SINGLE_PORT,
        count: 1,
        range: false,
    };
    let [mut c, mut dc, mut pc, mut pd, mut ru, mut rd]: [Vec<Duration>; 6] = Default::default();
    // Holders with one port: docker run costs ~0.5 s, so fewer of them on dockerd.
    let run_reps = match d.kind {
        Kind::Cnm => plan.connect_reps,
        Kind::Dockerd => plan.reps,
    };
    let parked = name("parked");
    if d.kind == Kind::Cnm {
        park(d, &parked, one).await?;
    }
    // The three kinds of operation take turns, so that a disturbance of the shared machine
    // hits them alike; the first turn is a warm-up.
    for i in 0..=plan.connect_reps.max(run_reps) {
        let keep = i > 0;
        if i <= plan.connect_reps {
            let t = (
                d.connect(&pn2, &holder).await?,
                d.disconnect(&pn2, &holder).await?,
            );
            if keep {
                c.push(t.0);
                dc.push(t.1);
            }
            if d.kind == Kind::Cnm {
                let t = (
                    d.connect(&name("pn"), &parked).await?,
                    d.disconnect(&name("pn"), &parked).await?,
                );
                if keep {
                    pc.push(t.0);
                    pd.push(t.1);
                }
            }
        }
        if i <= run_reps {
            let t = (
                up(d, &single, &name("pn"), one).await?,
                d.remove_holder(&single).await?,
            );
            if keep {
                ru.push(t.0);
                rd.push(t.1);
            }
        }
    }
    if d.kind == Kind::Cnm {
        d.remove_holder(&parked).await?;
    }
    let result = Level {
        ports: level,
        memory,
        connect: summarize(&c),
        disconnect: summarize(&dc),
        publish1_connect: (!pc.is_empty()).then(|| summarize(&pc)),
        publish1_disconnect: (!pd.is_empty()).then(|| summarize(&pd)),
        run1_up: summarize(&ru),
        run1_down: summarize(&rd),
    };
    log_summary(&format!("{level} published: connect"), &result.connect);
    if let Some(s) = &result.publish1_connect {
        log_summary(&format!("{level} published: connect publishing 1 port"), s);
    }
    log_summary(
        &format!("{level} published: {} up with 1 port", d.kind.holder()),
        &result.run1_up,
    );
    Ok(result)
}

pub async fn run(d: &mut Daemon, plan: &PortsPlan) -> anyhow::Result<PortsResults> {
    let started = Instant::now();
    let version = d.version().await?;
    progress(&format!("{} {version}: ports plan {plan:?}", d.kind.name()));
    let idle = memory(d)?;
    for net in ["pn", "pn2"] {
        d.create_network(&name(net)).await?;
    }
    if d.kind == Kind::Cnm {
        let body = json!({"Name": name("pi"), "Driver": "bridge", "Internal": true});
        d.client()
            .post("/networks/create", &body)
            .await?
            .ok("create internal network")?;
    }
    // Warm-up: a holder with one port up and down, not timed.
    let one = Ports {
        first: PUBLISH_BASE,
        count: 1,
        range: false,
    };
    up(d, &name("warm"), &name("pn"), one).await?;
    d.remove_holder(&name("warm")).await?;

    let mut publish = Vec::new();
    for (count, range) in [(0u16, false), (1, false), (100, false), (1000, true)] {
        let ports = Ports {
            first: PUBLISH_BASE,
            count,
            range,
        };
        let reps = if count >= 1000 && d.kind == Kind::Dockerd {
            plan.large_reps
        } else {
            plan.reps
        };
        if count >= 1000
            && d.kind == Kind::Dockerd
            && let Some(hundred) = publish
                .iter()
                .find(|s: &&PublishSeries| s.mode == "run" && s.ports == 100)
        {
            let ms = |s: &Option<Summary>| s.as_ref().map_or(0.0, |s| s.median_ms);
            let estimate = 10.0 * (ms(&hundred.up) + ms(&hundred.down)) / 1000.0;
            if estimate > plan.budget_s || reps == 0 {
                let why = format!(
                    "not run: 100 ports took {:.1} s up and {:.1} s down, so 1000 would take about {estimate:.0} s (budget {:.0} s)",
                    ms(&hundred.up) / 1000.0,
                    ms(&hundred.down) / 1000.0,
                    plan.budget_s
                );
                progress(&why);
                publish.push(PublishSeries {
                    mode: "run".into(),
                    ports: usize::from(count),
                    up: None,
                    down: None,
                    children: 0,
                    proxies: 0,
                    skipped: Some(why),
                });
                continue;
            }
        }
        progress(&format!(
            "publish series: {count} ports{}, {reps} times",
            if range { " (one range)" } else { "" }
        ));
        publish_series(d, ports, reps, &mut publish).await?;
    }

    // Fill levels: holders with FILL_PER_HOLDER ports each, on bench-pn.
    up(d, &name("holder"), &name("pn"), Ports::none()).await?;
    let mut levels = Vec::new();
    let mut published = 0usize;
    let mut fills = 0usize;
    let mut sorted = plan.levels.clone();
    sorted.sort_unstable();
    for target in sorted {
        while published < target {
            let first = FILL_BASE as usize + published;
            let ports = Ports {
                first: u16::try_from(first).context("fill beyond port 65535")?,
                count: FILL_PER_HOLDER as u16,
                range: false,
            };
            up(d, &name(&format!("fill-{fills:03}")), &name("pn"), ports).await?;
            fills += 1;
            published += FILL_PER_HOLDER;
        }
        progress(&format!("{published} ports published on {fills} holders"));
        levels.push(level(d, plan, published).await?);
    }
    progress("removing what the run created");
    d.cleanup().await?;
    Ok(PortsResults {
        daemon: d.kind.name().into(),
        version,
        idle,
        publish,
        levels,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_one_cnm_binding_and_separate_ports_are_many() {
        let range = Ports {
            first: 20000,
            count: 1000,
            range: true,
        };
        let b = range.cnm_bindings();
        assert_eq!(b.as_array().unwrap().len(), 1);
        assert_eq!(b[0]["HostPort"], 20000);
        assert_eq!(b[0]["HostPortEnd"], 20999);
        assert_eq!(b[0]["ContainerPortEnd"], 20999);
        let many = Ports {
            first: 30000,
            count: 100,
            range: false,
        };
        let b = many.cnm_bindings();
        assert_eq!(b.as_array().unwrap().len(), 100);
        assert_eq!(b[99]["HostPort"], 30099);
        assert_eq!(b[99]["HostPortEnd"], 30099);
        assert_eq!(Ports::none().cnm_bindings(), json!([]));
    }

    #[test]
    fn docker_gets_one_binding_per_port_even_for_a_range() {
        let range = Ports {
            first: 20000,
            count: 3,
            range: true,
        };
        let (exposed, bindings) = range.docker_config();
        assert_eq!(exposed.as_object().unwrap().len(), 3);
        assert_eq!(bindings["20002/tcp"][0]["HostPort"], "20002");
    }
}
