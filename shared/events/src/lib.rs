//! The event edge: everything that moves events in and out, over `app`'s use cases.
//!
//! Adapters of `domain::ports::EventPublisher` and dead letters:
//! - [`eventbridge`]: `PutEvents` in batches of at most 10 entries and 256 KB, entries that
//!   failed retried on their own (a few times, with backoff), the rest reported back.
//! - [`memory`]: in-process (tests, and the default bus of `oms serve`).
//! - [`redis`]: Redis Streams (`oms serve --bus redis://…`): publisher, consumer groups, dead letters.
//! - [`sqs`]: dead letters on AWS, and a queue as its consumer sees it (redrive, notifier).
//!
//! Events in and out:
//! - [`tenant`]: tenant events in (`OrderSubmitted`, `OrderCancelled`, `ShipmentRequested`);
//!   [`dispatch`]: the `event-consumer` function's edge (forged sources dead-lettered).
//! - [`relay`]: the outbox to the bus; [`stream`]: the `outbox-relay` function's edge (DynamoDB
//!   stream records in, dead letters and redrive).
//! - [`notify`]: signed notifications to tenants; [`notifier`]: the `notifier` function's edge
//!   (SQS batches in, backoff through the queue).
//! - [`local`]: the same, in one process, for `oms serve` (in-process bus or Redis Streams).

pub mod dispatch;
pub mod eventbridge;
pub mod local;
pub mod memory;
pub mod notifier;
pub mod notify;
pub mod redis;
pub mod relay;
pub mod sqs;
pub mod stream;
pub mod tenant;

pub use eventbridge::EventBridgePublisher;
pub use memory::{DeadLetterLog, FlakyBus, InProcessBus};
pub use sqs::{SqsDeadLetters, SqsQueue};
