//! `firewatch import reports` and `firewatch demo --generate-only` through the real binary.

use crate::harness::*;

#[tokio::test]
async fn historical_reports_import_through_intake_once_and_bad_files_import_nothing() {
    let (dir, data) = data_dir();
    let img = image::RgbImage::from_pixel(4, 4, image::Rgb([9, 9, 9]));
    img.save(dir.path().join("p1.png")).unwrap();
    let good = dir.path().join("reports.jsonl");
    std::fs::write(
        &good,
        concat!(
            r#"{"id": "R1", "received_at": "2025-07-01T10:00:00Z", "narrative": "The charger sparked and melted.", "country": "FR", "photos": ["p1.png"]}"#, "\n",
            r#"{"id": "R2", "received_at": "2025-08-01T10:00:00Z", "narrative": "Screen flickers, no heat, no smoke.", "country": "DE"}"#, "\n",
        ),
    )
    .unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        concat!(
            r#"{"id": "R3", "narrative": "fine report", "country": "FR"}"#,
            "\n",
            r#"{"id": "R4", "narrative": "bad country", "country": "XX"}"#,
            "\n",
            r#"{"id": "R5", "narrative": "escaping photo", "photos": ["../etc/passwd"]}"#,
            "\n",
        ),
    )
    .unwrap();

    let out = cli(&data, &["import", "reports", bad.to_str().unwrap()], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("country"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let out = cli(&data, &["import", "reports", good.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 created"));
    let again = cli(&data, &["import", "reports", good.to_str().unwrap()], None);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("0 created, 2 already present"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    assert_eq!(sql_count(&data, "SELECT COUNT(*) FROM reports").await, 2);
    assert_eq!(
        sql_count(&data, "SELECT COUNT(*) FROM attachments").await,
        1
    );
    // Dated as received, not as imported.
    assert_eq!(
        sql_count(
            &data,
            "SELECT COUNT(*) FROM reports WHERE received_at = 1751364000000"
        )
        .await,
        1
    );
    let verify = cli(&data, &["audit", "verify"], None);
    assert!(verify.status.success());
}

#[test]
fn the_demo_world_can_be_written_without_serving() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["demo", "--generate-only"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "catalog.csv",
        "exposure.csv",
        "reports.jsonl",
        "posts.jsonl",
        "story.json",
    ] {
        assert!(
            dir.path().join(file).metadata().unwrap().len() > 0,
            "{file}"
        );
    }
    let reports = std::fs::read_to_string(dir.path().join("reports.jsonl")).unwrap();
    assert!(reports.lines().count() > 4000);
}
