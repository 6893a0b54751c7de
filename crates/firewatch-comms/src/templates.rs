//! The template registry: built-in defaults per (kind, language), editable at run time, all
//! rendered with minijinja in a sandbox.
//!
//! The sandbox: no loader and no `include`/`import`/`extends` (minijinja is built without
//! `multi_template`, so those tags are syntax errors), no filesystem or network access at
//! all, a fuel budget per render (every instruction and every byte produced costs fuel), a
//! recursion limit, a cap on the template's size and a cap on the output's size (writing
//! past it fails the render). Undefined variables are errors, and printing a `none` value is
//! an error, so a typo or an unguarded optional field is caught when the template is set
//! rather than published as "none".

use crate::context::{Subject, View, sample_case, sample_signal, sparse_case};
use crate::{Lang, SignalContext};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::str::FromStr;

/// What a template produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// A reply to the customer of a case.
    CustomerReply,
    /// A public statement about a case or signal.
    PublicStatement,
    /// A recall notice (checked by [`crate::check_recall_notice`]).
    RecallNotice,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 3] = [
        TemplateKind::CustomerReply,
        TemplateKind::PublicStatement,
        TemplateKind::RecallNotice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::CustomerReply => "customer_reply",
            TemplateKind::PublicStatement => "public_statement",
            TemplateKind::RecallNotice => "recall_notice",
        }
    }
}

impl fmt::Display for TemplateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TemplateKind {
    type Err = TemplateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TemplateKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| TemplateError::UnknownKind(s.to_string()))
    }
}

/// Bounds on every template and every render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// minijinja fuel per render: one unit per instruction, 1/64 unit per byte produced.
    pub fuel: u64,
    /// Largest template source accepted, in bytes.
    pub max_source_bytes: usize,
    /// Largest rendered output, in bytes.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 50_000,
            max_source_bytes: 32 * 1024,
            max_output_bytes: 64 * 1024,
        }
    }
}

/// Why a template was refused or a render failed. Every variant that concerns a template
/// names it (`recall_notice.fr`) and, where minijinja knows it, the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown template kind `{0}` (expected customer_reply|public_statement|recall_notice)")]
    UnknownKind(String),
    #[error(transparent)]
    UnsupportedLang(#[from] crate::lang::UnsupportedLang),
    #[error("no `{name}` template, and no English one to fall back to")]
    NotFound { name: String },
    #[error("template `{name}` is {len} bytes; the limit is {max}")]
    SourceTooLarge {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("template `{name}`{}: syntax error: {message}", at_line(*line))]
    Syntax {
        name: String,
        line: Option<usize>,
        message: String,
    },
    #[error("template `{name}`{}: ran out of fuel (a loop too long or output too big for the budget of {fuel})", at_line(*line))]
    OutOfFuel {
        name: String,
        line: Option<usize>,
        fuel: u64,
    },
    #[error("template `{name}`: output exceeds {max} bytes")]
    OutputTooLarge { name: String, max: usize },
    #[error("template `{name}`{}: {message}", at_line(*line))]
    Render {
        name: String,
        line: Option<usize>,
        message: String,
    },
}

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

impl TemplateError {
    /// The template's name (`kind.lang`), when the error concerns one.
    pub fn template(&self) -> Option<&str> {
        match self {
            TemplateError::NotFound { name }
            | TemplateError::SourceTooLarge { name, .. }
            | TemplateError::Syntax { name, .. }
            | TemplateError::OutOfFuel { name, .. }
            | TemplateError::OutputTooLarge { name, .. }
            | TemplateError::Render { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The line in the template, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            TemplateError::Syntax { line, .. }
            | TemplateError::OutOfFuel { line, .. }
            | TemplateError::Render { line, .. } => *line,
            _ => None,
        }
    }
}

/// A rendered template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub kind: TemplateKind,
    /// The language of the template used.
    pub lang: Lang,
    /// True when no template existed in the asked language and English was used.
    pub fell_back: bool,
    pub text: String,
}

/// One entry of the registry, for admin listings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateEntry<'a> {
    pub kind: TemplateKind,
    pub lang: Lang,
    pub source: &'a str,
    /// False once an admin has replaced the built-in default.
    pub builtin: bool,
}

/// The built-in default template for (kind, lang), if there is one.
pub fn builtin_template(kind: TemplateKind, lang: Lang) -> Option<&'static str> {
    use TemplateKind::*;
    Some(match (kind, lang) {
        (CustomerReply, Lang::En) => include_str!("../templates/customer_reply.en.j2"),
        (CustomerReply, Lang::Fr) => include_str!("../templates/customer_reply.fr.j2"),
        (CustomerReply, Lang::De) => include_str!("../templates/customer_reply.de.j2"),
        (CustomerReply, Lang::Es) => include_str!("../templates/customer_reply.es.j2"),
        (PublicStatement, Lang::En) => include_str!("../templates/public_statement.en.j2"),
        (PublicStatement, Lang::Fr) => include_str!("../templates/public_statement.fr.j2"),
        (PublicStatement, Lang::De) => include_str!("../templates/public_statement.de.j2"),
        (PublicStatement, Lang::Es) => include_str!("../templates/public_statement.es.j2"),
        (RecallNotice, Lang::En) => include_str!("../templates/recall_notice.en.j2"),
        (RecallNotice, Lang::Fr) => include_str!("../templates/recall_notice.fr.j2"),
        (RecallNotice, Lang::De) => include_str!("../templates/recall_notice.de.j2"),
        (RecallNotice, Lang::Es) => include_str!("../templates/recall_notice.es.j2"),
        _ => return None,
    })
}

#[derive(Debug, Clone)]
struct Source {
    text: String,
    builtin: bool,
}

/// The template registry. Cheap to clone; the server keeps one behind a lock and calls
/// [`Templates::set`] when an admin saves a template (recording the edit in the audit log
/// is the caller's job).
#[derive(Clone)]
pub struct Templates {
    sources: BTreeMap<(TemplateKind, Lang), Source>,
    limits: Limits,
    env: Environment<'static>,
}

impl fmt::Debug for Templates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Templates")
            .field("templates", &self.sources.keys().collect::<Vec<_>>())
            .field("limits", &self.limits)
            .finish()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

fn name_of(kind: TemplateKind, lang: Lang) -> String {
    format!("{}.{}", kind.as_str(), lang.as_str())
}

fn sandbox(limits: Limits) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(limits.fuel));
    env.set_recursion_limit(64);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .unwrap_or_default(),
    );
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "printing an empty value (none); guard optional fields with {% if ... %}",
            ));
        }
        minijinja::escape_formatter(out, state, value)
    });
    env
}

/// An `io::Write` that refuses to grow past `max` bytes.
struct Capped {
    buf: Vec<u8>,
    max: usize,
    overflowed: bool,
}

impl io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.max {
            self.overflowed = true;
            return Err(io::Error::other("output size cap reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Templates {
    /// The registry with every built-in default and the default [`Limits`].
    pub fn new() -> Templates {
        Templates::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Templates {
        let mut sources = BTreeMap::new();
        for kind in TemplateKind::ALL {
            for lang in Lang::ALL {
                if let Some(text) = builtin_template(kind, lang) {
                    sources.insert(
                        (kind, lang),
                        Source {
                            text: text.to_string(),
                            builtin: true,
                        },
                    );
                }
            }
        }
        Templates {
            sources,
            limits,
            env: sandbox(limits),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces the template for (kind, lang) after checking it: within the size cap, it
    /// compiles, and it renders within the limits against the sample case, a sparse case
    /// (every optional field empty) and, except for customer replies, the sample signal.
    /// On error the registry is unchanged.
    pub fn set(
        &mut self,
        kind: TemplateKind,
        lang: &str,
        source: &str,
    ) -> Result<(), TemplateError> {
        let lang: Lang = lang.parse()?;
        self.validate(kind, lang, source)?;
        self.sources.insert(
            (kind, lang),
            Source {
                text: source.to_string(),
                builtin: false,
            },
        );
        Ok(())
    }

    /// Checks a source as [`Templates::set`] would, without storing it.
    pub fn validate(
        &self,
        kind: TemplateKind,
        lang: Lang,
        source: &str,
    ) -> Result<(), TemplateError> {
        let name = name_of(kind, lang);
        let case = sample_case();
        let sparse = sparse_case();
        self.render_source(&name, source, Subject::Case(&case), lang)?;
        self.render_source(&name, source, Subject::Case(&sparse), lang)?;
        if kind != TemplateKind::CustomerReply {
            let signal: SignalContext = sample_signal();
            self.render_source(&name, source, Subject::Signal(&signal), lang)?;
        }
        Ok(())
    }

    /// Restores the built-in default for (kind, lang), or removes an admin-added template
    /// where there is no built-in one.
    pub fn reset(&mut self, kind: TemplateKind, lang: Lang) {
        match builtin_template(kind, lang) {
            Some(text) => {
                self.sources.insert(
                    (kind, lang),
                    Source {
                        text: text.to_string(),
                        builtin: true,
                    },
                );
            }
            None => {
                self.sources.remove(&(kind, lang));
            }
        }
    }

    /// The current source for exactly (kind, lang).
    pub fn get(&self, kind: TemplateKind, lang: Lang) -> Option<&str> {
        self.sources.get(&(kind, lang)).map(|s| s.text.as_str())
    }

    /// Every template, ordered by kind then language.
    pub fn entries(&self) -> impl Iterator<Item = TemplateEntry<'_>> {
        self.sources.iter().map(|((kind, lang), s)| TemplateEntry {
            kind: *kind,
            lang: *lang,
            source: &s.text,
            builtin: s.builtin,
        })
    }

    /// Renders (kind, lang) for a case or a signal. `lang` is a BCP 47 tag (the report's
    /// language); when no template exists in it (or it is not a supported language), the
    /// English one is used and `fell_back` is set.
    pub fn render<'a>(
        &self,
        kind: TemplateKind,
        lang: &str,
        subject: impl Into<Subject<'a>>,
    ) -> Result<Rendered, TemplateError> {
        let wanted = Lang::from_tag(lang);
        let (used, source) = match wanted.and_then(|l| self.sources.get(&(kind, l)).map(|s| (l, s)))
        {
            Some(found) => found,
            None => match self.sources.get(&(kind, Lang::En)) {
                Some(s) => (Lang::En, s),
                None => {
                    return Err(TemplateError::NotFound {
                        name: format!("{}.{}", kind.as_str(), lang),
                    });
                }
            },
        };
        let name = name_of(kind, used);
        let text = self.render_source(&name, &source.text, subject.into(), used)?;
        Ok(Rendered {
            kind,
            lang: used,
            fell_back: wanted != Some(used),
            text,
        })
    }

    fn render_source(
        &self,
        name: &str,
        source: &str,
        subject: Subject<'_>,
        lang: Lang,
    ) -> Result<String, TemplateError> {
        if source.len() > self.limits.max_source_bytes {
            return Err(TemplateError::SourceTooLarge {
                name: name.to_string(),
                len: source.len(),
                max: self.limits.max_source_bytes,
            });
        }
        let tmpl = self
            .env
            .template_from_named_str(name, source)
            .map_err(|e| self.convert(name, source, e, false))?;
        let ctx = minijinja::Value::from(minijinja::value::Serde(View::new(subject, lang)));
        let mut out = Capped {
            buf: Vec::new(),
            max: self.limits.max_output_bytes,
            overflowed: false,
        };
        let result = tmpl.render_captured_to(ctx, &mut out);
        if out.overflowed {
            return Err(TemplateError::OutputTooLarge {
                name: name.to_string(),
                max: self.limits.max_output_bytes,
            });
        }
        result.map_err(|e| self.convert(name, source, e, true))?;
        String::from_utf8(out.buf).map_err(|_| TemplateError::Render {
            name: name.to_string(),
            line: None,
            message: "output is not UTF-8".into(),
        })
    }

    fn convert(&self, name: &str, source: &str, e: Error, rendering: bool) -> TemplateError {
        let line = e.line();
        let mut message = match e.detail() {
            Some(d) => format!("{}: {d}", kind_text(e.kind())),
            None => kind_text(e.kind()).to_string(),
        };
        // quote the offending line so an admin sees what to fix
        let quoted = line
            .and_then(|l| source.lines().nth(l.saturating_sub(1)))
            .map(str::trim)
            .filter(|q| !q.is_empty());
        if let Some(q) = quoted {
            let q: String = q.chars().take(80).collect();
            message.push_str(&format!(" in `{q}`"));
        }
        let name = name.to_string();
        match e.kind() {
            ErrorKind::OutOfFuel => TemplateError::OutOfFuel {
                name,
                line,
                fuel: self.limits.fuel,
            },
            _ if !rendering => TemplateError::Syntax {
                name,
                line,
                message,
            },
            _ => TemplateError::Render {
                name,
                line,
                message,
            },
        }
    }
}

fn kind_text(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::SyntaxError => "syntax error",
        ErrorKind::UndefinedError => "undefined value",
        ErrorKind::UnknownFilter => "unknown filter",
        ErrorKind::UnknownFunction => "unknown function",
        ErrorKind::UnknownTest => "unknown test",
        ErrorKind::UnknownMethod => "unknown method",
        ErrorKind::InvalidOperation => "invalid operation",
        ErrorKind::OutOfFuel => "out of fuel",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Templates>();
    }

    #[test]
    fn every_kind_and_templated_language_has_a_builtin_and_the_others_do_not() {
        for kind in TemplateKind::ALL {
            for lang in Lang::ALL {
                assert_eq!(
                    builtin_template(kind, lang).is_some(),
                    Lang::TEMPLATED.contains(&lang),
                    "{kind}.{lang}"
                );
            }
            assert_eq!(kind.as_str().parse::<TemplateKind>(), Ok(kind));
        }
    }
}
