//! The opt-in descriptor endpoint (`RpcService::describe`) and its client
//! (`capnweb::http_batch::describe`): a GET of the API's path asking for JSON answers with every
//! target reachable from the main one and the user types they mention; without `describe`
//! that GET is refused as before; the origin policy applies.

#[path = "typescript/api.rs"]
mod api;
mod common;

use std::net::SocketAddr;

use api::{Api, ApiStub};
use capnweb::describe::ApiDescription;
use capnweb::{Routes, RpcService};
use common::*;

/// A server whose `/rpc` serves the to-do API, described when `describe` is on.
async fn serve(describe: bool) -> SocketAddr {
    let mut service = RpcService::new(|| ApiStub::new(Api::new()));
    if describe {
        service = service.describe::<ApiStub>();
    }
    let server = capnweb::Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve(Routes::new().route("/rpc", service)));
    addr
}

/// Sends `GET /rpc` with `headers` (each `name: value`) and reads the whole answer.
async fn get(addr: SocketAddr, headers: &[&str]) -> Raw {
    raw_get(addr, "/rpc", headers).await
}

/// The names of the described targets, in order.
fn target_names(api: &ApiDescription) -> Vec<&str> {
    api.targets.iter().map(|t| t.name.as_str()).collect()
}

#[tokio::test]
async fn a_get_asking_for_json_answers_with_the_description() {
    let addr = serve(true).await;
    let answer = get(addr, &["accept: application/json"]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        header(&answer.head, "content-type"),
        Some("application/json")
    );
    let json: serde_json::Value = serde_json::from_str(&answer.body).unwrap();

    // The main object first, with its members by wire name, docs and types.
    let root = &json["targets"][0];
    assert_eq!(root["name"], "Api");
    assert!(root["docs"]
        .as_str()
        .unwrap()
        .starts_with("A shared to-do list."));
    let add = &root["members"][0];
    assert_eq!(add["name"], "add");
    assert_eq!(add["kind"], "method");
    assert_eq!(add["params"][0]["name"], "title");
    assert_eq!(add["params"][0]["ty"]["typescript"], "string");
    assert_eq!(add["params"][1]["ty"]["nullable"], true);
    assert_eq!(add["result"]["typescript"], "Todo");
    let version = root["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "version")
        .unwrap();
    assert_eq!(version["kind"], "property");

    // A target it returns and a callback trait it takes, each once, after it.
    let api: ApiDescription = serde_json::from_value(json.clone()).unwrap();
    let names = target_names(&api);
    assert_eq!(names[0], "Api");
    assert!(names.contains(&"Session"), "{names:?}");
    assert!(names.contains(&"Listener"), "{names:?}");
    assert_eq!(names.len(), 3, "{names:?}");
    let listener = api.target("Listener").unwrap();
    assert!(!listener.members.is_empty());

    // The user types, declared in TypeScript; the targets are not among them.
    let todo = api.types.iter().find(|t| t.name == "Todo").unwrap();
    assert!(
        todo.typescript
            .contains("type Todo = { id: number, title: string"),
        "{}",
        todo.typescript
    );
    assert!(
        todo.typescript
            .starts_with("/**\n * A to-do item.\n */\ntype Todo"),
        "{}",
        todo.typescript
    );
    assert!(api.types.iter().any(|t| t.name == "Priority"));
    assert!(!api
        .types
        .iter()
        .any(|t| t.name == "Api" || t.name == "Session"));

    // The same as the library's own description, in the same order every time.
    assert_eq!(api, capnweb::describe::describe_all::<ApiStub>());
}

#[tokio::test]
async fn without_describe_a_get_is_refused_as_before() {
    let addr = serve(false).await;
    let answer = get(addr, &["accept: application/json"]).await;
    assert_eq!(answer.status, 405, "{}", answer.body);
}

#[tokio::test]
async fn a_get_not_asking_for_json_is_refused_as_before() {
    let addr = serve(true).await;
    for accept in [
        None,
        Some("accept: text/html, */*;q=0.8"),
        Some("accept: application/json;q=0"),
    ] {
        let answer = get(addr, accept.as_slice()).await;
        assert_eq!(answer.status, 405, "{accept:?}: {}", answer.body);
    }
}

#[tokio::test]
async fn the_origin_policy_applies() {
    let addr = serve(true).await;
    let foreign = get(
        addr,
        &["accept: application/json", "origin: https://evil.example"],
    )
    .await;
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    assert!(!foreign.body.contains("\"targets\""), "{}", foreign.body);

    let own_origin = format!("origin: http://{addr}");
    let own = get(addr, &["accept: application/json", &own_origin]).await;
    assert_eq!(own.status, 200, "{}", own.body);
}

#[tokio::test]
async fn an_allowed_origin_can_read_it() {
    let service = RpcService::new(|| ApiStub::new(Api::new()))
        .describe::<ApiStub>()
        .allow_origin("https://app.example");
    let server = capnweb::Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve(service));
    let answer = get(
        addr,
        &["accept: application/json", "origin: https://app.example"],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        header(&answer.head, "access-control-allow-origin"),
        Some("https://app.example")
    );
}

#[tokio::test]
async fn a_fallback_service_still_gets_the_other_gets() {
    // A plain page at every request that is not Cap'n Web's.
    let page = tower_service_fn();
    let service = RpcService::new(|| ApiStub::new(Api::new())).describe::<ApiStub>();
    let server = capnweb::Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve(Routes::new().route("/rpc", service).fallback_service(page)));
    let described = get(addr, &["accept: application/json"]).await;
    assert_eq!(described.status, 200, "{}", described.body);
    assert!(described.body.contains("\"targets\""));
    let page = get(addr, &["accept: text/html"]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body, "<h1>hello</h1>");
}

/// A tower service answering every request with the same page.
fn tower_service_fn() -> Page {
    Page
}

#[derive(Clone)]
struct Page;

impl tower_service::Service<http::Request<capnweb::Body>> for Page {
    type Response = http::Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<http::Response<String>, std::convert::Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::convert::Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<capnweb::Body>) -> Self::Future {
        std::future::ready(Ok(http::Response::new("<h1>hello</h1>".to_owned())))
    }
}

#[tokio::test]
async fn fetch_reads_the_description() {
    let addr = serve(true).await;
    for url in [format!("http://{addr}/rpc"), format!("ws://{addr}/rpc")] {
        let api = within("the description", capnweb::http_batch::describe(&url))
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(api, capnweb::describe::describe_all::<ApiStub>());
        assert_eq!(api.root().map(|root| root.name.as_str()), Some("Api"));
    }
}

#[tokio::test]
async fn fetch_from_a_server_without_describe_says_so() {
    let addr = serve(false).await;
    for path in ["/rpc", "/nowhere"] {
        let error = within(
            "the description",
            capnweb::http_batch::describe(&format!("http://{addr}{path}")),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("this server does not describe itself (it is not a capnweb server with .describe on, or describing is off)"),
            "{path}: {error}"
        );
    }
}

#[tokio::test]
async fn fetch_reports_another_status_with_its_body() {
    let addr = serve(true).await;
    let client = capnweb::http_batch::ClientBuilder::new(format!("http://{addr}/rpc"))
        .header("origin", "https://evil.example")
        .build()
        .unwrap();
    let error = within("the description", client.describe())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("403"), "{error}");
    assert!(error.contains("origin"), "{error}");
}

#[test]
fn the_description_is_the_same_json_back() {
    let api = capnweb::describe::describe_all::<ApiStub>();
    let json = serde_json::to_string(&api).unwrap();
    let back: ApiDescription = serde_json::from_str(&json).unwrap();
    assert_eq!(back, api);
}

#[test]
fn the_client_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let fetching = capnweb::http_batch::describe("http://127.0.0.1:9/");
    send(&fetching);
    let client = capnweb::http_batch::ClientBuilder::new("http://127.0.0.1:9/")
        .build()
        .unwrap();
    send(&client.describe());
}
