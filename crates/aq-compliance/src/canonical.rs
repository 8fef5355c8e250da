//! Canonical JSON: the byte form of zone changes and reports that the server signs and appends to
//! its transparency log.
//!
//! The encoding is the RFC 8785 (JCS) profile restricted to integers: object members sorted by
//! the UTF-16 code units of their names, no insignificant whitespace, strings escaped exactly as
//! JCS does (`\"`, `\\`, `\b \t \n \f \r`, other controls as lower-case `\u00xx`, everything
//! else literal), integers in plain decimal. Floating-point numbers are refused rather than
//! formatted, so no value in a signed form depends on a float printer; every figure aq signs is
//! an integer (counts, basis points, milliseconds). Keys are sorted here, not by the map type, so
//! the result does not depend on serde_json's `preserve_order` feature.

use serde::Serialize;
use serde_json::Value;

/// Deepest nesting accepted (reports are about 8 deep).
pub const MAX_DEPTH: usize = 64;

/// Why a value has no canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A non-integer number (canonical forms carry integers only).
    #[error("non-integer number {0} has no canonical form here")]
    NonInteger(String),
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// The value could not be turned into JSON.
    #[error("serialisation failed: {0}")]
    Serialize(String),
}

/// The canonical JSON text of `v`.
pub fn to_canonical_json<T: Serialize + ?Sized>(v: &T) -> Result<String, CanonicalError> {
    let value = serde_json::to_value(v).map_err(|e| CanonicalError::Serialize(e.to_string()))?;
    let mut out = String::new();
    write_value(&value, &mut out, 0)?;
    Ok(out)
}

/// Appends the canonical form of `v` to `out`.
pub fn write_value(v: &Value, out: &mut String, depth: usize) -> Result<(), CanonicalError> {
    if depth > MAX_DEPTH {
        return Err(CanonicalError::TooDeep);
    }
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else {
                return Err(CanonicalError::NonInteger(n.to_string()));
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(x, out, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<(&String, &Value)> = m.iter().collect();
            keys.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, x)) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(x, out, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let n = c as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[(n >> 4) & 0xf]));
                out.push(char::from(HEX[n & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_strips_whitespace() {
        let v = json!({"b": 1, "a": [true, null, -3], "A": {"y": "x", "x": "y"}});
        assert_eq!(
            to_canonical_json(&v).unwrap(),
            r#"{"A":{"x":"y","y":"x"},"a":[true,null,-3],"b":1}"#
        );
    }

    #[test]
    fn escapes_like_jcs() {
        let v = json!("q\"b\\\u{1}\u{1f}\n\t\u{7f}é€\u{2028}/");
        assert_eq!(
            to_canonical_json(&v).unwrap(),
            "\"q\\\"b\\\\\\u0001\\u001f\\n\\t\u{7f}é€\u{2028}/\""
        );
    }

    #[test]
    fn utf16_key_order() {
        // U+1F600 sorts after U+FB01 in UTF-8 order but before it in UTF-16 (surrogate D83D < FB01).
        let v = json!({"\u{1F600}": 1, "\u{FB01}": 2});
        assert_eq!(
            to_canonical_json(&v).unwrap(),
            "{\"\u{1F600}\":1,\"\u{FB01}\":2}"
        );
    }

    #[test]
    fn refuses_floats_and_depth() {
        assert!(matches!(
            to_canonical_json(&json!({"x": 0.5})),
            Err(CanonicalError::NonInteger(_))
        ));
        let mut v = json!(1);
        for _ in 0..=MAX_DEPTH + 1 {
            v = json!([v]);
        }
        assert_eq!(to_canonical_json(&v), Err(CanonicalError::TooDeep));
        assert_eq!(
            to_canonical_json(&json!(u64::MAX)).unwrap(),
            u64::MAX.to_string()
        );
        assert_eq!(
            to_canonical_json(&json!(i64::MIN)).unwrap(),
            i64::MIN.to_string()
        );
    }
}
