//! The crate's one integration-test binary: reference values from R and openEBGM.
mod maxsprt;
