//! The social watch's storage: one transaction per pipeline batch (mentions linked to cases,
//! engagement deduplicated by id, forecasts, the connector's cursor), and the once-per-mention
//! escalation. Shared by both backends (docs/postgres.md, "One source for both backends");
//! dialect items: case-insensitive comparison, the hazard lookup in a mention's JSON.

use super::dialect::{self, Backend, DbRow};
use super::{WriteCtx, intake_in_tx};
use crate::records::{IntakeOutcome, ReceiptHazard};
use crate::social::*;
use crate::{Actor, Result, StoreError};
use serde_json::json;
use sqlx::Row;

/// Stored for an infinite (supercritical) forecast, so `min_forecast` filters keep it.
const INFINITE: f64 = 1e308;

fn to_db(v: f64) -> f64 {
    if v.is_finite() { v } else { INFINITE }
}

fn from_db(v: f64) -> f64 {
    if v >= INFINITE { f64::INFINITY } else { v }
}

async fn link_case(
    ctx: &mut WriteCtx,
    m: &NewMention,
    policy: LinkPolicy,
) -> Result<Option<(String, LinkReason)>> {
    // 1. The case whose reporter is the post's author.
    let handle = normalise_handle(&m.author);
    if !handle.is_empty() {
        let row = sqlx::query(
            "SELECT id FROM cases WHERE reporter_handle IS NOT NULL AND lower(ltrim(trim(reporter_handle), '@')) = $1
             ORDER BY created_at DESC LIMIT 1",
        )
        .bind(&handle)
        .fetch_optional(ctx.conn())
        .await?;
        if let Some(row) = row {
            return Ok(Some((row.try_get(0)?, LinkReason::ReporterHandle)));
        }
    }
    // 2. An open case with the same product and hazard and similar text, within the window.
    let since = m.created_at_us / 1000 - policy.window_ms;
    let rows = sqlx::query(concat!(
        "SELECT id, hazards, title FROM cases
         WHERE ",
        dialect::eq_nocase!("product_brand", "$1"),
        " AND ",
        dialect::eq_nocase!("product_model", "$2"),
        "
           AND status NOT IN ('resolved', 'closed') AND created_at >= $3
         ORDER BY created_at DESC LIMIT 50"
    ))
    .bind(&m.product.0)
    .bind(&m.product.1)
    .bind(since)
    .fetch_all(ctx.conn())
    .await?;
    let mine = tokens(&m.text);
    let mut best: Option<(f64, String)> = None;
    for row in &rows {
        let id: String = row.try_get(0)?;
        let hazards: String = row.try_get(1)?;
        let hazards: Vec<String> =
            serde_json::from_str(&hazards).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut case_hazards: Vec<String> = hazards;
        // Reports' hazards include potential ones; the mentions' too.
        let texts = sqlx::query(
            "SELECT narrative, triage FROM reports WHERE case_id = $1
             UNION ALL SELECT text, hazards FROM mentions WHERE case_id = $1 LIMIT 200",
        )
        .bind(&id)
        .fetch_all(ctx.conn())
        .await?;
        let mut sim: f64 = 0.0;
        for t in &texts {
            let text: String = t.try_get(0)?;
            let extra: String = t.try_get(1)?;
            for h in &m.hazards {
                if extra.contains(&format!("\"{}\"", h.code)) {
                    case_hazards.push(h.code.clone());
                }
            }
            sim = sim.max(jaccard(&mine, &tokens(&text)));
        }
        let shares_hazard = m.hazards.iter().any(|h| case_hazards.contains(&h.code));
        if shares_hazard && sim >= policy.min_jaccard && best.as_ref().is_none_or(|(s, _)| sim > *s)
        {
            best = Some((sim, id));
        }
    }
    Ok(best.map(|(_, id)| (id, LinkReason::SimilarOpenCase)))
}

async fn insert_mention(
    ctx: &mut WriteCtx,
    m: NewMention,
    policy: LinkPolicy,
    actor: &Actor,
) -> Result<Option<MentionLink>> {
    let known = sqlx::query("SELECT 1 FROM mentions WHERE post_id = $1")
        .bind(&m.post_id)
        .fetch_optional(ctx.conn())
        .await?;
    if known.is_some() {
        return Ok(None);
    }
    let (case_id, reason) = match link_case(ctx, &m, policy).await? {
        Some(found) => found,
        None => match intake_in_tx(ctx, m.intake.clone()).await? {
            IntakeOutcome::Created(r) | IntakeOutcome::Replayed(r) => {
                (r.case_id, LinkReason::NewCase)
            }
            IntakeOutcome::KeyReused => {
                return Err(StoreError::Conflict(format!(
                    "the idempotency key {} was used for a different report",
                    m.post_id
                )));
            }
        },
    };
    sqlx::query(
        "INSERT INTO mentions (post_id, case_id, source, native_id, author, followers, text, url, lang, created_at_us, fingerprint,
            product_brand, product_model, hazards, link_reason, received_at)
         VALUES ($1, $2, $3, $16, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(&m.post_id)
    .bind(&case_id)
    .bind(&m.source)
    .bind(&m.author)
    .bind(m.followers)
    .bind(&m.text)
    .bind(&m.url)
    .bind(&m.lang)
    .bind(m.created_at_us)
    .bind(&m.fingerprint)
    .bind(&m.product.0)
    .bind(&m.product.1)
    .bind(serde_json::to_string(&m.hazards).map_err(|e| StoreError::Corrupt(e.to_string()))?)
    .bind(reason.as_str())
    .bind(ctx.now_ms)
    .bind(&m.native_id)
    .execute(ctx.conn())
    .await?;
    sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
        .bind(ctx.now_ms)
        .bind(&case_id)
        .execute(ctx.conn())
        .await?;
    // The post's text stays in the mentions row; the event records the facts.
    ctx.event(
        actor,
        "case.mention_linked",
        &format!("case:{case_id}"),
        None,
        Some(json!({
            "post_id": m.post_id, "source": m.source, "reason": reason,
            "product": [m.product.0, m.product.1], "hazards": m.hazards,
        })),
    )
    .await?;
    Ok(Some(MentionLink {
        post_id: m.post_id,
        case_id,
        reason,
    }))
}

async fn save_checkpoint(ctx: &mut WriteCtx, cp: &ConnectorCheckpoint) -> Result<()> {
    sqlx::query(
        "INSERT INTO connectors (name, cursor, last_event_at, events, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (name) DO UPDATE SET cursor = COALESCE(excluded.cursor, connectors.cursor),
            last_event_at = COALESCE(excluded.last_event_at, connectors.last_event_at),
            events = connectors.events + excluded.events, updated_at = excluded.updated_at",
    )
    .bind(&cp.name)
    .bind(&cp.cursor)
    .bind(cp.last_event_ms)
    .bind(cp.events)
    .bind(ctx.now_ms)
    .execute(ctx.conn())
    .await?;
    Ok(())
}

async fn ingest_in_tx(ctx: &mut WriteCtx, batch: SocialBatch) -> Result<SocialOutcome> {
    let mut out = SocialOutcome::default();
    for m in batch.mentions {
        if let Some(link) = insert_mention(ctx, m, batch.link, &batch.actor).await? {
            out.linked.push(link);
        }
    }
    let mut per_post: std::collections::BTreeMap<&str, i64> = Default::default();
    for e in &batch.engagements {
        let done = sqlx::query(
            "INSERT INTO engagements (id, post_id, kind, actor, followers, at_us, amount)
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE EXISTS (SELECT 1 FROM mentions WHERE post_id = $2)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&e.id)
        .bind(&e.post_id)
        .bind(&e.kind)
        .bind(&e.actor)
        .bind(e.followers)
        .bind(e.at_us)
        .bind(e.amount)
        .execute(ctx.conn())
        .await?
        .rows_affected();
        if done > 0 {
            out.engagements_stored += 1;
            *per_post.entry(e.post_id.as_str()).or_default() += e.amount.max(1);
        }
    }
    for (post, n) in &per_post {
        sqlx::query("UPDATE mentions SET engagements = engagements + $1 WHERE post_id = $2")
            .bind(n)
            .bind(post)
            .execute(ctx.conn())
            .await?;
    }
    for f in &batch.forecasts {
        sqlx::query(
            "UPDATE mentions SET forecast_final = $1, forecast_lower = $2, forecast_upper = $3, p_exceed = $4, forecast_at = $5 WHERE post_id = $6",
        )
        .bind(to_db(f.forecast.predicted_final))
        .bind(to_db(f.forecast.lower))
        .bind(to_db(f.forecast.upper))
        .bind(f.forecast.p_exceed)
        .bind(ctx.now_ms)
        .bind(&f.post_id)
        .execute(ctx.conn())
        .await?;
    }
    if let Some(cp) = &batch.checkpoint {
        save_checkpoint(ctx, cp).await?;
    }
    // One event for the batch's engagement, cursor and forecasts (mentions have their own).
    if out.engagements_stored > 0 || batch.checkpoint.is_some() || !batch.forecasts.is_empty() {
        let entity = match &batch.checkpoint {
            Some(cp) => format!("connector:{}", cp.name),
            None => "social".to_string(),
        };
        ctx.event(
            &batch.actor,
            "social.ingested",
            &entity,
            None,
            Some(json!({
                "cursor": batch.checkpoint.as_ref().and_then(|c| c.cursor.clone()),
                "events": batch.checkpoint.as_ref().map(|c| c.events),
                "mentions": out.linked.len(),
                "engagements": out.engagements_stored,
                "forecasts": batch.forecasts.len(),
            })),
        )
        .await?;
    }
    Ok(out)
}

fn mention_from_row(row: &DbRow) -> Result<MentionRecord> {
    let hazards: String = row.try_get("hazards")?;
    let hazards: Vec<ReceiptHazard> =
        serde_json::from_str(&hazards).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let final_: Option<f64> = row.try_get("forecast_final")?;
    let forecast = match final_ {
        None => None,
        Some(f) => {
            let lower: Option<f64> = row.try_get("forecast_lower")?;
            let upper: Option<f64> = row.try_get("forecast_upper")?;
            let p: Option<f64> = row.try_get("p_exceed")?;
            Some(MentionForecast {
                predicted_final: from_db(f),
                lower: from_db(lower.unwrap_or(f)),
                upper: from_db(upper.unwrap_or(f)),
                p_exceed: p.unwrap_or(0.0),
                infinite: f >= INFINITE,
            })
        }
    };
    Ok(MentionRecord {
        post_id: row.try_get("post_id")?,
        case_id: row.try_get("case_id")?,
        source: row.try_get("source")?,
        native_id: row.try_get("native_id")?,
        author: row.try_get("author")?,
        followers: row.try_get("followers")?,
        text: row.try_get("text")?,
        url: row.try_get("url")?,
        lang: row.try_get("lang")?,
        created_at_us: row.try_get("created_at_us")?,
        fingerprint: row.try_get("fingerprint")?,
        product_brand: row.try_get("product_brand")?,
        product_model: row.try_get("product_model")?,
        hazards,
        link_reason: row.try_get("link_reason")?,
        engagements: row.try_get("engagements")?,
        forecast,
        escalated_at_ms: row.try_get("escalated_at")?,
        received_at_ms: row.try_get("received_at")?,
    })
}

impl Backend {
    pub(crate) async fn social_ingest_batch(&self, batch: SocialBatch) -> Result<SocialOutcome> {
        self.write(move |ctx: &mut WriteCtx| Box::pin(ingest_in_tx(ctx, batch)))
            .await
    }

    pub(crate) async fn social_connector_error(
        &self,
        name: &str,
        error: &str,
        actor: &Actor,
    ) -> Result<()> {
        let (name, actor) = (name.to_string(), actor.clone());
        let error: String = error.chars().take(500).collect();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO connectors (name, errors, last_error, last_error_at, updated_at) VALUES ($1, 1, $2, $3, $3)
                     ON CONFLICT (name) DO UPDATE SET errors = connectors.errors + 1, last_error = excluded.last_error,
                        last_error_at = excluded.last_error_at, updated_at = excluded.updated_at",
                )
                .bind(&name)
                .bind(&error)
                .bind(ctx.now_ms)
                .execute(ctx.conn())
                .await?;
                ctx.event(&actor, "connector.error", &format!("connector:{name}"), None, Some(json!({"error": error})))
                    .await
            })
        })
        .await
    }

    pub(crate) async fn social_escalate(
        &self,
        post_id: &str,
        roles: Vec<String>,
        reason: serde_json::Value,
        actor: &Actor,
    ) -> Result<Option<EscalationRecord>> {
        let (post_id, actor) = (post_id.to_string(), actor.clone());
        let pb = self.playbook.current();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let row = sqlx::query("SELECT case_id, escalated_at FROM mentions WHERE post_id = $1")
                    .bind(&post_id)
                    .fetch_optional(ctx.conn())
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("mention {post_id}")))?;
                let case_id: String = row.try_get(0)?;
                let escalated: Option<i64> = row.try_get(1)?;
                if escalated.is_some() {
                    return Ok(None);
                }
                let roles_json = serde_json::to_string(&roles).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let reason_text = reason.to_string();
                let id: i64 = sqlx::query(
                    "INSERT INTO mention_escalations (case_id, post_id, roles, reason, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&case_id)
                .bind(&post_id)
                .bind(&roles_json)
                .bind(&reason_text)
                .bind(ctx.now_ms)
                .fetch_one(ctx.conn())
                .await?
                .try_get(0)?;
                sqlx::query("UPDATE mentions SET escalated_at = $1 WHERE post_id = $2")
                    .bind(ctx.now_ms)
                    .bind(&post_id)
                    .execute(ctx.conn())
                    .await?;
                sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
                    .bind(ctx.now_ms)
                    .bind(&case_id)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(
                    &actor,
                    "case.escalated",
                    &format!("case:{case_id}"),
                    None,
                    Some(json!({"escalation_id": id, "to": roles, "mention": post_id, "because": reason})),
                )
                .await?;
                // The playbook sees the mention's forecast (case.mentions.*): a rule such as
                // viral-risk escalates the case's level and notifies as any rule match does.
                super::playbooks::apply_evaluation(ctx, &pb, &case_id, &actor).await?;
                Ok(Some(EscalationRecord { id, case_id, post_id, roles, reason: reason_text, created_at_ms: ctx.now_ms }))
            })
        })
        .await
    }

    pub(crate) async fn social_list_mentions(
        &self,
        f: &MentionFilter,
    ) -> Result<Vec<MentionRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT post_id, case_id, source, native_id, author, followers, text, url, lang, created_at_us, fingerprint, product_brand, product_model, hazards, link_reason, engagements, forecast_final, forecast_lower, forecast_upper, p_exceed, escalated_at, received_at
             FROM mentions
             WHERE ($1 IS NULL OR ", dialect::eq_nocase!("(product_brand || ' ' || product_model)", "$1"), " OR ", dialect::eq_nocase!("product_model", "$1"), ")
               AND ($2 IS NULL OR ", dialect::mention_has_hazard!(), ")
               AND ($3 IS NULL OR case_id = $3)
               AND ($4 IS NULL OR forecast_final >= $4)
             ORDER BY created_at_us DESC, post_id LIMIT $5"
        ))
            .bind(&f.product)
            .bind(&f.hazard)
            .bind(&f.case_id)
            .bind(f.min_forecast)
            .bind(if f.limit == 0 { 100 } else { f.limit } as i64)
            .fetch_all(&self.readers)
            .await?;
        rows.iter().map(mention_from_row).collect()
    }

    pub(crate) async fn social_all_engagements(&self) -> Result<Vec<EngagementRecord>> {
        let rows = sqlx::query("SELECT id, post_id, kind, followers, at_us, amount FROM engagements ORDER BY post_id, at_us, id")
            .fetch_all(&self.readers)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(EngagementRecord {
                    id: r.try_get(0)?,
                    post_id: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    followers: r.try_get(3)?,
                    at_us: r.try_get(4)?,
                    amount: r.try_get(5)?,
                })
            })
            .collect()
    }

    pub(crate) async fn social_connectors(&self) -> Result<Vec<ConnectorRecord>> {
        let rows = sqlx::query(
            "SELECT name, cursor, last_event_at, events, errors, last_error, last_error_at, updated_at FROM connectors ORDER BY name",
        )
        .fetch_all(&self.readers)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ConnectorRecord {
                    name: r.try_get(0)?,
                    cursor: r.try_get(1)?,
                    last_event_at_ms: r.try_get(2)?,
                    events: r.try_get(3)?,
                    errors: r.try_get(4)?,
                    last_error: r.try_get(5)?,
                    last_error_at_ms: r.try_get(6)?,
                    updated_at_ms: r.try_get(7)?,
                })
            })
            .collect()
    }

    pub(crate) async fn social_case_escalations(
        &self,
        case_id: &str,
    ) -> Result<Vec<EscalationRecord>> {
        let rows = sqlx::query("SELECT id, case_id, post_id, roles, reason, created_at FROM mention_escalations WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(&self.readers)
            .await?;
        rows.iter()
            .map(|r| {
                let roles: String = r.try_get(3)?;
                Ok(EscalationRecord {
                    id: r.try_get(0)?,
                    case_id: r.try_get(1)?,
                    post_id: r.try_get(2)?,
                    roles: serde_json::from_str(&roles)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    reason: r.try_get(4)?,
                    created_at_ms: r.try_get(5)?,
                })
            })
            .collect()
    }
}

// Tested on both backends in tests/conformance.rs (`social_*` cases).
