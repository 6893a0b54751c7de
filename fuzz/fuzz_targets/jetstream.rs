//! Bluesky Jetstream frames (one JSON object per WebSocket message) and the posts JSONL
//! import line format.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = firewatch_connectors::parse_jetstream_frame(text);
    let _ = firewatch_connectors::parse_posts_jsonl_line(text);
});
