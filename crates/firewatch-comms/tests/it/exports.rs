//! Regulator exports: schema-valid, equal to the golden files, and refused with the
//! missing field named.

use firewatch_comms::export::{
    self, CPSC_15B_SCHEMA, EU_SBG_ACCIDENT_SCHEMA, ExportError, ExportInput, ExportKind,
};
use firewatch_comms::schema::Schema;
use std::path::PathBuf;

fn input() -> ExportInput {
    serde_json::from_str(include_str!("../fixtures/export_input.json")).expect("fixture parses")
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares with tests/golden/NAME, or rewrites it when UPDATE_GOLDEN=1.
fn golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_dir()).expect("golden dir");
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from its golden file (UPDATE_GOLDEN=1 to accept):\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[test]
fn the_schemas_in_the_repo_are_the_ones_compiled_in_and_use_only_the_supported_subset() {
    for (file, embedded) in [
        ("cpsc_15b.schema.json", CPSC_15B_SCHEMA),
        ("eu_sbg_accident.schema.json", EU_SBG_ACCIDENT_SCHEMA),
    ] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("schemas")
            .join(file);
        let on_disk = std::fs::read_to_string(&path).expect("schema file");
        assert_eq!(on_disk, embedded, "{file}");
        Schema::parse(embedded).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn the_cpsc_15b_export_validates_and_matches_its_golden_files() {
    let e = export::cpsc_15b(&input()).expect("valid export");
    let schema = Schema::parse(CPSC_15B_SCHEMA).expect("schema");
    assert_eq!(schema.validate(&e.value), vec![]);
    assert_eq!(e.value["units_in_commerce"]["united_states"], 2100);
    assert_eq!(e.value["units_in_commerce"]["total"], 50300);
    assert_eq!(e.value["incidents"]["with_injury"], 1);
    assert_eq!(e.value["incidents"]["property_damage"], 1);
    golden("cpsc_15b.json", &e.json);
    golden("cpsc_15b.csv", &e.csv);
}

#[test]
fn the_eu_accident_export_validates_and_matches_its_golden_files() {
    let e = export::eu_sbg_accident(&input()).expect("valid export");
    let schema = Schema::parse(EU_SBG_ACCIDENT_SCHEMA).expect("schema");
    assert_eq!(schema.validate(&e.value), vec![]);
    // US units are not an EU member state's
    assert_eq!(
        e.value["member_states_concerned"],
        serde_json::json!(["BE", "DE", "FR"])
    );
    assert_eq!(
        e.value["risk"]["risk_types"],
        serde_json::json!(["Burns", "Damage to property", "Fire"])
    );
    golden("eu_sbg_accident.json", &e.json);
    golden("eu_sbg_accident.csv", &e.csv);
}

#[test]
fn the_json_and_csv_forms_carry_the_same_values() {
    let e = export::cpsc_15b(&input()).expect("valid export");
    let reparsed: serde_json::Value = serde_json::from_str(&e.json).expect("json");
    assert_eq!(reparsed, e.value);
    assert!(e.csv.starts_with("field,value\r\n"));
    assert!(
        e.csv.contains("\r\nfirm.address.city,Lyon\r\n"),
        "{}",
        e.csv
    );
    assert!(e.csv.contains("\r\nincidents.list[1].country,DE\r\n"));
    assert!(e.csv.contains("\r\nproduct.batch_numbers,L2405; L2406\r\n"));
    // a value with a comma is quoted
    assert!(
        e.csv
            .contains("\r\nproduct.description,\"20,000 mAh power bank with USB-C, black\"\r\n")
    );
}

fn invalid_fields(r: Result<export::Export, ExportError>) -> Vec<String> {
    match r {
        Err(e @ ExportError::Invalid { .. }) => {
            let mut f: Vec<String> = e.fields().into_iter().map(str::to_string).collect();
            f.sort();
            f
        }
        other => panic!("expected an invalid export, got {other:?}"),
    }
}

#[test]
fn an_export_missing_a_required_field_is_an_error_naming_the_field() {
    let mut i = input();
    i.aware_on = None;
    i.firm.contact.email = None;
    i.corrective_action = None;
    let fields = invalid_fields(export::cpsc_15b(&i));
    assert_eq!(
        fields,
        vec!["corrective_action", "date_firm_aware", "firm.contact.email"]
    );
    let err = export::cpsc_15b(&i).expect_err("invalid");
    assert!(
        err.to_string().contains("firm.contact.email: is required"),
        "{err}"
    );

    let mut i = input();
    i.firm.address.city = String::new();
    i.hazards.clear();
    let fields = invalid_fields(export::export(ExportKind::Cpsc15b, &i));
    assert_eq!(fields, vec!["firm.address.city", "hazard.codes"]);

    let mut i = input();
    i.units_by_market.retain(|m| m.market == "US");
    i.incidents.clear();
    i.product.photos.clear();
    i.corrective_action = None;
    let fields = invalid_fields(export::eu_sbg_accident(&i));
    assert_eq!(
        fields,
        vec![
            "accidents",
            "measures_taken",
            "member_states_concerned",
            "product.photos"
        ]
    );
}
