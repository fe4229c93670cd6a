//! The calling side of `.map()`: records a closure, once, as remap instructions.
//!
//! While a mapper closure runs, every call the stub layer makes on this thread is handed to
//! [`intercept_call`] / [`intercept_get`] and recorded as an instruction instead of being sent;
//! the closure's input is a [`Placeholder`]. Stubs the closure uses are captured. What the
//! closure returns becomes the last instruction. Recording is synchronous (the closure cannot
//! await), so a thread-local is enough to find the active recorder; nested `.map()` calls stack.

use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::encode::{Encoder, Exporter, Reference};
use crate::error::Error;
use crate::hook::{Hook, Placeholder};
use crate::value::Value;
use crate::wire::{Capture, Expr, Limits, PathKey, ReferenceForm, RemapForm};

thread_local! {
    static ACTIVE: RefCell<Vec<Arc<Recorder>>> = const { RefCell::new(Vec::new()) };
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
    let input = recorder.placeholder(0);

    let result = {
        let _active = Activation::push(Arc::clone(&recorder));
        mapper(input)
    };
    let last = match result.and_then(|value| recorder.encode(&value)) {
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
            crate::evaluate::map(subject, path, hooks, instructions)
        }
    }
}

/// Records a call, if a mapper is being recorded on this thread.
pub(crate) fn intercept_call(hook: &Hook, path: &[PathKey], args: &[Value]) -> Option<Hook> {
    let recorder = current()?;
    let subject = recorder.capture(hook);
    Some(match recorder.encode_call(subject, path, args) {
        Ok(instruction) => recorder.push(instruction),
        Err(e) => Hook::Error(e),
    })
}

/// Records a property read, if a mapper is being recorded on this thread.
pub(crate) fn intercept_get(hook: &Hook, path: &[PathKey]) -> Option<Hook> {
    let recorder = current()?;
    if path.is_empty() {
        if let Hook::Placeholder(p) = hook {
            if p.belongs_to(&recorder.identity()) {
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

/// Recorded values pass through wire text on their way to instructions: the generous
/// limits only keep the stack safe (a mapper is the caller's own code).
const RECORDING_LIMITS: Limits = Limits {
    max_bigint_digits: usize::MAX,
    max_depth: 256,
    max_message_size: usize::MAX,
};

impl Recorder {
    fn lock(&self) -> MutexGuard<'_, RecorderState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn identity(self: &Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        Arc::clone(self) as Arc<dyn Any + Send + Sync>
    }

    fn placeholder(self: &Arc<Self>, index: i64) -> Hook {
        Hook::Placeholder(Placeholder {
            recording: self.identity(),
            index,
        })
    }

    /// The recorder a placeholder belongs to, if it is one of ours.
    fn owns(self: &Arc<Self>, placeholder: &Placeholder) -> bool {
        placeholder.belongs_to(&self.identity())
    }

    /// Appends an instruction; returns the placeholder for its result.
    fn push(self: &Arc<Self>, instruction: Expr) -> Hook {
        let mut state = self.lock();
        state.instructions.push(instruction);
        let index = state.instructions.len() as i64;
        drop(state);
        self.placeholder(index)
    }

    /// `value` as an instruction: its stubs and promises referred to by mapper indices.
    fn encode(self: &Arc<Self>, value: &Value) -> Result<Expr, Error> {
        let mut text = String::new();
        Encoder::new(&mut text, &mut RecorderExporter(self), &RECORDING_LIMITS).value(value, 0)?;
        Expr::parse(&text).map_err(|e| Error::encode(e.to_string()))
    }

    /// `["pipeline", subject, path, args]`.
    fn encode_call(
        self: &Arc<Self>,
        subject: i64,
        path: &[PathKey],
        args: &[Value],
    ) -> Result<Expr, Error> {
        let mut text = String::new();
        let mut exporter = RecorderExporter(self);
        let mut encoder = Encoder::new(&mut text, &mut exporter, &RECORDING_LIMITS);
        encoder.pipeline(subject, path, Some(args))?;
        Expr::parse(&text).map_err(|e| Error::encode(e.to_string()))
    }

    /// The index by which the mapper refers to `hook`: a placeholder of this mapper by its own
    /// index, anything else as a capture (negative), each captured once.
    fn capture(self: &Arc<Self>, hook: &Hook) -> i64 {
        let key = match hook {
            Hook::Placeholder(p) if self.owns(p) => return p.index,
            Hook::Placeholder(p) => Some(CaptureKey::Var(
                Arc::as_ptr(&p.recording) as *const () as usize,
                p.index,
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
    fn stub(&mut self, hook: &Hook) -> Result<Reference, Error> {
        Ok(Reference::Import(self.0.capture(hook)))
    }

    fn promise(&mut self, hook: &Hook, path: &[PathKey]) -> Result<Reference, Error> {
        Ok(Reference::Pipeline(self.0.capture(hook), path.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hook::fake_remote::{Asked, FakeRemote};
    use crate::stub::Stub;

    /// What `record_map` on a fake import sent: the captures' count and the instructions.
    fn recorded(remote: &FakeRemote) -> (usize, Vec<String>) {
        match remote.asked().as_slice() {
            [Asked::Map {
                captures,
                instructions,
                ..
            }] => (*captures, instructions.clone()),
            other => panic!("{other:?}"),
        }
    }

    fn call(hook: &Hook, method: &str, args: Vec<Value>) -> Hook {
        let path = [PathKey::from(method)];
        intercept_call(hook, &path, &args).unwrap_or_else(|| hook.call(&path, args))
    }

    fn value_of(hook: Hook) -> Value {
        Value::Promise(crate::stub::RpcPromise::<Value>::from_hook(hook))
    }

    #[test]
    fn calls_on_the_input_become_pipeline_instructions() {
        let (remote, subject) = FakeRemote::promise(3, Value::Null);
        let result = record_map(&subject, &[PathKey::from("items")], |input| {
            let user = call(&input, "getUser", vec![Value::from(1.0)]);
            Ok(value_of(call(&user, "name", vec![])))
        });
        assert!(matches!(result, Hook::Payload(_)), "{result:?}");
        let (captures, instructions) = recorded(&remote);
        assert_eq!(captures, 0);
        assert_eq!(
            instructions,
            [
                r#"["pipeline",0,["getUser"],[1]]"#,
                r#"["pipeline",1,["name"],[]]"#,
                r#"["pipeline",2]"#,
            ]
        );
        assert!(
            matches!(remote.asked().as_slice(), [Asked::Map { path, .. }] if path == &[PathKey::from("items")])
        );
    }

    #[test]
    fn stubs_the_mapper_uses_are_captured_once_each() {
        let (remote, subject) = FakeRemote::promise(3, Value::Null);
        let (_other, api) = FakeRemote::promise(9, Value::Null);
        let local = Stub::from_fn(|_args: Vec<Value>| async { Ok(Value::Null) });
        record_map(&subject, &[], |input| {
            let a = call(&api, "lookup", vec![value_of(input.clone())]);
            let b = call(&api, "lookup", vec![Value::Stub(local.clone())]);
            Ok(Value::Array(vec![value_of(a), value_of(b)]))
        });
        let (captures, instructions) = recorded(&remote);
        // `api` once (-1) though used twice; the local stub is the second capture (-2).
        assert_eq!(captures, 2);
        assert_eq!(
            instructions,
            [
                r#"["pipeline",-1,["lookup"],[["pipeline",0]]]"#,
                r#"["pipeline",-1,["lookup"],[["import",-2]]]"#,
                r#"[[["pipeline",1],["pipeline",2]]]"#,
            ]
        );
    }

    #[test]
    fn a_nested_map_is_one_remap_instruction_of_the_outer_one() {
        let (remote, subject) = FakeRemote::promise(3, Value::Null);
        let (_other, api) = FakeRemote::promise(9, Value::Null);
        record_map(&subject, &[], |input| {
            let friends = call(&input, "friends", vec![]);
            let names = record_map(&friends, &[], |friend| {
                Ok(value_of(call(&api, "nameOf", vec![value_of(friend)])))
            });
            Ok(value_of(names))
        });
        let (captures, instructions) = recorded(&remote);
        // The inner mapper captures `api` through the outer one (its capture -1 there).
        assert_eq!(captures, 1);
        assert_eq!(
            instructions,
            [
                r#"["pipeline",0,["friends"],[]]"#,
                r#"["remap",1,[],[["import",-1]],[["pipeline",-1,["nameOf"],[["pipeline",0]]],["pipeline",1]]]"#,
                r#"["pipeline",2]"#,
            ]
        );
    }

    #[test]
    fn nothing_is_intercepted_outside_a_recording_and_a_failed_mapper_records_nothing() {
        let (remote, subject) = FakeRemote::promise(3, Value::Null);
        assert!(intercept_call(&subject, &[PathKey::from("f")], &[]).is_none());
        assert!(intercept_get(&subject, &[PathKey::from("p")]).is_none());
        let result = record_map(&subject, &[], |_input| {
            Err(Error::from(crate::error::RpcError::type_error("no")))
        });
        assert!(matches!(result, Hook::Error(_)), "{result:?}");
        assert_eq!(remote.asked(), []);
        // The recording ended with the mapper: calls are not intercepted any more.
        assert!(intercept_call(&subject, &[PathKey::from("f")], &[]).is_none());
    }
}
