//! Defect-signal statistics: Poisson intervals, disproportionality, Gamma-Poisson Shrinker,
//! MaxSPRT. Pure: no files, no network, no clocks; readers and writers are passed in.
//!
//! - [`poisson`]: exact (Garwood) Poisson intervals for counts and rates per million units,
//!   and the exact rate ratio of one product against the rest of its category.
//! - [`disproportionality`]: RR, PRR with chi-square, ROR with its 95% CI, BCPNN IC with IC025
//!   from a 2x2 table.
//! - [`counts`]: openEBGM's `processRaw`: unique-report counts per (product, event) pair and
//!   expected counts `E = n_i. n_.j / n_..` (optionally summed over strata), from CSV rows.
//! - [`gps`]: DuMouchel's Gamma-Poisson Shrinker: likelihood, data squashing (`autoSquash`),
//!   maximum-likelihood hyperparameters from several starts (`autoHyper`), EBGM, EB05, EB95.
//! - [`maxsprt`]: Poisson MaxSPRT log-likelihood ratio and exact critical values (the quantity
//!   R's `Sequential::CV.Poisson` computes).
//! - [`offline`]: the analyst commands (`firewatch stats ...`) as functions over `Read`/`Write`;
//!   the binary's front end is `crates/firewatch/src/stats_cmd.rs`.
//! - [`special`], [`csvfast`]: the incomplete gamma, gamma/beta/normal quantiles, and the CSV
//!   reader the rest is built on.
//!
//! Threads: only [`gps::auto_hyper_threads`] (one fit per starting point) and
//! [`offline::score_pairs`] (distinct (N, E) values split in chunks) use threads, scoped and
//! bounded by their `threads` argument; results do not depend on the thread count.
//!
//! Reference tests (tests/it): openEBGM 0.9.1 on FDA CAERS (counts, E, RR, PRR, Qn, EBGM, EB05,
//! EB95, negative log-likelihoods), R Sequential 4.5.1 critical values, SciPy intervals.
//! Measurements against openEBGM on a 10-million-row table: `docs/bench.md`.
#![warn(missing_docs)]

pub mod counts;
pub mod csvfast;
pub mod disproportionality;
mod error;
pub mod gps;
pub mod maxsprt;
pub mod offline;
pub mod poisson;
pub mod special;

pub use error::{Result, StatsError};
