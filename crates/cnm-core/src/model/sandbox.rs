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
    pub hosts: PathBuf,
}
