//! [`DevCertificate`]: a short-lived self-signed certificate a browser accepts by its hash.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::{Error, TransportError};

/// How long a [`DevCertificate`] is valid: browsers accept a certificate by its hash
/// (`serverCertificateHashes`) only if it is valid for at most 14 days.
const VALIDITY: Duration = Duration::from_secs(13 * 24 * 60 * 60);

/// How far back a [`DevCertificate`]'s validity starts, for clocks a little behind.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// A self-signed certificate for development: ECDSA P-256, valid for 13 days from (a few
/// minutes before) now, for `localhost`, `127.0.0.1` and `::1` and any names you add.
///
/// Browsers trust it without a certificate authority when the page names its SHA-256 hash
/// (`new WebTransport(url, { serverCertificateHashes: [{ algorithm: "sha-256", value }] })`,
/// the value being [`sha256`](DevCertificate::sha256)'s bytes), which they allow only for such
/// short-lived ECDSA certificates. A Rust client does the same with
/// [`ClientBuilder::certificate_hash`](super::ClientBuilder::certificate_hash).
///
/// ```
/// let cert = capnweb::webtransport::DevCertificate::generate()?;
/// assert_eq!(cert.sha256().len(), 32);
/// assert_eq!(cert.sha256_hex().len(), 64);
/// # Ok::<(), capnweb::Error>(())
/// ```
#[derive(Clone)]
pub struct DevCertificate {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
    sha256: [u8; 32],
}

impl fmt::Debug for DevCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevCertificate")
            .field("sha256", &self.sha256_hex())
            .finish_non_exhaustive()
    }
}

impl DevCertificate {
    /// A fresh certificate for `localhost`, `127.0.0.1` and `::1`.
    pub fn generate() -> Result<DevCertificate, Error> {
        DevCertificate::for_names(Vec::<String>::new())
    }

    /// A fresh certificate for `localhost`, `127.0.0.1`, `::1` and `names` (host names or IP
    /// addresses).
    pub fn for_names<I, S>(names: I) -> Result<DevCertificate, Error>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let failed = |what: &str, e: rcgen::Error| {
            Error::Transport(TransportError::with_source(
                format!("could not generate a development certificate: {what}: {e}"),
                e,
            ))
        };
        let mut all: Vec<String> = ["localhost", "127.0.0.1", "::1"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        all.extend(names.into_iter().map(Into::into));
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| failed("the key", e))?;
        let mut params = rcgen::CertificateParams::new(all).map_err(|e| failed("the names", e))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        params.not_before = offset_time(now.saturating_sub(BACKDATE));
        params.not_after = offset_time(now + VALIDITY - BACKDATE);
        let cert = params.self_signed(&key).map_err(|e| failed("signing", e))?;
        let cert = CertificateDer::from(cert.der().to_vec());
        let sha256 = sha256(&cert);
        Ok(DevCertificate {
            cert,
            key: key.serialize_der(),
            sha256,
        })
    }

    /// The certificate (DER).
    pub fn certificate(&self) -> CertificateDer<'static> {
        self.cert.clone()
    }

    /// The private key (PKCS #8 DER).
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()))
    }

    /// The SHA-256 hash of the certificate's DER: what a browser's `serverCertificateHashes`
    /// and [`ClientBuilder::certificate_hash`](super::ClientBuilder::certificate_hash) take.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// [`sha256`](DevCertificate::sha256) in lowercase hex.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }
}

/// The SHA-256 hash of a certificate's DER, through rustls' aws-lc-rs provider.
pub(crate) fn sha256(cert: &CertificateDer<'_>) -> [u8; 32] {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let digest = web_transport_quinn::crypto::sha256(&provider, cert);
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(digest.as_ref()) {
        *o = *b;
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn offset_time(since_epoch: Duration) -> time::OffsetDateTime {
    let secs = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX / 2);
    time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The certificate a [`Server`](crate::Server) serves WebTransport with (with the `server`
/// feature): a chain and its key
/// (DER), or a [`DevCertificate`].
///
/// ```
/// let dev = capnweb::webtransport::DevCertificate::generate()?;
/// let certificate = capnweb::webtransport::Certificate::new(vec![dev.certificate()], dev.private_key());
/// # let _ = certificate; Ok::<(), capnweb::Error>(())
/// ```
#[cfg(feature = "server")]
#[derive(Debug)]
pub struct Certificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

#[cfg(feature = "server")]
impl Certificate {
    /// The certificate chain (the server's first) and its private key.
    pub fn new(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> Certificate {
        Certificate { chain, key }
    }

    /// The chain and the key, for the server's TLS configuration.
    pub(crate) fn into_parts(self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        (self.chain, self.key)
    }
}

#[cfg(feature = "server")]
impl From<&DevCertificate> for Certificate {
    fn from(dev: &DevCertificate) -> Certificate {
        Certificate::new(vec![dev.certificate()], dev.private_key())
    }
}

#[cfg(feature = "server")]
impl From<DevCertificate> for Certificate {
    fn from(dev: DevCertificate) -> Certificate {
        Certificate::from(&dev)
    }
}
