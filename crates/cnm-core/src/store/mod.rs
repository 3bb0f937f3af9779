//! Persistence: the desired state, written through one transaction per API operation.
//!
//! Contract: the store is write-through. The controller's in-memory `State` is the source of
//! truth while the daemon runs; the store is read once at start-up (and by `doctor`). A
//! `Batch` holds every put and delete of one operation and commits atomically, so a crash
//! leaves either all or none of it.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, HasKind};

pub mod memory;
pub mod redb;

pub use memory::MemoryStore;
pub use redb::RedbStore;

/// The kinds of record; each is one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Network,
    Endpoint,
    Sandbox,
    Meta,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Network, Kind::Endpoint, Kind::Sandbox, Kind::Meta];

    pub fn table(self) -> &'static str {
        match self {
            Kind::Network => "network",
            Kind::Endpoint => "endpoint",
            Kind::Sandbox => "sandbox",
            Kind::Meta => "meta",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Put {
        kind: Kind,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        kind: Kind,
        key: String,
    },
}

/// The writes of one operation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub ops: Vec<Op>,
}

impl Batch {
    pub fn put<T: Serialize>(
        &mut self,
        kind: Kind,
        key: impl Into<String>,
        value: &T,
    ) -> &mut Self {
        let value = serde_json::to_vec(value).expect("records serialize");
        self.ops.push(Op::Put {
            kind,
            key: key.into(),
            value,
        });
        self
    }

    pub fn delete(&mut self, kind: Kind, key: impl Into<String>) -> &mut Self {
        self.ops.push(Op::Delete {
            kind,
            key: key.into(),
        });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path} is already in use by another daemon")]
    Locked { path: String },
    #[error("store: {0}")]
    Backend(String),
    #[error("store: corrupt {kind:?} record {key}: {reason}")]
    Corrupt {
        kind: Kind,
        key: String,
        reason: String,
    },
}

impl HasKind for StoreError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::new(e.kind(), e.to_string())
    }
}

pub trait KvStore: Send + Sync {
    /// Commits every op of `batch` atomically and durably.
    fn commit(&self, batch: &Batch) -> Result<(), StoreError>;
    /// All records of one kind, as `(key, value)`.
    fn list(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
}

/// Reads and decodes every record of a kind.
pub fn load_all<T: DeserializeOwned>(
    store: &dyn KvStore,
    kind: Kind,
) -> Result<Vec<T>, StoreError> {
    store
        .list(kind)?
        .into_iter()
        .map(|(key, value)| {
            serde_json::from_slice(&value).map_err(|e| StoreError::Corrupt {
                kind,
                key,
                reason: e.to_string(),
            })
        })
        .collect()
}
