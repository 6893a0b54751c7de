//! What counting a report for defect signals costs the group-committed writer: intake
//! throughput through `Store::intake` with reports whose product is not in the catalog
//! (nothing counted) and with reports of a catalog product with 1 to 3 hazards (a product
//! lookup, one upsert per hazard and one for the report total, the attribution row and
//! the re-evaluation mark, all in the intake transaction).
//!
//!     cargo run -p firewatch-store --example signal_intake_cost -- [REPORTS] [IN_FLIGHT]
//!
//! A debug build measures sqlx and SQLite unoptimised; compare the two lines, not the
//! absolute numbers, or run it with --release where that is allowed.

use firewatch_domain::intake::{Channel, NewReport, ProductDetails, Reporter};
use firewatch_domain::{InjuryLevel, Severity};
use firewatch_store::signals::{NewProduct, SignalStore};
use firewatch_store::sqlite::SqliteStore;
use firewatch_store::{Actor, IntakeCommand, Store};
use std::sync::Arc;
use std::time::Instant;

const HAZARDS: [&str; 3] = ["thermal.fire", "thermal.smoke", "battery.swelling"];

fn report(i: usize, in_catalog: bool) -> IntakeCommand {
    let model = if in_catalog {
        format!("M{}", i % 200)
    } else {
        format!("X{}", i % 200)
    };
    let hazards: Vec<&str> = HAZARDS[..1 + i % 3].to_vec();
    let triage = serde_json::json!({
        "language": "en",
        "hazards": hazards.iter().map(|h| serde_json::json!({"code": h, "modality": "occurred", "evidence": [{"start": 0, "end": 5, "text": "smoke"}]})).collect::<Vec<_>>(),
        "negated": [], "injuries": [],
        "products": [{"brand": "Acme", "model": model, "score": 1.0, "evidence": []}],
        "severity": "S1",
    });
    IntakeCommand {
        idempotency_key: Some(format!("k{i}-{in_catalog}")),
        request_hash: format!("h{i}"),
        report: NewReport {
            narrative: "My phone started smoking in my bag, then the battery exploded.".into(),
            language: Some("en".into()),
            product: ProductDetails::default(),
            occurred_at: None,
            country: Some(["FR", "DE", "US"][i % 3].into()),
            reporter: Reporter::default(),
            injuries: InjuryLevel::None,
            channel: Channel::Web,
        },
        hazards: hazards.iter().map(|h| h.to_string()).collect(),
        reported_hazards: vec![],
        case_product: (Some("Acme".into()), Some(model.clone())),
        triage_json: triage.to_string(),
        severity: Severity::S1,
        attachments: vec![],
        received_at_ms: 1_790_000_000_000 + (i as i64 % 30) * 86_400_000,
        actor: Actor::public(),
    }
}

async fn run(n: usize, in_flight: usize, in_catalog: bool) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("fw.sqlite"))
            .await
            .expect("open"),
    );
    let products = (0..200)
        .map(|i| NewProduct {
            brand: "Acme".into(),
            model: format!("M{i}"),
            aliases: vec![],
            category: "phone".into(),
            price: None,
            currency: None,
        })
        .collect();
    store
        .upsert_products(products, &Actor::cli())
        .await
        .expect("products");
    let start = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let r = store.intake(report(i, in_catalog)).await;
            drop(permit);
            r
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("intake");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(5000);
    let in_flight = args.get(1).copied().unwrap_or(64);
    // Alternate the order and keep the median of five runs each: the machine is shared.
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for round in 0..5 {
        if round % 2 == 0 {
            without.push(run(n, in_flight, false).await);
            with.push(run(n, in_flight, true).await);
        } else {
            with.push(run(n, in_flight, true).await);
            without.push(run(n, in_flight, false).await);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut without), median(&mut with));
    println!(
        "{n} reports, {in_flight} in flight, median of 5: {a:.0} reports/s uncounted, {b:.0} reports/s counted ({:+.0}%)",
        (b / a - 1.0) * 100.0
    );
}
