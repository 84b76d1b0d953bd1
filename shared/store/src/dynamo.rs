//! The DynamoDB backend: `GetItem`, `BatchGetItem`, `Query` and `TransactWriteItems`, with the
//! port's conditions as condition expressions and TTL as absence (filters and conditions).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
    TransactWriteItem, Update,
};

/// What `ensure_table` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableOutcome {
    Created,
    AlreadyMatches,
}

use crate::error::{CancelReason, StoreError, StoreResult};
use crate::item::{Item, Key, Value};
use crate::port::{
    Clock, Condition, Continuation, ItemStore, Page, Query, SkRange, WriteAction, check_batch,
    check_key, check_query, check_transaction,
};
use crate::schema::{self, Index};

type AttrMap = HashMap<String, AttributeValue>;

fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.to_string()),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Null => AttributeValue::Null(true),
        Value::L(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::M(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

fn from_attr(a: &AttributeValue) -> StoreResult<Value> {
    Ok(match a {
        AttributeValue::S(s) => Value::S(s.clone()),
        AttributeValue::N(n) => Value::N(
            n.parse()
                .map_err(|_| StoreError::Corrupt(format!("number {n} is not an integer")))?,
        ),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(items) => {
            Value::L(items.iter().map(from_attr).collect::<StoreResult<_>>()?)
        }
        AttributeValue::M(map) => Value::M(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), from_attr(v)?)))
                .collect::<StoreResult<_>>()?,
        ),
        other => {
            return Err(StoreError::Corrupt(format!(
                "unsupported attribute type {other:?}"
            )));
        }
    })
}

fn to_map(item: &Item) -> AttrMap {
    item.0
        .iter()
        .map(|(k, v)| (k.clone(), to_attr(v)))
        .collect()
}

fn from_map(map: &AttrMap) -> StoreResult<Item> {
    Ok(Item(
        map.iter()
            .map(|(k, v)| Ok((k.clone(), from_attr(v)?)))
            .collect::<StoreResult<_>>()?,
    ))
}

/// An item as the table's stream shows it (a Lambda stream record's `NewImage`).
pub fn item_from_stream_image(image: serde_dynamo::Item) -> StoreResult<Item> {
    from_map(&image.into())
}

fn key_map(key: &Key) -> AttrMap {
    HashMap::from([
        (schema::PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (schema::SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn sdk_error<E: ProvideErrorMetadata + std::fmt::Debug>(e: SdkError<E>) -> StoreError {
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .unwrap_or_default();
    match code {
        "ThrottlingException"
        | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded" => StoreError::Throttled,
        "" => StoreError::Backend(format!("{e:?}")),
        _ => StoreError::Backend(format!(
            "{code}: {}",
            e.as_service_error()
                .and_then(|s| s.message())
                .unwrap_or_default()
        )),
    }
}

/// Expression attribute names and values, added only as used (DynamoDB refuses unused ones).
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: AttrMap,
}

impl Expr {
    fn name(&mut self, placeholder: &str, attr: &str) -> String {
        self.names.insert(placeholder.to_owned(), attr.to_owned());
        placeholder.to_owned()
    }

    fn value(&mut self, placeholder: &str, v: AttributeValue) -> String {
        self.values.insert(placeholder.to_owned(), v);
        placeholder.to_owned()
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<AttrMap> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// "the item is live": no TTL, or a TTL not yet passed.
    fn live(&mut self, now: i64) -> String {
        let ttl = self.name("#ttl", schema::TTL);
        let now = self.value(":now", AttributeValue::N(now.to_string()));
        format!("(attribute_not_exists({ttl}) OR {ttl} >= {now})")
    }

    fn condition(&mut self, c: &Condition, now: i64) -> String {
        match c {
            Condition::Absent => {
                let pk = self.name("#pk", schema::PK);
                let ttl = self.name("#ttl", schema::TTL);
                let now = self.value(":now", AttributeValue::N(now.to_string()));
                format!("attribute_not_exists({pk}) OR {ttl} < {now}")
            }
            Condition::Exists => {
                let pk = self.name("#pk", schema::PK);
                format!("attribute_exists({pk}) AND {}", self.live(now))
            }
            Condition::VersionEquals(v) => {
                let ver = self.name("#cver", schema::VERSION);
                let val = self.value(":cver", AttributeValue::N(v.to_string()));
                format!("{ver} = {val} AND {}", self.live(now))
            }
            Condition::AttributeEquals(attr, v) => {
                let a = self.name("#cattr", attr);
                let val = self.value(":cval", to_attr(v));
                format!("{a} = {val} AND {}", self.live(now))
            }
            Condition::AbsentOrAttributeEquals(attr, v) => {
                // Absent or expired (as `Absent`), or whatever its TTL, the claimant's own.
                let pk = self.name("#pk", schema::PK);
                let ttl = self.name("#ttl", schema::TTL);
                let now = self.value(":now", AttributeValue::N(now.to_string()));
                let a = self.name("#cattr", attr);
                let val = self.value(":cval", to_attr(v));
                format!("attribute_not_exists({pk}) OR {ttl} < {now} OR {a} = {val}")
            }
        }
    }
}

/// The write capacity one transaction consumed, on the table and on each index it touched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteCapacity {
    pub table: f64,
    /// (index name, units), one per index the transaction wrote.
    pub indexes: Vec<(String, f64)>,
}

/// Where transactions' consumed capacity is recorded, when asked for (diagnostics, tests).
pub type CapacityLog = Arc<std::sync::Mutex<Vec<WriteCapacity>>>;

/// Requests sent and the capacity units they consumed, as DynamoDB reports them
/// (`ReturnConsumedCapacity`): what the cost report of `make bench` reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// Requests by API name (`GetItem`, `BatchGetItem`, `Query`, `TransactWriteItems`).
    pub requests: std::collections::BTreeMap<&'static str, u64>,
    pub read_units: f64,
    pub write_units: f64,
}

impl Usage {
    /// What was used since `before`.
    pub fn since(&self, before: &Usage) -> Usage {
        let mut requests = self.requests.clone();
        for (name, n) in &before.requests {
            if let Some(m) = requests.get_mut(name) {
                *m -= n;
            }
        }
        requests.retain(|_, n| *n > 0);
        Usage {
            requests,
            read_units: self.read_units - before.read_units,
            write_units: self.write_units - before.write_units,
        }
    }
}

/// A running [`Usage`] total.
pub type UsageMeter = Arc<std::sync::Mutex<Usage>>;

/// The DynamoDB item store.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
    capacity: Option<CapacityLog>,
    meter: Option<UsageMeter>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            table: table.into(),
            clock,
            capacity: None,
            meter: None,
        }
    }

    /// Counts every request and the capacity DynamoDB says it consumed into `meter`.
    pub fn with_usage_meter(mut self, meter: UsageMeter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// `ReturnConsumedCapacity` for a read, when metered.
    fn read_capacity(&self) -> Option<aws_sdk_dynamodb::types::ReturnConsumedCapacity> {
        self.meter
            .as_ref()
            .map(|_| aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
    }

    fn meter<'a>(
        &self,
        request: &'static str,
        consumed: impl IntoIterator<Item = &'a aws_sdk_dynamodb::types::ConsumedCapacity>,
        write: bool,
    ) {
        let Some(meter) = &self.meter else { return };
        let units: f64 = consumed
            .into_iter()
            .map(|c| c.capacity_units().unwrap_or_default())
            .sum();
        if let Ok(mut m) = meter.lock() {
            *m.requests.entry(request).or_default() += 1;
            if write {
                m.write_units += units;
            } else {
                m.read_units += units;
            }
        }
    }

    /// Asks DynamoDB for each transaction's consumed capacity (by index) and records it in `log`.
    pub fn with_capacity_log(mut self, log: CapacityLog) -> Self {
        self.capacity = Some(log);
        self
    }

    fn record_capacity(&self, consumed: &[aws_sdk_dynamodb::types::ConsumedCapacity]) {
        let Some(log) = &self.capacity else { return };
        let mut total = WriteCapacity::default();
        for c in consumed {
            total.table += c
                .table()
                .and_then(|t| t.capacity_units())
                .unwrap_or_default();
            for (name, cap) in c.global_secondary_indexes().into_iter().flatten() {
                total
                    .indexes
                    .push((name.clone(), cap.capacity_units().unwrap_or_default()));
            }
        }
        total.indexes.sort_by(|a, b| a.0.cmp(&b.0));
        if let Ok(mut l) = log.lock() {
            l.push(total);
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with its indexes as `schema` and template.yaml describe it (tests and
    /// local runs; production tables come from the SAM template).
    pub async fn create_table(&self) -> StoreResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))
        };
        let mut req = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(schema::PK)?)
            .attribute_definitions(attr(schema::SK)?)
            .key_schema(key(schema::PK, KeyType::Hash)?)
            .key_schema(key(schema::SK, KeyType::Range)?);
        for ix in Index::ALL {
            req = req
                .attribute_definitions(attr(ix.pk_attr())?)
                .attribute_definitions(attr(ix.sk_attr())?)
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(ix.name())
                        .key_schema(key(ix.pk_attr(), KeyType::Hash)?)
                        .key_schema(key(ix.sk_attr(), KeyType::Range)?)
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::Include)
                                .set_non_key_attributes(Some(
                                    ix.projection().iter().map(|s| (*s).to_owned()).collect(),
                                ))
                                .build(),
                        )
                        .build()
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                );
        }
        req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        )
        .send()
        .await
        .map_err(sdk_error)?;
        Ok(())
    }

    /// Creates the table as `schema` describes it (indexes, stream, TTL) if it does not exist;
    /// an existing table must match, or nothing is touched and the differences are named.
    pub async fn ensure_table(&self) -> StoreResult<TableOutcome> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await;
        let table = match described {
            Ok(d) => d.table,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                self.create_table().await?;
                self.enable_ttl().await?;
                return Ok(TableOutcome::Created);
            }
            Err(e) => return Err(sdk_error(e)),
        };
        let Some(table) = table else {
            return Err(StoreError::Invalid(
                "DescribeTable returned no table".into(),
            ));
        };
        let mut differences = Vec::new();
        let keys = |ks: &[KeySchemaElement]| -> Vec<(String, String)> {
            ks.iter()
                .map(|k| {
                    (
                        k.attribute_name().to_owned(),
                        k.key_type().as_str().to_owned(),
                    )
                })
                .collect()
        };
        let want_keys = vec![
            (schema::PK.to_owned(), "HASH".to_owned()),
            (schema::SK.to_owned(), "RANGE".to_owned()),
        ];
        if keys(table.key_schema()) != want_keys {
            differences.push(format!(
                "key schema is {:?}, wants {want_keys:?}",
                keys(table.key_schema())
            ));
        }
        for ix in Index::ALL {
            let Some(g) = table
                .global_secondary_indexes()
                .iter()
                .find(|g| g.index_name() == Some(ix.name()))
            else {
                differences.push(format!("index {} is missing", ix.name()));
                continue;
            };
            let want = vec![
                (ix.pk_attr().to_owned(), "HASH".to_owned()),
                (ix.sk_attr().to_owned(), "RANGE".to_owned()),
            ];
            if keys(g.key_schema()) != want {
                differences.push(format!(
                    "index {} has keys {:?}, wants {want:?}",
                    ix.name(),
                    keys(g.key_schema())
                ));
            }
            let projected: Vec<&str> = g
                .projection()
                .map(|p| p.non_key_attributes().iter().map(String::as_str).collect())
                .unwrap_or_default();
            let mut have = projected.clone();
            have.sort_unstable();
            let mut want = ix.projection();
            want.sort_unstable();
            if have != want {
                differences.push(format!(
                    "index {} projects {projected:?}, wants {:?}",
                    ix.name(),
                    ix.projection()
                ));
            }
        }
        let stream = table
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_owned());
        if stream.as_deref() != Some("NEW_IMAGE") {
            differences.push(format!(
                "stream is {stream:?}, wants NEW_IMAGE (the outbox relay reads it)"
            ));
        }
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(&self.table)
            .send()
            .await
            .map_err(sdk_error)?;
        let ttl_attr = ttl
            .time_to_live_description()
            .filter(|d| {
                d.time_to_live_status()
                    .is_some_and(|s| s.as_str() == "ENABLED")
            })
            .and_then(|d| d.attribute_name())
            .map(str::to_owned);
        if ttl_attr.as_deref() != Some(schema::TTL) {
            differences.push(format!(
                "TTL is {ttl_attr:?}, wants {:?} enabled",
                schema::TTL
            ));
        }
        if differences.is_empty() {
            Ok(TableOutcome::AlreadyMatches)
        } else {
            Err(StoreError::Invalid(format!(
                "table {} exists with another definition, left untouched: {}",
                self.table,
                differences.join("; ")
            )))
        }
    }

    async fn enable_ttl(&self) -> StoreResult<()> {
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(schema::TTL)
                    .enabled(true)
                    .build()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            )
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    fn action(&self, action: WriteAction, now: i64) -> StoreResult<TransactWriteItem> {
        let invalid = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Invalid(e.to_string());
        let mut expr = Expr::default();
        let item = match action {
            WriteAction::Put { item, condition } => {
                let cond = condition.map(|c| expr.condition(&c, now));
                TransactWriteItem::builder().put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(to_map(&item)))
                        .set_condition_expression(cond)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .build()
                        .map_err(invalid)?,
                )
            }
            WriteAction::Update {
                key,
                set,
                remove,
                condition,
            } => {
                if set.is_empty() && remove.is_empty() {
                    return Err(StoreError::Invalid(
                        "update sets and removes nothing".into(),
                    ));
                }
                let mut clauses = Vec::new();
                let sets: Vec<String> = set
                    .iter()
                    .enumerate()
                    .map(|(i, (name, v))| {
                        let n = expr.name(&format!("#s{i}"), name);
                        let v = expr.value(&format!(":s{i}"), to_attr(v));
                        format!("{n} = {v}")
                    })
                    .collect();
                if !sets.is_empty() {
                    clauses.push(format!("SET {}", sets.join(", ")));
                }
                let removes: Vec<String> = remove
                    .iter()
                    .enumerate()
                    .map(|(i, name)| expr.name(&format!("#r{i}"), name))
                    .collect();
                if !removes.is_empty() {
                    clauses.push(format!("REMOVE {}", removes.join(", ")));
                }
                let cond = condition.map(|c| expr.condition(&c, now));
                TransactWriteItem::builder().update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_map(&key)))
                        .update_expression(clauses.join(" "))
                        .set_condition_expression(cond)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .build()
                        .map_err(invalid)?,
                )
            }
            WriteAction::Delete { key, condition } => {
                let cond = condition.map(|c| expr.condition(&c, now));
                TransactWriteItem::builder().delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_map(&key)))
                        .set_condition_expression(cond)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .build()
                        .map_err(invalid)?,
                )
            }
            WriteAction::Check { key, condition } => {
                let cond = expr.condition(&condition, now);
                TransactWriteItem::builder().condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_map(&key)))
                        .condition_expression(cond)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .build()
                        .map_err(invalid)?,
                )
            }
        };
        Ok(item.build())
    }
}

/// Maps DynamoDB's per-action cancellation reasons to the first failing action.
pub fn cancellation(reasons: &[(Option<String>, Option<String>)]) -> StoreError {
    for (index, (code, message)) in reasons.iter().enumerate() {
        let reason = match code.as_deref() {
            None | Some("None") => continue,
            Some("ConditionalCheckFailed") => CancelReason::ConditionFailed,
            Some("TransactionConflict") => CancelReason::Conflict,
            Some(other) => CancelReason::Other(format!(
                "{other}: {}",
                message.as_deref().unwrap_or_default()
            )),
        };
        return StoreError::Cancelled { index, reason };
    }
    StoreError::Backend("transaction cancelled without a reason".into())
}

#[async_trait]
impl ItemStore for DynamoStore {
    fn needs_outbox_pointers(&self) -> bool {
        false
    }

    #[tracing::instrument(level = "debug", name = "store.get", skip_all)]
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        check_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .set_return_consumed_capacity(self.read_capacity())
            .send()
            .await
            .map_err(sdk_error)?;
        self.meter("GetItem", out.consumed_capacity(), false);
        let now = self.clock.now_secs();
        match out.item {
            Some(map) => Ok(Some(from_map(&map)?).filter(|i| !i.is_expired(now))),
            None => Ok(None),
        }
    }

    #[tracing::instrument(level = "debug", name = "store.batch_get", skip_all)]
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        check_batch(keys)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut found: HashMap<Key, Item> = HashMap::with_capacity(keys.len());
        let mut pending: Vec<AttrMap> = keys.iter().map(key_map).collect();
        // Unprocessed keys (throttling) are asked for again, a bounded number of times.
        for attempt in 0..8 {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
            let req = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, req)
                .set_return_consumed_capacity(self.read_capacity())
                .send()
                .await
                .map_err(sdk_error)?;
            self.meter("BatchGetItem", out.consumed_capacity(), false);
            for map in out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                let item = from_map(&map)?;
                found.insert(item.key()?, item);
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        if !pending.is_empty() {
            return Err(StoreError::Throttled);
        }
        let now = self.clock.now_secs();
        Ok(keys
            .iter()
            .map(|k| found.remove(k).filter(|i| !i.is_expired(now)))
            .collect())
    }

    #[tracing::instrument(level = "debug", name = "store.query", skip_all)]
    async fn query(&self, q: &Query) -> StoreResult<Page> {
        check_query(q)?;
        let mut expr = Expr::default();
        let (pk_attr, sk_attr) = match q.index {
            None => (schema::PK, schema::SK),
            Some(ix) => (ix.pk_attr(), ix.sk_attr()),
        };
        let pk = expr.name("#qpk", pk_attr);
        let pkv = expr.value(":qpk", AttributeValue::S(q.pk.clone()));
        let mut key_cond = format!("{pk} = {pkv}");
        let s = |v: &str| AttributeValue::S(v.to_owned());
        match &q.sk {
            SkRange::All => {}
            SkRange::Prefix(p) => {
                let sk = expr.name("#qsk", sk_attr);
                let v = expr.value(":qa", s(p));
                key_cond.push_str(&format!(" AND begins_with({sk}, {v})"));
            }
            SkRange::Between(a, b) => {
                let sk = expr.name("#qsk", sk_attr);
                let va = expr.value(":qa", s(a));
                let vb = expr.value(":qb", s(b));
                key_cond.push_str(&format!(" AND {sk} BETWEEN {va} AND {vb}"));
            }
            SkRange::After(a) => {
                let sk = expr.name("#qsk", sk_attr);
                let v = expr.value(":qa", s(a));
                key_cond.push_str(&format!(" AND {sk} > {v}"));
            }
            SkRange::Before(b) => {
                let sk = expr.name("#qsk", sk_attr);
                let v = expr.value(":qb", s(b));
                key_cond.push_str(&format!(" AND {sk} < {v}"));
            }
        }
        let filter = expr.live(self.clock.now_secs());
        let start = q.start.as_ref().map(|c| {
            let mut m = HashMap::from([
                (schema::PK.to_owned(), s(&c.pk)),
                (schema::SK.to_owned(), s(&c.sk)),
            ]);
            if let (Some(ix), Some(ipk), Some(isk)) = (q.index, &c.ipk, &c.isk) {
                m.insert(ix.pk_attr().to_owned(), s(ipk));
                m.insert(ix.sk_attr().to_owned(), s(isk));
            }
            m
        });
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(|ix| ix.name().to_owned()))
            .key_condition_expression(key_cond)
            .filter_expression(filter)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .scan_index_forward(q.forward)
            .limit(i32::try_from(q.limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .set_return_consumed_capacity(self.read_capacity())
            .send()
            .await
            .map_err(sdk_error)?;
        self.meter("Query", out.consumed_capacity(), false);
        let items = out
            .items
            .unwrap_or_default()
            .iter()
            .map(from_map)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = match out.last_evaluated_key {
            Some(lek) => {
                let get = |name: &str| match lek.get(name) {
                    Some(AttributeValue::S(v)) => Ok(v.clone()),
                    _ => Err(StoreError::Corrupt(format!(
                        "LastEvaluatedKey lacks {name}"
                    ))),
                };
                Some(Continuation {
                    pk: get(schema::PK)?,
                    sk: get(schema::SK)?,
                    ipk: q.index.map(|ix| get(ix.pk_attr())).transpose()?,
                    isk: q.index.map(|ix| get(ix.sk_attr())).transpose()?,
                })
            }
            None => None,
        };
        Ok(Page { items, next })
    }

    #[tracing::instrument(level = "debug", name = "store.transact_write", skip_all)]
    async fn transact_write(&self, actions: Vec<WriteAction>) -> StoreResult<()> {
        check_transaction(&actions)?;
        let now = self.clock.now_secs();
        let items = actions
            .into_iter()
            .map(|a| self.action(a, now))
            .collect::<StoreResult<Vec<_>>>()?;
        // One token per commit, sent unchanged on every SDK retry of it: a retry of a commit that
        // landed (its response lost) is answered as a success instead of being applied again.
        let mut token = [0u8; 16];
        getrandom::fill(&mut token).map_err(|e| StoreError::Backend(e.to_string()))?;
        let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
        let started = std::time::Instant::now();
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .set_return_consumed_capacity(
                (self.capacity.is_some() || self.meter.is_some())
                    .then_some(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Indexes),
            )
            .send()
            .await;
        telemetry::store_commit(1, started.elapsed());
        match sent {
            Ok(out) => {
                self.record_capacity(out.consumed_capacity());
                self.meter("TransactWriteItems", out.consumed_capacity(), true);
                Ok(())
            }
            Err(e) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error() {
                    let reasons: Vec<(Option<String>, Option<String>)> = c
                        .cancellation_reasons()
                        .iter()
                        .map(|r| (r.code().map(str::to_owned), r.message().map(str::to_owned)))
                        .collect();
                    return Err(cancellation(&reasons));
                }
                Err(sdk_error(e))
            }
        }
    }
}

/// Configuration for a local endpoint (DynamoDB Local in tests): static test credentials, and
/// retries off so that request counts are exact. Add interceptors before `build()`.
pub fn local_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
}

/// A client for a local endpoint (see [`local_config`]).
pub fn local_client(endpoint: &str) -> Client {
    Client::from_conf(local_config(endpoint).build())
}
