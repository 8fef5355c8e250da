//! Bounded JSON intake and path-naming accessors.
//!
//! Untrusted documents are checked for size and nesting depth *before* serde_json
//! builds a tree, then walked through [`J`], a value paired with its JSON path, so
//! every type or presence error names the exact spot (`$.vulnerabilities[3].cve`).
//! Nothing here panics on any input.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// Size, depth and count limits for one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of arrays and objects.
    pub max_depth: usize,
    /// Largest accepted number of items in any one list (components, products, branches…).
    pub max_items: usize,
}

impl Limits {
    /// Limits for SBOMs: 64 MiB, depth 64, 500,000 items per list.
    pub const SBOM: Limits = Limits {
        max_bytes: 64 << 20,
        max_depth: 64,
        max_items: 500_000,
    };
    /// Limits for advisories and VEX documents: 32 MiB, depth 64, 200,000 items per list.
    pub const ADVISORY: Limits = Limits {
        max_bytes: 32 << 20,
        max_depth: 64,
        max_items: 200_000,
    };
}

/// Checks nesting depth with a byte scan that skips string contents.
fn check_depth(what: &'static str, bytes: &[u8], max_depth: usize) -> Result<()> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (offset, &b) in bytes.iter().enumerate() {
        if in_str {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_str = false;
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(Error::TooDeep {
                        what,
                        limit: max_depth,
                        offset,
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parses `bytes` as JSON after checking the size and depth limits.
pub fn parse_bounded(what: &'static str, bytes: &[u8], limits: &Limits) -> Result<Value> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge {
            what,
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    check_depth(what, bytes, limits.max_depth)?;
    serde_json::from_slice(bytes).map_err(|e| Error::Syntax {
        what,
        line: e.line(),
        column: e.column(),
        msg: e.to_string(),
    })
}

/// A JSON value with its path, for error messages that point at the input.
#[derive(Debug, Clone)]
pub(crate) struct J<'a> {
    pub v: &'a Value,
    pub path: String,
    pub what: &'static str,
    pub max_items: usize,
}

impl<'a> J<'a> {
    pub fn root(what: &'static str, v: &'a Value, limits: &Limits) -> Self {
        J {
            v,
            path: "$".to_string(),
            what,
            max_items: limits.max_items,
        }
    }

    fn child_path(&self, key: &str) -> String {
        if key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            format!("{}.{}", self.path, key)
        } else {
            format!("{}[{:?}]", self.path, key)
        }
    }

    pub fn err_type(&self, expected: &'static str) -> Error {
        Error::Type {
            what: self.what,
            path: self.path.clone(),
            expected,
        }
    }

    pub fn err_invalid(&self, msg: impl Into<String>) -> Error {
        Error::Invalid {
            what: self.what,
            path: self.path.clone(),
            msg: msg.into(),
        }
    }

    pub fn obj(&self) -> Result<&'a Map<String, Value>> {
        self.v.as_object().ok_or_else(|| self.err_type("an object"))
    }

    /// The member `key`, if present and not null.
    pub fn get(&self, key: &str) -> Result<Option<J<'a>>> {
        let o = self.obj()?;
        Ok(match o.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(J {
                v,
                path: self.child_path(key),
                what: self.what,
                max_items: self.max_items,
            }),
        })
    }

    /// The member `key`, which must be present.
    pub fn req(&self, key: &str) -> Result<J<'a>> {
        self.get(key)?.ok_or_else(|| Error::Missing {
            what: self.what,
            path: self.child_path(key),
        })
    }

    pub fn as_str(&self) -> Result<&'a str> {
        self.v.as_str().ok_or_else(|| self.err_type("a string"))
    }

    /// Optional string member.
    pub fn str_opt(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key)? {
            None => Ok(None),
            Some(j) => j.as_str().map(Some),
        }
    }

    /// Required string member.
    pub fn str_req(&self, key: &str) -> Result<&'a str> {
        self.req(key)?.as_str()
    }

    /// Optional number member (integer or float).
    pub fn f64_opt(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key)? {
            None => Ok(None),
            Some(j) => j.v.as_f64().map(Some).ok_or_else(|| j.err_type("a number")),
        }
    }

    /// Items of this array, bounded by the item limit.
    pub fn items(&self) -> Result<Vec<J<'a>>> {
        let a = self.v.as_array().ok_or_else(|| self.err_type("an array"))?;
        if a.len() > self.max_items {
            return Err(Error::TooMany {
                what: self.what,
                path: self.path.clone(),
                limit: self.max_items,
            });
        }
        Ok(a.iter()
            .enumerate()
            .map(|(i, v)| J {
                v,
                path: format!("{}[{}]", self.path, i),
                what: self.what,
                max_items: self.max_items,
            })
            .collect())
    }

    /// Items of the optional array member `key` (empty when absent).
    pub fn arr_opt(&self, key: &str) -> Result<Vec<J<'a>>> {
        match self.get(key)? {
            None => Ok(Vec::new()),
            Some(j) => j.items(),
        }
    }

    /// Optional array of strings.
    pub fn strs_opt(&self, key: &str) -> Result<Vec<&'a str>> {
        self.arr_opt(key)?.iter().map(|j| j.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_limit_counts_only_outside_strings() {
        let lim = Limits {
            max_bytes: 1000,
            max_depth: 3,
            max_items: 10,
        };
        assert!(parse_bounded("t", br#"{"a":"[[[[[[["}"#, &lim).is_ok());
        assert!(matches!(
            parse_bounded("t", b"[[[[1]]]]", &lim),
            Err(Error::TooDeep { offset: 3, .. })
        ));
        assert!(parse_bounded("t", br#"{"a":"\"[[[[["}"#, &lim).is_ok());
    }

    #[test]
    fn errors_name_the_path() {
        let v: Value = serde_json::from_str(r#"{"a":[{"b":1}], "weird key":2}"#).unwrap();
        let j = J::root("T", &v, &Limits::SBOM);
        let items = j.arr_opt("a").unwrap();
        let e = items[0].str_req("b").unwrap_err();
        assert_eq!(e.to_string(), "T: $.a[0].b: expected a string");
        let e = items[0].str_req("c").unwrap_err();
        assert_eq!(e.to_string(), "T: $.a[0].c: required member is missing");
        let e = j.str_req("weird key").unwrap_err();
        assert_eq!(e.to_string(), "T: $[\"weird key\"]: expected a string");
    }

    #[test]
    fn too_large_and_too_many() {
        let lim = Limits {
            max_bytes: 8,
            max_depth: 3,
            max_items: 2,
        };
        assert!(matches!(
            parse_bounded("t", b"[1,2,3,4,5]", &lim),
            Err(Error::TooLarge { .. })
        ));
        let v: Value = serde_json::from_str("[1,2,3]").unwrap();
        assert!(matches!(
            J::root("t", &v, &lim).items(),
            Err(Error::TooMany { .. })
        ));
    }
}
