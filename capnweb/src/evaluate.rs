//! Wire expressions to values, against a table of imports and exports; and the remap
//! interpreter that runs `.map()` instructions on the receiving side.

use std::sync::Arc;

use crate::error::{Error, RpcError};
use crate::hook::Hook;
use crate::value::{Bytes, Date, Fetch, Object, Value};
use crate::wire::{
    Capture, ErrorForm, Expr, FetchInit, ReferenceForm, RemapForm, RequestForm, ResponseForm,
};
use crate::{BigInt, RpcPromise, Stub};

/// Resolves the ids inside expressions. Ids are from the sender's point of view: the sender's
/// imports are our exports and the other way round.
pub(crate) trait Importer {
    /// `["export", id]`: a stub the sender exports.
    fn import_stub(&self, id: i64) -> Result<Hook, Error>;
    /// `["promise", id]`: a promise the sender exports and will resolve.
    fn import_promise(&self, id: i64) -> Result<Hook, Error>;
    /// `["import"|"pipeline"|"remap", id, …]`: one of our exports.
    fn export(&self, id: i64) -> Result<Hook, Error>;
}

/// Evaluates `expr` into a value. Calls inside it (`["pipeline", id, path, args]`) are made now,
/// in order, and appear in the value as promises.
pub(crate) fn evaluate(expr: Expr, importer: &dyn Importer) -> Result<Value, Error> {
    crate::stack::guarded(|| evaluate_level(expr, importer))
}

fn evaluate_level(expr: Expr, importer: &dyn Importer) -> Result<Value, Error> {
    Ok(match expr {
        Expr::Null => Value::Null,
        Expr::Bool(b) => Value::Bool(b),
        Expr::Number(n) => Value::Number(n),
        Expr::String(s) => Value::String(s),
        Expr::Object(entries) => Value::Object(evaluate_entries(entries, importer)?),
        Expr::Array(items) => Value::Array(evaluate_all(items, importer)?),
        Expr::Undefined => Value::Undefined,
        Expr::Inf => Value::Number(f64::INFINITY),
        Expr::NegInf => Value::Number(f64::NEG_INFINITY),
        Expr::NaN => Value::Number(f64::NAN),
        Expr::BigInt(text) => Value::BigInt(
            BigInt::parse(&text).ok_or_else(|| protocol(format!("malformed bigint {text:?}")))?,
        ),
        Expr::Date(ms) => Value::Date(ms.map_or_else(Date::invalid, Date::from_millis)),
        Expr::Bytes { data, kind } => Value::Bytes(Bytes::with_kind(data, kind)),
        Expr::Error(error) => {
            let ErrorForm {
                name,
                message,
                stack,
                props,
            } = *error;
            let props = evaluate_entries(props.unwrap_or_default(), importer)?;
            Value::Error(Box::new(RpcError {
                name,
                message,
                stack,
                props: Box::new(props),
            }))
        }
        Expr::Url(href) => Value::Url(href),
        Expr::Headers(pairs) => Value::Headers(pairs),
        Expr::Request(request) => {
            let RequestForm { url, init } = *request;
            Value::Request(Box::new(fetch(url, None, init, importer)?))
        }
        Expr::Response(response) => {
            let ResponseForm { body, init } = *response;
            let body = evaluate(*body, importer)?;
            Value::Response(Box::new(fetch(String::new(), Some(body), init, importer)?))
        }
        Expr::Import(reference) => {
            let ReferenceForm { id, path, args } = *reference;
            let hook = importer.export(id)?;
            let hook = match (path, args) {
                (None, _) => hook,
                (Some(path), None) => hook.get(&path),
                (Some(path), Some(args)) => hook.call(&path, evaluate_all(args, importer)?),
            };
            Value::Stub(Stub::from_hook(hook))
        }
        Expr::Pipeline(reference) => {
            let ReferenceForm { id, path, args } = *reference;
            let hook = importer.export(id)?;
            let path = path.unwrap_or_default();
            let hook = match args {
                None => hook.get(&path),
                Some(args) => hook.call(&path, evaluate_all(args, importer)?),
            };
            Value::Promise(RpcPromise::from_hook(hook))
        }
        Expr::Remap(remap) => {
            let RemapForm {
                id,
                path,
                captures,
                instructions,
            } = *remap;
            let hook = importer.export(id)?;
            let captures = captures
                .into_iter()
                .map(|capture| match capture {
                    Capture::Import(id) => importer.export(id),
                    Capture::Export(id) => importer.import_stub(id),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Value::Promise(RpcPromise::from_hook(hook.map(
                &path,
                captures,
                instructions,
            )))
        }
        Expr::Export(id) => Value::Stub(Stub::from_hook(importer.import_stub(id)?)),
        Expr::Promise(id) => Value::Promise(RpcPromise::from_hook(importer.import_promise(id)?)),
        Expr::Writable(id) => Value::Stub(Stub::from_hook(importer.import_stub(id)?)),
        Expr::Readable(_) | Expr::Blob { .. } => {
            return Err(protocol(
                "streams (readable and blob values) are not supported by this implementation yet"
                    .into(),
            ))
        }
    })
}

fn evaluate_all(items: Vec<Expr>, importer: &dyn Importer) -> Result<Vec<Value>, Error> {
    items.into_iter().map(|e| evaluate(e, importer)).collect()
}

fn evaluate_entries(
    entries: Vec<(String, Expr)>,
    importer: &dyn Importer,
) -> Result<Object, Error> {
    let mut object = Object::with_capacity(entries.len());
    for (key, expr) in entries {
        object.insert(key, evaluate(expr, importer)?);
    }
    Ok(object)
}

fn fetch(
    url: String,
    body: Option<Value>,
    init: FetchInit,
    importer: &dyn Importer,
) -> Result<Fetch, Error> {
    let body = match (body, init.body) {
        (Some(body), _) => Some(body),
        (None, Some(expr)) => Some(evaluate(*expr, importer)?),
        (None, None) => None,
    };
    Ok(Fetch {
        url,
        headers: init.headers.unwrap_or_default(),
        body,
        other: init.other,
    })
}

fn protocol(message: String) -> Error {
    Error::Protocol(message)
}

/// Runs `.map()` instructions over `input`: element-wise for an array, untouched for
/// `null`/`undefined`, once for anything else.
pub(crate) fn apply_map(
    input: &Value,
    captures: &[Hook],
    instructions: &[Expr],
) -> Result<Value, Error> {
    if instructions.is_empty() {
        return Err(protocol(
            "a remap has no instructions (the last one is its result)".into(),
        ));
    }
    match input {
        Value::Array(items) => Ok(Value::Array(
            items
                .iter()
                .map(|item| map_one(item.clone(), captures, instructions))
                .collect::<Result<_, _>>()?,
        )),
        Value::Null | Value::Undefined => Ok(input.clone()),
        other => map_one(other.clone(), captures, instructions),
    }
}

/// The mapper's table: 0 is the input, positive ids earlier results, negative ids captures.
struct Applicator<'a> {
    captures: &'a [Hook],
    variables: Vec<Hook>,
}

impl Importer for Applicator<'_> {
    fn import_stub(&self, _id: i64) -> Result<Hook, Error> {
        Err(protocol(
            "a mapper instruction refers to an export, which mappers cannot do".into(),
        ))
    }

    fn import_promise(&self, id: i64) -> Result<Hook, Error> {
        self.import_stub(id)
    }

    fn export(&self, id: i64) -> Result<Hook, Error> {
        let found = if id < 0 {
            usize::try_from(-(id + 1))
                .ok()
                .and_then(|i| self.captures.get(i))
        } else {
            usize::try_from(id).ok().and_then(|i| self.variables.get(i))
        };
        found.cloned().ok_or_else(|| {
            protocol(format!(
                "mapper instruction refers to {id}, but only captures -1..-{} and results 0..{} exist",
                self.captures.len(),
                self.variables.len() - 1
            ))
        })
    }
}

fn map_one(input: Value, captures: &[Hook], instructions: &[Expr]) -> Result<Value, Error> {
    let mut applicator = Applicator {
        captures,
        variables: vec![Hook::Payload(Arc::new(input))],
    };
    let (last, steps) = match instructions.split_last() {
        Some(split) => split,
        None => return Ok(Value::Undefined),
    };
    for step in steps {
        let value = evaluate(step.clone(), &applicator)?;
        applicator.variables.push(Hook::from_value(value));
    }
    evaluate(last.clone(), &applicator)
}
