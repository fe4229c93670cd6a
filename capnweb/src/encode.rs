//! Values to wire expressions (the opposite of [`evaluate`](crate::evaluate)).
//!
//! Data maps onto its expression directly; stubs and promises are handed to an [`Exporter`],
//! which decides how the peer will refer to them: a session exports them on its table, the
//! `.map()` recorder captures them.

use crate::error::{Error, RpcError};
use crate::hook::Hook;
use crate::value::Value;
use crate::wire::{ErrorForm, Expr, FetchInit, PathKey, RequestForm, ResponseForm};

/// Deepest value the encoder walks, as the reference's serializer does (cycles are impossible
/// in a `Value`, but an absurdly deep one would exhaust the stack).
const MAX_ENCODE_DEPTH: usize = 256;

/// Decides how stubs and promises inside a value are referred to on the wire.
pub(crate) trait Exporter {
    /// The expression for a stub (`["import", id]` or `["export", id]`).
    fn stub_expr(&mut self, hook: &Hook) -> Result<Expr, Error>;
    /// The expression for a promise for `path` of `hook` (`["pipeline", …]` or `["promise", id]`).
    fn promise_expr(&mut self, hook: &Hook, path: &[PathKey]) -> Result<Expr, Error>;
    /// The error as it should be sent (`on_send_error`), with its stack only if kept.
    fn outgoing_error(&mut self, error: &RpcError) -> RpcError {
        RpcError {
            stack: None,
            ..error.clone()
        }
    }
}

/// Encodes `value` for the wire.
pub(crate) fn encode(value: &Value, exporter: &mut dyn Exporter) -> Result<Expr, Error> {
    encode_at(value, exporter, 0)
}

/// Encodes a list of call arguments.
pub(crate) fn encode_args(args: &[Value], exporter: &mut dyn Exporter) -> Result<Vec<Expr>, Error> {
    args.iter().map(|v| encode_at(v, exporter, 1)).collect()
}

/// Encodes an error: its props go through `exporter`, and what cannot be encoded is dropped
/// (the error itself must always get through, as in the reference).
pub(crate) fn encode_error(error: &RpcError, exporter: &mut dyn Exporter) -> Expr {
    let outgoing = exporter.outgoing_error(error);
    let props: Vec<(String, Expr)> = outgoing
        .props
        .iter()
        .filter(|(_, v)| !matches!(v, Value::Stub(_) | Value::Promise(_)))
        .filter_map(|(k, v)| encode_at(v, exporter, 1).ok().map(|e| (k.clone(), e)))
        .collect();
    Expr::Error(Box::new(ErrorForm {
        name: outgoing.name,
        message: outgoing.message,
        stack: outgoing.stack,
        props: (!props.is_empty()).then_some(props),
    }))
}

fn encode_at(value: &Value, exporter: &mut dyn Exporter, depth: usize) -> Result<Expr, Error> {
    crate::stack::guarded(|| encode_level(value, exporter, depth))
}

fn encode_level(value: &Value, exporter: &mut dyn Exporter, depth: usize) -> Result<Expr, Error> {
    if depth >= MAX_ENCODE_DEPTH {
        return Err(Error::Encode(format!(
            "the value is nested more than {MAX_ENCODE_DEPTH} levels deep"
        )));
    }
    Ok(match value {
        Value::Undefined => Expr::Undefined,
        Value::Null => Expr::Null,
        Value::Bool(b) => Expr::Bool(*b),
        Value::Number(n) if n.is_nan() => Expr::NaN,
        Value::Number(n) if n.is_infinite() => {
            if *n > 0.0 {
                Expr::Inf
            } else {
                Expr::NegInf
            }
        }
        Value::Number(n) => Expr::Number(*n),
        Value::String(s) => Expr::String(s.clone()),
        Value::Array(items) => Expr::Array(
            items
                .iter()
                .map(|v| encode_at(v, exporter, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(object) => Expr::Object(
            object
                .iter()
                .map(|(k, v)| Ok((k.clone(), encode_at(v, exporter, depth + 1)?)))
                .collect::<Result<_, Error>>()?,
        ),
        Value::BigInt(b) => Expr::BigInt(b.as_str().to_owned()),
        Value::Date(d) => Expr::Date(d.is_valid().then_some(d.millis())),
        Value::Bytes(b) => Expr::Bytes {
            data: b.as_slice().to_vec(),
            kind: b.kind(),
        },
        Value::Error(e) => encode_error(e, exporter),
        Value::Url(href) => Expr::Url(href.clone()),
        Value::Headers(pairs) => Expr::Headers(pairs.clone()),
        Value::Request(request) => Expr::Request(Box::new(RequestForm {
            url: request.url.clone(),
            init: fetch_init(request, true, exporter, depth)?,
        })),
        Value::Response(response) => Expr::Response(Box::new(ResponseForm {
            body: Box::new(match &response.body {
                Some(body) => encode_at(body, exporter, depth + 1)?,
                None => Expr::Null,
            }),
            init: fetch_init(response, false, exporter, depth)?,
        })),
        Value::Stub(stub) => exporter.stub_expr(stub.hook())?,
        Value::Promise(promise) => exporter.promise_expr(promise.hook(), promise.path())?,
    })
}

fn fetch_init(
    fetch: &crate::value::Fetch,
    with_body: bool,
    exporter: &mut dyn Exporter,
    depth: usize,
) -> Result<FetchInit, Error> {
    let body = match (&fetch.body, with_body) {
        (Some(body), true) => Some(Box::new(encode_at(body, exporter, depth + 1)?)),
        _ => None,
    };
    Ok(FetchInit {
        body,
        headers: (!fetch.headers.is_empty()).then(|| fetch.headers.clone()),
        other: fetch.other.clone(),
    })
}
