//! [`SignalStore`] on both backends (docs/postgres.md, "One source for both backends"):
//! products, exposure, the incremental counters (updated in the intake transaction by each
//! backend's `count_report`: `sqlite/intake_direct.rs`, `postgres/mod.rs`), signals and their
//! lifecycle. Dialect items: the case-insensitive product match, signal numbers, the JSON
//! lookup.

use super::WriteCtx;
use super::dialect::{self, Backend, Conn, DbRow};
use super::store::parse_col;
use crate::signals::*;
use crate::{Actor, Result, StoreError};
use async_trait::async_trait;
use firewatch_domain::{SignalStatus, check_signal_transition};
use serde_json::json;
use sqlx::Row;
use std::collections::HashMap;

/// Looks the first resolvable candidate up in the catalog (brand and model,
/// case-insensitive; a candidate without a brand matches a unique model).
pub(crate) async fn resolve_product(
    conn: &mut Conn,
    candidates: &[(String, String)],
) -> Result<Option<i64>> {
    for (brand, model) in candidates {
        let id: Option<i64> = if brand.is_empty() {
            let rows = sqlx::query(concat!(
                "SELECT id FROM products WHERE ",
                dialect::product_model_is!(),
                " LIMIT 2"
            ))
            .bind(model)
            .fetch_all(&mut *conn)
            .await?;
            if rows.len() == 1 {
                Some(rows[0].try_get(0)?)
            } else {
                None
            }
        } else {
            sqlx::query(concat!(
                "SELECT id FROM products WHERE ",
                dialect::product_is!()
            ))
            .bind(brand)
            .bind(model)
            .fetch_optional(&mut *conn)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?
        };
        if id.is_some() {
            return Ok(id);
        }
    }
    Ok(None)
}

fn product_from_row(row: &DbRow) -> Result<ProductRecord> {
    let aliases: String = row.try_get("aliases")?;
    Ok(ProductRecord {
        id: row.try_get("id")?,
        brand: row.try_get("brand")?,
        model: row.try_get("model")?,
        aliases: serde_json::from_str(&aliases).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        category: row.try_get("category")?,
        price: row.try_get("price")?,
        currency: row.try_get("currency")?,
        created_at_ms: row.try_get("created_at")?,
        updated_at_ms: row.try_get("updated_at")?,
    })
}

fn product_json(p: &ProductRecord) -> serde_json::Value {
    json!({"brand": p.brand, "model": p.model, "aliases": p.aliases, "category": p.category, "price": p.price, "currency": p.currency})
}

// sqlx takes only static SQL: shared fragments are macros joined with `concat!`.
macro_rules! product_cols {
    () => {
        "id, brand, model, aliases, category, price, currency, created_at, updated_at"
    };
}

macro_rules! signal_select {
    () => {
        "SELECT s.id, s.number, s.product_id, p.brand, p.model, p.category, s.hazard, s.status, s.trigger, s.opened_at, s.updated_at, s.closed_at
     FROM signals s JOIN products p ON p.id = s.product_id"
    };
}

fn signal_from_row(row: &DbRow) -> Result<SignalRecord> {
    let trigger: String = row.try_get("trigger")?;
    Ok(SignalRecord {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        product_id: row.try_get("product_id")?,
        brand: row.try_get("brand")?,
        model: row.try_get("model")?,
        category: row.try_get("category")?,
        hazard: row.try_get("hazard")?,
        status: parse_col::<SignalStatus>(row, "status")?,
        trigger: serde_json::from_str(&trigger).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        opened_at_ms: row.try_get("opened_at")?,
        updated_at_ms: row.try_get("updated_at")?,
        closed_at_ms: row.try_get("closed_at")?,
    })
}

async fn load_signal(conn: &mut Conn, id: &str) -> Result<SignalRecord> {
    let row = sqlx::query(concat!(signal_select!(), " WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("signal {id}")))?;
    signal_from_row(&row)
}

fn count_from_row(row: &DbRow) -> Result<CountRow> {
    Ok(CountRow {
        product_id: row.try_get(0)?,
        hazard: row.try_get(1)?,
        modality: row.try_get(2)?,
        market: row.try_get(3)?,
        day: row.try_get(4)?,
        n: row.try_get(5)?,
    })
}

#[async_trait]
impl SignalStore for Backend {
    async fn upsert_products(
        &self,
        products: Vec<NewProduct>,
        actor: &Actor,
    ) -> Result<UpsertSummary> {
        let actor = actor.clone();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let mut sum = UpsertSummary::default();
                for p in products {
                    let aliases = serde_json::to_string(&p.aliases).unwrap_or_else(|_| "[]".into());
                    let existing = sqlx::query(concat!("SELECT ", product_cols!(), " FROM products WHERE ", dialect::product_is!()))
                        .bind(&p.brand)
                        .bind(&p.model)
                        .fetch_optional(ctx.conn())
                        .await?;
                    match existing {
                        None => {
                            let id: i64 = sqlx::query("INSERT INTO products (brand, model, aliases, category, price, currency, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id")
                                .bind(&p.brand)
                                .bind(&p.model)
                                .bind(&aliases)
                                .bind(&p.category)
                                .bind(p.price)
                                .bind(&p.currency)
                                .bind(ctx.now_ms)
                                .fetch_one(ctx.conn())
                                .await?
                                .try_get(0)?;
                            let after = json!({"brand": p.brand, "model": p.model, "aliases": p.aliases, "category": p.category, "price": p.price, "currency": p.currency});
                            ctx.event(&actor, "product.created", &format!("product:{id}"), None, Some(after)).await?;
                            sum.created += 1;
                        }
                        Some(row) => {
                            let before = product_from_row(&row)?;
                            let same = before.aliases == p.aliases
                                && before.category == p.category
                                && before.price == p.price
                                && before.currency == p.currency
                                && before.brand == p.brand
                                && before.model == p.model;
                            if same {
                                sum.unchanged += 1;
                                continue;
                            }
                            sqlx::query("UPDATE products SET brand = $1, model = $2, aliases = $3, category = $4, price = $5, currency = $6, updated_at = $7 WHERE id = $8")
                                .bind(&p.brand)
                                .bind(&p.model)
                                .bind(&aliases)
                                .bind(&p.category)
                                .bind(p.price)
                                .bind(&p.currency)
                                .bind(ctx.now_ms)
                                .bind(before.id)
                                .execute(ctx.conn())
                                .await?;
                            let after = json!({"brand": p.brand, "model": p.model, "aliases": p.aliases, "category": p.category, "price": p.price, "currency": p.currency});
                            ctx.event(&actor, "product.updated", &format!("product:{}", before.id), Some(product_json(&before)), Some(after)).await?;
                            sum.updated += 1;
                        }
                    }
                }
                Ok(sum)
            })
        })
        .await
    }

    async fn list_products(&self) -> Result<Vec<ProductRecord>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            product_cols!(),
            " FROM products ORDER BY brand, model"
        ))
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(product_from_row).collect()
    }

    async fn products_version(&self) -> Result<(i64, i64)> {
        let row = sqlx::query("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM products")
            .fetch_one(&self.readers)
            .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    async fn upsert_exposure(
        &self,
        rows: Vec<NewExposure>,
        actor: &Actor,
    ) -> Result<UpsertSummary> {
        let actor = actor.clone();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let mut sum = UpsertSummary::default();
                let mut ids: HashMap<(String, String), i64> = HashMap::new();
                let mut changes = Vec::new();
                for r in rows {
                    let key = (r.brand.to_lowercase(), r.model.to_lowercase());
                    let product_id = match ids.get(&key) {
                        Some(id) => *id,
                        None => {
                            let id: i64 = sqlx::query(concat!("SELECT id FROM products WHERE ", dialect::product_is!()))
                                .bind(&r.brand)
                                .bind(&r.model)
                                .fetch_optional(ctx.conn())
                                .await?
                                .ok_or_else(|| StoreError::NotFound(format!("line {}: product `{} {}` (not in the catalog; import it first)", r.line, r.brand, r.model)))?
                                .try_get(0)?;
                            ids.insert(key, id);
                            id
                        }
                    };
                    let before: Option<i64> = sqlx::query("SELECT units FROM exposure WHERE product_id = $1 AND market = $2 AND month = $3")
                        .bind(product_id)
                        .bind(&r.market)
                        .bind(&r.month)
                        .fetch_optional(ctx.conn())
                        .await?
                        .map(|row| row.try_get(0))
                        .transpose()?;
                    if before == Some(r.units) {
                        sum.unchanged += 1;
                        continue;
                    }
                    sqlx::query("INSERT INTO exposure (product_id, market, month, units, updated_at) VALUES ($1, $2, $3, $4, $5)
                                 ON CONFLICT (product_id, market, month) DO UPDATE SET units = excluded.units, updated_at = excluded.updated_at")
                        .bind(product_id)
                        .bind(&r.market)
                        .bind(&r.month)
                        .bind(r.units)
                        .bind(ctx.now_ms)
                        .execute(ctx.conn())
                        .await?;
                    if before.is_some() { sum.updated += 1 } else { sum.created += 1 }
                    changes.push(json!({"product_id": product_id, "brand": r.brand, "model": r.model, "market": r.market, "month": r.month, "before": before, "after": r.units}));
                }
                if !changes.is_empty() {
                    ctx.event(&actor, "exposure.imported", "exposure", None, Some(json!({"created": sum.created, "updated": sum.updated, "unchanged": sum.unchanged, "changes": changes}))).await?;
                }
                Ok(sum)
            })
        })
        .await
    }

    async fn list_exposure(&self) -> Result<Vec<ExposureRecord>> {
        let rows = sqlx::query("SELECT product_id, market, month, units FROM exposure ORDER BY product_id, market, month")
            .fetch_all(&self.readers)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ExposureRecord {
                    product_id: r.try_get(0)?,
                    market: r.try_get(1)?,
                    month: r.try_get(2)?,
                    units: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn signal_counts(&self, since_day: i64) -> Result<Vec<CountRow>> {
        let rows = sqlx::query("SELECT product_id, hazard, modality, market, day, n FROM signal_counts WHERE day >= $1 ORDER BY product_id, hazard, modality, market, day")
            .bind(since_day)
            .fetch_all(&self.readers)
            .await?;
        rows.iter().map(count_from_row).collect()
    }

    async fn signal_count_windows(&self, today: i64) -> Result<Vec<CountRow>> {
        let rows = sqlx::query(
            "SELECT product_id, hazard, modality, market,
                    CASE WHEN day > $1 - 30 THEN $1 WHEN day > $1 - 90 THEN $1 - 30 ELSE $1 - 90 END AS bucket,
                    CAST(SUM(n) AS BIGINT)
             FROM signal_counts WHERE day > $1 - 365 AND day <= $1
             GROUP BY product_id, hazard, modality, market, bucket
             ORDER BY product_id, hazard, modality, market, bucket",
        )
        .bind(today)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(count_from_row).collect()
    }

    async fn recount_signal_counts(&self) -> Result<Vec<CountRow>> {
        let mut conn = self.readers.acquire().await?;
        let reports = sqlx::query(
            "SELECT triage, product, country, received_at FROM reports ORDER BY received_at, id",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut totals: HashMap<(i64, String, String, String, i64), i64> = HashMap::new();
        for r in &reports {
            let triage: String = r.try_get(0)?;
            let product: String = r.try_get(1)?;
            let country: Option<String> = r.try_get(2)?;
            let received: i64 = r.try_get(3)?;
            let a = Attribution::of_report(&triage, &product, country.as_deref(), received);
            let Some(pid) = resolve_product(&mut conn, &a.candidates).await? else {
                continue;
            };
            let rows = std::iter::once((ALL_REPORTS.to_string(), "report"))
                .chain(a.occurred.iter().map(|h| (h.clone(), "occurred")))
                .chain(a.potential.iter().map(|h| (h.clone(), "potential")));
            for (hazard, modality) in rows {
                *totals
                    .entry((pid, hazard, modality.to_string(), a.market.clone(), a.day))
                    .or_default() += 1;
            }
        }
        let mut out: Vec<CountRow> = totals
            .into_iter()
            .map(
                |((product_id, hazard, modality, market, day), n)| CountRow {
                    product_id,
                    hazard,
                    modality,
                    market,
                    day,
                    n,
                },
            )
            .collect();
        out.sort();
        Ok(out)
    }

    async fn dirty_products(&self) -> Result<Vec<(i64, i64)>> {
        let rows =
            sqlx::query("SELECT product_id, marked_at FROM signal_dirty ORDER BY product_id")
                .fetch_all(&self.readers)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn clear_dirty(&self, marks: Vec<(i64, i64)>) -> Result<()> {
        // Queue bookkeeping, not a change of record: no audit event.
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                for (product_id, marked_at) in marks {
                    sqlx::query(
                        "DELETE FROM signal_dirty WHERE product_id = $1 AND marked_at <= $2",
                    )
                    .bind(product_id)
                    .bind(marked_at)
                    .execute(ctx.conn())
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn open_signal(&self, new: NewSignal, actor: &Actor) -> Result<Option<SignalRecord>> {
        let actor = actor.clone();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let active = sqlx::query("SELECT 1 FROM signals WHERE product_id = $1 AND hazard = $2 AND status <> 'dismissed'")
                    .bind(new.product_id)
                    .bind(&new.hazard)
                    .fetch_optional(ctx.conn())
                    .await?;
                if active.is_some() {
                    return Ok(None);
                }
                let last_dismissed: Option<i64> = sqlx::query("SELECT MAX(closed_at) FROM signals WHERE product_id = $1 AND hazard = $2 AND status = 'dismissed'")
                    .bind(new.product_id)
                    .bind(&new.hazard)
                    .fetch_one(ctx.conn())
                    .await?
                    .try_get(0)?;
                if last_dismissed.is_some_and(|t| ctx.now_ms - t < new.quiet_after_dismissal_ms) {
                    return Ok(None);
                }
                let number = dialect::next_signal_number(ctx.conn()).await?;
                let id = uuid::Uuid::now_v7().to_string();
                let inserted = sqlx::query("INSERT INTO signals (id, number, product_id, hazard, status, trigger, opened_at, updated_at) VALUES ($1, $2, $3, $4, 'new', $5, $6, $6) ON CONFLICT (product_id, hazard) WHERE status <> 'dismissed' DO NOTHING")
                    .bind(&id)
                    .bind(number)
                    .bind(new.product_id)
                    .bind(&new.hazard)
                    .bind(new.trigger.to_string())
                    .bind(ctx.now_ms)
                    .execute(ctx.conn())
                    .await?
                    .rows_affected();
                if inserted == 0 {
                    // Another node opened this pair's signal meanwhile (PostgreSQL; SQLite's
                    // single writer cannot get here).
                    return Ok(None);
                }
                let s = load_signal(ctx.conn(), &id).await?;
                ctx.event(&actor, "signal.opened", &format!("signal:{id}"), None, Some(json!({
                    "number": number, "product_id": s.product_id, "brand": s.brand, "model": s.model,
                    "hazard": s.hazard, "status": "new", "trigger": s.trigger,
                }))).await?;
                Ok(Some(s))
            })
        })
        .await
    }

    async fn get_signal(&self, id: &str) -> Result<Option<SignalRecord>> {
        let row = sqlx::query(concat!(signal_select!(), " WHERE s.id = $1"))
            .bind(id)
            .fetch_optional(&self.readers)
            .await?;
        row.as_ref().map(signal_from_row).transpose()
    }

    async fn list_signals(&self, f: &SignalFilter) -> Result<Vec<SignalRecord>> {
        let rows = sqlx::query(concat!(
            signal_select!(),
            "
             WHERE ($1 IS NULL OR s.status = $1)
               AND ($2 IS NULL OR s.product_id = $2)
               AND ($3 IS NULL OR s.hazard = $3)
             ORDER BY s.opened_at DESC, s.number DESC
             LIMIT $4 OFFSET $5"
        ))
        .bind(f.status.map(|s| s.as_str()))
        .bind(f.product_id)
        .bind(&f.hazard)
        .bind(if f.limit == 0 { 100 } else { f.limit } as i64)
        .bind(f.offset as i64)
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(signal_from_row).collect()
    }

    async fn transition_signal(
        &self,
        id: &str,
        to: SignalStatus,
        reason: Option<String>,
        actor: &Actor,
    ) -> Result<SignalRecord> {
        let (id, actor) = (id.to_string(), actor.clone());
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let before = load_signal(ctx.conn(), &id).await?;
                check_signal_transition(before.status, to)
                    .map_err(|e| StoreError::Conflict(e.to_string()))?;
                let closed = to.allowed_next().is_empty().then_some(ctx.now_ms);
                sqlx::query(
                    "UPDATE signals SET status = $1, updated_at = $2, closed_at = $3 WHERE id = $4",
                )
                .bind(to.as_str())
                .bind(ctx.now_ms)
                .bind(closed)
                .bind(&id)
                .execute(ctx.conn())
                .await?;
                let after = load_signal(ctx.conn(), &id).await?;
                ctx.event(
                    &actor,
                    "signal.transitioned",
                    &format!("signal:{id}"),
                    Some(json!({"status": before.status})),
                    Some(json!({"status": after.status, "reason": reason})),
                )
                .await?;
                Ok(after)
            })
        })
        .await
    }

    async fn signal_cases(
        &self,
        product_id: i64,
        hazard: &str,
        limit: u32,
    ) -> Result<Vec<LinkedCase>> {
        let rows = sqlx::query(concat!(
            "SELECT sr.case_id, c.number, c.status, c.severity, c.title, sr.report_id, sr.market, sr.day
             FROM signal_reports sr JOIN cases c ON c.id = sr.case_id
             WHERE sr.product_id = $1 AND ",
            dialect::occurred_has_hazard!(),
            "
             ORDER BY sr.day DESC, sr.report_id DESC LIMIT $3"
        ))
        .bind(product_id)
        .bind(hazard)
        .bind(limit.max(1) as i64)
        .fetch_all(&self.readers)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LinkedCase {
                    case_id: r.try_get(0)?,
                    number: r.try_get(1)?,
                    status: parse_col(r, "status")?,
                    severity: parse_col(r, "severity")?,
                    title: r.try_get(4)?,
                    report_id: r.try_get(5)?,
                    market: r.try_get(6)?,
                    received_day: r.try_get(7)?,
                })
            })
            .collect()
    }

    async fn get_hyper(&self) -> Result<Option<HyperRecord>> {
        let row = sqlx::query("SELECT theta, nll, pairs, fitted_at FROM signal_hyper WHERE id = 1")
            .fetch_optional(&self.readers)
            .await?;
        row.map(|r| {
            let theta: String = r.try_get(0)?;
            Ok(HyperRecord {
                theta: serde_json::from_str(&theta)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                nll: r.try_get(1)?,
                pairs: r.try_get(2)?,
                fitted_at_ms: r.try_get(3)?,
            })
        })
        .transpose()
    }

    async fn save_hyper(&self, hyper: HyperRecord, actor: &Actor) -> Result<()> {
        let actor = actor.clone();
        self.write(move |ctx: &mut WriteCtx| {
            Box::pin(async move {
                let theta = serde_json::to_string(&hyper.theta).unwrap_or_else(|_| "[]".into());
                let before: Option<String> = sqlx::query("SELECT theta FROM signal_hyper WHERE id = 1")
                    .fetch_optional(ctx.conn())
                    .await?
                    .map(|r| r.try_get(0))
                    .transpose()?;
                sqlx::query("INSERT INTO signal_hyper (id, theta, nll, pairs, fitted_at) VALUES (1, $1, $2, $3, $4)
                             ON CONFLICT (id) DO UPDATE SET theta = excluded.theta, nll = excluded.nll, pairs = excluded.pairs, fitted_at = excluded.fitted_at")
                    .bind(&theta)
                    .bind(hyper.nll)
                    .bind(hyper.pairs)
                    .bind(hyper.fitted_at_ms)
                    .execute(ctx.conn())
                    .await?;
                ctx.event(
                    &actor,
                    "signal.hyper_fitted",
                    "signal-hyper",
                    before.map(|b| json!({"theta": serde_json::from_str::<serde_json::Value>(&b).unwrap_or_default()})),
                    Some(json!({"theta": hyper.theta, "nll": hyper.nll, "pairs": hyper.pairs})),
                )
                .await
            })
        })
        .await
    }
}
