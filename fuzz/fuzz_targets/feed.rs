//! RSS 0.9x/1.0/2.0, Atom and JSON Feed documents.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::Once;

static HOOK: Once = Once::new();

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        // `parse_feed` contains panics of the third-party parsers it calls (feed-rs, quick-xml)
        // with catch_unwind and answers a parse error, so a hostile feed cannot stop the
        // connector: those panics are handled. Known one: feed-rs 3.0.0 slices a str inside a
        // multi-byte character in `parse_person_name_email` (seed
        // `regression-feed-rs-email-char-boundary`). libFuzzer's hook aborts on any panic,
        // caught or not; keep that for every panic raised outside those two crates.
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let third_party = info
                .location()
                .is_some_and(|l| l.file().contains("/feed-rs-") || l.file().contains("/quick-xml-"));
            if !third_party {
                abort(info);
            }
        }));
    });
    let _ = firewatch_connectors::parse_feed(data);
});
