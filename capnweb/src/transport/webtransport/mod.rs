//! The WebTransport transport: Cap'n Web over HTTP/3 (QUIC, UDP), through
//! `web-transport-quinn`.
//!
//! The client opens a WebTransport session (an HTTP/3 extended CONNECT to an `https://` URL)
//! and then one bidirectional stream; every message travels on that stream as one line: its
//! JSON text, then `\n` (JSON text never holds a raw newline, so a line is a message). A
//! `\r` before the `\n` and empty lines are tolerated. Either side may send first. No
//! datagrams and no other streams are used.
//!
//! Use [`connect`] for a client that only calls, a [`ClientBuilder`] for anything more (the
//! certificate's hash for a development server, your own roots, headers, timeouts, a main
//! object of the client's own); [`Server::webtransport`](crate::Server::webtransport) serves
//! the same routes over WebTransport beside HTTP and WebSocket.
//!
//! ```no_run
//! # async fn example(hash: [u8; 32]) -> Result<(), capnweb::Error> {
//! use capnweb::{Stub, Value};
//!
//! let api: Stub = capnweb::webtransport::builder("https://127.0.0.1:4433/")
//!     .certificate_hash(hash) // a development server's DevCertificate::sha256()
//!     .connect_main()
//!     .await?;
//! let nine = api.call("square", vec![Value::from(3)]).await?;
//! # let _ = nine; Ok(()) }
//! ```
//!
//! Closing: the side that ends its session sends what it queued, ends its half of the stream
//! (FIN), waits until the peer acknowledged it (a few seconds at most), then closes the
//! WebTransport session with code 0 for a clean end, 3000 and the error's message for a
//! failure, or 1001 for a server shutting down. A peer that ends the stream or closes the
//! session with code 0 ends the session cleanly; any other code is a disconnection naming it.
//!
//! Certificates: browsers accept a server's self-signed certificate by its SHA-256 hash only if
//! it is ECDSA and valid for at most 14 days; [`DevCertificate`] makes such a one.

mod cert;
mod framing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use web_transport_quinn::quinn;

pub(crate) use cert::hex;
#[cfg(feature = "server")]
pub use cert::Certificate;
pub use cert::DevCertificate;
pub use framing::WebTransportTransport;
/// The certificate types [`DevCertificate`] and [`Certificate`] use (rustls' `pki-types`).
pub use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, TransportError};
use crate::session::{Session, SessionOptions};
use crate::stub::{FromStub, Stub};
use crate::transport::client_settings::ClientSettings;

/// The QUIC idle timeout a client asks for by default.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a client makes sure the connection is heard from, by default.
const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Connects to the Cap'n Web server at `url` (`https://host:port/path`) over WebTransport and
/// returns its main object as `T` (a [`Stub`] or a typed stub). The server's certificate must
/// chain to one of the system's roots; for a development server's certificate hash, your own
/// roots, headers or a main object of the client's own, use a [`ClientBuilder`].
///
/// Errors are [`Error::Transport`], naming the URL and what failed.
///
/// ```no_run
/// # async fn example() -> Result<(), capnweb::Error> {
/// let api: capnweb::Stub = capnweb::webtransport::connect("https://rpc.example.com/").await?;
/// # let _ = api; Ok(()) }
/// ```
pub async fn connect<T: FromStub>(url: &str) -> Result<T, Error> {
    ClientBuilder::new(url).connect_main().await
}

/// Runs a session on a WebTransport session accepted elsewhere (your own
/// `web-transport-quinn` server): waits (up to `timeout`) for the client's bidirectional stream,
/// then serves `local_main` on it. [`Server::webtransport`](crate::Server::webtransport) does
/// this for you.
///
/// ```no_run
/// # async fn example(request: capnweb::web_transport_quinn::Request) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use capnweb::{SessionOptions, Stub, Value};
///
/// let session = request.ok().await?;
/// let hello = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello")) });
/// let session = capnweb::webtransport::accept(session, Some(hello), SessionOptions::default(), Duration::from_secs(30)).await?;
/// let why = session.closed().await;
/// # let _ = why; Ok(()) }
/// ```
pub async fn accept(
    session: web_transport_quinn::Session,
    local_main: Option<Stub>,
    options: SessionOptions,
    timeout: Duration,
) -> Result<Session, Error> {
    let stream = match tokio::time::timeout(timeout, session.accept_bi()).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            let what = format!("the WebTransport session ended before its stream opened: {e}");
            return Err(Error::Transport(TransportError::with_source(what, e)));
        }
        Err(_) => {
            session.close(framing::ERROR_CLOSE, b"no stream was opened");
            return Err(Error::Transport(TransportError::new(format!(
                "the client opened no stream within {timeout:?}"
            ))));
        }
    };
    let (send, recv) = stream;
    let max = options.limits.max_message_size;
    let transport = WebTransportTransport::new(session, send, recv, max);
    Ok(Session::new(transport, local_main, options))
}

/// A [`ClientBuilder`] for `url`: the same as [`ClientBuilder::new`].
pub fn builder(url: impl Into<String>) -> ClientBuilder {
    ClientBuilder::new(url)
}

/// A WebTransport client with its settings: how the server's certificate is checked, request
/// headers, timeouts, session options and the client's own main object.
///
/// ```no_run
/// # async fn example(hash: [u8; 32]) -> Result<(), capnweb::Error> {
/// use std::time::Duration;
/// use capnweb::{Stub, Value};
///
/// let hello = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::from("hello from the client")) });
/// let session = capnweb::webtransport::ClientBuilder::new("https://127.0.0.1:4433/rpc")
///     .certificate_hash(hash)
///     .header("authorization", "Bearer s3cr3t")
///     .connect_timeout(Duration::from_secs(5))
///     .local_main(hello)
///     .connect()
///     .await?;
/// let server = session.main();
/// # let _ = server; Ok(()) }
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct ClientBuilder {
    settings: ClientSettings,
    hashes: Vec<[u8; 32]>,
    roots: Vec<CertificateDer<'static>>,
    idle_timeout: Duration,
    keep_alive: Option<Duration>,
    local_main: Option<Stub>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hashes: Vec<String> = self.hashes.iter().map(|h| hex(h)).collect();
        f.debug_struct("ClientBuilder")
            .field("url", &self.settings.url)
            .field("certificate_hashes", &hashes)
            .field("roots", &self.roots.len())
            .field("headers", &self.settings.headers)
            .field("connect_timeout", &self.settings.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("keep_alive", &self.keep_alive)
            .field("options", &self.settings.options)
            .field("local_main", &self.local_main)
            .finish()
    }
}

impl ClientBuilder {
    /// A client for the Cap'n Web server at `url` (`https://host:port/path`). Nothing is
    /// checked or sent until [`connect`](ClientBuilder::connect).
    pub fn new(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            settings: ClientSettings::new(url),
            hashes: Vec::new(),
            roots: Vec::new(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            keep_alive: Some(DEFAULT_KEEP_ALIVE),
            local_main: None,
        }
    }

    /// Trusts the server certificate whose DER has this SHA-256 hash, as a browser's
    /// `serverCertificateHashes` does (see [`DevCertificate::sha256`]). With one or more
    /// hashes, only those certificates are accepted, and no roots are consulted.
    pub fn certificate_hash(mut self, sha256: [u8; 32]) -> ClientBuilder {
        self.hashes.push(sha256);
        self
    }

    /// Trusts `root` (DER) as a certificate authority. With roots added, only they are
    /// trusted (not the system's).
    pub fn add_root(mut self, root: CertificateDer<'static>) -> ClientBuilder {
        self.roots.push(root);
        self
    }

    /// Adds a header to the CONNECT request (a second value for a name is added beside the
    /// first). A name or value that is not valid is reported by
    /// [`connect`](ClientBuilder::connect).
    pub fn header<K, V>(mut self, name: K, value: V) -> ClientBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.settings.headers.add(name, value);
        self
    }

    /// Sends `Authorization: Bearer <token>` with the CONNECT request (the value is marked
    /// sensitive, so `Debug` does not show it).
    ///
    /// ```
    /// let builder = capnweb::webtransport::ClientBuilder::new("https://rpc.example.com/")
    ///     .bearer_token("s3cr3t");
    /// assert!(!format!("{builder:?}").contains("s3cr3t"));
    /// ```
    pub fn bearer_token(mut self, token: impl std::fmt::Display) -> ClientBuilder {
        self.settings.headers.bearer(token);
        self
    }

    /// How long connecting may take in all: the QUIC handshake, HTTP/3's settings, the
    /// CONNECT request and opening the stream (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The QUIC idle timeout the client asks for (default 60 s; the server's, if shorter,
    /// wins): a connection that hears nothing from the peer for this long ends.
    pub fn idle_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.idle_timeout = timeout;
        self
    }

    /// How often the client makes sure the connection carries something, so an idle session
    /// does not reach the idle timeout (default every 15 s; `None`: never, and an idle
    /// session ends at the idle timeout).
    pub fn keep_alive(mut self, interval: Option<Duration>) -> ClientBuilder {
        self.keep_alive = interval;
        self
    }

    /// The session's options (limits, error hook). Lines longer than its message size limit
    /// allow end the session.
    pub fn options(mut self, options: SessionOptions) -> ClientBuilder {
        self.settings.options = options;
        self
    }

    /// The client's own main object, which the server can call (a [`Stub`] or a typed stub).
    pub fn local_main(mut self, main: impl Into<Stub>) -> ClientBuilder {
        self.local_main = Some(main.into());
        self
    }

    /// Connects and returns the session.
    ///
    /// Errors are [`Error::Transport`], naming the URL and what failed: an invalid URL or
    /// header, a name that does not resolve, the timeout, an untrusted certificate, a refused
    /// CONNECT (with its status).
    pub async fn connect(self) -> Result<Session, Error> {
        let url = self.settings.url.clone();
        let fail = |what: TransportError| {
            let message = format!(
                "could not open a WebTransport session to {url}: {}",
                what.message()
            );
            Error::Transport(TransportError::with_source(message, what))
        };
        if let Some(e) = self.settings.headers.error() {
            return Err(fail(e.to_owned().into()));
        }
        let timeout = self.settings.connect_timeout;
        match tokio::time::timeout(timeout, self.open()).await {
            Ok(result) => result.map_err(fail),
            Err(_) => Err(fail(format!("did not connect within {timeout:?}").into())),
        }
    }

    /// Connects and returns the server's main object as `T` (a [`Stub`] or a typed stub).
    pub async fn connect_main<T: FromStub>(self) -> Result<T, Error> {
        Ok(self.connect().await?.main_as())
    }

    async fn open(self) -> Result<Session, TransportError> {
        let url = url::Url::parse(&self.settings.url)
            .map_err(|e| TransportError::from(format!("the URL is not usable: {e}")))?;
        if url.scheme() != "https" {
            return Err(format!(
                "the URL's scheme is {}: a WebTransport URL starts with https://",
                url.scheme()
            )
            .into());
        }
        let host = url
            .host_str()
            .ok_or_else(|| TransportError::from("the URL names no host".to_owned()))?
            .to_owned();
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port().unwrap_or(443);
        let remote = tokio::net::lookup_host((bare.as_str(), port))
            .await
            .map_err(|e| {
                let what = format!("could not resolve {host}: {e}");
                TransportError::with_source(what, e)
            })?
            .next()
            .ok_or_else(|| TransportError::from(format!("{host} resolves to no address")))?;
        let config = self.quic_config()?;
        let local: SocketAddr = match remote {
            SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let endpoint = quinn::Endpoint::client(local).map_err(|e| {
            let what = format!("could not open a UDP socket: {e}");
            TransportError::with_source(what, e)
        })?;
        let connecting = endpoint
            .connect_with(config, remote, &bare)
            .map_err(|e| TransportError::with_source(format!("could not connect: {e}"), e))?;
        let connection = connecting.await.map_err(|e| {
            let what = format!("the QUIC handshake with {remote} failed: {e}");
            TransportError::with_source(what, e)
        })?;
        let mut headers = HeaderMap::new();
        self.settings.headers.apply(&mut headers);
        let request = web_transport_quinn::proto::ConnectRequest::new(url).with_headers(headers);
        let session = web_transport_quinn::Session::connect(connection, request)
            .await
            .map_err(|e| {
                use web_transport_quinn::proto::ConnectError as Proto;
                use web_transport_quinn::{ClientError, ConnectError};
                let what = match &e {
                    ClientError::HttpError(
                        ConnectError::ErrorStatus(status)
                        | ConnectError::ProtoError(Proto::WrongStatus(Some(status))),
                    ) => format!("the server answered {status} instead of accepting the session"),
                    other => format!("the WebTransport handshake failed: {other}"),
                };
                TransportError::with_source(what, e)
            })?;
        let (send, recv) = session.open_bi().await.map_err(|e| {
            let what = format!("could not open the session's stream: {e}");
            TransportError::with_source(what, e)
        })?;
        let max = self.settings.options.limits.max_message_size;
        let transport = WebTransportTransport::new(session, send, recv, max);
        Ok(Session::new(
            transport,
            self.local_main,
            self.settings.options,
        ))
    }

    /// The QUIC client configuration: TLS 1.3 with ALPN `h3`, checked as the builder says.
    fn quic_config(&self) -> Result<quinn::ClientConfig, TransportError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls_error = |e: rustls::Error| {
            TransportError::with_source(format!("the TLS configuration failed: {e}"), e)
        };
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?;
        let mut tls = if !self.hashes.is_empty() {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(CertificateHashes {
                    provider,
                    hashes: self.hashes.clone(),
                }))
                .with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            if self.roots.is_empty() {
                let native = rustls_native_certs::load_native_certs();
                for cert in native.certs {
                    let _ = roots.add(cert);
                }
            } else {
                for root in &self.roots {
                    roots.add(root.clone()).map_err(tls_error)?;
                }
            }
            if roots.is_empty() {
                return Err(
                    "no root certificate is trusted (the system has none): add one with \
                            add_root, or give the server certificate's hash"
                        .to_owned()
                        .into(),
                );
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        tls.alpn_protocols = vec![web_transport_quinn::ALPN.as_bytes().to_vec()];
        let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| {
            TransportError::with_source(format!("the TLS configuration cannot serve QUIC: {e}"), e)
        })?;
        let mut config = quinn::ClientConfig::new(Arc::new(quic));
        config.transport_config(Arc::new(transport_config(
            self.idle_timeout,
            self.keep_alive,
        )));
        Ok(config)
    }
}

/// QUIC's settings for a session: the idle timeout, and keep-alive.
pub(crate) fn transport_config(
    idle: Duration,
    keep_alive: Option<Duration>,
) -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport.max_idle_timeout(quinn::IdleTimeout::try_from(idle).ok());
    transport.keep_alive_interval(keep_alive);
    transport
}

/// Accepts a server's certificate by the SHA-256 hash of its DER (as browsers'
/// `serverCertificateHashes`), and checks the handshake's signatures as usual.
#[derive(Debug)]
struct CertificateHashes {
    provider: Arc<CryptoProvider>,
    hashes: Vec<[u8; 32]>,
}

impl ServerCertVerifier for CertificateHashes {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let hash = cert::sha256(end_entity);
        if self.hashes.contains(&hash) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate (SHA-256 {}) is not one of the certificate hashes given",
                hex(&hash)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
