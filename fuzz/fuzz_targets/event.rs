//! The CloudEvents envelope every consumer decodes from the bus
//! (`events::Event::from_json`): any bytes decode or fail, never panic, and
//! what decodes encodes back to an event that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = events::Event::from_json(data) {
        let again = events::Event::from_json(&event.to_json())
            .unwrap_or_else(|e| panic!("an encoded event does not decode: {e}"));
        assert_eq!(again, event);
    }
});
