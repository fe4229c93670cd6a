//! Cap'n Web mounted in an axum router: `/rpc` speaks HTTP batch (POST) and WebSocket
//! (`Upgrade: websocket`), next to an ordinary `/health` route.
//!
//! ```text
//! cargo run --example axum                  # listens on 127.0.0.1:3000 until Ctrl-C
//! cargo run --example axum -- 127.0.0.1:0   # any free port
//! curl http://127.0.0.1:3000/health
//! curl -d '["push",["pipeline",0,["greet"],["Ada"]]]
//! ["pull",1]' http://127.0.0.1:3000/rpc     # -> ["resolve",1,"Hello, Ada!"]
//! ```

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use capnweb::{CallFuture, RpcError, RpcService, RpcTarget, Stub, Value};

/// The object each session is served: one method, `greet(name)`.
struct Greeter;

impl RpcTarget for Greeter {
    fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
        let result = match method {
            "greet" => match args.first().and_then(Value::as_str) {
                Some(name) => Ok(Value::from(format!("Hello, {name}!"))),
                None => Err(RpcError::type_error("greet(name) needs a name (a string)")),
            },
            _ => Err(RpcError::type_error(format!(
                "'{method}' is not a method of Greeter"
            ))),
        };
        CallFuture::ready(result)
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/rpc", RpcService::new(|| Stub::new(Greeter)));

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::signal::ctrl_c().await.ok();
        })
        .await?;
    Ok(())
}
