//! `firewatch demo`: a small demo installation served at once. On first start in an empty
//! data directory it adds one user per role, a catalog, and a handful of reports in several
//! languages that go through the real intake path; then it serves.
//! (The full generated world of issue 9 builds on this.)

use crate::config::Settings;
use crate::serve;
use anyhow::Context;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use firewatch_domain::Role;
use firewatch_store::Actor;
use tower::ServiceExt;

const CATALOG: &str = "brand,model,aliases,category,price,currency
Voltra,Note7 Pro,Note 7 Pro|N7P,phone,499,EUR
Voltra,Note7,Note 7,phone,399,EUR
Voltra,PowerCell 20K,PowerCell|PC20K,power_bank,49,EUR
Voltra,AirBook 14,AirBook,laptop,1099,EUR
Voltra,FastCharge 65W,FC65,charger,39,EUR
";

const REPORTS: &[(&str, &str, &str)] = &[
    (
        "fr",
        "FR",
        "Mon Voltra Note7 Pro a commencé à fumer dans mon sac, puis la batterie a explosé et le sac a pris feu. J'ai dû prendre un extincteur.",
    ),
    (
        "en",
        "US",
        "My PowerCell 20K got extremely hot while charging and the case is now swollen.",
    ),
    (
        "en",
        "GB",
        "The AirBook 14 screen flickers sometimes, no smoke or heat, just annoying.",
    ),
    (
        "de",
        "DE",
        "Das Ladegerät FastCharge 65W hat Funken gesprüht und es roch verbrannt.",
    ),
    (
        "es",
        "ES",
        "Mi Note7 se calentó muchísimo y salió humo del puerto de carga.",
    ),
    (
        "hi",
        "IN",
        "मेरा Voltra Note7 Pro चार्ज करते समय फट गया और मेरा हाथ जल गया।",
    ),
    (
        "pt",
        "BR",
        "O carregador FastCharge 65W deu choque quando toquei nele.",
    ),
    (
        "id",
        "ID",
        "Baterai PowerCell 20K saya menggembung dan mengeluarkan asap.",
    ),
];

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    settings.ensure_data_dir()?;
    let fresh = !settings.data.join("firewatch.sqlite").exists();
    if fresh {
        std::fs::write(settings.data.join("catalog.csv"), CATALOG)
            .context("cannot write the demo catalog")?;
    }
    let state = serve::build_state(&settings).await?;
    if fresh {
        seed(&state).await?;
    }
    println!("demo data in {}", settings.data.display());
    println!("demo logins (user / password / role):");
    for role in Role::ALL {
        println!("  demo-{role:<10} {:<24} {role}", demo_password(role));
    }
    println!(
        "API tokens for the demo users: firewatch token create demo-agent --data {}",
        settings.data.display()
    );
    serve::serve(settings, Some(state)).await
}

/// Demo passwords are fixed so that the README can show them; never use them elsewhere.
fn demo_password(role: Role) -> String {
    format!("demo-{}-password", role.as_str())
}

async fn seed(state: &firewatch_web::AppState) -> anyhow::Result<()> {
    let store = &state.store;
    for role in Role::ALL {
        let hash = firewatch_web::auth::hash_password(&demo_password(role))?;
        store
            .create_user(
                &format!("demo-{role}"),
                role,
                Some(hash),
                &Actor("demo".into()),
            )
            .await?;
    }
    let (token, hash) = firewatch_web::auth::new_token();
    store
        .create_token(
            "demo-agent",
            hash,
            Some("demo seeding".into()),
            &Actor("demo".into()),
        )
        .await?;
    let app = firewatch_web::app(state.clone());
    for (i, (lang, country, narrative)) in REPORTS.iter().enumerate() {
        let body = serde_json::json!({
            "narrative": narrative, "language": lang, "country": country,
            "channel": if i == 0 { "phone" } else { "web" },
            "injuries": if i == 5 { "minor" } else { "unknown" },
        });
        let req = Request::post("/api/v1/reports")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .header("idempotency-key", format!("demo-seed-{i}"))
            .body(Body::from(body.to_string()))?;
        let resp = app.clone().oneshot(req).await?;
        if resp.status() != StatusCode::CREATED {
            anyhow::bail!("demo report {i} was refused with {}", resp.status());
        }
    }
    Ok(())
}
