//! The ports the use cases are written over, each implemented outside `app`: the carriers
//! (`carriers` implements [`carrier::Carrier`] and [`carrier::CarrierConnector`]).

pub mod carrier;
