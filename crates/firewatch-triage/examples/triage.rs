//! Triage texts from the command line: `cargo run -p firewatch-triage --example triage -- [--catalog FILE] [--json] TEXT...`
use firewatch_triage::{Catalog, Triager};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut catalog = Catalog::default();
    let mut json = false;
    if let Some(i) = args.iter().position(|a| a == "--catalog") {
        let path = args.get(i + 1).cloned().unwrap_or_default();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        catalog = Catalog::from_csv_str(&text).unwrap_or_else(|e| panic!("{e}"));
        args.drain(i..=i + 1);
    }
    if let Some(i) = args.iter().position(|a| a == "--json") {
        json = true;
        args.remove(i);
    }
    let triager = Triager::new(catalog);
    for text in &args {
        let r = triager.triage(text, None);
        if json {
            println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
        } else {
            println!("{text}\n{}", r.to_text());
        }
    }
}
