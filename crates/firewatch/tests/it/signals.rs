//! Defect signals end to end: products and exposure imported (API and CLI), reports
//! submitted through intake with a planted excess of fires for one model, a signal opened
//! by the background job with the statistics recomputed here from the inputs, its
//! lifecycle, and role denials.

use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// `YYYY-MM` of a day number (days since 1970-01-01), and of today.
fn month_of_day(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}")
}

fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    secs.div_euclid(86_400)
}

/// P(X < c) for X ~ Poisson(mu), summed term by term.
fn poisson_cdf_below(c: u64, mu: f64) -> f64 {
    let mut term = (-mu).exp();
    let mut sum = 0.0;
    for k in 0..c {
        sum += term;
        term *= mu / (k + 1) as f64;
    }
    sum
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12)
}

const PRODUCTS_CSV: &str = "brand,model,aliases,category,price,currency
Voltra,Blaze 9,Blaze9,phone,499,EUR
Kestrel,K1,,phone,299,EUR
Orca,Wave,,phone,199,EUR
";

struct World {
    server: Server,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
    admin: String,
    agent: String,
    safety: String,
    hq: String,
    pr: String,
}

impl World {
    async fn report(&self, narrative: &str, country: &str) -> Value {
        let resp = post_json(
            &self.http,
            &self.server.url("/api/v1/reports"),
            &self.agent,
            &json!({"narrative": narrative, "country": country, "channel": "phone"}),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    async fn get(&self, token: &str, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let url = if qs.is_empty() {
            self.server.url(path)
        } else {
            format!("{}?{}", self.server.url(path), qs.join("&"))
        };
        self.http.get(url).bearer_auth(token).send().await.unwrap()
    }

    async fn transition(&self, token: &str, id: &str, to: &str) -> reqwest::Response {
        post_json(
            &self.http,
            &self
                .server
                .url(&format!("/api/v1/signals/{id}/transitions")),
            token,
            &json!({"to": to, "reason": format!("moving to {to}")}),
        )
        .await
    }
}

fn fire(v: &Value) -> bool {
    v["hazards"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["code"] == "thermal.fire" && h["modality"] == "occurred")
}

fn field_names(v: &Value) -> Vec<String> {
    v["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

crate::on_both!(multi_thread a_planted_excess_of_fires_opens_a_signal_with_the_expected_statistics);
async fn a_planted_excess_of_fires_opens_a_signal_with_the_expected_statistics(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    if !use_backend(backend, &data).await {
        return;
    }
    let admin = user_with_token(&data, "root", "admin");
    let agent = user_with_token(&data, "alice", "agent");
    let safety = user_with_token(&data, "sam", "safety");
    let hq = user_with_token(&data, "hana", "hq");
    let pr = user_with_token(&data, "paul", "pr");
    let server = Server::start(&data, &[]);
    let w = World {
        server,
        _dir: dir,
        http: client(),
        admin,
        agent,
        safety,
        hq,
        pr,
    };

    // --- products: admin writes (CSV), staff reads, others are refused
    let post_products = |token: &str, body: &str, ct: &str| {
        w.http
            .post(w.server.url("/api/v1/products"))
            .bearer_auth(token)
            .header("content-type", ct)
            .body(body.to_string())
            .send()
    };
    let resp = post_products(&w.agent, PRODUCTS_CSV, "text/csv")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = post_products(&w.safety, PRODUCTS_CSV, "text/csv")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let bad = "brand,model,aliases,category,price,currency\nVoltra,X,,phone,1,EUR\nVoltra,Y,,phone,cheap,EUR\n";
    let resp = post_products(&w.admin, bad, "text/csv").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(field_names(&v), vec!["line 3, column price"], "{v}");
    let resp = post_products(&w.admin, PRODUCTS_CSV, "text/csv")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["created"].as_u64(), v["unchanged"].as_u64()),
        (Some(3), Some(0)),
        "{v}"
    );
    let resp = post_products(&w.admin, &json!({"brand": "Orca", "model": "Wave", "category": "phone", "price": 199.0, "currency": "EUR"}).to_string(), "application/json").await.unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["unchanged"].as_u64(), Some(1), "{v}");
    let resp = w.get(&w.agent, "/api/v1/products", &[]).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    let listed: Vec<&str> = v["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["model"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec!["K1", "Wave", "Blaze 9"]);

    // --- exposure: JSON and CSV errors name row/line and column; the CLI imports the file
    let cur = month_of_day(today());
    let prev = month_of_day(today() - 40);
    let resp = post_json(&w.http, &w.server.url("/api/v1/exposure"), &w.safety, &json!([{"brand": "Voltra", "model": "Blaze 9", "market": "France", "month": "2026-13", "units_sold": -1}])).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        field_names(&v),
        vec!["rows[0].market", "rows[0].month", "rows[0].units_sold"]
    );
    let unknown = format!(
        "brand,model,market,month,units_sold\nVoltra,Blaze 9,FR,{cur},5\nVoltra,Blaze 10,FR,{cur},5\n"
    );
    let resp = w
        .http
        .post(w.server.url("/api/v1/exposure"))
        .bearer_auth(&w.admin)
        .header("content-type", "text/csv")
        .body(unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(field_names(&v), vec!["line 3, column model"], "{v}");
    let resp = w
        .http
        .post(w.server.url("/api/v1/exposure"))
        .bearer_auth(&w.agent)
        .header("content-type", "text/csv")
        .body("brand,model,market,month,units_sold\n")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Units: Blaze 9 40,000 + 10,000 in FR and 30,000 in DE; the rest of the phones
    // 400,000 in FR. A month in the future is not in the field yet.
    let exposure = [
        ("Voltra", "Blaze 9", "FR", prev.as_str(), 40_000u64),
        ("Voltra", "Blaze 9", "FR", cur.as_str(), 10_000),
        ("Voltra", "Blaze 9", "DE", cur.as_str(), 30_000),
        ("Kestrel", "K1", "FR", prev.as_str(), 150_000),
        ("Kestrel", "K1", "FR", cur.as_str(), 50_000),
        ("Orca", "Wave", "FR", cur.as_str(), 200_000),
        ("Orca", "Wave", "FR", "2099-01", 999_999),
    ];
    let mut csv = String::from("brand,model,market,month,units_sold\n");
    for (b, m, mk, mo, u) in &exposure {
        csv.push_str(&format!("{b},{m},{mk},{mo},{u}\n"));
    }
    let file = data.join("exposure.csv");
    std::fs::write(&file, &csv).unwrap();
    let out = cli(&data, &["import", "exposure", file.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("7 created, 0 updated, 0 unchanged"));
    let out = cli(&data, &["import", "exposure", file.to_str().unwrap()], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 created, 0 updated, 7 unchanged"));
    let bad_file = data.join("bad.csv");
    std::fs::write(&bad_file, format!("brand,model,market,month,units_sold\nVoltra,Blaze 9,FR,{cur},10\nVoltra,Blaze 9,FR,{prev},many\n")).unwrap();
    let out = cli(
        &data,
        &["import", "exposure", bad_file.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3, column `units_sold`"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let units = |model: &str, market: Option<&str>| -> f64 {
        exposure
            .iter()
            .filter(|(_, m, mk, mo, _)| {
                *m == model && *mo <= cur.as_str() && market.is_none_or(|x| x == *mk)
            })
            .map(|e| e.4 as f64)
            .sum()
    };

    // --- reports: 6 fires in FR and 2 in DE for the Blaze 9, 2 for the K1, quiet ones
    let mut blaze = Vec::new();
    let mut k1 = Vec::new();
    let mut quiet = Vec::new();
    for i in 0..6 {
        blaze.push((
            w.report(
                &format!("My Voltra Blaze 9 caught fire while charging on the nightstand ({i})."),
                "FR",
            )
            .await,
            "FR",
        ));
    }
    for i in 0..2 {
        blaze.push((
            w.report(
                &format!("Mein Voltra Blaze 9 caught fire while charging in the kitchen ({i})."),
                "DE",
            )
            .await,
            "DE",
        ));
    }
    blaze.push((
        w.report("My Voltra Blaze 9 screen cracked when I dropped it.", "FR")
            .await,
        "FR",
    ));
    for i in 0..2 {
        k1.push(
            w.report(
                &format!("My Kestrel K1 caught fire while charging ({i})."),
                "FR",
            )
            .await,
        );
    }
    for i in 0..3 {
        quiet.push(
            w.report(
                &format!("The Orca Wave screen flickers sometimes ({i})."),
                "FR",
            )
            .await,
        );
    }
    // The expected figures, from what was submitted (hazards as intake reported them).
    let a = blaze.iter().filter(|(v, _)| fire(v)).count() as u64;
    let a_de = blaze.iter().filter(|(v, m)| fire(v) && *m == "DE").count() as u64;
    let n_p = blaze.len() as u64;
    let rest_fires = k1.iter().filter(|v| fire(v)).count() as u64
        + quiet.iter().filter(|v| fire(v)).count() as u64;
    let n_total = (blaze.len() + k1.len() + quiet.len()) as u64;
    assert_eq!(
        (a, a_de, rest_fires),
        (8, 2, 2),
        "triage should see the planted fires"
    );

    // --- the job opens a signal for (Blaze 9, class:thermal: the fires) and none for the K1
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = loop {
        let resp = w
            .get(
                &w.safety,
                "/api/v1/signals",
                &[("product", "Blaze 9"), ("hazard", "class:thermal")],
            )
            .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let v: Value = resp.json().await.unwrap();
        if !v["signals"].as_array().unwrap().is_empty() {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "no signal opened within 30 s: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let sig = &list["signals"][0];
    assert_eq!(sig["status"], "new");
    assert_eq!(sig["product"]["model"], "Blaze 9");
    assert_eq!(sig["reference"], "SIG-000001");
    assert_eq!(sig["trigger"]["window_days"], 30);
    let id = sig["id"].as_str().unwrap().to_string();
    let s30 = sig["stats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["window_days"] == 30)
        .unwrap();
    assert_eq!(s30["count"].as_u64(), Some(a));
    assert_eq!(s30["product_reports"].as_u64(), Some(n_p));
    assert_eq!(s30["total_reports"].as_u64(), Some(n_total));
    assert_eq!(s30["hazard_reports"].as_u64(), Some(a + rest_fires));
    let u = units("Blaze 9", None);
    assert_eq!(s30["units"].as_f64(), Some(u));
    let rate = &s30["rate_per_million"];
    assert!(
        close(
            rate["estimate"].as_f64().unwrap(),
            a as f64 / u * 1e6,
            1e-12
        ),
        "{rate}"
    );
    // Garwood: P(X >= a | lower) = 0.025 and P(X <= a | upper) = 0.025.
    let lower = rate["lower"].as_f64().unwrap() * u / 1e6;
    let upper = rate["upper"].as_f64().unwrap() * u / 1e6;
    assert!(
        (1.0 - poisson_cdf_below(a, lower) - 0.025).abs() < 1e-6,
        "lower {lower}"
    );
    assert!(
        (poisson_cdf_below(a + 1, upper) - 0.025).abs() < 1e-6,
        "upper {upper}"
    );
    let rest_units = units("K1", None) + units("Wave", None);
    assert_eq!(s30["category_units"].as_f64(), Some(rest_units));
    assert_eq!(s30["category_count"].as_u64(), Some(rest_fires));
    let cat_rate = rest_fires as f64 / rest_units * 1e6;
    assert!(close(
        s30["category_rate_per_million"].as_f64().unwrap(),
        cat_rate,
        1e-12
    ));
    assert!(close(
        s30["rate_ratio"]["estimate"].as_f64().unwrap(),
        (a as f64 / u) / (rest_fires as f64 / rest_units),
        1e-9
    ));
    let d = &s30["disproportionality"];
    let (af, bf) = (a as f64, (n_p - a) as f64);
    let (cf, df) = (rest_fires as f64, (n_total - n_p - rest_fires) as f64);
    assert!(
        close(
            d["prr"].as_f64().unwrap(),
            (af / (af + bf)) / (cf / (cf + df)),
            1e-9
        ),
        "{d}"
    );
    assert!(
        close(d["ror"].as_f64().unwrap(), (af * df) / (bf * cf), 1e-9),
        "{d}"
    );
    assert!(close(
        d["expected"].as_f64().unwrap(),
        n_p as f64 * (a + rest_fires) as f64 / n_total as f64,
        1e-12
    ));
    let eb05 = d["eb05"].as_f64().unwrap();
    assert!(eb05 > 0.0 && eb05 < d["ebgm"].as_f64().unwrap(), "{d}");
    let mu = u * rest_fires as f64 / rest_units;
    let llr = (mu - af) + af * (af / mu).ln();
    assert!(close(
        s30["maxsprt"]["expected"].as_f64().unwrap(),
        mu,
        1e-12
    ));
    assert!(close(s30["maxsprt"]["llr"].as_f64().unwrap(), llr, 1e-9));
    let cv = list["maxsprt_critical_value"].as_f64().unwrap();
    assert_eq!(s30["maxsprt"]["critical_value"].as_f64(), Some(cv));
    let crossed: Vec<&str> = s30["crossed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        crossed.contains(&"rate"),
        lower / u * 1e6 > cat_rate,
        "{crossed:?}"
    );
    assert_eq!(crossed.contains(&"maxsprt"), llr > cv, "{crossed:?}");
    assert!(!crossed.is_empty());
    let resp = w
        .get(&w.safety, "/api/v1/signals", &[("product", "K1")])
        .await;
    let v: Value = resp.json().await.unwrap();
    assert!(v["signals"].as_array().unwrap().is_empty(), "{v}");

    // Per market and per window filters.
    let resp = w
        .get(
            &w.pr,
            "/api/v1/signals",
            &[("market", "DE"), ("window", "30")],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    let de = &v["signals"][0]["stats"];
    assert_eq!(de.as_array().unwrap().len(), 1);
    assert_eq!(
        (de[0]["market"].as_str(), de[0]["count"].as_u64()),
        (Some("DE"), Some(a_de))
    );
    assert_eq!(de[0]["units"].as_f64(), Some(units("Blaze 9", Some("DE"))));
    let resp = w
        .get(&w.safety, "/api/v1/signals", &[("window", "7")])
        .await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // --- detail: linked cases, per-market figures, monthly observed vs expected
    let resp = w
        .get(&w.safety, &format!("/api/v1/signals/{id}"), &[])
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let det: Value = resp.json().await.unwrap();
    let linked: BTreeSet<&str> = det["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["case_id"].as_str().unwrap())
        .collect();
    let fired: BTreeSet<&str> = blaze
        .iter()
        .filter(|(v, _)| fire(v))
        .map(|(v, _)| v["case_id"].as_str().unwrap())
        .collect();
    assert_eq!(linked, fired);
    let fr = det["stats"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["window_days"] == 365 && s["market"] == "FR")
        .unwrap();
    assert_eq!(fr["count"].as_u64(), Some(a - a_de));
    assert_eq!(fr["units"].as_f64(), Some(units("Blaze 9", Some("FR"))));
    let last = det["monthly"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["month"].as_str(), Some(cur.as_str()));
    assert_eq!(last["observed"].as_u64(), Some(a));
    assert!(
        close(last["expected"].as_f64().unwrap(), mu, 1e-12),
        "{last}"
    );
    assert_eq!(
        det["allowed_transitions"],
        json!(["investigating", "dismissed"])
    );

    // --- lifecycle: roles, the table, audit
    for token in [&w.agent, &w.pr, &w.admin] {
        let resp = w.transition(token, &id, "investigating").await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    }
    let resp = w.get(&w.agent, "/api/v1/signals", &[]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = w
        .http
        .get(w.server.url("/api/v1/signals"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = w.transition(&w.safety, &id, "recall").await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["allowed"], json!(["investigating", "dismissed"]));
    let resp = w.transition(&w.safety, &id, "investigating").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = w.transition(&w.hq, &id, "confirmed").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = w.transition(&w.hq, &id, "recall").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "recall");
    assert!(v["closed_at"].is_string());
    let resp = w.transition(&w.safety, &id, "dismissed").await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let resp = w.transition(&w.safety, &id, "reopened").await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = w
        .get(
            &w.safety,
            "/api/v1/audit",
            &[("entity", &format!("signal:{id}"))],
        )
        .await;
    let v: Value = resp.json().await.unwrap();
    let trail: Vec<(String, String)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |k: &str, a: &str| (k.to_string(), a.to_string());
    assert_eq!(
        trail,
        vec![
            expect("signal.opened", "system:signals"),
            expect("signal.transitioned", "sam"),
            expect("signal.transitioned", "hana"),
            expect("signal.transitioned", "hana"),
        ]
    );

    // More fires after the recall do not open a second signal for the pair.
    w.report("My Voltra Blaze 9 caught fire again while charging.", "FR")
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let resp = w
        .get(&w.safety, "/api/v1/signals", &[("product", "Blaze 9")])
        .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["signals"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["signals"][0]["stats"][0]["count"].as_u64(), Some(a + 1));

    let out = cli(&data, &["audit", "verify"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_catalog_csv_seeds_an_empty_store_and_cli_imports_name_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    std::fs::write(data.join("catalog.csv"), PRODUCTS_CSV).unwrap();
    let bad = data.join("bad.csv");
    std::fs::write(
        &bad,
        "brand,model,aliases,category,price,currency\nA,B,,x,1,EUR\nC,D,,x,cheap,EUR\n",
    )
    .unwrap();
    let out = cli(&data, &["import", "products", bad.to_str().unwrap()], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3, column `price`"), "{err}");
    let admin = user_with_token(&data, "root", "admin");
    let server = Server::start(&data, &[]);
    let http = client();
    let v: Value = get_json(&http, &server.url("/api/v1/products"), &admin).await;
    assert_eq!(v["products"].as_array().unwrap().len(), 3, "{v}");
    let doc: Value = http
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemas = &doc["components"]["schemas"];
    assert!(
        schemas["SignalList"]["properties"]["signals"].is_object(),
        "{schemas}"
    );
    assert!(schemas["WindowStats"]["properties"]["rate_per_million"].is_object());
    assert_eq!(
        doc["paths"]["/api/v1/signals/{id}/transitions"]["post"]["x-roles"],
        json!(["safety", "hq"])
    );
    // A product added by the CLI while the server runs reaches triage without a restart.
    let more = data.join("more.csv");
    std::fs::write(
        &more,
        "brand,model,aliases,category,price,currency\nNimbus,Cloud 3,,charger,19,EUR\n",
    )
    .unwrap();
    let out = cli(&data, &["import", "products", more.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 created"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v: Value = post_json(
            &http,
            &server.url("/api/v1/reports"),
            &admin,
            &json!({"narrative": "My Nimbus Cloud 3 charger caught fire.", "country": "FR"}),
        )
        .await
        .json()
        .await
        .unwrap();
        assert!(v["case_id"].is_string(), "{v}");
        let counted = sql_count(&data, "SELECT COUNT(*) FROM signal_reports sr JOIN products p ON p.id = sr.product_id WHERE p.model = 'Cloud 3'").await;
        if counted > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "triage never resolved the new product"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
