//! `GET /doctor` and `POST /doctor?fix=1`: drift between cnm's records and the kernel.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Finding {
    /// `network`, `sandbox`, `endpoint`, `link`, `namespace`, `files` or `firewall`.
    pub kind: String,
    pub object: String,
    pub problem: String,
    pub fixed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DoctorReport {
    pub findings: Vec<Finding>,
}
