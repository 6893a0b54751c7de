//! Parsing and validating the catalog and exposure files of DESIGN section 6, for the API
//! and the CLI alike. Every problem names its line (1-based, the header is line 1) and
//! column; nothing is stored unless the whole input is valid.

use firewatch_store::signals::{NewExposure, NewProduct};
use std::fmt;

/// Most problems reported for one input (the rest are counted).
const MAX_ERRORS: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line (CSV) or row number (JSON).
    pub line: u64,
    pub column: Option<&'static str>,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "line {}, column `{c}`: {}", self.line, self.message),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

impl RowError {
    fn new(line: u64, column: Option<&'static str>, message: impl Into<String>) -> Self {
        RowError {
            line,
            column,
            message: message.into(),
        }
    }
}

pub const PRODUCT_COLUMNS: [&str; 6] =
    ["brand", "model", "aliases", "category", "price", "currency"];
pub const EXPOSURE_COLUMNS: [&str; 5] = ["brand", "model", "market", "month", "units_sold"];

fn text_field(
    errors: &mut Vec<RowError>,
    line: u64,
    column: &'static str,
    value: &str,
    required: bool,
    max: usize,
) -> String {
    let v = value.trim();
    if required && v.is_empty() {
        errors.push(RowError::new(line, Some(column), "must not be empty"));
    } else if v.chars().count() > max {
        errors.push(RowError::new(
            line,
            Some(column),
            format!("longer than {max} characters"),
        ));
    } else if v.chars().any(char::is_control) {
        errors.push(RowError::new(
            line,
            Some(column),
            "contains control characters",
        ));
    }
    v.to_string()
}

/// One catalog row; `aliases` is `|`-separated. Pushes problems to `errors`.
pub fn product_row(errors: &mut Vec<RowError>, line: u64, cells: [&str; 6]) -> Option<NewProduct> {
    let before = errors.len();
    let brand = text_field(errors, line, "brand", cells[0], true, 100);
    let model = text_field(errors, line, "model", cells[1], true, 100);
    let aliases_text = text_field(errors, line, "aliases", cells[2], false, 1000);
    let category = text_field(errors, line, "category", cells[3], false, 100);
    let price = match cells[4].trim() {
        "" => None,
        p => match p.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
            _ => {
                errors.push(RowError::new(
                    line,
                    Some("price"),
                    format!("`{p}` is not a non-negative number"),
                ));
                None
            }
        },
    };
    let currency = match cells[5].trim() {
        "" => None,
        c if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
            Some(c.to_ascii_uppercase())
        }
        c => {
            errors.push(RowError::new(
                line,
                Some("currency"),
                format!("`{c}` is not a 3-letter ISO 4217 code"),
            ));
            None
        }
    };
    let mut aliases: Vec<String> = Vec::new();
    for a in aliases_text
        .split('|')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        if !aliases.iter().any(|x| x.eq_ignore_ascii_case(a)) {
            aliases.push(a.to_string());
        }
    }
    (errors.len() == before).then_some(NewProduct {
        brand,
        model,
        aliases,
        category: category.to_lowercase(),
        price,
        currency,
    })
}

/// One exposure row. Pushes problems to `errors`.
pub fn exposure_row(
    errors: &mut Vec<RowError>,
    line: u64,
    cells: [&str; 5],
) -> Option<NewExposure> {
    let before = errors.len();
    let brand = text_field(errors, line, "brand", cells[0], true, 100);
    let model = text_field(errors, line, "model", cells[1], true, 100);
    let market = cells[2].trim().to_ascii_uppercase();
    if !(market.len() == 2 && market.bytes().all(|b| b.is_ascii_uppercase())) {
        errors.push(RowError::new(
            line,
            Some("market"),
            format!("`{}` is not an ISO 3166-1 alpha-2 code", cells[2].trim()),
        ));
    }
    let month = cells[3].trim();
    if !valid_month(month) {
        errors.push(RowError::new(
            line,
            Some("month"),
            format!("`{month}` is not a month YYYY-MM"),
        ));
    }
    let units_text = cells[4].trim();
    let units = match units_text.parse::<i64>() {
        Ok(u) if (0..=1_000_000_000_000).contains(&u) => u,
        _ => {
            errors.push(RowError::new(
                line,
                Some("units_sold"),
                format!("`{units_text}` is not a whole number of units (0 or more)"),
            ));
            0
        }
    };
    (errors.len() == before).then(|| NewExposure {
        line,
        brand,
        model,
        market,
        month: month.to_string(),
        units,
    })
}

fn valid_month(m: &str) -> bool {
    let b = m.as_bytes();
    if b.len() != 7 || b[4] != b'-' || !m[..4].bytes().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let year: u32 = m[..4].parse().unwrap_or(0);
    let month: u32 = m[5..].parse().unwrap_or(0);
    (1970..=2200).contains(&year)
        && (1..=12).contains(&month)
        && m[5..].bytes().all(|c| c.is_ascii_digit())
}

/// Reads a CSV whose header names `columns` (any order, case-insensitive, extra columns
/// ignored) and hands each record's cells to `row`.
fn read_csv<const N: usize, T>(
    text: &str,
    columns: [&'static str; N],
    mut row: impl FnMut(&mut Vec<RowError>, u64, [&str; N]) -> Option<T>,
    mut progress: impl FnMut(u64),
) -> Result<Vec<T>, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(vec![csv_error(&e, 1)]),
    };
    let mut idx = [0usize; N];
    let mut errors = Vec::new();
    for (k, name) in columns.iter().enumerate() {
        match headers.iter().position(|h| {
            h.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case(name)
        }) {
            Some(i) => idx[k] = i,
            None => errors.push(RowError::new(
                1,
                Some(name),
                format!(
                    "missing column (the header must name {})",
                    columns.join(",")
                ),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = Vec::new();
    let mut extra = 0usize;
    for (i, record) in reader.records().enumerate() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(csv_error(&e, i as u64 + 2));
                break;
            }
        };
        let line = record.position().map_or(i as u64 + 2, |p| p.line());
        let cells: [&str; N] = std::array::from_fn(|k| record.get(idx[k]).unwrap_or(""));
        let mut row_errors = Vec::new();
        if let Some(t) = row(&mut row_errors, line, cells) {
            out.push(t);
        }
        for e in row_errors {
            if errors.len() < MAX_ERRORS {
                errors.push(e);
            } else {
                extra += 1;
            }
        }
        progress(i as u64 + 1);
    }
    if extra > 0 {
        errors.push(RowError::new(0, None, format!("and {extra} more problems")));
    }
    if errors.is_empty() && out.is_empty() {
        errors.push(RowError::new(2, None, "no rows after the header"));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn csv_error(e: &csv::Error, fallback_line: u64) -> RowError {
    let line = e.position().map_or(fallback_line, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("expected {expected_len} fields, found {len}")
        }
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        _ => e.to_string(),
    };
    RowError::new(line, None, message)
}

/// The catalog CSV (`brand,model,aliases,category,price,currency`). A product listed twice
/// is an error naming both lines.
pub fn parse_products_csv(
    text: &str,
    progress: impl FnMut(u64),
) -> Result<Vec<NewProduct>, Vec<RowError>> {
    let mut lines = Vec::new();
    let products = read_csv(
        text,
        PRODUCT_COLUMNS,
        |errs, line, cells| {
            let p = product_row(errs, line, cells);
            if p.is_some() {
                lines.push(line);
            }
            p
        },
        progress,
    )?;
    no_duplicate_products(&products, &lines)?;
    Ok(products)
}

pub fn no_duplicate_products(products: &[NewProduct], lines: &[u64]) -> Result<(), Vec<RowError>> {
    let mut seen: std::collections::HashMap<(String, String), u64> = Default::default();
    for (p, line) in products.iter().zip(lines) {
        let key = (p.brand.to_lowercase(), p.model.to_lowercase());
        if let Some(first) = seen.insert(key, *line) {
            return Err(vec![RowError::new(
                *line,
                Some("model"),
                format!("{} {} is already listed on line {first}", p.brand, p.model),
            )]);
        }
    }
    Ok(())
}

/// The exposure CSV (`brand,model,market,month,units_sold`). The same (product, market,
/// month) twice is an error naming both lines.
pub fn parse_exposure_csv(
    text: &str,
    progress: impl FnMut(u64),
) -> Result<Vec<NewExposure>, Vec<RowError>> {
    let rows = read_csv(text, EXPOSURE_COLUMNS, exposure_row, progress)?;
    no_duplicate_exposure(&rows)?;
    Ok(rows)
}

pub fn no_duplicate_exposure(rows: &[NewExposure]) -> Result<(), Vec<RowError>> {
    let mut seen: std::collections::HashMap<(String, String, String, String), u64> =
        Default::default();
    for r in rows {
        let key = (
            r.brand.to_lowercase(),
            r.model.to_lowercase(),
            r.market.clone(),
            r.month.clone(),
        );
        if let Some(first) = seen.insert(key, r.line) {
            return Err(vec![RowError::new(
                r.line,
                Some("month"),
                format!(
                    "{} {} {} {} is already given on line {first}",
                    r.brand, r.model, r.market, r.month
                ),
            )]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_errors_name_line_and_column() {
        let e = parse_exposure_csv(
            "brand,model,market,month,units_sold\nVoltra,Note7,FR,2026-01,1000\nVoltra,Note7,France,2026-13,-5\n",
            |_| {},
        )
        .unwrap_err();
        let shown: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown[0].starts_with("line 3, column `market`"), "{shown:?}");
        assert!(shown[1].starts_with("line 3, column `month`"), "{shown:?}");
        assert!(
            shown[2].starts_with("line 3, column `units_sold`"),
            "{shown:?}"
        );
        let e = parse_exposure_csv("brand,model,month,units_sold\nA,B,2026-01,1\n", |_| {})
            .unwrap_err();
        assert_eq!(e[0].column, Some("market"));
        let e = parse_exposure_csv(
            "brand,model,market,month,units_sold\nA,B,fr,2026-01,1\na,b,FR,2026-01,2\n",
            |_| {},
        )
        .unwrap_err();
        assert_eq!(e[0].line, 3);
        assert!(e[0].message.contains("line 2"), "{}", e[0]);
        let ok = parse_exposure_csv(
            "units_sold,brand,model,market,month\n7,A,B,fr,2026-02\n",
            |_| {},
        )
        .unwrap();
        assert_eq!(
            (ok[0].market.as_str(), ok[0].units, ok[0].line),
            ("FR", 7, 2)
        );
    }

    #[test]
    fn product_rows_are_checked_and_normalised() {
        let p = parse_products_csv(
            "brand,model,aliases,category,price,currency\nVoltra,Note7 Pro,Note 7 Pro| N7P |n7p,Phone,499,eur\n",
            |_| {},
        )
        .unwrap();
        assert_eq!(p[0].aliases, vec!["Note 7 Pro", "N7P"]);
        assert_eq!(
            (p[0].category.as_str(), p[0].currency.as_deref()),
            ("phone", Some("EUR"))
        );
        let e = parse_products_csv(
            "brand,model,aliases,category,price,currency\n,X,,phone,cheap,EURO\n",
            |_| {},
        )
        .unwrap_err();
        let cols: Vec<_> = e.iter().map(|e| (e.line, e.column)).collect();
        assert_eq!(
            cols,
            vec![
                (2, Some("brand")),
                (2, Some("price")),
                (2, Some("currency"))
            ]
        );
        let e = parse_products_csv(
            "brand,model,aliases,category,price,currency\nA,B,,x,1\n",
            |_| {},
        )
        .unwrap_err();
        assert_eq!((e[0].line, e[0].column), (2, None));
        assert!(
            parse_products_csv("brand,model,aliases,category,price,currency\n", |_| {}).is_err()
        );
    }
}
