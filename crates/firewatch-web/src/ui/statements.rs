//! Statements in the UI (issue 11): the case page's list and draft form, and the statement
//! page, which shows the body with every checker finding highlighted in place, the findings
//! with their messages, and the approve, reject and publish buttons. The rules (who approves
//! what, the checker gate) are the store's (`firewatch_store::comms`), as for the JSON API.

use super::decision::Decision;
use super::{Ctx, error_page, html, see_other};
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{ApiForm, ApiPath, ApiQuery};
use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use firewatch_comms::{Finding, FindingSeverity, TemplateKind, check_recall_notice};
use firewatch_store::comms::{StatementRecord, SubjectKind, SubjectRef};
use firewatch_store::{Actor, StoreError};
use serde::Deserialize;
use std::fmt::Write as _;

/// The kinds a statement can be drafted as (the select on the case page).
pub const STATEMENT_KINDS: [&str; 3] = ["customer_reply", "public_statement", "recall_notice"];

/// HTML-escapes `s` (text and attribute values).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A piece of the statement body and the findings (indexes) whose spans cover it.
#[derive(Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    pub text: &'a str,
    pub findings: Vec<usize>,
}

/// Splits `text` at every finding span's start and end (byte offsets): each piece lies
/// wholly inside or outside each span, so overlapping and adjacent spans give flat,
/// non-nested pieces. Spans that are empty, fall outside the text or off a character
/// boundary are ignored (their findings are still listed below the text).
pub fn pieces<'a>(text: &'a str, findings: &[Finding]) -> Vec<Piece<'a>> {
    let valid = |s: usize, e: usize| s < e && text.get(s..e).is_some();
    let spans: Vec<(usize, usize, usize)> = findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.span.map(|s| (i, s.start, s.end)))
        .filter(|(_, s, e)| valid(*s, *e))
        .collect();
    let mut cuts: Vec<usize> = vec![0, text.len()];
    for (_, s, e) in &spans {
        cuts.push(*s);
        cuts.push(*e);
    }
    cuts.sort_unstable();
    cuts.dedup();
    let mut out: Vec<Piece<'a>> = Vec::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let covering: Vec<usize> = spans
            .iter()
            .filter(|(_, s, e)| *s <= a && b <= *e)
            .map(|(i, _, _)| *i)
            .collect();
        // Boundaries come from valid spans (char boundaries) or the text's ends.
        let Some(piece) = text.get(a..b) else {
            continue;
        };
        out.push(Piece {
            text: piece,
            findings: covering,
        });
    }
    out
}

/// The body as HTML: every piece escaped, the pieces a finding covers wrapped in
/// `<mark class="finding finding-error|warning" title="rule: message">` (error when any
/// covering finding is an error).
pub fn highlight(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for p in pieces(text, findings) {
        if p.findings.is_empty() {
            out.push_str(&escape(p.text));
            continue;
        }
        let error = p
            .findings
            .iter()
            .any(|i| findings[*i].severity == FindingSeverity::Error);
        let title = p
            .findings
            .iter()
            .map(|i| format!("{}: {}", findings[*i].rule, findings[*i].message))
            .collect::<Vec<_>>()
            .join("\n");
        let _ = write!(
            out,
            "<mark class=\"finding finding-{}\" title=\"{}\">{}</mark>",
            if error { "error" } else { "warning" },
            escape(&title),
            escape(p.text)
        );
    }
    out
}

/// The checker's findings on a statement: the recall-notice checker for recall notices,
/// the minimising-language check for other kinds (as `POST /api/v1/statements/{id}/check`).
pub fn findings_of(s: &StatementRecord) -> Vec<Finding> {
    if s.kind == TemplateKind::RecallNotice {
        check_recall_notice(&s.body, s.lang.as_str(), &s.facts)
    } else {
        firewatch_comms::find_minimising_language(&s.body, s.lang.as_str())
    }
}

/// A row of the case page's statements list.
pub struct StatementRow {
    pub id: String,
    pub kind: String,
    pub lang: String,
    pub status: String,
    pub version: i64,
}

/// The case's statements, newest last (empty when the store cannot say: the case page
/// still shows).
pub async fn case_rows(state: &AppState, case_id: &str) -> Vec<StatementRow> {
    match state
        .store
        .comms()
        .list_statements(&SubjectRef::case(case_id))
        .await
    {
        Ok(list) => list
            .iter()
            .map(|s| StatementRow {
                id: s.id.clone(),
                kind: s.kind.as_str().to_string(),
                lang: s.lang.as_str().to_string(),
                status: s.status.as_str().to_string(),
                version: s.version,
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, case = case_id, "statements of the case page");
            Vec::new()
        }
    }
}

pub struct FindingView {
    pub rule: String,
    pub severity: &'static str,
    pub message: String,
    pub excerpt: Option<String>,
}

pub enum StatementFlash {
    Ok(&'static str),
    Refused(String),
}

#[derive(Template)]
#[template(path = "statement.html")]
struct StatementPage<'a> {
    ctx: &'a Ctx,
    s: &'a StatementRecord,
    body_html: String,
    findings: Vec<FindingView>,
    blocking: usize,
    back: String,
    missing: String,
    approvals: Vec<String>,
    flash: Option<StatementFlash>,
    can_decide: bool,
    can_publish: bool,
}

async fn render(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    flash: Option<StatementFlash>,
    status: StatusCode,
) -> Response {
    let s = match state.store.comms().get_statement(id).await {
        Ok(Some(s)) => s,
        Ok(None) => return error_page(ctx, ApiError::not_found(format!("statement {id}"))).await,
        Err(e) => return error_page(ctx, e.into()).await,
    };
    let found = findings_of(&s);
    let findings = found
        .iter()
        .map(|f| FindingView {
            rule: f.rule.to_string(),
            severity: match f.severity {
                FindingSeverity::Error => "error",
                FindingSeverity::Warning => "warning",
            },
            message: f.message.clone(),
            excerpt: f
                .span
                .and_then(|sp| s.body.get(sp.start..sp.end))
                .map(str::to_string),
        })
        .collect::<Vec<_>>();
    let blocking = findings.iter().filter(|f| f.severity == "error").count();
    let back = match s.subject.kind {
        SubjectKind::Case => format!("/cases/{}", s.subject.id),
        SubjectKind::Signal => format!("/safety/signals/{}", s.subject.id),
    };
    let open = s.status != firewatch_store::comms::StatementStatus::Published;
    let page = StatementPage {
        ctx,
        body_html: highlight(&s.body, &found),
        findings,
        blocking,
        back,
        missing: s.approvals_missing().join(", "),
        approvals: s
            .approvals
            .iter()
            .map(|a| {
                format!(
                    "v{} · {} ({}) {}{}",
                    a.version,
                    a.actor,
                    a.role,
                    a.decision,
                    a.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                )
            })
            .collect(),
        flash,
        can_decide: open && ctx.may("POST", "/statements/{id}/approve"),
        can_publish: open && ctx.may("POST", "/statements/{id}/publish"),
        s: &s,
    };
    html(ctx, status, page.render())
}

pub async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<super::DoneQuery>,
) -> Response {
    let flash = match q.done.as_deref() {
        Some("drafted") => Some(StatementFlash::Ok("statement.drafted")),
        Some("decided") => Some(StatementFlash::Ok("case.decided")),
        Some("published") => Some(StatementFlash::Ok("statement.published_ok")),
        _ => None,
    };
    render(&state, &ctx, &id, flash, StatusCode::OK).await
}

/// A store refusal (or other error) as the page's flash and status.
fn refusal(e: StoreError) -> (String, StatusCode) {
    let status = match &e {
        StoreError::Refused(r) => {
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
        }
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::Conflict(_) | StoreError::IllegalTransition(_) => StatusCode::CONFLICT,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    let reason = match e {
        StoreError::Refused(r) => r.detail,
        other => other.to_string(),
    };
    (reason, status)
}

fn reason(r: Option<String>) -> Option<String> {
    r.map(|r| r.trim().chars().take(4000).collect::<String>())
        .filter(|r| !r.is_empty())
}

#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    reason: Option<String>,
}

async fn decide(d: Decision<DecisionForm>, approve: bool) -> Response {
    let Decision {
        state,
        ctx,
        principal: p,
        id,
        form,
    } = d;
    let result = state
        .store
        .comms()
        .decide_statement(&id, p.role, approve, reason(form.reason), &Actor(p.name))
        .await;
    after_action(&state, &ctx, &id, result.map(drop), "decided").await
}

pub async fn approve(d: Decision<DecisionForm>) -> Response {
    decide(d, true).await
}

pub async fn reject(d: Decision<DecisionForm>) -> Response {
    decide(d, false).await
}

/// After a statement action: back to the statement (`?done=...`), or its page with the
/// store's refusal.
async fn after_action(
    state: &AppState,
    ctx: &Ctx,
    id: &str,
    result: Result<(), StoreError>,
    done: &str,
) -> Response {
    match result {
        Ok(()) => see_other(&format!("/statements/{id}?done={done}")),
        Err(e) => {
            let (reason, status) = refusal(e);
            render(
                state,
                ctx,
                id,
                Some(StatementFlash::Refused(reason)),
                status,
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct PublishForm {
    override_reason: Option<String>,
}

pub async fn publish(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiForm(f): ApiForm<PublishForm>,
) -> Response {
    let result = state
        .store
        .comms()
        .publish_statement(&id, p.role, reason(f.override_reason), &Actor(p.name))
        .await;
    after_action(&state, &ctx, &id, result.map(drop), "published").await
}

#[derive(Debug, Deserialize)]
pub struct DraftForm {
    kind: String,
}

/// Draft a statement of a case (the report's language, as the API's default): on success
/// the new statement's page; a refusal shows on the case page.
pub async fn draft(
    State(state): State<AppState>,
    ctx: Ctx,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiForm(f): ApiForm<DraftForm>,
) -> Response {
    let flash = |msg: String| Some(super::case::Flash::Error(msg));
    let Ok(kind) = f.kind.parse::<TemplateKind>() else {
        return super::case::render(
            &state,
            &ctx,
            &id,
            flash(format!(
                "unknown statement kind (one of {})",
                STATEMENT_KINDS.join(", ")
            )),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match state
        .store
        .comms()
        .draft_statement(&SubjectRef::case(&id), kind, None, &Actor(p.name))
        .await
    {
        Ok(st) => see_other(&format!("/statements/{}?done=drafted", st.id)),
        Err(e) => {
            let (msg, status) = refusal(e);
            super::case::render(&state, &ctx, &id, flash(msg), status).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use firewatch_comms::RuleId;

    fn f(rule: RuleId, severity: FindingSeverity, span: Option<(usize, usize)>) -> Finding {
        Finding {
            rule,
            severity,
            message: format!("{rule} says <b>"),
            span: span.map(|(start, end)| (start..end).into()),
        }
    }

    #[test]
    fn pieces_cover_the_text_and_split_at_every_span() {
        let text = "This is a voluntary recall.";
        let at = text.find("voluntary").unwrap();
        let fs = [f(
            RuleId::Minimising,
            FindingSeverity::Error,
            Some((at, at + 9)),
        )];
        let p = pieces(text, &fs);
        assert_eq!(p.iter().map(|p| p.text).collect::<String>(), text);
        assert_eq!(
            p,
            vec![
                Piece {
                    text: "This is a ",
                    findings: vec![]
                },
                Piece {
                    text: "voluntary",
                    findings: vec![0]
                },
                Piece {
                    text: " recall.",
                    findings: vec![]
                },
            ]
        );
        let html = highlight(text, &fs);
        assert!(
            html.contains(
                "<mark class=\"finding finding-error\" title=\"notice.minimising: notice.minimising says &lt;b&gt;\">voluntary</mark>"
            ),
            "{html}"
        );
    }

    #[test]
    fn overlapping_adjacent_and_bad_spans_give_flat_marks() {
        let text = "abcdefghij";
        let fs = [
            f(RuleId::Minimising, FindingSeverity::Warning, Some((2, 6))),
            f(RuleId::Jargon, FindingSeverity::Error, Some((4, 8))),
            // Adjacent to the second one.
            f(RuleId::Hazard, FindingSeverity::Warning, Some((8, 10))),
            // Out of range, empty, reversed, and no span at all: ignored in the text.
            f(RuleId::Contact, FindingSeverity::Error, Some((5, 99))),
            f(RuleId::Contact, FindingSeverity::Error, Some((3, 3))),
            f(RuleId::Contact, FindingSeverity::Error, Some((7, 1))),
            f(RuleId::Remedy, FindingSeverity::Error, None),
        ];
        let p = pieces(text, &fs);
        assert_eq!(p.iter().map(|p| p.text).collect::<String>(), text);
        let got: Vec<(&str, Vec<usize>)> = p.iter().map(|p| (p.text, p.findings.clone())).collect();
        assert_eq!(
            got,
            vec![
                ("ab", vec![]),
                ("cd", vec![0]),
                ("ef", vec![0, 1]),
                ("gh", vec![1]),
                ("ij", vec![2]),
            ]
        );
        let html = highlight(text, &fs);
        // Never nested: every <mark> closes before the next opens.
        assert_eq!(html.matches("<mark").count(), 4);
        assert!(!html.contains("<mark class=\"finding finding-warning\" title=\"notice.minimising: notice.minimising says &lt;b&gt;\">cd<mark"));
        assert!(html.contains("finding-error\" title=\"notice.minimising: notice.minimising says &lt;b&gt;\nnotice.jargon: notice.jargon says &lt;b&gt;\">ef</mark>"), "{html}");
        assert!(
            html.contains(
                "finding-warning\" title=\"notice.hazard: notice.hazard says &lt;b&gt;\">ij</mark>"
            ),
            "{html}"
        );
    }

    #[test]
    fn spans_off_a_character_boundary_are_ignored_and_multibyte_text_is_kept() {
        let text = "rappel précautionnaire ici";
        let at = text.find("précautionnaire").unwrap();
        let end = at + "précautionnaire".len();
        let fs = [
            f(RuleId::Minimising, FindingSeverity::Error, Some((at, end))),
            // Inside the two bytes of "é": ignored.
            f(
                RuleId::Jargon,
                FindingSeverity::Warning,
                Some((at + 2, at + 3)),
            ),
        ];
        let p = pieces(text, &fs);
        assert_eq!(p.iter().map(|p| p.text).collect::<String>(), text);
        assert_eq!(p[1].text, "précautionnaire");
        assert_eq!(p[1].findings, vec![0]);
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn hostile_bodies_come_out_escaped() {
        let text = "<script>alert('x')</script> & \"voluntary\" <img src=x onerror=alert(1)>";
        let at = text.find("voluntary").unwrap();
        let fs = [f(
            RuleId::Minimising,
            FindingSeverity::Warning,
            Some((at - 1, at + 10)),
        )];
        let html = highlight(text, &fs);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "));
        assert!(html.contains(">&quot;voluntary&quot;</mark>"), "{html}");
        // The only tags are the marks.
        let tags = html.matches('<').count();
        assert_eq!(tags, 2, "{html}");
        // No findings: the whole text, escaped.
        assert_eq!(
            highlight("<b>hi</b>", &[]),
            "&lt;b&gt;hi&lt;/b&gt;".to_string()
        );
    }
}
