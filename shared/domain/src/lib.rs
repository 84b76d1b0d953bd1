//! TenantOMS domain model.
//!
//! Pure: no AWS, Lambda, HTTP, async runtime or I/O. Time and ids come in through [`clock::Ctx`];
//! every input value is a newtype that can only be built by parsing; every refusal is a
//! [`DomainError`].

pub mod access;
pub mod apikey;
pub mod audit;
pub mod clock;
pub mod config;
pub mod contact;
pub mod error;
pub mod events;
pub mod gateway;
pub mod ids;
pub mod money;
pub mod order;
pub mod outbound;
pub mod ports;
pub mod scope;
pub mod status;
pub mod tenant;
pub mod usage;
pub mod webhook;

pub use clock::{Clock, Ctx, IdSource, ManualClock, SystemClock, Timestamp};
pub use error::{DomainError, DomainResult, Entity};
pub use money::{Currency, Money};

#[cfg(any(test, feature = "test-support"))]
pub use clock::SeqIds;
#[cfg(any(test, feature = "test-support"))]
pub mod sample;
