//! The crate's one integration-test binary: reference values from R, openEBGM and SciPy.
mod common;
mod gps;
mod maxsprt;
mod offline;
mod poisson;
