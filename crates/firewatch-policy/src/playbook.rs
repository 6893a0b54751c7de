//! Loading and validating playbooks (TOML + CEL), and evaluating them against case facts.

use crate::calendar::{Calendar, CalendarError};
use crate::clock::{ClockBasis, ClockKind, ClockPlan, Level};
use crate::duration::ClockDuration;
use crate::error::{Location, PlaybookError, Problem};
use crate::facts::{CaseFacts, CelCase, smoke_samples};
use crate::model::*;
use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use firewatch_domain::Severity;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Largest playbook file accepted.
pub const MAX_PLAYBOOK_BYTES: usize = 1024 * 1024;
/// Most rules in one playbook.
pub const MAX_RULES: usize = 500;
/// Longest `when` expression, in bytes.
pub const MAX_WHEN_BYTES: usize = 2_000;
/// Most AST nodes in one `when` expression.
pub const MAX_WHEN_NODES: usize = 400;
/// Deepest nesting of comprehensions (`exists`, `all`, `map`, `filter`) in one expression.
/// With facts lists capped at 64 items this bounds one rule to 64^2 loop steps.
pub const MAX_COMPREHENSION_DEPTH: usize = 2;
/// Most loop steps one `when` may take, estimated statically: a comprehension over a literal
/// list counts its length, over anything else [`MAX_FACT_LIST`](crate::facts::MAX_FACT_LIST);
/// nested comprehensions multiply. cel 0.15 has no evaluation budget, so this bounds cost.
pub const MAX_LOOP_STEPS_PER_RULE: u64 = 5_000;
/// Most estimated loop steps of all rules of a playbook together.
pub const MAX_LOOP_STEPS_TOTAL: u64 = 65_536;

/// A rule: an id, a CEL condition over `case`, and effects.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub when: String,
    program: cel::Program,
    pub effects: RuleEffects,
}

/// A validated playbook. Cheap to share (`Arc<Playbook>`): `Send + Sync`, immutable.
pub struct Playbook {
    source_name: String,
    name: String,
    revision: Option<String>,
    rules: Vec<Rule>,
    calendars: BTreeMap<String, Calendar>,
    default_calendar: String,
    markets: BTreeMap<String, MarketSettings>,
    market_defaults: MarketSettings,
    env: Arc<cel::Env>,
    signals: crate::signals::SignalThresholds,
}

// ---------------------------------------------------------------- loading

const TOP_KEYS: &[&str] = &[
    "name",
    "revision",
    "default_calendar",
    "calendars",
    "markets",
    "market_defaults",
    "rules",
    "signals",
];

const RULE_KEYS: &[&str] = &[
    "id",
    "description",
    "when",
    "severity_floor",
    "team",
    "allowed_remedies",
    "forbidden_remedies",
    "max_customer_pays_percent",
    "min_refund_percent",
    "approvals_required",
    "exception_approver",
    "tasks_required_before_resolution",
    "clocks",
    "notifications",
    "escalation",
];

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    time_zone: String,
    working_days: Vec<String>,
    working_hours: Vec<String>,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    extra_working_days: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegulatorClock {
    duration: String,
    #[serde(default)]
    basis: Option<ClockBasis>,
    #[serde(default)]
    reference: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarket {
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    calendar: Option<String>,
    #[serde(default)]
    regulator_clock: Option<RawRegulatorClock>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    roles: Vec<Role>,
    #[serde(default)]
    kinds: Vec<RemedyKind>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    task: TaskKind,
    #[serde(default)]
    chain_of_custody: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClock {
    name: String,
    kind: ClockKind,
    duration: String,
    #[serde(default)]
    basis: Option<ClockBasis>,
    #[serde(default)]
    calendar: Option<String>,
    #[serde(default)]
    pausable: bool,
    #[serde(default)]
    reference: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotification {
    channel: Channel,
    target: String,
    on: NotifyOn,
    #[serde(default)]
    clock: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    on_match: String,
}

/// Collects problems while loading.
struct Loader {
    problems: Vec<Problem>,
}

impl Loader {
    fn push(&mut self, loc: &Location, field: Option<&str>, msg: impl Into<String>) {
        self.problems.push(Problem::new(loc.clone(), field, msg));
    }

    /// Deserializes `table[key]` if present, recording a problem on failure.
    fn field<T: DeserializeOwned>(
        &mut self,
        table: &toml::Table,
        key: &str,
        loc: &Location,
    ) -> Option<T> {
        let v = table.get(key)?;
        match v.clone().try_into::<T>() {
            Ok(t) => Some(t),
            Err(e) => {
                self.push(loc, Some(key), clean_serde_message(&e.to_string()));
                None
            }
        }
    }

    /// Deserializes the array `table[key]` element by element, so that one bad element
    /// does not hide the others and each problem names its index (`clocks[2]`).
    fn list<T: DeserializeOwned>(
        &mut self,
        table: &toml::Table,
        key: &str,
        loc: &Location,
    ) -> Option<Vec<(usize, T)>> {
        let v = table.get(key)?;
        let Some(items) = v.as_array() else {
            self.push(loc, Some(key), "expected an array");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.clone().try_into::<T>() {
                Ok(t) => out.push((i, t)),
                Err(e) => self.push(
                    loc,
                    Some(&format!("{key}[{i}]")),
                    clean_serde_message(&e.to_string()),
                ),
            }
        }
        Some(out)
    }

    fn unknown_keys(&mut self, table: &toml::Table, allowed: &[&str], loc: &Location) {
        for k in table.keys() {
            if !allowed.contains(&k.as_str()) {
                self.push(
                    loc,
                    Some(k),
                    format!("unknown field (expected one of: {})", allowed.join(", ")),
                );
            }
        }
    }
}

/// serde/toml messages may carry a trailing newline or a TOML snippet; keep the first line.
fn clean_serde_message(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("TOML parse error"))
        .unwrap_or("invalid value")
        .to_string()
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn is_country(s: &str) -> bool {
    s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase())
}

/// Walks a CEL AST: node count and comprehension depth.
fn ast_shape(e: &IdedExpr, depth: usize, nodes: &mut usize, max_depth: &mut usize) {
    *nodes += 1;
    *max_depth = (*max_depth).max(depth);
    match &e.expr {
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                ast_shape(t, depth, nodes, max_depth);
            }
            for a in &c.args {
                ast_shape(a, depth, nodes, max_depth);
            }
        }
        Expr::Comprehension(c) => {
            ast_shape(&c.iter_range, depth, nodes, max_depth);
            ast_shape(&c.accu_init, depth, nodes, max_depth);
            for inner in [&c.loop_cond, &c.loop_step, &c.result] {
                ast_shape(inner, depth + 1, nodes, max_depth);
            }
        }
        Expr::List(l) => {
            for x in &l.elements {
                ast_shape(x, depth, nodes, max_depth);
            }
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    ast_shape(&me.key, depth, nodes, max_depth);
                    ast_shape(&me.value, depth, nodes, max_depth);
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    ast_shape(&f.value, depth, nodes, max_depth);
                }
            }
        }
        Expr::Select(s) => ast_shape(&s.operand, depth, nodes, max_depth),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
    }
}

/// An upper bound on the number of items a comprehension can iterate over.
fn range_size(e: &IdedExpr) -> u64 {
    match &e.expr {
        Expr::List(l) => l.elements.len() as u64,
        // map/filter yield at most as many items as they read.
        Expr::Comprehension(c) => range_size(&c.iter_range),
        Expr::Call(c) if c.func_name == "_+_" && c.target.is_none() => {
            c.args.iter().map(range_size).sum()
        }
        _ => crate::facts::MAX_FACT_LIST as u64,
    }
}

/// Static estimate of the loop steps an expression takes when its enclosing loops run
/// `mult` times.
fn loop_steps(e: &IdedExpr, mult: u64) -> u64 {
    let sum = |xs: &mut dyn Iterator<Item = &IdedExpr>, m: u64| -> u64 {
        xs.map(|x| loop_steps(x, m)).fold(0u64, u64::saturating_add)
    };
    match &e.expr {
        Expr::Comprehension(c) => {
            let inner = mult.saturating_mul(range_size(&c.iter_range));
            inner
                .saturating_add(sum(&mut [&c.iter_range, &c.accu_init].into_iter(), mult))
                .saturating_add(sum(
                    &mut [&c.loop_cond, &c.loop_step, &c.result].into_iter(),
                    inner,
                ))
        }
        Expr::Call(c) => sum(
            &mut c.target.as_deref().into_iter().chain(c.args.iter()),
            mult,
        ),
        Expr::List(l) => sum(&mut l.elements.iter(), mult),
        Expr::Select(sel) => loop_steps(&sel.operand, mult),
        Expr::Map(m) => {
            let mut parts = Vec::new();
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    parts.push(&me.key);
                    parts.push(&me.value);
                }
            }
            sum(&mut parts.into_iter(), mult)
        }
        Expr::Struct(st) => {
            let mut parts = Vec::new();
            for entry in &st.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    parts.push(&f.value);
                }
            }
            sum(&mut parts.into_iter(), mult)
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => 0,
    }
}

/// Compiles a `when` expression with the size limits. Errors are plain messages.
fn compile_when(env: &cel::Env, when: &str) -> Result<cel::Program, String> {
    if when.trim().is_empty() {
        return Err("empty CEL expression".into());
    }
    if when.len() > MAX_WHEN_BYTES {
        return Err(format!(
            "CEL expression too long ({} bytes, at most {MAX_WHEN_BYTES})",
            when.len()
        ));
    }
    let program = env.compile(when).map_err(|errs| {
        let first = errs.errors.first();
        match first {
            Some(e) => format!("CEL parse error at {}:{}: {}", e.pos.0, e.pos.1, e.msg),
            None => "CEL parse error".to_string(),
        }
    })?;
    let (mut nodes, mut depth) = (0, 0);
    ast_shape(program.expression(), 0, &mut nodes, &mut depth);
    if nodes > MAX_WHEN_NODES {
        return Err(format!(
            "CEL expression too large ({nodes} nodes, at most {MAX_WHEN_NODES})"
        ));
    }
    if depth > MAX_COMPREHENSION_DEPTH {
        return Err(format!(
            "CEL comprehensions (exists/all/map/filter) nested {depth} deep, at most {MAX_COMPREHENSION_DEPTH}"
        ));
    }
    let steps = loop_steps(program.expression(), 1);
    if steps > MAX_LOOP_STEPS_PER_RULE {
        return Err(format!(
            "CEL expression may take up to {steps} loop steps, at most {MAX_LOOP_STEPS_PER_RULE} (comprehensions over long lists)"
        ));
    }
    let refs = program.references();
    let mut vars: Vec<&str> = refs.variables();
    vars.retain(|v| *v != "case");
    vars.sort_unstable();
    // Comprehension variables show up as references too; they are checked by the smoke
    // evaluation. Report only names that no comprehension introduces.
    let mut bound = BTreeSet::new();
    collect_bound(program.expression(), &mut bound);
    vars.retain(|v| !bound.contains(*v));
    if let Some(v) = vars.first() {
        return Err(format!(
            "unknown variable `{v}` (rules see one variable, `case`)"
        ));
    }
    Ok(program)
}

fn collect_bound(e: &IdedExpr, out: &mut BTreeSet<String>) {
    match &e.expr {
        Expr::Comprehension(c) => {
            out.insert(c.iter_var.clone());
            if let Some(v) = &c.iter_var2 {
                out.insert(v.clone());
            }
            out.insert(c.accu_var.clone());
            for x in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                collect_bound(x, out);
            }
        }
        Expr::Call(c) => {
            if let Some(t) = &c.target {
                collect_bound(t, out);
            }
            for a in &c.args {
                collect_bound(a, out);
            }
        }
        Expr::List(l) => l.elements.iter().for_each(|x| collect_bound(x, out)),
        Expr::Select(s) => collect_bound(&s.operand, out),
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    collect_bound(&me.key, out);
                    collect_bound(&me.value, out);
                }
            }
        }
        _ => {}
    }
}

fn cel_case_value(facts: &CaseFacts) -> cel::Value {
    // CelCase holds only strings, numbers, bools and lists of them: serialization can't fail.
    cel::to_value(CelCase::from_facts(facts)).unwrap_or(cel::Value::Null)
}

/// The context the rules of one evaluation pass run in: `case` is converted to CEL's
/// objects once per pass, not once per rule (the conversion cost more than the rules).
fn case_context(env: &Arc<cel::Env>, facts: &CaseFacts) -> cel::Context<'static, 'static> {
    let mut ctx = cel::Context::with_env(Arc::clone(env));
    ctx.add_variable_from_value("case", cel_case_value(facts));
    ctx
}

/// Runs one program. `Ok(bool)` or a plain error message. Programs only read the context
/// (comprehension variables live in child scopes), so one context serves every rule.
fn run(ctx: &cel::Context<'_, '_>, program: &cel::Program) -> Result<bool, String> {
    match program.execute(ctx) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "must evaluate to a bool, got {}",
            value_type_name(&other)
        )),
        Err(e) => Err(e.to_string()),
    }
}

fn value_type_name(v: &cel::Value) -> &'static str {
    match v {
        cel::Value::List(_) => "a list",
        cel::Value::Map(_) => "a map",
        cel::Value::Int(_) => "an int",
        cel::Value::UInt(_) => "a uint",
        cel::Value::Float(_) => "a double",
        cel::Value::String(_) => "a string",
        cel::Value::Null => "null",
        _ => "a non-bool value",
    }
}

impl std::fmt::Debug for Playbook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Playbook")
            .field("source_name", &self.source_name)
            .field("name", &self.name)
            .field("revision", &self.revision)
            .field("rules", &self.rules)
            .field("calendars", &self.calendars.keys().collect::<Vec<_>>())
            .field("default_calendar", &self.default_calendar)
            .field("markets", &self.markets)
            .field("market_defaults", &self.market_defaults)
            .finish_non_exhaustive()
    }
}

impl Playbook {
    /// Parses and validates a playbook. `source_name` (e.g. the file name) prefixes every
    /// error line. Nothing is read from disk: the caller passes the text.
    pub fn from_toml_str(source_name: &str, text: &str) -> Result<Playbook, PlaybookError> {
        let mut l = Loader {
            problems: Vec::new(),
        };
        let fail = |problems| PlaybookError {
            source_name: source_name.to_string(),
            problems,
        };
        if text.len() > MAX_PLAYBOOK_BYTES {
            return Err(fail(vec![Problem::new(
                Location::File,
                None,
                format!(
                    "file too large ({} bytes, at most {MAX_PLAYBOOK_BYTES})",
                    text.len()
                ),
            )]));
        }
        let doc: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                let e: toml::de::Error = e;
                let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
                return Err(fail(vec![Problem::new(
                    Location::File,
                    None,
                    format!(
                        "TOML syntax error at line {line}, column {col}: {}",
                        e.message().trim()
                    ),
                )]));
            }
        };
        let file = Location::File;
        l.unknown_keys(&doc, TOP_KEYS, &file);
        let name: String = l.field(&doc, "name", &file).unwrap_or_default();
        let revision: Option<String> = l.field(&doc, "revision", &file);

        // Calendars.
        let mut calendars: BTreeMap<String, Calendar> = BTreeMap::new();
        let raw_cals: BTreeMap<String, toml::Table> =
            l.field(&doc, "calendars", &file).unwrap_or_default();
        for (cname, t) in &raw_cals {
            let loc = Location::Calendar(cname.clone());
            if !valid_name(cname, 64) {
                l.push(
                    &loc,
                    None,
                    "calendar names use letters, digits, '-', '_', '.'",
                );
                continue;
            }
            let raw: RawCalendar = match toml::Value::Table(t.clone()).try_into() {
                Ok(r) => r,
                Err(e) => {
                    l.push(&loc, None, clean_serde_message(&e.to_string()));
                    continue;
                }
            };
            match Calendar::new(
                cname,
                &raw.time_zone,
                &strs(&raw.working_days),
                &strs(&raw.working_hours),
                &strs(&raw.holidays),
                &strs(&raw.extra_working_days),
            ) {
                Ok(c) => {
                    calendars.insert(cname.clone(), c);
                }
                Err(e) => {
                    let field = match &e {
                        CalendarError::UnknownTimeZone(_) => "time_zone",
                        CalendarError::UnknownWeekday(_)
                        | CalendarError::DuplicateWeekday(_)
                        | CalendarError::NoWorkingDays => "working_days",
                        CalendarError::NoWorkingHours
                        | CalendarError::BadWindow(_)
                        | CalendarError::OverlappingWindows(_, _) => "working_hours",
                        CalendarError::BadDate(d) => {
                            if raw.holidays.iter().any(|h| h.trim() == d) {
                                "holidays"
                            } else {
                                "extra_working_days"
                            }
                        }
                        CalendarError::TooManyDates(_) => "holidays",
                    };
                    l.push(&loc, Some(field), e.to_string());
                }
            }
        }
        let known_calendar =
            |n: &str, cals: &BTreeMap<String, Calendar>| n == "UTC" || cals.contains_key(n);
        let default_calendar: String = l
            .field(&doc, "default_calendar", &file)
            .unwrap_or_else(|| "UTC".to_string());
        if !known_calendar(&default_calendar, &calendars) {
            l.push(
                &file,
                Some("default_calendar"),
                format!("unknown calendar `{default_calendar}`"),
            );
        }

        // Markets.
        let mut markets: BTreeMap<String, MarketSettings> = BTreeMap::new();
        let raw_markets: BTreeMap<String, toml::Table> =
            l.field(&doc, "markets", &file).unwrap_or_default();
        let mut member_of: BTreeMap<String, String> = BTreeMap::new();
        for (code, t) in &raw_markets {
            let loc = Location::Market(code.clone());
            let Some(m) = load_market(&mut l, t, &loc, &calendars) else {
                continue;
            };
            if m.members.is_empty() {
                if !is_country(code) {
                    l.push(
                        &loc,
                        None,
                        "a market is an ISO 3166-1 alpha-2 code in upper case (e.g. \"FR\"), or a group with `members`",
                    );
                    continue;
                }
            } else {
                if !valid_name(code, 64) {
                    l.push(&loc, None, "group names use letters, digits, '-', '_', '.'");
                    continue;
                }
                for mem in &m.members {
                    if !is_country(mem) {
                        l.push(
                            &loc,
                            Some("members"),
                            format!("`{mem}` is not an ISO 3166-1 alpha-2 code in upper case"),
                        );
                    } else if let Some(other) = member_of.insert(mem.clone(), code.clone()) {
                        l.push(
                            &loc,
                            Some("members"),
                            format!("`{mem}` is already a member of group `{other}`"),
                        );
                    }
                }
            }
            markets.insert(code.clone(), m);
        }
        let market_defaults = match doc.get("market_defaults") {
            None => MarketSettings::default(),
            Some(toml::Value::Table(t)) => {
                let loc = Location::Market("market_defaults".into());
                let m = load_market(&mut l, t, &loc, &calendars).unwrap_or_default();
                if !m.members.is_empty() {
                    l.push(&loc, Some("members"), "market_defaults cannot have members");
                }
                m
            }
            Some(_) => {
                l.push(&file, Some("market_defaults"), "expected a table");
                MarketSettings::default()
            }
        };

        // Rules.
        let env = Arc::new(cel::Env::stdlib());
        let mut rules: Vec<Rule> = Vec::new();
        let raw_rules: Vec<toml::Table> = l.field(&doc, "rules", &file).unwrap_or_default();
        if raw_rules.len() > MAX_RULES {
            l.push(
                &file,
                Some("rules"),
                format!("too many rules ({}, at most {MAX_RULES})", raw_rules.len()),
            );
        }
        let mut ids = BTreeSet::new();
        let (mut total_steps, mut over_budget) = (0u64, false);
        for (i, t) in raw_rules.iter().enumerate().take(MAX_RULES) {
            let id = match t.get("id") {
                Some(toml::Value::String(s)) => s.clone(),
                _ => String::new(),
            };
            let loc = if valid_name(&id, 100) {
                Location::Rule(id.clone())
            } else {
                Location::Rule(format!("rules[{i}]"))
            };
            l.unknown_keys(t, RULE_KEYS, &loc);
            if id.is_empty() {
                l.push(&loc, Some("id"), "missing (every rule needs an id)");
            } else if !valid_name(&id, 100) {
                l.push(
                    &loc,
                    Some("id"),
                    format!("`{id}`: ids use letters, digits, '-', '_', '.' (at most 100)"),
                );
            } else if !ids.insert(id.clone()) {
                l.push(&loc, Some("id"), "duplicate rule id");
            }
            let description: String = l.field(t, "description", &loc).unwrap_or_default();
            let when: Option<String> = l.field(t, "when", &loc);
            let program = match &when {
                None => {
                    if !t.contains_key("when") {
                        l.push(
                            &loc,
                            Some("when"),
                            "missing (write \"true\" to always match)",
                        );
                    }
                    None
                }
                Some(w) => match compile_when(&env, w) {
                    Ok(p) => Some(p),
                    Err(msg) => {
                        l.push(&loc, Some("when"), msg);
                        None
                    }
                },
            };
            let effects = load_effects(&mut l, t, &loc, &calendars);
            if let (Some(program), Some(when)) = (program, when) {
                total_steps = total_steps.saturating_add(loop_steps(program.expression(), 1));
                if total_steps > MAX_LOOP_STEPS_TOTAL && !over_budget {
                    over_budget = true;
                    l.push(
                        &loc,
                        Some("when"),
                        format!(
                            "the rules up to this one may take more than {MAX_LOOP_STEPS_TOTAL} loop steps together (comprehensions over long lists)"
                        ),
                    );
                }
                // Smoke evaluation: type errors and typos surface now, not on a real case.
                for sample in smoke_samples() {
                    if let Err(msg) = run(&case_context(&env, &sample), &program) {
                        l.push(
                            &loc,
                            Some("when"),
                            format!(
                                "CEL evaluation error on a sample {} case: {msg}",
                                sample.severity
                            ),
                        );
                        break;
                    }
                }
                rules.push(Rule {
                    id,
                    description,
                    when,
                    program,
                    effects,
                });
            }
        }

        let signals = crate::signals::SignalThresholds::from_toml(doc.get("signals"))
            .unwrap_or_else(|p| {
                l.problems.extend(p);
                Default::default()
            });
        if l.problems.is_empty() {
            Ok(Playbook {
                source_name: source_name.to_string(),
                name,
                revision,
                rules,
                calendars,
                default_calendar,
                markets,
                market_defaults,
                env,
                signals,
            })
        } else {
            Err(fail(l.problems))
        }
    }

    /// The playbook built into firewatch (`playbooks/default.toml`).
    pub fn default_playbook() -> Playbook {
        // The default playbook is checked by the test suite; failing here is a build defect.
        Playbook::from_toml_str("default.toml", DEFAULT_PLAYBOOK_TOML)
            .unwrap_or_else(|e| panic!("the built-in default playbook is invalid:\n{e}"))
    }

    /// The `[signals]` thresholds (the defaults when the section is absent).
    pub fn signals(&self) -> &crate::signals::SignalThresholds {
        &self.signals
    }

    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn revision(&self) -> Option<&str> {
        self.revision.as_deref()
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    pub fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.calendars.get(name)
    }

    pub fn calendars(&self) -> impl Iterator<Item = &Calendar> {
        self.calendars.values()
    }

    /// The settings that apply to a market: the country's own, then its group's, then the
    /// defaults, field by field.
    pub fn market(&self, code: &str) -> MarketSettings {
        let code = code.trim().to_ascii_uppercase();
        let own = self.markets.get(&code).filter(|m| m.members.is_empty());
        let group = self.markets.values().find(|m| m.members.contains(&code));
        let pick = |f: &dyn Fn(&MarketSettings) -> bool| -> Option<&MarketSettings> {
            [own, group, Some(&self.market_defaults)]
                .into_iter()
                .flatten()
                .find(|m| f(m))
        };
        MarketSettings {
            members: Vec::new(),
            calendar: pick(&|m| m.calendar.is_some()).and_then(|m| m.calendar.clone()),
            regulator_clock: pick(&|m| m.regulator_clock.is_some())
                .and_then(|m| m.regulator_clock.clone()),
        }
    }

    fn calendar_or_default(&self, name: Option<&str>) -> Calendar {
        let name = name.unwrap_or(&self.default_calendar);
        self.calendars
            .get(name)
            .or_else(|| self.calendars.get(&self.default_calendar))
            .cloned()
            .unwrap_or_else(Calendar::utc_office)
    }

    /// The business-hours calendar of a market.
    pub fn market_calendar(&self, market: &str) -> Calendar {
        let m = self.market(market);
        self.calendar_or_default(m.calendar.as_deref())
    }
}

fn load_market(
    l: &mut Loader,
    t: &toml::Table,
    loc: &Location,
    calendars: &BTreeMap<String, Calendar>,
) -> Option<MarketSettings> {
    let raw: RawMarket = match toml::Value::Table(t.clone()).try_into() {
        Ok(r) => r,
        Err(e) => {
            l.push(loc, None, clean_serde_message(&e.to_string()));
            return None;
        }
    };
    if let Some(c) = &raw.calendar
        && c != "UTC"
        && !calendars.contains_key(c)
    {
        l.push(loc, Some("calendar"), format!("unknown calendar `{c}`"));
    }
    let regulator_clock = match raw.regulator_clock {
        None => None,
        Some(rc) => match rc.duration.parse::<ClockDuration>() {
            Ok(d) => Some(RegulatorClock {
                duration: d,
                basis: rc.basis.unwrap_or(ClockBasis::Calendar),
                reference: rc.reference,
            }),
            Err(e) => {
                l.push(loc, Some("regulator_clock.duration"), e.to_string());
                None
            }
        },
    };
    Some(MarketSettings {
        members: raw.members,
        calendar: raw.calendar,
        regulator_clock,
    })
}

fn load_effects(
    l: &mut Loader,
    t: &toml::Table,
    loc: &Location,
    calendars: &BTreeMap<String, Calendar>,
) -> RuleEffects {
    let mut fx = RuleEffects::default();
    if let Some(s) = l.field::<String>(t, "severity_floor", loc) {
        match s.parse::<Severity>() {
            Ok(sev) => fx.severity_floor = Some(sev),
            Err(e) => l.push(loc, Some("severity_floor"), e),
        }
    }
    if let Some(team) = l.field::<String>(t, "team", loc) {
        if valid_name(&team, 64) {
            fx.team = Some(team);
        } else {
            l.push(
                loc,
                Some("team"),
                "team names use letters, digits, '-', '_', '.' (at most 64)",
            );
        }
    }
    if let Some(a) = l.field::<Vec<RemedyKind>>(t, "allowed_remedies", loc) {
        fx.allowed_remedies = Some(a.into_iter().collect());
    }
    if let Some(f) = l.field::<Vec<RemedyKind>>(t, "forbidden_remedies", loc) {
        fx.forbidden_remedies = f.into_iter().collect();
    }
    if let Some(a) = &fx.allowed_remedies
        && let Some(both) = a.intersection(&fx.forbidden_remedies).next()
    {
        l.push(
            loc,
            Some("forbidden_remedies"),
            format!("`{both}` is both allowed and forbidden"),
        );
    }
    if let Some(p) = l.field::<i64>(t, "max_customer_pays_percent", loc) {
        match u8::try_from(p) {
            Ok(p) if p <= 100 => fx.max_customer_pays_percent = Some(p),
            _ => l.push(
                loc,
                Some("max_customer_pays_percent"),
                format!("{p} is not a percentage (0..100)"),
            ),
        }
    }
    if let Some(p) = l.field::<i64>(t, "min_refund_percent", loc) {
        match u16::try_from(p) {
            Ok(p) if p <= 200 => fx.min_refund_percent = Some(p),
            _ => l.push(
                loc,
                Some("min_refund_percent"),
                format!("{p} is out of range (0..200)"),
            ),
        }
    }
    if let Some(list) = l.list::<RawApproval>(t, "approvals_required", loc) {
        for (i, a) in list {
            if a.roles.is_empty() {
                l.push(
                    loc,
                    Some(&format!("approvals_required[{i}].roles")),
                    "needs at least one role",
                );
            }
            fx.approvals_required.push(ApprovalRequirement {
                roles: a.roles,
                kinds: a.kinds,
            });
        }
    }
    fx.exception_approver = l.field::<Role>(t, "exception_approver", loc);
    if let Some(list) = l.list::<RawTask>(t, "tasks_required_before_resolution", loc) {
        let mut seen = BTreeSet::new();
        for (i, task) in list {
            let f = format!("tasks_required_before_resolution[{i}]");
            if task.chain_of_custody && task.task != TaskKind::DeviceRetrieval {
                l.push(
                    loc,
                    Some(&f),
                    "chain_of_custody applies to device_retrieval only",
                );
            }
            if !seen.insert(task.task) {
                l.push(loc, Some(&f), format!("task `{}` listed twice", task.task));
            }
            fx.tasks_required_before_resolution.push(TaskRequirement {
                task: task.task,
                chain_of_custody: task.chain_of_custody,
            });
        }
    }
    if let Some(list) = l.list::<RawClock>(t, "clocks", loc) {
        let mut names = BTreeSet::new();
        for (i, c) in list {
            let f = |x: &str| format!("clocks[{i}].{x}");
            if !valid_name(&c.name, 64) {
                l.push(
                    loc,
                    Some(&f("name")),
                    format!(
                        "`{}`: clock names use letters, digits, '-', '_', '.'",
                        c.name
                    ),
                );
            } else if !names.insert(c.name.clone()) {
                l.push(
                    loc,
                    Some(&f("name")),
                    format!("clock `{}` defined twice in this rule", c.name),
                );
            }
            if c.kind == ClockKind::Regulator && c.pausable {
                l.push(loc, Some(&f("pausable")), "regulator clocks never pause");
            }
            if let Some(cal) = &c.calendar
                && cal != "UTC"
                && !calendars.contains_key(cal)
            {
                l.push(
                    loc,
                    Some(&f("calendar")),
                    format!("unknown calendar `{cal}`"),
                );
            }
            let source = if c.duration.trim() == "market" {
                if c.kind != ClockKind::Regulator {
                    l.push(loc, Some(&f("duration")), "\"market\" takes the market's regulator clock: only for kind = \"regulator\"");
                }
                if c.basis.is_some() {
                    l.push(loc, Some(&f("basis")), "with duration = \"market\" the basis comes from the market's regulator_clock");
                }
                ClockSource::Market
            } else {
                match c.duration.parse::<ClockDuration>() {
                    Ok(d) => ClockSource::Fixed {
                        duration: d,
                        basis: c.basis.unwrap_or(ClockBasis::Calendar),
                    },
                    Err(e) => {
                        l.push(loc, Some(&f("duration")), e.to_string());
                        continue;
                    }
                }
            };
            fx.clocks.push(ClockSpec {
                name: c.name,
                kind: c.kind,
                source,
                calendar: c.calendar,
                pausable: c.pausable,
                reference: c.reference,
            });
        }
    }
    if let Some(list) = l.list::<RawNotification>(t, "notifications", loc) {
        for (i, n) in list {
            let f = |x: &str| format!("notifications[{i}].{x}");
            let target = n.target.trim();
            let ok = match n.channel {
                Channel::Email => target.strip_prefix("role:").map_or(
                    target.contains('@') && !target.contains(char::is_whitespace),
                    |r| r.parse::<Role>().is_ok(),
                ),
                Channel::Webhook => {
                    target.starts_with("https://")
                        || target.starts_with("http://")
                        || target
                            .strip_prefix("endpoint:")
                            .is_some_and(|e| valid_name(e, 64))
                }
            };
            if !ok {
                let expected = match n.channel {
                    Channel::Email => {
                        "an e-mail address or role:<agent|supervisor|safety|hq|pr|admin>"
                    }
                    Channel::Webhook => "an http(s) URL or endpoint:<name>",
                };
                l.push(
                    loc,
                    Some(&f("target")),
                    format!("`{target}` is not {expected}"),
                );
            }
            if let Some(c) = &n.clock {
                if n.on != NotifyOn::Breach {
                    l.push(
                        loc,
                        Some(&f("clock")),
                        "only notifications on = \"breach\" name a clock",
                    );
                } else if !fx.clocks.iter().any(|x| &x.name == c) {
                    l.push(
                        loc,
                        Some(&f("clock")),
                        format!("this rule has no clock `{c}`"),
                    );
                }
            }
            if n.on == NotifyOn::Breach && fx.clocks.is_empty() {
                l.push(
                    loc,
                    Some(&f("on")),
                    "on = \"breach\" needs a clock in the same rule",
                );
            }
            fx.notifications.push(NotificationSpec {
                channel: n.channel,
                target: target.to_string(),
                on: n.on,
                clock: n.clock,
            });
        }
    }
    if let Some(e) = l.field::<RawEscalation>(t, "escalation", loc) {
        match Level::parse(&e.on_match) {
            Some(level) => fx.escalate_to = Some(level),
            None => l.push(
                loc,
                Some("escalation.on_match"),
                format!(
                    "unknown level `{}` (expected agent|supervisor|safety|hq)",
                    e.on_match
                ),
            ),
        }
    }
    fx
}

/// The text of the built-in default playbook.
pub const DEFAULT_PLAYBOOK_TOML: &str = include_str!("../playbooks/default.toml");

// ---------------------------------------------------------------- evaluation

/// The result of one rule's `when` on a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum RuleOutcome {
    Matched,
    NotMatched,
    /// The expression failed at run time; the rule is treated as not matched.
    Error {
        message: String,
    },
}

/// Why a rule did or did not apply: its id, its condition and the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleTrace {
    pub rule_id: String,
    pub when: String,
    pub outcome: RuleOutcome,
}

/// A rule that matched, with its effects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedRule {
    pub rule_id: String,
    pub description: String,
    pub effects: RuleEffects,
}

/// An approval requirement and the rule it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleApproval {
    pub rule_id: String,
    pub roles: Vec<Role>,
    pub kinds: Vec<RemedyKind>,
}

/// A task required before resolution, and the (first) rule that requires it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequiredTask {
    pub task: TaskKind,
    pub chain_of_custody: bool,
    pub rule_id: String,
}

/// A notification to send, resolved for this case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationPlan {
    pub rule_id: String,
    pub channel: Channel,
    pub target: String,
    pub on: NotifyOn,
    /// For `on = breach`: the clocks whose breach triggers it.
    pub clocks: Vec<String>,
}

/// The merged effects of every matched rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergedEffects {
    /// The case's severity raised by every matched floor.
    pub severity: Severity,
    /// The first matched rule (in file order) that names a team.
    pub team: Option<String>,
    /// The highest `escalation.on_match` level.
    pub escalate_to: Option<Level>,
    /// Kinds every matched rule allows.
    pub allowed_remedies: BTreeSet<RemedyKind>,
    /// Union of the explicitly forbidden kinds.
    pub forbidden_remedies: BTreeSet<RemedyKind>,
    /// The smallest maximum (None = no limit).
    pub max_customer_pays_percent: Option<u8>,
    /// The largest minimum refund (percent of the price).
    pub min_refund_percent: Option<u16>,
    pub approvals: Vec<RuleApproval>,
    /// Union of tasks (chain_of_custody if any rule asks for it).
    pub tasks: Vec<RequiredTask>,
    /// One clock per name (see the README for how duplicates are merged).
    pub clocks: Vec<ClockPlan>,
    pub notifications: Vec<NotificationPlan>,
}

/// The result of evaluating a playbook against a case. Self-contained (no reference to the
/// playbook) and serializable, so it can be stored with the case and shown in the UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub playbook: String,
    pub revision: Option<String>,
    /// The facts as evaluated (severity raised by floors, `is_safety` recomputed).
    pub facts: CaseFacts,
    /// The severity the case came with, before floors.
    pub input_severity: Severity,
    /// Every rule in file order with its result.
    pub trace: Vec<RuleTrace>,
    pub matched: Vec<MatchedRule>,
    pub effects: MergedEffects,
    /// Things worth showing an admin (e.g. a market without a regulator clock).
    pub notes: Vec<String>,
}

impl Evaluation {
    pub fn matched_rule(&self, rule_id: &str) -> Option<&MatchedRule> {
        self.matched.iter().find(|m| m.rule_id == rule_id)
    }

    pub fn clock(&self, name: &str) -> Option<&ClockPlan> {
        self.effects.clocks.iter().find(|c| c.name == name)
    }

    /// The notifications to send when the clock `name` breaches.
    pub fn notifications_on_breach(&self, clock: &str) -> Vec<&NotificationPlan> {
        self.effects
            .notifications
            .iter()
            .filter(|n| n.on == NotifyOn::Breach && n.clocks.iter().any(|c| c == clock))
            .collect()
    }

    /// The notifications to send when the case starts to match.
    pub fn notifications_on_match(&self) -> Vec<&NotificationPlan> {
        self.effects
            .notifications
            .iter()
            .filter(|n| n.on == NotifyOn::Match)
            .collect()
    }

    /// Rules whose `when` failed at run time.
    pub fn errors(&self) -> impl Iterator<Item = &RuleTrace> {
        self.trace
            .iter()
            .filter(|t| matches!(t.outcome, RuleOutcome::Error { .. }))
    }
}

impl Playbook {
    fn run_rules(&self, facts: &CaseFacts) -> Vec<RuleOutcome> {
        let ctx = case_context(&self.env, facts);
        self.rules
            .iter()
            .map(|r| match run(&ctx, &r.program) {
                Ok(true) => RuleOutcome::Matched,
                Ok(false) => RuleOutcome::NotMatched,
                Err(message) => RuleOutcome::Error { message },
            })
            .collect()
    }

    /// Evaluates every rule against the facts and merges the effects of those that match.
    ///
    /// Severity floors feed back: when a matched floor raises the severity, the rules are
    /// evaluated again with the raised severity (and `is_safety` recomputed), until the
    /// severity is stable (at most four passes, since it only rises).
    pub fn evaluate(&self, facts: &CaseFacts) -> Evaluation {
        let mut facts = facts.clone();
        let input_severity = facts.severity;
        let mut outcomes = self.run_rules(&facts);
        for _ in 0..4 {
            let floor = self
                .rules
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| **o == RuleOutcome::Matched)
                .filter_map(|(r, _)| r.effects.severity_floor)
                .min();
            match floor {
                Some(f) if f < facts.severity => {
                    facts.severity = f;
                    facts.is_safety = facts.is_safety || f.is_safety();
                    outcomes = self.run_rules(&facts);
                }
                _ => break,
            }
        }
        let trace: Vec<RuleTrace> = self
            .rules
            .iter()
            .zip(&outcomes)
            .map(|(r, o)| RuleTrace {
                rule_id: r.id.clone(),
                when: r.when.clone(),
                outcome: o.clone(),
            })
            .collect();
        let matched_rules: Vec<&Rule> = self
            .rules
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| **o == RuleOutcome::Matched)
            .map(|(r, _)| r)
            .collect();
        let mut notes = Vec::new();
        let effects = self.merge(&facts, &matched_rules, &mut notes);
        Evaluation {
            playbook: self.name.clone(),
            revision: self.revision.clone(),
            facts,
            input_severity,
            trace,
            matched: matched_rules
                .iter()
                .map(|r| MatchedRule {
                    rule_id: r.id.clone(),
                    description: r.description.clone(),
                    effects: r.effects.clone(),
                })
                .collect(),
            effects,
            notes,
        }
    }

    fn merge(&self, facts: &CaseFacts, rules: &[&Rule], notes: &mut Vec<String>) -> MergedEffects {
        let mut m = MergedEffects {
            severity: facts.severity,
            team: None,
            escalate_to: None,
            allowed_remedies: RemedyKind::ALL
                .iter()
                .copied()
                .filter(|k| rules.iter().all(|r| r.effects.allows_kind(*k)))
                .collect(),
            forbidden_remedies: BTreeSet::new(),
            max_customer_pays_percent: None,
            min_refund_percent: None,
            approvals: Vec::new(),
            tasks: Vec::new(),
            clocks: Vec::new(),
            notifications: Vec::new(),
        };
        let market = self.market(&facts.market);
        let market_calendar = self.calendar_or_default(market.calendar.as_deref());
        for r in rules {
            let fx = &r.effects;
            if let Some(f) = fx.severity_floor {
                m.severity = m.severity.max_severity(f);
            }
            if m.team.is_none() {
                m.team.clone_from(&fx.team);
            }
            m.escalate_to = m.escalate_to.max(fx.escalate_to);
            m.forbidden_remedies
                .extend(fx.forbidden_remedies.iter().copied());
            if let Some(p) = fx.max_customer_pays_percent {
                m.max_customer_pays_percent =
                    Some(m.max_customer_pays_percent.map_or(p, |q| q.min(p)));
            }
            if let Some(p) = fx.min_refund_percent {
                m.min_refund_percent = Some(m.min_refund_percent.map_or(p, |q| q.max(p)));
            }
            for a in &fx.approvals_required {
                m.approvals.push(RuleApproval {
                    rule_id: r.id.clone(),
                    roles: a.roles.clone(),
                    kinds: a.kinds.clone(),
                });
            }
            for t in &fx.tasks_required_before_resolution {
                match m.tasks.iter_mut().find(|x| x.task == t.task) {
                    Some(x) => x.chain_of_custody |= t.chain_of_custody,
                    None => m.tasks.push(RequiredTask {
                        task: t.task,
                        chain_of_custody: t.chain_of_custody,
                        rule_id: r.id.clone(),
                    }),
                }
            }
            let mut rule_clocks = Vec::new();
            for c in &fx.clocks {
                let calendar = match &c.calendar {
                    Some(name) => self.calendar_or_default(Some(name)),
                    None => market_calendar.clone(),
                };
                let (duration, basis, reference) = match &c.source {
                    ClockSource::Fixed { duration, basis } => {
                        (*duration, *basis, c.reference.clone())
                    }
                    ClockSource::Market => match &market.regulator_clock {
                        Some(rc) => (
                            rc.duration,
                            rc.basis,
                            c.reference.clone().or_else(|| rc.reference.clone()),
                        ),
                        None => {
                            notes.push(format!(
                                "rule \"{}\": no regulator clock is configured for market `{}`, so clock `{}` was not started",
                                r.id, facts.market, c.name
                            ));
                            continue;
                        }
                    },
                };
                let plan = ClockPlan {
                    name: c.name.clone(),
                    kind: c.kind,
                    duration,
                    basis,
                    pausable: c.pausable && c.kind != ClockKind::Regulator,
                    calendar,
                    rule_id: r.id.clone(),
                    reference,
                };
                rule_clocks.push(plan.name.clone());
                match m.clocks.iter_mut().find(|x| x.name == plan.name) {
                    None => m.clocks.push(plan),
                    Some(existing) => {
                        let shorter = existing.basis == plan.basis
                            && plan.duration.nominal_seconds()
                                < existing.duration.nominal_seconds();
                        if shorter {
                            notes.push(format!(
                                "clock `{}`: rule \"{}\" ({}) is stricter than rule \"{}\" ({})",
                                plan.name,
                                plan.rule_id,
                                plan.duration,
                                existing.rule_id,
                                existing.duration
                            ));
                            *existing = plan;
                        }
                    }
                }
            }
            for n in &fx.notifications {
                let clocks = match (&n.on, &n.clock) {
                    (NotifyOn::Match, _) => Vec::new(),
                    (NotifyOn::Breach, Some(c)) => vec![c.clone()],
                    (NotifyOn::Breach, None) => rule_clocks.clone(),
                };
                m.notifications.push(NotificationPlan {
                    rule_id: r.id.clone(),
                    channel: n.channel,
                    target: n.target.clone(),
                    on: n.on,
                    clocks,
                });
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_playbook_can_be_shared_between_threads() {
        assert_send_sync::<Playbook>();
        assert_send_sync::<Evaluation>();
    }

    #[test]
    fn the_default_playbook_loads() {
        let p = Playbook::default_playbook();
        assert!(p.rules().len() >= 5);
        assert!(p.rule("safety-cost-free").is_some());
    }

    #[test]
    fn line_and_column_count_from_one() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 0), (1, 1));
    }

    #[test]
    fn deeply_nested_comprehensions_are_refused() {
        let env = cel::Env::stdlib();
        let two = "case.hazards.exists(a, case.hazards.exists(b, a == b))";
        assert!(compile_when(&env, two).is_ok());
        let three =
            "case.hazards.exists(a, case.hazards.exists(b, case.hazards.exists(c, a == c)))";
        let err = compile_when(&env, three).unwrap_err();
        assert!(err.contains("nested 3 deep"), "{err}");
    }

    #[test]
    fn comprehensions_over_long_literal_lists_are_refused() {
        let env = cel::Env::stdlib();
        let list = |n: usize| {
            let items: Vec<String> = (0..n).map(|i| i.to_string()).collect();
            format!("[{}]", items.join(","))
        };
        // 60 x 60 = 3600 steps: allowed. 95 x 95 = 9025: refused.
        let ok = format!("{}.exists(a, {}.exists(b, a == b))", list(60), list(60));
        assert!(compile_when(&env, &ok).is_ok());
        let big = format!("{}.exists(a, {}.exists(b, a == b))", list(95), list(95));
        let err = compile_when(&env, &big).unwrap_err();
        assert!(err.contains("loop steps"), "{err}");
        // Over facts lists the bound is the 64-item cap: 64 + 64 x 64 = 4160, allowed.
        let facts = "case.hazards.exists(a, case.potential_hazards.exists(b, a == b))";
        assert_eq!(
            loop_steps(env.compile(facts).unwrap().expression(), 1),
            64 + 64 * 64
        );
    }

    #[test]
    fn unknown_variables_are_refused_at_compile_time() {
        let env = cel::Env::stdlib();
        let err = compile_when(&env, "kase.is_safety").unwrap_err();
        assert!(err.contains("unknown variable `kase`"), "{err}");
        assert!(compile_when(&env, "case.hazards.all(h, h != 'x')").is_ok());
    }
}
