//! Wire expressions to values, against a table of imports and exports; and the remap
//! interpreter that runs `.map()` instructions on the receiving side.

use std::sync::Arc;

use crate::error::{Error, RpcError};
use crate::hook::{self, Hook, Walk};
use crate::value::{Bytes, Date, Fetch, Object, Value};
use crate::wire::{
    Capture, ErrorForm, Expr, FetchInit, PathKey, ReferenceForm, RemapForm, RequestForm,
    ResponseForm,
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
    /// `["readable", id]`: the readable end of the pipe the sender opened as export `id`.
    fn readable(&self, id: i64) -> Result<Hook, Error> {
        Err(protocol(format!(
            "[\"readable\", {id}] cannot be used here: a stream is only sent in a message"
        )))
    }
}

/// Evaluates `expr` into a value. Calls inside it (`["pipeline", id, path, args]`) are made now,
/// in order, and appear in the value as promises.
pub(crate) fn evaluate(expr: Expr, importer: &dyn Importer) -> Result<Value, Error> {
    match expr {
        // Leaves do not recurse: no stack check needed.
        Expr::Null => Ok(Value::Null),
        Expr::Bool(b) => Ok(Value::Bool(b)),
        Expr::Number(n) => Ok(Value::Number(n)),
        Expr::String(s) => Ok(Value::String(s)),
        other => crate::stack::guarded(|| evaluate_level(other, importer)),
    }
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
            // The error's own fields are not props; a prop cannot override them.
            let props = props
                .unwrap_or_default()
                .into_iter()
                .filter(|(key, _)| !matches!(key.as_str(), "name" | "message" | "stack"))
                .collect();
            let props = evaluate_entries(props, importer)?;
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
        // `import` does what `pipeline` does (a property read with a path, a call with
        // arguments); only its result is a stub, usable at once, instead of a promise.
        Expr::Import(reference_form) => {
            let ReferenceForm { id, path, args } = *reference_form;
            let hook = reference(importer.export(id)?, false, path, args, importer)?;
            Value::Stub(Stub::from_hook(hook))
        }
        Expr::Pipeline(reference_form) => {
            let ReferenceForm { id, path, args } = *reference_form;
            let hook = reference(importer.export(id)?, true, path, args, importer)?;
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
            Value::Promise(RpcPromise::from_hook(map(
                &hook,
                &path,
                captures,
                instructions,
            )))
        }
        Expr::Export(id) => Value::Stub(Stub::from_hook(importer.import_stub(id)?)),
        Expr::Promise(id) => Value::Promise(RpcPromise::from_hook(importer.import_promise(id)?)),
        Expr::Writable(id) => Value::Stub(Stub::from_hook(importer.import_stub(id)?)),
        Expr::Readable(id) => Value::Stub(Stub::from_hook(importer.readable(id)?)),
        Expr::Blob { mime, content } => {
            let content = evaluate(*content, importer)?;
            let cell = match content.as_stub().map(Stub::hook) {
                Some(Hook::Stream(stream)) => match &**stream {
                    crate::stream::StreamHook::Readable(cell) => Arc::clone(cell),
                    _ => {
                        return Err(protocol(
                            "a blob's content must be a readable stream".into(),
                        ))
                    }
                },
                _ => {
                    return Err(protocol(
                        "a blob's content must be a readable stream".into(),
                    ))
                }
            };
            let blob = crate::stream::StreamHook::Blob(mime, cell);
            Value::Stub(Stub::from_hook(Hook::Stream(Arc::new(blob))))
        }
    })
}

/// `[…, id, path?, args?]` on `hook`, as the reference evaluates it: with arguments a call of
/// the path, with a path alone a read of it, with neither the export itself (read as a
/// promise for `pipeline`, so that it can be awaited).
fn reference(
    hook: Hook,
    promise: bool,
    path: Option<Vec<PathKey>>,
    args: Option<Vec<Expr>>,
    importer: &dyn Importer,
) -> Result<Hook, Error> {
    Ok(match (path, args) {
        (None, _) if promise => hook.get(&[]),
        (None, _) => hook,
        (Some(path), None) => hook.get(&path),
        (Some(path), Some(args)) => hook.call(&path, evaluate_all(args, importer)?),
    })
}

fn evaluate_all(items: Vec<Expr>, importer: &dyn Importer) -> Result<Vec<Value>, Error> {
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        values.push(evaluate(item, importer)?);
    }
    Ok(values)
}

fn evaluate_entries(
    entries: Vec<(String, Expr)>,
    importer: &dyn Importer,
) -> Result<Object, Error> {
    let mut object = Object::with_capacity(entries.len());
    for (key, expr) in entries {
        let value = evaluate(expr, importer)?;
        // As the reference does: a key that would override a member of JavaScript's
        // `Object.prototype` (`__proto__` above all), or `toJSON`, is dropped, its value
        // evaluated all the same (so that stubs in it are released), for a JavaScript peer
        // reading the same values must never see them.
        if !is_reserved_key(&key) {
            object.insert(key, value);
        }
    }
    Ok(object)
}

/// The members of JavaScript's `Object.prototype`, and `toJSON`.
fn is_reserved_key(key: &str) -> bool {
    matches!(
        key,
        "constructor"
            | "__defineGetter__"
            | "__defineSetter__"
            | "hasOwnProperty"
            | "__lookupGetter__"
            | "__lookupSetter__"
            | "isPrototypeOf"
            | "propertyIsEnumerable"
            | "toString"
            | "valueOf"
            | "__proto__"
            | "toLocaleString"
            | "toJSON"
    )
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
    Error::protocol(message)
}

/// Applies a `.map()` to the value at `path` of `hook`: sent on to the peer for a remote
/// import, queued for a local promise, run here for a local value.
pub(crate) fn map(
    hook: &Hook,
    path: &[PathKey],
    captures: Vec<Hook>,
    instructions: Vec<Expr>,
) -> Hook {
    match hook {
        Hook::Remote(remote) => remote.entry.map(path, captures, instructions),
        Hook::Target(_) => map(&hook.get(path), &[], captures, instructions),
        Hook::Payload(value) => match hook::walk(value, path) {
            Walk::Forward(hook, rest) => map(&hook, &rest, captures, instructions),
            Walk::Found(v) => Hook::from_result(apply_map(v, &captures, &instructions)),
            Walk::Failed(e) => Hook::Error(e),
        },
        Hook::Promise(promise) => {
            let path = path.to_vec();
            promise.then(move |resolution| map(resolution, &path, captures, instructions))
        }
        Hook::Error(e) => Hook::Error(e.clone()),
        Hook::Placeholder(_) => Hook::Error(hook::placeholder_misuse()),
        Hook::Stream(stream) => Hook::Error(stream.misuse("use .map()")),
    }
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
            let captures = match self.captures.len() {
                0 => "no captures".to_owned(),
                1 => "one capture (-1)".to_owned(),
                n => format!("captures -1 to -{n}"),
            };
            let results = match self.variables.len() - 1 {
                0 => "the input (0)".to_owned(),
                n => format!("the input (0) and the results of instructions 1 to {n}"),
            };
            protocol(format!(
                "a mapper instruction refers to {id}, but only {captures} and {results} exist \
                 at that point"
            ))
        })
    }
}

fn map_one(input: Value, captures: &[Hook], instructions: &[Expr]) -> Result<Value, Error> {
    let mut applicator = Applicator {
        captures,
        variables: vec![Hook::Payload(Arc::new(input))],
    };
    let Some((last, steps)) = instructions.split_last() else {
        return Ok(Value::Undefined);
    };
    for step in steps {
        let value = evaluate(step.clone(), &applicator)?;
        applicator.variables.push(Hook::from_value(value));
    }
    evaluate(last.clone(), &applicator)
}
