//! Fixture loading shared by the test modules.

use std::path::PathBuf;

pub fn fixture(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Parse a CSV fixture with a header into rows of string fields (quotes stripped; the
/// fixtures have no embedded commas in quoted fields except where noted).
pub fn rows(name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = fixture(name);
    let mut rdr = firewatch_stats::csvfast::CsvReader::new(text.as_bytes(), name);
    let rec = rdr.next_record().unwrap().unwrap();
    let header = (0..rec.len())
        .map(|i| rec.get_str(i).unwrap().into_owned())
        .collect();
    let mut out = Vec::new();
    while let Some(rec) = rdr.next_record().unwrap() {
        out.push(
            (0..rec.len())
                .map(|i| rec.get_str(i).unwrap().into_owned())
                .collect(),
        );
    }
    (header, out)
}

pub fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

pub fn num(s: &str) -> f64 {
    match s {
        "Inf" | "inf" => f64::INFINITY,
        _ => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
    }
}

pub fn close(a: f64, b: f64, rel: f64) -> bool {
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= rel * b.abs().max(1e-300)
}
