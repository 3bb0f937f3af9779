//! Crash convergence under chaos (issue 7): a long seeded random sequence of API operations
//! (networks with explicit or dynamic subnets, some `--internal`; sandboxes, some publishing
//! 80/tcp on a free host port; connect; disconnect), with the daemon killed by SIGKILL at
//! random points, often while an operation is in flight, and restarted each time.
//!
//! After every restart, and at the end, the test fails on the first broken invariant, naming
//! it: the API's view equals the kernel's and no address is given out twice
//! (`invariants::check`); every acknowledged network, sandbox and connection exists, as
//! acknowledged, and nothing removed or refused exists; the network and sandbox views agree;
//! an interrupted operation left one of its possible outcomes; each sandbox's default route
//! goes through its gateway endpoint; published ports keep their host port and are reachable
//! through 127.0.0.1; the firewall holds exactly the kernel's bridges and no stale or missing
//! NAT element; the doctor finds no drift; the daemon started without help and never panicked.
//! Valid operations must be accepted and invalid ones refused (as Docker words it), so a
//! stale endpoint or a leaked address fails the run where it first bites. The end removes
//! everything and proves no address or pool leaked: the 13-address anchor network fills up
//! completely, and a new dynamic network gets the first pool again.
//!
//! Known gaps of the daemon are listed in the report and fail the test only with
//! `CNM_CHAOS_STRICT=1`. Fixed since they were found here: an interrupted sandbox create or
//! removal left half done (now an intent record, finished at start), a lost default route
//! (re-asserted at start), a reused address's stale neighbour entry (forgotten on attach),
//! and a sandbox whose gateway endpoint went away in an interrupted disconnect coming back
//! without its published ports (re-published on the new gateway endpoint at start; the exact
//! crash is reproduced by `tests/crash_points.rs`), which now always fails the test.
//!
//! Environment: `CNM_CHAOS_SEED` (default: from the clock; always printed; a seed replays the
//! same choices as long as interrupted operations settle the same way), `CNM_CHAOS_OPS`
//! (default 500), `CNM_CHAOS_KILLS` (default 25), `CNM_CHAOS_STRICT=1`, `CNM_CHAOS_PAUSE=1`
//! (on failure, wait 5 minutes before cleaning up, to look around with
//! `nsenter -t <daemon pid> -n -m`). `scripts/chaos` runs a longer one. Run as root:
//! `cargo nextest run -p cnm --test chaos --no-capture`.

mod support;

#[path = "support/chaos_checks.rs"]
mod chaos_checks;
#[path = "support/chaos_client.rs"]
mod chaos_client;
#[path = "support/chaos_firewall.rs"]
mod chaos_firewall;
#[path = "support/chaos_model.rs"]
mod chaos_model;
#[path = "support/chaos_ops.rs"]
mod chaos_ops;
#[path = "support/chaos_ports.rs"]
mod chaos_ports;
#[path = "support/chaos_report.rs"]
mod chaos_report;

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use chaos_checks::{Broken, Checks, inspect};
use chaos_model::{ANCHOR, ANCHOR_CAPACITY, ANCHOR_SUBNET, Model, Settled};
use chaos_ops::{Expect, Op, Rng, next_op};
use chaos_report::Tally;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::TestHost;
use support::api::api;

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// Invariants `support::invariants::check` evaluates per round: sandbox namespaces exist,
/// endpoint addresses are in the kernel, no address given twice, one host veth per endpoint,
/// veths sit on bridges, one namespace file per sandbox, one bridge per bridge network.
const KERNEL_INVARIANTS: usize = 7;

struct Chaos {
    host: TestHost,
    model: Model,
    checks: Checks,
    rng: Rng,
    seed: u64,
    /// `CNM_CHAOS_STRICT=1`: known gaps (a half-done interrupted operation, a stale
    /// neighbour entry) fail the test.
    strict: bool,
    tally: Tally,
    /// Bytes of the daemon log already scanned for panics.
    log_seen: usize,
}

impl Chaos {
    /// Fails the test naming the invariant, with what is needed to replay it.
    fn fail(&self, at: &str, b: Broken) -> ! {
        if std::env::var_os("CNM_CHAOS_PAUSE").is_some() {
            eprintln!(
                "PAUSED: daemon pid {:?}: {} {}",
                self.host.daemon_pid(),
                b.invariant,
                b.detail.chars().take(300).collect::<String>()
            );
            std::thread::sleep(Duration::from_secs(300));
        }
        panic!(
            "chaos: invariant '{}' broken {at}: {}\n(replay with CNM_CHAOS_SEED={} CNM_CHAOS_OPS=.. CNM_CHAOS_KILLS=..)\ndaemon log tail:\n{}",
            b.invariant,
            b.detail,
            self.seed,
            tail(&self.host.daemon_log(), 40)
        )
    }

    fn check(&mut self, at: &str) {
        support::invariants::check(&self.host, &format!("chaos seed {} {at}", self.seed));
        self.tally.check_rounds += 1;
        self.checks.evaluated += KERNEL_INVARIANTS;
        if let Err(b) = self.checks.run(&self.host, &mut self.model) {
            self.fail(at, b);
        }
        let log = self.host.daemon_log();
        if let Some(line) = log[self.log_seen..]
            .lines()
            .find(|l| l.contains("panicked"))
        {
            let b = Broken {
                invariant: "the daemon never panics",
                detail: line.to_string(),
            };
            self.fail(at, b);
        }
        self.log_seen = log.len();
    }

    /// Runs one operation; with `kill_after`, a thread SIGKILLs the daemon that long after
    /// the request starts. Returns the HTTP status (0: no answer).
    fn perform(&mut self, step: usize, op: &Op, kill_after: Option<Duration>) -> u16 {
        if let Some(name) = op.removed_sandbox() {
            self.checks.drop_listener(name);
        }
        let expect = op.expect(&self.model);
        let (method, path, body) = op.request();
        let killer = kill_after.map(|delay| {
            let pid = self.host.daemon_pid().expect("daemon running");
            // The daemon is our child and is only reaped by `kill9` below, so its PID cannot
            // be reused before this signal lands.
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            })
        });
        let (code, answer) =
            chaos_client::call(&self.host.socket_path(), method, &path, body.as_deref());
        if let Some(killer) = killer {
            killer.join().expect("killer thread");
        }
        self.tally.ops += 1;
        let at = format!("at op {step} ({op:?})");
        let fail =
            |this: &Self, invariant, detail: String| this.fail(&at, Broken { invariant, detail });
        match code {
            200..=299 if expect == Expect::Accept => {
                self.model.apply(op, &answer);
                self.tally.acknowledged += 1;
            }
            200..=299 => fail(
                self,
                "invalid operations are refused",
                format!("{code} {answer}"),
            ),
            _ if expect == Expect::Refuse && op.is_docker_refusal(code, &answer) => {
                self.tally.refused += 1
            }
            400..=499 => fail(
                self,
                "valid operations are accepted",
                format!("{code} {answer}"),
            ),
            0 if kill_after.is_some() => self.tally.interrupted += 1,
            _ => fail(
                self,
                "the daemon answers without a server error",
                format!("{code} {answer}"),
            ),
        }
        code
    }

    /// Kills the daemon (already dead when a killer thread ran), restarts it, settles an
    /// interrupted operation and checks everything.
    fn crash_and_check(&mut self, step: usize, interrupted: Option<&Op>) {
        self.host.kill9();
        self.tally.kills += 1;
        let at = format!("after kill {} (op {step})", self.tally.kills);
        let started = Instant::now();
        // `start` panics, with the daemon's log, unless it answers /_ping within 20 s.
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.host.start())) {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| "start panicked".into());
            let b = Broken {
                invariant: "the daemon starts cleanly after a kill",
                detail,
            };
            self.fail(&at, b);
        }
        self.tally.slowest_start = self.tally.slowest_start.max(started.elapsed());
        if let Some(op) = interrupted {
            if let Some(name) = op.removed_sandbox() {
                self.checks.drop_listener(name);
            }
            let (net, sb) = match op {
                Op::CreateNetwork { name, .. } | Op::RemoveNetwork { name } => (Some(name), None),
                Op::CreateSandbox { name, .. } | Op::RemoveSandbox { name } => (None, Some(name)),
                Op::Connect { sandbox, .. } | Op::Disconnect { sandbox, .. } => {
                    (None, Some(sandbox))
                }
            };
            let fetch = |kind, name: Option<&String>| match name {
                Some(n) => inspect(&self.host, kind, n).unwrap_or_else(|b| self.fail(&at, b)),
                None => None,
            };
            let (net, sb) = (fetch("networks", net), fetch("sandboxes", sb));
            let settled = self
                .model
                .reconcile(op, net.as_ref(), sb.as_ref())
                .unwrap_or_else(|detail| {
                    self.fail(
                        &at,
                        Broken {
                            invariant: "an interrupted operation leaves a possible outcome",
                            detail,
                        },
                    )
                });
            eprintln!(
                "chaos: op {step} interrupted by kill {}: {settled:?} ({op:?})",
                self.tally.kills
            );
            match settled {
                Settled::Done => self.tally.interrupted_done += 1,
                Settled::NotDone => {}
                Settled::Partial(detail) if self.strict => self.fail(
                    &at,
                    Broken {
                        invariant: "an interrupted operation is all or nothing",
                        detail,
                    },
                ),
                Settled::Partial(detail) => self.tally.partial.push(format!("op {step}: {detail}")),
            }
        }
        self.check(&at);
    }

    /// Removes everything, then proves nothing leaked: the anchor's 13 addresses can all be
    /// given out again, and a new dynamic network gets the first pool again.
    fn drain_and_prove_no_leak(&mut self, first_pool: &str) {
        let sandboxes: Vec<String> = self.model.sandboxes.keys().cloned().collect();
        for (i, name) in sandboxes.into_iter().enumerate() {
            self.perform(1_000_000 + i, &Op::RemoveSandbox { name }, None);
        }
        let networks: Vec<String> = self
            .model
            .networks
            .keys()
            .filter(|n| *n != ANCHOR)
            .cloned()
            .collect();
        for (i, name) in networks.into_iter().enumerate() {
            self.perform(2_000_000 + i, &Op::RemoveNetwork { name }, None);
        }
        self.check("after removing everything");
        for i in 0..=ANCHOR_CAPACITY {
            let op = Op::CreateSandbox {
                name: format!("fill{i}"),
                networks: vec![ANCHOR.into()],
                port: false,
            };
            // The 14th must be refused (pool full), not fail with a server error.
            self.perform(3_000_000 + i, &op, None);
        }
        let filled = self.model.users_of(ANCHOR);
        assert_eq!(
            filled, ANCHOR_CAPACITY,
            "chaos seed {}: invariant 'no address leaked' broken: the anchor took {filled} of {ANCHOR_CAPACITY} sandboxes",
            self.seed
        );
        self.check("with the anchor full");
        let pool = dynamic_pool(&self.host, "leakcheck");
        assert_eq!(
            pool, first_pool,
            "chaos seed {}: invariant 'no pool leaked' broken",
            self.seed
        );
    }
}

/// Creates a dynamic network, returns its subnet and removes it.
fn dynamic_pool(host: &TestHost, name: &str) -> String {
    let body = format!(r#"{{"Name":"{name}"}}"#);
    let (code, out) = api(host, "POST", "/networks/create", Some(&body));
    assert_eq!(code, 201, "{out}");
    let net = inspect(host, "networks", name)
        .ok()
        .flatten()
        .expect("new network");
    assert_eq!(
        api(host, "DELETE", &format!("/networks/{name}"), None).0,
        204
    );
    net["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .expect("subnet")
        .to_string()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[test]
fn random_operations_with_sigkill_converge() {
    if !support::root_or_loud_skip("chaos") {
        return;
    }
    let seed = env_number(
        "CNM_CHAOS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    );
    let ops = env_number("CNM_CHAOS_OPS", 500) as usize;
    let kills = (env_number("CNM_CHAOS_KILLS", 25) as usize).min(ops);
    let strict = env_number("CNM_CHAOS_STRICT", 0) == 1;
    eprintln!(
        "chaos: seed {seed}, {ops} operations, {kills} kills, strict {strict} (CNM_CHAOS_SEED={seed} replays this run)"
    );
    let began = Instant::now();
    // Docker's 31 predefined pools would run out over hundreds of networks.
    let host = TestHost::new(&["--default-address-pool", "base=10.128.0.0/9,size=24"]);
    let mut rng = Rng::new(seed);
    let mut kill_points = BTreeSet::new();
    while kill_points.len() < kills {
        kill_points.insert(rng.below(ops as u64) as usize);
    }
    let mut chaos = Chaos {
        host,
        model: Model::default(),
        checks: Checks::new(strict),
        rng,
        seed,
        strict,
        tally: Tally::default(),
        log_seen: 0,
    };
    let first_pool = dynamic_pool(&chaos.host, "firstpool");
    let anchor = Op::CreateNetwork {
        name: ANCHOR.into(),
        subnet: Some(ANCHOR_SUBNET.into()),
        internal: false,
    };
    assert_eq!(chaos.perform(0, &anchor, None), 201, "anchor network");
    chaos.check("at the start");

    for step in 1..=ops {
        let op = next_op(&chaos.model, &mut chaos.rng, step);
        if !kill_points.contains(&(step - 1)) {
            chaos.perform(step, &op, None);
            continue;
        }
        // Three kills in four land while the operation is in flight (0-10 ms after the
        // request starts, so before, during or just after the daemon's work).
        if chaos.rng.chance(75) {
            let delay = Duration::from_micros(chaos.rng.below(10_001));
            let code = chaos.perform(step, &op, Some(delay));
            chaos.tally.kills_in_flight += 1;
            let interrupted = (code == 0).then_some(&op);
            chaos.crash_and_check(step, interrupted);
        } else {
            chaos.perform(step, &op, None);
            chaos.crash_and_check(step, None);
        }
    }
    chaos.check("after the last operation");
    chaos.drain_and_prove_no_leak(&first_pool);

    chaos.tally.print(seed, &chaos.checks, began.elapsed());
}
