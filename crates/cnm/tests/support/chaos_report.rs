//! The chaos test's counters and its closing report (`tests/chaos.rs`).

use std::time::Duration;

use super::chaos_checks::Checks;

/// Counters for the report.
#[derive(Default)]
pub struct Tally {
    pub ops: usize,
    pub acknowledged: usize,
    pub refused: usize,
    pub interrupted: usize,
    pub interrupted_done: usize,
    /// Interrupted operations that were neither done nor undone (allowed unless strict).
    pub partial: Vec<String>,
    pub kills: usize,
    pub kills_in_flight: usize,
    pub check_rounds: usize,
    pub slowest_start: Duration,
}

impl Tally {
    /// Prints what ran and every known gap seen, one line each.
    pub fn print(&self, seed: u64, checks: &Checks, elapsed: Duration) {
        let t = self;
        eprintln!(
            "chaos report: seed {seed}: {} operations ({} acknowledged, {} refused as expected, {} interrupted: {} done, {} half-done, {} not), \
             {} kills ({} in flight), {} check rounds, {} invariants evaluated, {} published-port connections, \
             slowest restart {:?}, total {:?}",
            t.ops,
            t.acknowledged,
            t.refused,
            t.interrupted,
            t.interrupted_done,
            t.partial.len(),
            t.interrupted - t.interrupted_done - t.partial.len(),
            t.kills,
            t.kills_in_flight,
            t.check_rounds,
            checks.evaluated,
            checks.port_probes,
            t.slowest_start,
            elapsed
        );
        for gap in &checks.gaps {
            eprintln!("chaos report: known gap (CNM_CHAOS_STRICT=1 fails on this): {gap}");
        }
        for partial in &t.partial {
            eprintln!(
                "chaos report: half-done after a kill (CNM_CHAOS_STRICT=1 fails on this): {partial}"
            );
        }
    }
}
