//! `capnweb repl`: statements line by line on one WebSocket session, bindings kept between
//! lines. The line editor (rustyline) runs on this thread; the session runs on a one-worker
//! runtime, so it keeps answering the server (callbacks, pings) while a line is being typed.

use std::future::IntoFuture;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capnweb::{Error, ReadableStream, RpcPromise, Session, Value};
use futures::StreamExt;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{Editor, ExternalPrinter};
use tokio::runtime::Runtime;

use crate::args::ReplArgs;
use crate::callback::{self, Sink};
use crate::complete::Helper;
use crate::connect::{self, ConnectError, TransportKind};
use crate::eval::{Outcome, Script};
use crate::output::{self, print_line};
use crate::parse;
use crate::run::{UNREACHABLE, USAGE};

pub const HELP_AFTER: &str = "\
LINES
  The statements of `capnweb call` (see `capnweb call --help`), one line at a time, on one
  session: a `let` binding lasts until .release or the end. Each result prints as one line of
  JSON; a rejection prints `Name: message` and the REPL goes on. A ReadableStream result prints
  its chunks as they arrive, one line each, until it ends or Ctrl-C.

COMMANDS
  .stats           the session's import and export table sizes and counters
  .raw on|off      print every protocol message on stderr (`> ` sent, `< ` received)
  .release NAME…   drop a binding, releasing its stub or promise on the server
  .help            this list
  .exit            leave (as does Ctrl-D)

  Tab completes bound names, commands, and, when the server describes its API, method
  names. History is kept in $HOME/.capnweb_history when $HOME is set.

EXIT STATUS
  0  left with .exit or Ctrl-D
  2  usage error (an http:// URL: HTTP batch keeps no session across lines)
  3  the server could not be reached, refused the connection, or the session ended";

const COMMANDS: &str = "\
.stats           the session's import and export table sizes and counters
.raw on|off      print every protocol message on stderr
.release NAME…   drop a binding, releasing what it holds
.help            this list
.exit            leave (or Ctrl-D)";

const PROMPT: &str = "capnweb> ";

/// What to do after a line.
enum Flow {
    Continue,
    Exit(u8),
}

/// The session and what the lines have bound.
struct Repl {
    runtime: Runtime,
    session: Session,
    script: Script,
    raw: Arc<AtomicBool>,
    /// The bound names, shared with the completer.
    names: Arc<Mutex<Vec<String>>>,
    timeout: Option<Duration>,
}

/// Runs `capnweb repl`; returns the exit status.
pub fn repl(args: ReplArgs) -> u8 {
    match connect::transport_of(&args.url) {
        Err(ConnectError::Usage(e) | ConnectError::Failed(e)) => {
            eprintln!("capnweb: {e}");
            return USAGE;
        }
        Ok(TransportKind::HttpBatch) => {
            eprintln!(
                "capnweb: the REPL needs a lasting session (ws://, wss:// or webtransport://): \
                 an HTTP batch session ends with each request, so bindings could not last from \
                 line to line. For http://, use `capnweb call`."
            );
            return USAGE;
        }
        Ok(TransportKind::WebSocket | TransportKind::WebTransport) => {}
    }
    if let Some(bad) = args.callbacks.iter().find(|n| !callback::valid_name(n)) {
        eprintln!("capnweb: --callback {bad:?}: a callback's name must be an identifier");
        return USAGE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("capnweb: cannot start the async runtime: {e}");
            return 1;
        }
    };
    // Ctrl-C is caught from now on (while a line runs it stops that line; at the prompt the
    // editor reads it as a key), so a stray one never kills the REPL.
    #[cfg(unix)]
    let _interrupts = runtime.block_on(async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    });
    let raw = Arc::new(AtomicBool::new(args.raw));
    let session = match runtime.block_on(connect::connect(&args.url, &args.connect, raw.clone())) {
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
    let description = runtime
        .block_on(crate::describe::fetch(&args.url, &args.connect))
        .ok();
    if description.is_none() {
        eprintln!(
            "capnweb: the server does not describe its API: working untyped (no method names \
             to complete)"
        );
    }

    let names = Arc::new(Mutex::new(Vec::new()));
    let mut editor = match Editor::<Helper, DefaultHistory>::new() {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("capnweb: cannot set up the line editor: {e}");
            return 1;
        }
    };
    editor.set_helper(Some(Helper::new(description.as_ref(), names.clone())));
    let history = history_path();
    if let Some(path) = &history {
        // A missing or unreadable history is no reason to stop.
        let _ = editor.load_history(path);
    }

    let sink = sink(&mut editor);
    let mut script = Script::new(session.main());
    if let Err(e) = callback::bind_all(&mut script, &args.callbacks, &sink) {
        eprintln!("capnweb: {e}");
        return USAGE;
    }
    let mut repl = Repl {
        runtime,
        session,
        script,
        raw,
        names,
        timeout: args.connect.timeout,
    };
    repl.share_names();

    let status = loop {
        if repl.session.is_closed() {
            eprintln!("capnweb: the session has ended");
            break UNREACHABLE;
        }
        match editor.readline(PROMPT) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                if let Flow::Exit(status) = repl.line(&line) {
                    break status;
                }
            }
            // Ctrl-C at the prompt abandons the line, as in a shell.
            Err(ReadlineError::Interrupted) => {}
            Err(ReadlineError::Eof) => break 0,
            Err(e) => {
                eprintln!("capnweb: cannot read the line: {e}");
                break 1;
            }
        }
    };
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    repl.close();
    status
}

/// `$HOME/.capnweb_history`, when there is a home.
fn history_path() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".capnweb_history"))
}

/// Where asynchronous lines (callbacks) go: through the editor's printer, which redraws the
/// prompt around them while a line is being typed; plain stdout when there is no terminal.
fn sink(editor: &mut Editor<Helper, DefaultHistory>) -> Sink {
    match editor.create_external_printer() {
        Ok(printer) => {
            let printer = Mutex::new(printer);
            Arc::new(move |line: String| {
                let printed = printer
                    .lock()
                    .map(|mut p| p.print(format!("{line}\n")).is_ok())
                    .unwrap_or(false);
                if !printed {
                    print_line(&line);
                }
            })
        }
        Err(_) => Arc::new(|line: String| print_line(&line)),
    }
}

impl Repl {
    fn share_names(&self) {
        if let Ok(mut names) = self.names.lock() {
            *names = self.script.names();
        }
    }

    fn line(&mut self, line: &str) -> Flow {
        let trimmed = line.trim();
        let flow = if trimmed.is_empty() {
            Flow::Continue
        } else if trimmed.starts_with('.') {
            self.command(trimmed)
        } else {
            self.statements(line)
        };
        self.share_names();
        flow
    }

    fn command(&mut self, line: &str) -> Flow {
        let (command, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match command {
            ".help" => print_line(COMMANDS),
            ".exit" | ".quit" => return Flow::Exit(0),
            ".stats" => {
                let s = self.session.stats();
                print_line(&format!(
                    "imports: {}, exports: {} (each with the main object); calls from the \
                     server: {} ({} failed); bytes in: {}, out: {}",
                    s.imports, s.exports, s.calls, s.errors, s.bytes_in, s.bytes_out
                ));
            }
            ".raw" => match rest {
                "on" => self.raw.store(true, Ordering::Relaxed),
                "off" => self.raw.store(false, Ordering::Relaxed),
                "" => {
                    let state = if self.raw.load(Ordering::Relaxed) {
                        "on"
                    } else {
                        "off"
                    };
                    print_line(&format!("raw is {state}"));
                }
                other => eprintln!("`.raw {other}`: say `.raw on` or `.raw off`"),
            },
            ".release" if rest.is_empty() => eprintln!("`.release NAME`: which binding?"),
            ".release" => {
                for name in rest.split_whitespace() {
                    if self.script.release(name) {
                        print_line(&format!("released {name}"));
                    } else {
                        eprintln!("`{name}` is not bound");
                    }
                }
            }
            other => eprintln!("unknown command `{other}`; .help lists the commands"),
        }
        Flow::Continue
    }

    /// Issues the line's statements together (pipelined), then prints their results in order.
    fn statements(&mut self, line: &str) -> Flow {
        let statements = match parse::parse_script(line) {
            Ok(statements) => statements,
            Err(e) => {
                eprintln!("{}", e.render(line));
                return Flow::Continue;
            }
        };
        let mut issued = Vec::new();
        for statement in &statements {
            match self.script.issue(statement) {
                Ok(outcome) => issued.push((statement.source.clone(), outcome)),
                Err(e) => {
                    eprintln!("{}", e.render(line));
                    break;
                }
            }
        }
        for (source, outcome) in issued {
            let result = match outcome {
                Outcome::Bound => continue,
                Outcome::Ready(value) => Ok(value),
                Outcome::Pending(promise) => match self.wait(promise) {
                    Some(result) => result,
                    None => {
                        eprintln!("interrupted: the rest of the line is dropped");
                        return Flow::Continue;
                    }
                },
            };
            match result {
                Ok(value) => self.print(value, &source),
                Err(Error::Remote(rejection)) => {
                    eprintln!("{}", output::rejection(&rejection));
                }
                Err(other) => {
                    eprintln!("capnweb: {other}");
                    if self.session.is_closed() {
                        return Flow::Exit(UNREACHABLE);
                    }
                }
            }
        }
        Flow::Continue
    }

    /// The promise's result, or `None` on Ctrl-C.
    fn wait(&self, promise: RpcPromise<Value>) -> Option<Result<Value, Error>> {
        let timeout = self.timeout;
        self.runtime.block_on(async move {
            let result = async {
                match timeout {
                    Some(after) => RpcPromise::timeout(promise, after).await,
                    None => promise.into_future().await,
                }
            };
            tokio::select! {
                result = result => Some(result),
                _ = tokio::signal::ctrl_c() => None,
            }
        })
    }

    /// A value as one JSON line; a stream chunk by chunk until it ends or Ctrl-C.
    fn print(&self, value: Value, source: &str) {
        if matches!(value, Value::Stub(_)) {
            if let Ok(stream) = capnweb::from_value::<ReadableStream<Value>>(value.clone()) {
                self.stream(stream, source);
                return;
            }
        }
        print_line(&output::to_json(&value, source).to_string());
    }

    fn stream(&self, mut stream: ReadableStream<Value>, source: &str) {
        self.runtime.block_on(async {
            let interrupt = tokio::signal::ctrl_c();
            tokio::pin!(interrupt);
            loop {
                tokio::select! {
                    chunk = stream.next() => match chunk {
                        Some(Ok(chunk)) => print_line(&output::to_json(&chunk, source).to_string()),
                        Some(Err(Error::Remote(rejection))) => {
                            eprintln!("{}", output::rejection(&rejection));
                            break;
                        }
                        Some(Err(e)) => {
                            eprintln!("capnweb: the stream failed: {e}");
                            break;
                        }
                        None => break,
                    },
                    _ = &mut interrupt => {
                        // Dropping the stream cancels it on the server.
                        eprintln!("stream stopped");
                        break;
                    }
                }
            }
        });
    }

    fn close(self) {
        let session = self.session;
        drop(self.script);
        self.runtime.block_on(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), session.close()).await;
        });
    }
}
