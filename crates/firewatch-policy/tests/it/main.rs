//! The one integration-test binary of firewatch-policy.

mod clocks;
mod default_playbook;
mod golden;
mod story;
