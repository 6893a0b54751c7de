//! `firewatch`: one binary for the server, the demo and the operator commands.

mod backup;
mod cli;
mod config;
mod demo;
mod egress;
mod import_cmd;
mod import_posts;
mod import_reports;
mod notify;
mod scheduler;
mod serve;
mod social;
mod stats_cmd;
mod triage_engine;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // One line: clap's first line without its usage block.
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            eprintln!("firewatch: {first} (see --help)");
            return ExitCode::from(2);
        }
    };
    // TLS for the connectors: rustls with ring, the only provider in the build.
    firewatch_connectors::transport::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("firewatch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, the whole cause chain.
            eprintln!("firewatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}
