//! The analysts' commands through the real binary, on the reference data shipped with the
//! engines' tests.

use crate::harness::BIN;
use std::process::Command;

fn fixture(path: &str) -> String {
    format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))
}

fn firewatch(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn maxsprt_critical_values_match_r_sequential() {
    for (t, alpha, m, want) in [
        ("10", "0.05", "1", 3.4679515803),
        ("100", "0.01", "1", 5.7389736176),
        ("10", "0.05", "4", 2.9215613298),
    ] {
        let out = firewatch(&[
            "stats",
            "maxsprt-cv",
            "--sample-size",
            t,
            "--alpha",
            alpha,
            "--min-events",
            m,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: f64 = String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            (got - want).abs() < 1e-6,
            "T={t} alpha={alpha} M={m}: {got} vs {want}"
        );
    }
    for bad in [
        &["stats", "maxsprt-cv", "--sample-size=-1", "--alpha", "0.05"][..],
        &[
            "stats",
            "maxsprt-cv",
            "--sample-size",
            "ten",
            "--alpha",
            "0.05",
        ],
    ] {
        let out = firewatch(bad);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn seismic_prints_the_r_packages_prediction() {
    let out = firewatch(&[
        "stats",
        "seismic",
        "--cascade",
        &fixture("firewatch-forecast/tests/fixtures/tweet_cascade.csv"),
        "--at",
        "3600",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // R seismic: 7580.78952590781 at 3600 s.
    assert!(text.contains("7580.8"), "{text}");
}

#[test]
fn disproportionality_with_given_hyperparameters_writes_every_pair() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("scores.csv");
    let out = firewatch(&[
        "stats",
        "disproportionality",
        "--input",
        &fixture("firewatch-stats/tests/fixtures/openebgm_caers.csv"),
        "--theta",
        "3.25378642859681,0.399888365988918,2.02613053523768,1.90808259827928,0.0653457004101028",
        "--output",
        out_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(&out_path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "product,event,N,E,RR,PRR,PRR_chi2,ROR,ROR_lower,ROR_upper,IC,IC025,EBGM,EB05,EB95"
    );
    // openEBGM's first scored pair: 1-PHENYLALANINE / HEART RATE INCREASED, EBGM 2.226686346446.
    let row = csv
        .lines()
        .find(|l| l.contains("1-PHENYLALANINE") && l.contains("HEART RATE INCREASED"))
        .unwrap();
    let ebgm: f64 = row.rsplit(',').nth(2).unwrap().parse().unwrap();
    assert!((ebgm / 2.226686346446 - 1.0).abs() < 1e-6, "{row}");
    assert_eq!(
        csv.lines().count() - 1,
        17189,
        "one row per product-event cell of the CAERS table"
    );

    let bad = firewatch(&[
        "stats",
        "disproportionality",
        "--input",
        &fixture("firewatch-stats/tests/fixtures/openebgm_caers.csv"),
        "--product-col",
        "drug",
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("drug"), "the missing column is named: {err}");
}
