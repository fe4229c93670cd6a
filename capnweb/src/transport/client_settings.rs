//! What every client builder takes, whatever the transport: where to connect, extra request
//! headers, how long connecting may take, and the options of the session it starts. Each
//! builder holds one of these beside its own settings, so they are kept, shown and checked
//! the same way.

use std::time::Duration;

use super::headers::ExtraHeaders;
use crate::session::SessionOptions;

/// How long connecting may take unless the builder says otherwise.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// See the module docs.
#[derive(Clone, Debug)]
pub(crate) struct ClientSettings {
    /// The server's URL, as given (checked when the builder is used).
    pub(crate) url: String,
    /// Extra headers, and the first that could not be converted.
    pub(crate) headers: ExtraHeaders,
    pub(crate) connect_timeout: Duration,
    pub(crate) options: SessionOptions,
}

impl ClientSettings {
    pub(crate) fn new(url: impl Into<String>) -> ClientSettings {
        ClientSettings {
            url: url.into(),
            headers: ExtraHeaders::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            options: SessionOptions::default(),
        }
    }
}
