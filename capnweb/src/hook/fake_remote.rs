//! A [`Remote`] without a session, for the unit tests of the hook layer and the recorder: it
//! logs what is asked of it and answers from a value set in advance.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Hook, Remote, RemoteRef};
use crate::error::BrokenCallback;
use crate::value::Value;
use crate::wire::{Expr, PathKey};

/// One request made of the import.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Asked {
    Call(Vec<PathKey>, Option<Vec<Value>>),
    Map {
        path: Vec<PathKey>,
        captures: usize,
        instructions: Vec<String>,
    },
    Resolution,
}

pub(crate) struct FakeRemote {
    id: i64,
    /// What a pull resolves to.
    resolution: Value,
    pub(crate) asked: Mutex<Vec<Asked>>,
}

impl FakeRemote {
    /// A promise import whose resolution is `resolution`.
    pub(crate) fn promise(id: i64, resolution: Value) -> (Arc<FakeRemote>, Hook) {
        let remote = Arc::new(FakeRemote {
            id,
            resolution,
            asked: Mutex::default(),
        });
        let hook = Hook::Remote(RemoteRef {
            entry: Arc::clone(&remote) as Arc<dyn Remote>,
            promise: true,
        });
        (remote, hook)
    }

    pub(crate) fn asked(&self) -> Vec<Asked> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }

    fn log(&self, asked: Asked) {
        if let Ok(mut log) = self.asked.lock() {
            log.push(asked);
        }
    }
}

impl Remote for FakeRemote {
    fn id(&self) -> i64 {
        self.id
    }
    fn session_key(&self) -> usize {
        0
    }
    fn call(&self, path: &[PathKey], args: Option<Vec<Value>>) -> Hook {
        self.log(Asked::Call(path.to_vec(), args));
        Hook::Payload(Arc::new(Value::from("called")))
    }
    fn stream(
        &self,
        path: &[PathKey],
        args: Vec<Value>,
        _prepared: Option<crate::hook::PreparedStream>,
    ) -> (Hook, Option<usize>) {
        (self.call(path, Some(args)), None)
    }
    fn map(&self, path: &[PathKey], captures: Vec<Hook>, instructions: Vec<Expr>) -> Hook {
        self.log(Asked::Map {
            path: path.to_vec(),
            captures: captures.len(),
            instructions: instructions.iter().map(Expr::to_text).collect(),
        });
        Hook::Payload(Arc::new(Value::from("mapped")))
    }
    fn poll_resolution(
        &self,
        _cx: &mut Context<'_>,
        asked: &mut bool,
        _unique: bool,
    ) -> Poll<Hook> {
        if !*asked {
            *asked = true;
            self.log(Asked::Resolution);
        }
        Poll::Ready(Hook::Payload(Arc::new(self.resolution.clone())))
    }
    fn settled(&self) -> Option<Hook> {
        None
    }
    fn on_broken(&self, _callback: BrokenCallback) {}
    fn is_pending(&self) -> bool {
        true
    }
    fn request_flush(&self) -> Option<Arc<dyn Fn() + Send + Sync>> {
        None
    }
    fn call_timeout(&self) -> Option<Duration> {
        None
    }
}
