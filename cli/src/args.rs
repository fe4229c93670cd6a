//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// A command-line client for Cap'n Web servers.
#[derive(Debug, Parser)]
#[command(name = "capnweb", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run calls against a server's main object, pipelined, and print each result as JSON.
    #[command(long_about = CALL_ABOUT, after_long_help = CALL_AFTER)]
    Call(CallArgs),
    /// Type statements line by line on one session; bindings last until you leave.
    #[command(after_long_help = crate::repl::HELP_AFTER)]
    Repl(ReplArgs),
    /// Print the API a server describes: its targets' methods and properties, and its types.
    Describe(DescribeArgs),
}

const CALL_ABOUT: &str = "\
Run calls against a server's main object, pipelined, and print each result as JSON.

Every statement is sent before any result is awaited: over HTTP batch the whole script is one \
POST; over WebSocket, one round trip.";

const CALL_AFTER: &str = r#"SCRIPT
  Statements separated by `;` or new lines; `#` starts a comment.
    square(3)                          a call on the main object
    version                            a property of the main object
    getUser(42).profile.name           a chain, pipelined
    square(square(2))                  a result as an argument, pipelined
    let c = makeCounter(5)             a binding (prints nothing)
    c.increment(2)                     a call on a bound result
    generateFibonacci(6).map(x => square(x))
                                       .map() runs on the server, per element
    echo({"a": [1, "two", null]}, 12n, undefined)
                                       JSON arguments; 12n is a bigint
  Strings take double quotes, as in JSON.

OUTPUT
  One line of JSON per statement that is not a `let`, in statement order. JSON values
  print as themselves; the rest print as an object with one tagged key:
    {"$undefined":true}  {"$bigint":"123"}  {"$date":1700000000000} (ms since the epoch)
    {"$bytes":"<base64>"}  {"$number":"NaN"} (also "Infinity", "-Infinity")
    {"$error":{"name":"…","message":"…"}} (an error returned as a value; stack and extra
      properties as further keys)
    {"$stub":"makeCounter(5)"} (a capability, named by the statement and path it came from;
      bind the statement with `let` to use it)
    {"$url":"…"}  {"$headers":[["name","value"],…]}  {"$unsupported":"<kind>"}
  An object's own key that starts with `$` prints with the `$` doubled: {"$x":1} prints as
  {"$$x":1}.

EXIT STATUS
  0  every statement succeeded
  1  a statement was rejected; each rejection is printed on stderr as `Name: message`
     (and the stack, when the server sends one), and that statement prints nothing
  2  usage or syntax error
  3  the server could not be reached, refused the connection, the session broke,
     or --timeout ran out

EXAMPLES
  capnweb call ws://localhost:8080/ 'square(3); makeCounter(5).increment(2)'
  capnweb call http://localhost:8080/ -f script.capnweb --bearer "$TOKEN"
  capnweb call webtransport://localhost:4433/ --cert-hash 3f1a… 'square(3)'
  echo 'square(2)' | capnweb call ws://localhost:8080/ -"#;

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The server: ws:// or wss:// for WebSocket, http:// or https:// for HTTP batch,
    /// webtransport:// for WebTransport (HTTP/3; add --cert-hash for a development certificate).
    pub url: String,

    /// The statements to run, or `-` to read them from stdin.
    #[arg(conflicts_with = "file", required_unless_present = "file")]
    pub script: Option<String>,

    /// Read the statements from FILE (`-` for stdin).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub connect: ConnectOpts,

    /// Bind NAME to a local function that prints its arguments when the server calls it
    /// (repeatable): pass it as an argument, as in `callFunction(onEvent, 5)`.
    #[arg(long = "callback", value_name = "NAME")]
    pub callbacks: Vec<String>,

    /// Print every protocol message on stderr as it goes: `> ` sent, `< ` received.
    #[arg(long)]
    pub raw: bool,
}

/// `capnweb repl`.
#[derive(Debug, Args)]
pub struct ReplArgs {
    /// The server: ws://, wss:// or webtransport:// (a REPL needs one session across lines,
    /// which HTTP batch does not keep).
    pub url: String,

    #[command(flatten)]
    pub connect: ConnectOpts,

    /// Bind NAME to a local function that prints its arguments when the server calls it
    /// (repeatable).
    #[arg(long = "callback", value_name = "NAME")]
    pub callbacks: Vec<String>,

    /// Start with the wire trace on (`.raw off` turns it off).
    #[arg(long)]
    pub raw: bool,
}

/// `capnweb describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// The server (ws:// and wss:// are asked over http:// and https://).
    pub url: String,

    #[command(flatten)]
    pub connect: ConnectOpts,

    /// Print the description as the server sent it (JSON).
    #[arg(long)]
    pub json: bool,
}

/// How to reach the server: headers, TLS, time limits.
#[derive(Debug, Clone, Args)]
pub struct ConnectOpts {
    /// Add a request header, as `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// Send `Authorization: Bearer TOKEN`.
    #[arg(long, value_name = "TOKEN")]
    pub bearer: Option<String>,

    /// Trust the CA certificate(s) in FILE (PEM), in addition to the built-in roots.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Do not check the server's TLS certificate (for testing only).
    #[arg(long)]
    pub insecure: bool,

    /// Trust the server certificate with this SHA-256 hash (hex), as a browser's
    /// `serverCertificateHashes` does: for a WebTransport server's development certificate
    /// (repeatable).
    #[arg(long = "cert-hash", value_name = "HEX")]
    pub cert_hashes: Vec<String>,

    /// Give up after SECS seconds: on connecting, and on each result.
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub timeout: Option<Duration>,
}

/// `--timeout`: a positive number of seconds (fractions allowed).
fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{text}` is not a positive number of seconds"))
}
