//! Mastodon: REST statuses, engagement counts, the streaming API's SSE events and
//! WebSocket messages. The first byte picks the SSE event name.
#![no_main]
use firewatch_connectors as mastodon;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let _ = mastodon::parse_mastodon_status(text);
    let _ = mastodon::parse_mastodon_counts(text, 1_700_000_000_000_000);
    let event = ["update", "status.update", "delete", "notification", ""][usize::from(sel) % 5];
    let _ = mastodon::parse_mastodon_stream_event(event, text);
    let _ = mastodon::parse_mastodon_ws_message(text);
});
