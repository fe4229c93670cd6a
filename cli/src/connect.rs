//! Opening the session the URL names: WebSocket for ws(s)://, HTTP batch for http(s)://,
//! WebTransport for webtransport:// (HTTP/3 over UDP, connected as https://).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use capnweb::http_batch::Client;
use capnweb::tls::ClientTls;
use capnweb::{MessageDirection, Session, SessionOptions};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::args::ConnectOpts;

/// Why there is no session; the exit status depends on which.
#[derive(Debug)]
pub enum ConnectError {
    /// The command line asks for something impossible (exit 2).
    Usage(String),
    /// The server could not be reached or refused us (exit 3).
    Failed(String),
}

pub enum TransportKind {
    WebSocket,
    HttpBatch,
    WebTransport,
}

impl TransportKind {
    /// Whether a session lasts beyond one exchange (bindings, callbacks and streams live on).
    pub fn is_lasting(&self) -> bool {
        !matches!(self, TransportKind::HttpBatch)
    }
}

/// Which transport `url` asks for.
pub fn transport_of(url: &str) -> Result<TransportKind, ConnectError> {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("ws" | "wss") => Ok(TransportKind::WebSocket),
        Some("http" | "https") => Ok(TransportKind::HttpBatch),
        Some("webtransport") => Ok(TransportKind::WebTransport),
        _ => Err(ConnectError::Usage(format!(
            "the URL {url} must start with ws:// or wss:// (WebSocket), http:// or https:// \
             (HTTP batch), or webtransport:// (WebTransport, over https://)"
        ))),
    }
}

/// Opens the session. Over HTTP batch nothing is sent yet: the batch goes out on the first
/// await. While `raw` is set, every message is printed on stderr (it can change at any time).
pub async fn connect(
    url: &str,
    args: &ConnectOpts,
    raw: Arc<AtomicBool>,
) -> Result<Session, ConnectError> {
    let transport = transport_of(url)?;
    let headers = headers(&args.headers)?;
    let tls = tls(args)?;
    let mut options = SessionOptions::default().on_message(move |direction, text| {
        if raw.load(Ordering::Relaxed) {
            print_raw(direction, text);
        }
    });
    let timeout = args.timeout;
    if let Some(timeout) = timeout {
        options = options.call_timeout(timeout);
    }
    match transport {
        TransportKind::WebSocket => {
            let mut builder = capnweb::websocket::builder(url).options(options);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            if let Some(token) = &args.bearer {
                builder = builder.bearer_token(token);
            }
            if let Some(tls) = tls {
                builder = builder.tls(tls);
            }
            if let Some(timeout) = timeout {
                builder = builder.connect_timeout(timeout);
            }
            builder
                .connect()
                .await
                .map_err(|e| ConnectError::Failed(e.to_string()))
        }
        TransportKind::HttpBatch => Ok(batch_client(url, args, options)?.session()),
        TransportKind::WebTransport => webtransport(url, args, headers, options).await,
    }
}

/// A WebTransport session: `webtransport://host:port/path` is `https://host:port/path` on UDP.
/// The server's certificate is trusted by its hash (`--cert-hash`, as a browser's
/// `serverCertificateHashes`), by a CA (`--cacert`), or by the system's roots.
async fn webtransport(
    url: &str,
    args: &ConnectOpts,
    headers: Vec<(String, String)>,
    options: SessionOptions,
) -> Result<Session, ConnectError> {
    if args.insecure {
        return Err(ConnectError::Usage(
            "--insecure does not apply to WebTransport: trust a development certificate by \
             its hash instead (--cert-hash HEX, which the server prints)"
                .to_owned(),
        ));
    }
    let https = match url.split_once("://") {
        Some((_, rest)) => format!("https://{rest}"),
        None => url.to_owned(),
    };
    let mut builder = capnweb::webtransport::builder(https).options(options);
    for hash in &args.cert_hashes {
        builder = builder.certificate_hash(certificate_hash(hash)?);
    }
    if let Some(path) = &args.cacert {
        let pem = std::fs::read(path).map_err(|e| {
            ConnectError::Usage(format!("cannot read the CA file {}: {e}", path.display()))
        })?;
        for root in <CertificateDer as PemObject>::pem_slice_iter(&pem) {
            let root = root.map_err(|e| {
                ConnectError::Usage(format!("the CA file {} is not PEM: {e}", path.display()))
            })?;
            builder = builder.add_root(root);
        }
    }
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    if let Some(token) = &args.bearer {
        builder = builder.bearer_token(token);
    }
    if let Some(timeout) = args.timeout {
        builder = builder.connect_timeout(timeout);
    }
    builder
        .connect()
        .await
        .map_err(|e| ConnectError::Failed(e.to_string()))
}

/// `--cert-hash`: a SHA-256 hash in hex (64 digits; `:` between bytes allowed).
fn certificate_hash(text: &str) -> Result<[u8; 32], ConnectError> {
    let digits: String = text.chars().filter(|c| *c != ':').collect();
    let bad = || {
        ConnectError::Usage(format!(
            "--cert-hash {text:?} is not a SHA-256 hash: 64 hex digits expected"
        ))
    };
    if digits.len() != 64 || !digits.is_ascii() {
        return Err(bad());
    }
    let mut hash = [0u8; 32];
    for (byte, pair) in hash.iter_mut().zip(digits.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(hash)
}

/// An HTTP batch client for `url` with the connection options (also what `describe` GETs
/// through); ws:// and wss:// are read as http:// and https://.
pub fn batch_client(
    url: &str,
    args: &ConnectOpts,
    options: SessionOptions,
) -> Result<Client, ConnectError> {
    let url = match url.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("ws") => format!("http://{rest}"),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("wss") => format!("https://{rest}"),
        _ => url.to_owned(),
    };
    let mut builder = capnweb::http_batch::builder(&url).options(options);
    for (name, value) in headers(&args.headers)? {
        builder = builder.header(name, value);
    }
    if let Some(token) = &args.bearer {
        builder = builder.bearer_token(token);
    }
    if let Some(tls) = tls(args)? {
        builder = builder.tls(tls);
    }
    if let Some(timeout) = args.timeout {
        builder = builder.connect_timeout(timeout);
    }
    builder
        .build()
        .map_err(|e| ConnectError::Usage(e.to_string()))
}

/// `--raw`: each message on stderr, as it goes.
fn print_raw(direction: MessageDirection, text: &str) {
    let arrow = match direction {
        MessageDirection::Sent => '>',
        MessageDirection::Received => '<',
    };
    let _ = writeln!(std::io::stderr().lock(), "{arrow} {text}");
}

/// `-H 'Name: value'` as a pair.
fn headers(raw: &[String]) -> Result<Vec<(String, String)>, ConnectError> {
    raw.iter()
        .map(|header| match header.split_once(':') {
            Some((name, value)) if !name.trim().is_empty() => {
                Ok((name.trim().to_owned(), value.trim().to_owned()))
            }
            _ => Err(ConnectError::Usage(format!(
                "the header {header:?} is not of the form `Name: value`"
            ))),
        })
        .collect()
}

fn tls(args: &ConnectOpts) -> Result<Option<ClientTls>, ConnectError> {
    if args.insecure {
        return Ok(Some(crate::insecure::client_tls()));
    }
    let Some(path) = &args.cacert else {
        return Ok(None);
    };
    let pem = std::fs::read(path).map_err(|e| {
        ConnectError::Usage(format!("cannot read the CA file {}: {e}", path.display()))
    })?;
    ClientTls::new()
        .add_root_pem(pem)
        .map(Some)
        .map_err(|e| ConnectError::Usage(format!("{}: {e}", path.display())))
}
