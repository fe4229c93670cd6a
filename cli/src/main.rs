//! `capnweb`: a command-line client for Cap'n Web servers. See `capnweb call --help` and
//! cli/README.md.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod args;
mod callback;
mod complete;
mod connect;
mod describe;
mod eval;
mod insecure;
mod output;
mod parse;
mod repl;
mod run;

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;

use args::{CallArgs, Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Call(args) => {
            let source = match read_script(&args) {
                Ok(source) => source,
                Err(e) => {
                    eprintln!("capnweb: {e}");
                    return ExitCode::from(run::USAGE);
                }
            };
            match current_thread() {
                Some(runtime) => ExitCode::from(runtime.block_on(run::call(args, source))),
                None => ExitCode::FAILURE,
            }
        }
        Command::Repl(args) => ExitCode::from(repl::repl(args)),
        Command::Describe(args) => match current_thread() {
            Some(runtime) => ExitCode::from(runtime.block_on(describe::describe(args))),
            None => ExitCode::FAILURE,
        },
    }
}

/// The runtime `call` and `describe` run on (the error is printed).
fn current_thread() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| eprintln!("capnweb: cannot start the async runtime: {e}"))
        .ok()
}

/// The script: the argument, or a file, or stdin for `-`.
fn read_script(args: &CallArgs) -> Result<String, String> {
    let from_stdin = || {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the script from stdin: {e}"))?;
        Ok(text)
    };
    match (&args.script, &args.file) {
        (Some(script), _) if script == "-" => from_stdin(),
        (Some(script), _) => Ok(script.clone()),
        (None, Some(path)) if path.as_os_str() == "-" => from_stdin(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the script {}: {e}", path.display())),
        (None, None) => Err("give a script, or -f FILE".into()),
    }
}
