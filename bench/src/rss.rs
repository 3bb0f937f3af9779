//! Resident memory of daemons, read from `/proc`.
//!
//! Contract: `rss_kib` is the `VmRSS` line of `/proc/PID/status` (resident anonymous + file +
//! shmem pages, in KiB). `helpers_rss_kib` sums the processes a daemon relies on but does not
//! count in its own RSS: for dockerd, its managed `containerd` (a child) and every
//! `containerd-shim` whose command line names that containerd's socket.

use std::fs;

use anyhow::Context;

pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    parse_vm_rss(&status).with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Parent pid and command line (NUL-separated arguments joined by spaces) of a process.
fn process_info(pid: u32) -> Option<(u32, String)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: the fields after it are fixed.
    let after = &stat[stat.rfind(')')? + 2..];
    let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    Some((ppid, cmdline))
}

fn all_pids() -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Sum of the RSS of `daemon`'s direct children and of every process whose command line
/// contains `marker` (processes that vanish while reading are skipped), and how many there were.
pub fn helpers_rss_kib(daemon: u32, marker: Option<&str>) -> (u64, usize) {
    let mut total = 0;
    let mut count = 0;
    for pid in all_pids() {
        if pid == daemon {
            continue;
        }
        let Some((ppid, cmdline)) = process_info(pid) else {
            continue;
        };
        let belongs = ppid == daemon || marker.is_some_and(|m| cmdline.contains(m));
        if belongs && let Ok(kib) = rss_kib(pid) {
            total += kib;
            count += 1;
        }
    }
    (total, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_line() {
        let status = "Name:\tcnm\nVmPeak:\t  9000 kB\nVmRSS:\t    7432 kB\nRssAnon:\t 3000 kB\n";
        assert_eq!(parse_vm_rss(status), Some(7432));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn own_process_has_rss_and_a_parent() {
        let me = std::process::id();
        assert!(rss_kib(me).unwrap() > 0);
        let (ppid, cmdline) = process_info(me).unwrap();
        assert!(ppid > 0);
        assert!(!cmdline.is_empty());
    }
}
