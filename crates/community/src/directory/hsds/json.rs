//! Reading HSDS JSON objects with the path of each field inside its record, for errors that
//! say where (`service_at_locations[0].location.latitude`).

use serde_json::{Map, Value};

use crate::{Problem, MAX_TEXT};

pub(super) fn too_long(v: &Value, path: &mut String) -> bool {
    match v {
        Value::String(s) => s.len() > MAX_TEXT && s.chars().count() > MAX_TEXT,
        Value::Array(a) => a.iter().enumerate().any(|(i, x)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = too_long(x, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        Value::Object(m) => m.iter().any(|(k, x)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(k);
            let found = too_long(x, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        _ => false,
    }
}

/// The records of a list by id, read by `read`.
pub(super) struct Obj<'a> {
    map: &'a Map<String, Value>,
    pub(super) path: String,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Obj<'a> {
    pub(super) fn root(v: &'a Value) -> Obj<'a> {
        Obj {
            map: v.as_object().unwrap_or(&EMPTY),
            path: String::new(),
        }
    }

    pub(super) fn field(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    pub(super) fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// Text, `None` when absent, null or blank.
    pub(super) fn str_opt(&self, name: &str) -> Result<Option<&'a str>, Problem> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim())),
            Some(_) => Err(Problem::Type {
                field: self.field(name),
                expected: "text",
            }),
        }
    }

    pub(super) fn str_req(&self, name: &str) -> Result<&'a str, Problem> {
        self.str_opt(name)?
            .ok_or_else(|| Problem::Missing(self.field(name)))
    }

    pub(super) fn num_opt(&self, name: &str) -> Result<Option<f64>, Problem> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(Problem::Type {
                field: self.field(name),
                expected: "a number",
            }),
        }
    }

    pub(super) fn obj_opt(&self, name: &str) -> Result<Option<Obj<'a>>, Problem> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Obj {
                map: m,
                path: self.field(name),
            })),
            Some(_) => Err(Problem::Type {
                field: self.field(name),
                expected: "an object",
            }),
        }
    }

    /// The objects of a list; none when absent or null.
    pub(super) fn list(&self, name: &str) -> Result<Vec<Obj<'a>>, Problem> {
        let items = match self.get(name) {
            None => return Ok(Vec::new()),
            Some(Value::Array(a)) => a,
            Some(_) => {
                return Err(Problem::Type {
                    field: self.field(name),
                    expected: "a list",
                })
            }
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(m) => Ok(Obj {
                    map: m,
                    path: format!("{}[{i}]", self.field(name)),
                }),
                _ => Err(Problem::Type {
                    field: format!("{}[{i}]", self.field(name)),
                    expected: "an object",
                }),
            })
            .collect()
    }
}
