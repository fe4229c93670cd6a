//! TLS through [`rustls`] (with its `aws-lc-rs` provider): [`ClientTls`] for `wss://` and `https://`
//! clients, [`ServerTls`] for [`Server::tls`](crate::Server::tls).
//!
//! A client trusts the Mozilla root certificates (the `webpki-roots` crate) unless told
//! otherwise: [`ClientTls::new`] is what [`websocket::connect`](crate::websocket::connect) and
//! [`http_batch::connect`](crate::http_batch::connect) use for a `wss://` or `https://` URL.
//! For a server whose certificate comes from your own authority, add its root
//! ([`add_root_pem`](ClientTls::add_root_pem), [`add_root_der`](ClientTls::add_root_der)), and
//! leave out the built-in ones if only yours should count
//! ([`without_built_in_roots`](ClientTls::without_built_in_roots)). For anything else (client
//! certificates, another verifier, session resumption settings), build a
//! [`rustls::ClientConfig`] yourself and hand it over with [`ClientTls::from_rustls`]; the
//! [`rustls`] re-exported here is the version this crate uses.
//!
//! A server needs its certificate chain and private key: [`ServerTls::from_pem`], or
//! [`ServerTls::from_rustls`] with a [`rustls::ServerConfig`] of your own.
//!
//! Both transports speak HTTP/1.1 only, so the configurations built here offer the ALPN
//! protocol `http/1.1`; a configuration of your own should offer that or nothing.
//!
//! A server and a client on one machine, with a certificate made for the occasion (by the
//! `rcgen` crate):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use capnweb::tls::{ClientTls, ServerTls};
//! use capnweb::{Stub, Value};
//!
//! let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
//! let (cert_pem, key_pem) = (generated.cert.pem(), generated.signing_key.serialize_pem());
//!
//! let server = capnweb::Server::bind("127.0.0.1:0")
//!     .await?
//!     .tls(ServerTls::from_pem(&cert_pem, &key_pem)?);
//! let port = server.local_addr().port();
//! tokio::spawn(server.serve(|| Stub::from_fn(|args: Vec<Value>| async move {
//!     let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
//!     Ok(Value::from(x * x))
//! })));
//!
//! // The client trusts that one certificate, and no other.
//! let tls = ClientTls::without_built_in_roots().add_root_pem(&cert_pem)?;
//! let api: Stub = capnweb::websocket::ClientBuilder::new(format!("wss://localhost:{port}/"))
//!     .tls(tls.clone())
//!     .connect_main()
//!     .await?;
//! assert_eq!(api.call_self(vec![Value::from(3)]).await?, Value::from(9));
//!
//! let batch = capnweb::http_batch::ClientBuilder::new(format!("https://localhost:{port}/"))
//!     .tls(tls)
//!     .build()?;
//! assert_eq!(batch.main::<Stub>().call_self(vec![Value::from(4)]).await?, Value::from(16));
//! # Ok(()) }
//! ```

// Half of this module serves the clients (`websocket`, `http-batch`) and half the server: a
// build with only one side, or `tls` alone, leaves the other half unused. The default build
// has both, and checks every line of it.
#![cfg_attr(
    not(all(any(feature = "websocket", feature = "http-batch"), feature = "server")),
    allow(dead_code)
)]

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// The version of `rustls` this crate builds on, for [`ClientTls::from_rustls`] and
/// [`ServerTls::from_rustls`].
pub use rustls;

/// The ALPN protocol both transports speak.
const HTTP_1_1: &[u8] = b"http/1.1";

/// How a client checks the server's certificate: which root certificates it trusts, or a
/// [`rustls::ClientConfig`] of your own.
///
/// [`ClientTls::new`] (and `Default`) trusts the Mozilla roots of the `webpki-roots` crate.
/// Cloning is cheap, and clones share the configuration built from it (and so its TLS session
/// cache).
///
/// ```
/// # fn example(company_ca_pem: &str) -> Result<(), capnweb::Error> {
/// use capnweb::tls::ClientTls;
///
/// // Public servers, and the company's own.
/// let tls = ClientTls::new().add_root_pem(company_ca_pem)?;
/// # let _ = tls; Ok(()) }
/// # let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
/// # example(&ca.cert.pem()).unwrap();
/// ```
#[derive(Clone)]
pub struct ClientTls {
    roots: Roots,
    /// The configuration built from `roots`, once one was needed.
    built: Arc<OnceLock<Arc<ClientConfig>>>,
}

#[derive(Clone)]
enum Roots {
    /// Root certificates: the built-in ones or not, and the ones added.
    Store {
        built_in: bool,
        added: Arc<RootCertStore>,
    },
    /// A configuration of the user's own.
    Rustls(Arc<ClientConfig>),
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.roots {
            Roots::Store { built_in, added } => f
                .debug_struct("ClientTls")
                .field("built_in_roots", built_in)
                .field("added_roots", &added.len())
                .finish(),
            Roots::Rustls(config) => f.debug_struct("ClientTls").field("rustls", config).finish(),
        }
    }
}

impl Default for ClientTls {
    fn default() -> Self {
        ClientTls::new()
    }
}

impl ClientTls {
    /// Trusts the Mozilla root certificates (the `webpki-roots` crate): what public servers'
    /// certificates chain to.
    ///
    /// ```
    /// let tls = capnweb::tls::ClientTls::new();
    /// let builder = capnweb::websocket::ClientBuilder::new("wss://example.com/rpc").tls(tls);
    /// # let _ = builder;
    /// ```
    pub fn new() -> ClientTls {
        ClientTls::with_roots(true, Arc::new(RootCertStore::empty()))
    }

    /// Trusts no root certificate yet: only the ones added with
    /// [`add_root_pem`](ClientTls::add_root_pem) or [`add_root_der`](ClientTls::add_root_der)
    /// will count (connecting fails while there are none).
    ///
    /// ```
    /// # fn example(own_ca_pem: &str) -> Result<(), capnweb::Error> {
    /// use capnweb::tls::ClientTls;
    ///
    /// let tls = ClientTls::without_built_in_roots().add_root_pem(own_ca_pem)?;
    /// # let _ = tls; Ok(()) }
    /// # let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # example(&ca.cert.pem()).unwrap();
    /// ```
    pub fn without_built_in_roots() -> ClientTls {
        ClientTls::with_roots(false, Arc::new(RootCertStore::empty()))
    }

    /// Uses `config` as it is: its verifier, its client certificate, its settings.
    ///
    /// Both transports speak HTTP/1.1 only: leave `alpn_protocols` empty or set it to
    /// `http/1.1`. Roots cannot be added to it afterwards (add them to its
    /// [`rustls::RootCertStore`] before).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use capnweb::tls::{rustls, ClientTls};
    ///
    /// let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    /// let roots = rustls::RootCertStore::empty(); // add yours
    /// let config = rustls::ClientConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()
    ///     .expect("aws-lc-rs supports the default versions")
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let tls = ClientTls::from_rustls(Arc::new(config));
    /// # let _ = tls;
    /// ```
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> ClientTls {
        ClientTls {
            built: Arc::new(OnceLock::from(Arc::clone(&config))),
            roots: Roots::Rustls(config),
        }
    }

    /// Also trusts every certificate in `pem` (one or more `-----BEGIN CERTIFICATE-----`
    /// sections; other sections are skipped).
    ///
    /// Errors when `pem` holds no certificate, a section cannot be read, or a certificate is
    /// not one a root can be made of; and on a `ClientTls` made
    /// [`from_rustls`](ClientTls::from_rustls).
    ///
    /// ```
    /// # fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// let error = capnweb::tls::ClientTls::new().add_root_pem("not a certificate").unwrap_err();
    /// assert!(error.to_string().contains("holds no certificate"), "{error}");
    /// # Ok(()) }
    /// # example().unwrap();
    /// ```
    pub fn add_root_pem(self, pem: impl AsRef<[u8]>) -> Result<ClientTls, Error> {
        let mut certs = Vec::new();
        for cert in CertificateDer::pem_slice_iter(pem.as_ref()) {
            certs.push(cert.map_err(|e| {
                tls_error(format!("the root certificate PEM could not be read: {e}"))
            })?);
        }
        if certs.is_empty() {
            return Err(tls_error(
                "the root certificate PEM holds no certificate (no -----BEGIN CERTIFICATE----- section)",
            ));
        }
        self.add_roots(certs)
    }

    /// Also trusts the certificate `der` (its DER bytes, as in a `.der` or `.cer` file).
    ///
    /// Errors when `der` is not a certificate a root can be made of; and on a `ClientTls` made
    /// [`from_rustls`](ClientTls::from_rustls).
    ///
    /// ```
    /// # fn example(ca_der: &[u8]) -> Result<(), capnweb::Error> {
    /// let tls = capnweb::tls::ClientTls::without_built_in_roots().add_root_der(ca_der)?;
    /// # let _ = tls; Ok(()) }
    /// # let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// # example(ca.cert.der()).unwrap();
    /// ```
    pub fn add_root_der(self, der: impl AsRef<[u8]>) -> Result<ClientTls, Error> {
        self.add_roots(vec![CertificateDer::from(der.as_ref().to_vec())])
    }

    fn add_roots(self, certs: Vec<CertificateDer<'static>>) -> Result<ClientTls, Error> {
        let Roots::Store { built_in, added } = self.roots else {
            return Err(tls_error(
                "this ClientTls uses a rustls ClientConfig of its own: add the root to that \
                 config's RootCertStore before ClientTls::from_rustls",
            ));
        };
        let mut added = Arc::unwrap_or_clone(added);
        for cert in certs {
            added.add(cert).map_err(|e| {
                tls_error(format!(
                    "the root certificate could not be used as a trust anchor: {e}"
                ))
            })?;
        }
        Ok(ClientTls::with_roots(built_in, Arc::new(added)))
    }

    fn with_roots(built_in: bool, added: Arc<RootCertStore>) -> ClientTls {
        ClientTls {
            roots: Roots::Store { built_in, added },
            built: Arc::default(),
        }
    }

    /// The configuration to connect with (built on first use, then shared by the clones).
    pub(crate) fn config(&self) -> Result<Arc<ClientConfig>, Error> {
        if let Some(config) = self.built.get() {
            return Ok(Arc::clone(config));
        }
        let Roots::Store { built_in, added } = &self.roots else {
            // `from_rustls` fills `built` at once.
            return Err(tls_error("the TLS configuration is missing"));
        };
        let config = if *built_in && added.is_empty() {
            // The most common configuration, shared by every `ClientTls::new()`.
            static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
            match DEFAULT.get() {
                Some(config) => Arc::clone(config),
                None => {
                    let config = Arc::new(client_config(true, added)?);
                    Arc::clone(DEFAULT.get_or_init(|| config))
                }
            }
        } else {
            if !*built_in && added.is_empty() {
                return Err(tls_error(
                    "the ClientTls trusts no root certificate: add one with add_root_pem or \
                     add_root_der, or start from ClientTls::new() for the built-in roots",
                ));
            }
            Arc::new(client_config(*built_in, added)?)
        };
        Ok(Arc::clone(self.built.get_or_init(|| config)))
    }
}

/// A client configuration trusting the built-in roots (or not) and `added`.
fn client_config(built_in: bool, added: &RootCertStore) -> Result<ClientConfig, Error> {
    let mut roots = RootCertStore::empty();
    if built_in {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots.roots.extend(added.roots.iter().cloned());
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(unusable_provider)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![HTTP_1_1.to_vec()];
    Ok(config)
}

fn unusable_provider(e: rustls::Error) -> Error {
    tls_error(format!(
        "the process's default rustls crypto provider speaks neither TLS 1.2 nor 1.3: {e}"
    ))
}

/// The crypto provider: the one the application installed as the process default, else
/// aws-lc-rs (rustls's own default, with post-quantum key exchange; rustls deprecated its
/// `ring` provider, which has none, in 0.23.48).
fn provider() -> Arc<CryptoProvider> {
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// A server's certificate and private key, for [`Server::tls`](crate::Server::tls).
///
/// ```
/// # fn example() -> Result<(), Box<dyn std::error::Error>> {
/// # let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
/// # let dir = std::env::temp_dir().join(format!("capnweb-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// # std::fs::write(dir.join("cert.pem"), generated.cert.pem()).unwrap();
/// # std::fs::write(dir.join("key.pem"), generated.signing_key.serialize_pem()).unwrap();
/// # let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
/// let cert = std::fs::read(cert_path)?;
/// let key = std::fs::read(key_path)?;
/// let tls = capnweb::tls::ServerTls::from_pem(cert, key)?;
/// # let _ = tls; std::fs::remove_dir_all(dir).ok(); Ok(()) }
/// # example().unwrap();
/// ```
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("rustls", &self.config)
            .finish()
    }
}

impl ServerTls {
    /// The certificate chain in `cert_chain_pem` (the server's certificate first, then the
    /// intermediates, as PEM `CERTIFICATE` sections) with the private key in
    /// `private_key_pem` (PKCS#8, PKCS#1 or SEC1 PEM). The server offers ALPN `http/1.1`.
    ///
    /// Errors say which part is wrong: no certificate, no key, an unreadable section, or a key
    /// that does not belong to the certificate.
    ///
    /// ```
    /// use capnweb::tls::ServerTls;
    ///
    /// let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// let cert_pem = generated.cert.pem();
    /// let tls = ServerTls::from_pem(&cert_pem, generated.signing_key.serialize_pem());
    /// assert!(tls.is_ok());
    ///
    /// let error = ServerTls::from_pem(&cert_pem, "").unwrap_err();
    /// assert!(error.to_string().contains("holds no private key"), "{error}");
    /// ```
    pub fn from_pem(
        cert_chain_pem: impl AsRef<[u8]>,
        private_key_pem: impl AsRef<[u8]>,
    ) -> Result<ServerTls, Error> {
        let mut chain = Vec::new();
        for cert in CertificateDer::pem_slice_iter(cert_chain_pem.as_ref()) {
            chain.push(
                cert.map_err(|e| tls_error(format!("the certificate PEM could not be read: {e}")))?,
            );
        }
        if chain.is_empty() {
            return Err(tls_error(
                "the certificate PEM holds no certificate (no -----BEGIN CERTIFICATE----- section)",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(private_key_pem.as_ref()).map_err(|e| match e {
            pem::Error::NoItemsFound => tls_error(
                "the private key PEM holds no private key (no -----BEGIN PRIVATE KEY-----, \
                 RSA PRIVATE KEY or EC PRIVATE KEY section)",
            ),
            e => tls_error(format!("the private key could not be read: {e}")),
        })?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(unusable_provider)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| {
                tls_error(format!(
                    "the certificate and private key cannot be used together: {e}"
                ))
            })?;
        config.alpn_protocols = vec![HTTP_1_1.to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }

    /// Uses `config` as it is (client certificates, certificate resolvers, session tickets…).
    ///
    /// The server speaks HTTP/1.1 only: set `alpn_protocols` to `http/1.1`, or leave it
    /// empty.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use capnweb::tls::{rustls, ServerTls};
    /// use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    ///
    /// let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    /// let cert = CertificateDer::from_pem_slice(generated.cert.pem().as_bytes()).unwrap();
    /// let key = PrivateKeyDer::from_pem_slice(generated.signing_key.serialize_pem().as_bytes()).unwrap();
    /// let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    /// let mut config = rustls::ServerConfig::builder_with_provider(provider)
    ///     .with_safe_default_protocol_versions()
    ///     .unwrap()
    ///     .with_no_client_auth()
    ///     .with_single_cert(vec![cert], key)
    ///     .unwrap();
    /// config.alpn_protocols = vec![b"http/1.1".to_vec()];
    /// let tls = ServerTls::from_rustls(Arc::new(config));
    /// # let _ = tls;
    /// ```
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> ServerTls {
        ServerTls { config }
    }

    /// The acceptor for one connection's handshake.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
    }
}

fn tls_error(what: impl Into<String>) -> Error {
    Error::Transport(crate::TransportError::new(what))
}

/// What a failed connection says about TLS, if TLS is why it failed: the server's certificate
/// was not trusted, or the handshake failed otherwise.
pub(crate) fn describe_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let error = find_rustls_error(error)?;
    Some(match error {
        rustls::Error::InvalidCertificate(e) => {
            let why = match e {
                rustls::CertificateError::UnknownIssuer => {
                    "it is not signed by an authority this client trusts (UnknownIssuer); \
                     trust the server's CA with ClientTls::add_root_pem, or check that the \
                     server sends its whole chain"
                        .to_owned()
                }
                rustls::CertificateError::BadSignature => {
                    "its signature does not verify against the trusted root it names \
                     (BadSignature): the root this client trusts under that name is another \
                     certificate"
                        .to_owned()
                }
                other => other.to_string(),
            };
            format!("the server's certificate is not trusted: {why}")
        }
        rustls::Error::InvalidMessage(e) => format!(
            "the TLS handshake failed: the server answered with something that is not TLS \
             ({e:?}); is it a plain ws:// or http:// server?"
        ),
        other => format!("the TLS handshake failed: {other}"),
    })
}

/// The `rustls::Error` in `error`'s chain, looking inside `io::Error`s too (their `source`
/// skips the error they wrap).
fn find_rustls_error<'a>(
    mut error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    loop {
        if let Some(found) = error.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        let wrapped = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        error = wrapped.or_else(|| error.source())?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated() -> rcgen::CertifiedKey<rcgen::KeyPair> {
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap()
    }

    #[test]
    fn a_pem_without_certificates_is_refused() {
        let key = generated().signing_key.serialize_pem();
        let error = ClientTls::new().add_root_pem(&key).unwrap_err();
        assert!(
            error.to_string().contains("holds no certificate"),
            "{error}"
        );
        let error = ServerTls::from_pem(&key, &key).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the certificate PEM holds no certificate"),
            "{error}"
        );
    }

    #[test]
    fn a_broken_pem_section_is_reported() {
        let pem = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        let error = ClientTls::new().add_root_pem(pem).unwrap_err();
        assert!(error.to_string().contains("could not be read"), "{error}");
        let error = ClientTls::new().add_root_der(b"junk").unwrap_err();
        assert!(error.to_string().contains("trust anchor"), "{error}");
    }

    #[test]
    fn a_key_must_belong_to_its_certificate() {
        let (one, other) = (generated(), generated());
        let error =
            ServerTls::from_pem(one.cert.pem(), other.signing_key.serialize_pem()).unwrap_err();
        assert!(
            error.to_string().contains("cannot be used together"),
            "{error}"
        );
        let error = ServerTls::from_pem(
            one.cert.pem(),
            "-----BEGIN PRIVATE KEY-----\n!\n-----END PRIVATE KEY-----\n",
        )
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("the private key could not be read"),
            "{error}"
        );
    }

    #[test]
    fn a_server_config_offers_http_1_1() {
        let g = generated();
        let tls = ServerTls::from_pem(g.cert.pem(), g.signing_key.serialize_pem()).unwrap();
        assert_eq!(tls.config.alpn_protocols, [b"http/1.1".to_vec()]);
    }

    #[test]
    fn roots_are_counted_and_shared_by_clones() {
        let g = generated();
        let tls = ClientTls::new().add_root_der(g.cert.der()).unwrap();
        let config = tls.config().unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(Arc::ptr_eq(&config, &tls.clone().config().unwrap()));
        // The default configuration is one for the whole process.
        assert!(Arc::ptr_eq(
            &ClientTls::new().config().unwrap(),
            &ClientTls::default().config().unwrap()
        ));
        assert!(!Arc::ptr_eq(&config, &ClientTls::new().config().unwrap()));
    }

    #[test]
    fn no_roots_at_all_is_an_error_at_use() {
        let error = ClientTls::without_built_in_roots().config().unwrap_err();
        assert!(
            error.to_string().contains("trusts no root certificate"),
            "{error}"
        );
    }

    #[test]
    fn a_rustls_config_takes_no_roots() {
        let config = client_config(false, &RootCertStore::empty()).unwrap();
        let tls = ClientTls::from_rustls(Arc::new(config));
        assert!(tls.config().is_ok());
        let error = tls.add_root_der(generated().cert.der()).unwrap_err();
        assert!(error.to_string().contains("RootCertStore"), "{error}");
    }

    #[test]
    fn rustls_errors_are_found_inside_io_errors() {
        let inner = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let outer = std::io::Error::other(inner);
        let text = describe_failure(&outer).unwrap();
        assert!(
            text.contains("the server's certificate is not trusted"),
            "{text}"
        );
        assert_eq!(describe_failure(&std::io::Error::other("plain")), None);
    }
}
