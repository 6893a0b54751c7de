//! [`CommsStore`] (issue 11) on both backends (docs/postgres.md, "One source for both
//! backends"): template versions, the firm's profile, a subject's communication facts,
//! statements with versions and approvals, and regulator notifications, which stop the
//! case's regulator clocks in their transaction. Dialect items: the locks concurrent
//! PostgreSQL writers need ([`dialect::lock_statement_row`], [`dialect::lock_key`]).

use super::WriteCtx;
use super::dialect::{self, Backend, Conn, DbRow};
use super::store::{load_case, parse_col, report_from_row, rows_by_key};
use crate::comms::*;
use crate::playbooks::{Refusal, RemedyStatus};
use crate::signals::SignalStore;
use crate::{Actor, Result, Store, StoreError};
use async_trait::async_trait;
use firewatch_comms::{FindingSeverity, Lang, NoticeFacts, TemplateKind, Templates};
use firewatch_domain::Role;
use serde_json::json;
use sqlx::Row;

macro_rules! statement_columns {
    () => {
        "id, subject_type, subject_id, kind, lang, requested_lang, fell_back, template_id, body, version, status, facts, created_by, created_at, updated_by, updated_at, published_by, published_at, override_reason"
    };
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn sha256(text: &str) -> String {
    crate::playbooks::sha256_hex(text)
}

fn template_from_row(row: &DbRow) -> Result<TemplateVersion> {
    Ok(TemplateVersion {
        id: row.try_get("id")?,
        kind: parse_col(row, "kind")?,
        lang: parse_col(row, "lang")?,
        body: row.try_get("body")?,
        created_by: row.try_get("created_by")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

fn statement_from_row(row: &DbRow) -> Result<StatementRecord> {
    let facts: String = row.try_get("facts")?;
    let fell_back: i64 = row.try_get("fell_back")?;
    Ok(StatementRecord {
        id: row.try_get("id")?,
        subject: SubjectRef {
            kind: parse_col(row, "subject_type")?,
            id: row.try_get("subject_id")?,
        },
        kind: parse_col(row, "kind")?,
        lang: parse_col(row, "lang")?,
        requested_lang: row.try_get("requested_lang")?,
        fell_back: fell_back != 0,
        template_id: row.try_get("template_id")?,
        body: row.try_get("body")?,
        version: row.try_get("version")?,
        status: parse_col(row, "status")?,
        facts: serde_json::from_str::<NoticeFacts>(&facts).map_err(corrupt)?,
        created_by: row.try_get("created_by")?,
        created_at_ms: row.try_get("created_at")?,
        updated_by: row.try_get("updated_by")?,
        updated_at_ms: row.try_get("updated_at")?,
        published_by: row.try_get("published_by")?,
        published_at_ms: row.try_get("published_at")?,
        override_reason: row.try_get("override_reason")?,
        approvals: Vec::new(),
    })
}

fn approval_from_row(r: &DbRow) -> Result<StatementApproval> {
    Ok(StatementApproval {
        id: r.try_get("id")?,
        version: r.try_get("version")?,
        role: r.try_get("role")?,
        actor: r.try_get("actor")?,
        decision: r.try_get("decision")?,
        reason: r.try_get("reason")?,
        created_at_ms: r.try_get("created_at")?,
    })
}

async fn load_approvals(conn: &mut Conn, statement_id: &str) -> Result<Vec<StatementApproval>> {
    rows_by_key(conn, "SELECT id, version, role, actor, decision, reason, created_at FROM statement_approvals WHERE statement_id = $1 ORDER BY id", statement_id, approval_from_row).await
}

async fn find_statement(conn: &mut Conn, id: &str) -> Result<Option<StatementRecord>> {
    let row = sqlx::query(concat!(
        "SELECT ",
        statement_columns!(),
        " FROM statements WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut s = statement_from_row(&row)?;
    s.approvals = load_approvals(conn, id).await?;
    Ok(Some(s))
}

async fn load_statement(conn: &mut Conn, id: &str) -> Result<StatementRecord> {
    find_statement(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("statement {id}")))
}

/// Loads a statement for a change, holding its row lock until the transaction ends where
/// writers run concurrently (PostgreSQL; SQLite has one writer), so the status, version and
/// "already decided" checks of a change see every change committed before it.
async fn lock_statement(conn: &mut Conn, id: &str) -> Result<StatementRecord> {
    dialect::lock_statement_row(conn, id).await?;
    load_statement(conn, id).await
}

/// Fails with NotFound unless the case or signal exists.
async fn ensure_subject(conn: &mut Conn, s: &SubjectRef) -> Result<()> {
    let sql = match s.kind {
        SubjectKind::Case => "SELECT 1 FROM cases WHERE id = $1",
        SubjectKind::Signal => "SELECT 1 FROM signals WHERE id = $1",
    };
    match sqlx::query(sql)
        .bind(&s.id)
        .fetch_optional(&mut *conn)
        .await?
    {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(s.to_string())),
    }
}

async fn read_profile(conn: &mut Conn) -> Result<CommsProfile> {
    let row = sqlx::query("SELECT value FROM comms_settings WHERE key = 'profile'")
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(r) => {
            let v: String = r.try_get(0)?;
            serde_json::from_str(&v).map_err(corrupt)
        }
        None => Ok(CommsProfile::default()),
    }
}

async fn read_facts(conn: &mut Conn, s: &SubjectRef) -> Result<CommsFacts> {
    let row =
        sqlx::query("SELECT facts FROM comms_facts WHERE subject_type = $1 AND subject_id = $2")
            .bind(s.kind.as_str())
            .bind(&s.id)
            .fetch_optional(&mut *conn)
            .await?;
    match row {
        Some(r) => {
            let v: String = r.try_get(0)?;
            serde_json::from_str(&v).map_err(corrupt)
        }
        None => Ok(CommsFacts::default()),
    }
}

/// The catalog row (id, category, price) of a product, by brand and model (ignoring case,
/// as everywhere products are matched).
async fn catalog_row(
    conn: &mut Conn,
    brand: &str,
    model: &str,
) -> Result<Option<(i64, String, Option<(f64, String)>)>> {
    let row = sqlx::query(concat!(
        "SELECT id, category, price, currency FROM products WHERE ",
        dialect::product_is!()
    ))
    .bind(brand)
    .bind(model)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        let price: Option<f64> = r.try_get("price")?;
        let currency: Option<String> = r.try_get("currency")?;
        Ok((
            r.try_get("id")?,
            r.try_get("category")?,
            price.zip(currency),
        ))
    })
    .transpose()
}

async fn exposure_by_market(conn: &mut Conn, product_id: i64) -> Result<Vec<(String, u64)>> {
    let rows = sqlx::query(
        "SELECT market, CAST(SUM(units) AS BIGINT) AS units FROM exposure WHERE product_id = $1 GROUP BY market ORDER BY market",
    )
    .bind(product_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let units: i64 = r.try_get("units")?;
            Ok((r.try_get("market")?, units.max(0) as u64))
        })
        .collect()
}

fn refuse_template(e: &firewatch_comms::TemplateError) -> StoreError {
    Refusal::new(
        422,
        "invalid-template",
        "The template is refused",
        e.to_string(),
    )
    .with("template", e.template())
    .with("line", e.line())
    .into()
}

impl Backend {
    async fn case_data(&self, subject: &SubjectRef) -> Result<SubjectData> {
        let case = Store::get_case(self, &subject.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(subject.to_string()))?;
        let reports = Store::case_reports(self, &subject.id).await?;
        let first_product: serde_json::Value = reports
            .first()
            .and_then(|r| serde_json::from_str(&r.product_json).ok())
            .unwrap_or_default();
        let brand = case
            .product_brand
            .clone()
            .or_else(|| first_product["brand"].as_str().map(str::to_string))
            .unwrap_or_default();
        let model = case
            .product_model
            .clone()
            .or_else(|| first_product["model"].as_str().map(str::to_string))
            .unwrap_or_default();
        let customer_name = reports.iter().find_map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.reporter_json)
                .ok()
                .and_then(|v| v["name"].as_str().map(str::to_string))
        });
        let mut conn = self.readers.acquire().await?;
        let catalog = catalog_row(&mut conn, &brand, &model).await?;
        let units_by_market = match &catalog {
            Some((id, _, _)) => exposure_by_market(&mut conn, *id).await?,
            None => Vec::new(),
        };
        let reported_price = first_product["price"]["amount"].as_f64().zip(
            first_product["price"]["currency"]
                .as_str()
                .map(str::to_string),
        );
        let facts = read_facts(&mut conn, subject).await?;
        let profile = read_profile(&mut conn).await?;
        drop(conn);
        let mut remedy_kinds = Vec::new();
        if let Some(view) = self.playbooks().case_policy(&subject.id).await? {
            for r in &view.remedies {
                if matches!(
                    r.status,
                    RemedyStatus::Proposed
                        | RemedyStatus::Approved
                        | RemedyStatus::Accepted
                        | RemedyStatus::Fulfilled
                ) && r.customer_pays_percent == 0
                    && let Some(k) = comms_remedy(r.kind)
                    && !remedy_kinds.contains(&k)
                {
                    remedy_kinds.push(k);
                }
            }
        }
        Ok(SubjectData {
            subject: subject.clone(),
            reference: case.reference(),
            aware_at_ms: case.created_at_ms,
            brand,
            model,
            category: catalog.as_ref().map(|c| c.1.clone()),
            price: catalog.and_then(|c| c.2).or(reported_price),
            hazards: case.hazards.iter().filter_map(|h| h.parse().ok()).collect(),
            severity: Some(case.severity),
            reports,
            customer_name,
            units_by_market,
            remedy_kinds,
            facts,
            profile,
        })
    }

    async fn signal_data(&self, subject: &SubjectRef) -> Result<SubjectData> {
        let signal = SignalStore::get_signal(self, &subject.id)
            .await?
            .ok_or_else(|| StoreError::NotFound(subject.to_string()))?;
        let mut conn = self.readers.acquire().await?;
        let pattern = format!("%\"{}\"%", signal.hazard);
        let rows = sqlx::query(
            "SELECT r.id, r.case_id, r.received_at, r.channel, r.narrative, r.language, r.country, r.occurred_at, r.injuries, r.product, r.reporter, r.triage, r.severity, r.idempotency_key
             FROM signal_reports sr JOIN reports r ON r.id = sr.report_id
             WHERE sr.product_id = $1 AND (sr.occurred LIKE $2 OR sr.potential LIKE $2)
             ORDER BY r.received_at, r.id LIMIT 1000",
        )
        .bind(signal.product_id)
        .bind(&pattern)
        .fetch_all(&mut *conn)
        .await?;
        let reports = rows
            .iter()
            .map(report_from_row)
            .collect::<Result<Vec<_>>>()?;
        let catalog = catalog_row(&mut conn, &signal.brand, &signal.model).await?;
        let units_by_market = exposure_by_market(&mut conn, signal.product_id).await?;
        let facts = read_facts(&mut conn, subject).await?;
        let profile = read_profile(&mut conn).await?;
        Ok(SubjectData {
            subject: subject.clone(),
            reference: format!("SIG-{:06}", signal.number),
            aware_at_ms: signal.opened_at_ms,
            brand: signal.brand.clone(),
            model: signal.model.clone(),
            category: Some(signal.category.clone()),
            price: catalog.and_then(|c| c.2),
            hazards: signal.hazard.parse().into_iter().collect(),
            severity: None,
            reports,
            customer_name: None,
            units_by_market,
            remedy_kinds: Vec::new(),
            facts,
            profile,
        })
    }
}

async fn stored_for(conn: &mut Conn, kind: TemplateKind, lang: Lang) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT MAX(id) FROM comms_templates WHERE kind = $1 AND lang = $2")
        .bind(kind.as_str())
        .bind(lang.as_str())
        .fetch_one(&mut *conn)
        .await?;
    Ok(row.try_get(0)?)
}

#[async_trait]
impl CommsStore for Backend {
    async fn stored_templates(&self) -> Result<Vec<TemplateVersion>> {
        let rows = sqlx::query(
            "SELECT id, kind, lang, body, created_by, created_at FROM comms_templates t
             WHERE id = (SELECT MAX(id) FROM comms_templates u WHERE u.kind = t.kind AND u.lang = t.lang)
             ORDER BY kind, lang",
        )
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(template_from_row).collect()
    }

    async fn template_history(
        &self,
        kind: TemplateKind,
        lang: Lang,
    ) -> Result<Vec<TemplateVersion>> {
        let rows = sqlx::query("SELECT id, kind, lang, body, created_by, created_at FROM comms_templates WHERE kind = $1 AND lang = $2 ORDER BY id")
            .bind(kind.as_str())
            .bind(lang.as_str())
            .fetch_all(&self.readers)
            .await?;
        rows.iter().map(template_from_row).collect()
    }

    async fn templates(&self) -> Result<Templates> {
        let mut t = Templates::new();
        for v in self.stored_templates().await? {
            if let Err(e) = t.set(v.kind, v.lang.as_str(), &v.body) {
                tracing::warn!(template = %format!("{}.{}", v.kind, v.lang), error = %e,
                    "a stored template no longer validates; the built-in one is used");
            }
        }
        Ok(t)
    }

    async fn put_template(
        &self,
        kind: TemplateKind,
        lang: Lang,
        body: String,
        actor: &Actor,
    ) -> Result<TemplateVersion> {
        Templates::new()
            .validate(kind, lang, &body)
            .map_err(|e| refuse_template(&e))?;
        let actor = actor.clone();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                dialect::lock_key(ctx.conn(), &format!("template:{kind}.{lang}")).await?;
                let previous = stored_for(ctx.conn(), kind, lang).await?;
                let id: i64 = sqlx::query("INSERT INTO comms_templates (kind, lang, body, created_by, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                    .bind(kind.as_str())
                    .bind(lang.as_str())
                    .bind(&body)
                    .bind(&actor.0)
                    .bind(ctx.now_ms)
                    .fetch_one(ctx.conn())
                    .await?
                    .try_get(0)?;
                ctx.event(
                    &actor,
                    "template.updated",
                    &format!("template:{kind}.{lang}"),
                    Some(json!({"version": previous})),
                    Some(json!({"version": id, "sha256": sha256(&body), "body": body})),
                )
                .await?;
                Ok(TemplateVersion {
                    id,
                    kind,
                    lang,
                    body,
                    created_by: actor.0,
                    created_at_ms: ctx.now_ms,
                })
            })
        })
        .await
    }

    async fn profile(&self) -> Result<CommsProfile> {
        let mut conn = self.readers.acquire().await?;
        read_profile(&mut conn).await
    }

    async fn put_profile(&self, profile: CommsProfile, actor: &Actor) -> Result<CommsProfile> {
        let actor = actor.clone();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                dialect::lock_key(ctx.conn(), "comms:profile").await?;
                let before = read_profile(ctx.conn()).await?;
                let value = serde_json::to_string(&profile).map_err(corrupt)?;
                sqlx::query("INSERT INTO comms_settings (key, value, updated_by, updated_at) VALUES ('profile', $1, $2, $3)
                             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at")
                    .bind(&value)
                    .bind(&actor.0)
                    .bind(ctx.now_ms)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(
                    &actor,
                    "comms.profile_updated",
                    "comms:profile",
                    serde_json::to_value(&before).ok(),
                    serde_json::to_value(&profile).ok(),
                )
                .await?;
                Ok(profile)
            })
        })
        .await
    }

    async fn facts(&self, subject: &SubjectRef) -> Result<CommsFacts> {
        let mut conn = self.readers.acquire().await?;
        ensure_subject(&mut conn, subject).await?;
        read_facts(&mut conn, subject).await
    }

    async fn put_facts(
        &self,
        subject: &SubjectRef,
        facts: CommsFacts,
        actor: &Actor,
    ) -> Result<CommsFacts> {
        let (subject, actor) = (subject.clone(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                ensure_subject(ctx.conn(), &subject).await?;
                dialect::lock_key(ctx.conn(), &format!("facts:{subject}")).await?;
                let before = read_facts(ctx.conn(), &subject).await?;
                let value = serde_json::to_string(&facts).map_err(corrupt)?;
                sqlx::query("INSERT INTO comms_facts (subject_type, subject_id, facts, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
                             ON CONFLICT (subject_type, subject_id) DO UPDATE SET facts = excluded.facts, updated_by = excluded.updated_by, updated_at = excluded.updated_at")
                    .bind(subject.kind.as_str())
                    .bind(&subject.id)
                    .bind(&value)
                    .bind(&actor.0)
                    .bind(ctx.now_ms)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(
                    &actor,
                    "comms.facts_updated",
                    &subject.entity(),
                    serde_json::to_value(&before).ok(),
                    serde_json::to_value(&facts).ok(),
                )
                .await?;
                Ok(facts)
            })
        })
        .await
    }

    async fn subject_data(&self, subject: &SubjectRef) -> Result<SubjectData> {
        match subject.kind {
            SubjectKind::Case => self.case_data(subject).await,
            SubjectKind::Signal => self.signal_data(subject).await,
        }
    }

    async fn draft_statement(
        &self,
        subject: &SubjectRef,
        kind: TemplateKind,
        lang: Option<String>,
        actor: &Actor,
    ) -> Result<StatementRecord> {
        if kind == TemplateKind::CustomerReply && subject.kind == SubjectKind::Signal {
            return Err(Refusal::new(
                422,
                "customer-reply-needs-case",
                "Customer replies are for cases",
                "a customer reply answers the customer of a case; a signal has none".into(),
            )
            .into());
        }
        let data = self.subject_data(subject).await?;
        let requested = lang.or_else(|| data.report_language().map(str::to_string));
        let templates = self.templates().await?;
        let context = template_context(&data);
        let rendered = templates
            .render(
                kind,
                requested.as_deref().unwrap_or("en"),
                context.as_subject(),
            )
            .map_err(|e| {
                StoreError::from(
                    Refusal::new(
                        422,
                        "template-render-failed",
                        "The template could not be rendered",
                        e.to_string(),
                    )
                    .with("template", e.template())
                    .with("line", e.line()),
                )
            })?;
        let facts = context.notice_facts();
        let (subject, actor) = (subject.clone(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                ensure_subject(ctx.conn(), &subject).await?;
                let template_id = stored_for(ctx.conn(), kind, rendered.lang).await?;
                let id = uuid::Uuid::now_v7().to_string();
                let facts_json = serde_json::to_string(&facts).map_err(corrupt)?;
                sqlx::query(
                    "INSERT INTO statements (id, subject_type, subject_id, kind, lang, requested_lang, fell_back, template_id, body, version, status, facts, created_by, created_at, updated_by, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, 'draft', $10, $11, $12, $11, $12)",
                )
                .bind(&id)
                .bind(subject.kind.as_str())
                .bind(&subject.id)
                .bind(kind.as_str())
                .bind(rendered.lang.as_str())
                .bind(&requested)
                .bind(rendered.fell_back as i64)
                .bind(template_id)
                .bind(&rendered.text)
                .bind(&facts_json)
                .bind(&actor.0)
                .bind(ctx.now_ms)
                .execute(ctx.conn())
                .await?;
                ctx.event(
                    &actor,
                    "statement.drafted",
                    &subject.entity(),
                    None,
                    Some(json!({
                        "statement_id": id, "kind": kind, "lang": rendered.lang,
                        "requested_lang": requested, "fell_back": rendered.fell_back,
                        "template_id": template_id, "version": 1, "body": rendered.text,
                    })),
                )
                .await?;
                load_statement(ctx.conn(), &id).await
            })
        })
        .await
    }

    async fn get_statement(&self, id: &str) -> Result<Option<StatementRecord>> {
        let mut conn = self.readers.acquire().await?;
        find_statement(&mut conn, id).await
    }

    async fn list_statements(&self, subject: &SubjectRef) -> Result<Vec<StatementRecord>> {
        let mut conn = self.readers.acquire().await?;
        let rows = sqlx::query(concat!(
            "SELECT ",
            statement_columns!(),
            " FROM statements WHERE subject_type = $1 AND subject_id = $2 ORDER BY created_at, id"
        ))
        .bind(subject.kind.as_str())
        .bind(&subject.id)
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut s = statement_from_row(row)?;
            s.approvals = load_approvals(&mut conn, &s.id).await?;
            out.push(s);
        }
        Ok(out)
    }

    async fn edit_statement(
        &self,
        id: &str,
        body: String,
        expected_version: Option<i64>,
        actor: &Actor,
    ) -> Result<StatementRecord> {
        let (id, actor) = (id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let before = lock_statement(ctx.conn(), &id).await?;
                if before.status == StatementStatus::Published {
                    return Err(StoreError::Conflict(format!(
                        "statement {id} is published; draft a new one"
                    )));
                }
                if let Some(v) = expected_version
                    && v != before.version
                {
                    return Err(StoreError::Conflict(format!(
                        "statement {id} is at version {}, not {v}; reload it",
                        before.version
                    )));
                }
                if body == before.body {
                    return Ok(before);
                }
                let version = before.version + 1;
                sqlx::query("UPDATE statements SET body = $1, version = $2, status = 'draft', updated_by = $3, updated_at = $4 WHERE id = $5")
                    .bind(&body)
                    .bind(version)
                    .bind(&actor.0)
                    .bind(ctx.now_ms)
                    .bind(&id)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(
                    &actor,
                    "statement.edited",
                    &before.subject.entity(),
                    Some(json!({"statement_id": id, "version": before.version, "status": before.status, "body": before.body})),
                    Some(json!({"statement_id": id, "version": version, "status": "draft", "body": body})),
                )
                .await?;
                load_statement(ctx.conn(), &id).await
            })
        })
        .await
    }

    async fn decide_statement(
        &self,
        id: &str,
        role: Role,
        approve: bool,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<StatementRecord> {
        let (id, actor) = (id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let s = lock_statement(ctx.conn(), &id).await?;
                if s.status != StatementStatus::Draft {
                    return Err(StoreError::Conflict(format!(
                        "statement {id} is {}; only a draft can be approved or rejected{}",
                        s.status.as_str(),
                        if s.status == StatementStatus::Rejected { " (edit it first)" } else { "" }
                    )));
                }
                let needed = required_approvals(s.kind);
                if !needed.roles().contains(&role) {
                    let roles: Vec<&str> = needed.roles().iter().map(|r| r.as_str()).collect();
                    return Err(Refusal::new(
                        403,
                        "approval-role",
                        "Your role does not approve this kind of statement",
                        format!("a {} is approved by {}; you are {role}", s.kind, roles.join(", ")),
                    )
                    .with("roles", roles)
                    .into());
                }
                if s.approvals.iter().any(|a| a.version == s.version && a.role == role.as_str()) {
                    return Err(StoreError::Conflict(format!(
                        "{role} already decided on version {} of statement {id}",
                        s.version
                    )));
                }
                let decision = if approve { "approved" } else { "rejected" };
                sqlx::query("INSERT INTO statement_approvals (statement_id, version, role, actor, decision, reason, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&id)
                    .bind(s.version)
                    .bind(role.as_str())
                    .bind(&actor.0)
                    .bind(decision)
                    .bind(&reason)
                    .bind(ctx.now_ms)
                    .execute(ctx.conn())
                    .await?;
                if !approve {
                    sqlx::query("UPDATE statements SET status = 'rejected', updated_at = $1 WHERE id = $2")
                        .bind(ctx.now_ms)
                        .bind(&id)
                        .execute(ctx.conn())
                        .await?;
                }
                ctx.event(
                    &actor,
                    if approve { "statement.approved" } else { "statement.rejected" },
                    &s.subject.entity(),
                    None,
                    Some(json!({"statement_id": id, "version": s.version, "role": role, "decision": decision, "reason": reason})),
                )
                .await?;
                load_statement(ctx.conn(), &id).await
            })
        })
        .await
    }

    async fn publish_statement(
        &self,
        id: &str,
        role: Role,
        override_reason: Option<String>,
        actor: &Actor,
    ) -> Result<StatementRecord> {
        let (id, actor) = (id.to_string(), actor.clone());
        let override_reason = override_reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let s = lock_statement(ctx.conn(), &id).await?;
                if s.status != StatementStatus::Draft {
                    return Err(StoreError::Conflict(format!(
                        "statement {id} is {}; only an approved draft can be published",
                        s.status.as_str()
                    )));
                }
                if !may_publish(s.kind, role) {
                    return Err(Refusal::new(
                        403,
                        "publish-role",
                        "Your role does not publish this kind of statement",
                        format!("a {} is not published by {role}", s.kind),
                    )
                    .into());
                }
                let missing = s.approvals_missing();
                if !missing.is_empty() {
                    return Err(Refusal::new(
                        409,
                        "approvals-missing",
                        "The statement lacks approvals",
                        format!("version {} still needs approval by {}", s.version, missing.join(" and ")),
                    )
                    .with("approvals_missing", &missing)
                    .into());
                }
                let mut overridden = Vec::new();
                if s.kind == TemplateKind::RecallNotice {
                    let findings = firewatch_comms::check_recall_notice(&s.body, s.lang.as_str(), &s.facts);
                    let blocking: Vec<_> = findings.iter().filter(|f| f.severity == FindingSeverity::Error).collect();
                    if !blocking.is_empty() {
                        match (&override_reason, role) {
                            (Some(_), Role::Hq) => {
                                overridden = blocking.iter().map(|f| f.rule.as_str()).collect();
                            }
                            _ => {
                                let detail = format!(
                                    "the recall notice has {} blocking finding(s): {}{}",
                                    blocking.len(),
                                    blocking.iter().map(|f| f.message.as_str()).collect::<Vec<_>>().join(" "),
                                    if override_reason.is_some() { " Only hq may override the checker." } else { "" }
                                );
                                return Err(Refusal::new(422, "notice-check-failed", "The recall notice fails the checker", detail)
                                    .with("findings", &findings)
                                    .with("blocking", blocking.len())
                                    .into());
                            }
                        }
                    }
                }
                let override_reason = if overridden.is_empty() { None } else { override_reason };
                sqlx::query("UPDATE statements SET status = 'published', published_by = $1, published_at = $2, override_reason = $3, updated_at = $2 WHERE id = $4")
                    .bind(&actor.0)
                    .bind(ctx.now_ms)
                    .bind(&override_reason)
                    .bind(&id)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(
                    &actor,
                    "statement.published",
                    &s.subject.entity(),
                    Some(json!({"statement_id": id, "status": s.status})),
                    Some(json!({
                        "statement_id": id, "status": "published", "kind": s.kind, "lang": s.lang,
                        "version": s.version, "body": s.body, "role": role,
                        "override_reason": override_reason, "findings_overridden": overridden,
                    })),
                )
                .await?;
                load_statement(ctx.conn(), &id).await
            })
        })
        .await
    }

    async fn record_export(
        &self,
        subject: &SubjectRef,
        export: &str,
        format: &str,
        sha256: &str,
        actor: &Actor,
    ) -> Result<()> {
        let (subject, actor) = (subject.clone(), actor.clone());
        let after = json!({"export": export, "format": format, "sha256": sha256});
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                ensure_subject(ctx.conn(), &subject).await?;
                ctx.event(
                    &actor,
                    "export.generated",
                    &subject.entity(),
                    None,
                    Some(after),
                )
                .await
            })
        })
        .await
    }

    async fn mark_submitted(
        &self,
        subject: &SubjectRef,
        n: NewNotification,
        actor: &Actor,
    ) -> Result<NotificationRecord> {
        let regulator = n.regulator.trim().to_string();
        let reference = n.reference.trim().to_string();
        if !REGULATORS.contains(&regulator.as_str()) || reference.is_empty() {
            return Err(Refusal::new(
                422,
                "validation",
                "The notification is incomplete",
                format!(
                    "regulator is one of {} and reference is the regulator's reference",
                    REGULATORS.join(", ")
                ),
            )
            .into());
        }
        let (subject, actor) = (subject.clone(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                ensure_subject(ctx.conn(), &subject).await?;
                // The case's regulator clock runs for its market's regulator: a submission
                // to another one (the product is also sold elsewhere) is recorded but does
                // not stop it.
                let stops_clock = match subject.kind {
                    SubjectKind::Case => {
                        let case = load_case(ctx.conn(), &subject.id).await?;
                        regulator_for_market(case.country.as_deref())
                            .is_none_or(|expected| expected == regulator)
                    }
                    SubjectKind::Signal => false,
                };
                let submitted_at = n.submitted_at_ms.unwrap_or(ctx.now_ms);
                let mut clocks_stopped: Vec<String> = Vec::new();
                if stops_clock {
                    let rows = sqlx::query("UPDATE clocks SET state = 'stopped', updated_at = $1 WHERE case_id = $2 AND kind = 'regulator' AND state IN ('running', 'paused') RETURNING name")
                        .bind(ctx.now_ms)
                        .bind(&subject.id)
                        .fetch_all(ctx.conn())
                        .await?;
                    for r in &rows {
                        clocks_stopped.push(r.try_get(0)?);
                    }
                    clocks_stopped.sort();
                }
                let stopped_json = serde_json::to_string(&clocks_stopped).map_err(corrupt)?;
                let id: i64 = sqlx::query("INSERT INTO regulator_notifications (subject_type, subject_id, regulator, reference, submitted_by, submitted_at, recorded_at, clocks_stopped)
                                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
                    .bind(subject.kind.as_str())
                    .bind(&subject.id)
                    .bind(&regulator)
                    .bind(&reference)
                    .bind(&actor.0)
                    .bind(submitted_at)
                    .bind(ctx.now_ms)
                    .bind(&stopped_json)
                    .fetch_one(ctx.conn())
                    .await?
                    .try_get(0)?;
                ctx.event(
                    &actor,
                    "regulator.notification_submitted",
                    &subject.entity(),
                    None,
                    Some(json!({"notification_id": id, "regulator": regulator, "reference": reference,
                                "submitted_at_ms": submitted_at, "clocks_stopped": clocks_stopped})),
                )
                .await?;
                if !clocks_stopped.is_empty() {
                    ctx.event(
                        &actor,
                        "clocks.stopped",
                        &subject.entity(),
                        None,
                        Some(json!({"clocks": clocks_stopped, "reason": "regulator notification submitted",
                                    "notification_id": id})),
                    )
                    .await?;
                }
                if subject.kind == SubjectKind::Case {
                    let note = format!("submitted to {regulator}, reference {reference}");
                    let done = sqlx::query("UPDATE tasks SET status = 'done', note = $1, completed_by = $2, completed_at = $3 WHERE case_id = $4 AND task = 'regulator_report' AND status <> 'done' RETURNING id")
                        .bind(&note)
                        .bind(&actor.0)
                        .bind(ctx.now_ms)
                        .bind(&subject.id)
                        .fetch_optional(ctx.conn())
                        .await?;
                    if done.is_some() {
                        ctx.event(
                            &actor,
                            "task.completed",
                            &subject.entity(),
                            Some(json!({"task": "regulator_report", "status": "open"})),
                            Some(json!({"task": "regulator_report", "status": "done", "note": note})),
                        )
                        .await?;
                    }
                }
                Ok(NotificationRecord {
                    id,
                    subject,
                    regulator,
                    reference,
                    submitted_by: actor.0,
                    submitted_at_ms: submitted_at,
                    recorded_at_ms: ctx.now_ms,
                    clocks_stopped,
                })
            })
        })
        .await
    }

    async fn list_notifications(&self, subject: &SubjectRef) -> Result<Vec<NotificationRecord>> {
        let rows = sqlx::query("SELECT id, regulator, reference, submitted_by, submitted_at, recorded_at, clocks_stopped FROM regulator_notifications WHERE subject_type = $1 AND subject_id = $2 ORDER BY id")
            .bind(subject.kind.as_str())
            .bind(&subject.id)
            .fetch_all(&self.readers)
            .await?;
        rows.iter()
            .map(|r| {
                let stopped: String = r.try_get("clocks_stopped")?;
                Ok(NotificationRecord {
                    id: r.try_get("id")?,
                    subject: subject.clone(),
                    regulator: r.try_get("regulator")?,
                    reference: r.try_get("reference")?,
                    submitted_by: r.try_get("submitted_by")?,
                    submitted_at_ms: r.try_get("submitted_at")?,
                    recorded_at_ms: r.try_get("recorded_at")?,
                    clocks_stopped: serde_json::from_str(&stopped).map_err(corrupt)?,
                })
            })
            .collect()
    }
}

// Tested on both backends in tests/conformance.rs (`comms_*` cases).
