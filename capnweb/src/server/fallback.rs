//! Any HTTP service behind [`Routes`](crate::Routes) (a directory of static files, your own
//! tower service) for the requests that are not Cap'n Web's, and [`Body`], the body type that
//! lets both kinds of answer share one server.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Frame, SizeHint};

use crate::transport::responses::text_response;

/// An error of a [`Body`] or of a fallback service.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of what [`Routes`](crate::Routes) answers, and of the requests a
/// [fallback service](crate::Routes::fallback_service) receives: a Cap'n Web answer (whole,
/// in memory) or any other service's body (a file read as it is sent, for one).
///
/// It implements [`hyper::body::Body`], so a router that takes `Routes` as a service (axum's
/// `Router::fallback_service`, for one) can send it.
///
/// ```
/// use capnweb::Body;
/// use http_body_util::BodyExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let body = Body::new(http_body_util::Full::new(bytes::Bytes::from("hello")));
/// assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
/// # }
/// ```
pub struct Body {
    inner: Inner,
}

enum Inner {
    /// Cap'n Web's own answers: no allocation beyond the bytes.
    Full(Full<Bytes>),
    /// Another service's body.
    Boxed(Pin<Box<dyn AnyBody>>),
}

/// Any body, its chunks read as [`Bytes`] and its error boxed (its size hint kept, which
/// `http_body_util`'s `map_frame` drops, so a known length stays a `content-length`).
trait AnyBody: Send {
    fn poll_bytes(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>>;
    fn is_end_stream(&self) -> bool;
    fn size_hint(&self) -> SizeHint;
}

impl<B> AnyBody for B
where
    B: hyper::body::Body + Send,
    B::Error: Into<BoxError>,
{
    fn poll_bytes(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.poll_frame(cx).map(|frame| {
            frame.map(|frame| {
                frame
                    .map(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining())))
                    .map_err(Into::into)
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        hyper::body::Body::is_end_stream(self)
    }

    fn size_hint(&self) -> SizeHint {
        hyper::body::Body::size_hint(self)
    }
}

impl Body {
    /// Wraps any body whose chunks can be read as [`Bytes`].
    pub fn new<B>(body: B) -> Body
    where
        B: hyper::body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body {
            inner: Inner::Boxed(Box::pin(body)),
        }
    }

    /// An empty body.
    pub fn empty() -> Body {
        Body::from(Full::new(Bytes::new()))
    }
}

impl From<Full<Bytes>> for Body {
    fn from(body: Full<Bytes>) -> Body {
        Body {
            inner: Inner::Full(body),
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            Inner::Full(_) => "full",
            Inner::Boxed(_) => "streamed",
        };
        f.debug_tuple("Body").field(&kind).finish()
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.get_mut().inner {
            Inner::Full(body) => Pin::new(body)
                .poll_frame(cx)
                .map_err(|never: Infallible| match never {}),
            Inner::Boxed(body) => body.as_mut().poll_bytes(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(body) => hyper::body::Body::is_end_stream(body),
            Inner::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Inner::Full(body) => hyper::body::Body::size_hint(body),
            Inner::Boxed(body) => body.size_hint(),
        }
    }
}

/// The future of a fallback service's answer.
type AnswerFuture = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// A tower service, its types erased: each request is answered by a clone of it.
#[derive(Clone)]
pub(super) struct HttpService {
    call: Arc<dyn Fn(Request<Body>) -> AnswerFuture + Send + Sync>,
}

impl HttpService {
    pub(super) fn new<S, B>(service: S) -> HttpService
    where
        S: tower_service::Service<Request<Body>, Response = Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: hyper::body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let call = move |request: Request<Body>| -> AnswerFuture {
            let mut service = service.clone();
            Box::pin(async move {
                let path = request.uri().path().to_owned();
                let ready = futures::future::poll_fn(|cx| service.poll_ready(cx))
                    .await
                    .map_err(Into::into);
                let answer = match ready {
                    Ok(()) => service.call(request).await.map_err(Into::into),
                    Err(error) => Err(error),
                };
                match answer {
                    Ok(response) => response.map(Body::new),
                    Err(error) => {
                        let error: BoxError = error;
                        tracing::error!(%error, path, "the fallback service failed");
                        text_response(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "The server failed to answer this request.".into(),
                        )
                        .map(Body::from)
                    }
                }
            })
        };
        HttpService {
            call: Arc::new(call),
        }
    }

    /// The service's answer to `request`.
    pub(super) fn call(&self, request: Request<Body>) -> AnswerFuture {
        (self.call)(request)
    }
}

/// The directory of static files to serve beside the API, as tower-http has it (its docs:
/// [`tower_http::services::ServeDir`]): `ServeDir::new("web")` answers `GET /app.js` with
/// `web/app.js` and its content type, `GET /` with `web/index.html`, a missing file with 404,
/// and never a file outside the directory (`..` is refused). Pass it to
/// [`Routes::fallback_service`](crate::Routes::fallback_service).
#[cfg(feature = "static-files")]
pub use tower_http::services::ServeDir;
