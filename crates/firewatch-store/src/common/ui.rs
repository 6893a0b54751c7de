//! The web UI's tables (migration 0006): sessions, login attempts, the queue order.
//! Shared by both backends (docs/postgres.md, "One source"); the queue's index hints are dialect items.

use super::WriteCtx;
use super::dialect::{self, Backend};
use super::store::{case_from_row, user_from_row};
use crate::records::{CaseFilter, UserRecord};
use crate::ui::*;
use crate::{Actor, Result, StoreError};
use async_trait::async_trait;
use serde_json::json;
use sqlx::Row;

/// `case_queue.next_deadline` when no clock runs.
const NO_DEADLINE: i64 = 9_007_199_254_740_991;

#[async_trait]
impl UiStore for Backend {
    async fn create_session(&self, s: NewSession) -> Result<()> {
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let user = sqlx::query("SELECT disabled FROM users WHERE name = $1")
                    .bind(&s.user)
                    .fetch_optional(ctx.conn())
                    .await?;
                match user {
                    None => return Err(StoreError::NotFound(format!("user {}", s.user))),
                    Some(row) if row.try_get::<i64, _>(0)? != 0 => {
                        return Err(StoreError::Conflict(format!("user {} is disabled", s.user)));
                    }
                    Some(_) => {}
                }
                sqlx::query("INSERT INTO ui_sessions (id_hash, user_name, csrf, lang, address, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
                    .bind(&s.id_hash)
                    .bind(&s.user)
                    .bind(&s.csrf)
                    .bind(&s.lang)
                    .bind(&s.address)
                    .bind(ctx.now_ms)
                    .execute(ctx.conn())
                    .await?;
                // The event names the session by a prefix of its hash only.
                ctx.event(
                    &Actor(s.user.clone()),
                    "session.created",
                    &format!("user:{}", s.user),
                    None,
                    Some(json!({"session": &s.id_hash[..12.min(s.id_hash.len())], "address": s.address})),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT s.csrf, s.lang, s.created_at AS s_created, s.last_seen_at, u.id, u.name, u.role, u.password_hash, u.created_at, u.disabled
             FROM ui_sessions s JOIN users u ON u.name = s.user_name
             WHERE s.id_hash = $1 AND s.ended_at IS NULL AND u.disabled = 0",
        )
        .bind(id_hash)
        .fetch_optional(&self.readers)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            user: user_from_row(&row)?,
            csrf: row.try_get("csrf")?,
            lang: row.try_get("lang")?,
            created_at_ms: row.try_get("s_created")?,
            last_seen_at_ms: row.try_get("last_seen_at")?,
        }))
    }

    async fn touch_session(&self, id_hash: &str, lang: Option<String>) -> Result<()> {
        let id_hash = id_hash.to_string();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                sqlx::query("UPDATE ui_sessions SET last_seen_at = $1, lang = COALESCE($2, lang) WHERE id_hash = $3 AND ended_at IS NULL")
                    .bind(ctx.now_ms)
                    .bind(&lang)
                    .bind(&id_hash)
                    .execute(ctx.conn())
                    .await?;
                Ok(())
            })
        })
        .await
    }

    async fn end_session(&self, id_hash: &str, reason: &str, actor: &Actor) -> Result<()> {
        let (id_hash, reason, actor) = (id_hash.to_string(), reason.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let row = sqlx::query("UPDATE ui_sessions SET ended_at = $1 WHERE id_hash = $2 AND ended_at IS NULL RETURNING user_name")
                    .bind(ctx.now_ms)
                    .bind(&id_hash)
                    .fetch_optional(ctx.conn())
                    .await?;
                if let Some(row) = row {
                    let user: String = row.try_get(0)?;
                    ctx.event(
                        &actor,
                        "session.ended",
                        &format!("user:{user}"),
                        None,
                        Some(json!({"session": &id_hash[..12.min(id_hash.len())], "reason": reason})),
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn record_login(&self, user: &str, address: &str, ok: bool) -> Result<()> {
        let (user, address) = (user.to_string(), address.to_string());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                sqlx::query("INSERT INTO login_attempts (user_name, address, ok, at) VALUES ($1, $2, $3, $4)")
                    .bind(&user)
                    .bind(&address)
                    .bind(ok as i64)
                    .bind(ctx.now_ms)
                    .execute(ctx.conn())
                    .await?;
                let kind = if ok { "auth.login" } else { "auth.login_failed" };
                ctx.event(
                    &Actor(format!("login:{address}")),
                    kind,
                    &format!("user:{user}"),
                    None,
                    Some(json!({"address": address})),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn login_failures(
        &self,
        user: &str,
        address: &str,
        since_ms: i64,
    ) -> Result<LoginFailures> {
        // Failures since the last success of that user (a good login clears the count).
        let row = sqlx::query(
            "SELECT
               (SELECT COUNT(*) FROM login_attempts WHERE user_name = $1 AND ok = 0 AND at >= $3
                  AND at > COALESCE((SELECT MAX(at) FROM login_attempts WHERE user_name = $1 AND ok = 1), 0)),
               (SELECT COUNT(*) FROM login_attempts WHERE address = $2 AND ok = 0 AND at >= $3)",
        )
        .bind(user)
        .bind(address)
        .bind(since_ms)
        .fetch_one(&self.readers)
        .await?;
        Ok(LoginFailures {
            by_user: row.try_get(0)?,
            by_address: row.try_get(1)?,
        })
    }

    async fn audit_lockout(&self, user: &str, address: &str, scope: &str) -> Result<()> {
        let (user, address, scope) = (user.to_string(), address.to_string(), scope.to_string());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                ctx.event(
                    &Actor(format!("login:{address}")),
                    "auth.login_locked",
                    &format!("user:{user}"),
                    None,
                    Some(json!({"address": address, "locked": scope})),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }

    async fn queue(&self, f: &CaseFilter) -> Result<Vec<QueueRow>> {
        // Without an assignee: one scan of case_queue_order_idx in queue order, the other
        // filters residual. With one: that agent's cases by cases_assignee_idx, then sorted
        // (an agent has few cases; scanning the whole queue for them would not be). SQLite
        // is told the index (`INDEXED BY`); PostgreSQL's planner picks it itself.
        const BY_QUEUE: &str = concat!("SELECT c.id, c.number, c.status, c.severity, c.hazards, c.title, c.assignee, c.country, c.channel, c.product_brand, c.product_model, c.reporter_handle, c.created_at, c.updated_at, q.next_deadline
             FROM case_queue q ", dialect::queue_order_index!(), " JOIN cases c ON c.id = q.case_id
             WHERE ($1 = 0 OR q.open = 1)
               AND ($2 IS NULL OR q.severity = $2)
               AND ($3 IS NULL OR c.status = $3)
             ORDER BY q.severity, q.next_deadline, q.created_at
             LIMIT $4 OFFSET $5");
        const BY_ASSIGNEE: &str = concat!("SELECT c.id, c.number, c.status, c.severity, c.hazards, c.title, c.assignee, c.country, c.channel, c.product_brand, c.product_model, c.reporter_handle, c.created_at, c.updated_at, q.next_deadline
             FROM cases c ", dialect::cases_assignee_index!(), " JOIN case_queue q ON q.case_id = c.id
             WHERE c.assignee = $6
               AND ($1 = 0 OR q.open = 1)
               AND ($2 IS NULL OR q.severity = $2)
               AND ($3 IS NULL OR c.status = $3)
             ORDER BY q.severity, q.next_deadline, q.created_at
             LIMIT $4 OFFSET $5");
        let sql = if f.assignee.is_some() {
            BY_ASSIGNEE
        } else {
            BY_QUEUE
        };
        let mut q = sqlx::query(sql)
            .bind(f.open_only as i64)
            .bind(f.severity.map(|s| s.as_str()))
            .bind(f.status.map(|s| s.as_str()))
            .bind(if f.limit == 0 { 50 } else { f.limit } as i64)
            .bind(f.offset as i64);
        if let Some(a) = &f.assignee {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.readers).await?;
        rows.iter()
            .map(|row| {
                let d: i64 = row.try_get("next_deadline")?;
                Ok(QueueRow {
                    case: case_from_row(row)?,
                    next_deadline_ms: (d != NO_DEADLINE).then_some(d),
                })
            })
            .collect()
    }

    async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(
            "SELECT id, name, role, password_hash, created_at, disabled FROM users ORDER BY name",
        )
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn set_password(&self, user: &str, password_hash: String, actor: &Actor) -> Result<()> {
        let (user, actor) = (user.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
                    .bind(&password_hash)
                    .bind(&user)
                    .execute(ctx.conn())
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("user {user}")));
                }
                let ended = sqlx::query("UPDATE ui_sessions SET ended_at = $1 WHERE user_name = $2 AND ended_at IS NULL")
                    .bind(ctx.now_ms)
                    .bind(&user)
                    .execute(ctx.conn())
                    .await?
                    .rows_affected();
                ctx.event(
                    &actor,
                    "user.password_set",
                    &format!("user:{user}"),
                    None,
                    Some(json!({"sessions_ended": ended})),
                )
                .await?;
                Ok(())
            })
        })
        .await
    }
}
