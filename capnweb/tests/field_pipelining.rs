//! `#[derive(PipelineFields)]` at run time, between two sessions over the in-memory transport:
//! a field of a promised struct passed to another call (one round trip, counted on the wire),
//! read on its own, through serde's `rename`/`rename_all`/`skip`, inside `.map()`, and as a
//! stub to pipeline calls on. The tables are back to the main entries after each scenario.

mod common;

use std::sync::Mutex;

use capnweb::{rpc_target, PipelineFields, RpcPromise, Stub, Value};
use common::{connect, Dir, Pair};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PipelineFields)]
pub struct Todo {
    pub id: u64,
    pub title: String,
    pub done: bool,
}

/// Wire names as serde writes them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, PipelineFields)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub user_id: u64,
    #[serde(rename = "displayName")]
    pub name: String,
    #[serde(rename(serialize = "E-Mail", deserialize = "E-Mail"))]
    pub email: Option<String>,
    #[serde(skip)]
    pub cached: bool,
}

/// A struct holding a stub and a generic one.
#[derive(Debug, Serialize, Deserialize, PipelineFields)]
pub struct Welcome<T> {
    pub session: SessionStub,
    pub motd: T,
}

#[derive(Debug, Default)]
pub struct Api {
    todos: Mutex<Vec<Todo>>,
}

#[rpc_target]
impl Api {
    pub fn add(&self, title: String) -> Todo {
        let mut todos = self.todos.lock().unwrap();
        let todo = Todo {
            id: todos.len() as u64 + 1,
            title,
            done: false,
        };
        todos.push(todo.clone());
        todo
    }

    pub fn complete(&self, id: u64) -> Result<Todo, capnweb::RpcError> {
        let mut todos = self.todos.lock().unwrap();
        let todo = todos
            .iter_mut()
            .find(|t| t.id == id)
            .ok_or_else(|| capnweb::RpcError::range_error(format!("no to-do {id}")))?;
        todo.done = true;
        Ok(todo.clone())
    }

    pub fn list(&self) -> Vec<Todo> {
        self.todos.lock().unwrap().clone()
    }

    pub fn profile(&self) -> Profile {
        Profile {
            user_id: 7,
            name: "Ada".into(),
            email: Some("ada@example.com".into()),
            cached: true,
        }
    }

    pub fn greet(&self, name: String) -> String {
        format!("hello, {name}")
    }

    pub fn login(&self, user: String) -> Welcome<String> {
        Welcome {
            session: SessionStub::new(Session { user }),
            motd: "welcome".into(),
        }
    }
}

#[derive(Debug)]
pub struct Session {
    user: String,
}

#[rpc_target]
impl Session {
    pub fn whoami(&self) -> String {
        self.user.clone()
    }
}

fn setup() -> (Pair, ApiStub) {
    let pair = connect(Stub::from(ApiStub::new(Api::default())));
    let api: ApiStub = pair.client.main_as();
    (pair, api)
}

/// Of the messages from `start` on: the client's pushes sent before the server's first
/// answer, the pushes sent after it, and the pulls. `(n, 0, 1)` is one round trip.
fn one_exchange(pair: &Pair, start: usize) -> (usize, usize, usize) {
    let messages = &pair.messages()[start..];
    let first_answer = messages
        .iter()
        .position(|(d, _)| *d == Dir::S2C)
        .unwrap_or(messages.len());
    let pushes = |part: &[(Dir, String)]| {
        part.iter()
            .filter(|(d, m)| *d == Dir::C2S && m.starts_with(r#"["push""#))
            .count()
    };
    let pulls = messages
        .iter()
        .filter(|(d, m)| *d == Dir::C2S && m.starts_with(r#"["pull""#))
        .count();
    (
        pushes(&messages[..first_answer]),
        pushes(&messages[first_answer..]),
        pulls,
    )
}

/// How many client messages were sent in all.
fn client_messages(pair: &Pair) -> usize {
    pair.messages()
        .iter()
        .filter(|(d, _)| *d == Dir::C2S)
        .count()
}

#[tokio::test]
async fn a_field_as_an_argument_is_one_round_trip() {
    let (pair, api) = setup();
    let added = api.add("milk");
    let completed = api.complete(added.fields().id());
    assert_eq!(
        completed.await.unwrap(),
        Todo {
            id: 1,
            title: "milk".into(),
            done: true
        }
    );
    // `add`, then `complete` referring to the field of its result: both sent before any answer.
    assert_eq!(pair.pushes_before_any_answer(), 2, "{}", pair.transcript());
    assert!(
        pair.transcript()
            .contains(r#"["push",["pipeline",0,["complete"],[["pipeline",1,["id"]]]]]"#),
        "the field travels as a pipelined path:\n{}",
        pair.transcript()
    );
    drop((added, api));
    pair.assert_settled().await;
}

#[tokio::test]
async fn a_field_is_read_alone_and_lazily() {
    let (pair, api) = setup();
    let added = api.add("bread");
    let before = client_messages(&pair);
    let fields = added.fields();
    let title = fields.title();
    let done = fields.done();
    assert_eq!(
        client_messages(&pair),
        before,
        "taking a field sends nothing"
    );
    assert_eq!(title.await.unwrap(), "bread");
    assert!(!done.await.unwrap());
    assert_eq!(added.await.unwrap().id, 1);
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn wire_names_follow_serde() {
    let (pair, api) = setup();
    let profile = api.profile();
    let fields = profile.fields();
    assert_eq!(fields.user_id().await.unwrap(), 7);
    assert_eq!(fields.name().await.unwrap(), "Ada");
    assert_eq!(
        fields.email().await.unwrap().as_deref(),
        Some("ada@example.com")
    );
    // The names the methods read are the ones on the wire.
    let untyped = RpcPromise::untyped(api.profile()).await.unwrap();
    let Value::Object(object) = untyped else {
        panic!("an object: {untyped:?}")
    };
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["E-Mail", "displayName", "userId"]);
    let transcript = pair.transcript();
    for path in [r#"["userId"]"#, r#"["displayName"]"#, r#"["E-Mail"]"#] {
        assert!(transcript.contains(path), "{path} in\n{transcript}");
    }
    drop((fields, profile, api));
    pair.assert_settled().await;
}

#[tokio::test]
async fn fields_inside_map() {
    let (pair, api) = setup();
    for title in ["a", "b", "c"] {
        api.add(title).await.unwrap();
    }
    let start = pair.messages().len();
    let titles = api.list().map(|todo| todo.fields().title());
    assert_eq!(titles.await.unwrap(), ["a", "b", "c"]);
    // `list` and the recorded mapper: two pushes, one pull, nothing sent after the answer.
    assert_eq!(
        one_exchange(&pair, start),
        (2, 0, 1),
        "{}",
        pair.transcript()
    );

    // The mapper passes each element's field to another call: still one round trip.
    let start = pair.messages().len();
    let completed = api
        .list()
        .map(|todo| api.complete(todo.fields().id()))
        .await
        .unwrap();
    assert!(completed.iter().all(|t| t.done), "{completed:?}");
    assert_eq!(
        completed.iter().map(|t| t.id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        one_exchange(&pair, start),
        (2, 0, 1),
        "{}",
        pair.transcript()
    );
    assert!(
        pair.transcript()
            .contains(r#"["pipeline",-1,["complete"],[["pipeline",0,["id"]]]]"#),
        "the mapper calls `complete` with the element's `id`:\n{}",
        pair.transcript()
    );
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn a_stub_field_pipelines_calls() {
    let (pair, api) = setup();
    let welcome = api.login("ada");
    // `session()` is an `RpcPromise<SessionStub>`: it dereferences to the pipelined stub.
    let who = welcome.fields().session().whoami();
    let greeting = api.greet(welcome.fields().motd());
    assert_eq!(who.await.unwrap(), "ada");
    assert_eq!(greeting.await.unwrap(), "hello, welcome");
    // `login`, the `session` field (made a stub to call on), `whoami` on it, `greet` with the
    // other field: all sent before any answer, one round trip.
    assert_eq!(pair.pushes_before_any_answer(), 4, "{}", pair.transcript());
    drop((welcome, api));
    pair.assert_settled().await;
}

#[tokio::test]
async fn a_field_of_a_failed_call_fails() {
    let (pair, api) = setup();
    let missing = api.complete(99);
    let error = missing.fields().title().await.unwrap_err();
    assert!(error.to_string().contains("no to-do 99"), "{error}");
    let error = api.greet(missing.fields().title()).await.unwrap_err();
    assert!(error.to_string().contains("no to-do 99"), "{error}");
    drop((missing, api));
    pair.assert_settled().await;
}
