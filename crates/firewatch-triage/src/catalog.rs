//! The product catalog (DESIGN section 6): `brand,model,aliases,category,price,currency`.

use serde::{Deserialize, Serialize};

/// One catalog product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub brand: String,
    pub model: String,
    pub aliases: Vec<String>,
    pub category: String,
    pub price: Option<f64>,
    pub currency: Option<String>,
}

/// A list of products that triage resolves mentions against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    products: Vec<Product>,
}

/// Why a catalog CSV could not be read. Lines are 1-based and count the header.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog CSV, line {line}: {message}")]
    Csv { line: u64, message: String },
    #[error(
        "catalog CSV header: missing column `{column}` (expected brand,model,aliases,category,price,currency)"
    )]
    MissingColumn { column: &'static str },
    #[error("catalog CSV, line {line}, column `{column}`: must not be empty")]
    Empty { line: u64, column: &'static str },
    #[error("catalog CSV, line {line}, column `price`: `{value}` is not a non-negative number")]
    BadPrice { line: u64, value: String },
    #[error(
        "catalog CSV, line {line}, column `currency`: `{value}` is not a 3-letter ISO 4217 code"
    )]
    BadCurrency { line: u64, value: String },
}

const COLUMNS: [&str; 6] = ["brand", "model", "aliases", "category", "price", "currency"];

impl Catalog {
    pub fn from_products(products: Vec<Product>) -> Catalog {
        Catalog { products }
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// Parses the catalog CSV. The header must name the six columns (any order, extra
    /// columns ignored); `aliases` is `|`-separated; `price`, `currency`, `aliases` and
    /// `category` may be empty.
    pub fn from_csv_str(csv_text: &str) -> Result<Catalog, CatalogError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(csv_text.as_bytes());
        let headers = reader.headers().map_err(|e| csv_error(&e, 1))?.clone();
        let mut idx = [0usize; 6];
        for (k, name) in COLUMNS.iter().enumerate() {
            idx[k] = headers
                .iter()
                .position(|h| h.trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
                .ok_or(CatalogError::MissingColumn { column: name })?;
        }
        let mut products = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(&e, 0))?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |k: usize| record.get(idx[k]).unwrap_or("").trim();
            let brand = field(0);
            if brand.is_empty() {
                return Err(CatalogError::Empty {
                    line,
                    column: "brand",
                });
            }
            let model = field(1);
            if model.is_empty() {
                return Err(CatalogError::Empty {
                    line,
                    column: "model",
                });
            }
            let aliases = field(2)
                .split('|')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect();
            let price = match field(4) {
                "" => None,
                p => match p.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                    _ => {
                        return Err(CatalogError::BadPrice {
                            line,
                            value: p.to_string(),
                        });
                    }
                },
            };
            let currency = match field(5) {
                "" => None,
                c if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                    Some(c.to_ascii_uppercase())
                }
                c => {
                    return Err(CatalogError::BadCurrency {
                        line,
                        value: c.to_string(),
                    });
                }
            };
            products.push(Product {
                brand: brand.to_string(),
                model: model.to_string(),
                aliases,
                category: field(3).to_string(),
                price,
                currency,
            });
        }
        Ok(Catalog { products })
    }
}

fn csv_error(e: &csv::Error, fallback_line: u64) -> CatalogError {
    let line = e.position().map_or(fallback_line, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields, found {len}"),
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        _ => e.to_string(),
    };
    CatalogError::Csv { line, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aliases_price_and_currency() {
        let c = Catalog::from_csv_str(
            "brand,model,aliases,category,price,currency\nSamsung,Galaxy Note7,Note7| Note 7 ,phone,849,eur\nAnker,PowerCore,,power bank,,\n",
        )
        .unwrap();
        assert_eq!(c.products().len(), 2);
        assert_eq!(c.products()[0].aliases, vec!["Note7", "Note 7"]);
        assert_eq!(c.products()[0].price, Some(849.0));
        assert_eq!(c.products()[0].currency.as_deref(), Some("EUR"));
        assert_eq!(c.products()[1].price, None);
        assert!(c.products()[1].aliases.is_empty());
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = Catalog::from_csv_str(
            "brand,model,aliases,category,price,currency\nA,B,,x,1,EUR\nC,D,,x,cheap,EUR\n",
        )
        .unwrap_err();
        assert_eq!(
            e,
            CatalogError::BadPrice {
                line: 3,
                value: "cheap".into()
            }
        );
        assert!(e.to_string().contains("line 3, column `price`"));
        let e = Catalog::from_csv_str("brand,model,aliases,category,price,currency\n,D,,x,1,EUR\n")
            .unwrap_err();
        assert_eq!(
            e,
            CatalogError::Empty {
                line: 2,
                column: "brand"
            }
        );
        let e = Catalog::from_csv_str("brand,model,category\nA,B,c\n").unwrap_err();
        assert_eq!(e, CatalogError::MissingColumn { column: "aliases" });
        let e = Catalog::from_csv_str("brand,model,aliases,category,price,currency\nA,B,,x,1\n")
            .unwrap_err();
        assert!(matches!(e, CatalogError::Csv { line: 2, .. }), "{e:?}");
    }
}
