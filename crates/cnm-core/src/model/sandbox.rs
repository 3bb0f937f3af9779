//! A sandbox record: one network namespace and the files that go with it.

use std::path::PathBuf;

use cnm_types::Id;
use cnm_types::sandbox::PortBinding;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sandbox {
    pub id: Id,
    pub name: String,
    pub created: String,
    pub hostname: String,
    /// The namespace file: `<exec-root>/netns/<id>`, or the adopted path.
    pub netns: PathBuf,
    /// True when cnm adopted the namespace and must not remove it.
    pub external: bool,
    pub dns: Vec<String>,
    pub port_bindings: Vec<PortBinding>,
    /// Endpoints in join order.
    pub endpoints: Vec<Id>,
    pub resolv_conf: PathBuf,
    /// Intent record: set while a create or a removal is under way. A start-up that finds it
    /// set finishes the removal (a create that did not complete is undone), so a crash in the
    /// middle never leaves a half-made sandbox.
    #[serde(default)]
    pub unfinished: bool,
    pub hosts: PathBuf,
}
