//! The recall-notice checker, in the spirit of GPSR Art. 36 (Regulation (EU) 2023/988) and
//! the template of Implementing Regulation (EU) 2024/1435.
//!
//! Every finding carries a stable rule id, a severity, a plain message and, where the finding
//! is about a piece of the text, the byte span of that piece in the ORIGINAL text (so the UI
//! can highlight it in place). Findings about something missing have no span.

use crate::fold::{Folded, PhraseSet};
use crate::rules::{Compiled, compiled, rules};
use crate::{CaseContext, Lang, SignalContext};
use firewatch_domain::HazardCode;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The facts a notice must reflect: who/what it is about. Build it from a case or a signal
/// with `From`, or by hand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeFacts {
    pub brand: String,
    pub model: String,
    #[serde(default)]
    pub batches: Vec<String>,
    #[serde(default)]
    pub serials: Vec<String>,
    pub gtin: Option<String>,
    /// A picture published with the notice (the UI shows it): satisfies the picture rule.
    pub picture_url: Option<String>,
    /// The hazards the notice must describe; empty means "any hazard word will do".
    #[serde(default)]
    pub hazards: Vec<HazardCode>,
}

impl From<&CaseContext> for NoticeFacts {
    fn from(c: &CaseContext) -> Self {
        NoticeFacts {
            brand: c.product.brand.clone(),
            model: c.product.model.clone(),
            batches: c.product.batches.clone(),
            serials: c.product.serials.clone(),
            gtin: c.product.gtin.clone(),
            picture_url: c.product.picture_url.clone(),
            hazards: c.hazards.clone(),
        }
    }
}

impl From<&SignalContext> for NoticeFacts {
    fn from(s: &SignalContext) -> Self {
        NoticeFacts {
            brand: s.product.brand.clone(),
            model: s.product.model.clone(),
            batches: s.product.batches.clone(),
            serials: s.product.serials.clone(),
            gtin: s.product.gtin.clone(),
            picture_url: s.product.picture_url.clone(),
            hazards: s.hazards.clone(),
        }
    }
}

/// The checker's rules. The string form (`notice.heading`, ...) is the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RuleId {
    /// Unsupported language: the text was checked with the English lists.
    #[serde(rename = "notice.language")]
    Language,
    #[serde(rename = "notice.heading")]
    Heading,
    #[serde(rename = "notice.product")]
    Product,
    #[serde(rename = "notice.identifier")]
    Identifier,
    #[serde(rename = "notice.picture")]
    Picture,
    #[serde(rename = "notice.hazard")]
    Hazard,
    #[serde(rename = "notice.jargon")]
    Jargon,
    #[serde(rename = "notice.stop_using")]
    StopUsing,
    #[serde(rename = "notice.remedy")]
    Remedy,
    #[serde(rename = "notice.remedy_free")]
    RemedyFree,
    #[serde(rename = "notice.remedy_cost")]
    RemedyCost,
    #[serde(rename = "notice.contact")]
    Contact,
    #[serde(rename = "notice.minimising")]
    Minimising,
}

impl RuleId {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::Language => "notice.language",
            RuleId::Heading => "notice.heading",
            RuleId::Product => "notice.product",
            RuleId::Identifier => "notice.identifier",
            RuleId::Picture => "notice.picture",
            RuleId::Hazard => "notice.hazard",
            RuleId::Jargon => "notice.jargon",
            RuleId::StopUsing => "notice.stop_using",
            RuleId::Remedy => "notice.remedy",
            RuleId::RemedyFree => "notice.remedy_free",
            RuleId::RemedyCost => "notice.remedy_cost",
            RuleId::Contact => "notice.contact",
            RuleId::Minimising => "notice.minimising",
        }
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingSeverity {
    /// The notice must not be published as it is.
    Error,
    /// Worth a second look.
    Warning,
}

/// A byte range `start..end` of the checked text (UTF-8 boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl From<std::ops::Range<usize>> for Span {
    fn from(r: std::ops::Range<usize>) -> Self {
        Span {
            start: r.start,
            end: r.end,
        }
    }
}

/// One problem found in a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: FindingSeverity,
    /// Plain English; the UI may translate by rule id.
    pub message: String,
    /// Where in the text; `None` when the finding is about something missing.
    pub span: Option<Span>,
}

fn finding(
    rule: RuleId,
    severity: FindingSeverity,
    message: String,
    span: Option<Span>,
) -> Finding {
    Finding {
        rule,
        severity,
        message,
        span,
    }
}

/// Words that make the risk sound smaller, in `lang` (English lists for an unsupported
/// language). Also useful on public statements.
pub fn find_minimising_language(text: &str, lang: &str) -> Vec<Finding> {
    let lang = Lang::from_tag(lang).unwrap_or(Lang::En);
    minimising(text, &Folded::new(text), compiled(lang))
}

fn minimising(text: &str, folded: &Folded, c: &Compiled) -> Vec<Finding> {
    c.minimising
        .find(folded)
        .into_iter()
        .map(|h| {
            finding(
                RuleId::Minimising,
                FindingSeverity::Error,
                format!(
                    "\u{201c}{}\u{201d} makes the risk sound smaller; GPSR Art. 36 forbids such wording in a recall notice. State the risk plainly.",
                    &text[h.span.clone()]
                ),
                Some(h.span.into()),
            )
        })
        .collect()
}

/// Checks a recall notice written in `lang` (a BCP 47 tag) against `facts`. Findings are
/// ordered by position (those without a span first), then by rule.
pub fn check_recall_notice(text: &str, lang: &str, facts: &NoticeFacts) -> Vec<Finding> {
    use FindingSeverity::{Error, Warning};
    let mut out = Vec::new();
    let lang = match Lang::from_tag(lang) {
        Some(l) => l,
        None => {
            out.push(finding(
                RuleId::Language,
                Warning,
                format!("no checker rules for language `{lang}`; checked with the English rules"),
                None,
            ));
            Lang::En
        }
    };
    let r = rules(lang);
    let c = compiled(lang);
    let folded = Folded::new(text);

    // heading: on the first non-blank line
    let first_line = text
        .split_inclusive('\n')
        .scan(0usize, |pos, line| {
            let start = *pos;
            *pos += line.len();
            Some((start, line))
        })
        .find(|(_, l)| !l.trim().is_empty())
        .map(|(start, l)| {
            let lead = l.len() - l.trim_start().len();
            let s = start + lead;
            s..s + l.trim().len()
        });
    let heading_hits = c.headings.find(&folded);
    let on_first = first_line.as_ref().is_some_and(|fl| {
        heading_hits
            .iter()
            .any(|h| h.span.start >= fl.start && h.span.end <= fl.end)
    });
    if !on_first {
        let accepted = r.headings.join("\u{201d}, \u{201c}");
        match heading_hits.first() {
            Some(h) => out.push(finding(
                RuleId::Heading,
                Error,
                format!("the heading must be the notice's first line (accepted: \u{201c}{accepted}\u{201d})"),
                Some(h.span.clone().into()),
            )),
            None => out.push(finding(
                RuleId::Heading,
                Error,
                format!("the notice must be headed \u{201c}{accepted}\u{201d}"),
                first_line.map(Span::from),
            )),
        }
    }

    // product: brand, model, identifiers
    for (what, value) in [("brand", &facts.brand), ("model", &facts.model)] {
        if !value.trim().is_empty() && !PhraseSet::literals(&[value.as_str()]).is_found_in(&folded)
        {
            out.push(finding(
                RuleId::Product,
                Error,
                format!(
                    "the notice does not name the product's {what} \u{201c}{}\u{201d}",
                    value.trim()
                ),
                None,
            ));
        }
    }
    let identifiers: Vec<(&str, &String)> = facts
        .batches
        .iter()
        .map(|b| ("batch", b))
        .chain(facts.serials.iter().map(|s| ("serial number", s)))
        .chain(facts.gtin.iter().map(|g| ("GTIN", g)))
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    if identifiers.is_empty() {
        out.push(finding(
            RuleId::Identifier,
            Warning,
            "no batch, serial number or GTIN is known for this product: consumers need one to tell whether theirs is affected".into(),
            None,
        ));
    }
    for (what, value) in identifiers {
        if !PhraseSet::literals(&[value.as_str()]).is_found_in(&folded) {
            out.push(finding(
                RuleId::Identifier,
                Error,
                format!(
                    "the notice does not give the {what} \u{201c}{}\u{201d}",
                    value.trim()
                ),
                None,
            ));
        }
    }

    // picture
    let has_picture = facts
        .picture_url
        .as_deref()
        .is_some_and(|u| !u.trim().is_empty())
        || has_image_reference(&folded.text);
    if !has_picture {
        out.push(finding(
            RuleId::Picture,
            Error,
            "the notice has no picture of the product (attach one or reference an image)".into(),
            None,
        ));
    }

    // hazard, described plainly
    let codes: Vec<HazardCode> = if facts.hazards.is_empty() {
        HazardCode::ALL.to_vec()
    } else {
        facts.hazards.clone()
    };
    let described: Vec<(HazardCode, bool)> = codes
        .iter()
        .map(|code| (*code, c.hazard(*code).is_found_in(&folded)))
        .collect();
    if !described.iter().any(|(_, d)| *d) {
        out.push(finding(
            RuleId::Hazard,
            Error,
            "the notice does not describe the hazard in plain words (fire, burn, electric shock...)".into(),
            None,
        ));
    } else if !facts.hazards.is_empty() {
        for (code, d) in described {
            if !d {
                out.push(finding(
                    RuleId::Hazard,
                    Warning,
                    format!(
                        "the hazard {code} ({}) is not described",
                        crate::vocab::hazard_label(code, lang)
                    ),
                    None,
                ));
            }
        }
    }
    for h in c.jargon.find(&folded) {
        out.push(finding(
            RuleId::Jargon,
            Warning,
            format!(
                "\u{201c}{}\u{201d} is technical wording; say what can happen to the consumer (fire, burns, electric shock...)",
                &text[h.span.clone()]
            ),
            Some(h.span.into()),
        ));
    }

    // what to do
    if !c.stop_using.is_found_in(&folded) {
        out.push(finding(
            RuleId::StopUsing,
            Error,
            "the notice must ask consumers to stop using the product".into(),
            None,
        ));
    }

    // remedy, cost-free
    if !c.remedy.is_found_in(&folded) {
        out.push(finding(
            RuleId::Remedy,
            Error,
            "the notice must state the remedy (refund, replacement or repair)".into(),
            None,
        ));
    }
    if !c.free.is_found_in(&folded) {
        out.push(finding(
            RuleId::RemedyFree,
            Warning,
            "the notice does not say that the remedy is free of charge".into(),
            None,
        ));
    }
    for h in c.cost.find(&folded) {
        if cost_is_waived(&folded, h.folded.clone(), &c.cost_negators, &c.cost_waivers) {
            continue;
        }
        out.push(finding(
            RuleId::RemedyCost,
            Error,
            format!(
                "\u{201c}{}\u{201d} puts a cost on the consumer; a safety remedy must be entirely free of charge",
                &text[h.span.clone()]
            ),
            Some(h.span.into()),
        ));
    }

    // contact
    let ident_digits: Vec<String> = facts
        .batches
        .iter()
        .chain(&facts.serials)
        .chain(&facts.gtin)
        .map(|v| v.chars().filter(char::is_ascii_digit).collect())
        .collect();
    if !has_contact(&folded.text, &ident_digits) {
        out.push(finding(
            RuleId::Contact,
            Error,
            "the notice gives no contact (phone number, e-mail address or web address)".into(),
            None,
        ));
    }

    out.extend(minimising(text, &folded, c));
    out.sort_by_key(|f| (f.span.map(|s| (1, s.start)).unwrap_or((0, 0)), f.rule));
    out
}

/// A cost phrase is waived when a negator is one of the two words before it ("no shipping
/// fee", "without any shipping fee", "sans frais de port") or a waiver follows it within the
/// same sentence and eight words ("frais de port offerts", "Versandkosten übernehmen wir").
fn cost_is_waived(
    folded: &Folded,
    hit: std::ops::Range<usize>,
    negators: &PhraseSet,
    waivers: &PhraseSet,
) -> bool {
    let t = &folded.text;
    // look at most WINDOW bytes either side, so that a long text with many hits stays linear
    const WINDOW: usize = 240;
    let mut from = hit.start.saturating_sub(WINDOW);
    while !t.is_char_boundary(from) {
        from += 1;
    }
    let mut to = (hit.end + WINDOW).min(t.len());
    while !t.is_char_boundary(to) {
        to -= 1;
    }
    let before_text = &t[from..hit.start];
    let sentence_start = before_text
        .rfind(['.', '!', '?', ';', ':'])
        .map(|i| i + 1)
        .unwrap_or(0);
    let before: Vec<&str> = before_text[sentence_start..].split_whitespace().collect();
    let last_two = before[before.len().saturating_sub(2)..].join(" ");
    if negators.is_found_in(&Folded::new(&last_two)) {
        return true;
    }
    let rest = &t[hit.end..to];
    let sentence_end = rest.find(['.', '!', '?', ';']).unwrap_or(rest.len());
    let after: Vec<&str> = rest[..sentence_end].split_whitespace().take(8).collect();
    waivers.is_found_in(&Folded::new(&after.join(" ")))
}

const IMAGE_EXTS: [&str; 6] = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif"];

fn is_image_path(tok: &str) -> bool {
    let tok = tok.trim_end_matches(['.', ',', ';']);
    let path = tok.split(['?', '#']).next().unwrap_or(tok).to_lowercase();
    IMAGE_EXTS.iter().any(|e| path.ends_with(e))
}

fn has_image_reference(folded: &str) -> bool {
    folded.contains("![") || folded.contains("<img") || {
        folded
            .split(|c: char| {
                c.is_whitespace() || c == ')' || c == '(' || c == '"' || c == '<' || c == '>'
            })
            .any(is_image_path)
    }
}

fn has_contact(folded: &str, identifiers: &[String]) -> bool {
    let tokens =
        folded.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '<' | '>' | ',' | ';'));
    for tok in tokens {
        let tok = tok.trim_matches(|c: char| matches!(c, '.' | ':' | '"' | '\''));
        let is_url =
            tok.starts_with("http://") || tok.starts_with("https://") || tok.starts_with("www.");
        // a picture's address is not a way to contact anyone
        if is_url && !is_image_path(tok) {
            return true;
        }
        if let Some((user, domain)) = tok.split_once('@')
            && !user.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
        {
            return true;
        }
    }
    phone_candidates(folded)
        .into_iter()
        .any(|(raw, digits)| !looks_like_date(&raw) && !identifiers.contains(&digits))
}

/// Runs of digits and phone separators (optionally led by `+`) holding 8 to 15 digits, as
/// whole words (a run glued to letters, as in a serial number `VPB20K2405000001`, is not
/// one): (the run as written, its digits).
fn phone_candidates(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut run = String::new();
    let mut glued = false;
    let mut prev: Option<char> = None;
    let mut prev2: Option<char> = None;
    let flush = |run: &mut String, glued: bool, out: &mut Vec<(String, String)>| {
        let trimmed = run
            .trim_matches(|c: char| !c.is_ascii_digit() && c != '+')
            .to_string();
        let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
        if !glued && (8..=15).contains(&digits.len()) {
            out.push((trimmed, digits));
        }
        run.clear();
    };
    for c in text.chars() {
        let starts = run.is_empty();
        let part = c.is_ascii_digit()
            || (c == '+' && starts)
            || (!starts && matches!(c, ' ' | '.' | '-' | '/' | '(' | ')'));
        if part {
            if starts {
                // `K2405...` or `SIG-2026-0042`: part of a code, not a number on its own
                glued = prev.is_some_and(char::is_alphanumeric)
                    || (matches!(prev, Some('-' | '/' | '.' | '_'))
                        && prev2.is_some_and(char::is_alphabetic));
            }
            run.push(c);
        } else if !run.is_empty() {
            // a letter right after the digits glues them to a word
            let last_is_digit = run.ends_with(|d: char| d.is_ascii_digit());
            flush(
                &mut run,
                glued || (last_is_digit && c.is_alphanumeric()),
                &mut out,
            );
        }
        prev2 = prev;
        prev = Some(c);
    }
    flush(&mut run, glued, &mut out);
    out
}

/// `2026-11-20`, `20.11.2026`, `20/11/2026`: eight digits in date shape.
fn looks_like_date(raw: &str) -> bool {
    let groups: Vec<usize> = raw.split(['-', '.', '/']).map(|g| g.trim().len()).collect();
    matches!(groups.as_slice(), [4, 2, 2] | [2, 2, 4] | [1 | 2, 1 | 2, 4])
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | '/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::expand;

    /// Every alternative of every minimising pattern, written as listed (with its accents),
    /// inside a sentence, is flagged with exactly its own span.
    #[test]
    fn every_listed_minimising_phrase_is_flagged_with_its_exact_span() {
        let mut checked = 0;
        for lang in Lang::ALL {
            for pattern in rules(lang).minimising {
                for alt in expand(pattern) {
                    let phrase = alt.trim_end_matches('*');
                    let text = format!("Xx. {phrase} yy.");
                    let found = find_minimising_language(&text, lang.as_str());
                    let want = Span {
                        start: 4,
                        end: 4 + phrase.len(),
                    };
                    assert_eq!(
                        found.iter().map(|f| f.span).collect::<Vec<_>>(),
                        vec![Some(want)],
                        "{lang}: `{phrase}` from `{pattern}`"
                    );
                    assert_eq!(found[0].rule, RuleId::Minimising);
                    checked += 1;
                }
            }
        }
        assert!(checked > 300, "only {checked} phrases checked");
    }

    #[test]
    fn every_listed_cost_phrase_is_flagged_unless_negated() {
        let facts = NoticeFacts::default();
        for lang in Lang::ALL {
            let r = rules(lang);
            for pattern in r.cost {
                for alt in expand(pattern) {
                    let phrase = alt.trim_end_matches('*');
                    let text = format!("Xx. {phrase} yy.");
                    let costs: Vec<Option<Span>> =
                        check_recall_notice(&text, lang.as_str(), &facts)
                            .into_iter()
                            .filter(|f| f.rule == RuleId::RemedyCost)
                            .map(|f| f.span)
                            .collect();
                    assert_eq!(
                        costs,
                        vec![Some(Span {
                            start: 4,
                            end: 4 + phrase.len()
                        })],
                        "{lang}: `{phrase}`"
                    );
                    let negator = r.cost_negators[0];
                    let negated = format!("Xx {negator} {phrase} yy.");
                    assert!(
                        !check_recall_notice(&negated, lang.as_str(), &facts)
                            .iter()
                            .any(|f| f.rule == RuleId::RemedyCost),
                        "{lang}: `{negated}` should not be flagged"
                    );
                }
            }
        }
    }

    #[test]
    fn every_accepted_heading_satisfies_the_heading_rule_on_the_first_line() {
        for lang in Lang::ALL {
            for heading in rules(lang).headings {
                let text = format!("\n  {}\nrest", heading.to_uppercase());
                let findings = check_recall_notice(&text, lang.as_str(), &NoticeFacts::default());
                assert!(
                    !findings.iter().any(|f| f.rule == RuleId::Heading),
                    "{lang}: `{heading}` refused: {findings:?}"
                );
            }
        }
    }

    #[test]
    fn a_contact_is_an_email_a_url_or_a_phone_number_but_not_a_date_or_an_identifier() {
        let ids = vec!["3700000000017".to_string()];
        assert!(has_contact("write to recall@voltra.example.", &ids));
        assert!(has_contact("see https://voltra.example/recall", &ids));
        assert!(!has_contact("photo https://voltra.example/p.JPG", &ids));
        assert!(has_contact("call 0 800 123 456", &ids));
        assert!(has_contact("tél. : 0692671446", &ids));
        assert!(has_contact("+33 (0)1 23 45 67 89", &ids));
        assert!(!has_contact("sold until 2026-11-20 or 20.11.2026", &ids));
        assert!(!has_contact("gtin 3700000000017", &ids));
        assert!(!has_contact("nothing here, 12 34", &ids));
        assert!(!has_contact(
            "serials VPB20K2405000001 to VPB20K2406099999",
            &ids
        ));
        assert!(!has_contact("lot 2405000001X", &ids));
        assert!(!has_contact("reference sig-2026-0042", &ids));
    }

    #[test]
    fn an_image_reference_is_markdown_html_or_an_image_file() {
        assert!(has_image_reference("![pb](x)"));
        assert!(has_image_reference("<img src=a>"));
        assert!(has_image_reference("photo: https://a.example/p.jpg?x=1."));
        assert!(!has_image_reference("see https://a.example/page.html"));
    }
}
