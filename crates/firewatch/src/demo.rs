//! `firewatch demo`: the generated demo world (crates/firewatch-demo), loaded through the real
//! paths and served. On first start in an empty data directory it stores the catalog and the
//! sales (exposure), adds one user per role, and takes in every report of the world through
//! intake (triage, photos, idempotency, audit, signal counts), dated as generated; then it
//! serves. `--generate-only DIR` writes the world's files instead.
//!
//! History is loaded as a desk would have it: every case older than [`RECENT_WINDOW_MS`] is
//! closed (audited, with its reason), which stops its clocks; the story case and the last
//! [`RECENT_OPEN`] reports are dated into the last hour and stay open. Notifications go to
//! local sinks on 127.0.0.1 (a webhook receiver and an SMTP sink, see [`sinks`]) unless the
//! configuration names its own, so nothing is dead-lettered for want of an endpoint.
//!
//! While serving, the story's social cascade is replayed live through a Jetstream-compatible
//! endpoint ([`replay`]) into the normal social pipeline; [`watch`] prints what the desk does.

mod replay;
mod sinks;
mod watch;

use crate::config::Settings;
use crate::{import_reports, serve};
use anyhow::Context;
use axum::body::Bytes;
use firewatch_demo::{World, WorldConfig};
use firewatch_domain::Role;
use firewatch_store::Actor;
use firewatch_web::api::intake::Photo;
use std::time::Instant;

/// Cases received within this long before the demo starts stay open; older ones are closed.
pub const RECENT_WINDOW_MS: i64 = 2 * 3600 * 1000;
/// Reports (besides the story's) moved into the last hour so that the queue has work in it.
pub const RECENT_OPEN: usize = 8;
/// Default replay speed: the cascade's 6 hours in 3 minutes.
pub const DEFAULT_REPLAY_SPEED: f64 = 120.0;

/// How `firewatch demo` runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Write the world's files here and exit.
    pub generate_only: Option<std::path::PathBuf>,
    /// Story time per wall-clock time of the live cascade replay; `None`: no replay.
    pub replay_speed: Option<f64>,
}

pub async fn run(mut settings: Settings, options: DemoOptions) -> anyhow::Result<()> {
    let generate_only = options.generate_only.as_deref();
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
    if let Some(speed) = options.replay_speed {
        anyhow::ensure!(
            speed.is_finite() && speed > 0.0 && speed <= 1e6,
            "--replay-speed must be a number in (0, 1000000]"
        );
    }
    settings.ensure_data_dir()?;
    let fresh = !settings.data.join("firewatch.sqlite").exists();
    let world = fresh.then(|| firewatch_demo::generate(&world_config(jiff::Timestamp::now())));
    sinks::configure(&mut settings).await?;
    // The outbox is polled every 100 ms (instead of every second) unless configured: the
    // history's notifications go out in seconds and the live story's follow at once.
    if settings.scheduler_interval_ms == Settings::default().scheduler_interval_ms {
        settings.scheduler_interval_ms = 100;
    }
    if let Some(world) = &world {
        // The catalog seeds the store's product table when the server state is built.
        std::fs::write(settings.data.join("catalog.csv"), &world.catalog_csv)
            .context("cannot write the demo catalog")?;
    }
    let state = serve::build_state(&settings).await?;
    let mut story_case = None;
    if let Some(world) = &world {
        story_case = Some(seed(&state, world).await?);
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
    match (options.replay_speed, &world, story_case) {
        (Some(speed), Some(world), Some(case_id)) => {
            let t0_us = jiff::Timestamp::now().as_microsecond();
            let frames = firewatch_demo::jetstream::jetstream_frames(&world.cascade, t0_us);
            let replay = replay::start(frames, speed).await?;
            settings.social.jetstream = Some(crate::social::settings::JetstreamSettings {
                url: replay.url.clone(),
                collections: Vec::new(),
            });
            let peak = firewatch_demo::jetstream::reach_time_ms(&world.cascade, 0.9);
            println!(
                "social replay: {} Jetstream frames on {} at {speed}x (the cascade's {:.1} h in {:.0} s); reach reaches 90% at story +{} min",
                world.cascade.len(),
                replay.url,
                world.config.cascade_hours,
                world.config.cascade_hours * 3600.0 / speed,
                peak.map(|p| p / 60_000).unwrap_or(0),
            );
            tokio::spawn(watch::run(state.store.clone(), replay, case_id, peak));
        }
        (Some(_), None, _) | (Some(_), _, None) => println!(
            "social replay: off (the data directory already holds the demo; start from an empty one to watch the cascade)"
        ),
        (None, ..) => println!("social replay: off (--no-replay)"),
    }
    serve::serve(settings, Some(state)).await
}

/// The default world, dated so that its 18 months end with the current month: the signal
/// windows (30, 90, 365 days back from today) then see the history whenever the demo runs
/// (reports dated after now are not loaded: they have not come in yet). The default generator, seed and sizes; only the dates move (so weekdays differ).
pub fn world_config(now: jiff::Timestamp) -> WorldConfig {
    let default = WorldConfig::default();
    let this_month = firewatch_demo::calendar::Month::parse(&firewatch_web::signals::month_of_day(
        now.as_millisecond().div_euclid(86_400_000),
    ));
    match this_month {
        Some(m) => WorldConfig {
            start_month: m.plus(1 - default.months as i32).to_string(),
            ..default
        },
        None => default,
    }
}

/// Demo passwords are fixed so that the README can show them; never use them elsewhere.
fn demo_password(role: Role) -> String {
    format!("demo-{}-password", role.as_str())
}

/// When each report is taken in (`None`: not yet, it is dated after now): as generated,
/// except the story's (the customer called 12 minutes ago) and the last [`RECENT_OPEN`]
/// others (spread over the last hour).
fn received_times(world: &World, now_ms: i64) -> Vec<Option<i64>> {
    let mut times: Vec<Option<i64>> = world
        .reports
        .iter()
        .map(|r| {
            r.received_at
                .parse::<jiff::Timestamp>()
                .ok()
                .map(|t| t.as_millisecond())
        })
        .collect();
    let story = world.story.report_index;
    // Reports dated after now have not come in yet.
    for t in times.iter_mut() {
        if t.is_some_and(|t| t > now_ms) {
            *t = None;
        }
    }
    let mut order: Vec<usize> = (0..times.len())
        .filter(|&i| i != story && times[i].is_some())
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(times[i]));
    for (k, &i) in order.iter().take(RECENT_OPEN).enumerate() {
        times[i] = Some(now_ms - (k as i64 + 1) * 7 * 60_000);
    }
    if let Some(t) = times.get_mut(story) {
        *t = Some(now_ms - 12 * 60_000);
    }
    times
}

/// Seeds the world; returns the story case's id.
async fn seed(state: &firewatch_web::AppState, world: &World) -> anyhow::Result<String> {
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let times = received_times(world, now_ms);
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
    for (r, &received_at_ms) in world.reports.iter().zip(&times) {
        if received_at_ms.is_none() {
            continue;
        }
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
            received_at_ms,
            key: format!("demo:{}", r.id),
        });
    }
    let later = world.reports.len() - prepared.len();
    import_reports::ingest_all(state, prepared, |_| {}).await?;
    if later > 0 {
        println!(
            "{later} reports of the world are dated after now: they come in later (not loaded)"
        );
    }
    let closed = close_history(state, now_ms - RECENT_WINDOW_MS).await?;
    let story_at = times.get(world.story.report_index).copied().flatten();
    let case_id = replay_story_remedies(state, world, story_at).await?;
    println!(
        "history: {closed} past cases closed as handled; the story case and {RECENT_OPEN} recent reports are open"
    );
    Ok(case_id)
}

/// Closes every open case created before `before_ms`, through the store's audited
/// transition (which stops its clocks), as the desk would have done at the time. Many at
/// once: the writer commits them in groups.
async fn close_history(state: &firewatch_web::AppState, before_ms: i64) -> anyhow::Result<usize> {
    use firewatch_domain::CaseStatus;
    use futures_util::StreamExt;
    let mut ids = Vec::new();
    let mut history = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let page = state
            .store
            .list_cases(&firewatch_store::CaseFilter {
                open_only: true,
                limit: 1000,
                offset,
                ..Default::default()
            })
            .await?;
        let n = page.len();
        for c in page.into_iter().filter(|c| c.created_at_ms < before_ms) {
            history.insert(c.reference());
            history.insert(c.id.clone());
            ids.push(c.id);
        }
        if n < 1000 {
            break;
        }
        offset += 1000;
    }
    let actor = Actor("demo".into());
    let results: Vec<_> = futures_util::stream::iter(ids.iter().map(|id| {
        let (store, actor) = (state.store.clone(), actor.clone());
        async move {
            store
                .transition_case(
                    id,
                    CaseStatus::Closed,
                    Some(
                        "demo history: handled when it came in (the demo loads past cases closed)"
                            .into(),
                    ),
                    &actor,
                )
                .await
        }
    }))
    .buffer_unordered(256)
    .collect()
    .await;
    sinks::set_history(history);
    let mut closed = 0;
    for r in results {
        match r {
            Ok(_) => closed += 1,
            Err(e) => tracing::warn!(error = %e, "a historical demo case could not be closed"),
        }
    }
    Ok(closed)
}

/// The viral case's remedies go through the real API as the story's roles: the agent's 50%
/// paid replacement is refused by the playbook (and stays in the case's history), head
/// office's free replacement is accepted.
async fn replay_story_remedies(
    state: &firewatch_web::AppState,
    world: &World,
    received_at_ms: Option<i64>,
) -> anyhow::Result<String> {
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
            received_at_ms,
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
    Ok(case_id)
}
