//! The embedded backend: redb, one file (or memory), crash-safe commits, the same semantics as
//! DynamoDB. Index entries are kept in the same write transaction as their items.
//!
//! Layout: table `items` maps `pk \0 sk` to the item (postcard; JSON before); one table per index maps
//! `ipk \0 isk \0 pk \0 sk` to nothing. Keys never contain NUL, so byte order within a partition
//! is DynamoDB's sort-key order (UTF-8 bytes).

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::error::{CancelReason, StoreError, StoreResult};
use crate::item::{Item, Key};
use crate::port::{
    Clock, Continuation, ItemStore, Page, Query, SkRange, WriteAction, apply_update, check_batch,
    check_item, check_query, check_transaction, sk_matches,
};
use crate::schema::{self, Index};

const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<&[u8], &[u8]> = TableDefinition::new("gsi1");
const GSI2: TableDefinition<&[u8], &[u8]> = TableDefinition::new("gsi2");
const GSI3: TableDefinition<&[u8], &[u8]> = TableDefinition::new("gsi3");

fn index_table(ix: Index) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    match ix {
        Index::Gsi1 => GSI1,
        Index::Gsi2 => GSI2,
        Index::Gsi3 => GSI3,
    }
}

fn backend<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn join(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(p.as_bytes());
    }
    out
}

fn split(bytes: &[u8]) -> StoreResult<Vec<&str>> {
    bytes
        .split(|b| *b == 0)
        .map(|p| std::str::from_utf8(p).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}

/// The first byte of an item stored as postcard. Items written before it are JSON objects (they
/// start with `{`) and are still read.
const POSTCARD: u8 = 0xB1;

/// An item as stored: postcard, a compact binary form whose strings are read without unescaping
/// (a read of JSON-in-JSON spent most of its decode time on escapes).
fn encode(item: &Item) -> StoreResult<Vec<u8>> {
    postcard::to_extend(item, vec![POSTCARD]).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode(bytes: &[u8]) -> StoreResult<Item> {
    match bytes.split_first() {
        Some((&POSTCARD, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StoreError::Corrupt(e.to_string()))
        }
        _ => serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string())),
    }
}

/// The index entries an item has (an item is in an index when it has both its key attributes).
fn index_entries(item: &Item) -> StoreResult<Vec<(Index, Vec<u8>)>> {
    let key = item.key()?;
    let mut out = Vec::new();
    for ix in Index::ALL {
        if let (Some(ipk), Some(isk)) = (item.s(ix.pk_attr()), item.s(ix.sk_attr())) {
            out.push((ix, join(&[ipk, isk, &key.pk, &key.sk])));
        }
    }
    Ok(out)
}

/// Only the attributes an index projects.
fn project(ix: Index, mut item: Item) -> Item {
    item.0.retain(|name, _| schema::projected(ix, name));
    item
}

/// The byte range a query scans (a superset; every item is also checked with `sk_matches`).
fn scan_bounds(prefix: &[u8], range: &SkRange) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let with = |s: &str, tail: &[u8]| {
        let mut v = prefix.to_vec();
        v.extend_from_slice(s.as_bytes());
        v.extend_from_slice(tail);
        v
    };
    // `prefix` ends in NUL; the partition ends before the same bytes ending in 0x01.
    let mut end = prefix.to_vec();
    if let Some(last) = end.last_mut() {
        *last = 1;
    }
    match range {
        SkRange::All => (Bound::Included(prefix.to_vec()), Bound::Excluded(end)),
        // 0xFF never occurs in UTF-8, so it bounds every continuation of the text before it.
        SkRange::Prefix(p) => (
            Bound::Included(with(p, b"")),
            Bound::Excluded(with(p, &[0xFF])),
        ),
        SkRange::Between(a, b) => (
            Bound::Included(with(a, b"")),
            Bound::Excluded(with(b, &[0xFF])),
        ),
        SkRange::After(a) => (Bound::Included(with(a, b"")), Bound::Excluded(end)),
        SkRange::Before(b) => (
            Bound::Included(prefix.to_vec()),
            Bound::Excluded(with(b, &[0xFF])),
        ),
    }
}

/// The embedded item store.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    clock: Arc<dyn Clock>,
    /// The group-commit writer (see [`writer_loop`]).
    writer: Arc<Writer>,
}

/// The writer thread's queue; the last clone of the store stops the thread and waits for it,
/// so the file is closed when the store is gone (a restart in the same process can reopen it).
struct Writer {
    queue: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// redb's page cache. Its default (1 GiB) made `oms serve` hold 1.4 GB after a load test of
/// 200k orders; a quarter of that keeps every hot page of a local deployment.
const CACHE_BYTES: usize = 256 * 1024 * 1024;

impl EmbeddedStore {
    /// Opens (or creates) a store file. A crash leaves the last committed transaction whole.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> StoreResult<Self> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse,
                other => backend(other),
            })?;
        Self::init(db, clock, true)
    }

    /// A store in memory only (tests, benchmarks).
    pub fn in_memory(clock: Arc<dyn Clock>) -> StoreResult<Self> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(backend)?;
        // In memory there is nothing to make durable: commits skip the sync protocol.
        Self::init(db, clock, false)
    }

    fn init(db: Database, clock: Arc<dyn Clock>, durable: bool) -> StoreResult<Self> {
        let tx = db.begin_write().map_err(backend)?;
        for def in [ITEMS, GSI1, GSI2, GSI3] {
            tx.open_table(def).map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        let db = Arc::new(db);
        let (queue, jobs) = std::sync::mpsc::channel();
        let for_writer = db.clone();
        let thread = std::thread::Builder::new()
            .name("oms-store-writer".into())
            .spawn(move || writer_loop(for_writer, durable, jobs))
            .map_err(backend)?;
        let writer = Arc::new(Writer {
            queue: Some(queue),
            thread: Some(thread),
        });
        Ok(Self { db, clock, writer })
    }

    async fn blocking<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database, i64) -> StoreResult<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        let now = self.clock.now_secs();
        tokio::task::spawn_blocking(move || f(&db, now))
            .await
            .map_err(backend)?
    }
}

fn read_item(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &Key,
) -> StoreResult<Option<Item>> {
    match table
        .get(join(&[&key.pk, &key.sk]).as_slice())
        .map_err(backend)?
    {
        Some(v) => decode(v.value()).map(Some),
        None => Ok(None),
    }
}

/// Visits a redb range in either direction until `visit` returns false.
fn walk(
    range: redb::Range<'_, &'static [u8], &'static [u8]>,
    forward: bool,
    mut visit: impl FnMut(&[u8], &[u8]) -> StoreResult<bool>,
) -> StoreResult<()> {
    let entries: Box<dyn Iterator<Item = _>> = if forward {
        Box::new(range)
    } else {
        Box::new(range.rev())
    };
    for entry in entries {
        let (k, v) = entry.map_err(backend)?;
        if !visit(k.value(), v.value())? {
            break;
        }
    }
    Ok(())
}

fn run_query(db: &Database, now: i64, q: &Query) -> StoreResult<Page> {
    let tx = db.begin_read().map_err(backend)?;
    let items = tx.open_table(ITEMS).map_err(backend)?;
    let prefix = join(&[&q.pk, ""]);
    let (mut lo, mut hi) = scan_bounds(&prefix, &q.sk);
    if let Some(c) = &q.start {
        let at = match (q.index, &c.ipk, &c.isk) {
            (None, _, _) => join(&[&c.pk, &c.sk]),
            (Some(_), Some(ipk), Some(isk)) => join(&[ipk, isk, &c.pk, &c.sk]),
            _ => {
                return Err(StoreError::Invalid(
                    "continuation does not fit the query".into(),
                ));
            }
        };
        if q.forward {
            lo = Bound::Excluded(at);
        } else {
            hi = Bound::Excluded(at);
        }
    }
    let limit = q.limit as usize;
    let mut out: Vec<Item> = Vec::with_capacity(limit.min(64));
    let mut more = false;
    let bounds = (
        lo.as_ref().map(Vec::as_slice),
        hi.as_ref().map(Vec::as_slice),
    );
    // Adds a candidate item; false once the page is full and one more match was seen.
    let mut accept = |item: Item| -> bool {
        if item.is_expired(now) {
            return true;
        }
        if out.len() == limit {
            more = true;
            return false;
        }
        out.push(item);
        true
    };
    match q.index {
        None => walk(
            items.range::<&[u8]>(bounds).map_err(backend)?,
            q.forward,
            |k, v| {
                let parts = split(k)?;
                let sk = parts.get(1).copied().unwrap_or_default();
                if !sk_matches(&q.sk, sk) {
                    return Ok(true);
                }
                Ok(accept(decode(v)?))
            },
        )?,
        Some(ix) => {
            let index = tx.open_table(index_table(ix)).map_err(backend)?;
            walk(
                index.range::<&[u8]>(bounds).map_err(backend)?,
                q.forward,
                |k, _| {
                    let parts = split(k)?;
                    let [_, isk, pk, sk] = parts.as_slice() else {
                        return Err(StoreError::Corrupt("malformed index entry".into()));
                    };
                    if !sk_matches(&q.sk, isk) {
                        return Ok(true);
                    }
                    let key = Key::new((*pk).to_owned(), (*sk).to_owned());
                    let item = read_item(&items, &key)?
                        .ok_or_else(|| StoreError::Corrupt("index entry without item".into()))?;
                    Ok(accept(project(ix, item)))
                },
            )?
        }
    }
    let next = match (more, out.last()) {
        (true, Some(last)) => Some(Continuation::after(q.index, last)?),
        _ => None,
    };
    Ok(Page { items: out, next })
}

/// One item's change, computed before anything is written.
struct Change {
    raw_key: Vec<u8>,
    old: Option<Item>,
    new: Option<Item>,
}

/// Checks one transaction's conditions against the current state of `tx` (which holds the
/// changes of the transactions before it in the batch) and computes its changes, writing
/// nothing: a transaction that fails here leaves the batch untouched.
fn plan_transaction(
    items: &impl ReadableTable<&'static [u8], &'static [u8]>,
    now: i64,
    actions: Vec<WriteAction>,
) -> StoreResult<Vec<Change>> {
    let mut current = Vec::with_capacity(actions.len());
    for (index, action) in actions.iter().enumerate() {
        let key = action.key()?;
        let item = read_item(items, &key)?;
        if let Some(cond) = action.condition()
            && !cond.holds(item.as_ref(), now)
        {
            return Err(StoreError::Cancelled {
                index,
                reason: CancelReason::ConditionFailed,
            });
        }
        current.push((key, item));
    }
    let mut changes = Vec::with_capacity(actions.len());
    for (index, (action, (key, old))) in actions.into_iter().zip(current).enumerate() {
        let new = match action {
            WriteAction::Check { .. } => continue,
            WriteAction::Put { item, .. } => Some(item),
            WriteAction::Update { set, remove, .. } => {
                let live = old.clone().filter(|i| !i.is_expired(now));
                let item = apply_update(live, &key, &set, &remove);
                check_item(&item, Some(index))?;
                Some(item)
            }
            WriteAction::Delete { .. } => None,
        };
        changes.push(Change {
            raw_key: join(&[&key.pk, &key.sk]),
            old,
            new,
        });
    }
    Ok(changes)
}

/// Writes planned changes and their index entries. A failure here is the backend's, and fails
/// the whole batch.
fn apply_changes(
    items: &mut redb::Table<&'static [u8], &'static [u8]>,
    indexes: &mut [redb::Table<&'static [u8], &'static [u8]>; 3],
    changes: Vec<Change>,
) -> StoreResult<()> {
    for change in changes {
        if let Some(old) = &change.old {
            for (ix, entry) in index_entries(old)? {
                indexes[ix as usize]
                    .remove(entry.as_slice())
                    .map_err(backend)?;
            }
        }
        match change.new {
            Some(item) => {
                for (ix, entry) in index_entries(&item)? {
                    indexes[ix as usize]
                        .insert(entry.as_slice(), [].as_slice())
                        .map_err(backend)?;
                }
                items
                    .insert(change.raw_key.as_slice(), encode(&item)?.as_slice())
                    .map_err(backend)?;
            }
            None => {
                items.remove(change.raw_key.as_slice()).map_err(backend)?;
            }
        }
    }
    Ok(())
}

/// A transaction waiting for the writer, and where its outcome goes.
struct Job {
    actions: Vec<WriteAction>,
    now: i64,
    done: tokio::sync::oneshot::Sender<StoreResult<()>>,
}

/// At most this many transactions share one commit.
const MAX_BATCH: usize = 256;

/// Group commit: one writer thread takes every transaction waiting, applies them in arrival
/// order in one redb write transaction, each checked against the state the ones before it left
/// (a transaction whose condition fails is left out alone), and commits them with one fsync.
/// Every caller is answered only after the commit that made its write durable. redb has one
/// writer anyway; this makes the fsync, not the writer, what concurrent writes share.
fn writer_loop(db: Arc<Database>, durable: bool, jobs: std::sync::mpsc::Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let (outcomes, committed) = commit_batch(&db, durable, &mut batch);
        telemetry::store_commit(batch.len(), started.elapsed());
        for (job, outcome) in batch.into_iter().zip(outcomes) {
            let outcome = match (&committed, outcome) {
                (Ok(()), outcome) => outcome,
                // Nothing of the batch is durable: every caller learns it.
                (Err(e), _) => Err(StoreError::Backend(e.to_string())),
            };
            let _ = job.done.send(outcome);
        }
    }
}

/// Each job's own outcome, and the batch's commit.
fn commit_batch(
    db: &Database,
    durable: bool,
    batch: &mut [Job],
) -> (Vec<StoreResult<()>>, StoreResult<()>) {
    let mut outcomes: Vec<StoreResult<()>> = Vec::with_capacity(batch.len());
    let result = (|| {
        let mut tx = db.begin_write().map_err(backend)?;
        if !durable {
            tx.set_durability(redb::Durability::None).map_err(backend)?;
        }
        {
            let mut items = tx.open_table(ITEMS).map_err(backend)?;
            let mut indexes = [
                tx.open_table(GSI1).map_err(backend)?,
                tx.open_table(GSI2).map_err(backend)?,
                tx.open_table(GSI3).map_err(backend)?,
            ];
            for job in batch.iter_mut() {
                let actions = std::mem::take(&mut job.actions);
                match plan_transaction(&items, job.now, actions) {
                    Ok(changes) => {
                        apply_changes(&mut items, &mut indexes, changes)?;
                        outcomes.push(Ok(()));
                    }
                    Err(e) => outcomes.push(Err(e)),
                }
            }
        }
        tx.commit().map_err(backend)
    })();
    outcomes.resize_with(batch.len(), || {
        Err(StoreError::Backend("the batch was not committed".into()))
    });
    (outcomes, result)
}

#[async_trait]
impl ItemStore for EmbeddedStore {
    fn needs_outbox_pointers(&self) -> bool {
        true
    }

    // Point reads run inline: a read transaction and a B-tree lookup take microseconds, less
    // than the hop to the blocking pool and back that they used to pay. Queries, which may walk
    // many entries, still go to the blocking pool.
    #[tracing::instrument(level = "debug", name = "store.get", skip_all)]
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        crate::port::check_key(key)?;
        let now = self.clock.now_secs();
        let tx = self.db.begin_read().map_err(backend)?;
        let items = tx.open_table(ITEMS).map_err(backend)?;
        Ok(read_item(&items, key)?.filter(|i| !i.is_expired(now)))
    }

    #[tracing::instrument(level = "debug", name = "store.batch_get", skip_all)]
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        check_batch(keys)?;
        let now = self.clock.now_secs();
        let tx = self.db.begin_read().map_err(backend)?;
        let items = tx.open_table(ITEMS).map_err(backend)?;
        keys.iter()
            .map(|k| Ok(read_item(&items, k)?.filter(|i| !i.is_expired(now))))
            .collect()
    }

    #[tracing::instrument(level = "debug", name = "store.query", skip_all)]
    async fn query(&self, query: &Query) -> StoreResult<Page> {
        check_query(query)?;
        let query = query.clone();
        self.blocking(move |db, now| run_query(db, now, &query))
            .await
    }

    #[tracing::instrument(level = "debug", name = "store.transact_write", skip_all)]
    async fn transact_write(&self, actions: Vec<WriteAction>) -> StoreResult<()> {
        check_transaction(&actions)?;
        let (done, outcome) = tokio::sync::oneshot::channel();
        let job = Job {
            actions,
            now: self.clock.now_secs(),
            done,
        };
        let stopped = || StoreError::Backend("the store's writer has stopped".into());
        let queue = self.writer.queue.as_ref().ok_or_else(stopped)?;
        queue.send(job).map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::item::Value;

    fn item() -> Item {
        let mut item = Item::with_key(&Key::new("T#demo#O#1".into(), "O".into()));
        item.set("data", r#"{"lines":[{"sku":"A \"quoted\""}]}"#)
            .set("version", 7_i64)
            .set("tags", Value::L(vec![Value::Bool(true), Value::Null]));
        item
    }

    #[test]
    fn items_are_stored_as_postcard_and_read_back_whole() {
        let bytes = encode(&item()).unwrap();
        assert_eq!(bytes[0], POSTCARD);
        assert_eq!(decode(&bytes).unwrap(), item());
    }

    #[test]
    fn items_stored_as_json_by_earlier_versions_are_still_read() {
        let json = serde_json::to_vec(&item()).unwrap();
        assert_eq!(decode(&json).unwrap(), item());
    }

    #[test]
    fn a_damaged_item_is_corrupt_not_a_panic() {
        let mut bytes = encode(&item()).unwrap();
        bytes.truncate(bytes.len() / 2);
        assert!(matches!(decode(&bytes), Err(StoreError::Corrupt(_))));
        assert!(matches!(decode(b"{\"pk\""), Err(StoreError::Corrupt(_))));
    }
}
