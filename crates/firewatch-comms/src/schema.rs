//! A small JSON Schema validator for the subset the export schemas use (draft 2020-12
//! keywords, subset only).
//!
//! Supported: `type` (one or a list), `properties`, `required`, `additionalProperties`
//! (boolean), `items`, `minItems`, `maxItems`, `uniqueItems`, `enum`, `const`, `minLength`,
//! `maxLength`, `minimum`, `maximum`, `format` (`date`, `email`, `uri`), `$ref` to
//! `#/$defs/NAME`, and the annotations `$schema`, `$id`, `$defs`, `title`, `description`,
//! `$comment`, `examples`. Any other keyword makes [`Schema::parse`] fail, so a schema never
//! silently relies on a check this validator does not make. Why not a crate: `boon` pulls
//! regex, url and the ICU crates (84 units, 176 s of compile time on this machine) for
//! features these schemas do not use.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

const KNOWN: [&str; 23] = [
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "$comment",
    "title",
    "description",
    "examples",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "format",
];

/// A schema this validator cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("schema is not JSON: {0}")]
    NotJson(String),
    #[error("schema at `{at}`: unsupported keyword `{keyword}`")]
    Unsupported { at: String, keyword: String },
    #[error("schema at `{at}`: {message}")]
    Invalid { at: String, message: String },
}

/// One way an instance fails its schema.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// Dotted path of the offending field (`firm.address.city`, `incidents.list[0].description`);
    /// empty for the root.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// A parsed, checked schema.
#[derive(Debug, Clone)]
pub struct Schema {
    root: Value,
}

impl Schema {
    pub fn parse(text: &str) -> Result<Schema, SchemaError> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| SchemaError::NotJson(e.to_string()))?;
        check_schema(&root, &root, "#")?;
        Ok(Schema { root })
    }

    /// Every violation, in document order of the instance.
    pub fn validate(&self, instance: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        validate(&self.root, &self.root, instance, "", &mut out);
        out
    }
}

fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let name = reference.strip_prefix("#/$defs/")?;
    root.get("$defs")?.get(name)
}

fn check_schema(root: &Value, s: &Value, at: &str) -> Result<(), SchemaError> {
    let obj = match s {
        Value::Object(o) => o,
        Value::Bool(_) => return Ok(()),
        _ => {
            return Err(SchemaError::Invalid {
                at: at.into(),
                message: "a schema must be an object or a boolean".into(),
            });
        }
    };
    for k in obj.keys() {
        if !KNOWN.contains(&k.as_str()) {
            return Err(SchemaError::Unsupported {
                at: at.into(),
                keyword: k.clone(),
            });
        }
    }
    if let Some(r) = obj.get("$ref") {
        let ok = r.as_str().and_then(|r| resolve(root, r)).is_some();
        if !ok {
            return Err(SchemaError::Invalid {
                at: at.into(),
                message: format!("unresolvable $ref {r}"),
            });
        }
    }
    if let Some(t) = obj.get("type") {
        let names: Vec<&Value> = match t {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        for n in names {
            let ok = n.as_str().is_some_and(|n| {
                matches!(
                    n,
                    "string" | "integer" | "number" | "boolean" | "object" | "array" | "null"
                )
            });
            if !ok {
                return Err(SchemaError::Invalid {
                    at: at.into(),
                    message: format!("unknown type {n}"),
                });
            }
        }
    }
    if let Some(f) = obj.get("format")
        && !matches!(f.as_str(), Some("date" | "email" | "uri"))
    {
        return Err(SchemaError::Unsupported {
            at: at.into(),
            keyword: format!("format {f}"),
        });
    }
    if let Some(a) = obj.get("additionalProperties")
        && !a.is_boolean()
    {
        return Err(SchemaError::Unsupported {
            at: at.into(),
            keyword: "additionalProperties (only booleans)".into(),
        });
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (k, v) in props {
            check_schema(root, v, &format!("{at}/properties/{k}"))?;
        }
    }
    if let Some(Value::Object(defs)) = obj.get("$defs") {
        for (k, v) in defs {
            check_schema(root, v, &format!("{at}/$defs/{k}"))?;
        }
    }
    if let Some(items) = obj.get("items") {
        check_schema(root, items, &format!("{at}/items"))?;
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(want: &str, v: &Value) -> bool {
    let have = type_name(v);
    have == want || (want == "number" && have == "integer")
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && s.parse::<jiff::civil::Date>().is_ok()
}

fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((u, d)) => {
            !u.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn is_uri(s: &str) -> bool {
    match s.split_once(':') {
        Some((scheme, rest)) => {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !rest.is_empty()
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn fail(out: &mut Vec<Violation>, field: &str, message: String) {
    out.push(Violation {
        field: field.to_string(),
        message,
    });
}

fn validate(root: &Value, s: &Value, v: &Value, path: &str, out: &mut Vec<Violation>) {
    let obj: &Map<String, Value> = match s {
        Value::Bool(true) => return,
        Value::Bool(false) => {
            fail(out, path, "no value is allowed here".into());
            return;
        }
        Value::Object(o) => o,
        _ => return,
    };
    if let Some(target) = obj
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| resolve(root, r))
    {
        validate(root, target, v, path, out);
        return;
    }
    if let Some(t) = obj.get("type") {
        let wanted: Vec<&str> = match t {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !wanted.iter().any(|w| type_matches(w, v)) {
            fail(
                out,
                path,
                format!("must be {} (found {})", wanted.join(" or "), type_name(v)),
            );
            return;
        }
    }
    if let Some(Value::Array(options)) = obj.get("enum")
        && !options.contains(v)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        fail(out, path, format!("must be one of {}", list.join(", ")));
    }
    if let Some(c) = obj.get("const")
        && c != v
    {
        fail(out, path, format!("must be {c}"));
    }
    match v {
        Value::String(st) => {
            let n = st.chars().count() as u64;
            if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
                && n < min
            {
                fail(
                    out,
                    path,
                    if min == 1 {
                        "must not be empty".to_string()
                    } else {
                        format!("must be at least {min} characters")
                    },
                );
            }
            if let Some(max) = obj.get("maxLength").and_then(Value::as_u64)
                && n > max
            {
                fail(out, path, format!("must be at most {max} characters"));
            }
            let bad_format = match obj.get("format").and_then(Value::as_str) {
                Some("date") => (!is_date(st)).then_some("a date (YYYY-MM-DD)"),
                Some("email") => (!is_email(st)).then_some("an e-mail address"),
                Some("uri") => (!is_uri(st)).then_some("a URI"),
                _ => None,
            };
            if let Some(what) = bad_format {
                fail(out, path, format!("must be {what}"));
            }
        }
        Value::Number(num) => {
            let x = num.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = obj.get("minimum").and_then(Value::as_f64)
                && (x.is_nan() || x < min)
            {
                fail(out, path, format!("must be at least {min}"));
            }
            if let Some(max) = obj.get("maximum").and_then(Value::as_f64)
                && (x.is_nan() || x > max)
            {
                fail(out, path, format!("must be at most {max}"));
            }
        }
        Value::Array(items) => {
            if let Some(min) = obj.get("minItems").and_then(Value::as_u64)
                && (items.len() as u64) < min
            {
                fail(
                    out,
                    path,
                    if min == 1 {
                        "must have at least one item".to_string()
                    } else {
                        format!("must have at least {min} items")
                    },
                );
            }
            if let Some(max) = obj.get("maxItems").and_then(Value::as_u64)
                && (items.len() as u64) > max
            {
                fail(out, path, format!("must have at most {max} items"));
            }
            if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
                let mut seen = BTreeSet::new();
                if items.iter().any(|i| !seen.insert(i.to_string())) {
                    fail(out, path, "must not repeat items".into());
                }
            }
            if let Some(item_schema) = obj.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(root, item_schema, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::Object(map) => {
            if let Some(Value::Array(req)) = obj.get("required") {
                for r in req.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        fail(out, &join(path, r), "is required".into());
                    }
                }
            }
            let props = obj.get("properties").and_then(Value::as_object);
            for (k, child) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => validate(root, ps, child, &join(path, k), out),
                    None => {
                        if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
                            fail(out, &join(path, k), "is not an allowed field".into());
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const S: &str = r##"{
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "type": "object",
      "required": ["name", "address", "tags"],
      "additionalProperties": false,
      "properties": {
        "name": {"type": "string", "minLength": 1},
        "address": {"$ref": "#/$defs/address"},
        "tags": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"enum": ["a", "b"]}},
        "on": {"type": "string", "format": "date"},
        "n": {"type": "integer", "minimum": 0}
      },
      "$defs": {"address": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string", "minLength": 1}}}}
    }"##;

    #[test]
    fn a_valid_instance_has_no_violation() {
        let s = Schema::parse(S).unwrap();
        let v = json!({"name": "x", "address": {"city": "Lyon"}, "tags": ["a"], "on": "2026-02-28", "n": 3});
        assert_eq!(s.validate(&v), vec![]);
    }

    #[test]
    fn each_violation_names_its_field() {
        let s = Schema::parse(S).unwrap();
        let v = json!({"name": "", "address": {}, "tags": ["a", "a", "c"], "on": "2026-02-30", "n": -1, "extra": 1});
        let got: Vec<String> = s.validate(&v).iter().map(ToString::to_string).collect();
        for want in [
            "name: must not be empty",
            "address.city: is required",
            "tags: must not repeat items",
            "tags[2]: must be one of \"a\", \"b\"",
            "on: must be a date (YYYY-MM-DD)",
            "n: must be at least 0",
            "extra: is not an allowed field",
        ] {
            assert!(got.iter().any(|g| g == want), "missing `{want}` in {got:?}");
        }
        let missing = s.validate(&json!({"address": {"city": "x"}, "tags": ["b"]}));
        assert_eq!(missing[0].field, "name");
        assert_eq!(missing[0].message, "is required");
    }

    #[test]
    fn a_keyword_outside_the_subset_is_refused() {
        let err = Schema::parse(r#"{"type": "string", "pattern": "^a"}"#).unwrap_err();
        assert!(
            matches!(err, SchemaError::Unsupported { ref keyword, .. } if keyword == "pattern")
        );
        assert!(Schema::parse(r##"{"$ref": "#/$defs/nope"}"##).is_err());
        assert!(Schema::parse(r#"{"format": "ipv4"}"#).is_err());
    }
}
