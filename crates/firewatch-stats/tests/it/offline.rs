//! The offline analyst commands over in-memory readers and writers.

use crate::common::{close, col, fixture, num, rows};
use firewatch_stats::StatsError;
use firewatch_stats::offline::{
    DISP_HEADER, DispOptions, RATES_HEADER, disproportionality, maxsprt_cv, rates,
};

fn parse(out: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = firewatch_stats::csvfast::CsvReader::new(out, "output");
    let h = rdr.next_record().unwrap().unwrap();
    let header = (0..h.len())
        .map(|i| h.get_str(i).unwrap().into_owned())
        .collect();
    let mut v = Vec::new();
    while let Some(r) = rdr.next_record().unwrap() {
        v.push(
            (0..r.len())
                .map(|i| r.get_str(i).unwrap().into_owned())
                .collect(),
        );
    }
    (header, v)
}

#[test]
fn disproportionality_with_openebgm_theta_writes_openebgm_scores() {
    let opts = DispOptions {
        theta: Some([
            3.25378642859681,
            0.399888365988918,
            2.02613053523768,
            1.90808259827928,
            0.0653457004101028,
        ]),
        ..DispOptions::default()
    };
    let mut out = Vec::new();
    let mut stages = Vec::new();
    let summary = disproportionality(
        fixture("openebgm_caers.csv").as_bytes(),
        &opts,
        &mut out,
        &mut |p| stages.push(p),
    )
    .unwrap();
    assert_eq!(summary.pairs, 17_189);
    assert!(summary.fit.is_none());
    assert!(!stages.is_empty());
    let (header, body) = parse(&out);
    assert_eq!(header.join(","), DISP_HEADER);
    assert_eq!(body.len(), 17_189);
    let (rh, reference) = rows("openebgm_ebscores_first2000.csv");
    let find = |p: &str, e: &str| body.iter().find(|r| r[0] == p && r[1] == e).unwrap();
    for r in reference.iter().step_by(97) {
        let mine = find(&r[0], &r[1]);
        for (mc, rc) in [
            ("N", "N"),
            ("E", "E"),
            ("EBGM", "EBGM"),
            ("EB05", "QUANT_05"),
            ("EB95", "QUANT_95"),
            ("PRR", "PRR"),
        ] {
            let a = num(&mine[col(&header, mc)]);
            let b = num(&r[col(&rh, rc)]);
            assert!(close(a, b, 1e-6), "{} {}: {mc} {a} vs {b}", r[0], r[1]);
        }
    }
}

#[test]
fn disproportionality_without_theta_fits_on_squashed_data_and_reports_the_fit() {
    let opts = DispOptions {
        squash: true,
        ..DispOptions::default()
    };
    let mut out = Vec::new();
    let s = disproportionality(
        fixture("openebgm_caers.csv").as_bytes(),
        &opts,
        &mut out,
        &mut |_| {},
    )
    .unwrap();
    let fit = s.fit.expect("a fit");
    assert!(s.squashed_points.unwrap() < 17_189 / 5);
    assert!(fit.num_close >= 1);
    assert_eq!(fit.theta, s.theta);
}

#[test]
fn disproportionality_names_a_missing_column_and_rejects_empty_input() {
    let opts = DispOptions {
        product_col: "product".into(),
        ..DispOptions::default()
    };
    let err = disproportionality(
        "id,var1,var2\n1,a,b\n".as_bytes(),
        &opts,
        Vec::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(&err, StatsError::MissingColumn { column, .. } if column == "product"),
        "{err}"
    );
    assert!(err.to_string().contains("id,var1,var2"));
    let err = disproportionality(
        "id,var1,var2\n".as_bytes(),
        &DispOptions::default(),
        Vec::new(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, StatsError::EmptyInput(_)));
    let bad_theta = DispOptions {
        theta: Some([1.0, 1.0, 1.0, 1.0, 2.0]),
        ..DispOptions::default()
    };
    assert!(
        disproportionality(
            "id,var1,var2\n1,a,b\n".as_bytes(),
            &bad_theta,
            Vec::new(),
            &mut |_| {}
        )
        .is_err()
    );
}

#[test]
fn maxsprt_cv_command_returns_the_exact_critical_value() {
    assert!((maxsprt_cv(10.0, 0.05, 1).unwrap() - 3.4679515803).abs() < 1e-6);
    assert!(maxsprt_cv(-1.0, 0.05, 1).is_err());
}

const EXPOSURE: &str = "brand,model,market,month,units_sold,category\n\
Acme,X1,FR,2026-01,1000000,phone\n\
Acme,X1,FR,2026-02,1000000,phone\n\
Acme,X1,DE,2026-01,2000000,phone\n\
Bolt,B2,FR,2026-01,4000000,phone\n\
Volt,P1,FR,2026-01,500000,powerbank\n";

const REPORTS: &str = "brand,model,hazard,month,market\n\
Acme,X1,thermal.fire,2026-01,FR\n\
Acme,X1,thermal.fire,2026-02,FR\n\
Acme,X1,thermal.fire,2026-02,DE\n\
Acme,X1,thermal.smoke,2026-02,DE\n\
Bolt,B2,thermal.fire,2026-01,FR\n\
Volt,P1,thermal.fire,2026-01,FR\n\
Nope,Z,thermal.fire,2026-03,FR\n";

#[test]
fn rates_per_million_and_rate_ratio_against_the_rest_of_the_category() {
    let mut out = Vec::new();
    let s = rates(REPORTS.as_bytes(), EXPOSURE.as_bytes(), &mut out).unwrap();
    assert_eq!(s.reports, 7);
    assert_eq!(s.reports_without_exposure, 1);
    assert_eq!(s.months, Some(("2026-01".into(), "2026-03".into())));
    let (h, body) = parse(&out);
    assert_eq!(h.join(","), RATES_HEADER);
    let row = |b: &str, m: &str, mk: &str, hz: &str| {
        body.iter()
            .find(|r| r[0] == b && r[1] == m && r[3] == mk && r[4] == hz)
            .unwrap_or_else(|| panic!("no row {b} {m} {mk} {hz}"))
            .clone()
    };
    let c = |name: &str| col(&h, name);
    // Acme X1, all markets: 3 fires over 4M units = 0.75 per million; rest of phones: Bolt 1 over 4M
    let r = row("Acme", "X1", "ALL", "thermal.fire");
    assert_eq!(r[c("category")], "phone");
    assert_eq!(r[c("count")], "3");
    assert!(close(num(&r[c("rate_per_million")]), 0.75, 1e-12));
    assert_eq!(r[c("rest_count")], "1");
    assert!(close(num(&r[c("rest_units")]), 4e6, 1e-12));
    assert!(close(num(&r[c("rate_ratio")]), 3.0, 1e-12));
    let ci = firewatch_stats::poisson::garwood_interval(3, 0.95).unwrap();
    assert!(close(num(&r[c("rate_lower")]), ci.lower / 4.0, 1e-12));
    let rr = firewatch_stats::poisson::rate_ratio(3, 4e6, 1, 4e6, 0.95).unwrap();
    assert!(close(num(&r[c("rate_ratio_upper")]), rr.upper, 1e-12));
    // per market: FR has 2 fires over 2M units, rest of phones in FR: Bolt 1 over 4M
    let fr = row("Acme", "X1", "FR", "thermal.fire");
    assert!(close(num(&fr[c("rate_per_million")]), 1.0, 1e-12));
    assert!(close(num(&fr[c("rate_ratio")]), 4.0, 1e-12));
    // the power bank is alone in its category: no rate ratio
    let p = row("Volt", "P1", "ALL", "thermal.fire");
    assert_eq!(p[c("rate_ratio")], "NA");
    // unknown product: counted, no rate
    let z = row("Nope", "Z", "ALL", "thermal.fire");
    assert_eq!(z[c("count")], "1");
    assert_eq!(z[c("rate_per_million")], "NA");
}

#[test]
fn rates_report_non_numeric_units_with_line_and_column() {
    let exposure =
        "brand,model,market,month,units_sold\nAcme,X1,FR,2026-01,100\nAcme,X1,FR,2026-02,lots\n";
    let err = rates(REPORTS.as_bytes(), exposure.as_bytes(), Vec::new()).unwrap_err();
    match &err {
        StatsError::NotNumeric {
            line,
            column,
            value,
            ..
        } => {
            assert_eq!(
                (*line, column.as_str(), value.as_str()),
                (3, "units_sold", "lots")
            );
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("line 3"));
    let err = rates(
        "brand,model,month\n".as_bytes(),
        EXPOSURE.as_bytes(),
        Vec::new(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, StatsError::MissingColumn { column, input, .. } if column == "hazard" && input == "reports")
    );
    let err = rates(
        "brand,model,hazard,month\n".as_bytes(),
        EXPOSURE.as_bytes(),
        Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(err, StatsError::EmptyInput(_)));
}

#[test]
fn disproportionality_with_strata_sums_expected_counts_over_strata() {
    let theta = Some([3.25, 0.4, 2.03, 1.9, 0.065]);
    let run = |strata: Vec<String>| {
        let opts = DispOptions {
            strata_cols: strata,
            theta,
            ..DispOptions::default()
        };
        let mut out = Vec::new();
        disproportionality(
            fixture("openebgm_caers.csv").as_bytes(),
            &opts,
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        parse(&out)
    };
    let (h, plain) = run(vec![]);
    let (_, strat) = run(vec!["strat1".into()]);
    assert_eq!(plain.len(), strat.len());
    let ce = col(&h, "E");
    let total = |rows: &[Vec<String>]| rows.iter().map(|r| num(&r[ce])).sum::<f64>();
    // the stratified expected counts differ pair by pair, and stay of the same order in total
    // (over the observed pairs only: 2086.5 unstratified, 2332.2 by sex)
    assert!(plain.iter().zip(&strat).any(|(a, b)| a[ce] != b[ce]));
    let (tp, ts) = (total(&plain), total(&strat));
    assert!(ts > 0.5 * tp && ts < 2.0 * tp, "{tp} vs {ts}");
    // same pairs, same counts
    assert!(plain.iter().zip(&strat).all(|(a, b)| a[..3] == b[..3]));
}
