//! The local store: one redb file, `<data-root>/network/cnm.redb`.
//!
//! Be aware: redb takes an exclusive lock on the file, so a second daemon on the same
//! data root fails at start instead of corrupting state. Values are JSON bytes, one table per
//! record kind, to keep the redb surface small (its API changes between majors).

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Batch, Kind, KvStore, Op, StoreError};

fn table(kind: Kind) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(kind.table())
}

pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Backend(format!("create {}: {e}", dir.display())))?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked {
                path: path.display().to_string(),
            },
            other => StoreError::Backend(format!("open {}: {other}", path.display())),
        })?;
        // Create every table once so reads never meet a missing table.
        let txn = db.begin_write().map_err(backend)?;
        for kind in Kind::ALL {
            txn.open_table(table(kind)).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(RedbStore { db })
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl KvStore for RedbStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(backend)?;
        for op in &batch.ops {
            match op {
                Op::Put { kind, key, value } => {
                    let mut t = txn.open_table(table(*kind)).map_err(backend)?;
                    t.insert(key.as_str(), value.as_slice()).map_err(backend)?;
                }
                Op::Delete { kind, key } => {
                    let mut t = txn.open_table(table(*kind)).map_err(backend)?;
                    t.remove(key.as_str()).map_err(backend)?;
                }
            }
        }
        txn.commit().map_err(backend)
    }

    fn list(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(backend)?;
        let t = txn.open_table(table(kind)).map_err(backend)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(backend)? {
            let (k, v) = entry.map_err(backend)?;
            out.push((k.value().to_string(), v.value().to_vec()));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_is_atomic_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network/cnm.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            let mut b = Batch::default();
            b.put(Kind::Network, "a", &"one")
                .put(Kind::Endpoint, "e", &"two");
            store.commit(&b).unwrap();
            let mut b = Batch::default();
            b.delete(Kind::Endpoint, "e");
            store.commit(&b).unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(
            store.list(Kind::Network).unwrap(),
            vec![("a".to_string(), b"\"one\"".to_vec())]
        );
        assert!(store.list(Kind::Endpoint).unwrap().is_empty());
    }

    #[test]
    fn a_second_open_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cnm.redb");
        let _first = RedbStore::open(&path).unwrap();
        assert!(matches!(
            RedbStore::open(&path),
            Err(StoreError::Locked { .. })
        ));
    }
}

#[cfg(test)]
mod latency {
    use super::*;

    /// Prints the median commit time of a small batch (not asserted: timing is for bench/).
    #[test]
    fn commit_latency_is_printed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("cnm.redb")).unwrap();
        let mut times = Vec::new();
        for i in 0..50 {
            let mut b = Batch::default();
            b.put(Kind::Endpoint, format!("e{i}"), &"x".repeat(600))
                .put(Kind::Sandbox, format!("s{i}"), &"y".repeat(400));
            let start = std::time::Instant::now();
            store.commit(&b).unwrap();
            times.push(start.elapsed());
        }
        times.sort();
        eprintln!("redb commit median {:?}, p90 {:?}", times[25], times[45]);
    }
}
