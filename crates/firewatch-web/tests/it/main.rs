//! Integration tests of the web crate: one test binary (each extra one is another link).

mod authz;
mod common;
mod hostile;
mod malformed;
