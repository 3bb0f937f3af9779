//! The measurement plan, run the same way against either daemon.
//!
//! Contract, in order (each series preceded by `warmup` untimed iterations):
//! 1. memory idle (the daemon was just started);
//! 2. `endpoints` holders (sandboxes / containers) on one network (creation timed), memory,
//!    removal timed — early, so that reading is not inflated by what the allocator kept from
//!    the 1000-network phase;
//! 3. a holder on network `base`: `connect_pairs` timed connect and disconnect of a second
//!    network;
//! 4. fill: create `networks` bridge networks one at a time, timing each; memory at 100 and
//!    at `compare_at` networks; at `compare_at`, time `lookups` `GET /networks` and
//!    `GET /networks/{id}` (ids taken with a stride); at the end, `GET /networks` again;
//! 5. remove them all, last created first, timing each (the series `network_rm` is the removals
//!    from `compare_at` down to 0, the same state range on both daemons).
//!
//! It leaves nothing behind when it succeeds; `cleanup` removes what a failed run left.

use std::time::{Duration, Instant};

use crate::daemon::{Daemon, PREFIX};
use crate::results::{Block, MemoryPoint, Op, Plan, Results, key, mem};
use crate::stats::summarize;

pub(crate) fn progress(text: &str) {
    eprintln!("  [{}] {text}", chrono_less_clock());
}

/// Seconds since the Unix epoch modulo a day, as HH:MM:SS (UTC), without a time crate.
fn chrono_less_clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

struct Recorder {
    ops: Vec<Op>,
    memory: Vec<MemoryPoint>,
}

impl Recorder {
    fn op(&mut self, key: &str, label: &str, samples: &[Duration]) {
        if samples.is_empty() {
            return;
        }
        let summary = summarize(samples);
        progress(&format!(
            "{label}: median {:.2} ms, p90 {:.2} ms (n={})",
            summary.median_ms, summary.p90_ms, summary.count
        ));
        self.ops.push(Op {
            key: key.into(),
            label: label.into(),
            summary,
        });
    }

    fn memory(&mut self, daemon: &Daemon, key: &str, label: &str) -> anyhow::Result<()> {
        let m = daemon.memory()?;
        progress(&format!(
            "memory {label}: {} KiB (anon {}, file {}; helpers: {} KiB in {})",
            m.own_kib, m.own_anon_kib, m.own_file_kib, m.helpers_kib, m.helpers
        ));
        self.memory.push(MemoryPoint {
            key: key.into(),
            label: label.into(),
            own_kib: m.own_kib,
            own_anon_kib: m.own_anon_kib,
            own_file_kib: m.own_file_kib,
            helpers_kib: m.helpers_kib,
            helpers: m.helpers,
        });
        Ok(())
    }
}

pub async fn run(daemon: &mut Daemon, plan: Plan) -> anyhow::Result<Results> {
    let started = Instant::now();
    let version = daemon.version().await?;
    progress(&format!("{} {version}: plan {plan:?}", daemon.kind.name()));
    let mut rec = Recorder {
        ops: Vec::new(),
        memory: Vec::new(),
    };
    rec.memory(daemon, mem::IDLE, "idle")?;
    endpoints(daemon, &plan, &mut rec).await?;
    connect_disconnect(daemon, &plan, &mut rec).await?;

    let create_times = fill_and_drain(daemon, &plan, &mut rec).await?;
    let create_blocks = create_times
        .chunks(plan.block)
        .enumerate()
        .map(|(i, chunk)| Block {
            from: i * plan.block,
            to: i * plan.block + chunk.len(),
            summary: summarize(chunk),
        })
        .collect();

    Ok(Results {
        daemon: daemon.kind.name().into(),
        version,
        plan,
        ops: rec.ops,
        create_blocks,
        memory: rec.memory,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Steps 4 and 5; returns every create time in creation order.
async fn fill_and_drain(
    daemon: &mut Daemon,
    plan: &Plan,
    rec: &mut Recorder,
) -> anyhow::Result<Vec<Duration>> {
    for i in 0..plan.warmup {
        let (id, _) = daemon.create_network(&format!("{PREFIX}warm-{i}")).await?;
        daemon.remove_network(&id).await?;
    }
    progress(&format!("creating {} networks", plan.networks));
    let mut ids = Vec::with_capacity(plan.networks);
    let mut creates = Vec::with_capacity(plan.networks);
    for i in 0..plan.networks {
        let (id, took) = daemon
            .create_network(&format!("{PREFIX}net-{i:04}"))
            .await?;
        ids.push(id);
        creates.push(took);
        let count = i + 1;
        if count % plan.block == 0 {
            let block = summarize(&creates[count - plan.block..]);
            progress(&format!(
                "{count} networks; create median of the last {}: {:.2} ms",
                plan.block, block.median_ms
            ));
        }
        if count == 100 {
            rec.memory(daemon, mem::NETWORKS_100, "100 networks")?;
        }
        if count == plan.compare_at {
            rec.memory(daemon, mem::NETWORKS_COMPARE, &format!("{count} networks"))?;
            lookups(daemon, plan, &ids, rec).await?;
        }
    }
    let create_label = format!(
        "POST /networks/create (networks 0→{})",
        plan.compare_at.min(plan.networks)
    );
    rec.op(
        key::CREATE,
        &create_label,
        &creates[..plan.compare_at.min(plan.networks)],
    );
    if plan.networks > plan.compare_at {
        let mut full = Vec::new();
        for _ in 0..plan.warmup.max(1) {
            daemon.list_networks().await?;
        }
        for _ in 0..plan.lookups {
            full.push(daemon.list_networks().await?.1);
        }
        rec.op(
            key::LIST_FULL,
            &format!("GET /networks ({} networks)", plan.networks),
            &full,
        );
    }

    progress(&format!(
        "removing {} networks, last created first",
        ids.len()
    ));
    let mut above = Vec::new();
    let mut removes = Vec::new();
    while let Some(id) = ids.pop() {
        let took = daemon.remove_network(&id).await?;
        if ids.len() >= plan.compare_at {
            above.push(took)
        } else {
            removes.push(took)
        }
    }
    rec.op(
        key::REMOVE,
        &format!(
            "DELETE /networks/{{id}} (networks {}→0)",
            plan.compare_at.min(plan.networks)
        ),
        &removes,
    );
    rec.op(
        key::REMOVE_ABOVE,
        &format!(
            "DELETE /networks/{{id}} (networks {}→{})",
            plan.networks, plan.compare_at
        ),
        &above,
    );
    Ok(creates)
}

/// `GET /networks` and `GET /networks/{id}`, with `ids.len()` networks present.
async fn lookups(
    daemon: &mut Daemon,
    plan: &Plan,
    ids: &[String],
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    let (listed, _) = daemon.list_networks().await?;
    anyhow::ensure!(
        listed.len() >= ids.len(),
        "GET /networks listed {} networks, expected at least {}",
        listed.len(),
        ids.len()
    );
    for i in 0..plan.warmup {
        daemon.inspect_network(&ids[i % ids.len()]).await?;
        daemon.list_networks().await?;
    }
    let mut lists = Vec::with_capacity(plan.lookups);
    for _ in 0..plan.lookups {
        lists.push(daemon.list_networks().await?.1);
    }
    // A stride co-prime with most counts spreads the inspected ids over the whole set.
    let mut inspects = Vec::with_capacity(plan.lookups);
    for i in 0..plan.lookups {
        inspects.push(daemon.inspect_network(&ids[(i * 37) % ids.len()]).await?);
    }
    rec.op(
        key::LIST,
        &format!("GET /networks ({} networks)", ids.len()),
        &lists,
    );
    rec.op(
        key::INSPECT,
        &format!("GET /networks/{{id}} ({} networks)", ids.len()),
        &inspects,
    );
    Ok(())
}

/// Step 3: connect and disconnect a second network to a live holder attached to `base`.
async fn connect_disconnect(
    daemon: &mut Daemon,
    plan: &Plan,
    rec: &mut Recorder,
) -> anyhow::Result<()> {
    let base = format!("{PREFIX}base");
    let second = format!("{PREFIX}second");
    let holder = format!("{PREFIX}x");
    let (base_id, _) = daemon.create_network(&base).await?;
    let (second_id, _) = daemon.create_network(&second).await?;
    daemon.create_holder(&holder, &base).await?;
    for _ in 0..plan.warmup {
        daemon.connect(&second, &holder).await?;
        daemon.disconnect(&second, &holder).await?;
    }
    progress(&format!(
        "{} connect/disconnect pairs of a live {}",
        plan.connect_pairs,
        daemon.kind.holder()
    ));
    let (mut connects, mut disconnects) = (Vec::new(), Vec::new());
    for _ in 0..plan.connect_pairs {
        connects.push(daemon.connect(&second, &holder).await?);
        disconnects.push(daemon.disconnect(&second, &holder).await?);
    }
    rec.op(key::CONNECT, "POST /networks/{id}/connect", &connects);
    rec.op(
        key::DISCONNECT,
        "POST /networks/{id}/disconnect",
        &disconnects,
    );
    daemon.remove_holder(&holder).await?;
    daemon.remove_network(&second_id).await?;
    daemon.remove_network(&base_id).await?;
    Ok(())
}

/// Step 2: `endpoints` holders on one network.
async fn endpoints(daemon: &mut Daemon, plan: &Plan, rec: &mut Recorder) -> anyhow::Result<()> {
    if plan.endpoints == 0 {
        return Ok(());
    }
    let network = format!("{PREFIX}ep");
    let (network_id, _) = daemon.create_network(&network).await?;
    let holder = daemon.kind.holder();
    let holders = daemon.kind.holders();
    progress(&format!(
        "creating {} {holders} on one network",
        plan.endpoints
    ));
    let names: Vec<String> = (0..plan.endpoints)
        .map(|i| format!("{PREFIX}ep-{i:03}"))
        .collect();
    let mut creates = Vec::new();
    for (i, name) in names.iter().enumerate() {
        creates.push(daemon.create_holder(name, &network).await?);
        if (i + 1) % 50 == 0 {
            progress(&format!("{} {holders}", i + 1));
        }
    }
    rec.memory(
        daemon,
        mem::ENDPOINTS,
        &format!("{} endpoints on one network", plan.endpoints),
    )?;
    let mut removes = Vec::new();
    for name in names.iter().rev() {
        removes.push(daemon.remove_holder(name).await?);
    }
    daemon.remove_network(&network_id).await?;
    rec.op(
        key::HOLDER_CREATE,
        &format!("{holder} create on a bridge network (0→{})", plan.endpoints),
        &creates,
    );
    rec.op(
        key::HOLDER_REMOVE,
        &format!("{holder} remove ({}→0)", plan.endpoints),
        &removes,
    );
    Ok(())
}
