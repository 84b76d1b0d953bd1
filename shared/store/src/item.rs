//! Items: what the table holds. A deliberately small subset of DynamoDB's attribute types — the
//! ones the product uses — so both backends can represent every item exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// One attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    S(String),
    /// Numbers are integers in this model (versions, TTLs, counters, minor units).
    N(i64),
    Bool(bool),
    Null,
    L(Vec<Value>),
    M(BTreeMap<String, Value>),
}

impl Value {
    /// DynamoDB's size accounting (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html),
    /// rounded up where the documentation gives a range, so we never accept what DynamoDB refuses.
    pub fn size(&self) -> usize {
        match self {
            Value::S(s) => s.len(),
            // Up to 38 significant digits, 1 byte per two digits, plus 1.
            Value::N(n) => n.unsigned_abs().to_string().len().div_ceil(2) + 1,
            Value::Bool(_) | Value::Null => 1,
            Value::L(items) => 3 + items.iter().map(|v| v.size() + 1).sum::<usize>(),
            Value::M(map) => {
                3 + map
                    .iter()
                    .map(|(k, v)| k.len() + v.size() + 1)
                    .sum::<usize>()
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::S(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::S(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::N(n)
    }
}

/// A table key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub(crate) fn new(pk: String, sk: String) -> Self {
        Self { pk, sk }
    }
}

/// An item: named attributes, always including the key attributes `pk` and `sk`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Item(pub BTreeMap<String, Value>);

/// The largest item DynamoDB stores.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

impl Item {
    /// A new item with its key attributes set.
    pub fn with_key(key: &Key) -> Self {
        let mut item = Item::default();
        item.set(crate::schema::PK, key.pk.as_str());
        item.set(crate::schema::SK, key.sk.as_str());
        item
    }

    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        self.0.insert(name.to_owned(), value.into());
        self
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    pub fn remove(&mut self, name: &str) -> Option<Value> {
        self.0.remove(name)
    }

    pub fn s(&self, name: &str) -> Option<&str> {
        match self.0.get(name) {
            Some(Value::S(s)) => Some(s),
            _ => None,
        }
    }

    pub fn n(&self, name: &str) -> Option<i64> {
        match self.0.get(name) {
            Some(Value::N(n)) => Some(*n),
            _ => None,
        }
    }

    /// A string attribute that must be there (a stored item missing it is corrupt).
    pub fn require_s(&self, name: &str) -> Result<&str, StoreError> {
        self.s(name)
            .ok_or_else(|| StoreError::Corrupt(format!("item lacks string attribute {name}")))
    }

    pub fn require_n(&self, name: &str) -> Result<i64, StoreError> {
        self.n(name)
            .ok_or_else(|| StoreError::Corrupt(format!("item lacks number attribute {name}")))
    }

    pub fn key(&self) -> Result<Key, StoreError> {
        Ok(Key::new(
            self.require_s(crate::schema::PK)?.to_owned(),
            self.require_s(crate::schema::SK)?.to_owned(),
        ))
    }

    /// DynamoDB's item size: attribute names plus values.
    pub fn size(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.size()).sum()
    }

    /// Expired items count as absent everywhere (DynamoDB deletes them lazily).
    pub fn is_expired(&self, now_secs: i64) -> bool {
        self.n(crate::schema::TTL).is_some_and(|ttl| ttl < now_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodb_rules() {
        let mut item = Item::default();
        item.set("pk", "abc"); // 2 + 3
        item.set("n", 12345_i64); // 1 + (3 + 1)
        item.set("b", Value::Bool(true)); // 1 + 1
        assert_eq!(item.size(), 5 + 5 + 2);
        let list = Value::L(vec![Value::S("ab".into()), Value::N(7)]);
        assert_eq!(list.size(), 3 + (2 + 1) + (2 + 1));
    }

    #[test]
    fn ttl_in_the_past_is_expired() {
        let mut item = Item::default();
        assert!(!item.is_expired(100));
        item.set(crate::schema::TTL, 99_i64);
        assert!(item.is_expired(100));
        item.set(crate::schema::TTL, 100_i64);
        assert!(!item.is_expired(100));
    }
}
