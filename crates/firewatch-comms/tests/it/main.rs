//! The crate's one integration-test binary.

mod checker;
mod exports;
mod properties;
mod real_texts;
mod support;
mod templates;
