//! The shared state behind every user's session: the list, who is watching it, and the
//! activity log. One `Board` per server; each method keeps its lock short and never awaits
//! while holding it.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::sync::{Arc, Mutex, MutexGuard};

use capnweb::RpcError;
use tokio::sync::broadcast;

use super::api::{ListenerStub, Todo};

/// Longest title and name accepted, in characters: a page may send anything.
pub const MAX_TITLE: usize = 200;
pub const MAX_NAME: usize = 40;
/// Most items the list holds, so one user cannot grow the server without bound.
pub const MAX_ITEMS: usize = 500;
/// Activity lines kept for a page that opens the log later.
const HISTORY: usize = 50;

/// The list shared by every user.
#[derive(Debug)]
pub struct Board {
    state: Mutex<State>,
    activity: broadcast::Sender<String>,
}

#[derive(Debug, Default)]
struct State {
    todos: Vec<Todo>,
    next_id: u64,
    listeners: BTreeMap<u64, ListenerStub>,
    next_listener: u64,
    history: Vec<String>,
}

impl Board {
    pub fn new() -> Arc<Board> {
        Arc::new(Board {
            state: Mutex::new(State::default()),
            activity: broadcast::channel(256).0,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere leaves the list as it was: keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn list(&self) -> Vec<Todo> {
        self.state().todos.clone()
    }

    /// Items of `user`'s that are not done yet.
    pub fn open_count(&self, user: &str) -> u64 {
        let state = self.state();
        let open = state
            .todos
            .iter()
            .filter(|t| t.added_by == user && t.done_by.is_none());
        open.count() as u64
    }

    /// Everyone who has added an item, in the order they first did.
    pub fn people(&self) -> Vec<String> {
        let mut people: Vec<String> = Vec::new();
        for todo in self.state().todos.iter() {
            if !people.contains(&todo.added_by) {
                people.push(todo.added_by.clone());
            }
        }
        people
    }

    pub fn add(self: &Arc<Self>, user: &str, title: &str) -> Result<Todo, RpcError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(RpcError::error("An item needs a title."));
        }
        if title.chars().count() > MAX_TITLE {
            return Err(RpcError::range_error(format!(
                "A title has at most {MAX_TITLE} characters."
            )));
        }
        let todo = {
            let mut state = self.state();
            if state.todos.len() >= MAX_ITEMS {
                return Err(RpcError::range_error("The list is full."));
            }
            state.next_id += 1;
            let todo = Todo {
                id: state.next_id,
                title: title.to_owned(),
                added_by: user.to_owned(),
                done_by: None,
            };
            state.todos.push(todo.clone());
            todo
        };
        self.changed(&todo, user, format!("{user} added “{}”", todo.title));
        Ok(todo)
    }

    pub fn complete(self: &Arc<Self>, user: &str, id: u64) -> Result<Todo, RpcError> {
        let todo = {
            let mut state = self.state();
            let todo = state
                .todos
                .iter_mut()
                .find(|t| t.id == id)
                .ok_or_else(|| RpcError::range_error(format!("There is no item {id}.")))?;
            if todo.done_by.is_some() {
                return Ok(todo.clone());
            }
            todo.done_by = Some(user.to_owned());
            todo.clone()
        };
        self.changed(&todo, user, format!("{user} completed “{}”", todo.title));
        Ok(todo)
    }

    /// Calls `listener` back on every change from now on, until a call to it fails (its page
    /// went away).
    pub fn watch(&self, listener: ListenerStub) {
        let mut state = self.state();
        state.next_listener += 1;
        let id = state.next_listener;
        state.listeners.insert(id, listener);
    }

    /// The activity log: the recent lines, then each new one as it happens.
    pub fn activity(&self) -> (Vec<String>, broadcast::Receiver<String>) {
        let state = self.state();
        // Subscribed under the lock, so no line falls between the history and the live ones.
        (state.history.clone(), self.activity.subscribe())
    }

    /// Tells every listener and the activity log.
    fn changed(self: &Arc<Self>, todo: &Todo, by: &str, line: String) {
        let calls: Vec<_> = {
            let mut state = self.state();
            state.history.push(line.clone());
            if state.history.len() > HISTORY {
                state.history.remove(0);
            }
            let _ = self.activity.send(line);
            // The calls go out here, in the lock, so every listener hears changes in order.
            let listeners = state.listeners.iter();
            listeners
                .map(|(id, l)| (*id, l.changed(todo.clone(), by.to_owned()).into_future()))
                .collect()
        };
        // Their answers are awaited elsewhere: a slow page must not hold up the caller.
        let board = Arc::clone(self);
        tokio::spawn(async move {
            let (ids, calls): (Vec<u64>, Vec<_>) = calls.into_iter().unzip();
            let answers = futures::future::join_all(calls).await;
            let mut state = board.state();
            for (id, answer) in ids.into_iter().zip(answers) {
                if answer.is_err() {
                    state.listeners.remove(&id);
                }
            }
        });
    }
}
