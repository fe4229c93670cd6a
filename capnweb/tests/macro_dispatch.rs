//! `#[rpc_target]`'s generated code at run time: typed stubs on both ends of two sessions over
//! the in-memory transport. Pipelining through `RpcPromise<XStub>`, promises as arguments,
//! typed `.map()`, properties, decoding errors, callbacks into a client's trait object, `Drop`
//! of targets, and the tables back to the main entries after each scenario.

mod common;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use capnweb::{rpc_target, Error, RpcError, RpcPromise, Stub, Value};
use common::{connect, Pair};

/// Set when dropped.
#[derive(Clone, Default)]
struct Flag(Arc<AtomicBool>);

impl Flag {
    fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

struct Api {
    counter_dropped: Flag,
}

#[rpc_target]
impl Api {
    /// Adds.
    pub async fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    pub fn square(&self, x: i64) -> i64 {
        x * x
    }

    pub async fn get_user(&self, id: u64) -> Result<UserStub, RpcError> {
        Ok(UserStub::new(User { id }))
    }

    pub async fn list_user_ids(&self) -> Vec<u64> {
        vec![1, 2, 3]
    }

    /// `Some(id)` for a positive id.
    pub fn maybe_id(&self, id: u64) -> Option<u64> {
        (id > 0).then_some(id)
    }

    pub fn make_counter(&self, initial: i64) -> CounterStub {
        CounterStub::new(Counter {
            value: AtomicI64::new(initial),
            dropped: self.counter_dropped.clone(),
        })
    }

    /// Calls back into a counter the caller passes.
    pub async fn increment_counter(&self, counter: CounterStub, by: i64) -> Result<i64, RpcError> {
        Ok(counter.increment(by).await?)
    }

    /// Calls back into the caller's listener.
    pub async fn notify(&self, listener: ListenerStub, text: String) -> Result<u32, RpcError> {
        listener.on_message(text).await?;
        Ok(listener.count().await?)
    }

    pub fn fail(&self, reason: String) -> Result<(), RpcError> {
        Err(RpcError::range_error(reason))
    }

    /// A list whose second id no JavaScript number can hold.
    pub fn unsafe_ids(&self) -> Vec<u64> {
        vec![1, u64::MAX]
    }

    #[rpc(property)]
    pub fn version(&self) -> String {
        "1.0".into()
    }
}

struct User {
    id: u64,
}

#[rpc_target]
impl User {
    pub fn name(&self) -> String {
        format!("user{}", self.id)
    }

    pub fn friend_ids(&self) -> Vec<u64> {
        (1..=self.id).map(|i| i * 10).collect()
    }

    #[rpc(property)]
    pub fn id(&self) -> u64 {
        self.id
    }
}

struct Counter {
    value: AtomicI64,
    dropped: Flag,
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.dropped.0.store(true, Ordering::SeqCst);
    }
}

#[rpc_target]
impl Counter {
    pub fn increment(&self, by: i64) -> i64 {
        self.value.fetch_add(by, Ordering::SeqCst) + by
    }

    #[rpc(property)]
    pub fn value(&self) -> i64 {
        self.value.load(Ordering::SeqCst)
    }
}

/// Implemented by the client, called by the server.
#[rpc_target]
pub trait Listener {
    async fn on_message(&self, text: String);
    fn count(&self) -> u32;
}

#[derive(Default)]
struct Recorder {
    messages: Mutex<Vec<String>>,
    dropped: Flag,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.dropped.0.store(true, Ordering::SeqCst);
    }
}

impl Listener for Recorder {
    async fn on_message(&self, text: String) {
        tokio::task::yield_now().await;
        self.messages.lock().unwrap().push(text);
    }

    fn count(&self) -> u32 {
        self.messages.lock().unwrap().len() as u32
    }
}

fn setup() -> (Pair, ApiStub, Flag) {
    let counter_dropped = Flag::default();
    let pair = connect(Stub::from(ApiStub::new(Api {
        counter_dropped: counter_dropped.clone(),
    })));
    let api: ApiStub = pair.client.main_as();
    (pair, api, counter_dropped)
}

fn remote(error: Error) -> RpcError {
    match error.as_remote() {
        Some(e) => e.clone(),
        None => panic!("expected a remote error, got {error}"),
    }
}

#[tokio::test]
async fn typed_calls() {
    let (pair, api, _) = setup();
    assert_eq!(api.add(2, 3).await.unwrap(), 5);
    assert_eq!(api.square(7).await.unwrap(), 49);
    assert_eq!(api.maybe_id(0).await.unwrap(), None);
    assert_eq!(api.version().await.unwrap(), "1.0");
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn a_result_that_cannot_be_sent_rejects_with_a_type_error_saying_where() {
    let (pair, api, _) = setup();
    // Written straight into the message when sent, the list fails there; the caller learns
    // why, as it did when results were converted when the method returned.
    let e = remote(api.unsafe_ids().await.unwrap_err());
    assert_eq!(e.name, "TypeError", "{e:?}");
    assert!(e.message.contains("BigInt"), "{}", e.message);
    assert!(e.message.contains("[1]"), "{}", e.message);
    // The session goes on.
    assert_eq!(api.square(3).await.unwrap(), 9);
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn pipelined_call_through_a_promised_stub_is_one_round_trip() {
    let (pair, api, _) = setup();
    let name = api.get_user(42).name().await.unwrap();
    assert_eq!(name, "user42");
    assert_eq!(pair.pushes_before_any_answer(), 2, "{}", pair.transcript());
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn a_promise_as_an_argument() {
    let (pair, api, _) = setup();
    assert_eq!(api.square(api.add(1, 2)).await.unwrap(), 9);
    assert_eq!(pair.pushes_before_any_answer(), 2, "{}", pair.transcript());
    let sum = api.add(10, 1);
    assert_eq!(api.add(&sum, &sum).await.unwrap(), 22);
    drop((sum, api));
    pair.assert_settled().await;
}

#[tokio::test]
async fn map_over_a_list_returning_a_promise() {
    let (pair, api, _) = setup();
    let names = api.list_user_ids().map(|id| api.get_user(id).name());
    assert_eq!(names.await.unwrap(), ["user1", "user2", "user3"]);
    // The list call and the mapped calls: one push, answered once.
    assert_eq!(pair.pushes_before_any_answer(), 2, "{}", pair.transcript());
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn map_over_a_list_returning_a_stub() {
    let (pair, api, _) = setup();
    let users: RpcPromise<Vec<UserStub>> =
        api.list_user_ids().map(|id| (*api.get_user(id)).clone());
    let users = users.await.unwrap();
    assert_eq!(users.len(), 3);
    assert_eq!(users[2].name().await.unwrap(), "user3");
    drop((users, api));
    pair.assert_settled().await;
}

#[tokio::test]
async fn map_over_a_list_returning_a_tuple() {
    let (pair, api, _) = setup();
    let pairs = api
        .list_user_ids()
        .map(|id| (api.get_user(&id).name(), api.get_user(id).id()));
    assert_eq!(
        pairs.await.unwrap(),
        [
            ("user1".to_owned(), 1),
            ("user2".to_owned(), 2),
            ("user3".to_owned(), 3)
        ]
    );
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn map_over_an_option() {
    let (pair, api, _) = setup();
    let some = api.maybe_id(2).map(|id| api.get_user(id).name());
    assert_eq!(some.await.unwrap(), Some("user2".to_owned()));
    let none = api.maybe_id(0).map(|id| api.get_user(id).name());
    assert_eq!(none.await.unwrap(), None);
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn nested_typed_map() {
    let (pair, api, _) = setup();
    let nested = api.list_user_ids().map(|id| {
        api.get_user(id)
            .friend_ids()
            .map(|friend| api.get_user(friend).name())
    });
    let nested: Vec<Vec<String>> = nested.await.unwrap();
    assert_eq!(
        nested,
        [
            vec!["user10"],
            vec!["user10", "user20"],
            vec!["user10", "user20", "user30"]
        ]
    );
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn property_reads() {
    let (pair, api, _) = setup();
    assert_eq!(api.version().await.unwrap(), "1.0");
    let counter = api.make_counter(5);
    assert_eq!(counter.value().await.unwrap(), 5);
    assert_eq!(counter.increment(2).await.unwrap(), 7);
    assert_eq!(counter.value().await.unwrap(), 7);
    assert_eq!(api.get_user(9).id().await.unwrap(), 9);
    // Untyped: an unknown property is `undefined`; a property is not a method.
    assert_eq!(pair.api.get("nothing").await.unwrap(), Value::Undefined);
    let error = remote(pair.api.call("version", vec![]).await.unwrap_err());
    assert_eq!(error.name, "TypeError");
    drop((counter, api));
    pair.assert_settled().await;
}

#[tokio::test]
async fn wrong_arguments_from_an_untyped_client() {
    let (pair, api, _) = setup();
    let bad_type = remote(
        pair.api
            .call("add", vec![Value::from("x")])
            .await
            .unwrap_err(),
    );
    assert_eq!(bad_type.name, "TypeError");
    assert!(bad_type.message.contains("Api.add"), "{}", bad_type.message);
    assert!(bad_type.message.contains("`a`"), "{}", bad_type.message);
    // In the protocol's words, not Rust's ("expected i64").
    assert!(
        bad_type.message.ends_with(
            "invalid type: expected an integer from -9223372036854775808 to \
             9223372036854775807, found string \"x\""
        ),
        "{}",
        bad_type.message
    );

    let missing = remote(
        pair.api
            .call("add", vec![Value::from(1)])
            .await
            .unwrap_err(),
    );
    assert_eq!(missing.name, "TypeError");
    assert!(
        missing.message.contains("missing argument `b`"),
        "{}",
        missing.message
    );

    let too_many = remote(
        pair.api
            .call("add", vec![Value::from(1), Value::from(2), Value::from(3)])
            .await
            .unwrap_err(),
    );
    assert_eq!(too_many.name, "TypeError");
    assert!(
        too_many.message.contains("Api.add takes 2 arguments"),
        "{}",
        too_many.message
    );

    let unknown = remote(pair.api.call("nope", vec![]).await.unwrap_err());
    assert_eq!(unknown.name, "TypeError");
    assert!(
        unknown.message.contains("'nope' is not a method of Api"),
        "{}",
        unknown.message
    );

    // The wire name is camelCase; the Rust name is not callable.
    let snake = remote(pair.api.call("list_user_ids", vec![]).await.unwrap_err());
    assert!(snake.message.contains("not a method"), "{}", snake.message);
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn an_error_result_arrives_as_such() {
    let (pair, api, _) = setup();
    let error = remote(api.fail("out of range").await.unwrap_err());
    assert_eq!(error.name, "RangeError");
    assert_eq!(error.message, "out of range");
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn the_server_calls_back_into_the_clients_trait_object() {
    let (pair, api, _) = setup();
    let recorder = Arc::new(Recorder::default());
    let dropped = recorder.dropped.clone();
    let listener = ListenerStub::from_arc(recorder.clone());
    assert_eq!(api.notify(&listener, "hello").await.unwrap(), 1);
    assert_eq!(api.notify(listener.clone(), "again").await.unwrap(), 2);
    assert_eq!(*recorder.messages.lock().unwrap(), ["hello", "again"]);
    drop((listener, recorder, api));
    pair.assert_settled().await;
    assert!(
        dropped.is_set(),
        "the client's listener was dropped once the server released it"
    );
}

#[tokio::test]
async fn a_local_stub_as_an_argument() {
    let (pair, api, _) = setup();
    let dropped = Flag::default();
    let counter = CounterStub::new(Counter {
        value: AtomicI64::new(1),
        dropped: dropped.clone(),
    });
    assert_eq!(api.increment_counter(&counter, 4).await.unwrap(), 5);
    assert_eq!(counter.value().await.unwrap(), 5);
    drop((counter, api));
    pair.assert_settled().await;
    assert!(dropped.is_set());
}

#[tokio::test]
async fn a_remote_target_is_dropped_when_its_last_stub_is_released() {
    let (pair, api, counter_dropped) = setup();
    let counter: CounterStub = api.make_counter(3).await.unwrap();
    let copy = counter.clone();
    assert_eq!(copy.increment(1).await.unwrap(), 4);
    drop(counter);
    assert_eq!(copy.value().await.unwrap(), 4);
    assert!(!counter_dropped.is_set(), "still referenced by a clone");
    drop(copy);
    pair.assert_settled().await;
    assert!(
        counter_dropped.is_set(),
        "released remotely, dropped on the server"
    );
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test]
async fn a_local_target_is_dropped_with_its_last_stub() {
    let dropped = Flag::default();
    let counter = CounterStub::new(Counter {
        value: AtomicI64::new(0),
        dropped: dropped.clone(),
    });
    let copy = counter.clone();
    assert_eq!(counter.increment(2).await.unwrap(), 2);
    drop(counter);
    assert!(!dropped.is_set());
    assert_eq!(copy.value().await.unwrap(), 2);
    drop(copy);
    assert!(dropped.is_set());
}

#[tokio::test]
async fn typed_stubs_convert_to_and_from_untyped_ones() {
    let (pair, api, _) = setup();
    let untyped: Stub = api.clone().into();
    assert_eq!(
        untyped
            .call("add", vec![Value::from(1), Value::from(2)])
            .await
            .unwrap(),
        Value::from(3)
    );
    let again: ApiStub = capnweb::FromStub::from_stub(untyped);
    assert_eq!(again.add(2, 2).await.unwrap(), 4);
    assert!(format!("{again:?}").starts_with("ApiStub("));
    drop((again, api));
    pair.assert_settled().await;
}

#[tokio::test]
async fn map_over_a_list_returning_a_struct_of_promises() {
    #[derive(serde::Serialize)]
    struct Pending {
        name: capnweb::RpcPromise<String>,
        id: capnweb::RpcPromise<u64>,
        friends: capnweb::RpcPromise<Vec<u64>>,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Summary {
        name: String,
        id: u64,
        friends: Vec<u64>,
    }
    let (pair, api, _) = setup();
    let summaries = api.list_user_ids().map_as::<Summary, _>(|id| {
        let user = api.get_user(id);
        Pending {
            name: user.name(),
            id: user.id(),
            friends: user.friend_ids(),
        }
    });
    assert_eq!(
        summaries.await.unwrap(),
        [
            Summary {
                name: "user1".into(),
                id: 1,
                friends: vec![10]
            },
            Summary {
                name: "user2".into(),
                id: 2,
                friends: vec![10, 20]
            },
            Summary {
                name: "user3".into(),
                id: 3,
                friends: vec![10, 20, 30]
            },
        ]
    );
    assert_eq!(
        pair.pushes_before_any_answer(),
        2,
        "the list and the map: one round trip"
    );
    drop(api);
    pair.assert_settled().await;
}

/// A target whose method names are those of `RpcPromise`'s own operations.
struct Settings;

#[rpc_target]
impl Settings {
    pub fn get(&self, key: String) -> String {
        format!("value of {key}")
    }
    pub fn call(&self, who: String) -> String {
        format!("calling {who}")
    }
    pub fn cast(&self) -> u32 {
        7
    }
    pub fn map(&self, x: u32) -> u32 {
        x * 2
    }
    pub fn as_stub(&self) -> bool {
        true
    }
}

struct Home;

#[rpc_target]
impl Home {
    pub fn settings(&self) -> SettingsStub {
        SettingsStub::new(Settings)
    }
}

#[tokio::test]
async fn a_pipelined_promise_calls_the_users_methods_whatever_their_names() {
    let pair = connect(Stub::from(HomeStub::new(Home)));
    let home: HomeStub = capnweb::FromStub::from_stub(pair.api.clone());
    let settings = home.settings();
    assert_eq!(settings.get("color").await.unwrap(), "value of color");
    assert_eq!(settings.call("home").await.unwrap(), "calling home");
    assert_eq!(settings.cast().await.unwrap(), 7);
    assert_eq!(settings.map(21).await.unwrap(), 42);
    assert!(settings.as_stub().await.unwrap());
    // The untyped operations are still there, on the untyped promise.
    let untyped = RpcPromise::untyped(home.settings());
    let read = untyped
        .call("get", vec![Value::from("size")])
        .await
        .unwrap();
    assert_eq!(read, Value::from("value of size"));
    drop((settings, untyped, home));
    pair.assert_settled().await;
}
