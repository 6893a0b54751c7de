//! `firewatch demo`: the generated demo world (crates/firewatch-demo), loaded through the real
//! paths and served. On first start in an empty data directory it stores the catalog and the
//! sales (exposure), adds one user per role, and takes in every report of the world through
//! intake (triage, photos, idempotency, audit, signal counts), dated as generated; then it
//! serves. `--generate-only DIR` writes the world's files instead.

use crate::config::Settings;
use crate::{import_reports, serve};
use anyhow::Context;
use axum::body::Bytes;
use firewatch_demo::{World, WorldConfig};
use firewatch_domain::Role;
use firewatch_store::Actor;
use firewatch_web::api::intake::Photo;
use std::path::Path;
use std::time::Instant;

pub async fn run(settings: Settings, generate_only: Option<&Path>) -> anyhow::Result<()> {
    let started = Instant::now();
    if let Some(dir) = generate_only {
        let world = firewatch_demo::generate(&WorldConfig::default());
        let files = firewatch_demo::write_files(&world);
        for (rel, bytes) in &files {
            let path = dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        println!(
            "demo world written to {}: {} files, {} reports, {} photos ({:.1} s)",
            dir.display(),
            files.len(),
            world.reports.len(),
            world.photos.len(),
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    settings.ensure_data_dir()?;
    let fresh = !settings.data.join("firewatch.sqlite").exists();
    let world = fresh.then(|| firewatch_demo::generate(&WorldConfig::default()));
    if let Some(world) = &world {
        // The catalog seeds the store's product table when the server state is built.
        std::fs::write(settings.data.join("catalog.csv"), &world.catalog_csv)
            .context("cannot write the demo catalog")?;
    }
    let state = serve::build_state(&settings).await?;
    if let Some(world) = &world {
        seed(&state, world).await?;
        println!(
            "demo world loaded in {:.1} s: {} reports ({} with photos), {} products, planted defect: {} {} from {}",
            started.elapsed().as_secs_f64(),
            world.reports.len(),
            world
                .reports
                .iter()
                .filter(|r| !r.photos.is_empty())
                .count(),
            world.catalog_csv.lines().count().saturating_sub(1),
            world.planted.brand,
            world.planted.model,
            world.planted.start_month,
        );
    }
    println!("demo data in {}", settings.data.display());
    println!("demo logins (user / password / role):");
    for role in Role::ALL {
        println!("  demo-{role:<10} {:<26} {role}", demo_password(role));
    }
    println!(
        "API token for a demo user: firewatch token create demo-agent --data {}",
        settings.data.display()
    );
    serve::serve(settings, Some(state)).await
}

/// Demo passwords are fixed so that the README can show them; never use them elsewhere.
fn demo_password(role: Role) -> String {
    format!("demo-{}-password", role.as_str())
}

async fn seed(state: &firewatch_web::AppState, world: &World) -> anyhow::Result<()> {
    let store = &state.store;
    let demo = Actor("demo".into());
    for role in Role::ALL {
        let hash = firewatch_web::auth::hash_password(&demo_password(role))?;
        store
            .create_user(&format!("demo-{role}"), role, Some(hash), &demo)
            .await?;
    }
    let exposure = firewatch_web::csv_import::parse_exposure_csv(&world.exposure_csv, |_| {})
        .map_err(|e| anyhow::anyhow!("the generated exposure is invalid: {}", e[0]))?;
    let signals = state
        .signals
        .as_ref()
        .context("the demo needs the signal store")?;
    signals.store.upsert_exposure(exposure, &demo).await?;
    let mut prepared = Vec::with_capacity(world.reports.len());
    for r in &world.reports {
        let mut body = r.intake.clone();
        if let Some(obj) = body.as_object_mut() {
            obj.remove("photos");
        }
        prepared.push(import_reports::Prepared {
            body,
            photos: r
                .photos
                .iter()
                .map(|&i| Photo {
                    bytes: Bytes::from(world.photos[i].1.clone()),
                    filename: Some(world.photos[i].0.clone()),
                })
                .collect(),
            received_at_ms: r
                .received_at
                .parse::<jiff::Timestamp>()
                .ok()
                .map(|t| t.as_millisecond()),
            key: format!("demo:{}", r.id),
        });
    }
    import_reports::ingest_all(state, prepared, |_| {}).await?;
    replay_story_remedies(state, world).await
}

/// The viral case's remedies go through the real API as the story's roles: the agent's 50%
/// paid replacement is refused by the playbook (and stays in the case's history), head
/// office's free replacement is accepted.
async fn replay_story_remedies(
    state: &firewatch_web::AppState,
    world: &World,
) -> anyhow::Result<()> {
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;
    let story = &world.story;
    // The story's report was ingested with this key: a replay returns its case.
    let mut body = story.report.intake.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.remove("photos");
    }
    let replay = firewatch_web::api::intake::ingest(
        state,
        firewatch_web::api::intake::Submission {
            body,
            photos: story
                .report
                .photos
                .iter()
                .map(|&i| Photo {
                    bytes: Bytes::from(world.photos[i].1.clone()),
                    filename: Some(world.photos[i].0.clone()),
                })
                .collect(),
            idempotency_key: Some(format!("demo:{}", story.report.id)),
            principal: Some(firewatch_web::auth::Principal {
                name: "import".into(),
                role: Role::Admin,
            }),
            received_at_ms: story
                .report
                .received_at
                .parse::<jiff::Timestamp>()
                .ok()
                .map(|t| t.as_millisecond()),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("the story's report: {}", e.detail()))?;
    let case_id = replay.receipt.case_id;
    let app = firewatch_web::app(state.clone());
    for remedy in &story.remedies {
        let user = format!("demo-{}", remedy.proposed_by_role);
        let (token, hash) = firewatch_web::auth::new_token();
        state
            .store
            .create_token(
                &user,
                hash,
                Some("demo story".into()),
                &Actor("demo".into()),
            )
            .await?;
        let req = Request::post(format!("/api/v1/cases/{case_id}/remedies"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::from(remedy.proposal().to_string()))?;
        let status = app.clone().oneshot(req).await?.status();
        let as_expected = match remedy.expected.as_str() {
            "refused" => status == StatusCode::UNPROCESSABLE_ENTITY,
            _ => status.is_success(),
        };
        if !as_expected {
            tracing::warn!(%status, expected = %remedy.expected, kind = %remedy.kind, "a story remedy got an unexpected answer");
        }
    }
    println!(
        "story case: {} (reporter {}), remedies replayed",
        case_id, story.handle
    );
    Ok(())
}
