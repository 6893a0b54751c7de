//! Multipart intake with photos.

use crate::harness::*;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use std::io::Cursor;

/// The report part every multipart body here carries.
fn report() -> Value {
    json!({"narrative": "The battery swelled and the back cover popped off.", "country": "DE"})
}

#[tokio::test]
async fn photos_are_checked_stored_and_served_without_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let agent = user_with_token(dir.path(), "alice", "agent");
    let server = Server::start(dir.path(), &[]);
    let http = client();

    // Named .txt and declared as text: accepted anyway, because the content is a PNG.
    let form = intake_form(
        &report(),
        vec![photo_part(png(32, 24), "photo.txt", "text/plain")],
    );
    let resp = post_multipart(&http, &server.url("/api/v1/reports"), form).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let v: Value = resp.json().await.unwrap();
    let ids = v["attachment_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 1);
    let att = ids[0].as_str().unwrap();

    let resp = http
        .get(server.url(&format!("/api/v1/attachments/{att}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::UNAUTHORIZED,
        "photos are for staff only"
    );
    let resp = http
        .get(server.url(&format!("/api/v1/attachments/{att}")))
        .bearer_auth(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename=")
    );
    // Never sniffed as HTML, never framed, scripts sandboxed.
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let csp = resp.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("sandbox") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let bytes = resp.bytes().await.unwrap();
    let img = image::load_from_memory(&bytes).unwrap();
    assert_eq!((img.width(), img.height()), (32, 24));

    // Not an image, whatever its name says.
    let form = intake_form(
        &report(),
        vec![photo_part(
            b"GIF89a not really".to_vec(),
            "x.png",
            "image/png",
        )],
    );
    let resp = post_multipart(&http, &server.url("/api/v1/reports"), form).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"][0]["field"], "photos[0]");

    // Eleven photos: one too many.
    let small = png(2, 2);
    let form = intake_form(
        &report(),
        (0..11)
            .map(|_| Part::bytes(small.clone()).file_name("p.png"))
            .collect(),
    );
    let resp = post_multipart(&http, &server.url("/api/v1/reports"), form).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A large photo (over axum's default 2 MB body limit) is fine.
    let big_ok = {
        let mut seed = 12345u32;
        let img = image::RgbImage::from_fn(1100, 1100, |_, _| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let b = seed.to_be_bytes();
            image::Rgb([b[0], b[1], b[2]])
        });
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    assert!(big_ok.len() > 3_000_000, "{} bytes", big_ok.len());
    let form = intake_form(&report(), vec![Part::bytes(big_ok).file_name("big.png")]);
    let resp = post_multipart(&http, &server.url("/api/v1/reports"), form).await;
    assert_eq!(resp.status(), StatusCode::CREATED);

    // Over 10 MiB.
    let mut big = png(2, 2);
    big.resize(10 * 1024 * 1024 + 1, 0);
    let form = intake_form(&report(), vec![Part::bytes(big).file_name("big.png")]);
    let resp = post_multipart(&http, &server.url("/api/v1/reports"), form).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // A multipart body without its report part.
    let form = Form::new().part("photos", Part::bytes(png(2, 2)).file_name("p.png"));
    let resp = post_multipart(&http, &server.url("/api/v1/reports"), form).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(
        sql_count(dir.path(), "SELECT COUNT(*) FROM reports").await,
        2
    );
    assert_eq!(
        sql_count(dir.path(), "SELECT COUNT(*) FROM attachments").await,
        2
    );
}
