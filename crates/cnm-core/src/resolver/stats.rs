//! Counters of what the resolver did, all sandboxes together (for `/metrics` and diagnosis).
//!
//! Contract: every query received ends in exactly one counter: answered locally (including
//! FORMERR/NOTIMP/NXDOMAIN replies made here), forwarded and answered by an upstream, failed
//! upstream (SERVFAIL sent), refused (over a cap), or dropped (not a query). Relaxed atomics:
//! the numbers are for observation, not for synchronisation.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResolverStats {
    pub local_answers: u64,
    pub forwarded: u64,
    pub upstream_failures: u64,
    pub refused: u64,
    pub dropped: u64,
}

#[derive(Debug, Default)]
pub struct Counters {
    local_answers: AtomicU64,
    forwarded: AtomicU64,
    upstream_failures: AtomicU64,
    refused: AtomicU64,
    dropped: AtomicU64,
}

/// Which counter a query ends in.
#[derive(Clone, Copy, Debug)]
pub enum Fate {
    Local,
    Forwarded,
    UpstreamFailure,
    Refused,
    Dropped,
}

impl Counters {
    pub fn count(&self, fate: Fate) {
        let counter = match fate {
            Fate::Local => &self.local_answers,
            Fate::Forwarded => &self.forwarded,
            Fate::UpstreamFailure => &self.upstream_failures,
            Fate::Refused => &self.refused,
            Fate::Dropped => &self.dropped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ResolverStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ResolverStats {
            local_answers: read(&self.local_answers),
            forwarded: read(&self.forwarded),
            upstream_failures: read(&self.upstream_failures),
            refused: read(&self.refused),
            dropped: read(&self.dropped),
        }
    }
}
