//! `capnweb call`: issue every statement, then await the results together and print them in
//! statement order as they arrive.

use std::future::{Future, IntoFuture};
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use capnweb::{Error, RpcPromise, Value};

use crate::args::CallArgs;
use crate::callback;
use crate::connect::{self, ConnectError};
use crate::eval::{Outcome, Script};
use crate::output;
use crate::parse::{self, Statement};

/// Exit statuses (documented in `capnweb call --help`).
pub const REJECTED: u8 = 1;
pub const USAGE: u8 = 2;
pub const UNREACHABLE: u8 = 3;

type ResultFuture = Pin<Box<dyn Future<Output = Result<Value, Error>> + Send>>;

/// One statement's result on its way to stdout.
enum Slot {
    Waiting(String, ResultFuture),
    Done(String, Result<Value, Error>),
    Printed,
}

/// Runs `capnweb call`; returns the exit status.
pub async fn call(args: CallArgs, source: String) -> u8 {
    let statements = match parse::parse_script(&source) {
        Ok(statements) => statements,
        Err(e) => {
            eprintln!("capnweb: {}", e.render(&source));
            return USAGE;
        }
    };
    if let Err(ConnectError::Usage(e)) = connect::transport_of(&args.url) {
        eprintln!("capnweb: {e}");
        return USAGE;
    }
    let raw = Arc::new(AtomicBool::new(args.raw));
    let session = match connect::connect(&args.url, &args.connect, raw).await {
        Ok(session) => session,
        Err(ConnectError::Usage(e)) => {
            eprintln!("capnweb: {e}");
            return USAGE;
        }
        Err(ConnectError::Failed(e)) => {
            eprintln!("capnweb: {e}");
            return UNREACHABLE;
        }
    };
    let timeout = args.connect.timeout;
    let mut script = Script::new(session.main());
    let sink: callback::Sink = Arc::new(|line| output::print_line(&line));
    if let Err(e) = callback::bind_all(&mut script, &args.callbacks, &sink) {
        eprintln!("capnweb: {e}");
        return USAGE;
    }
    let slots = match issue_all(&mut script, &statements, &source, timeout) {
        Ok(slots) => slots,
        Err(status) => return status,
    };
    // Everything is issued: the bindings go now, so the session can close clean (nothing of
    // the server's left held) once the results are in.
    drop(script);
    let status = print_in_order(slots).await;
    if connect::transport_of(&args.url).is_ok_and(|transport| transport.is_lasting()) {
        // A clean close, so the server sees the session end normally.
        let closing = session.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), closing).await;
    }
    status
}

/// Issues every statement before anything is awaited (so they all travel together).
fn issue_all(
    script: &mut Script,
    statements: &[Statement],
    source: &str,
    timeout: Option<Duration>,
) -> Result<Vec<Slot>, u8> {
    let mut slots = Vec::new();
    for statement in statements {
        match script.issue(statement) {
            Ok(Outcome::Bound) => {}
            Ok(Outcome::Ready(value)) => {
                slots.push(Slot::Done(statement.source.clone(), Ok(value)))
            }
            Ok(Outcome::Pending(promise)) => {
                let future: ResultFuture = match timeout {
                    Some(after) => Box::pin(RpcPromise::timeout(promise, after)),
                    None => Box::pin(promise.into_future()),
                };
                slots.push(Slot::Waiting(statement.source.clone(), future));
            }
            Err(e) => {
                eprintln!("capnweb: {}", e.render(source));
                return Err(USAGE);
            }
        }
    }
    Ok(slots)
}

/// Polls every result together (the first poll of each queues its pull, so over HTTP batch
/// all of them go out in one POST) and prints each as soon as those before it are printed.
async fn print_in_order(mut slots: Vec<Slot>) -> u8 {
    let mut next = 0;
    let mut status = 0;
    let mut last_failure = String::new();
    std::future::poll_fn(|cx| {
        for slot in slots.iter_mut().skip(next) {
            if let Slot::Waiting(source, future) = slot {
                if let Poll::Ready(result) = future.as_mut().poll(cx) {
                    *slot = Slot::Done(std::mem::take(source), result);
                }
            }
        }
        while next < slots.len() {
            match std::mem::replace(&mut slots[next], Slot::Printed) {
                Slot::Done(source, result) => {
                    report(&source, result, &mut status, &mut last_failure);
                    next += 1;
                }
                waiting => {
                    slots[next] = waiting;
                    return Poll::Pending;
                }
            }
        }
        Poll::Ready(())
    })
    .await;
    status
}

/// Prints one result: stdout for a value, stderr for a failure (the worst status wins).
fn report(source: &str, result: Result<Value, Error>, status: &mut u8, last_failure: &mut String) {
    match result {
        Ok(value) => {
            let line = output::to_json(&value, source).to_string();
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        }
        Err(Error::Remote(rejection)) => {
            eprintln!("{}", output::rejection(&rejection));
            *status = (*status).max(REJECTED);
        }
        Err(other) => {
            // A broken session fails every statement alike: say it once.
            let text = other.to_string();
            if text != *last_failure {
                eprintln!("capnweb: {text}");
                *last_failure = text;
            }
            *status = (*status).max(UNREACHABLE);
        }
    }
}
