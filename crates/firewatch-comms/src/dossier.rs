//! The printable case dossier: a [`DossierView`] (filled by the server from the store)
//! rendered to one HTML page with minijinja, HTML auto-escaping on. Narratives, notes and
//! statements are hostile input: everything is escaped, and the only markup added around
//! them is `<mark>` on the triage evidence spans. The page has no inline style: it links
//! its stylesheet ([`DOSSIER_CSS`], served by the server), so a CSP without
//! `'unsafe-inline'` holds.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

/// The dossier's stylesheet (screen and print).
pub const DOSSIER_CSS: &str = include_str!("../templates/dossier.css");
const DOSSIER_TEMPLATE: &str = include_str!("../templates/dossier.html.j2");

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DossierView {
    pub reference: String,
    pub title: String,
    pub status: String,
    pub severity: String,
    pub product: String,
    pub country: Option<String>,
    pub channel: String,
    pub assignee: Option<String>,
    pub created_at: String,
    pub hazards: Vec<String>,
    pub audit: AuditStatus,
    pub generated_at: String,
    pub generated_by: String,
    /// The URL of the stylesheet (e.g. `/static/dossier.css`).
    pub stylesheet: String,
    pub clocks: Vec<DossierClock>,
    pub reports: Vec<DossierReport>,
    pub remedies: Vec<DossierRemedy>,
    pub statements: Vec<DossierStatement>,
    pub notifications: Vec<DossierNotification>,
    pub timeline: Vec<TimelineEntry>,
}

/// The outcome of `audit verify` when the dossier was made.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AuditStatus {
    pub ok: bool,
    /// "verified, 1234 events" or what broke.
    pub summary: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DossierClock {
    pub name: String,
    pub kind: String,
    pub state: String,
    pub started_at: String,
    pub deadline: Option<String>,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DossierReport {
    pub id: String,
    pub received_at: String,
    pub channel: String,
    pub language: Option<String>,
    pub country: Option<String>,
    pub injuries: String,
    /// The narrative cut at the evidence spans (see [`narrative_segments`]).
    pub segments: Vec<Segment>,
    pub hazards: Vec<EvidenceHazard>,
    pub photos: Vec<Photo>,
}

/// A piece of a narrative; `mark` = triage evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub text: String,
    pub mark: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EvidenceHazard {
    pub code: String,
    pub modality: String,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Photo {
    pub url: String,
    pub caption: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DossierRemedy {
    pub kind: String,
    pub customer_pays_percent: u8,
    pub status: String,
    pub proposed_by: String,
    /// "approved by hana (hq): reason"
    pub decisions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DossierStatement {
    pub kind: String,
    pub lang: String,
    pub status: String,
    pub version: i64,
    pub published_at: Option<String>,
    pub published_by: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DossierNotification {
    pub regulator: String,
    pub reference: String,
    pub submitted_at: String,
    pub submitted_by: String,
    pub clocks_stopped: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub summary: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("dossier could not be rendered: {0}")]
pub struct DossierError(String);

/// Cuts `text` at the given byte spans (triage evidence): marked and unmarked pieces in
/// order. Spans out of bounds, not on character boundaries, or overlapping an earlier one
/// are ignored, so bad offsets can never split a character or duplicate text.
pub fn narrative_segments(text: &str, spans: &[(usize, usize)]) -> Vec<Segment> {
    let mut spans: Vec<(usize, usize)> = spans
        .iter()
        .copied()
        .filter(|&(s, e)| {
            s < e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e)
        })
        .collect();
    spans.sort();
    let mut out = Vec::new();
    let mut at = 0;
    for (s, e) in spans {
        if s < at {
            continue;
        }
        if s > at {
            out.push(Segment {
                text: text[at..s].to_string(),
                mark: false,
            });
        }
        out.push(Segment {
            text: text[s..e].to_string(),
            mark: true,
        });
        at = e;
    }
    if at < text.len() {
        out.push(Segment {
            text: text[at..].to_string(),
            mark: false,
        });
    }
    out
}

/// Renders the dossier as one HTML page (every value escaped).
pub fn render_dossier(view: &DossierView) -> Result<String, DossierError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| DossierError(e.to_string()))?,
    );
    env.add_template("dossier.html", DOSSIER_TEMPLATE)
        .map_err(|e| DossierError(e.to_string()))?;
    env.get_template("dossier.html")
        .and_then(|t| t.render(minijinja::Value::from(minijinja::value::Serde(view))))
        .map_err(|e| DossierError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> DossierView {
        DossierView {
            reference: "FW-000001".into(),
            title: "<script>alert(1)</script> phone exploded".into(),
            status: "new".into(),
            severity: "S1".into(),
            product: "Acme X1".into(),
            country: Some("FR".into()),
            channel: "web".into(),
            assignee: None,
            created_at: "2026-03-01T10:00:00Z".into(),
            hazards: vec!["thermal.explosion".into()],
            audit: AuditStatus {
                ok: true,
                summary: "verified, 12 events".into(),
            },
            generated_at: "2026-03-02T10:00:00Z".into(),
            generated_by: "hana".into(),
            stylesheet: "/static/dossier.css".into(),
            clocks: vec![DossierClock {
                name: "regulator_report".into(),
                kind: "regulator".into(),
                state: "stopped".into(),
                started_at: "2026-03-01T10:00:00Z".into(),
                deadline: None,
                reference: Some("GPSR Art. 20".into()),
            }],
            reports: vec![DossierReport {
                id: "r1".into(),
                received_at: "2026-03-01T10:00:00Z".into(),
                channel: "web".into(),
                language: Some("en".into()),
                country: None,
                injuries: "none".into(),
                segments: narrative_segments(
                    "It exploded <script>steal()</script> & burned",
                    &[(3, 11)],
                ),
                hazards: vec![EvidenceHazard {
                    code: "thermal.explosion".into(),
                    modality: "occurred".into(),
                    evidence: vec!["exploded".into()],
                }],
                photos: vec![Photo {
                    url: "/api/v1/attachments/a1".into(),
                    caption: "photo \"1\"".into(),
                }],
            }],
            remedies: vec![],
            statements: vec![DossierStatement {
                kind: "recall_notice".into(),
                lang: "en".into(),
                status: "published".into(),
                version: 2,
                published_at: Some("2026-03-02T09:00:00Z".into()),
                published_by: Some("pat".into()),
                body: "Product safety recall <img src=x onerror=alert(1)>".into(),
            }],
            notifications: vec![],
            timeline: vec![TimelineEntry {
                seq: 1,
                at: "2026-03-01T10:00:00Z".into(),
                actor: "public".into(),
                kind: "report.received".into(),
                summary: Some("</li><script>x()</script>".into()),
            }],
        }
    }

    #[test]
    fn hostile_text_comes_out_as_text() {
        let html = render_dossier(&view()).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(
            html.contains("&lt;script&gt;steal()&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
        assert!(html.contains("&amp; burned"), "{html}");
        // Evidence is marked, and the only <img> is the photo.
        assert!(html.contains("<mark>exploded</mark>"), "{html}");
        assert_eq!(html.matches("<img ").count(), 1);
        assert!(html.contains("alt=\"photo &quot;1&quot;\""), "{html}");
    }

    #[test]
    fn no_inline_style_and_a_linked_stylesheet() {
        let html = render_dossier(&view()).unwrap();
        assert!(!html.contains("<style"), "{html}");
        assert!(!html.contains("style="), "{html}");
        assert!(
            html.contains("<link rel=\"stylesheet\" href=\"&#x2f;static&#x2f;dossier.css\">")
                || html.contains("<link rel=\"stylesheet\" href=\"/static/dossier.css\">"),
            "{html}"
        );
        assert!(DOSSIER_CSS.contains("@media print"));
    }

    #[test]
    fn sections_show_clocks_audit_and_statements() {
        let html = render_dossier(&view()).unwrap();
        assert!(html.contains("Audit log: verified, 12 events"), "{html}");
        assert!(html.contains("class=\"audit audit-ok\""), "{html}");
        assert!(html.contains("<td>regulator_report</td>"), "{html}");
        assert!(html.contains("version 2"), "{html}");
        let mut broken = view();
        broken.audit = AuditStatus {
            ok: false,
            summary: "broken at event 7".into(),
        };
        let html = render_dossier(&broken).unwrap();
        assert!(html.contains("audit-broken"), "{html}");
    }

    #[test]
    fn segments_ignore_bad_spans() {
        let t = "héllo wörld";
        // 2 is inside "é"; 40 is out of bounds; (0,5) overlaps (1,3) once sorted.
        let s = narrative_segments(t, &[(2, 4), (0, 40), (7, 13), (0, 6), (1, 3)]);
        let joined: String = s.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(joined, t);
        assert_eq!(
            s.iter()
                .filter(|x| x.mark)
                .map(|x| x.text.as_str())
                .collect::<Vec<_>>(),
            vec!["héllo", "wörld"]
        );
    }
}
