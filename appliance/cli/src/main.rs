//! The `stella` binary: parse flags, run, exit. Everything else is in the library.
#![forbid(unsafe_code)]

use clap::Parser as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match stella_cli::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version (exit 0) and usage errors (exit 2, as CONTRACT.md says).
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    ExitCode::from(stella_cli::run(&cli))
}
