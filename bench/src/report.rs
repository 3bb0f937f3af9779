//! Compares the results of cnm and dockerd: a text table for the terminal and `RESULTS.md`.
//!
//! Contract: rows join the two runs by key; a figure one daemon lacks shows as `—` and has no
//! ratio. The ratio is cnm ÷ dockerd of the medians (below 1: cnm is faster or smaller).
//! Goals (from the issue) are judged on cnm's medians.

use std::fmt::Write as _;

use crate::results::{Results, key, mem};

const MIB: f64 = 1024.0;

/// One line of the comparison.
pub struct Row {
    pub label: String,
    pub unit: &'static str,
    pub cnm: Option<(f64, f64)>,
    pub dockerd: Option<(f64, f64)>,
}

impl Row {
    fn ratio(&self) -> Option<f64> {
        match (self.cnm, self.dockerd) {
            (Some((c, _)), Some((d, _))) if d > 0.0 => Some(c / d),
            _ => None,
        }
    }
}

fn op_row(label: &str, k: &str, cnm: &Results, dockerd: &Results) -> Option<Row> {
    let pick = |r: &Results| r.op(k).map(|o| (o.summary.median_ms, o.summary.p90_ms));
    let row = Row {
        label: label.to_string(),
        unit: "ms",
        cnm: pick(cnm),
        dockerd: pick(dockerd),
    };
    (row.cnm.is_some() || row.dockerd.is_some()).then_some(row)
}

/// Which part of a memory reading a row shows.
#[derive(Clone, Copy)]
enum Part {
    /// The daemon's own `VmRSS`.
    Own,
    /// Its anonymous part (heap, stacks).
    Anon,
    /// Its file-backed part (the mapped binary and libraries).
    File,
    /// `VmRSS` plus the helper processes (dockerd: containerd and shims).
    WithHelpers,
}

fn memory_row(label: &str, k: &str, part: Part, cnm: &Results, dockerd: &Results) -> Option<Row> {
    let pick = |r: &Results| {
        let m = r.memory(k)?;
        let kib = match part {
            Part::Own => m.own_kib,
            Part::Anon => m.own_anon_kib,
            Part::File => m.own_file_kib,
            Part::WithHelpers => m.own_kib + m.helpers_kib,
        };
        // Readings from before the split was recorded have no parts.
        (kib > 0).then_some((kib as f64 / MIB, f64::NAN))
    };
    let row = Row {
        label: label.to_string(),
        unit: "MiB",
        cnm: pick(cnm),
        dockerd: pick(dockerd),
    };
    (row.cnm.is_some() || row.dockerd.is_some()).then_some(row)
}

/// Every row of the comparison, in reading order.
pub fn rows(cnm: &Results, dockerd: &Results) -> Vec<Row> {
    let compare = cnm.plan.compare_at;
    let mut rows = Vec::new();
    rows.extend(op_row(
        &format!("network create (0→{compare} networks)"),
        key::CREATE,
        cnm,
        dockerd,
    ));
    let blocks = cnm.create_blocks.len().max(dockerd.create_blocks.len());
    for i in 0..blocks {
        let pick = |r: &Results| {
            r.create_blocks
                .get(i)
                .map(|b| (b.summary.median_ms, b.summary.p90_ms))
        };
        let (from, to) = cnm
            .create_blocks
            .get(i)
            .or(dockerd.create_blocks.get(i))
            .map(|b| (b.from, b.to))
            .unwrap_or_default();
        rows.push(Row {
            label: format!("  create, networks {from}–{}", to.saturating_sub(1)),
            unit: "ms",
            cnm: pick(cnm),
            dockerd: pick(dockerd),
        });
    }
    rows.extend(op_row(
        &format!("network rm ({compare}→0 networks)"),
        key::REMOVE,
        cnm,
        dockerd,
    ));
    rows.extend(op_row(
        &format!(
            "network rm ({}→{compare} networks)",
            cnm.plan.networks.max(dockerd.plan.networks)
        ),
        key::REMOVE_ABOVE,
        cnm,
        dockerd,
    ));
    rows.extend(op_row("connect (live holder)", key::CONNECT, cnm, dockerd));
    rows.extend(op_row(
        "disconnect (live holder)",
        key::DISCONNECT,
        cnm,
        dockerd,
    ));
    rows.extend(op_row(
        &format!("GET /networks ({compare} networks)"),
        key::LIST,
        cnm,
        dockerd,
    ));
    rows.extend(op_row(
        &format!("GET /networks/{{id}} ({compare} networks)"),
        key::INSPECT,
        cnm,
        dockerd,
    ));
    rows.extend(op_row(
        &format!(
            "GET /networks ({} networks)",
            cnm.plan.networks.max(dockerd.plan.networks)
        ),
        key::LIST_FULL,
        cnm,
        dockerd,
    ));
    let endpoints = cnm.plan.endpoints;
    rows.extend(op_row(
        &format!("holder create (sandbox / container run), 0→{endpoints}"),
        key::HOLDER_CREATE,
        cnm,
        dockerd,
    ));
    rows.extend(op_row(
        &format!("holder rm, {endpoints}→0"),
        key::HOLDER_REMOVE,
        cnm,
        dockerd,
    ));
    let memory = [
        ("RSS idle".to_string(), mem::IDLE, Part::Own),
        (
            "  anonymous (heap, stacks)".to_string(),
            mem::IDLE,
            Part::Anon,
        ),
        (
            "  file-backed (binary, libraries)".to_string(),
            mem::IDLE,
            Part::File,
        ),
        (
            format!("RSS, {endpoints} endpoints"),
            mem::ENDPOINTS,
            Part::Own,
        ),
        (
            "  anonymous (heap, stacks)".to_string(),
            mem::ENDPOINTS,
            Part::Anon,
        ),
        (
            "RSS, 100 networks".to_string(),
            mem::NETWORKS_100,
            Part::Own,
        ),
        (
            format!("RSS, {compare} networks"),
            mem::NETWORKS_COMPARE,
            Part::Own,
        ),
        (
            "RSS idle, with helpers (containerd)".to_string(),
            mem::IDLE,
            Part::WithHelpers,
        ),
        (
            format!("RSS, {endpoints} endpoints, with helpers (containerd + shims)"),
            mem::ENDPOINTS,
            Part::WithHelpers,
        ),
    ];
    for (label, k, part) in memory {
        rows.extend(memory_row(&label, k, part, cnm, dockerd));
    }
    rows
}

/// One goal of the issue, judged on cnm's figures.
pub struct Goal {
    pub text: String,
    pub measured: String,
    pub pass: bool,
}

fn median(r: &Results, k: &str) -> Option<f64> {
    r.op(k).map(|o| o.summary.median_ms)
}

fn at_most(text: &str, value: Option<f64>, limit: f64, unit: &str) -> Goal {
    match value {
        Some(v) => Goal {
            text: text.into(),
            measured: format!("{v:.2} {unit}"),
            pass: v <= limit,
        },
        None => Goal {
            text: text.into(),
            measured: "not measured".into(),
            pass: false,
        },
    }
}

pub fn goals(cnm: &Results) -> Vec<Goal> {
    let worst_block = cnm
        .create_blocks
        .iter()
        .map(|b| b.summary.median_ms)
        .fold(f64::NAN, f64::max);
    let reached = cnm.create_blocks.last().map(|b| b.to).unwrap_or(0);
    let flat = Goal {
        text: "network create ≤ 5 ms, flat to 1000 networks (every block of 100)".into(),
        measured: format!("worst block median {worst_block:.2} ms, up to {reached} networks"),
        pass: reached >= 1000 && worst_block <= 5.0,
    };
    let rss = |k: &str| cnm.memory(k).map(|m| m.own_kib as f64 / MIB);
    vec![
        at_most("network create ≤ 5 ms", median(cnm, key::CREATE), 5.0, "ms"),
        flat,
        at_most("network rm ≤ 50 ms", median(cnm, key::REMOVE), 50.0, "ms"),
        at_most("connect ≤ 5 ms", median(cnm, key::CONNECT), 5.0, "ms"),
        at_most(
            "disconnect ≤ 25 ms",
            median(cnm, key::DISCONNECT),
            25.0,
            "ms",
        ),
        at_most(
            &format!("ls with {} networks ≤ 1 ms", cnm.plan.compare_at),
            median(cnm, key::LIST),
            1.0,
            "ms",
        ),
        at_most("RSS idle ≤ 10 MiB", rss(mem::IDLE), 10.0, "MiB"),
        at_most(
            &format!("RSS with {} endpoints ≤ 20 MiB", cnm.plan.endpoints),
            rss(mem::ENDPOINTS),
            20.0,
            "MiB",
        ),
    ]
}

fn figure(v: Option<(f64, f64)>, unit: &str) -> String {
    match v {
        None => "—".into(),
        Some((m, p90)) if p90.is_nan() => format!("{m:.1} {unit}"),
        Some((m, p90)) => format!("{m:.2} ({p90:.2}) {unit}"),
    }
}

fn ratio(r: Option<f64>) -> String {
    r.map(|v| {
        if v < 0.01 {
            format!("{v:.4}")
        } else {
            format!("{v:.3}")
        }
    })
    .unwrap_or_else(|| "—".into())
}

/// The comparison as aligned text for the terminal.
pub fn text_table(rows: &[Row]) -> String {
    let header = [
        "operation",
        "cnm median (p90)",
        "dockerd median (p90)",
        "cnm/dockerd",
    ];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.label.clone(),
                figure(r.cnm, r.unit),
                figure(r.dockerd, r.unit),
                ratio(r.ratio()),
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cols: [&str; 4], out: &mut String| {
        let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w - s.chars().count()));
        let _ = writeln!(
            out,
            "{}  {}  {}  {}",
            pad(cols[0], width[0]),
            pad(cols[1], width[1]),
            pad(cols[2], width[2]),
            cols[3]
        );
    };
    line(header, &mut out);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3]], &mut out);
    }
    out
}

/// `RESULTS.md`: metadata lines, the table, the goals and the method.
pub fn markdown(
    meta: &[(String, String)],
    rows: &[Row],
    goals: &[Goal],
    cnm: &Results,
    dockerd: &Results,
) -> String {
    let mut md = String::from(
        "# cnm versus dockerd\n\nGenerated by `bench/run`; do not edit by hand. Published ports and throughput: [RESULTS-ports.md](RESULTS-ports.md) (`bench/ports`); embedded DNS: [RESULTS-dns.md](RESULTS-dns.md) (`bench/dns`).\n\n",
    );
    for (k, v) in meta {
        let _ = writeln!(md, "- **{k}**: {v}");
    }
    let _ = writeln!(
        md,
        "- **cnm**: {}; measured in {:.0} s",
        cnm.version, cnm.seconds
    );
    let _ = writeln!(
        md,
        "- **dockerd**: {}; measured in {:.0} s",
        dockerd.version, dockerd.seconds
    );
    md.push_str(
        "\n## Results\n\nMedian (p90) per request; ratio = cnm median ÷ dockerd median.\n\n",
    );
    md.push_str("| operation | cnm | dockerd | cnm/dockerd |\n|---|---:|---:|---:|\n");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            markdown_label(&r.label),
            figure(r.cnm, r.unit),
            figure(r.dockerd, r.unit),
            ratio(r.ratio())
        );
    }
    md.push_str("\n## Goals (issue acceptance, judged on cnm's medians)\n\n| goal | cnm | result |\n|---|---|---|\n");
    for g in goals {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            g.text,
            g.measured,
            if g.pass { "pass" } else { "**miss**" }
        );
    }
    md.push_str(&method(cnm, dockerd));
    md
}

/// Indented (sub-)rows keep their nesting in markdown, where leading spaces are lost.
fn markdown_label(label: &str) -> String {
    let text = label.replace('|', "\\|");
    match text.strip_prefix("  ") {
        Some(sub) => format!("↳ {sub}"),
        None => text,
    }
}

fn method(cnm: &Results, dockerd: &Results) -> String {
    let counts = |r: &Results| {
        let p = &r.plan;
        format!(
            "{} networks (blocks of {}), lookups and memory at {}, {} connect/disconnect pairs, {} lookups each, {} endpoints, {} warm-up iterations",
            p.networks, p.block, p.compare_at, p.connect_pairs, p.lookups, p.endpoints, p.warmup
        )
    };
    format!(
        "\n## Method\n\n\
- Both daemons run in the same run, one after the other (never at the same time), each in a network \
namespace of its own; neither touches the machine's namespace. Both get \
`--default-address-pool base=10.0.0.0/8,size=24`, because Docker's default local pools hold only 31 \
networks; subnets are chosen dynamically (no `Subnet` in the create body).\n\
- `cnm-bench` calls the Engine API in-process over the unix socket: HTTP/1.1 on one keep-alive \
connection, one request at a time. Each figure is the wall time from sending a request to reading the \
last byte of its answer. Warm-up iterations precede every series and are not counted.\n\
- Network create and rm medians are both taken over the same state range (0→{compare} networks for \
create, {compare}→0 for rm, last created removed first); the growth rows are the medians of each block \
of creates.\n\
- connect/disconnect: a second bridge network joined to and left by a live holder attached to network \
`base` — on cnm a sandbox (`POST /sandboxes/create`), on dockerd a running container \
(`bb sleep 1d`). A holder attached to `none` may not join other networks (Docker's rule).\n\
- Order on each daemon: memory idle; {endpoints} holders on one network (memory read with all of them \
present); connect/disconnect; the network fill and drain. Memory is `VmRSS` of the daemon's own \
process from `/proc/PID/status`, split into its anonymous and file-backed parts (`RssAnon`, \
`RssFile`); the network readings come after the endpoint phase, so they include what the allocator \
kept from it. The \"with helpers\" rows add dockerd's managed containerd and every containerd-shim \
of this dockerd (cnm has none). Holder create rows are not like for like (a container run starts a \
process) and are given for scale only.\n\
- Counts, cnm: {}.\n- Counts, dockerd: {}.\n",
        counts(cnm),
        counts(dockerd),
        compare = cnm.plan.compare_at,
        endpoints = cnm.plan.endpoints
    )
}
