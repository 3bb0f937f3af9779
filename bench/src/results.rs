//! What one measurement run of one daemon produced, as written to and read from JSON.
//!
//! Contract: `measure` writes one `Results` per daemon; `report` reads two and compares them
//! by `key`, so keys are the join between the daemons (labels are only for people).

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// Keys of the timed operations, shared by both daemons.
pub mod key {
    pub const CREATE: &str = "network_create";
    pub const REMOVE: &str = "network_rm";
    pub const REMOVE_ABOVE: &str = "network_rm_above";
    pub const CONNECT: &str = "connect";
    pub const DISCONNECT: &str = "disconnect";
    pub const LIST: &str = "network_ls";
    pub const INSPECT: &str = "network_inspect";
    pub const LIST_FULL: &str = "network_ls_full";
    pub const HOLDER_CREATE: &str = "holder_create";
    pub const HOLDER_REMOVE: &str = "holder_rm";
}

/// Keys of the memory readings.
pub mod mem {
    pub const IDLE: &str = "idle";
    pub const NETWORKS_100: &str = "networks_100";
    pub const NETWORKS_COMPARE: &str = "networks_compare";
    pub const ENDPOINTS: &str = "endpoints";
}

/// How much work a run did: the counts the report states.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Plan {
    /// Networks created in the fill (the growth series goes up to this).
    pub networks: usize,
    /// Network count at which ls/inspect are timed, and the range both daemons' create and
    /// rm medians are taken over (so the two are compared on the same state).
    pub compare_at: usize,
    /// Size of a block in the create growth series.
    pub block: usize,
    /// Timed connect/disconnect pairs.
    pub connect_pairs: usize,
    /// Timed ls and inspect requests each.
    pub lookups: usize,
    /// Endpoint holders on one network for the memory reading.
    pub endpoints: usize,
    /// Untimed warm-up iterations before each series.
    pub warmup: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Op {
    pub key: String,
    pub label: String,
    pub summary: Summary,
}

/// Median create time of networks `from..to` (0-based creation order).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Block {
    pub from: usize,
    pub to: usize,
    pub summary: Summary,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemoryPoint {
    pub key: String,
    pub label: String,
    pub own_kib: u64,
    /// The anonymous (heap, stacks) and file-backed (binary, libraries) parts of `own_kib`.
    #[serde(default)]
    pub own_anon_kib: u64,
    #[serde(default)]
    pub own_file_kib: u64,
    /// Helper processes (dockerd: containerd and the shims); 0 for cnm.
    pub helpers_kib: u64,
    pub helpers: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Results {
    pub daemon: String,
    pub version: String,
    pub plan: Plan,
    pub ops: Vec<Op>,
    pub create_blocks: Vec<Block>,
    pub memory: Vec<MemoryPoint>,
    /// Wall time of the whole measurement, seconds.
    pub seconds: f64,
}

impl Results {
    pub fn op(&self, key: &str) -> Option<&Op> {
        self.ops.iter().find(|o| o.key == key)
    }

    pub fn memory(&self, key: &str) -> Option<&MemoryPoint> {
        self.memory.iter().find(|m| m.key == key)
    }
}
