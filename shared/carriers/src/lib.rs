//! The shipping carriers behind app's carrier port (`app::ports::carrier::Carrier`): EasyPost v2
//! ([`easypost::EasyPost`]), Shippo ([`shippo::Shippo`]) and FedEx ([`fedex::Fedex`], OAuth2
//! client credentials through [`oauth`]), and the [`HttpConnector`] that picks one for a
//! tenant's credentials in force. All speak plain JSON over HTTPS through one request
//! helper (timeout, no redirects, bounded retries that never repeat a purchase the carrier may
//! have seen), parse responses leniently, and map every failure onto the port's `CarrierError`
//! with a stable code. Amounts are exact [`domain::money::Money`], never floats.
//!
//! With the `fake` feature, [`fake::FakeCarrier`] runs a stateful fake of EasyPost or Shippo and
//! [`fake_fedex::FakeFedex`] one of FedEx (token endpoint included) on 127.0.0.1, so tests (here
//! and in other crates) exercise the real adapters end to end.

mod connector;
pub mod easypost;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "fake")]
pub mod fake_fedex;
pub mod fedex;
mod http;
mod lenient;
mod metered;
pub mod oauth;
pub mod shippo;
mod wire;

pub use connector::HttpConnector;
pub use http::RetryPolicy;
pub use metered::MeteredConnector;
pub use wire::Credentials;
