//! Field deserialisers for carrier responses: both carriers send `null` for most fields and
//! their documentation disagrees with their responses on a few types, so a field of an
//! unexpected type reads as absent instead of failing the whole response.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A string; numbers and booleans as their text; `null`, objects and arrays as absent.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text(&Value::deserialize(d)?))
}

/// A non-negative integer that fits `u32`, also from a numeric string; anything else is absent.
pub(crate) fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A list whose `null` (or non-list) means empty; its items must still read as `T`.
pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .map(|item| serde_json::from_value(item).map_err(D::Error::custom))
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// The text of a scalar JSON value.
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The text at `key` of an object, if it is a non-empty scalar.
pub(crate) fn field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(text).filter(|s| !s.trim().is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "string")]
        s: Option<String>,
        #[serde(default, deserialize_with = "u32")]
        n: Option<u32>,
        #[serde(default, deserialize_with = "list")]
        l: Vec<Value>,
    }

    #[test]
    fn odd_types_read_as_absent() {
        let t: T = serde_json::from_value(json!({"s": 5, "n": "3", "l": null})).unwrap();
        assert_eq!((t.s.as_deref(), t.n, t.l.len()), (Some("5"), Some(3), 0));
        let t: T = serde_json::from_value(json!({"s": {}, "n": -1, "l": [1]})).unwrap();
        assert_eq!((t.s, t.n, t.l.len()), (None, None, 1));
        let t: T = serde_json::from_value(json!({})).unwrap();
        assert_eq!((t.s, t.n, t.l.len()), (None, None, 0));
        let t: T = serde_json::from_value(json!({"n": 2.5, "s": null})).unwrap();
        assert_eq!((t.s, t.n), (None, None));
    }
}
