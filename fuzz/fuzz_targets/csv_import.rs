//! The catalog and exposure CSV imports (`POST /api/v1/products` and `/api/v1/exposure`
//! with text/csv, and `firewatch import`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = firewatch_web::csv_import::parse_products_csv(text, |_| {});
    let _ = firewatch_web::csv_import::parse_exposure_csv(text, |_| {});
});
