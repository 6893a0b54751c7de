//! RSS 0.9x/1.0/2.0, Atom and JSON Feed documents.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = firewatch_connectors::parse_feed(data);
});
