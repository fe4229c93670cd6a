//! The web app's API, as the page sees it (`ts/api.ts` is its TypeScript declarations,
//! generated from this file): log in with a name, then share one to-do list with everyone
//! else who did.

use std::sync::Arc;

use capnweb::typescript::TS;
use capnweb::{rpc_target, ReadableStream, RpcError};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::board::{Board, MAX_NAME};

/// An item on the shared list.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[ts(crate = "capnweb::typescript::ts_rs")]
#[serde(rename_all = "camelCase")]
pub struct Todo {
    pub id: u64,
    pub title: String,
    /// Who added it.
    pub added_by: String,
    /// Who completed it, once someone has.
    pub done_by: Option<String>,
}

/// What a page implements to hear about other people's changes as they happen.
#[rpc_target]
pub trait Listener {
    /// `by` added or completed `todo`.
    async fn changed(&self, todo: Todo, by: String);
}

/// What a page reaches before logging in: nothing but `authenticate`.
#[derive(Debug)]
pub struct Login {
    board: Arc<Board>,
}

impl Login {
    pub fn new(board: Arc<Board>) -> Login {
        Login { board }
    }
}

#[rpc_target]
impl Login {
    /// Logs in as `name` and returns that user's session: the capability to use the list.
    /// (A real app would check a password or a token here.)
    pub fn authenticate(&self, name: String) -> Result<SessionStub, RpcError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(RpcError::error(format!(
                "Give a name to log in (at most {MAX_NAME} characters)."
            )));
        }
        Ok(SessionStub::new(Session {
            user: name.to_owned(),
            board: Arc::clone(&self.board),
        }))
    }
}

/// One logged-in user's view of the shared list.
#[derive(Debug)]
pub struct Session {
    user: String,
    board: Arc<Board>,
}

#[rpc_target]
impl Session {
    /// The name this session logged in with.
    pub fn whoami(&self) -> String {
        self.user.clone()
    }

    /// Every item, oldest first.
    pub fn list(&self) -> Vec<Todo> {
        self.board.list()
    }

    /// Adds an item; an empty title is refused.
    pub fn add(&self, title: String) -> Result<Todo, RpcError> {
        self.board.add(&self.user, &title)
    }

    /// Marks an item done.
    pub fn complete(&self, id: u64) -> Result<Todo, RpcError> {
        self.board.complete(&self.user, id)
    }

    /// Everyone who has added an item.
    pub fn people(&self) -> Vec<String> {
        self.board.people()
    }

    /// How many of `name`'s items are not done yet.
    pub fn open_count(&self, name: String) -> u64 {
        self.board.open_count(&name)
    }

    /// Calls `listener` back on every change, anyone's, from now on.
    pub fn watch(&self, listener: ListenerStub) {
        self.board.watch(listener);
    }

    /// The activity log: recent lines, then each new one as it happens.
    pub fn activity(&self) -> ReadableStream<String> {
        let (history, live) = self.board.activity();
        let live = futures::stream::unfold(live, |mut live| async move {
            loop {
                match live.recv().await {
                    Ok(line) => return Some((line, live)),
                    // A reader that fell behind skips what it missed.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        ReadableStream::new(futures::stream::iter(history).chain(live))
    }
}
