//! Resident memory of daemons, read from `/proc`.
//!
//! Contract: `resident` is the `VmRSS` line of `/proc/PID/status` (resident anonymous + file +
//! shmem pages, in KiB) with its `RssAnon` and `RssFile` parts. `helpers_rss_kib` sums the processes a daemon relies on but does not
//! count in its own RSS: for dockerd, its managed `containerd` (a child) and every
//! `containerd-shim` whose command line names that containerd's socket.

use std::fs;

use anyhow::Context;

/// `VmRSS` and its split into anonymous memory (heap, stacks) and file-backed pages (the
/// mapped binary and libraries), in KiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resident {
    pub total_kib: u64,
    pub anon_kib: u64,
    pub file_kib: u64,
}

pub fn resident(pid: u32) -> anyhow::Result<Resident> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    parse_resident(&status).with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

fn field_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn parse_resident(status: &str) -> Option<Resident> {
    Some(Resident {
        total_kib: field_kib(status, "VmRSS")?,
        anon_kib: field_kib(status, "RssAnon").unwrap_or(0),
        file_kib: field_kib(status, "RssFile").unwrap_or(0),
    })
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

/// `daemon`'s direct children and every process whose command line contains `marker`, with
/// their command lines.
pub fn helpers(daemon: u32, marker: Option<&str>) -> Vec<(u32, String)> {
    all_pids()
        .into_iter()
        .filter(|&pid| pid != daemon)
        .filter_map(|pid| {
            let (ppid, cmdline) = process_info(pid)?;
            let belongs = ppid == daemon || marker.is_some_and(|m| cmdline.contains(m));
            belongs.then_some((pid, cmdline))
        })
        .collect()
}

/// Sum of the RSS of `daemon`'s direct children and of every process whose command line
/// contains `marker` (processes that vanish while reading are skipped), and how many there were.
pub fn helpers_rss_kib(daemon: u32, marker: Option<&str>) -> (u64, usize) {
    let mut total = 0;
    let mut count = 0;
    for (pid, _) in helpers(daemon, marker) {
        if let Ok(r) = resident(pid) {
            total += r.total_kib;
            count += 1;
        }
    }
    (total, count)
}

/// Proportional set size (`Pss` of `/proc/PID/smaps_rollup`, KiB): shared pages divided among
/// the processes that map them, so the PSS of many processes adds up to what they really use.
pub fn pss_kib(pid: u32) -> Option<u64> {
    let rollup = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    field_kib(&rollup, "Pss")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss_and_its_split() {
        let status = "Name:\tcnm\nVmRSS:\t    7432 kB\nRssAnon:\t 3000 kB\nRssFile:\t 4432 kB\n";
        let expected = Resident {
            total_kib: 7432,
            anon_kib: 3000,
            file_kib: 4432,
        };
        assert_eq!(parse_resident(status), Some(expected));
        assert_eq!(parse_resident("Name:\tx\n"), None);
    }

    #[test]
    fn pss_is_read_from_smaps_rollup() {
        let rollup =
            "00400000-7ffff [rollup]\nRss:\t  900 kB\nPss:\t  512 kB\nPss_Anon:\t 100 kB\n";
        assert_eq!(field_kib(rollup, "Pss"), Some(512));
        assert!(pss_kib(std::process::id()).unwrap() > 0);
    }

    #[test]
    fn own_process_has_rss_and_a_parent() {
        let me = std::process::id();
        assert!(resident(me).unwrap().total_kib > 0);
        let (ppid, cmdline) = process_info(me).unwrap();
        assert!(ppid > 0);
        assert!(!cmdline.is_empty());
    }
}
