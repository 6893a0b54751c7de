//! Intake JSON: the bytes of a `POST /api/v1/reports` body, parsed as the web layer does
//! (serde_json) and validated by firewatch-domain for every channel.
#![no_main]
use firewatch_domain::intake::{Channel, validate_report};
use libfuzzer_sys::fuzz_target;

/// The web layer's cap on a JSON body (WebConfig::max_json_bytes).
const MAX: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX {
        return;
    }
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    for channel in Channel::ALL {
        let _ = validate_report(&body, channel);
    }
});
