//! The foundation of [`Store`] on both backends (docs/postgres.md, "One source for both
//! backends"): cases, reports, notes, users, tokens and events, and the row mappers the other
//! shared modules use. What differs per backend is called through `backend_*` methods each
//! backend defines next to its writer: intake (SQLite's direct writer path, PostgreSQL's
//! transaction), backup, the audit snapshot and leadership.

use super::dialect::{Backend, Conn, DbRow};
use super::{WriteCtx, playbooks, read_head};
use crate::records::*;
use crate::{Actor, AuditVerdict, Result, Store, StoreError};
use async_trait::async_trait;
use firewatch_domain::audit::{ChainVerifier, ChainedEvent};
use firewatch_domain::{CaseStatus, Role, Severity, check_transition};
use futures_util::TryStreamExt;
use serde_json::json;
use sqlx::Row;
use std::path::Path;
use std::str::FromStr;

pub(super) fn parse_col<T: FromStr>(row: &DbRow, col: &str) -> Result<T> {
    let s: String = row.try_get(col)?;
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("column {col} holds `{s}`")))
}

pub(super) fn case_from_row(row: &DbRow) -> Result<CaseRecord> {
    let hazards: String = row.try_get("hazards")?;
    Ok(CaseRecord {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        status: parse_col(row, "status")?,
        severity: parse_col(row, "severity")?,
        hazards: serde_json::from_str(&hazards).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        title: row.try_get("title")?,
        assignee: row.try_get("assignee")?,
        country: row.try_get("country")?,
        channel: row.try_get("channel")?,
        product_brand: row.try_get("product_brand")?,
        product_model: row.try_get("product_model")?,
        reporter_handle: row.try_get("reporter_handle")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

pub(super) fn case_json(c: &CaseRecord) -> serde_json::Value {
    json!({"status": c.status, "severity": c.severity, "assignee": c.assignee, "hazards": c.hazards})
}

pub(super) fn user_from_row(row: &DbRow) -> Result<UserRecord> {
    let disabled: i64 = row.try_get("disabled")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: parse_col::<Role>(row, "role")?,
        password_hash: row.try_get("password_hash")?,
        created_at_ms: row.try_get("created_at")?,
        disabled: disabled != 0,
    })
}

pub(super) fn attachment_from_row(row: &DbRow) -> Result<AttachmentRecord> {
    Ok(AttachmentRecord {
        id: row.try_get("id")?,
        report_id: row.try_get("report_id")?,
        sha256: row.try_get("sha256")?,
        clean_sha256: row.try_get("clean_sha256")?,
        media_type: row.try_get("media_type")?,
        size: row.try_get("size")?,
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        filename: row.try_get("filename")?,
        created_at_ms: row.try_get("created_at")?,
    })
}

pub(super) async fn load_case(conn: &mut Conn, id: &str) -> Result<CaseRecord> {
    let row = sqlx::query(
        "SELECT id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at FROM cases WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("case {id}")))?;
    case_from_row(&row)
}

/// The rows `sql` selects for one key (its only parameter, `$1`: a case, a remedy, a
/// statement), each mapped by `map`: the shape of every "rows of one thing" loader.
pub(super) async fn rows_by_key<T>(
    conn: &mut Conn,
    sql: &'static str,
    key: &str,
    map: impl Fn(&DbRow) -> Result<T>,
) -> Result<Vec<T>> {
    sqlx::query(sql)
        .bind(key)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(map)
        .collect()
}

pub(super) fn title_of(narrative: &str) -> String {
    let first_line = narrative
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut t: String = first_line.chars().take(120).collect();
    if first_line.chars().count() > 120 {
        t.push('…');
    }
    t
}

pub(super) fn event_from_row(row: &DbRow) -> Result<ChainedEvent> {
    Ok(ChainedEvent {
        seq: row.try_get("seq")?,
        at_ms: row.try_get("at")?,
        actor: row.try_get("actor")?,
        kind: row.try_get("kind")?,
        entity: row.try_get("entity")?,
        before: row.try_get("before")?,
        after: row.try_get("after")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Checks the whole chain against its head, on a connection the caller holds in one
/// snapshot (a read transaction), so the head and the events agree.
pub(super) async fn verify_chain(conn: &mut Conn) -> Result<AuditVerdict> {
    let head = read_head(&mut *conn).await?;
    let mut verifier = ChainVerifier::new();
    let verdict = {
        let mut rows = sqlx::query("SELECT seq, at, actor, kind, entity, before, after, prev_hash, hash FROM events ORDER BY seq").fetch(&mut *conn);
        let mut broken = None;
        while let Some(row) = rows.try_next().await? {
            let event = event_from_row(&row)?;
            if let Err(b) = verifier.check(&event) {
                broken = Some(b);
                break;
            }
        }
        broken
    };
    Ok(match verdict {
        Some(b) => AuditVerdict::Broken(b),
        None => match verifier.finish(&head) {
            Ok(events) => AuditVerdict::Ok { events },
            Err(b) => AuditVerdict::Broken(b),
        },
    })
}

pub(super) fn report_from_row(row: &DbRow) -> Result<ReportRecord> {
    Ok(ReportRecord {
        id: row.try_get("id")?,
        case_id: row.try_get("case_id")?,
        received_at_ms: row.try_get("received_at")?,
        channel: row.try_get("channel")?,
        narrative: row.try_get("narrative")?,
        language: row.try_get("language")?,
        country: row.try_get("country")?,
        occurred_at: row.try_get("occurred_at")?,
        injuries: row.try_get("injuries")?,
        product_json: row.try_get("product")?,
        reporter_json: row.try_get("reporter")?,
        triage_json: row.try_get("triage")?,
        severity: parse_col::<Severity>(row, "severity")?,
        idempotency_key: row.try_get("idempotency_key")?,
    })
}

#[async_trait]
impl Store for Backend {
    async fn migrate(&self) -> Result<()> {
        // Applied by `open`; kept for the trait so other backends can differ.
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.readers).await?;
        Ok(())
    }

    async fn intake(&self, cmd: IntakeCommand) -> Result<IntakeOutcome> {
        self.backend_intake(cmd).await
    }

    async fn get_case(&self, id: &str) -> Result<Option<CaseRecord>> {
        let row = sqlx::query(
            "SELECT id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at FROM cases WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(case_from_row).transpose()
    }

    async fn list_cases(&self, f: &CaseFilter) -> Result<Vec<CaseRecord>> {
        // Static SQL with optional binds: every filter is `(? IS NULL OR col = ?)`.
        let rows = sqlx::query(
            "SELECT id, number, status, severity, hazards, title, assignee, country, channel, product_brand, product_model, reporter_handle, created_at, updated_at FROM cases
             WHERE ($1 IS NULL OR status = $1)
               AND ($2 IS NULL OR severity = $2)
               AND ($3 IS NULL OR assignee = $3)
               AND ($4 = 0 OR status NOT IN ('resolved', 'closed'))
             ORDER BY severity ASC, created_at ASC
             LIMIT $5 OFFSET $6",
        )
        .bind(f.status.map(|s| s.as_str()))
        .bind(f.severity.map(|s| s.as_str()))
        .bind(&f.assignee)
        .bind(f.open_only as i64)
        .bind(if f.limit == 0 { 100 } else { f.limit } as i64)
        .bind(f.offset as i64)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(case_from_row).collect()
    }

    async fn case_reports(&self, case_id: &str) -> Result<Vec<ReportRecord>> {
        let rows = sqlx::query(
            "SELECT id, case_id, received_at, channel, narrative, language, country, occurred_at, injuries, product, reporter, triage, severity, idempotency_key
             FROM reports WHERE case_id = $1 ORDER BY received_at, id",
        )
        .bind(case_id)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(report_from_row).collect()
    }

    async fn case_notes(&self, case_id: &str) -> Result<Vec<NoteRecord>> {
        let rows = sqlx::query("SELECT id, case_id, author, body, created_at FROM notes WHERE case_id = $1 ORDER BY id")
            .bind(case_id)
            .fetch_all(&self.readers)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(NoteRecord {
                    id: row.try_get("id")?,
                    case_id: row.try_get("case_id")?,
                    author: row.try_get("author")?,
                    body: row.try_get("body")?,
                    created_at_ms: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    async fn report_attachments(&self, report_id: &str) -> Result<Vec<AttachmentRecord>> {
        let rows = sqlx::query(
            "SELECT id, report_id, sha256, clean_sha256, media_type, size, width, height, filename, created_at FROM attachments WHERE report_id = $1 ORDER BY id",
        )
        .bind(report_id)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(attachment_from_row).collect()
    }

    async fn get_attachment(&self, id: &str) -> Result<Option<AttachmentRecord>> {
        let row = sqlx::query(
            "SELECT id, report_id, sha256, clean_sha256, media_type, size, width, height, filename, created_at FROM attachments WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(attachment_from_row).transpose()
    }

    async fn transition_case(
        &self,
        case_id: &str,
        to: CaseStatus,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<CaseRecord> {
        let (case_id, actor) = (case_id.to_string(), actor.clone());
        let pb = self.playbook.current();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let before = load_case(ctx.conn(), &case_id).await?;
                check_transition(before.status, to)?;
                playbooks::before_transition(ctx, &pb, &before, to).await?;
                sqlx::query("UPDATE cases SET status = $1, updated_at = $2 WHERE id = $3")
                    .bind(to.as_str())
                    .bind(ctx.now_ms)
                    .bind(&case_id)
                    .execute(ctx.conn())
                    .await?;
                let after = load_case(ctx.conn(), &case_id).await?;
                let mut after_json = case_json(&after);
                if let Some(reason) = reason {
                    after_json["reason"] = json!(reason);
                }
                ctx.event(
                    &actor,
                    "case.transitioned",
                    &format!("case:{case_id}"),
                    Some(case_json(&before)),
                    Some(after_json),
                )
                .await?;
                playbooks::after_transition(ctx, &pb, &case_id, before.status, to, &actor).await?;
                Ok(after)
            })
        })
        .await
    }

    async fn add_note(&self, case_id: &str, body: String, actor: &Actor) -> Result<NoteRecord> {
        let (case_id, actor) = (case_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                load_case(ctx.conn(), &case_id).await?;
                let id: i64 = sqlx::query("INSERT INTO notes (case_id, author, body, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(&case_id)
                    .bind(&actor.0)
                    .bind(&body)
                    .bind(ctx.now_ms)
                    .fetch_one(ctx.conn())
                    .await?
                    .try_get(0)?;
                sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
                    .bind(ctx.now_ms)
                    .bind(&case_id)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(&actor, "case.note_added", &format!("case:{case_id}"), None, Some(json!({"note_id": id, "body": body})))
                    .await?;
                Ok(NoteRecord {
                    id,
                    case_id,
                    author: actor.0,
                    body,
                    created_at_ms: ctx.now_ms,
                })
            })
        })
        .await
    }

    async fn assign_case(
        &self,
        case_id: &str,
        assignee: Option<String>,
        actor: &Actor,
    ) -> Result<CaseRecord> {
        let (case_id, actor) = (case_id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let before = load_case(ctx.conn(), &case_id).await?;
                if let Some(name) = &assignee {
                    let exists =
                        sqlx::query("SELECT 1 FROM users WHERE name = $1 AND disabled = 0")
                            .bind(name)
                            .fetch_optional(ctx.conn())
                            .await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!("user {name}")));
                    }
                }
                sqlx::query("UPDATE cases SET assignee = $1, updated_at = $2 WHERE id = $3")
                    .bind(&assignee)
                    .bind(ctx.now_ms)
                    .bind(&case_id)
                    .execute(ctx.conn())
                    .await?;
                let after = load_case(ctx.conn(), &case_id).await?;
                ctx.event(
                    &actor,
                    "case.assigned",
                    &format!("case:{case_id}"),
                    Some(json!({"assignee": before.assignee})),
                    Some(json!({"assignee": after.assignee})),
                )
                .await?;
                Ok(after)
            })
        })
        .await
    }

    async fn case_counts_by_status(&self) -> Result<Vec<(CaseStatus, i64)>> {
        let rows =
            sqlx::query("SELECT status, COUNT(*) AS n FROM cases GROUP BY status ORDER BY status")
                .fetch_all(&self.readers)
                .await?;
        rows.iter()
            .map(|row| Ok((parse_col::<CaseStatus>(row, "status")?, row.try_get("n")?)))
            .collect()
    }

    async fn create_user(
        &self,
        name: &str,
        role: Role,
        password_hash: Option<String>,
        actor: &Actor,
    ) -> Result<UserRecord> {
        let (name, actor) = (name.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let taken = sqlx::query("SELECT 1 FROM users WHERE name = $1").bind(&name).fetch_optional(ctx.conn()).await?;
                if taken.is_some() {
                    return Err(StoreError::Conflict(format!("a user named {name} already exists")));
                }
                let id: i64 = sqlx::query("INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(&name)
                    .bind(role.as_str())
                    .bind(&password_hash)
                    .bind(ctx.now_ms)
                    .fetch_one(ctx.conn())
                    .await?
                    .try_get(0)?;
                ctx.event(&actor, "user.created", &format!("user:{name}"), None, Some(json!({"role": role, "password_set": password_hash.is_some()})))
                    .await?;
                Ok(UserRecord {
                    id,
                    name,
                    role,
                    password_hash,
                    created_at_ms: ctx.now_ms,
                    disabled: false,
                })
            })
        })
        .await
    }

    async fn find_user(&self, name: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(
            "SELECT id, name, role, password_hash, created_at, disabled FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn create_token(
        &self,
        user: &str,
        token_hash: String,
        label: Option<String>,
        actor: &Actor,
    ) -> Result<TokenRecord> {
        let (user, actor) = (user.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let row = sqlx::query("SELECT id FROM users WHERE name = $1 AND disabled = 0")
                    .bind(&user)
                    .fetch_optional(ctx.conn())
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("user {user}")))?;
                let user_id: i64 = row.try_get(0)?;
                let id: i64 = sqlx::query("INSERT INTO tokens (user_id, token_hash, label, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                    .bind(user_id)
                    .bind(&token_hash)
                    .bind(&label)
                    .bind(ctx.now_ms)
                    .fetch_one(ctx.conn())
                    .await?
                    .try_get(0)?;
                ctx.event(&actor, "token.created", &format!("user:{user}"), None, Some(json!({"token_id": id, "label": label})))
                    .await?;
                Ok(TokenRecord {
                    id,
                    user,
                    label,
                    created_at_ms: ctx.now_ms,
                    revoked_at_ms: None,
                })
            })
        })
        .await
    }

    async fn authenticate_token(&self, token_hash: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role, u.password_hash, u.created_at, u.disabled FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled = 0",
        )
        .bind(token_hash)
        .fetch_optional(&self.readers)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn revoke_token(&self, token_id: i64, actor: &Actor) -> Result<()> {
        let actor = actor.clone();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let row = sqlx::query("SELECT u.name, t.revoked_at FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1")
                    .bind(token_id)
                    .fetch_optional(ctx.conn())
                    .await?
                    .ok_or_else(|| StoreError::NotFound(format!("token {token_id}")))?;
                let user: String = row.try_get(0)?;
                let revoked: Option<i64> = row.try_get(1)?;
                if revoked.is_some() {
                    return Ok(());
                }
                sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
                    .bind(ctx.now_ms)
                    .bind(token_id)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(&actor, "token.revoked", &format!("user:{user}"), None, Some(json!({"token_id": token_id})))
                    .await
            })
        })
        .await
    }

    async fn list_tokens(&self, user: &str) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(
            "SELECT t.id, u.name, t.label, t.created_at, t.revoked_at FROM tokens t JOIN users u ON u.id = t.user_id WHERE u.name = $1 ORDER BY t.id",
        )
        .bind(user)
        .fetch_all(&self.readers)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(TokenRecord {
                    id: row.try_get(0)?,
                    user: row.try_get(1)?,
                    label: row.try_get(2)?,
                    created_at_ms: row.try_get(3)?,
                    revoked_at_ms: row.try_get(4)?,
                })
            })
            .collect()
    }

    async fn list_events(&self, f: &EventFilter) -> Result<Vec<ChainedEvent>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, kind, entity, before, after, prev_hash, hash FROM events
             WHERE seq > $1 AND ($2 IS NULL OR entity = $2) ORDER BY seq LIMIT $3",
        )
        .bind(f.after_seq)
        .bind(&f.entity)
        .bind(if f.limit == 0 { 100 } else { f.limit } as i64)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn backup_database(&self, dest: &Path) -> Result<()> {
        self.backend_backup(dest).await
    }

    fn playbooks(&self) -> &dyn crate::playbooks::PlaybookStore {
        self
    }

    fn comms(&self) -> &dyn crate::comms::CommsStore {
        self
    }

    fn ui(&self) -> &dyn crate::ui::UiStore {
        self
    }

    async fn verify_audit(&self) -> Result<AuditVerdict> {
        self.backend_verify_audit().await
    }

    async fn social_ingest(
        &self,
        batch: crate::social::SocialBatch,
    ) -> Result<crate::social::SocialOutcome> {
        self.social_ingest_batch(batch).await
    }
    async fn connector_error(&self, name: &str, error: &str, actor: &Actor) -> Result<()> {
        self.social_connector_error(name, error, actor).await
    }
    async fn list_connectors(&self) -> Result<Vec<crate::social::ConnectorRecord>> {
        self.social_connectors().await
    }
    async fn list_mentions(
        &self,
        f: &crate::social::MentionFilter,
    ) -> Result<Vec<crate::social::MentionRecord>> {
        self.social_list_mentions(f).await
    }
    async fn all_engagements(&self) -> Result<Vec<crate::social::EngagementRecord>> {
        self.social_all_engagements().await
    }
    async fn escalate_case_for_mention(
        &self,
        post_id: &str,
        roles: Vec<String>,
        reason: serde_json::Value,
        actor: &Actor,
    ) -> Result<Option<crate::social::EscalationRecord>> {
        self.social_escalate(post_id, roles, reason, actor).await
    }
    async fn case_escalations(
        &self,
        case_id: &str,
    ) -> Result<Vec<crate::social::EscalationRecord>> {
        self.social_case_escalations(case_id).await
    }

    async fn try_lead(&self, name: &str) -> Result<Option<crate::leader::Leadership>> {
        self.backend_try_lead(name).await
    }
}
