//! Command-line entry point.
use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("not yet implemented");
    ExitCode::from(2)
}
