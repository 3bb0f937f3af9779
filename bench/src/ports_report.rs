//! The report of `bench/ports`: published-port timings, connect latency with ports already
//! published, memory and iperf3 throughput of cnm and dockerd, with the goals.
//!
//! Contract: `markdown` takes the two `PortsResults` and the iperf3 runs (TSV written by
//! `bench/ports`: `round daemon path gbps load1`, one line per run, a header line first) and
//! returns the whole `RESULTS-ports.md`. Each throughput round ran cnm and dockerd back to back:
//! the goal is judged on the median of the per-round ratios; the ratio of medians is shown too.

use std::fmt::Write as _;

use anyhow::Context;

use crate::ports::{PortsMemory, PortsResults, PublishSeries};
use crate::stats::Summary;

/// Throughput is at least this share of dockerd's.
const THROUGHPUT_GOAL: f64 = 0.97;
/// Publishing or unpublishing 100 ports costs at most this.
const HUNDRED_PORTS_MS: f64 = 20.0;

#[derive(Clone, Debug, PartialEq)]
pub struct IperfRun {
    pub round: u32,
    pub daemon: String,
    pub path: String,
    pub gbps: f64,
}

pub fn parse_iperf(text: &str) -> anyhow::Result<Vec<IperfRun>> {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            anyhow::ensure!(f.len() >= 4, "short iperf line {line:?}");
            Ok(IperfRun {
                round: f[0].parse().with_context(|| format!("round in {line:?}"))?,
                daemon: f[1].to_string(),
                path: f[2].to_string(),
                gbps: f[3].parse().with_context(|| format!("gbps in {line:?}"))?,
            })
        })
        .collect()
}

/// Median (mean of the two middle values for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[derive(Clone, Debug)]
pub struct Throughput {
    pub path: String,
    pub cnm: Vec<f64>,
    pub dockerd: Vec<f64>,
    /// cnm ÷ dockerd of each round that has both.
    pub round_ratios: Vec<f64>,
}

impl Throughput {
    pub fn ratio(&self) -> f64 {
        median(&self.cnm) / median(&self.dockerd)
    }
}

pub fn throughput(runs: &[IperfRun]) -> Vec<Throughput> {
    let mut paths: Vec<&str> = Vec::new();
    for r in runs {
        if !paths.contains(&r.path.as_str()) {
            paths.push(&r.path);
        }
    }
    paths
        .into_iter()
        .map(|path| {
            let of = |daemon: &str| -> Vec<&IperfRun> {
                runs.iter()
                    .filter(|r| r.path == path && r.daemon == daemon)
                    .collect()
            };
            let (cnm, dockerd) = (of("cnm"), of("dockerd"));
            let round_ratios = cnm
                .iter()
                .filter_map(|c| {
                    let d = dockerd.iter().find(|d| d.round == c.round)?;
                    (d.gbps > 0.0).then(|| c.gbps / d.gbps)
                })
                .collect();
            Throughput {
                path: path.to_string(),
                cnm: cnm.iter().map(|r| r.gbps).collect(),
                dockerd: dockerd.iter().map(|r| r.gbps).collect(),
                round_ratios,
            }
        })
        .collect()
}

pub struct Goal {
    pub text: String,
    pub measured: String,
    pub pass: bool,
}

fn ms(s: Option<&Summary>) -> f64 {
    s.map_or(f64::NAN, |s| s.median_ms)
}

/// A duration in ms, in seconds from 10 s up.
fn dur(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v >= 10_000.0 {
        format!("{:.1} s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub fn goals(cnm: &PortsResults, dockerd: &PortsResults, thr: &[Throughput]) -> Vec<Goal> {
    let mut goals = Vec::new();
    let conn = |n: usize| cnm.series("connect", n);
    let up = |n| ms(conn(n).and_then(|s| s.up.as_ref()));
    let down = |n| ms(conn(n).and_then(|s| s.down.as_ref()));
    let (pub100, unpub100) = (up(100) - up(0), down(100) - down(0));
    goals.push(Goal {
        text: format!("publishing 100 ports ≤ {HUNDRED_PORTS_MS:.0} ms (connect with 100 ports − connect with none)"),
        measured: format!("{} ({} − {})", dur(pub100), dur(up(100)), dur(up(0))),
        pass: pub100 <= HUNDRED_PORTS_MS,
    });
    goals.push(Goal {
        text: format!("unpublishing 100 ports ≤ {HUNDRED_PORTS_MS:.0} ms (disconnect, likewise)"),
        measured: format!("{} ({} − {})", dur(unpub100), dur(down(100)), dur(down(0))),
        pass: unpub100 <= HUNDRED_PORTS_MS,
    });
    let kids: usize = cnm.publish.iter().map(|s| s.children).sum::<usize>()
        + cnm.levels.iter().map(|l| l.memory.helpers).sum::<usize>();
    goals.push(Goal {
        text: "publishing starts no process (cnm's child processes while ports are published)"
            .into(),
        measured: format!(
            "{kids} (dockerd: {} docker-proxy with 100 ports)",
            dockerd
                .series("run", 100)
                .map_or("—".into(), |s| s.proxies.to_string())
        ),
        pass: kids == 0,
    });
    let (one, range) = (up(1), up(1000));
    let slack = (0.25 * one).max(2.0);
    goals.push(Goal {
        text: "a 1000-port range takes about as long as one port (connect: within 25% or 2 ms)"
            .into(),
        measured: format!(
            "{} vs {}; disconnect {} vs {}",
            dur(range),
            dur(one),
            dur(down(1000)),
            dur(down(1))
        ),
        pass: range <= one + slack && down(1000) <= down(1) + (0.25 * down(1)).max(2.0),
    });
    if let (Some(first), Some(last)) = (cnm.levels.first(), cnm.levels.last()) {
        let a = ms(first.publish1_connect.as_ref());
        let b = ms(last.publish1_connect.as_ref());
        let (pa, pb) = (first.connect.median_ms, last.connect.median_ms);
        let flat = |a: f64, b: f64| b <= a + (0.25 * a).max(1.0);
        goals.push(Goal {
            text: format!(
                "connect latency flat from {} to {} published ports (medians within 25% or 1 ms)",
                first.ports, last.ports
            ),
            measured: format!(
                "connect publishing 1 port {} → {}; plain connect {} → {}",
                dur(a),
                dur(b),
                dur(pa),
                dur(pb)
            ),
            pass: flat(a, b) && flat(pa, pb),
        });
        let growth = last.memory.own_rss_kib as i64 - first.memory.own_rss_kib as i64;
        goals.push(Goal {
            text: format!(
                "memory with {} published ports: kernel state only, no process per port",
                last.ports
            ),
            measured: format!(
                "daemon RSS {} (+{:.1} MiB over {} ports), {} helper processes",
                mib(last.memory.own_rss_kib),
                growth as f64 / 1024.0,
                first.ports,
                last.memory.helpers
            ),
            pass: last.memory.helpers == 0,
        });
    }
    for t in thr {
        // Judged on the paired ratios: each round ran both back to back, so a slow spell of the
        // shared machine moves both figures of a round, not one daemon's median.
        let paired = median(&t.round_ratios);
        goals.push(Goal {
            text: format!(
                "throughput {} ≥ {THROUGHPUT_GOAL}× dockerd's (median of per-round ratios)",
                path_label(&t.path)
            ),
            measured: format!(
                "{paired:.3}× ({} rounds; ratio of medians {:.3}×)",
                t.round_ratios.len(),
                t.ratio()
            ),
            pass: paired >= THROUGHPUT_GOAL,
        });
    }
    goals
}

fn path_label(path: &str) -> &str {
    match path {
        "bridge" => "between two sandboxes/containers on one bridge",
        "published" => "through a published port, from an outside namespace",
        other => other,
    }
}

fn cell(s: Option<&Summary>, base: Option<&Summary>) -> String {
    match (s, base) {
        (None, _) => "—".into(),
        (Some(s), Some(b)) if !std::ptr::eq(s, b) => {
            let delta = s.median_ms - b.median_ms;
            let sign = if delta < 0.0 { '−' } else { '+' };
            format!("{} ({sign}{})", dur(s.median_ms), dur(delta.abs()))
        }
        (Some(s), _) => dur(s.median_ms),
    }
}

fn up(s: Option<&PublishSeries>) -> Option<&Summary> {
    s.and_then(|s| s.up.as_ref())
}

fn down(s: Option<&PublishSeries>) -> Option<&Summary> {
    s.and_then(|s| s.down.as_ref())
}

fn memory_cells(m: Option<&PortsMemory>) -> String {
    match m {
        None => "— | — | — | —".into(),
        Some(m) => format!(
            "{} | {} | {} | {}",
            mib(m.own_rss_kib),
            mib(m.own_pss_kib),
            if m.helpers == 0 {
                "none".into()
            } else {
                format!(
                    "{} in {} ({} docker-proxy)",
                    mib(m.helpers_rss_kib),
                    m.helpers,
                    m.proxies
                )
            },
            mib(m.own_pss_kib + m.helpers_pss_kib)
        ),
    }
}

pub fn markdown(
    meta: &[(String, String)],
    cnm: &PortsResults,
    dockerd: &PortsResults,
    runs: &[IperfRun],
) -> String {
    let thr = throughput(runs);
    let goals = goals(cnm, dockerd, &thr);
    let mut md = String::from(
        "# Published ports and throughput: cnm versus dockerd\n\nGenerated by `bench/ports`; do not edit by hand. The core API table is in [RESULTS.md](RESULTS.md).\n\n",
    );
    for (k, v) in meta {
        let _ = writeln!(md, "- **{k}**: {v}");
    }
    let _ = writeln!(
        md,
        "- **cnm**: {}, measured in {:.0} s; **dockerd**: {}, measured in {:.0} s",
        cnm.version, cnm.seconds, dockerd.version, dockerd.seconds
    );

    md.push_str("\n## Goals (issue 3)\n\n| goal | measured | result |\n|---|---|---|\n");
    for g in &goals {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            g.text,
            g.measured,
            if g.pass { "pass" } else { "**miss**" }
        );
    }

    md.push_str(
        "\n## Publishing and unpublishing ports on one sandbox / container\n\n\
         Medians; in brackets the difference to the same operation with no ports, which is \
         the cost of the ports themselves. 1, 100: separate bindings; 1000: one range binding \
         (`-p 20000-20999:20000-20999`; Docker expands it into 1000 bindings).\n\n\
         | ports | cnm connect (publishes) | cnm disconnect (unpublishes) | cnm sandbox create | cnm sandbox rm | dockerd `run -d -p` (create + start) | dockerd `rm -f` | processes: cnm / dockerd |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut notes = Vec::new();
    for n in [0usize, 1, 100, 1000] {
        let c = cnm.series("connect", n);
        let c0 = cnm.series("connect", 0);
        let r = cnm.series("run", n);
        let r0 = cnm.series("run", 0);
        let d = dockerd.series("run", n);
        let d0 = dockerd.series("run", 0);

        if let Some(why) = d.and_then(|d| d.skipped.as_ref()) {
            notes.push(format!("dockerd with {n} ports: {why}."));
        }
        let reps = |s: Option<&PublishSeries>| {
            up(s).map_or(String::new(), |u| format!(" (n={})", u.count))
        };
        let _ = writeln!(
            md,
            "| {n} | {} | {} | {} | {} | {}{} | {} | {} / {} |",
            cell(up(c), up(c0)),
            cell(down(c), down(c0)),
            cell(up(r), up(r0)),
            cell(down(r), down(r0)),
            cell(up(d), up(d0)),
            reps(d),
            cell(down(d), down(d0)),
            r.map_or("—".into(), |s| s.children.to_string()),
            d.map_or("—".into(), |s| if s.skipped.is_some() {
                "—".into()
            } else {
                format!("{} ({} docker-proxy)", s.children, s.proxies)
            }),
        );
    }
    for n in notes {
        let _ = writeln!(md, "\n{n}");
    }

    md.push_str(
        "\n## Connect latency with ports already published on other sandboxes / containers\n\n\
         Fill holders publish 100 ports each (separate bindings). Connect/disconnect: a second \
         network on a live holder. \"Publishing 1 port\": cnm connects a sandbox parked on an \
         internal network (no gateway) with one port binding to a bridge, which publishes it. \
         \"Up with 1 port\": sandbox create / `docker run -d -p` with one port, then removal.\n\n\
         | ports published | cnm connect / disconnect | cnm connect publishing 1 port / disconnect | cnm up with 1 port / rm | dockerd connect / disconnect | dockerd up with 1 port / rm |\n\
         |---:|---:|---:|---:|---:|---:|\n",
    );
    let mut levels: Vec<usize> = cnm
        .levels
        .iter()
        .chain(&dockerd.levels)
        .map(|l| l.ports)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let pair = |a: Option<&Summary>, b: Option<&Summary>| {
        if a.is_none() {
            "—".to_string()
        } else {
            format!("{} / {}", dur(ms(a)), dur(ms(b)))
        }
    };
    for &n in &levels {
        let c = cnm.level(n);
        let d = dockerd.level(n);
        let _ = writeln!(
            md,
            "| {n} | {} | {} | {} | {} | {} |",
            pair(c.map(|l| &l.connect), c.map(|l| &l.disconnect)),
            pair(
                c.and_then(|l| l.publish1_connect.as_ref()),
                c.and_then(|l| l.publish1_disconnect.as_ref())
            ),
            pair(c.map(|l| &l.run1_up), c.map(|l| &l.run1_down)),
            pair(d.map(|l| &l.connect), d.map(|l| &l.disconnect)),
            pair(d.map(|l| &l.run1_up), d.map(|l| &l.run1_down)),
        );
    }

    md.push_str(
        "\n## Memory with published ports\n\n\
         RSS and PSS (`smaps_rollup`) of the daemon; helpers are its child processes and, for \
         dockerd, containerd's shims (containerd, one shim per container, two docker-proxy per \
         port: IPv4 and IPv6).\n\n\
         | daemon | ports published | daemon RSS | daemon PSS | helpers RSS | total PSS |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for r in [cnm, dockerd] {
        let _ = writeln!(
            md,
            "| {} | idle | {} |",
            r.daemon,
            memory_cells(Some(&r.idle))
        );
        for l in &r.levels {
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                r.daemon,
                l.ports,
                memory_cells(Some(&l.memory))
            );
        }
    }

    md.push_str(
        "\n## TCP throughput (iperf3)\n\n\
         Gbit/s received, median over rounds (min–max); ratio = cnm median ÷ dockerd median, \
         and the median of the per-round ratios (cnm and dockerd back to back in each round).\n\n\
         | path | cnm | dockerd | cnm ÷ dockerd | per-round ratio |\n|---|---:|---:|---:|---:|\n",
    );
    let span = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{:.2} ({lo:.2}–{hi:.2})", median(v))
    };
    for t in &thr {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.3} | {:.3} |",
            path_label(&t.path),
            span(&t.cnm),
            span(&t.dockerd),
            t.ratio(),
            median(&t.round_ratios)
        );
    }
    md.push_str(METHOD);
    md
}

const METHOD: &str = "
## Method

- Each daemon runs in a network namespace of its own: cnm in `portsb-host-PID`, dockerd in
  `ref-portsb` (`shared/tools/ref-dockerd`); an \"outside\" namespace has a veth to each
  (10.254.1.0/24 and 10.254.2.0/24). Nothing touches the machine's own namespace.
- API timings are wall times of single requests over the unix socket (HTTP/1.1 keep-alive), the
  other daemon idle; a warm-up holder with one port first. A dockerd \"run\" is
  `POST /containers/create` + `start` of `bb sleep 1d` with `ExposedPorts`/`PortBindings` as
  `docker run -d -p` sends them; its removal is `DELETE /containers/{id}?force=1`.
- cnm holds every single published host port with a bound socket (for host IP 0.0.0.0: an IPv4
  and an IPv6 one), so that no other process can take it. A range of host ports is recorded by
  cnm and checked against the host's listening and bound sockets with one `sock_diag` dump per
  protocol and address family, not held by sockets, and its firewall change is one interval
  element: a 1000-port range costs about what one port does. dockerd starts two `docker-proxy`
  processes per port instead (IPv4 and IPv6).
- Memory: `VmRSS` and `Pss` (`/proc/PID/smaps_rollup`) one second after the last holder of a
  level was created; for dockerd the helpers are its children (containerd, docker-proxy) and the
  shims whose command line names its containerd socket.
- Throughput: `iperf3 -c ADDR -t T -O 1 -J`, one TCP stream, Gbit/s received as the server
  counted it; the server (`iperf3 -s`, the host's binary run with `nsenter --net`) lives in
  sandbox/container `bench-ipa`; the bridge client in `bench-ipb` on the same network, the
  published-port client in the outside namespace, to the host's veth address and port 15201
  (DNAT to 5201).
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn throughput_pairs_rounds_and_takes_medians() {
        let tsv = "round\tdaemon\tpath\tgbps\tload1\n\
                   1\tcnm\tbridge\t20\t1.0\n1\tdockerd\tbridge\t10\t1.0\n\
                   2\tdockerd\tbridge\t20\t1.0\n2\tcnm\tbridge\t20\t1.0\n\
                   3\tcnm\tbridge\t19\t1.0\n";
        let runs = parse_iperf(tsv).unwrap();
        assert_eq!(runs.len(), 5);
        let t = throughput(&runs);
        assert_eq!(t.len(), 1);
        assert_eq!(median(&t[0].cnm), 20.0);
        assert_eq!(median(&t[0].dockerd), 15.0);
        assert_eq!(t[0].round_ratios, vec![2.0, 1.0]);
        assert!((t[0].ratio() - 20.0 / 15.0).abs() < 1e-9);
    }

    #[test]
    fn short_lines_are_an_error() {
        assert!(parse_iperf("h\n1\tcnm\n").is_err());
    }

    #[test]
    fn cells_show_the_difference_to_no_ports() {
        let at = |ms: f64| Summary {
            count: 1,
            median_ms: ms,
            p90_ms: ms,
            min_ms: ms,
            max_ms: ms,
        };
        let (base, more, less) = (at(300.0), at(57_300.0), at(2.0));
        assert_eq!(cell(Some(&more), Some(&base)), "57.3 s (+57.0 s)");
        assert_eq!(cell(Some(&less), Some(&at(3.5))), "2.00 ms (−1.50 ms)");
        assert_eq!(cell(Some(&base), Some(&base)), "300 ms");
        assert_eq!(cell(None, Some(&base)), "—");
    }

    #[test]
    fn durations_switch_units() {
        assert_eq!(dur(1.234), "1.23 ms");
        assert_eq!(dur(1234.0), "1234 ms");
        assert_eq!(dur(12_345.0), "12.3 s");
        assert_eq!(dur(f64::NAN), "—");
    }
}
