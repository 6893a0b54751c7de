//! The checker on real published recall texts (tests/fixtures/SOURCE.md).

use firewatch_comms::{Finding, NoticeFacts, RuleId, check_recall_notice};
use firewatch_domain::HazardCode;
use serde_json::Value;

fn rappelconso(brand: &str) -> Value {
    let all: Vec<Value> =
        serde_json::from_str(include_str!("../fixtures/rappelconso_2_records.json"))
            .expect("fixture");
    all.into_iter()
        .find(|r| r["nom_de_la_marque_du_produit"] == brand)
        .expect("record")
}

fn field(r: &Value, name: &str) -> String {
    r[name].as_str().unwrap_or("").to_string()
}

/// The record laid out as the RappelConso fiche shows it (its own labels), optionally
/// headed.
fn fiche(r: &Value, heading: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(h) = heading {
        out.push_str(h);
        out.push_str("\n\n");
    }
    for (label, name) in [
        ("Nom de la marque du produit", "nom_de_la_marque_du_produit"),
        (
            "Noms des modèles ou références",
            "noms_des_modeles_ou_references",
        ),
        ("Identification des produits", "identification_des_produits"),
        ("Motif du rappel", "motif_du_rappel"),
        (
            "Risques encourus par le consommateur",
            "risques_encourus_par_le_consommateur",
        ),
        (
            "Description complémentaire du risque",
            "description_complementaire_du_risque",
        ),
        (
            "Conduites à tenir par le consommateur",
            "conduites_a_tenir_par_le_consommateur",
        ),
        ("Modalités de compensation", "modalites_de_compensation"),
        ("Numéro de contact", "numero_de_contact"),
        ("Photo", "liens_vers_les_images"),
    ] {
        let v = field(r, name);
        if !v.is_empty() && v != "None" {
            out.push_str(&format!("{label} : {v}\n"));
        }
    }
    out
}

fn rules(f: &[Finding]) -> Vec<RuleId> {
    f.iter().map(|x| x.rule).collect()
}

#[test]
fn a_real_rappelconso_fiche_lacks_the_gpsr_heading_and_uses_jargon() {
    let r = rappelconso("pafuluo");
    let facts = NoticeFacts {
        brand: "pafuluo".into(),
        model: "pafuluo x20".into(),
        hazards: vec![HazardCode::ElectricalShock, HazardCode::ThermalFire],
        ..NoticeFacts::default()
    };
    let text = fiche(&r, None);
    let f = check_recall_notice(&text, "fr", &facts);
    assert_eq!(
        rules(&f),
        vec![
            RuleId::Identifier,
            RuleId::RemedyFree,
            RuleId::Heading,
            RuleId::Jargon
        ],
        "{f:#?}\n{text}"
    );
    let jargon = f[3].span.expect("span");
    assert_eq!(&text[jargon.start..jargon.end], "NON CONFORME");

    // the same fiche under the GPSR heading, saying the refund is free, passes but for the
    // missing identifiers and the jargon
    let text = fiche(&r, Some("Rappel produit"))
        .replace("Remboursement Echange", "Remboursement ou échange gratuits");
    let f = check_recall_notice(&text, "fr", &facts);
    assert_eq!(
        rules(&f),
        vec![RuleId::Identifier, RuleId::Jargon],
        "{f:#?}"
    );
}

#[test]
fn a_real_rappelconso_fiche_without_contact_number_is_flagged() {
    let r = rappelconso("CANAL TOYS");
    let facts = NoticeFacts {
        brand: "CANAL TOYS".into(),
        model: String::new(),
        batches: vec!["33019".into()],
        gtin: Some("3555801358876".into()),
        hazards: vec![HazardCode::InjuryOther],
        ..NoticeFacts::default()
    };
    let text = fiche(&r, Some("RAPPEL DE SÉCURITÉ DU PRODUIT"));
    let f = check_recall_notice(&text, "fr", &facts);
    assert_eq!(
        rules(&f),
        vec![RuleId::RemedyFree, RuleId::Contact, RuleId::Jargon],
        "{f:#?}\n{text}"
    );
}

#[test]
fn a_notice_built_on_a_real_safety_gate_risk_description_is_clean_but_for_its_legal_wording() {
    let alerts: Vec<Value> =
        serde_json::from_str(include_str!("../fixtures/safety_gate_2_alerts.json"))
            .expect("fixture");
    let a = alerts
        .iter()
        .find(|a| a["alert_number"] == "A12/02593/23")
        .expect("alert");
    let risk = a["risk_description"].as_str().expect("risk");
    let text = format!(
        "PRODUCT SAFETY RECALL\n\n{} {}\nPicture: https://example.invalid/nextec.png\nBatch: 2319\n\n\
         The danger\n{risk}\n\nWhat you must do\nStop using the power supply and unplug it.\n\n\
         Your remedy\nReturn it to the shop for a full refund, free of charge.\n\nContact\n+49 30 1234 5678\n",
        a["brand"].as_str().expect("brand"),
        a["product_name"].as_str().expect("name"),
    );
    let facts = NoticeFacts {
        brand: "nextec".into(),
        model: "LED power supply".into(),
        batches: vec!["2319".into()],
        hazards: vec![HazardCode::ElectricalShock],
        ..NoticeFacts::default()
    };
    let f = check_recall_notice(&text, "en", &facts);
    assert_eq!(rules(&f), vec![RuleId::Jargon], "{f:#?}");
    let s = f[0].span.expect("span");
    assert_eq!(&text[s.start..s.end], "does not comply");
}
