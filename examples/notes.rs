//! A small notes service with authentication, used by the `auth` example and its tests: each
//! user, known by a bearer token or a session cookie, gets a main object of their own, and
//! administrators have a second endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use capnweb::{rpc_target, Refusal, RequestContext, Routes, RpcError, RpcService};

/// Who a credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub admin: bool,
}

/// The notes of every user, and the credentials that name them. Outlives every session.
#[derive(Debug, Default)]
pub struct Store {
    notes: Mutex<HashMap<String, Vec<String>>>,
    /// Bearer tokens and session cookies, each naming a user.
    credentials: HashMap<String, User>,
}

impl Store {
    /// A store that knows `credentials` (token or cookie value, user).
    pub fn new(credentials: impl IntoIterator<Item = (String, User)>) -> Arc<Store> {
        Arc::new(Store {
            notes: Mutex::default(),
            credentials: credentials.into_iter().collect(),
        })
    }

    /// The user a request authenticates as: by `Authorization: Bearer <token>`, or by a
    /// `session` cookie.
    pub fn authenticate(&self, request: &RequestContext) -> Result<User, Refusal> {
        let credential = request
            .bearer_token()
            .or_else(|| request.cookie("session"))
            .ok_or_else(|| {
                Refusal::unauthorized(
                    "Sign in: send `Authorization: Bearer <token>` or a session cookie.",
                )
            })?;
        self.credentials
            .get(credential)
            .cloned()
            .ok_or_else(|| Refusal::unauthorized("That token or session is not valid."))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<String>>> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One user's view of the store: every method acts for that user only.
#[derive(Debug)]
pub struct Notes {
    store: Arc<Store>,
    user: User,
    /// Where the session came from, for `whoami`.
    request: RequestContext,
}

#[rpc_target]
impl Notes {
    /// Who the session belongs to, and how it reached the server.
    pub fn whoami(&self) -> String {
        format!(
            "{} (over {}, from {})",
            self.user.name,
            self.request.transport(),
            self.request
                .peer_addr()
                .map_or_else(|| "an unknown address".to_owned(), |a| a.ip().to_string())
        )
    }

    /// Adds a note; returns how many the user has.
    pub fn add(&self, text: String) -> Result<usize, RpcError> {
        if text.trim().is_empty() {
            return Err(RpcError::range_error("a note needs some text"));
        }
        let mut notes = self.store.lock();
        let mine = notes.entry(self.user.name.clone()).or_default();
        mine.push(text);
        Ok(mine.len())
    }

    /// The user's notes, oldest first.
    pub fn list(&self) -> Vec<String> {
        self.store
            .lock()
            .get(&self.user.name)
            .cloned()
            .unwrap_or_default()
    }
}

/// What administrators can do.
#[derive(Debug)]
pub struct Admin {
    store: Arc<Store>,
}

#[rpc_target]
impl Admin {
    /// How many notes each user has, by name.
    pub fn counts(&self) -> HashMap<String, usize> {
        let notes = self.store.lock();
        notes
            .iter()
            .map(|(user, notes)| (user.clone(), notes.len()))
            .collect()
    }
}

/// `/notes` for every signed-in user, `/admin` for administrators (403 for the others);
/// every other path is 404.
pub fn routes(store: Arc<Store>) -> Routes {
    let for_notes = Arc::clone(&store);
    let notes = RpcService::with_context(move |request: &RequestContext| {
        let user = for_notes.authenticate(request)?;
        Ok(NotesStub::new(Notes {
            store: Arc::clone(&for_notes),
            user,
            request: request.clone(),
        }))
    });
    let admin = RpcService::with_context(move |request: &RequestContext| {
        let user = store.authenticate(request)?;
        if !user.admin {
            return Err(Refusal::forbidden(format!(
                "{} is not an administrator.",
                user.name
            )));
        }
        Ok(AdminStub::new(Admin {
            store: Arc::clone(&store),
        }))
    });
    Routes::new().route("/notes", notes).route("/admin", admin)
}

/// The credentials the example and its tests use.
pub fn demo_store() -> Arc<Store> {
    let user = |name: &str, admin| User {
        name: name.into(),
        admin,
    };
    Store::new([
        ("alice-token".to_owned(), user("alice", false)),
        ("bob-token".to_owned(), user("bob", false)),
        ("root-token".to_owned(), user("root", true)),
        ("alice-cookie".to_owned(), user("alice", false)),
    ])
}
