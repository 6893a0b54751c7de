//! Intake validation: the JSON of DESIGN section 6 becomes a [`NewReport`], or a list of
//! every offending field. Validation collects all problems instead of stopping at the first,
//! so that a caller can fix a form in one round trip.

use crate::hazard::InjuryLevel;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

pub const MAX_NARRATIVE_CHARS: usize = 20_000;
const MAX_SHORT_FIELD_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Web,
    Phone,
    Email,
    Social,
    News,
    Regulator,
    Api,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Web,
        Channel::Phone,
        Channel::Email,
        Channel::Social,
        Channel::News,
        Channel::Regulator,
        Channel::Api,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Phone => "phone",
            Channel::Email => "email",
            Channel::Social => "social",
            Channel::News => "news",
            Channel::Regulator => "regulator",
            Channel::Api => "api",
        }
    }
}

impl std::str::FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown channel `{s}`"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Price {
    pub amount: f64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ProductDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Price>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Reporter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
}

/// A validated intake report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReport {
    pub narrative: String,
    pub language: Option<String>,
    pub product: ProductDetails,
    pub occurred_at: Option<String>,
    pub country: Option<String>,
    pub reporter: Reporter,
    pub injuries: InjuryLevel,
    pub channel: Channel,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path, e.g. `product.price.amount`.
    pub field: String,
    /// Stable machine code: required, type, unknown, too_long, too_short, format, value.
    pub code: &'static str,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

struct Collector {
    errors: Vec<FieldError>,
}

impl Collector {
    fn push(&mut self, field: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            code,
            message: message.into(),
        });
    }

    fn unknown_fields(&mut self, obj: &Map<String, Value>, prefix: &str, known: &[&str]) {
        for key in obj.keys() {
            if !known.contains(&key.as_str()) {
                self.push(
                    join(prefix, key),
                    "unknown",
                    format!("unknown field; expected one of {}", known.join(", ")),
                );
            }
        }
    }

    /// An optional string field: absent or null is None; anything but a string is an error.
    fn opt_string(
        &mut self,
        obj: &Map<String, Value>,
        prefix: &str,
        key: &str,
        max: usize,
    ) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.chars().count() > max {
                    self.push(
                        join(prefix, key),
                        "too_long",
                        format!("at most {max} characters"),
                    );
                    None
                } else if s.is_empty() {
                    None
                } else {
                    Some(s.to_string())
                }
            }
            Some(other) => {
                self.push(
                    join(prefix, key),
                    "type",
                    format!("expected a string, got {}", kind(other)),
                );
                None
            }
        }
    }

    fn opt_object<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        prefix: &str,
        key: &str,
    ) -> Option<&'v Map<String, Value>> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                self.push(
                    join(prefix, key),
                    "type",
                    format!("expected an object, got {}", kind(other)),
                );
                None
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Validates a parsed intake body. `default_channel` applies when the body names none.
pub fn validate_report(
    body: &Value,
    default_channel: Channel,
) -> Result<NewReport, Vec<FieldError>> {
    let mut c = Collector { errors: Vec::new() };
    let Some(obj) = body.as_object() else {
        c.push(
            "",
            "type",
            format!("expected a JSON object, got {}", kind(body)),
        );
        return Err(c.errors);
    };
    c.unknown_fields(
        obj,
        "",
        &[
            "narrative",
            "language",
            "product",
            "occurred_at",
            "country",
            "reporter",
            "injuries",
            "channel",
        ],
    );

    let narrative = match obj.get("narrative") {
        None | Some(Value::Null) => {
            c.push("narrative", "required", "a narrative is required");
            None
        }
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if s.trim().is_empty() {
                c.push("narrative", "too_short", "the narrative must not be empty");
                None
            } else if n > MAX_NARRATIVE_CHARS {
                c.push(
                    "narrative",
                    "too_long",
                    format!("at most {MAX_NARRATIVE_CHARS} characters, got {n}"),
                );
                None
            } else {
                Some(s.clone())
            }
        }
        Some(other) => {
            c.push(
                "narrative",
                "type",
                format!("expected a string, got {}", kind(other)),
            );
            None
        }
    };

    let language = c.opt_string(obj, "", "language", 35);
    if let Some(tag) = &language
        && !is_bcp47_like(tag)
    {
        c.push(
            "language",
            "format",
            format!("`{tag}` is not a BCP 47 language tag"),
        );
    }

    let mut product = ProductDetails::default();
    if let Some(p) = c.opt_object(obj, "", "product") {
        c.unknown_fields(
            p,
            "product",
            &["brand", "model", "serial", "purchase_date", "price"],
        );
        product.brand = c.opt_string(p, "product", "brand", MAX_SHORT_FIELD_CHARS);
        product.model = c.opt_string(p, "product", "model", MAX_SHORT_FIELD_CHARS);
        product.serial = c.opt_string(p, "product", "serial", MAX_SHORT_FIELD_CHARS);
        product.purchase_date = c.opt_string(p, "product", "purchase_date", 10);
        if let Some(d) = &product.purchase_date
            && !(d.len() == 10 && d.parse::<jiff::civil::Date>().is_ok())
        {
            c.push(
                "product.purchase_date",
                "format",
                format!("`{d}` is not a date YYYY-MM-DD"),
            );
        }
        if let Some(pr) = c.opt_object(p, "product", "price") {
            c.unknown_fields(pr, "product.price", &["amount", "currency"]);
            let amount = match pr.get("amount") {
                Some(Value::Number(n)) => match n.as_f64() {
                    Some(a) if a.is_finite() && a >= 0.0 => Some(a),
                    _ => {
                        c.push(
                            "product.price.amount",
                            "value",
                            "must be a number of at least 0",
                        );
                        None
                    }
                },
                None | Some(Value::Null) => {
                    c.push(
                        "product.price.amount",
                        "required",
                        "a price needs an amount",
                    );
                    None
                }
                Some(other) => {
                    c.push(
                        "product.price.amount",
                        "type",
                        format!("expected a number, got {}", kind(other)),
                    );
                    None
                }
            };
            let currency = c.opt_string(pr, "product.price", "currency", 3);
            match &currency {
                Some(cur) if cur.len() == 3 && cur.bytes().all(|b| b.is_ascii_uppercase()) => {}
                Some(cur) => c.push(
                    "product.price.currency",
                    "format",
                    format!("`{cur}` is not an ISO 4217 code such as EUR"),
                ),
                None => c.push(
                    "product.price.currency",
                    "required",
                    "a price needs a currency",
                ),
            }
            if let (Some(amount), Some(currency)) = (amount, currency) {
                product.price = Some(Price { amount, currency });
            }
        }
    }

    let occurred_at = c.opt_string(obj, "", "occurred_at", 64);
    if let Some(t) = &occurred_at
        && t.parse::<jiff::Timestamp>().is_err()
    {
        c.push(
            "occurred_at",
            "format",
            format!("`{t}` is not an RFC 3339 timestamp"),
        );
    }

    let country = c
        .opt_string(obj, "", "country", 2)
        .map(|s| s.to_ascii_uppercase());
    if let Some(cc) = &country
        && !is_iso3166_alpha2(cc)
    {
        c.push(
            "country",
            "format",
            format!("`{cc}` is not an ISO 3166-1 alpha-2 country code"),
        );
    }

    let mut reporter = Reporter::default();
    if let Some(r) = c.opt_object(obj, "", "reporter") {
        c.unknown_fields(r, "reporter", &["name", "email", "phone", "handle"]);
        reporter.name = c.opt_string(r, "reporter", "name", MAX_SHORT_FIELD_CHARS);
        reporter.email = c.opt_string(r, "reporter", "email", 254);
        reporter.phone = c.opt_string(r, "reporter", "phone", 40);
        reporter.handle = c.opt_string(r, "reporter", "handle", MAX_SHORT_FIELD_CHARS);
        if let Some(e) = &reporter.email {
            let ok = e.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty() && d.contains('.') && !e.contains(char::is_whitespace)
            });
            if !ok {
                c.push("reporter.email", "format", "not an e-mail address");
            }
        }
    }

    let injuries = match c.opt_string(obj, "", "injuries", 16) {
        None => InjuryLevel::Unknown,
        Some(s) => s.parse().unwrap_or_else(|msg: String| {
            c.push("injuries", "value", msg);
            InjuryLevel::Unknown
        }),
    };

    let channel = match c.opt_string(obj, "", "channel", 16) {
        None => default_channel,
        Some(s) => s.parse().unwrap_or_else(|_| {
            c.push(
                "channel",
                "value",
                format!(
                    "unknown channel `{s}`; expected one of {}",
                    Channel::ALL.map(|c| c.as_str()).join(", ")
                ),
            );
            default_channel
        }),
    };

    match narrative {
        Some(narrative) if c.errors.is_empty() => Ok(NewReport {
            narrative,
            language,
            product,
            occurred_at,
            country,
            reporter,
            injuries,
            channel,
        }),
        _ => Err(c.errors),
    }
}

fn is_bcp47_like(tag: &str) -> bool {
    let mut parts = tag.split(['-', '_']);
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

const ISO3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// ISO 3166-1 alpha-2 (the 249 officially assigned codes), upper case.
pub fn is_iso3166_alpha2(code: &str) -> bool {
    code.len() == 2 && ISO3166_ALPHA2.split(' ').any(|c| c == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(errs: &[FieldError]) -> Vec<&str> {
        errs.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_full_report_is_accepted() {
        let r = validate_report(
            &json!({"narrative": "Il a pris feu", "language": "fr-FR", "country": "fr",
                "product": {"brand": "Acme", "model": "X1", "purchase_date": "2026-01-31",
                            "price": {"amount": 499.0, "currency": "EUR"}},
                "occurred_at": "2026-02-01T10:00:00+01:00",
                "reporter": {"name": "Jean", "email": "jean@example.fr"},
                "injuries": "minor", "channel": "phone"}),
            Channel::Web,
        )
        .unwrap();
        assert_eq!(r.country.as_deref(), Some("FR"));
        assert_eq!(r.channel, Channel::Phone);
        assert_eq!(r.injuries, InjuryLevel::Minor);
        assert_eq!(r.product.price.unwrap().amount, 499.0);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let errs = validate_report(
            &json!({"narrative": 3, "country": "XX", "occurred_at": "yesterday",
                "product": {"purchase_date": "2026-02-30", "price": {"amount": "9", "currency": "eur"}, "colour": "red"},
                "injuries": "bad", "channel": "pigeon", "extra": true}),
            Channel::Web,
        )
        .unwrap_err();
        let f = fields(&errs);
        for want in [
            "narrative",
            "country",
            "occurred_at",
            "product.purchase_date",
            "product.price.amount",
            "product.price.currency",
            "product.colour",
            "injuries",
            "channel",
            "extra",
        ] {
            assert!(f.contains(&want), "{want} missing from {f:?}");
        }
    }

    #[test]
    fn a_missing_empty_or_oversize_narrative_is_refused() {
        let e = validate_report(&json!({}), Channel::Web).unwrap_err();
        assert_eq!(e[0].code, "required");
        let e = validate_report(&json!({"narrative": "   "}), Channel::Web).unwrap_err();
        assert_eq!(e[0].code, "too_short");
        let long = "é".repeat(MAX_NARRATIVE_CHARS + 1);
        let e = validate_report(&json!({ "narrative": long }), Channel::Web).unwrap_err();
        assert_eq!(e[0].code, "too_long");
        let exact = "é".repeat(MAX_NARRATIVE_CHARS);
        assert!(validate_report(&json!({ "narrative": exact }), Channel::Web).is_ok());
    }

    #[test]
    fn the_body_must_be_an_object() {
        let e = validate_report(&json!([1, 2]), Channel::Web).unwrap_err();
        assert_eq!(e[0].code, "type");
    }

    #[test]
    fn country_codes_are_checked_against_the_iso_list() {
        assert!(is_iso3166_alpha2("IN"));
        assert!(is_iso3166_alpha2("ID"));
        assert!(!is_iso3166_alpha2("EU"));
        assert!(!is_iso3166_alpha2("UK"));
        assert_eq!(ISO3166_ALPHA2.split(' ').count(), 249);
    }

    #[test]
    fn language_tags_are_checked_loosely() {
        for ok in ["en", "fr-FR", "hi-Latn", "zh-Hans-CN"] {
            assert!(is_bcp47_like(ok), "{ok}");
        }
        for bad in ["", "english!", "e", "fr--FR"] {
            assert!(!is_bcp47_like(bad), "{bad}");
        }
    }
}
