//! `firewatch stats seismic --cascade FILE --at SECONDS [--n-star N]`: the command's logic, minus
//! the file opening and argument parsing (which belong to the binary).

use std::fmt;
use std::io::{BufRead, BufReader, Read};

use crate::batch::{
    Infectiousness, Prediction, final_size, infectiousness_at_sorted, observed_and_ccdf,
    sorted_pairs,
};
use crate::incremental::tail_above;
use crate::{ForecastError, SeismicParams};

/// Longest accepted CSV line, in bytes (a cascade row is two numbers).
const MAX_LINE: usize = 4096;

/// What `firewatch stats seismic` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct SeismicReport {
    /// Prediction time, seconds after the original post.
    pub at: f64,
    /// n* used by the prediction.
    pub n_star: f64,
    /// Rows in the file (the original included).
    pub total_shares: usize,
    /// Shares at or before `at`, the original included.
    pub observed: usize,
    /// Infectiousness estimate and its interval at `at`.
    pub infectiousness: Infectiousness,
    /// Predicted final number of reshares (original excluded).
    pub predicted_final: Prediction,
    /// Prediction at the lower infectiousness bound.
    pub lower: Prediction,
    /// Prediction at the upper infectiousness bound.
    pub upper: Prediction,
    /// Probability that the cascade is supercritical (see `CascadeForecaster::forecast`).
    pub p_infinite: f64,
}

/// Reads a cascade CSV (`relative_time_second,number_of_followers`, one share per line, an
/// optional header line, quotes around fields allowed, blank lines skipped) and returns the pairs
/// in file order. Errors name the 1-based line and column.
pub fn parse_cascade_csv(csv: impl Read) -> Result<Vec<(f64, f64)>, ForecastError> {
    let mut reader = BufReader::new(csv);
    let mut out = Vec::new();
    let mut line = Vec::new();
    let mut number = 0usize;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| ForecastError::Read(e.to_string()))?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.len() > MAX_LINE && !line.ends_with(b"\n") {
            return Err(csv_error(
                number,
                1,
                format!("line longer than {MAX_LINE} bytes"),
            ));
        }
        let text =
            std::str::from_utf8(&line).map_err(|_| csv_error(number, 1, "not UTF-8".into()))?;
        let text = text.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = text
            .split(',')
            .map(|f| f.trim().trim_matches('"'))
            .collect();
        if out.is_empty() && number_of_header(&fields) {
            continue;
        }
        if fields.len() != 2 {
            return Err(csv_error(
                number,
                fields.len().min(3),
                format!("expected 2 fields, found {}", fields.len()),
            ));
        }
        let time = parse_field(fields[0], number, 1, "relative_time_second")?;
        let followers = parse_field(fields[1], number, 2, "number_of_followers")?;
        out.push((time, followers));
    }
    if out.is_empty() {
        return Err(ForecastError::EmptyCascade);
    }
    Ok(out)
}

fn number_of_header(fields: &[&str]) -> bool {
    fields
        .first()
        .is_some_and(|f| f.parse::<f64>().is_err() && f.chars().any(|c| c.is_ascii_alphabetic()))
}

fn parse_field(field: &str, line: usize, column: usize, name: &str) -> Result<f64, ForecastError> {
    let value: f64 = field.parse().map_err(|_| {
        csv_error(
            line,
            column,
            format!("{name} is not a number: {:?}", truncate(field)),
        )
    })?;
    if !value.is_finite() || value < 0.0 {
        return Err(csv_error(
            line,
            column,
            format!("{name} must be a finite number >= 0, found {value}"),
        ));
    }
    Ok(value)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

fn csv_error(line: usize, column: usize, message: String) -> ForecastError {
    ForecastError::Csv {
        line,
        column,
        message,
    }
}

/// Runs SEISMIC on a cascade CSV at time `at` with n* = `n_star` (R's defaults otherwise).
pub fn seismic_offline(
    csv: impl Read,
    at: f64,
    n_star: f64,
) -> Result<SeismicReport, ForecastError> {
    if !at.is_finite() || at < 0.0 {
        return Err(ForecastError::BadForecastTime(
            at,
            "--at must be a finite number of seconds >= 0",
        ));
    }
    if !(n_star.is_finite() && n_star > 0.0) {
        return Err(ForecastError::InvalidValue {
            index: 0,
            what: "n_star",
            value: n_star,
        });
    }
    let params = SeismicParams::default();
    let rows = parse_cascade_csv(csv)?;
    let (times, followers): (Vec<f64>, Vec<f64>) = rows.into_iter().unzip();
    let pairs = sorted_pairs(&times, &followers)?;
    let sorted_times: Vec<f64> = pairs.iter().map(|e| e.0).collect();
    let inf = infectiousness_at_sorted(&pairs, &sorted_times, at, &params);
    let (observed, ccdf_sum) = observed_and_ccdf(&pairs, at, &params);
    let p_infinite = tail_above(&inf, 1.0 / n_star);
    Ok(SeismicReport {
        at,
        n_star,
        total_shares: pairs.len(),
        observed,
        infectiousness: inf,
        predicted_final: final_size(observed, ccdf_sum, inf.estimate, n_star),
        lower: final_size(observed, ccdf_sum, inf.lower, n_star),
        upper: final_size(observed, ccdf_sum, inf.upper, n_star),
        p_infinite,
    })
}

impl fmt::Display for SeismicReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inf = &self.infectiousness;
        writeln!(
            f,
            "SEISMIC forecast at {} s (n* = {})",
            self.at, self.n_star
        )?;
        writeln!(
            f,
            "  shares observed:     {} of {} in the file (original included)",
            self.observed, self.total_shares
        )?;
        writeln!(
            f,
            "  infectiousness:      {:.6e}  [{:.6e}, {:.6e}] (5%-95%, {} reshares in a {:.0} s window)",
            inf.estimate, inf.lower, inf.upper, inf.window_count, inf.window
        )?;
        writeln!(f, "  predicted final:     {}", self.predicted_final)?;
        writeln!(f, "  interval:            [{}, {}]", self.lower, self.upper)?;
        write!(f, "  P(supercritical):    {:.4}", self.p_infinite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_quotes_and_blank_lines_are_accepted() {
        let csv = "\"relative_time_second\",\"number_of_followers\"\n0,10\n\n5,\"20\"\r\n";
        assert_eq!(
            parse_cascade_csv(csv.as_bytes()).unwrap(),
            vec![(0.0, 10.0), (5.0, 20.0)]
        );
    }

    #[test]
    fn a_bad_number_names_its_line_and_column() {
        let err = parse_cascade_csv("t,f\n0,10\n3,lots\n".as_bytes()).unwrap_err();
        assert_eq!(
            err,
            ForecastError::Csv {
                line: 3,
                column: 2,
                message: "number_of_followers is not a number: \"lots\"".into()
            }
        );
        assert!(err.to_string().contains("line 3, column 2"));
        let err = parse_cascade_csv("0,10\n-4,1\n".as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                ForecastError::Csv {
                    line: 2,
                    column: 1,
                    ..
                }
            ),
            "{err}"
        );
        let err = parse_cascade_csv("0,10,3\n".as_bytes()).unwrap_err();
        assert!(matches!(err, ForecastError::Csv { line: 1, .. }), "{err}");
    }

    #[test]
    fn empty_and_oversized_inputs_are_rejected() {
        assert_eq!(
            parse_cascade_csv("".as_bytes()).unwrap_err(),
            ForecastError::EmptyCascade
        );
        assert_eq!(
            parse_cascade_csv("t,f\n".as_bytes()).unwrap_err(),
            ForecastError::EmptyCascade
        );
        let long = format!("0,{}\n", "1".repeat(10_000));
        assert!(matches!(
            parse_cascade_csv(long.as_bytes()).unwrap_err(),
            ForecastError::Csv { line: 1, .. }
        ));
        assert!(parse_cascade_csv(&[0xff, 0xfe, b'\n'][..]).is_err());
    }

    #[test]
    fn the_report_prints_every_figure() {
        let csv = "0,100\n10,50\n20,60\n30,70\n40,80\n50,90\n70,100\n";
        let report = seismic_offline(csv.as_bytes(), 100.0, 100.0).unwrap();
        assert_eq!(report.observed, 7);
        assert!(report.infectiousness.estimate > 0.0);
        let text = report.to_string();
        assert!(text.contains("at 100 s"), "{text}");
        assert!(text.contains("7 of 7"), "{text}");
        assert!(text.contains("predicted final"), "{text}");
        assert!(seismic_offline(csv.as_bytes(), f64::NAN, 100.0).is_err());
        assert!(seismic_offline(csv.as_bytes(), 10.0, -1.0).is_err());
    }
}
