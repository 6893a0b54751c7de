//! Statements, recall notices and regulator exports. Pure: inputs are values and `&str`,
//! no files, no network, no clock.
//!
//! - [`Templates`]: customer replies, public statements and recall notices, rendered with
//!   minijinja in a sandbox (fuel, size caps, no loader), built-in defaults in en, fr, de, es,
//!   editable at run time with [`Templates::set`].
//! - [`check_recall_notice`]: GPSR Art. 36 checks with spans in the original text.
//! - [`export`]: CPSC Section 15(b) report and EU Safety Business Gateway accident
//!   notification, as JSON and CSV, validated against the JSON Schemas in `schemas/`.
//!
//! See README.md for the template variables, the rules per language and the field mapping.

mod checker;
mod context;
pub mod dossier;
pub mod export;
mod fold;
mod lang;
mod rules;
pub mod schema;
mod templates;
mod vocab;

pub use checker::{
    Finding, FindingSeverity, NoticeFacts, RuleId, Span, check_recall_notice,
    find_minimising_language,
};
pub use context::{
    CaseContext, Contact, ProductInfo, Remedy, SignalContext, Subject, sample_case, sample_signal,
    sparse_case,
};
pub use lang::{Lang, UnsupportedLang};
pub use templates::{
    Limits, Rendered, TemplateEntry, TemplateError, TemplateKind, Templates, builtin_template,
};
pub use vocab::{RemedyKind, hazard_label, long_date};
