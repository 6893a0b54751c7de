//! End-to-end tests: they start the real `firewatch` binary on a free port and drive it over
//! HTTP and its command line. One test binary for the crate (each extra one is another link).

mod api;
mod backup;
mod comms;
mod demo;
mod demo_world;
mod durability;
mod faults;
mod harness;
mod import_reports;
mod nodes;
mod photos;
mod playbook;
mod security;
mod signals;
mod social;
mod stats;
mod ui_browser;
