//! Go values for templates: structs, maps, slices and times with Go's printing and JSON rules.
//!
//! Contract: gotmpl's `Value` has only sorted maps, so a Go struct would print as `map[...]`
//! and marshal with sorted keys. [`GoData::new`] converts a [`GoVal`] tree into a `Value` and
//! remembers, by the address of each shared `Arc`, which values were structs (field order, JSON
//! names, `omitempty`), nil maps/slices, times or values with their own `MarshalJSON`. Clones
//! of a `Value` share that address, so [`GoData::print`] (`fmt.Print`) and [`GoData::json`]
//! (`json.Marshal`) can render any sub-value the template reaches as Go would.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gotmpl::{Value, ValueFunc};

use super::gojson::quote;
use super::gotime::GoTime;

mod convert;

use convert::{convert, from_json, list_key, map_key, str_key};

/// A Go value as the docker CLI holds it.
pub enum GoVal {
    Str(String),
    Bool(bool),
    Int(i64),
    Time(GoTime),
    Struct(Vec<GoField>),
    /// `None` is a nil map (prints `map[]`, marshals `null`).
    Map(Option<BTreeMap<String, GoVal>>),
    /// `None` is a nil slice (prints `[]`, marshals `null`).
    Slice(Option<Vec<GoVal>>),
    /// A method that takes arguments (reached with `call`, e.g. `.Label "k"`).
    Func(ValueFunc),
    /// A value whose JSON form is fixed, like a Go type with its own `MarshalJSON`.
    Marshaler(Box<GoVal>, String),
}

/// One exported struct field.
pub struct GoField {
    /// The Go field name templates use (`ID`).
    pub name: &'static str,
    /// The JSON key (`Id`).
    pub json: &'static str,
    pub omitempty: bool,
    pub value: GoVal,
}

impl GoField {
    /// A field whose JSON key is its name.
    pub fn new(name: &'static str, value: GoVal) -> Self {
        GoField {
            name,
            json: name,
            omitempty: false,
            value,
        }
    }

    /// A field with a `json:"key,omitempty"`-style tag.
    pub fn tagged(name: &'static str, json: &'static str, omitempty: bool, value: GoVal) -> Self {
        GoField {
            name,
            json,
            omitempty,
            value,
        }
    }
}

impl GoVal {
    pub fn str(s: impl Into<String>) -> Self {
        GoVal::Str(s.into())
    }

    /// A `map[string]string` (nil when `None`).
    pub fn string_map(m: Option<&BTreeMap<String, String>>) -> Self {
        GoVal::Map(m.map(|m| m.iter().map(|(k, v)| (k.clone(), GoVal::str(v))).collect()))
    }

    /// A `[]string` (nil when `None`).
    pub fn string_slice(v: Option<&Vec<String>>) -> Self {
        GoVal::Slice(v.map(|v| v.iter().map(GoVal::str).collect()))
    }
}

struct FieldShape {
    name: &'static str,
    json: &'static str,
    omitempty: bool,
    is_map: bool,
}

enum Shape {
    Struct(Vec<FieldShape>),
    NilMap,
    NilSlice,
    Time(GoTime),
    Json(String),
}

/// A template's data: the `Value` and what each shared part of it was in Go.
#[derive(Clone)]
pub struct GoData {
    pub value: Value,
    shapes: Arc<HashMap<usize, Shape>>,
}

impl GoData {
    pub fn new(v: GoVal) -> Self {
        let mut shapes = HashMap::new();
        let value = convert(v, &mut shapes);
        GoData {
            value,
            shapes: Arc::new(shapes),
        }
    }

    /// No data and no shapes: renders every value by its dynamic type only.
    pub fn plain() -> Self {
        GoData {
            value: Value::Nil,
            shapes: Arc::new(HashMap::new()),
        }
    }

    /// Data with no Go type information (decoded JSON, Go's `map[string]interface{}`).
    pub fn untyped(v: &serde_json::Value) -> Self {
        GoData {
            value: from_json(v),
            shapes: Arc::new(HashMap::new()),
        }
    }

    /// JSON keys of struct fields that differ from their Go names (`Id` for `ID`): a template
    /// using one fails on the typed value, and docker retries on the raw JSON.
    pub fn renamed_keys(&self) -> Vec<&'static str> {
        let mut keys: Vec<_> = self
            .shapes
            .values()
            .filter_map(|s| match s {
                Shape::Struct(fields) => {
                    Some(fields.iter().filter(|f| f.name != f.json).map(|f| f.json))
                }
                _ => None,
            })
            .flatten()
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// Names of struct fields that hold Go maps (a missing key there is not an error).
    pub fn map_fields(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self
            .shapes
            .values()
            .filter_map(|s| match s {
                Shape::Struct(fields) => Some(fields.iter().filter(|f| f.is_map).map(|f| f.name)),
                _ => None,
            })
            .flatten()
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// `fmt.Sprint(v)`.
    pub fn print(&self, v: &Value) -> String {
        match v {
            Value::Nil => "<nil>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Uint(n) => n.to_string(),
            Value::Float(f) => f.to_string(),
            Value::String(s) => s.to_string(),
            Value::List(items) => {
                format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|i| self.print(i))
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            }
            Value::Map(m) => match self.shapes.get(&map_key(m)) {
                Some(Shape::Struct(fields)) => {
                    let parts: Vec<_> = fields
                        .iter()
                        .map(|f| m.get(f.name).map_or_else(String::new, |v| self.print(v)))
                        .collect();
                    format!("{{{}}}", parts.join(" "))
                }
                _ => {
                    let parts: Vec<_> = m
                        .iter()
                        .map(|(k, v)| format!("{k}:{}", self.print(v)))
                        .collect();
                    format!("map[{}]", parts.join(" "))
                }
            },
            Value::Function(_) => "<func>".into(),
        }
    }

    /// `json.Marshal(v)` (with HTML escaping off, as docker's `json` template function).
    pub fn json(&self, v: &Value) -> String {
        match v {
            Value::Nil | Value::Function(_) => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(n) => n.to_string(),
            Value::Uint(n) => n.to_string(),
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map_or_else(|| "null".into(), |n| n.to_string())
            }
            Value::String(s) => match self.shapes.get(&str_key(s)) {
                Some(Shape::Time(t)) => quote(&t.rfc3339_nano(), false),
                _ => quote(s, false),
            },
            Value::List(items) => match self.shapes.get(&list_key(items)) {
                Some(Shape::NilSlice) => "null".into(),
                _ => format!(
                    "[{}]",
                    items
                        .iter()
                        .map(|i| self.json(i))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            },
            Value::Map(m) => match self.shapes.get(&map_key(m)) {
                Some(Shape::Json(fixed)) => fixed.clone(),
                Some(Shape::NilMap) => "null".into(),
                Some(Shape::Struct(fields)) => {
                    let parts: Vec<_> = fields
                        .iter()
                        .filter_map(|f| {
                            let v = m.get(f.name).unwrap_or(&Value::Nil);
                            (!(f.omitempty && self.is_empty(v)))
                                .then(|| format!("{}:{}", quote(f.json, false), self.json(v)))
                        })
                        .collect();
                    format!("{{{}}}", parts.join(","))
                }
                _ => {
                    let parts: Vec<_> = m
                        .iter()
                        .map(|(k, v)| format!("{}:{}", quote(k, false), self.json(v)))
                        .collect();
                    format!("{{{}}}", parts.join(","))
                }
            },
        }
    }

    /// Go's `omitempty` test (structs and times are never empty).
    fn is_empty(&self, v: &Value) -> bool {
        match v {
            Value::Nil => true,
            Value::Bool(b) => !b,
            Value::Int(n) => *n == 0,
            Value::Uint(n) => *n == 0,
            Value::Float(f) => *f == 0.0,
            Value::String(s) => {
                s.is_empty() && !matches!(self.shapes.get(&str_key(s)), Some(Shape::Time(_)))
            }
            Value::List(l) => l.is_empty(),
            Value::Map(m) => {
                m.is_empty() && !matches!(self.shapes.get(&map_key(m)), Some(Shape::Struct(_)))
            }
            Value::Function(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> GoData {
        let mut aux = BTreeMap::new();
        aux.insert("a".to_string(), "10.0.0.5".to_string());
        let config = GoVal::Struct(vec![
            GoField::tagged("Subnet", "Subnet", true, GoVal::str("10.0.0.0/8")),
            GoField::tagged("IPRange", "IPRange", true, GoVal::str("")),
            GoField::tagged(
                "AuxAddress",
                "AuxiliaryAddresses",
                true,
                GoVal::string_map(Some(&aux)),
            ),
        ]);
        GoData::new(GoVal::Struct(vec![
            GoField::new("Name", GoVal::str("n<1>")),
            GoField::tagged("ID", "Id", false, GoVal::str("abc")),
            GoField::new(
                "Created",
                GoVal::Time(GoTime::parse("2026-01-02T03:04:05.5Z")),
            ),
            GoField::new("Config", GoVal::Slice(Some(vec![config]))),
            GoField::new("Labels", GoVal::string_map(None)),
            GoField::tagged("Peers", "Peers", true, GoVal::Slice(None)),
        ]))
    }

    #[test]
    fn prints_structs_like_fmt() {
        let d = sample();
        assert_eq!(
            d.print(&d.value),
            "{n<1> abc 2026-01-02 03:04:05.5 +0000 UTC [{10.0.0.0/8  map[a:10.0.0.5]}] map[] []}"
        );
    }

    #[test]
    fn marshals_structs_in_field_order() {
        let d = sample();
        assert_eq!(
            d.json(&d.value),
            r#"{"Name":"n<1>","Id":"abc","Created":"2026-01-02T03:04:05.5Z","Config":[{"Subnet":"10.0.0.0/8","AuxiliaryAddresses":{"a":"10.0.0.5"}}],"Labels":null}"#
        );
        // A sub-value reached through the template keeps its shape.
        let Value::Map(root) = &d.value else { panic!() };
        assert_eq!(d.json(root.get("Labels").unwrap()), "null");
        assert_eq!(d.renamed_keys(), vec!["AuxiliaryAddresses", "Id"]);
    }

    #[test]
    fn untyped_maps_sort() {
        let d = GoData::untyped(&serde_json::json!({"b": 1, "a": [true, null]}));
        assert_eq!(d.json(&d.value), r#"{"a":[true,null],"b":1}"#);
        assert_eq!(d.print(&d.value), "map[a:[true <nil>] b:1]");
    }
}
