//! `edgecall-stream`: stream a camera (or a test pattern) and a microphone
//! (or a tone) into an edgecall meeting, list devices, or run load bots.
//!
//! Errors end the program with one line on stderr and exit status 1
//! (2 for command-line mistakes, from clap).

mod args;
mod bots_cmd;
mod errors;
mod info_cmd;
mod join;
mod stream_cmd;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Stream(args) => stream_cmd::run(args).await,
            Command::Info(args) => info_cmd::run(&args),
            Command::Bots(args) => bots_cmd::run(args).await,
        }
    });
    // Capture threads may still be blocked in a sleep; don't wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", errors::describe(&err));
            ExitCode::FAILURE
        }
    }
}
