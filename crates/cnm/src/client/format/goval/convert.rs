//! Building a gotmpl `Value` from a [`GoVal`] tree (recording each part's Go shape) or from
//! decoded JSON; and the addresses that identify shared parts of a `Value`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gotmpl::Value;

use super::{FieldShape, GoVal, Shape};

pub(super) fn map_key(m: &Arc<BTreeMap<Arc<str>, Value>>) -> usize {
    Arc::as_ptr(m) as *const u8 as usize
}

pub(super) fn list_key(l: &Arc<[Value]>) -> usize {
    Arc::as_ptr(l) as *const u8 as usize
}

pub(super) fn str_key(s: &Arc<str>) -> usize {
    Arc::as_ptr(s) as *const u8 as usize
}

pub(super) fn convert(v: GoVal, shapes: &mut HashMap<usize, Shape>) -> Value {
    match v {
        GoVal::Str(s) => Value::String(Arc::from(s)),
        GoVal::Bool(b) => Value::Bool(b),
        GoVal::Int(n) => Value::Int(n),
        GoVal::Func(f) => Value::Function(f),
        GoVal::Time(t) => {
            let s: Arc<str> = Arc::from(t.go_string());
            shapes.insert(str_key(&s), Shape::Time(t));
            Value::String(s)
        }
        GoVal::Struct(fields) => {
            let mut map = BTreeMap::new();
            let mut shape = Vec::with_capacity(fields.len());
            for f in fields {
                let is_map = matches!(f.value, GoVal::Map(_));
                shape.push(FieldShape {
                    name: f.name,
                    json: f.json,
                    omitempty: f.omitempty,
                    is_map,
                });
                map.insert(Arc::from(f.name), convert(f.value, shapes));
            }
            let m = Arc::new(map);
            shapes.insert(map_key(&m), Shape::Struct(shape));
            Value::Map(m)
        }
        GoVal::Map(entries) => {
            let nil = entries.is_none();
            let map: BTreeMap<Arc<str>, Value> = entries
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (Arc::from(k), convert(v, shapes)))
                .collect();
            let m = Arc::new(map);
            if nil {
                shapes.insert(map_key(&m), Shape::NilMap);
            }
            Value::Map(m)
        }
        GoVal::Slice(items) => {
            let nil = items.is_none();
            let list: Arc<[Value]> = items
                .unwrap_or_default()
                .into_iter()
                .map(|v| convert(v, shapes))
                .collect();
            if nil {
                shapes.insert(list_key(&list), Shape::NilSlice);
            }
            Value::List(list)
        }
        GoVal::Marshaler(inner, json) => {
            let value = convert(*inner, shapes);
            let key = match &value {
                Value::Map(m) => Some(map_key(m)),
                Value::List(l) => Some(list_key(l)),
                _ => None,
            };
            if let Some(key) = key {
                shapes.insert(key, Shape::Json(json));
            }
            value
        }
    }
}

/// Decoded JSON as Go's `interface{}` (numbers kept as integers when they are).
pub(super) fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::Uint))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0))),
        serde_json::Value::String(s) => Value::String(Arc::from(s.as_str())),
        serde_json::Value::Array(a) => Value::List(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => Value::Map(Arc::new(
            o.iter()
                .map(|(k, v)| (Arc::from(k.as_str()), from_json(v)))
                .collect(),
        )),
    }
}
