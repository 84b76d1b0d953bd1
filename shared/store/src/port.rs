//! The item-store port: the small set of operations both backends implement with the same
//! semantics, and the checks of DynamoDB's limits that both apply before writing.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{StoreError, StoreResult};
use crate::item::{Item, Key, MAX_ITEM_BYTES, Value};
use crate::schema::{self, Index};

/// Most actions in one transaction.
pub const MAX_TRANSACTION_ACTIONS: usize = 100;
/// Largest transaction, in bytes.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;
/// Most keys in one batch get.
pub const MAX_BATCH_GET: usize = 100;
/// Largest page a query returns.
pub const MAX_QUERY_LIMIT: u32 = 1_000;

/// The sort-key condition of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkRange {
    All,
    Prefix(String),
    /// Inclusive on both ends.
    Between(String, String),
    /// Strictly after.
    After(String),
    /// Strictly before.
    Before(String),
}

/// Where a query resumes: the last item's table key (and index key, on an index). Opaque to
/// callers; serialisable so cursors can carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    pub(crate) pk: String,
    pub(crate) sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ipk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) isk: Option<String>,
}

impl Continuation {
    /// The position just after `item` in a query of `index` (the table when `None`).
    pub fn after(index: Option<Index>, item: &Item) -> StoreResult<Self> {
        Ok(match index {
            None => Continuation {
                pk: item.require_s(schema::PK)?.to_owned(),
                sk: item.require_s(schema::SK)?.to_owned(),
                ipk: None,
                isk: None,
            },
            Some(ix) => Continuation {
                pk: item.require_s(schema::PK)?.to_owned(),
                sk: item.require_s(schema::SK)?.to_owned(),
                ipk: Some(item.require_s(ix.pk_attr())?.to_owned()),
                isk: Some(item.require_s(ix.sk_attr())?.to_owned()),
            },
        })
    }

    /// The sort key (of the index, on an index query) this position is at.
    pub fn sort_key(&self) -> &str {
        self.isk.as_deref().unwrap_or(&self.sk)
    }
}

/// A query of one partition of the table or of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub index: Option<Index>,
    pub pk: String,
    pub sk: SkRange,
    /// Ascending sort-key order when true.
    pub forward: bool,
    pub limit: u32,
    pub start: Option<Continuation>,
}

impl Query {
    /// All items of a table partition, ascending, up to `limit`.
    pub fn partition(pk: impl Into<String>, limit: u32) -> Self {
        Query {
            index: None,
            pk: pk.into(),
            sk: SkRange::All,
            forward: true,
            limit,
            start: None,
        }
    }
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Where the next page starts; `None` when the partition is exhausted. A page may be
    /// followed by an empty page (DynamoDB cannot always tell that nothing follows).
    pub next: Option<Continuation>,
}

/// A condition on one action. An expired item counts as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// No live item has this key.
    Absent,
    /// A live item has this key.
    Exists,
    /// A live item has `version` = N.
    VersionEquals(i64),
    /// A live item has the attribute with exactly this value.
    AttributeEquals(String, Value),
    /// No live item has this key, or the live one has the attribute with exactly this value
    /// (a claim: new, or already this claimant's).
    AbsentOrAttributeEquals(String, Value),
}

impl Condition {
    /// Evaluates the condition against the current item (after TTL), as both backends must.
    pub fn holds(&self, current: Option<&Item>, now_secs: i64) -> bool {
        let live = current.filter(|i| !i.is_expired(now_secs));
        match self {
            Condition::Absent => live.is_none(),
            Condition::Exists => live.is_some(),
            Condition::VersionEquals(v) => live.and_then(|i| i.n(schema::VERSION)) == Some(*v),
            Condition::AttributeEquals(name, value) => {
                live.and_then(|i| i.get(name)) == Some(value)
            }
            Condition::AbsentOrAttributeEquals(name, value) => {
                live.is_none_or(|i| i.get(name) == Some(value))
            }
        }
    }
}

/// One action of a transactional write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteAction {
    /// Writes the whole item (replacing any item with its key).
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    /// Sets and removes attributes of the item with `key`, creating it when absent.
    Update {
        key: Key,
        set: Vec<(String, Value)>,
        remove: Vec<String>,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Writes nothing; cancels the transaction unless the condition holds.
    Check { key: Key, condition: Condition },
}

impl WriteAction {
    pub fn put(item: Item) -> Self {
        WriteAction::Put {
            item,
            condition: None,
        }
    }

    pub fn put_if(item: Item, condition: Condition) -> Self {
        WriteAction::Put {
            item,
            condition: Some(condition),
        }
    }

    pub fn key(&self) -> StoreResult<Key> {
        match self {
            WriteAction::Put { item, .. } => item.key(),
            WriteAction::Update { key, .. }
            | WriteAction::Delete { key, .. }
            | WriteAction::Check { key, .. } => Ok(key.clone()),
        }
    }

    pub fn condition(&self) -> Option<&Condition> {
        match self {
            WriteAction::Put { condition, .. }
            | WriteAction::Update { condition, .. }
            | WriteAction::Delete { condition, .. } => condition.as_ref(),
            WriteAction::Check { condition, .. } => Some(condition),
        }
    }

    /// The size the action adds to the transaction (the written item, or its key).
    fn size(&self) -> usize {
        let key_size = |k: &Key| 2 + k.pk.len() + 2 + k.sk.len();
        match self {
            WriteAction::Put { item, .. } => item.size(),
            WriteAction::Update { key, set, .. } => {
                key_size(key) + set.iter().map(|(n, v)| n.len() + v.size()).sum::<usize>()
            }
            WriteAction::Delete { key, .. } | WriteAction::Check { key, .. } => key_size(key),
        }
    }
}

/// Checks a key: non-empty parts without NUL (the embedded store's separator), within
/// DynamoDB's key size limits (2048 bytes partition, 1024 bytes sort).
pub fn check_key(key: &Key) -> StoreResult<()> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(StoreError::Invalid("key parts must not be empty".into()));
    }
    if key.pk.len() > 2048 || key.sk.len() > 1024 {
        return Err(StoreError::Invalid(
            "key exceeds DynamoDB's key size".into(),
        ));
    }
    if key.pk.contains('\0') || key.sk.contains('\0') {
        return Err(StoreError::Invalid("key must not contain NUL".into()));
    }
    Ok(())
}

/// Refuses what DynamoDB refuses, before anything is written, identically for both backends.
pub fn check_transaction(actions: &[WriteAction]) -> StoreResult<()> {
    if actions.is_empty() {
        return Err(StoreError::Invalid("empty transaction".into()));
    }
    if actions.len() > MAX_TRANSACTION_ACTIONS {
        return Err(StoreError::TooManyActions {
            count: actions.len(),
        });
    }
    let mut seen: HashMap<Key, usize> = HashMap::with_capacity(actions.len());
    let mut total = 0;
    for (index, action) in actions.iter().enumerate() {
        let key = action.key()?;
        check_key(&key)?;
        if let Some(first) = seen.insert(key, index) {
            return Err(StoreError::DuplicateItem {
                first,
                second: index,
            });
        }
        if let WriteAction::Put { item, .. } = action {
            check_item(item, Some(index))?;
        }
        total += action.size();
    }
    if total > MAX_TRANSACTION_BYTES {
        return Err(StoreError::TransactionTooLarge { size: total });
    }
    Ok(())
}

/// Refuses an item DynamoDB would refuse.
pub fn check_item(item: &Item, index: Option<usize>) -> StoreResult<()> {
    let size = item.size();
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::ItemTooLarge { index, size });
    }
    for ix in Index::ALL {
        for attr in [ix.pk_attr(), ix.sk_attr()] {
            if let Some(v) = item.get(attr) {
                match v {
                    Value::S(s) if !s.is_empty() && !s.contains('\0') => {}
                    _ => {
                        return Err(StoreError::Invalid(format!(
                            "index key attribute {attr} must be a non-empty string"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Applies an update's sets and removes to the current item (or a new one).
pub fn apply_update(
    current: Option<Item>,
    key: &Key,
    set: &[(String, Value)],
    remove: &[String],
) -> Item {
    let mut item = current.unwrap_or_else(|| Item::with_key(key));
    for (name, value) in set {
        item.set(name, value.clone());
    }
    for name in remove {
        item.remove(name);
    }
    item
}

/// The time TTL is judged against: the system's one clock (`domain::Clock`), injected so
/// tests control expiry.
pub use domain::clock::{Clock, ManualClock, SystemClock};

/// The item-store port. Implemented by the DynamoDB and the embedded backend with the same
/// semantics (proven by one conformance suite).
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// A strongly consistent read of one item; expired items are `None`.
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>>;

    /// Up to 100 items in one request, in the order of `keys`; missing and expired are `None`.
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>>;

    /// One page of a partition of the table or an index, expired items left out.
    async fn query(&self, query: &Query) -> StoreResult<Page>;

    /// All or nothing: every action applies, or none does and the first failing action is named.
    async fn transact_write(&self, actions: Vec<WriteAction>) -> StoreResult<()>;

    /// Whether this backend has no change stream of its own, so each outbox item needs a
    /// pending pointer for the local relay (DynamoDB's table stream feeds the relay instead).
    /// No default: a wrapper that forgot to forward it would lose every event of its backend.
    fn needs_outbox_pointers(&self) -> bool;
}

/// Checks a batch get's keys.
pub fn check_batch(keys: &[Key]) -> StoreResult<()> {
    if keys.len() > MAX_BATCH_GET {
        return Err(StoreError::Invalid(format!(
            "batch get of {} keys exceeds {MAX_BATCH_GET}",
            keys.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for k in keys {
        check_key(k)?;
        if !seen.insert(k) {
            return Err(StoreError::Invalid("batch get repeats a key".into()));
        }
    }
    Ok(())
}

/// Checks a query's limit.
pub fn check_query(q: &Query) -> StoreResult<()> {
    if q.limit == 0 || q.limit > MAX_QUERY_LIMIT {
        return Err(StoreError::Invalid(format!(
            "query limit must be between 1 and {MAX_QUERY_LIMIT}"
        )));
    }
    if q.pk.is_empty() || q.pk.contains('\0') {
        return Err(StoreError::Invalid(
            "query partition key is empty or has NUL".into(),
        ));
    }
    Ok(())
}

/// Whether a sort key satisfies the range (string order is byte order, as in DynamoDB).
pub fn sk_matches(range: &SkRange, sk: &str) -> bool {
    match range {
        SkRange::All => true,
        SkRange::Prefix(p) => sk.starts_with(p.as_str()),
        SkRange::Between(a, b) => sk >= a.as_str() && sk <= b.as_str(),
        SkRange::After(a) => sk > a.as_str(),
        SkRange::Before(b) => sk < b.as_str(),
    }
}
