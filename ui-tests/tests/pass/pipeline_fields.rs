//! `#[derive(PipelineFields)]`: a promised struct's fields, typed, by serde's wire names;
//! pipelined as arguments, inside `.map()`, through a stub field, and on a generic struct.

use capnweb::{rpc_target, PipelineFields, RpcPromise};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, PipelineFields)]
#[serde(rename_all = "camelCase")]
pub struct Todo {
    /// The to-do's id.
    pub id: u64,
    #[serde(rename = "label")]
    pub title: String,
    pub due_date: Option<String>,
    #[serde(skip)]
    pub cached: bool,
}

#[derive(Serialize, Deserialize, PipelineFields)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<u64>,
}

#[derive(Serialize, Deserialize, PipelineFields)]
pub struct Welcome {
    pub session: CounterStub,
}

pub struct Counter;

#[rpc_target]
impl Counter {
    pub fn value(&self) -> u64 {
        5
    }
}

pub struct Api;

#[rpc_target]
impl Api {
    pub fn add(&self, title: String) -> Todo {
        Todo {
            id: 1,
            title,
            due_date: None,
            cached: true,
        }
    }

    pub fn complete(&self, id: u64) -> bool {
        id == 1
    }

    pub fn page(&self) -> Page<Todo> {
        Page {
            items: vec![self.add("a".into())],
            next: Some(2),
        }
    }

    pub fn login(&self) -> Welcome {
        Welcome {
            session: CounterStub::new(Counter),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let api = ApiStub::new(Api);
    let added = api.add("milk");
    let id: RpcPromise<u64> = added.fields().id();
    assert!(api.complete(&id).await.unwrap());
    assert!(api.complete(id).await.unwrap());
    assert_eq!(added.fields().title().await.unwrap(), "milk");
    assert_eq!(added.fields().due_date().await.unwrap(), None);

    let page = api.page();
    assert_eq!(page.fields().next().await.unwrap(), Some(2));
    let ids: RpcPromise<Vec<u64>> = page.fields().items().map(|todo| todo.fields().id());
    assert_eq!(ids.await.unwrap(), [1]);

    assert_eq!(api.login().fields().session().value().await.unwrap(), 5);

    // `cast` names its target: `RpcPromise::<T>::cast`, or inferred from the binding.
    let untyped = RpcPromise::untyped(api.add("x"));
    let title = RpcPromise::<String>::cast(untyped.get("label"));
    assert_eq!(title.await.unwrap(), "x");
    let id: RpcPromise<u64> = RpcPromise::cast(untyped.get("id"));
    assert_eq!(id.await.unwrap(), 1);
}
