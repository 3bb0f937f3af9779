//! `cnm-bench`: measures cnm and the reference dockerd through the same Engine API calls.
//!
//! Contract (driven by `bench/run`, which starts and stops the daemons):
//! - `cnm-bench measure --daemon cnm|dockerd --socket PATH --pid PID --out FILE [counts]`
//!   runs the plan of `measure.rs` against a running daemon and writes its results as JSON;
//!   on failure it removes what it created (everything named `bench-...`) and exits non-zero.
//! - `cnm-bench cleanup --daemon K --socket PATH --pid PID` removes what a run left behind.
//! - `cnm-bench report --cnm FILE --dockerd FILE --out RESULTS.md [--meta KEY=VALUE]...`
//!   prints the comparison table and writes the markdown report.
//! - `cnm-bench ports --daemon K --socket PATH --pid PID --out FILE [--reps N] [--large-reps N]
//!   [--connect-reps N] [--levels 0,1000,10000] [--budget-s S]` runs the published-ports plan
//!   of `ports.rs` (driven by `bench/ports`).
//! - `cnm-bench ports-report --cnm FILE --dockerd FILE --iperf TSV --out RESULTS-ports.md
//!   [--meta KEY=VALUE]...` writes the published-ports report and prints its goals.

mod daemon;
mod http;
mod measure;
mod ports;
mod ports_report;
mod report;
mod results;
mod rss;
mod stats;

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::daemon::{Daemon, Kind};
use crate::results::{Plan, Results};

/// `--key value` pairs; `--meta` may repeat.
struct Args {
    values: HashMap<String, String>,
    meta: Vec<(String, String)>,
}

impl Args {
    fn parse(raw: &[String]) -> anyhow::Result<Self> {
        let mut values = HashMap::new();
        let mut meta = Vec::new();
        let mut it = raw.iter();
        while let Some(flag) = it.next() {
            let name = flag
                .strip_prefix("--")
                .with_context(|| format!("unexpected argument {flag:?}"))?;
            let value = it
                .next()
                .with_context(|| format!("--{name} needs a value"))?;
            if name == "meta" {
                let (k, v) = value
                    .split_once('=')
                    .with_context(|| format!("--meta {value:?} is not KEY=VALUE"))?;
                meta.push((k.to_string(), v.to_string()));
            } else {
                values.insert(name.to_string(), value.clone());
            }
        }
        Ok(Self { values, meta })
    }

    fn required(&self, name: &str) -> anyhow::Result<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .with_context(|| format!("--{name} is required"))
    }

    fn count(&self, name: &str, default: usize) -> anyhow::Result<usize> {
        match self.values.get(name) {
            Some(v) => v
                .parse()
                .with_context(|| format!("--{name} {v:?} is not a count")),
            None => Ok(default),
        }
    }

    fn daemon(&self) -> anyhow::Result<Daemon> {
        let kind = Kind::parse(self.required("daemon")?)?;
        let socket = PathBuf::from(self.required("socket")?);
        let pid = self
            .required("pid")?
            .parse()
            .context("--pid is not a pid")?;
        Ok(Daemon::new(
            kind,
            &socket,
            pid,
            self.values.get("helper-marker").cloned(),
        ))
    }

    fn plan(&self) -> anyhow::Result<Plan> {
        let plan = Plan {
            networks: self.count("networks", 1000)?,
            compare_at: self.count("compare-at", 500)?,
            block: self.count("block", 100)?,
            connect_pairs: self.count("connect-pairs", 100)?,
            lookups: self.count("lookups", 100)?,
            endpoints: self.count("endpoints", 200)?,
            warmup: self.count("warmup", 5)?,
        };
        if plan.block == 0 || plan.lookups == 0 || plan.connect_pairs == 0 {
            bail!("--block, --lookups and --connect-pairs must be at least 1");
        }
        if plan.compare_at > plan.networks {
            bail!(
                "--compare-at ({}) must not exceed --networks ({})",
                plan.compare_at,
                plan.networks
            );
        }
        Ok(plan)
    }
}

fn read_results(path: &str) -> anyhow::Result<Results> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {path}"))?;
    serde_json::from_str(&text).with_context(|| format!("parse {path}"))
}

async fn measure(args: &Args) -> anyhow::Result<()> {
    let mut daemon = args.daemon()?;
    let plan = args.plan()?;
    let out = args.required("out")?;
    match measure::run(&mut daemon, plan).await {
        Ok(results) => {
            std::fs::write(out, serde_json::to_string_pretty(&results)?)
                .with_context(|| format!("write {out}"))?;
            Ok(())
        }
        Err(e) => {
            eprintln!("measurement failed: {e:#}; removing what it created");
            if let Err(c) = daemon.cleanup().await {
                eprintln!("cleanup failed too: {c:#}");
            }
            Err(e)
        }
    }
}

fn read_ports(path: &str) -> anyhow::Result<ports::PortsResults> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {path}"))?;
    serde_json::from_str(&text).with_context(|| format!("parse {path}"))
}

async fn measure_ports(args: &Args) -> anyhow::Result<()> {
    let mut daemon = args.daemon()?;
    let levels = args
        .values
        .get("levels")
        .map_or("0,1000,10000", String::as_str)
        .split(',')
        .map(|l| {
            l.trim()
                .parse::<usize>()
                .with_context(|| format!("--levels: {l:?}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let plan = ports::PortsPlan {
        reps: args.count("reps", 5)?,
        large_reps: args.count("large-reps", 1)?,
        connect_reps: args.count("connect-reps", 20)?,
        levels,
        budget_s: args.count("budget-s", 300)? as f64,
    };
    if plan.reps == 0 || plan.connect_reps == 0 {
        bail!("--reps and --connect-reps must be at least 1");
    }
    let out = args.required("out")?;
    match ports::run(&mut daemon, &plan).await {
        Ok(results) => std::fs::write(out, serde_json::to_string_pretty(&results)?)
            .with_context(|| format!("write {out}")),
        Err(e) => {
            eprintln!("measurement failed: {e:#}; removing what it created");
            if let Err(c) = daemon.cleanup().await {
                eprintln!("cleanup failed too: {c:#}");
            }
            Err(e)
        }
    }
}

fn report_ports(args: &Args) -> anyhow::Result<()> {
    let cnm = read_ports(args.required("cnm")?)?;
    let dockerd = read_ports(args.required("dockerd")?)?;
    let iperf = args.required("iperf")?;
    let text = std::fs::read_to_string(iperf).with_context(|| format!("read {iperf}"))?;
    let runs = ports_report::parse_iperf(&text)?;
    let thr = ports_report::throughput(&runs);
    for g in ports_report::goals(&cnm, &dockerd, &thr) {
        println!(
            "{:<4}  {}  ({})",
            if g.pass { "pass" } else { "MISS" },
            g.text,
            g.measured
        );
    }
    let out = args.required("out")?;
    std::fs::write(
        out,
        ports_report::markdown(&args.meta, &cnm, &dockerd, &runs),
    )
    .with_context(|| format!("write {out}"))
}

fn report(args: &Args) -> anyhow::Result<()> {
    let cnm = read_results(args.required("cnm")?)?;
    let dockerd = read_results(args.required("dockerd")?)?;
    let rows = report::rows(&cnm, &dockerd);
    let goals = report::goals(&cnm);
    println!("{}", report::text_table(&rows));
    for g in &goals {
        println!(
            "{:<4}  {}  ({})",
            if g.pass { "pass" } else { "MISS" },
            g.text,
            g.measured
        );
    }
    let out = args.required("out")?;
    std::fs::write(
        out,
        report::markdown(&args.meta, &rows, &goals, &cnm, &dockerd),
    )
    .with_context(|| format!("write {out}"))?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = raw.split_first() else {
        bail!("usage: cnm-bench measure|cleanup|report|ports|ports-report --flag value ...");
    };
    let args = Args::parse(rest)?;
    match command.as_str() {
        "measure" => measure(&args).await,
        "cleanup" => {
            let removed = args.daemon()?.cleanup().await?;
            eprintln!("removed {removed} leftover objects");
            Ok(())
        }
        "report" => report(&args),
        "ports" => measure_ports(&args).await,
        "ports-report" => report_ports(&args),
        other => bail!("unknown command {other:?} (measure, cleanup, report, ports, ports-report)"),
    }
}
