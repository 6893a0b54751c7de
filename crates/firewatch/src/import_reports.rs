//! `firewatch import reports FILE`: historical incident reports (JSONL, one intake JSON per
//! line) through the real intake path: validation, triage, photos, idempotency, audit. A line
//! may also carry `id` (makes re-running the import harmless), `received_at` (RFC 3339: when
//! the maker received it; defaults to now) and `photos` (file names relative to the file).
//! Every line is checked before anything is written.

use anyhow::{Context, bail};
use axum::body::Bytes;
use firewatch_domain::Role;
use firewatch_domain::intake::{Channel, validate_report};
use firewatch_web::AppState;
use firewatch_web::api::intake::{Photo, Submission, ingest};
use firewatch_web::auth::Principal;
use futures_util::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Reports submitted at once: enough to fill the writer's group commits.
const IN_FLIGHT: usize = 64;

/// One report ready for intake.
pub struct Prepared {
    pub body: Value,
    pub photos: Vec<Photo>,
    pub received_at_ms: Option<i64>,
    pub key: String,
}

/// Splits the import-only fields off one line and checks the rest as intake would.
/// `load_photo` turns a `photos` entry into bytes.
pub fn prepare_line(
    line_no: usize,
    line: &str,
    mut load_photo: impl FnMut(&str) -> anyhow::Result<Vec<u8>>,
) -> Result<Prepared, String> {
    let mut body: Value =
        serde_json::from_str(line).map_err(|e| format!("line {line_no}: not JSON: {e}"))?;
    let obj = body
        .as_object_mut()
        .ok_or_else(|| format!("line {line_no}: expected a JSON object"))?;
    let id = match obj.remove("id") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 => Some(s),
        Some(_) => {
            return Err(format!(
                "line {line_no}: field id: expected a non-empty string"
            ));
        }
    };
    let received_at_ms = match obj.remove("received_at") {
        None => None,
        Some(Value::String(s)) => Some(
            s.parse::<jiff::Timestamp>()
                .map_err(|e| {
                    format!("line {line_no}: field received_at: `{s}` is not RFC 3339: {e}")
                })?
                .as_millisecond(),
        ),
        Some(_) => {
            return Err(format!(
                "line {line_no}: field received_at: expected a string"
            ));
        }
    };
    let photo_names: Vec<String> = match obj.remove("photos") {
        None => vec![],
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(format!("line {line_no}: field photos: expected file names")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(format!(
                "line {line_no}: field photos: expected an array of file names"
            ));
        }
    };
    if let Err(errors) = validate_report(&body, Channel::Api) {
        let first = &errors[0];
        return Err(format!(
            "line {line_no}: {first}{}",
            if errors.len() > 1 {
                format!(" (and {} more)", errors.len() - 1)
            } else {
                String::new()
            }
        ));
    }
    let mut photos = Vec::with_capacity(photo_names.len());
    for name in photo_names {
        let bytes =
            load_photo(&name).map_err(|e| format!("line {line_no}: photo {name}: {e:#}"))?;
        photos.push(Photo {
            bytes: Bytes::from(bytes),
            filename: Some(name),
        });
    }
    let key = match id {
        Some(id) => format!("import:{id}"),
        None => format!(
            "import:{}",
            hex::encode(Sha256::digest(line.trim().as_bytes()))
        ),
    };
    Ok(Prepared {
        body,
        photos,
        received_at_ms,
        key,
    })
}

/// Reads and checks a whole JSONL file; the first problems are reported, nothing is written.
pub fn read_file(path: &Path) -> anyhow::Result<Vec<Prepared>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match prepare_line(i + 1, line, |name| {
            let p = base.join(name);
            // Photos are named relative to the file and may not climb out of its folder.
            if Path::new(name)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
            {
                bail!("photo paths must stay inside the file's folder");
            }
            std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))
        }) {
            Ok(p) => out.push(p),
            Err(e) => problems.push(e),
        }
    }
    if let Some(first) = problems.first() {
        bail!(
            "{}: {first}{}; nothing was imported",
            path.display(),
            if problems.len() > 1 {
                format!(" (and {} more bad lines)", problems.len() - 1)
            } else {
                String::new()
            }
        );
    }
    if out.is_empty() {
        bail!("{}: no reports", path.display());
    }
    Ok(out)
}

/// Sends prepared reports through intake; returns (created, already present).
pub async fn ingest_all(
    state: &AppState,
    reports: Vec<Prepared>,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<(usize, usize)> {
    let principal = Principal {
        name: "import".into(),
        role: Role::Admin,
    };
    let mut results = futures_util::stream::iter(reports.into_iter().map(|r| {
        let state = state.clone();
        let principal = principal.clone();
        async move {
            ingest(
                &state,
                Submission {
                    body: r.body,
                    photos: r.photos,
                    idempotency_key: Some(r.key.clone()),
                    principal: Some(principal),
                    received_at_ms: r.received_at_ms,
                },
            )
            .await
            .map_err(|e| (r.key, e))
        }
    }))
    .buffer_unordered(IN_FLIGHT);
    let (mut created, mut present, mut done) = (0, 0, 0);
    while let Some(r) = results.next().await {
        match r {
            Ok(i) if i.created => created += 1,
            Ok(_) => present += 1,
            Err((key, e)) => bail!("report {key} was refused: {}", e.detail()),
        }
        done += 1;
        progress(done);
    }
    Ok((created, present))
}
