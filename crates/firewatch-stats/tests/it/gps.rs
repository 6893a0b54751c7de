//! The Gamma-Poisson Shrinker against openEBGM 0.9.1 on FDA CAERS (tests/fixtures/openebgm_*).

use crate::common::{close, col, fixture, num, rows};
use firewatch_stats::counts::{Columns, Counts, count_reports};
use firewatch_stats::gps::{
    Point, Scorer, SquashOptions, Theta, auto_hyper, auto_squash, neg_log_lik,
};

fn caers() -> Counts {
    count_reports(
        fixture("openebgm_caers.csv").as_bytes(),
        &Columns::default(),
        &mut |_| {},
    )
    .unwrap()
}

fn pair_index(c: &Counts) -> std::collections::HashMap<(String, String), usize> {
    c.pairs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                (
                    c.products[p.product as usize].clone(),
                    c.events[p.event as usize].clone(),
                ),
                i,
            )
        })
        .collect()
}

fn openebgm_theta(run: &str) -> (Theta, f64) {
    let (h, data) = rows("openebgm_hyperparameters.csv");
    let r = data.iter().find(|r| r[col(&h, "run")] == run).unwrap();
    let t = ["alpha1", "beta1", "alpha2", "beta2", "P"].map(|c| num(&r[col(&h, c)]));
    (Theta::from_array(t), num(&r[col(&h, "negLL_full_data")]))
}

fn starts() -> Vec<Theta> {
    let (_, data) = rows("openebgm_theta_init.csv");
    data.iter()
        .map(|r| Theta::from_array([0, 1, 2, 3, 4].map(|i| num(&r[i]))))
        .collect()
}

#[test]
fn counts_and_expected_counts_match_process_raw() {
    let c = caers();
    assert_eq!(c.pairs.len(), 17_189);
    assert_eq!(c.total_reports, 3_356);
    let e = c.expected();
    let (h, data) = rows("openebgm_ebscores_first2000.csv");
    assert_eq!(data.len(), 2000);
    // the reference is in R's locale collation order; ours is byte order: match by name
    let index = pair_index(&c);
    for (k, r) in data.iter().enumerate() {
        let i = index[&(r[col(&h, "var1")].clone(), r[col(&h, "var2")].clone())];
        let p = c.pairs[i];
        assert!(k == 0 || i != 0);
        assert_eq!(p.n as f64, num(&r[col(&h, "N")]), "row {i}");
        assert!(close(e[i], num(&r[col(&h, "E")]), 1e-12), "row {i}");
        let rr = p.n as f64 / e[i];
        assert!(close(rr, num(&r[col(&h, "RR")]), 1e-10), "row {i}");
        let m = firewatch_stats::disproportionality::measures(
            p.n as u64,
            c.product_reports[p.product as usize] as u64,
            c.event_reports[p.event as usize] as u64,
            c.total_reports,
            e[i],
        );
        assert!(
            close(m.prr, num(&r[col(&h, "PRR")]), 1e-10),
            "row {i}: {} vs {}",
            m.prr,
            r[col(&h, "PRR")]
        );
    }
}

#[test]
fn ebgm_and_quantiles_match_openebgm_to_1e_6_relative() {
    let c = caers();
    let e = c.expected();
    let (theta, _) = openebgm_theta("autoHyper_squashed");
    let scorer = Scorer::new(theta, 64).unwrap();
    let (h, data) = rows("openebgm_ebscores_first2000.csv");
    let (cq, cg, c5, c95) = (
        col(&h, "Qn"),
        col(&h, "EBGM"),
        col(&h, "QUANT_05"),
        col(&h, "QUANT_95"),
    );
    let mut worst = 0.0f64;
    let index = pair_index(&c);
    for r in &data {
        let i = index[&(r[0].clone(), r[1].clone())];
        let s = scorer.score(c.pairs[i].n, e[i]);
        for (mine, theirs) in [
            (s.qn, num(&r[cq])),
            (s.ebgm, num(&r[cg])),
            (s.eb05, num(&r[c5])),
            (s.eb95, num(&r[c95])),
        ] {
            let rel = ((mine - theirs) / theirs).abs();
            worst = worst.max(rel);
            assert!(rel < 1e-6, "({}, {}): {mine} vs {theirs}", r[0], r[1]);
        }
    }
    // the quantiles are printed by openEBGM to 8 decimals: the agreement is at that level
    assert!(worst < 1e-6, "{worst}");
}

#[test]
fn negative_log_likelihood_at_openebgm_estimate_matches_its_reported_value() {
    let c = caers();
    let pts = c.points(&c.expected());
    for run in ["autoHyper_squashed", "autoHyper_full", "hyperEM_score_full"] {
        let (theta, nll) = openebgm_theta(run);
        let mine = neg_log_lik(&theta, &pts);
        assert!((mine - nll).abs() < 1e-7, "{run}: {mine} vs {nll}");
    }
}

#[test]
fn own_fit_on_the_full_table_reaches_openebgm_likelihood() {
    let c = caers();
    let pts = c.points(&c.expected());
    let fit = auto_hyper(&pts, &starts()).unwrap_or_else(|e| panic!("{e}"));
    let full = neg_log_lik(&fit.theta, &pts);
    assert!(
        (full - 4162.4557).abs() < 1e-3,
        "negLL {full} with {:?}",
        fit.theta
    );
    assert!(fit.num_close >= 1);
    // every run converged; openEBGM's nlminb agrees with four of them (4162.45571038)
    assert!(fit.runs.iter().all(|r| r.converged && r.in_bounds));
    // the likelihood is flat: the estimate is only loosely close to openEBGM's
    let (theirs, _) = openebgm_theta("autoHyper_full");
    assert!((fit.theta.p - theirs.p).abs() < 0.01, "{:?}", fit.theta);
}

#[test]
fn own_fit_on_auto_squashed_data_reaches_openebgm_likelihood_on_the_full_table() {
    let c = caers();
    let pts = c.points(&c.expected());
    let sq = auto_squash(&pts, &SquashOptions::default()).unwrap();
    assert!(sq.len() < pts.len() / 5, "{} points", sq.len());
    let w: f64 = sq.iter().map(|p| p.w).sum();
    assert_eq!(w, pts.len() as f64);
    let fit = auto_hyper(&sq, &starts()).unwrap_or_else(|e| panic!("{e}"));
    let full = neg_log_lik(&fit.theta, &pts);
    assert!(
        (full - 4162.4557).abs() < 1e-3,
        "negLL on full data {full} with {:?}",
        fit.theta
    );
}

#[test]
fn auto_squash_reproduces_openebgm_bin_layout() {
    // caers: N = 1 has far more than 101 points; openEBGM keeps the 100 largest E, and bins the
    // rest into floor((n1 - 100) / supers) -sized bins.
    let c = caers();
    let pts = c.points(&c.expected());
    let n1 = pts.iter().filter(|p| p.n == 1).count();
    let sq = auto_squash(&pts, &SquashOptions::default()).unwrap();
    let ones: Vec<&Point> = sq.iter().filter(|p| p.n == 1).collect();
    let to_squash = n1 - 100;
    let supers = [500usize, 1000, 10_000, 100_000]
        .iter()
        .position(|&c| to_squash < c)
        .map(|i| [50, 75, 150, 500, 750][i])
        .unwrap();
    let bin = to_squash / supers;
    let full_bins = to_squash / bin;
    let partial = usize::from(to_squash % bin != 0);
    assert_eq!(ones.len(), full_bins + partial + 100);
    assert_eq!(ones.iter().filter(|p| p.w == 1.0).count(), 100);
}
