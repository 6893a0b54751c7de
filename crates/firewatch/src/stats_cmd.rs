//! `firewatch stats ...`: the statistics engines on CSV files, for analysts. The engines do
//! the work over Read/Write; this module opens files and draws progress on a terminal.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use firewatch_stats::offline::{self, DispOptions, Progress};
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum StatsCommand {
    /// RR, PRR (chi-square), ROR (95% CI), IC (IC025) and EBGM (EB05, EB95) per product-event pair.
    Disproportionality(DispArgs),
    /// Critical value of the Poisson MaxSPRT (log-likelihood-ratio scale), as R's Sequential::CV.Poisson.
    MaxsprtCv {
        /// Upper limit on the expected count under the null (SampleSize).
        #[arg(long)]
        sample_size: f64,
        #[arg(long)]
        alpha: f64,
        /// Minimum number of events before the null can be rejected (M).
        #[arg(long, default_value_t = 1)]
        min_events: u32,
    },
    /// Incident rates per million units with exact intervals, and rate ratios within the category.
    Rates {
        /// Reports CSV: brand,model,hazard,month[,market][,category]
        #[arg(long)]
        reports: PathBuf,
        /// Exposure CSV: brand,model,market,month,units_sold
        #[arg(long)]
        exposure: PathBuf,
        /// Output CSV (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// SEISMIC reach forecast of one cascade (relative_time_second,number_of_followers).
    Seismic {
        /// Cascade CSV, or `-` for standard input.
        #[arg(long)]
        cascade: PathBuf,
        /// Prediction time in seconds after the original post.
        #[arg(long)]
        at: f64,
        #[arg(long = "n-star", default_value_t = firewatch_forecast::DEFAULT_N_STAR)]
        n_star: f64,
    },
}

#[derive(Debug, Args)]
pub struct DispArgs {
    /// Input CSV with a header row.
    #[arg(long)]
    input: PathBuf,
    #[arg(long, default_value = "id")]
    id_col: String,
    #[arg(long, default_value = "var1")]
    product_col: String,
    #[arg(long, default_value = "var2")]
    event_col: String,
    /// Stratification column (repeatable).
    #[arg(long = "strata-col")]
    strata_cols: Vec<String>,
    /// Hyperparameters a1,b1,a2,b2,p; without them they are fitted and the fit is printed.
    #[arg(long, value_parser = parse_theta)]
    theta: Option<Theta5>,
    /// Fit on squashed data (openEBGM's autoSquash), for large tables.
    #[arg(long)]
    squash: bool,
    /// Output CSV (default: standard output).
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy)]
struct Theta5([f64; 5]);

fn parse_theta(s: &str) -> Result<Theta5, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != 5 {
        return Err(format!(
            "expected 5 comma-separated numbers a1,b1,a2,b2,p, got {}",
            parts.len()
        ));
    }
    let mut out = [0.0f64; 5];
    for (i, p) in parts.iter().enumerate() {
        out[i] = p.parse().map_err(|_| format!("`{p}` is not a number"))?;
        if !out[i].is_finite() || out[i] <= 0.0 {
            return Err(format!("`{p}` must be a positive number"));
        }
    }
    if out[4] >= 1.0 {
        return Err("p must be between 0 and 1".into());
    }
    Ok(Theta5(out))
}

fn open(path: &Path) -> anyhow::Result<Box<dyn Read>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, f)))
}

fn create(path: Option<&Path>) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
    })
}

/// A one-line progress display on stderr when it is a terminal; silent otherwise.
struct ProgressLine {
    on: bool,
    total_bytes: Option<u64>,
    last: Instant,
}

impl ProgressLine {
    fn new(total_bytes: Option<u64>) -> Self {
        ProgressLine {
            on: std::io::stderr().is_terminal(),
            total_bytes,
            last: Instant::now(),
        }
    }

    fn update(&mut self, p: Progress) {
        if !self.on || (self.last.elapsed().as_millis() < 200 && !matches!(p, Progress::Stage(_))) {
            return;
        }
        self.last = Instant::now();
        let line = match p {
            Progress::Reading { rows, bytes } => match self.total_bytes {
                Some(t) if t > 0 => format!(
                    "reading: {rows} rows, {:.0}%",
                    100.0 * bytes as f64 / t as f64
                ),
                _ => format!("reading: {rows} rows"),
            },
            Progress::Stage(s) => format!("{s}..."),
            Progress::Pairs { done, total } => format!("pairs: {done}/{total}"),
        };
        eprint!("\r\x1b[2K{line}");
    }

    fn finish(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}

pub fn run(cmd: StatsCommand) -> anyhow::Result<()> {
    match cmd {
        StatsCommand::Disproportionality(a) => {
            let opts = DispOptions {
                id_col: a.id_col,
                product_col: a.product_col,
                event_col: a.event_col,
                strata_cols: a.strata_cols,
                theta: a.theta.map(|t| t.0),
                squash: a.squash,
            };
            let size = std::fs::metadata(&a.input).ok().map(|m| m.len());
            let mut progress = ProgressLine::new(size);
            let input = open(&a.input)?;
            let output = create(a.output.as_deref())?;
            let summary =
                offline::disproportionality(input, &opts, output, &mut |p| progress.update(p))
                    .with_context(|| format!("disproportionality on {}", a.input.display()));
            progress.finish();
            let s = summary?;
            eprintln!(
                "{} rows, {} reports, {} products, {} events, {} pairs",
                s.rows, s.reports, s.products, s.events, s.pairs
            );
            let t = s.theta;
            match &s.fit {
                Some(fit) => {
                    if let Some(lone) = &fit.unconfirmed_better {
                        eprintln!(
                            "note: one start reached a lower negative log-likelihood ({:.4}) that no other start confirmed; it was not chosen",
                            lone.nll
                        );
                    }
                    eprintln!(
                        "fitted hyperparameters a1={} b1={} a2={} b2={} p={} (negative log-likelihood {:.4}, {} starts agreed{})",
                        t.alpha1,
                        t.beta1,
                        t.alpha2,
                        t.beta2,
                        t.p,
                        fit.nll,
                        fit.num_close,
                        s.squashed_points
                            .map(|n| format!(", fitted on {n} squashed points"))
                            .unwrap_or_default()
                    )
                }
                None => eprintln!(
                    "hyperparameters given: a1={} b1={} a2={} b2={} p={}",
                    t.alpha1, t.beta1, t.alpha2, t.beta2, t.p
                ),
            }
            Ok(())
        }
        StatsCommand::MaxsprtCv {
            sample_size,
            alpha,
            min_events,
        } => {
            let cv = offline::maxsprt_cv(sample_size, alpha, min_events)?;
            println!("{cv:.10}");
            Ok(())
        }
        StatsCommand::Rates {
            reports,
            exposure,
            output,
        } => {
            let s = offline::rates(
                open(&reports)?,
                open(&exposure)?,
                create(output.as_deref())?,
            )?;
            eprintln!(
                "{} reports ({} without exposure), {} exposure rows, {} rows written",
                s.reports, s.reports_without_exposure, s.exposure_rows, s.rows_written
            );
            Ok(())
        }
        StatsCommand::Seismic {
            cascade,
            at,
            n_star,
        } => {
            if !at.is_finite() || at < 0.0 {
                bail!("--at must be a non-negative number of seconds");
            }
            let report = firewatch_forecast::seismic_offline(open(&cascade)?, at, n_star)
                .with_context(|| format!("SEISMIC on {}", cascade.display()))?;
            println!("{report}");
            Ok(())
        }
    }
}
