//! An in-memory store for unit tests.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::{Batch, Kind, KvStore, Op, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<BTreeMap<(Kind, String), Vec<u8>>>,
}

impl KvStore for MemoryStore {
    fn commit(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut tables = self.tables.lock().expect("memory store lock");
        for op in &batch.ops {
            match op {
                Op::Put { kind, key, value } => {
                    tables.insert((*kind, key.clone()), value.clone());
                }
                Op::Delete { kind, key } => {
                    tables.remove(&(*kind, key.clone()));
                }
            }
        }
        Ok(())
    }

    fn list(&self, kind: Kind) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let tables = self.tables.lock().expect("memory store lock");
        Ok(tables
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, key), v)| (key.clone(), v.clone()))
            .collect())
    }
}
