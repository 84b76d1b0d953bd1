//! Event bus adapters for `domain::ports::EventPublisher`.
//!
//! - [`eventbridge`]: `PutEvents` in batches of at most 10 entries and 256 KB, entries that
//!   failed retried on their own (a few times, with backoff), the rest reported back.
//! - [`memory`]: in-process (tests, and the default bus of `oms serve`).
//! - [`redis`]: Redis Streams (`oms serve --bus redis://…`): publisher, consumer groups, dead letters.
//! - [`sqs`]: dead letters on AWS, and a queue as its consumer sees it (redrive, notifier).

pub mod eventbridge;
pub mod memory;
pub mod redis;
pub mod sqs;

pub use eventbridge::EventBridgePublisher;
pub use memory::{DeadLetterLog, FlakyBus, InProcessBus};
pub use sqs::{SqsDeadLetters, SqsQueue};
