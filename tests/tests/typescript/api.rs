//! A to-do API with every kind of signature the TypeScript declarations cover: methods and a
//! property, a returned stub (that leads back to the main one), a callback trait taken as a
//! parameter, user types (a struct with `rename_all`, a `skip`ped field and a bigint field, an
//! enum of unit variants, a tagged and an untagged enum, a generic struct, a struct holding a
//! stub), `Option`, 64-bit
//! integers, a map,
//! bytes, dates, blobs and streams. `api.ts` beside this file is its committed declarations.

use std::collections::HashMap;
use std::sync::Mutex;

use capnweb::{rpc_target, BigInt, Blob, Bytes, Date, ReadableStream, RpcError, WritableStream};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A to-do item.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Todo {
    pub id: u64,
    pub title: String,
    pub priority: Priority,
    /// When it was done, if it was.
    pub done_at: Option<Date>,
    pub tags: Vec<String>,
    /// Kept on the server only.
    #[serde(skip)]
    pub edits: u32,
    /// Every change counts, forever: a bigint on the wire.
    #[serde(with = "capnweb::bigint")]
    #[ts(as = "BigInt")]
    pub revision: u64,
}

/// How urgent an item is.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Priority {
    Low,
    Normal,
    RightNow,
}

/// What changed, as a listener hears it.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Change {
    Added { todo: Todo },
    Completed { id: u64, by: String },
    Removed { id: u64 },
}

/// Which items to list: by tag, or by ids.
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(untagged)]
pub enum Filter {
    Tag(String),
    Ids(Vec<u64>),
}

/// One page of a listing (a generic type: declared once, with its parameter).
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<u64>,
}

/// What `login` returns: data, and a stub inside it (by reference, as in a result).
#[derive(Clone, Debug, Serialize, Deserialize, TS)]
pub struct Welcome {
    pub session: SessionStub,
    pub motd: String,
}

/// The main object: one shared to-do list.
pub struct Api {
    todos: Mutex<Vec<Todo>>,
}

impl Api {
    pub fn new() -> Api {
        Api {
            todos: Mutex::new(Vec::new()),
        }
    }

    fn todos(&self) -> std::sync::MutexGuard<'_, Vec<Todo>> {
        self.todos.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for Api {
    fn default() -> Self {
        Api::new()
    }
}

/// A shared to-do list.
///
/// Every method is one call; pipeline on the stubs it returns.
#[rpc_target]
impl Api {
    /// Adds an item and returns it, with its id.
    pub async fn add(&self, title: String, priority: Option<Priority>) -> Result<Todo, RpcError> {
        let mut todos = self.todos();
        let todo = Todo {
            id: todos.len() as u64 + 1,
            title,
            priority: priority.unwrap_or(Priority::Normal),
            done_at: None,
            tags: Vec::new(),
            edits: 0,
            revision: 1,
        };
        todos.push(todo.clone());
        Ok(todo)
    }

    /// The item with this id, if there is one.
    pub fn find(&self, id: u64) -> Option<Todo> {
        self.todos().iter().find(|t| t.id == id).cloned()
    }

    pub fn list(&self, filter: Option<Filter>) -> Vec<Todo> {
        let todos = self.todos();
        todos
            .iter()
            .filter(|t| match &filter {
                None => true,
                Some(Filter::Tag(tag)) => t.tags.contains(tag),
                Some(Filter::Ids(ids)) => ids.contains(&t.id),
            })
            .cloned()
            .collect()
    }

    /// Items in pages of 20, from `cursor` on.
    pub fn page(&self, cursor: Option<u64>) -> Page<Todo> {
        let start = cursor.unwrap_or(0) as usize;
        let todos = self.todos();
        let items: Vec<Todo> = todos.iter().skip(start).take(20).cloned().collect();
        let next_cursor = (start + items.len() < todos.len()).then(|| (start + items.len()) as u64);
        Page { items, next_cursor }
    }

    pub fn complete(&self, id: u64, at: Date) -> Result<(), RpcError> {
        match self.todos().iter_mut().find(|t| t.id == id) {
            Some(todo) => {
                todo.done_at = Some(at);
                Ok(())
            }
            None => Err(RpcError::range_error(format!("no item {id}"))),
        }
    }

    /// Items per tag.
    pub fn counts(&self) -> HashMap<String, u32> {
        HashMap::new()
    }

    /// The session of one user: returned by reference.
    pub fn session(&self, user: String) -> SessionStub {
        SessionStub::new(Session { user })
    }

    /// A session and the message of the day, in one result.
    pub fn login(&self, user: String) -> Welcome {
        Welcome {
            session: SessionStub::new(Session { user }),
            motd: "hello".into(),
        }
    }

    /// Calls `listener` back on every change until it is released.
    pub fn subscribe(&self, listener: ListenerStub) {
        drop(listener);
    }

    /// Every item, one at a time.
    pub fn export_all(&self) -> ReadableStream<Todo> {
        ReadableStream::new(futures::stream::iter(self.todos().clone()))
    }

    /// Items from lines of text; how many were added.
    pub async fn import_lines(&self, lines: ReadableStream<String>) -> Result<u32, RpcError> {
        let all = lines.collect_all().await.map_err(|e| e.to_rpc_error())?;
        Ok(all.len() as u32)
    }

    /// A stream to write an attachment into.
    pub fn upload(&self, id: u64) -> WritableStream<Bytes> {
        let _ = id;
        let (writer, reader) = capnweb::pipe::<Bytes>();
        drop(reader);
        writer
    }

    pub fn attachment(&self, id: u64) -> Option<Bytes> {
        let _ = id;
        None
    }

    pub fn export_file(&self) -> Blob {
        Blob::new("text/plain", Vec::new())
    }

    /// Bytes stored, all time.
    pub fn total_bytes(&self) -> BigInt {
        BigInt::from(0u64)
    }

    /// The server's version.
    #[rpc(property)]
    pub fn version(&self) -> String {
        "1.0".into()
    }
}

/// One user's view.
pub struct Session {
    user: String,
}

#[rpc_target]
impl Session {
    pub fn whoami(&self) -> String {
        self.user.clone()
    }

    /// Back to the list (a target that refers to the one that returned it).
    pub fn api(&self) -> ApiStub {
        ApiStub::new(Api::new())
    }
}

/// What a client implements to hear about changes.
#[rpc_target]
pub trait Listener {
    /// One change, as it happens.
    async fn on_change(&self, change: Change);
    /// How many changes it has seen.
    fn seen(&self) -> u32;
}
