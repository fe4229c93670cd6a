//! Turning statements into calls on a session: every call is issued at once (nothing is
//! awaited here), so a whole script is pipelined. A [`Script`] keeps its bindings, so a REPL
//! can feed it one line at a time on one session.

use std::collections::HashMap;

use capnweb::{RpcPromise, Stub, Value};

use crate::parse::{Expr, Name, Statement, StatementKind, Step};

/// What a name is bound to: a remote result (possibly still pending), or a local value.
#[derive(Debug, Clone)]
enum Bound {
    Remote(RpcPromise<Value>),
    Local(Value),
}

/// What an expression evaluated to.
#[derive(Debug)]
enum Evaluated {
    Remote(RpcPromise<Value>),
    Local(Value),
}

impl Evaluated {
    fn into_value(self) -> Value {
        match self {
            Evaluated::Remote(promise) => Value::from(promise),
            Evaluated::Local(value) => value,
        }
    }
}

/// A statement's result, issued but not awaited.
#[derive(Debug)]
pub enum Outcome {
    /// A `let`: nothing to print.
    Bound,
    /// A value known without asking the server (a literal).
    Ready(Value),
    /// A call or property read in flight.
    Pending(RpcPromise<Value>),
}

/// A statement that cannot be evaluated (a name used wrongly); `at` is a byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    pub message: String,
    pub at: usize,
}

impl EvalError {
    /// As [`SyntaxError::render`](crate::parse::SyntaxError::render), for evaluation errors.
    pub fn render(&self, script: &str) -> String {
        crate::parse::SyntaxError {
            message: self.message.clone(),
            at: self.at,
        }
        .render(script)
        .replacen("syntax error", "error", 1)
    }
}

/// The main object and the names bound so far.
#[derive(Debug)]
pub struct Script {
    main: Stub,
    bindings: HashMap<String, Bound>,
}

/// Names in scope inside `.map()` bodies, innermost last.
type Locals<'a> = &'a [(String, RpcPromise<Value>)];

impl Script {
    pub fn new(main: Stub) -> Script {
        Script {
            main,
            bindings: HashMap::new(),
        }
    }

    /// Binds `name` to a local value (a callback stub), as a `let` would.
    pub fn bind_local(&mut self, name: &str, value: Value) {
        self.bindings.insert(name.to_owned(), Bound::Local(value));
    }

    /// The bound names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.bindings.keys().cloned().collect();
        names.sort();
        names
    }

    /// Forgets `name`; what it held is released once nothing else uses it. Whether it was
    /// bound.
    pub fn release(&mut self, name: &str) -> bool {
        self.bindings.remove(name).is_some()
    }

    /// Issues `statement`: its calls are sent (or queued for the batch) now; nothing waits.
    pub fn issue(&mut self, statement: &Statement) -> Result<Outcome, EvalError> {
        match &statement.kind {
            StatementKind::Let { name, expr } => {
                let bound = match self.eval(expr, &[])? {
                    Evaluated::Remote(promise) => Bound::Remote(promise),
                    Evaluated::Local(value) => Bound::Local(value),
                };
                self.bindings.insert(name.clone(), bound);
                Ok(Outcome::Bound)
            }
            StatementKind::Expr(expr) => match self.eval(expr, &[])? {
                Evaluated::Remote(promise) => Ok(Outcome::Pending(promise)),
                Evaluated::Local(value) if value.contains_promise() => Err(EvalError {
                    message: "an array or object holding calls can be an argument, not a \
                              statement of its own: make each call its own statement"
                        .into(),
                    at: expr_offset(expr),
                }),
                Evaluated::Local(value) => Ok(Outcome::Ready(value)),
            },
        }
    }

    fn eval(&self, expr: &Expr, locals: Locals) -> Result<Evaluated, EvalError> {
        match expr {
            Expr::Literal(value) => Ok(Evaluated::Local(value.clone())),
            Expr::Array(items) => {
                let values = items
                    .iter()
                    .map(|item| Ok(self.eval(item, locals)?.into_value()))
                    .collect::<Result<Vec<_>, EvalError>>()?;
                Ok(Evaluated::Local(Value::Array(values)))
            }
            Expr::Object(fields) => {
                let mut object = capnweb::value::Object::new();
                for (key, value) in fields {
                    object.insert(key.clone(), self.eval(value, locals)?.into_value());
                }
                Ok(Evaluated::Local(Value::Object(object)))
            }
            Expr::Chain { root, steps } => self.chain(root, steps, locals),
        }
    }

    fn args(&self, args: &[Expr], locals: Locals) -> Result<Vec<Value>, EvalError> {
        args.iter()
            .map(|arg| Ok(self.eval(arg, locals)?.into_value()))
            .collect()
    }

    fn chain(&self, root: &Name, steps: &[Step], locals: Locals) -> Result<Evaluated, EvalError> {
        let local = locals.iter().rev().find(|(name, _)| *name == root.text);
        let (mut current, rest) = match (local, self.bindings.get(&root.text)) {
            (Some((_, promise)), _) => (Evaluated::Remote(promise.clone()), steps),
            (None, Some(Bound::Remote(promise))) => (Evaluated::Remote(promise.clone()), steps),
            (None, Some(Bound::Local(value))) => (Evaluated::Local(value.clone()), steps),
            // Not a bound name: the main object's method or property.
            (None, None) => match steps.first() {
                Some(Step::Call(args)) => (
                    Evaluated::Remote(self.main.call(&root.text, self.args(args, locals)?)),
                    &steps[1..],
                ),
                _ => (Evaluated::Remote(self.main.get(&root.text)), steps),
            },
        };
        let mut i = 0;
        while i < rest.len() {
            let promise = match current {
                Evaluated::Remote(promise) => promise,
                Evaluated::Local(_) => {
                    return Err(EvalError {
                        message: format!(
                            "`{}` is a local value, not a remote object: only the results of \
                             calls and property reads can be called or read from",
                            root.text
                        ),
                        at: root.at,
                    })
                }
            };
            current = Evaluated::Remote(match (&rest[i], rest.get(i + 1)) {
                (Step::Member(member), Some(Step::Call(args))) => {
                    i += 1;
                    promise.call(&member.text, self.args(args, locals)?)
                }
                (Step::Member(member), _) => promise.get(&member.text),
                (Step::Call(args), _) => promise.call_self(self.args(args, locals)?),
                (Step::Map { param, body }, _) => self.map(&promise, param, body, locals)?,
            });
            i += 1;
        }
        Ok(current)
    }

    /// `.map(param => body)`: the body is recorded once, with `param` as the placeholder, and
    /// runs on the server for each element.
    fn map(
        &self,
        promise: &RpcPromise<Value>,
        param: &Name,
        body: &Expr,
        locals: Locals,
    ) -> Result<RpcPromise<Value>, EvalError> {
        let mut failed = None;
        let mapped = promise.map(|input| {
            let mut inner: Vec<(String, RpcPromise<Value>)> = locals.to_vec();
            inner.push((param.text.clone(), input));
            match self.eval(body, &inner) {
                Ok(result) => result.into_value(),
                Err(e) => {
                    failed = Some(e);
                    Value::Undefined
                }
            }
        });
        match failed {
            Some(e) => Err(e),
            None => Ok(mapped),
        }
    }
}

/// Where an expression starts, for errors about the whole of it.
fn expr_offset(expr: &Expr) -> usize {
    match expr {
        Expr::Chain { root, .. } => root.at,
        Expr::Array(items) => items.first().map_or(0, expr_offset),
        Expr::Object(fields) => fields.first().map_or(0, |(_, e)| expr_offset(e)),
        Expr::Literal(_) => 0,
    }
}
