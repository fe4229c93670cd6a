//! `RpcService` mounted in an axum router (as `examples/axum.rs` does) speaks both transports.

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use capnweb::{CallFuture, RpcService, RpcTarget, Stub, Value};

struct Doubler;

impl RpcTarget for Doubler {
    fn call(self: Arc<Self>, _method: &str, args: Vec<Value>) -> CallFuture {
        let x = args.first().and_then(Value::as_f64).unwrap_or(0.0);
        CallFuture::ready(Ok(Value::from(2.0 * x)))
    }
}

/// Fails the test if `future` takes longer than a few seconds.
async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("timed out")
}

#[tokio::test]
async fn rpc_service_under_an_axum_router_serves_websocket_and_http_batch() {
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/rpc", RpcService::new(|| Stub::new(Doubler)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let over_websocket: Stub = within(capnweb::websocket::connect(&format!("ws://{addr}/rpc")))
        .await
        .unwrap();
    let over_http: Stub = capnweb::http_batch::connect(&format!("http://{addr}/rpc"));
    let (a, b) = within(async {
        tokio::join!(
            over_websocket.call("double", vec![Value::from(4)]),
            over_http.call("double", vec![Value::from(5)])
        )
    })
    .await;
    assert_eq!(a.unwrap(), Value::from(8));
    assert_eq!(b.unwrap(), Value::from(10));
}
