//! The analyst commands (`firewatch stats disproportionality | maxsprt-cv | rates`) as
//! functions over `Read` / `Write`: the binary opens the files and draws the progress bar.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};

pub use crate::counts::Progress;
use crate::counts::{Columns, count_reports};
use crate::csvfast::{CsvReader, Record, column_indices};
use crate::disproportionality::{ic_gamma_q025, measures_with_q025};
use crate::gps::{
    DEFAULT_STARTS, HyperFit, Posterior, Scorer, SquashOptions, Theta, auto_hyper_threads,
    auto_squash,
};
use crate::poisson::{rate_per_million, rate_ratio};
use crate::{Result, StatsError};

/// Options of `firewatch stats disproportionality`.
#[derive(Debug, Clone, PartialEq)]
pub struct DispOptions {
    /// report id column
    pub id_col: String,
    /// product column
    pub product_col: String,
    /// event (hazard) column
    pub event_col: String,
    /// stratification columns (expected counts are summed over their combinations)
    pub strata_cols: Vec<String>,
    /// hyperparameters `[α1, β1, α2, β2, P]`; `None` fits them (openEBGM's autoHyper from its
    /// five documented starting points)
    pub theta: Option<[f64; 5]>,
    /// fit on squashed data (openEBGM's autoSquash defaults); recommended above ~50k pairs
    pub squash: bool,
}

impl Default for DispOptions {
    fn default() -> Self {
        DispOptions {
            id_col: "id".into(),
            product_col: "var1".into(),
            event_col: "var2".into(),
            strata_cols: Vec::new(),
            theta: None,
            squash: false,
        }
    }
}

/// What `disproportionality` did, for the command to print.
#[derive(Debug, Clone, PartialEq)]
pub struct DispSummary {
    /// data rows read
    pub rows: u64,
    /// distinct reports
    pub reports: u64,
    /// distinct products
    pub products: usize,
    /// distinct events
    pub events: usize,
    /// (product, event) pairs written
    pub pairs: usize,
    /// number of points the fit used after squashing (when fitted with squashing)
    pub squashed_points: Option<usize>,
    /// hyperparameters used for EBGM
    pub theta: Theta,
    /// the fit, when `theta` was not given
    pub fit: Option<HyperFit>,
}

/// Header of the disproportionality output.
pub const DISP_HEADER: &str =
    "product,event,N,E,RR,PRR,PRR_chi2,ROR,ROR_lower,ROR_upper,IC,IC025,EBGM,EB05,EB95";

/// A number as written to CSV output: shortest round-trip decimal, `Inf`/`-Inf`, `NA` for NaN
/// (the spellings R and spreadsheets read back).
#[derive(Debug, Clone, Copy)]
pub struct Num(pub f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if x.is_nan() {
            f.write_str("NA")
        } else if x.is_infinite() {
            f.write_str(if x > 0.0 { "Inf" } else { "-Inf" })
        } else {
            write!(f, "{x}")
        }
    }
}

/// [`Num`] as a `String`.
pub fn fmt_num(x: f64) -> String {
    Num(x).to_string()
}

/// Quote a CSV field when needed (RFC 4180).
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// Score every pair with `threads` worker threads (scoped; `threads <= 1` runs inline). The
/// posterior quantiles dominate the run time and depend only on `(n, e)`, which repeat a lot
/// in large tables (pairs whose product and event have the same report counts), so each
/// distinct `(n, e)` is scored once.
pub fn score_pairs(scorer: &Scorer, n: &[u32], e: &[f64], threads: usize) -> Vec<Posterior> {
    assert_eq!(n.len(), e.len());
    let mut keys: Vec<(u32, u64, u32)> = n
        .iter()
        .zip(e)
        .enumerate()
        .map(|(i, (&n, &e))| (n, e.to_bits(), i as u32))
        .collect();
    keys.sort_unstable();
    let mut uniq: Vec<(u32, f64)> = Vec::new();
    let mut slot = vec![0u32; n.len()];
    for k in &keys {
        if uniq
            .last()
            .is_none_or(|&(un, ue)| un != k.0 || ue.to_bits() != k.1)
        {
            uniq.push((k.0, f64::from_bits(k.1)));
        }
        slot[k.2 as usize] = (uniq.len() - 1) as u32;
    }
    drop(keys);
    // in (n, e) order, each pair's quantiles start from the previous pair's when close
    let run = |c: &[(u32, f64)]| -> Vec<Posterior> {
        let mut out: Vec<Posterior> = Vec::with_capacity(c.len());
        let mut prev: Option<(u32, f64)> = None;
        for &(n, e) in c {
            let hint = match (prev, out.last()) {
                (Some((pn, pe)), Some(p)) if pn == n && (e / pe).ln().abs() < 0.1 => Some(p),
                _ => None,
            };
            let post = scorer.score_near(n, e, hint);
            out.push(post);
            prev = Some((n, e));
        }
        out
    };
    let threads = threads.max(1).min(uniq.len().max(1));
    let scored: Vec<Posterior> = if threads == 1 {
        run(&uniq)
    } else {
        let chunk = uniq.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = uniq
                .chunks(chunk)
                .map(|c| s.spawn(move || run(c)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("scoring thread panicked"))
                .collect()
        })
    };
    slot.iter().map(|&k| scored[k as usize]).collect()
}

/// `firewatch stats disproportionality`: read rows of (id, product, event[, strata]), count
/// distinct reports per pair, compute RR, PRR (+ chi-square), ROR (+ 95% CI), IC (+ IC025) and
/// the Gamma-Poisson Shrinker's EBGM, EB05, EB95, and write one CSV row per pair (header
/// [`DISP_HEADER`], pairs sorted by product then event). Without `opts.theta` the
/// hyperparameters are fitted first; the summary holds the fit. The fit (one thread per
/// starting point) and the scoring use up to two threads (`available_parallelism`, capped
/// at 2); the output does not depend on the thread count.
pub fn disproportionality(
    input: impl Read,
    opts: &DispOptions,
    output: impl Write,
    progress: &mut dyn FnMut(Progress),
) -> Result<DispSummary> {
    let cols = Columns {
        id: opts.id_col.clone(),
        product: opts.product_col.clone(),
        event: opts.event_col.clone(),
        strata: opts.strata_cols.clone(),
    };
    if let Some(t) = opts.theta {
        Theta::from_array(t).validate()?;
    }
    let counts = count_reports(input, &cols, progress)?;
    let e = counts.expected();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(2);
    let (theta, fit, squashed_points) = match opts.theta {
        Some(t) => (Theta::from_array(t), None, None),
        None => {
            progress(Progress::Stage("fitting"));
            let mut pts = counts.points(&e);
            let mut squashed = None;
            if opts.squash {
                pts = auto_squash(&pts, &SquashOptions::default())?;
                squashed = Some(pts.len());
            }
            let starts: Vec<Theta> = DEFAULT_STARTS
                .iter()
                .map(|s| Theta::from_array(*s))
                .collect();
            let fit = auto_hyper_threads(&pts, &starts, threads)?;
            (fit.theta, Some(fit), squashed)
        }
    };
    progress(Progress::Stage("scoring"));
    let max_n = counts.pairs.iter().map(|p| p.n).max().unwrap_or(0);
    let scorer = Scorer::new(theta, max_n.min(1 << 16))?;
    let ns: Vec<u32> = counts.pairs.iter().map(|p| p.n).collect();
    let post = score_pairs(&scorer, &ns, &e, threads);
    progress(Progress::Stage("writing"));
    let mut w = BufWriter::with_capacity(1 << 16, output);
    writeln!(w, "{DISP_HEADER}")?;
    let total = counts.pairs.len() as u64;
    // IC025's gamma quantile depends on N only: one per distinct count
    let mut q025: crate::counts::FxHashMap<u32, f64> = Default::default();
    for (i, ((p, &ei), s)) in counts.pairs.iter().zip(&e).zip(&post).enumerate() {
        let q = *q025.entry(p.n).or_insert_with(|| ic_gamma_q025(p.n as f64));
        let m = measures_with_q025(
            p.n as u64,
            counts.product_reports[p.product as usize] as u64,
            counts.event_reports[p.event as usize] as u64,
            counts.total_reports,
            ei,
            q,
        );
        writeln!(
            w,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&counts.products[p.product as usize]),
            csv_field(&counts.events[p.event as usize]),
            p.n,
            Num(ei),
            Num(m.rr),
            Num(m.prr),
            Num(m.prr_chi2),
            Num(m.ror),
            Num(m.ror_lower),
            Num(m.ror_upper),
            Num(m.ic),
            Num(m.ic025),
            Num(s.ebgm),
            Num(s.eb05),
            Num(s.eb95),
        )?;
        if (i + 1) % (1 << 18) == 0 {
            progress(Progress::Pairs {
                done: i as u64 + 1,
                total,
            });
        }
    }
    w.flush()?;
    progress(Progress::Pairs { done: total, total });
    Ok(DispSummary {
        rows: counts.rows,
        reports: counts.total_reports,
        products: counts.products.len(),
        events: counts.events.len(),
        pairs: counts.pairs.len(),
        squashed_points,
        theta,
        fit,
    })
}

/// `firewatch stats maxsprt-cv`: the exact critical value (log-likelihood-ratio scale) of the
/// continuous Poisson MaxSPRT for surveillance length `sample_size` (expected events under
/// H0), significance `alpha` and minimum number of events `min_events` before a signal.
pub fn maxsprt_cv(sample_size: f64, alpha: f64, min_events: u32) -> Result<f64> {
    crate::maxsprt::critical_value(sample_size, alpha, min_events)
}

/// What `rates` did.
#[derive(Debug, Clone, PartialEq)]
pub struct RatesSummary {
    /// report rows read
    pub reports: u64,
    /// reports of products that have no exposure rows (counted, but without a rate)
    pub reports_without_exposure: u64,
    /// exposure rows read
    pub exposure_rows: u64,
    /// output rows written
    pub rows_written: u64,
    /// first and last report month (`YYYY-MM`)
    pub months: Option<(String, String)>,
}

/// Header of the rates output.
pub const RATES_HEADER: &str = "brand,model,category,market,hazard,count,units,rate_per_million,\
rate_lower,rate_upper,rest_count,rest_units,rate_ratio,rate_ratio_lower,rate_ratio_upper";

fn optional_index(header: &Record<'_>, name: &str) -> Option<usize> {
    (0..header.len()).find(|&i| header.get_str(i).is_some_and(|s| s.trim() == name))
}

fn field(rec: &Record<'_>, i: usize, input: &str, column: &str) -> Result<String> {
    rec.get_str(i)
        .map(|s| s.trim().to_string())
        .ok_or_else(|| StatsError::Malformed {
            input: input.into(),
            line: rec.line,
            message: format!("missing field for column `{column}`"),
        })
}

fn check_month(s: &str, input: &str, line: u64) -> Result<()> {
    let b = s.as_bytes();
    let ok = b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(
            &s[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        );
    if ok {
        Ok(())
    } else {
        Err(StatsError::Malformed {
            input: input.into(),
            line,
            message: format!("column `month`: `{s}` is not a YYYY-MM month"),
        })
    }
}

/// `firewatch stats rates`: incident rates per million units with exact (Garwood) 95%
/// intervals, and the exact rate ratio of each product against the rest of its category.
///
/// Inputs (CSV with headers; extra columns are ignored; names are matched exactly):
/// - `reports`: one row per incident report and hazard: required `brand`, `model`, `hazard`,
///   `month` (`YYYY-MM`); optional `market` (ISO 3166-1) and `category`. A report with
///   several hazards has one row per hazard.
/// - `exposure` (DESIGN §6): required `brand`, `model`, `market`, `month`, `units_sold`
///   (a non-negative number); optional `category`.
///
/// A product's category comes from the exposure's `category` column, else the reports', else
/// every product is in one category `all`. Counts and units cover the whole period of the
/// files. Output rows (header [`RATES_HEADER`]), sorted: for every (brand, model, hazard),
/// market `ALL` (every market), plus one row per market when the reports carry a market
/// (units of that market only, compared with the rest of the category in that market).
/// The rate ratio compares `count / units` with the summed counts and units of the other
/// products of the category that have exposure. Products without exposure keep their count
/// with empty rate columns (`NA`).
pub fn rates(reports: impl Read, exposure: impl Read, output: impl Write) -> Result<RatesSummary> {
    const CONF: f64 = 0.95;
    type Prod = (String, String); // brand, model
    // ---- exposure
    let mut units: BTreeMap<(Prod, String), f64> = BTreeMap::new(); // (product, market)
    let mut category: BTreeMap<Prod, String> = BTreeMap::new();
    let mut exposure_rows = 0u64;
    {
        const IN: &str = "exposure";
        let mut rdr = CsvReader::new(exposure, IN);
        let header = rdr
            .next_record()?
            .ok_or_else(|| StatsError::EmptyInput(IN.into()))?;
        let idx = column_indices(
            &header,
            &["brand", "model", "market", "month", "units_sold"],
            IN,
        )?;
        let cat = optional_index(&header, "category");
        while let Some(rec) = rdr.next_record()? {
            let brand = field(&rec, idx[0], IN, "brand")?;
            let model = field(&rec, idx[1], IN, "model")?;
            let market = field(&rec, idx[2], IN, "market")?;
            let month = field(&rec, idx[3], IN, "month")?;
            check_month(&month, IN, rec.line)?;
            let raw = field(&rec, idx[4], IN, "units_sold")?;
            let u: f64 = raw
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| StatsError::NotNumeric {
                    input: IN.into(),
                    line: rec.line,
                    column: "units_sold".into(),
                    value: raw.clone(),
                })?;
            let prod = (brand, model);
            if let Some(c) = cat {
                let c = field(&rec, c, IN, "category")?;
                if !c.is_empty() {
                    category.insert(prod.clone(), c);
                }
            }
            *units.entry((prod.clone(), market)).or_default() += u;
            *units.entry((prod, "ALL".into())).or_default() += u;
            exposure_rows += 1;
        }
        if exposure_rows == 0 {
            return Err(StatsError::EmptyInput(IN.into()));
        }
    }
    // ---- reports
    let mut counts: BTreeMap<(Prod, String, String), u64> = BTreeMap::new(); // (product, market, hazard)
    let mut n_reports = 0u64;
    let mut months: Option<(String, String)> = None;
    {
        const IN: &str = "reports";
        let mut rdr = CsvReader::new(reports, IN);
        let header = rdr
            .next_record()?
            .ok_or_else(|| StatsError::EmptyInput(IN.into()))?;
        let idx = column_indices(&header, &["brand", "model", "hazard", "month"], IN)?;
        let market_col = optional_index(&header, "market");
        let cat_col = optional_index(&header, "category");
        while let Some(rec) = rdr.next_record()? {
            let prod = (
                field(&rec, idx[0], IN, "brand")?,
                field(&rec, idx[1], IN, "model")?,
            );
            let hazard = field(&rec, idx[2], IN, "hazard")?;
            let month = field(&rec, idx[3], IN, "month")?;
            check_month(&month, IN, rec.line)?;
            months = Some(match months {
                None => (month.clone(), month),
                Some((a, b)) => (a.min(month.clone()), b.max(month)),
            });
            if let Some(c) = cat_col {
                let c = field(&rec, c, IN, "category")?;
                if !c.is_empty() {
                    category.entry(prod.clone()).or_insert(c);
                }
            }
            *counts
                .entry((prod.clone(), "ALL".into(), hazard.clone()))
                .or_default() += 1;
            if let Some(m) = market_col {
                let m = field(&rec, m, IN, "market")?;
                if !m.is_empty() {
                    *counts.entry((prod, m, hazard)).or_default() += 1;
                }
            }
            n_reports += 1;
        }
        if n_reports == 0 {
            return Err(StatsError::EmptyInput(IN.into()));
        }
    }
    let cat_of = |p: &Prod| category.get(p).cloned().unwrap_or_else(|| "all".into());
    // category totals per (category, market, hazard) and units per (category, market), over
    // products with exposure only
    let mut cat_counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut reports_without_exposure = 0u64;
    for ((prod, market, hazard), &c) in &counts {
        if units.contains_key(&(prod.clone(), market.clone())) {
            *cat_counts
                .entry((cat_of(prod), market.clone(), hazard.clone()))
                .or_default() += c;
        } else if market == "ALL" {
            reports_without_exposure += c;
        }
    }
    let mut cat_units: BTreeMap<(String, String), f64> = BTreeMap::new();
    for ((prod, market), &u) in &units {
        *cat_units.entry((cat_of(prod), market.clone())).or_default() += u;
    }
    let mut w = BufWriter::new(output);
    writeln!(w, "{RATES_HEADER}")?;
    let mut written = 0u64;
    for ((prod, market, hazard), &c) in &counts {
        let cat = cat_of(prod);
        let mut cells: Vec<String> = vec![
            csv_field(&prod.0).into_owned(),
            csv_field(&prod.1).into_owned(),
            csv_field(&cat).into_owned(),
            csv_field(market).into_owned(),
            csv_field(hazard).into_owned(),
            c.to_string(),
        ];
        match units.get(&(prod.clone(), market.clone())) {
            Some(&u) if u > 0.0 => {
                let r = rate_per_million(c, u, CONF)?;
                let rest_n = cat_counts
                    .get(&(cat.clone(), market.clone(), hazard.clone()))
                    .copied()
                    .unwrap_or(0)
                    - c;
                let rest_u = cat_units
                    .get(&(cat.clone(), market.clone()))
                    .copied()
                    .unwrap_or(0.0)
                    - u;
                cells.push(fmt_num(u));
                cells.push(fmt_num(r.per_million.estimate));
                cells.push(fmt_num(r.per_million.lower));
                cells.push(fmt_num(r.per_million.upper));
                cells.push(rest_n.to_string());
                cells.push(fmt_num(rest_u));
                if rest_u > 0.0 {
                    let rr = rate_ratio(c, u, rest_n, rest_u, CONF)?;
                    cells.push(fmt_num(rr.estimate));
                    cells.push(fmt_num(rr.lower));
                    cells.push(fmt_num(rr.upper));
                } else {
                    cells.extend(["NA", "NA", "NA"].map(String::from));
                }
            }
            Some(&u) => {
                cells.push(fmt_num(u));
                cells.extend(std::iter::repeat_n("NA".to_string(), 8));
            }
            None => {
                cells.extend(std::iter::repeat_n("NA".to_string(), 9));
            }
        }
        writeln!(w, "{}", cells.join(","))?;
        written += 1;
    }
    w.flush()?;
    Ok(RatesSummary {
        reports: n_reports,
        reports_without_exposure,
        exposure_rows,
        rows_written: written,
        months,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_formatted_for_r_and_spreadsheets() {
        assert_eq!(fmt_num(f64::INFINITY), "Inf");
        assert_eq!(fmt_num(f64::NAN), "NA");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn months_must_be_year_dash_month() {
        assert!(check_month("2026-11", "x", 2).is_ok());
        assert!(check_month("2026-13", "x", 2).is_err());
        assert!(check_month("26-11", "x", 2).is_err());
    }
}
