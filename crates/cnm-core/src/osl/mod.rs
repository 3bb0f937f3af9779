//! OS layer: the only code that talks to the kernel's networking (netlink, setns, sysctl).
//!
//! Contract:
//! - `netns` creates, adopts and removes network namespaces bound to files, and runs
//!   closures inside a namespace on a dedicated OS thread (never on a tokio worker).
//! - `netlink::Netlink` is one open rtnetlink connection bound to one namespace. Open one per
//!   namespace and keep it: every call is then a single netlink round trip.
//! - `sysctl` writes `/proc/sys` values inside a given namespace.
//!
//! Errors carry the errno, mapped to kinds (`EEXIST` → Conflict, `ENODEV` → NotFound).

pub mod hostns;
pub mod netlink;
pub mod netns;
pub mod sysctl;

pub use netlink::{LinkInfo, Netlink, RouteInfo, VethSpec};

use crate::error::{Error, ErrorKind, HasKind};

#[derive(Debug, thiserror::Error)]
pub enum OslError {
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{op}: {errno}")]
    Netlink {
        op: String,
        errno: nix::errno::Errno,
    },
    /// The file exists but holds no network namespace (another namespace type, or a plain
    /// file): a caller error, e.g. a wrong `--netns` path.
    #[error("{}: not a network namespace", path.display())]
    NotNetns { path: std::path::PathBuf },
    #[error("{op}: {message}")]
    Other { op: String, message: String },
}

impl OslError {
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        match self {
            OslError::Netlink { errno, .. } => Some(*errno),
            OslError::Io { source, .. } => source.raw_os_error().map(nix::errno::Errno::from_raw),
            OslError::NotNetns { .. } | OslError::Other { .. } => None,
        }
    }
}

impl HasKind for OslError {
    fn kind(&self) -> ErrorKind {
        if let OslError::NotNetns { .. } = self {
            return ErrorKind::InvalidParameter;
        }
        match self.errno() {
            Some(nix::errno::Errno::EEXIST) => ErrorKind::Conflict,
            // ESRCH: no such route; EADDRNOTAVAIL: no such address on the link.
            Some(
                nix::errno::Errno::ENODEV
                | nix::errno::Errno::ENOENT
                | nix::errno::Errno::ESRCH
                | nix::errno::Errno::EADDRNOTAVAIL,
            ) => ErrorKind::NotFound,
            _ => ErrorKind::Internal,
        }
    }
}

impl From<OslError> for Error {
    fn from(e: OslError) -> Self {
        Error::new(e.kind(), e.to_string())
    }
}

pub type OslResult<T> = Result<T, OslError>;
