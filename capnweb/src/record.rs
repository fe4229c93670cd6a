//! The calling side of `.map()`: records a closure, once, as remap instructions.
//!
//! While a mapper closure runs, every call made on this thread is intercepted and recorded as
//! an instruction instead of being sent; the closure's input is a placeholder. Stubs the
//! closure uses are captured. What the closure returns becomes the last instruction.
//! Recording is synchronous (the closure cannot await), so a thread-local is enough to find
//! the active recorder; nested `.map()` calls stack.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::encode::{self, Exporter};
use crate::error::{Error, RpcError};
use crate::hook::Hook;
use crate::value::Value;
use crate::wire::{Capture, Expr, PathKey, ReferenceForm, RemapForm};

thread_local! {
    static ACTIVE: RefCell<Vec<Arc<Recorder>>> = const { RefCell::new(Vec::new()) };
}

/// A placeholder for a value inside a mapper: the input (0) or an instruction's result (n).
#[derive(Clone)]
pub(crate) struct MapVar {
    recorder: Arc<Recorder>,
    index: i64,
}

impl MapVar {
    pub(crate) fn index(&self) -> i64 {
        self.index
    }
}

/// The error for a placeholder used outside its closure.
pub(crate) fn placeholder_misuse() -> Error {
    Error::from(RpcError::error(
        "a .map() placeholder was used outside its mapper: the closure given to .map() may only \
         make calls on it while it runs; it cannot be awaited or kept",
    ))
}

struct Recorder {
    parent: Option<Arc<Recorder>>,
    state: Mutex<RecorderState>,
}

#[derive(Default)]
struct RecorderState {
    /// What each capture is: a hook (outermost mapper) or an index in the parent mapper.
    captures: Vec<CaptureSource>,
    by_identity: HashMap<CaptureKey, i64>,
    instructions: Vec<Expr>,
}

enum CaptureSource {
    Hook(Hook),
    Parent(i64),
}

#[derive(Hash, PartialEq, Eq)]
enum CaptureKey {
    Object(usize),
    Var(usize, i64),
}

/// Records `mapper` applied to the value at `path` of `subject`; returns the hook of the
/// result (a remote promise, or a placeholder when nested inside another recording).
pub(crate) fn record_map(
    subject: &Hook,
    path: &[PathKey],
    mapper: impl FnOnce(Hook) -> Result<Value, Error>,
) -> Hook {
    let parent = current();
    let recorder = Arc::new(Recorder {
        parent: parent.clone(),
        state: Mutex::default(),
    });
    // Nested: the subject is something of the parent mapper's, referred to by its index there.
    let nested = parent.map(|p| {
        let subject_index = p.capture(subject);
        (p, subject_index)
    });
    let input = Hook::MapVar(MapVar {
        recorder: Arc::clone(&recorder),
        index: 0,
    });

    let result = {
        let _active = Activation::push(Arc::clone(&recorder));
        mapper(input)
    };
    let result = result.and_then(|value| {
        let expr = encode::encode(&value, &mut RecorderExporter(&recorder));
        drop(value);
        expr
    });
    let last = match result {
        Ok(expr) => expr,
        Err(e) => return Hook::Error(e),
    };

    let mut state = recorder.lock();
    state.instructions.push(last);
    let instructions = std::mem::take(&mut state.instructions);
    let captures = std::mem::take(&mut state.captures);
    drop(state);

    // A nested recorder captures only through its parent (`Parent`), the outermost one only
    // hooks (`Hook`): see `Recorder::capture`.
    match nested {
        Some((parent, subject_index)) => {
            let captures = captures
                .into_iter()
                .filter_map(|c| match c {
                    CaptureSource::Parent(i) => Some(Capture::Import(i)),
                    CaptureSource::Hook(_) => None,
                })
                .collect();
            let remap = Expr::Remap(Box::new(RemapForm {
                id: subject_index,
                path: path.to_vec(),
                captures,
                instructions,
            }));
            parent.push(remap)
        }
        None => {
            let hooks = captures
                .into_iter()
                .filter_map(|c| match c {
                    CaptureSource::Hook(h) => Some(h),
                    CaptureSource::Parent(_) => None,
                })
                .collect();
            subject.map(path, hooks, instructions)
        }
    }
}

/// Records a call, if a mapper is being recorded on this thread.
pub(crate) fn intercept_call(hook: &Hook, path: &[PathKey], args: &[Value]) -> Option<Hook> {
    let recorder = current()?;
    let subject = recorder.capture(hook);
    Some(
        match encode::encode_args(args, &mut RecorderExporter(&recorder)) {
            Ok(args) => recorder.push(Expr::Pipeline(Box::new(ReferenceForm {
                id: subject,
                path: Some(path.to_vec()),
                args: Some(args),
            }))),
            Err(e) => Hook::Error(e),
        },
    )
}

/// Records a property read, if a mapper is being recorded on this thread.
pub(crate) fn intercept_get(hook: &Hook, path: &[PathKey]) -> Option<Hook> {
    let recorder = current()?;
    if path.is_empty() {
        if let Hook::MapVar(var) = hook {
            if Arc::ptr_eq(&var.recorder, &recorder) {
                return Some(hook.clone());
            }
        }
    }
    let subject = recorder.capture(hook);
    Some(recorder.push(Expr::Pipeline(Box::new(ReferenceForm {
        id: subject,
        path: Some(path.to_vec()),
        args: None,
    }))))
}

fn current() -> Option<Arc<Recorder>> {
    ACTIVE.with(|active| active.borrow().last().cloned())
}

/// Keeps a recorder active while the closure runs, even if it panics.
struct Activation;

impl Activation {
    fn push(recorder: Arc<Recorder>) -> Activation {
        ACTIVE.with(|active| active.borrow_mut().push(recorder));
        Activation
    }
}

impl Drop for Activation {
    fn drop(&mut self) {
        ACTIVE.with(|active| active.borrow_mut().pop());
    }
}

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, RecorderState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends an instruction; returns the placeholder for its result.
    fn push(self: &Arc<Self>, instruction: Expr) -> Hook {
        let mut state = self.lock();
        state.instructions.push(instruction);
        let index = state.instructions.len() as i64;
        Hook::MapVar(MapVar {
            recorder: Arc::clone(self),
            index,
        })
    }

    /// The index by which the mapper refers to `hook`: a placeholder of this mapper by its own
    /// index, anything else as a capture (negative), each captured once.
    fn capture(self: &Arc<Self>, hook: &Hook) -> i64 {
        let key = match hook {
            Hook::MapVar(var) if Arc::ptr_eq(&var.recorder, self) => return var.index,
            Hook::MapVar(var) => Some(CaptureKey::Var(
                Arc::as_ptr(&var.recorder) as usize,
                var.index,
            )),
            other => other.identity().map(CaptureKey::Object),
        };
        if let Some(index) = key
            .as_ref()
            .and_then(|k| self.lock().by_identity.get(k).copied())
        {
            return index;
        }
        let source = match &self.parent {
            Some(parent) => CaptureSource::Parent(parent.capture(hook)),
            None => CaptureSource::Hook(hook.clone()),
        };
        let mut state = self.lock();
        state.captures.push(source);
        let index = -(state.captures.len() as i64);
        if let Some(key) = key {
            state.by_identity.insert(key, index);
        }
        index
    }
}

/// Inside a mapper, every stub and promise is referred to by its index in the mapper's table.
struct RecorderExporter<'a>(&'a Arc<Recorder>);

impl Exporter for RecorderExporter<'_> {
    fn stub_expr(&mut self, hook: &Hook) -> Result<Expr, Error> {
        Ok(Expr::Import(Box::new(ReferenceForm {
            id: self.0.capture(hook),
            path: None,
            args: None,
        })))
    }

    fn promise_expr(&mut self, hook: &Hook, path: &[PathKey]) -> Result<Expr, Error> {
        let path = (!path.is_empty()).then(|| path.to_vec());
        Ok(Expr::Pipeline(Box::new(ReferenceForm {
            id: self.0.capture(hook),
            path,
            args: None,
        })))
    }
}
