//! Listing cursors, which clients hand back: any text decodes to an error or to the state we
//! signed, and a state we sign decodes to itself for its own tenant and listing only.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use store::cursor::{CursorKey, CursorState, Cursors};

#[derive(Arbitrary, Debug)]
struct Input {
    /// A cursor as a client might send it.
    presented: String,
    /// A state as JSON (most do not parse; the ones that do are signed and read back).
    state: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let cursors = Cursors::new(CursorKey::from_bytes(&[7; 32]).unwrap());
    if let Ok(state) = cursors.decode(&input.presented, "demo", "orders") {
        // Only a cursor we signed decodes; re-encoding it must give the same state.
        let again = cursors.encode(&state).unwrap();
        assert_eq!(cursors.decode(&again, "demo", "orders").unwrap(), state);
    }
    let Ok(state) = serde_json::from_slice::<CursorState>(&input.state) else {
        return;
    };
    let Ok(cursor) = cursors.encode(&state) else {
        return;
    };
    let decoded = cursors.decode(&cursor, &state.tenant, &state.listing);
    if cursor.len() <= 16 * 1024 {
        assert_eq!(decoded.unwrap(), state);
    } else {
        assert!(decoded.is_err(), "an oversized cursor was read");
    }
    let other_tenant = format!("{}x", state.tenant);
    assert!(
        cursors
            .decode(&cursor, &other_tenant, &state.listing)
            .is_err()
    );
    let other_listing = format!("{}x", state.listing);
    assert!(
        cursors
            .decode(&cursor, &state.tenant, &other_listing)
            .is_err()
    );
    // Another deployment's key never verifies it.
    let foreign = Cursors::new(CursorKey::from_bytes(&[8; 32]).unwrap());
    assert!(
        foreign
            .decode(&cursor, &state.tenant, &state.listing)
            .is_err()
    );
});
