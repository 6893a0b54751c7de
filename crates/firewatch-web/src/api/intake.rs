//! `POST /api/v1/reports`: JSON or multipart intake. The report is durable (photos fsynced,
//! the transaction committed and its WAL frames flushed) before the 201 is sent. Bad input is
//! refused before anything is written.

use crate::auth::Principal;
use crate::dto::{HazardOut, IntakeResponse};
use crate::error::{ApiError, ApiResult};
use crate::{AppState, client_ip};
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use firewatch_domain::intake::{Channel, validate_report};
use firewatch_store::{
    Actor, IntakeCommand, IntakeOutcome, IntakeReceipt, NewAttachment, ReceiptHazard,
};
use sha2::{Digest, Sha256};
use std::io::Cursor;

const MAX_IDEMPOTENCY_KEY: usize = 255;

pub async fn submit(State(state): State<AppState>, req: Request) -> Response {
    match submit_inner(state, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// A photo as received, before it is checked.
pub struct Photo {
    pub bytes: Bytes,
    pub filename: Option<String>,
}

/// One report to take in, from HTTP or from an operator's import.
pub struct Submission {
    pub body: serde_json::Value,
    pub photos: Vec<Photo>,
    pub idempotency_key: Option<String>,
    pub principal: Option<Principal>,
    /// When the maker received the report; `None` is now. Only operator imports of
    /// historical reports set it (the HTTP API never does).
    pub received_at_ms: Option<i64>,
}

/// Whether a submission created a report or replayed an earlier answer.
pub struct Ingested {
    pub created: bool,
    pub receipt: IntakeReceipt,
}

async fn submit_inner(state: AppState, req: Request) -> ApiResult<Response> {
    let principal = req.extensions().get::<Principal>().cloned();
    if principal.is_none()
        && let Err(wait) = state.check_intake_rate(client_ip(&req))
    {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many reports from this address",
            format!("retry in {wait} s"),
        )
        .retry_after(wait));
    }
    let key = idempotency_key(req.headers())?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();

    let (body_json, photos) =
        if content_type.starts_with("application/json") || is_json_suffix(&content_type) {
            let limit = state.config.max_json_bytes;
            let bytes = axum::body::to_bytes(req.into_body(), limit)
                .await
                .map_err(|_| {
                    ApiError::too_large(format!("a JSON report may have at most {limit} bytes"))
                })?;
            (parse_json(&bytes)?, Vec::new())
        } else if content_type.starts_with("multipart/form-data") {
            read_multipart(&state, req).await?
        } else {
            return Err(ApiError::unsupported_media(format!(
                "send application/json or multipart/form-data, not `{}`",
                if content_type.is_empty() {
                    "nothing"
                } else {
                    &content_type
                }
            )));
        };

    let ingested = ingest(
        &state,
        Submission {
            body: body_json,
            photos,
            idempotency_key: key,
            principal,
            received_at_ms: None,
        },
    )
    .await?;
    Ok(respond(
        StatusCode::CREATED,
        ingested.receipt,
        !ingested.created,
    ))
}

/// Validates, triages and stores one report; the whole intake path apart from HTTP.
pub async fn ingest(state: &AppState, submission: Submission) -> ApiResult<Ingested> {
    let Submission {
        body: body_json,
        photos,
        idempotency_key: key,
        principal,
        received_at_ms,
    } = submission;
    // The same caps as multipart reading, for callers that bring their own photos.
    if photos.len() > state.config.max_photos {
        return Err(ApiError::too_large(format!(
            "at most {} photos per report",
            state.config.max_photos
        )));
    }
    if photos
        .iter()
        .any(|p| p.bytes.len() > state.config.max_photo_bytes)
    {
        return Err(ApiError::too_large(format!(
            "each photo may have at most {} bytes",
            state.config.max_photo_bytes
        )));
    }
    let default_channel = if principal.is_some() {
        Channel::Api
    } else {
        Channel::Web
    };
    let report = validate_report(&body_json, default_channel).map_err(ApiError::validation)?;

    // The request's identity for idempotency: the canonical JSON (key order and whitespace
    // do not matter) plus each photo's hash.
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(&body_json).unwrap_or_default());
    let mut checked = Vec::with_capacity(photos.len());
    for (i, photo) in photos.into_iter().enumerate() {
        let field = format!("photos[{i}]");
        let p = tokio::task::spawn_blocking(move || inspect_photo(photo, &field))
            .await
            .map_err(|e| ApiError::internal("photo check", e))??;
        h.update(p.original_sha.as_bytes());
        checked.push(p);
    }
    let request_hash = hex::encode(h.finalize());

    let assessment = state.triage.assess(
        &report.narrative,
        report.language.as_deref(),
        report.injuries,
    );

    // Blobs are content-addressed, so a retried request rewrites nothing new.
    let mut attachments = Vec::with_capacity(checked.len());
    for p in checked {
        let blobs = state.blobs.clone();
        let stored = tokio::task::spawn_blocking(move || -> Result<NewAttachment, firewatch_store::BlobError> {
            let sha256 = blobs.put(&p.original)?;
            let clean_sha256 = blobs.put(&p.clean)?;
            Ok(NewAttachment {
                sha256,
                clean_sha256,
                media_type: p.media_type.to_string(),
                size: p.original.len() as i64,
                width: p.width as i64,
                height: p.height as i64,
                filename: p.filename,
            })
        })
        .await
        .map_err(|e| ApiError::internal("blob task", e))?
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage-unavailable",
                "Storage is unavailable",
                format!("could not store a photo ({e}); nothing was stored, retry with the same Idempotency-Key"),
            )
            .retry_after(5)
        })?;
        attachments.push(stored);
    }

    let reported_hazards: Vec<ReceiptHazard> = assessment
        .hazards
        .iter()
        .map(|h| ReceiptHazard {
            code: h.code.as_str().into(),
            modality: match h.modality {
                firewatch_domain::Modality::Occurred => "occurred".into(),
                firewatch_domain::Modality::Potential => "potential".into(),
            },
        })
        .collect();
    let occurred: Vec<String> = assessment
        .hazards
        .iter()
        .filter(|h| h.modality == firewatch_domain::Modality::Occurred)
        .map(|h| h.code.as_str().to_string())
        .collect();
    let mut report = report;
    if report.language.is_none() {
        report.language = assessment.language.clone();
    }
    // The case names the caller's product when given, else the one triage found in the
    // text; the report keeps exactly what the reporter said.
    let case_product = match (
        &report.product.brand,
        &report.product.model,
        &assessment.product,
    ) {
        (None, None, Some((brand, model))) => (Some(brand.clone()), Some(model.clone())),
        (brand, model, _) => (brand.clone(), model.clone()),
    };
    let cmd = IntakeCommand {
        idempotency_key: key,
        request_hash,
        report,
        hazards: occurred,
        reported_hazards,
        case_product,
        triage_json: assessment.detail.to_string(),
        severity: assessment.severity,
        attachments,
        received_at_ms: received_at_ms.unwrap_or_else(|| jiff::Timestamp::now().as_millisecond()),
        actor: principal
            .map(|p| Actor(p.name))
            .unwrap_or_else(Actor::public),
    };
    match state.store.intake(cmd).await? {
        IntakeOutcome::Created(receipt) => {
            metrics::counter!("firewatch_reports_accepted_total").increment(1);
            Ok(Ingested {
                created: true,
                receipt,
            })
        }
        IntakeOutcome::Replayed(receipt) => Ok(Ingested {
            created: false,
            receipt,
        }),
        IntakeOutcome::KeyReused => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency-Key already used for a different report",
            "this Idempotency-Key was first used with a different body; use a new key for a new report",
        )),
    }
}

fn respond(status: StatusCode, receipt: IntakeReceipt, replayed: bool) -> Response {
    let reference = format!("FW-{:06}", receipt.case_number);
    let body = IntakeResponse {
        report_id: receipt.report_id,
        case_id: receipt.case_id.clone(),
        reference,
        hazards: receipt
            .reported_hazards
            .into_iter()
            .map(|h| HazardOut {
                code: h.code,
                modality: h.modality,
            })
            .collect(),
        severity: receipt.severity,
        attachment_ids: receipt.attachment_ids,
    };
    let mut resp = (status, axum::Json(body)).into_response();
    if let Ok(v) = format!("/api/v1/cases/{}", receipt.case_id).parse() {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    if replayed && let Ok(v) = "true".parse() {
        resp.headers_mut().insert("idempotent-replayed", v);
    }
    resp
}

fn is_json_suffix(ct: &str) -> bool {
    ct.split(';')
        .next()
        .is_some_and(|m| m.trim().ends_with("+json"))
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|s| {
            !s.is_empty()
                && s.len() <= MAX_IDEMPOTENCY_KEY
                && s.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad-idempotency-key",
                format!(
                    "Idempotency-Key must be 1..{MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                ),
            )
        })?;
    Ok(Some(s.to_string()))
}

fn parse_json(bytes: &[u8]) -> ApiResult<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "malformed-json",
            format!(
                "the body is not valid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })
}

async fn read_multipart(
    state: &AppState,
    req: Request,
) -> ApiResult<(serde_json::Value, Vec<Photo>)> {
    let mut mp = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError::bad_request("malformed-multipart", e.body_text()))?;
    let mut report: Option<serde_json::Value> = None;
    let mut photos = Vec::new();
    let max_photo = state.config.max_photo_bytes;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(e)),
        };
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "report" => {
                if report.is_some() {
                    return Err(ApiError::bad_request(
                        "malformed-multipart",
                        "more than one `report` part",
                    ));
                }
                let bytes = read_capped(field, state.config.max_json_bytes, "report").await?;
                report = Some(parse_json(&bytes)?);
            }
            "photos" | "photos[]" | "photo" => {
                if photos.len() >= state.config.max_photos {
                    return Err(ApiError::too_large(format!(
                        "at most {} photos per report",
                        state.config.max_photos
                    )));
                }
                let filename = field.file_name().map(|f| f.chars().take(200).collect());
                let bytes = read_capped(field, max_photo, "photos").await?;
                photos.push(Photo { bytes, filename });
            }
            other => {
                return Err(ApiError::validation(vec![
                    firewatch_domain::intake::FieldError {
                        field: other.to_string(),
                        code: "unknown",
                        message: "unknown part; expected `report` and `photos`".into(),
                    },
                ]));
            }
        }
    }
    let report = report.ok_or_else(|| {
        ApiError::validation(vec![firewatch_domain::intake::FieldError {
            field: "report".into(),
            code: "required",
            message: "a multipart report needs a `report` part holding the JSON".into(),
        }])
    })?;
    Ok((report, photos))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(e.body_text())
    } else {
        ApiError::bad_request("malformed-multipart", e.body_text())
    }
}

async fn read_capped(
    mut field: axum::extract::multipart::Field<'_>,
    cap: usize,
    what: &str,
) -> ApiResult<Bytes> {
    let mut buf = Vec::new();
    let mut over = false;
    loop {
        match field.chunk().await {
            // Past the cap, the rest of the part is read and dropped (the whole body is
            // bounded by the route's body limit), so that the client gets the 413 instead of
            // a connection reset in the middle of its upload.
            Ok(Some(_)) if over => {}
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > cap {
                    over = true;
                    buf = Vec::new();
                } else {
                    buf.extend_from_slice(&chunk);
                }
            }
            Ok(None) if over => {
                return Err(ApiError::too_large(format!(
                    "each `{what}` part may have at most {cap} bytes"
                )));
            }
            Ok(None) => return Ok(Bytes::from(buf)),
            Err(e) => return Err(multipart_error(e)),
        }
    }
}

struct CheckedPhoto {
    original: Bytes,
    original_sha: String,
    clean: Vec<u8>,
    media_type: &'static str,
    width: u32,
    height: u32,
    filename: Option<String>,
}

/// Largest photo side accepted, and the decoder's memory ceiling: a small file that claims
/// a huge canvas (a decompression bomb) is refused before it is decoded.
const MAX_SIDE: u32 = 12_000;
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

fn sniff(bytes: &[u8]) -> Option<image::ImageFormat> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(image::ImageFormat::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(image::ImageFormat::Png)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(image::ImageFormat::WebP)
    } else {
        None
    }
}

/// Checks a photo by its content (never its name or declared type), decodes it within
/// limits, and re-encodes a copy without metadata (EXIF, GPS) for staff to see.
fn inspect_photo(photo: Photo, field: &str) -> ApiResult<CheckedPhoto> {
    let bad = |msg: String| {
        ApiError::validation(vec![firewatch_domain::intake::FieldError {
            field: field.to_string(),
            code: "format",
            message: msg,
        }])
    };
    let format = sniff(&photo.bytes)
        .ok_or_else(|| bad("not a JPEG, PNG or WebP image (checked by content)".into()))?;
    let mut reader = image::ImageReader::with_format(Cursor::new(&photo.bytes[..]), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| bad(format!("the image cannot be decoded within limits: {e}")))?;
    let (width, height) = (img.width(), img.height());
    let mut clean = Vec::new();
    let (out_format, media_type) = match format {
        image::ImageFormat::Jpeg => (image::ImageFormat::Jpeg, "image/jpeg"),
        _ => (image::ImageFormat::Png, "image/png"),
    };
    let img = if out_format == image::ImageFormat::Jpeg {
        image::DynamicImage::ImageRgb8(img.to_rgb8())
    } else {
        img
    };
    img.write_to(&mut Cursor::new(&mut clean), out_format)
        .map_err(|e| bad(format!("the image cannot be re-encoded: {e}")))?;
    let original_sha = hex::encode(Sha256::digest(&photo.bytes));
    Ok(CheckedPhoto {
        original: photo.bytes,
        original_sha,
        clean,
        media_type,
        width,
        height,
        filename: photo.filename,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([200, 30, 30]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn photos_are_recognised_by_content_not_name() {
        let p = inspect_photo(
            Photo {
                bytes: Bytes::from(png(4, 3)),
                filename: Some("evil.exe".into()),
            },
            "photos[0]",
        )
        .unwrap();
        assert_eq!((p.width, p.height, p.media_type), (4, 3, "image/png"));
        let not_image = inspect_photo(
            Photo {
                bytes: Bytes::from_static(b"<script>alert(1)</script>"),
                filename: Some("cat.png".into()),
            },
            "photos[0]",
        );
        assert!(not_image.is_err());
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_decoding() {
        // A valid PNG header claiming 50000 x 50000 pixels.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&50_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&50_000u32.to_be_bytes());
        let r = inspect_photo(
            Photo {
                bytes: Bytes::from(bomb),
                filename: None,
            },
            "photos[0]",
        );
        assert!(r.is_err());
    }

    #[test]
    fn jpeg_exif_is_not_in_the_clean_copy() {
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([10, 10, 10]));
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .unwrap();
        // Insert an APP1 Exif segment with a GPS-looking payload right after SOI.
        let payload = b"Exif\0\0GPSLatitude 48.8566 N";
        let len = (payload.len() + 2) as u16;
        let mut with_exif = vec![0xFF, 0xD8, 0xFF, 0xE1];
        with_exif.extend_from_slice(&len.to_be_bytes());
        with_exif.extend_from_slice(payload);
        with_exif.extend_from_slice(&jpeg[2..]);
        let p = inspect_photo(
            Photo {
                bytes: Bytes::from(with_exif),
                filename: None,
            },
            "photos[0]",
        )
        .unwrap();
        let has = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
        assert!(has(&p.original, b"GPSLatitude"));
        assert!(!has(&p.clean, b"GPSLatitude"));
        assert!(!has(&p.clean, b"Exif"));
    }
}
