//! Request context, authentication and routing on a real `Server`: the main-object factory sees
//! the request, refuses with 401/403 before any WebSocket upgrade, and hands each user their
//! own main object; unknown paths get 404 over both transports.

mod common;

use std::net::SocketAddr;

use bytes::Bytes;
use capnweb::{SessionOptions, Stub, Value};
use capnweb_examples::notes::{demo_store, routes, AdminStub, NotesStub};
use common::*;
use http_body_util::Full;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

async fn start() -> SocketAddr {
    let server = capnweb::Server::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.serve(routes(demo_store())));
    addr
}

/// Opens a WebSocket session at `path` with extra `headers`: the session, or the HTTP status
/// the server refused the upgrade with.
async fn websocket(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, &str)],
) -> Result<capnweb::Session, (u16, String)> {
    let mut request = format!("ws://{addr}{path}").into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    match within(
        "a WebSocket handshake",
        tokio_tungstenite::connect_async(request),
    )
    .await
    {
        Ok((ws, _)) => Ok(capnweb::websocket::accept_stream(
            ws,
            None,
            SessionOptions::default(),
        )),
        Err(WsError::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((response.status().as_u16(), body))
        }
        Err(e) => panic!("the handshake failed without an HTTP answer: {e}"),
    }
}

/// Sends one HTTP batch calling `method` on the main object, with extra `headers`.
async fn batch(addr: SocketAddr, path: &str, method: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = http::Request::post(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = format!("[\"push\",[\"pipeline\",0,[\"{method}\"],[]]]\n[\"pull\",1]");
    send(request.body(Full::new(Bytes::from(body))).unwrap()).await
}

#[tokio::test]
async fn a_wrong_or_missing_token_gets_401_over_both_transports() {
    let addr = start().await;
    for headers in [vec![("authorization", "Bearer wrong")], vec![]] {
        let (status, body) = websocket(addr, "/notes", &headers).await.unwrap_err();
        assert_eq!(status, 401, "{body}");
        let answer = batch(addr, "/notes", "whoami", &headers).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
    }
    let answer = batch(
        addr,
        "/notes",
        "whoami",
        &[("authorization", "Bearer wrong")],
    )
    .await;
    assert!(answer.body.contains("not valid"), "{}", answer.body);
}

#[tokio::test]
async fn a_right_token_gets_that_users_own_data_over_both_transports() {
    let addr = start().await;
    let alice = websocket(addr, "/notes", &[("authorization", "Bearer alice-token")])
        .await
        .unwrap();
    let alice: NotesStub = alice.main_as();
    let bob = websocket(addr, "/notes", &[("authorization", "Bearer bob-token")])
        .await
        .unwrap();
    let bob: NotesStub = bob.main_as();
    assert_eq!(
        within("a call", alice.add("alice's first")).await.unwrap(),
        1
    );
    assert_eq!(within("a call", bob.add("bob's first")).await.unwrap(), 1);
    assert_eq!(
        within("a call", alice.add("alice's second")).await.unwrap(),
        2
    );
    assert_eq!(
        within("a call", alice.list()).await.unwrap(),
        ["alice's first", "alice's second"]
    );
    assert_eq!(within("a call", bob.list()).await.unwrap(), ["bob's first"]);
    // The context reaches the methods: the transport and the client's address.
    assert_eq!(
        within("a call", alice.whoami()).await.unwrap(),
        "alice (over websocket, from 127.0.0.1)"
    );
    // HTTP batch, authenticated by a cookie this time.
    let answer = batch(
        addr,
        "/notes",
        "whoami",
        &[("cookie", "theme=dark; session=alice-cookie")],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        r#"["resolve",1,"alice (over http-batch, from 127.0.0.1)"]"#
    );
}

#[tokio::test]
async fn a_known_user_without_the_right_gets_403_and_an_administrator_gets_in() {
    let addr = start().await;
    let (status, body) = websocket(addr, "/admin", &[("authorization", "Bearer alice-token")])
        .await
        .unwrap_err();
    assert_eq!(status, 403);
    assert!(body.contains("alice is not an administrator"), "{body}");
    let answer = batch(
        addr,
        "/admin",
        "counts",
        &[("authorization", "Bearer bob-token")],
    )
    .await;
    assert_eq!(answer.status, 403);

    let alice: NotesStub = websocket(addr, "/notes", &[("authorization", "Bearer alice-token")])
        .await
        .unwrap()
        .main_as();
    within("a call", alice.add("a note")).await.unwrap();
    let root: AdminStub = websocket(addr, "/admin", &[("authorization", "Bearer root-token")])
        .await
        .unwrap()
        .main_as();
    let counts = within("a call", root.counts()).await.unwrap();
    assert_eq!(counts.get("alice"), Some(&1));
}

#[tokio::test]
async fn an_unknown_path_gets_404_over_both_transports() {
    let addr = start().await;
    let token = [("authorization", "Bearer alice-token")];
    let (status, body) = websocket(addr, "/nowhere", &token).await.unwrap_err();
    assert_eq!(status, 404);
    assert!(body.contains("/admin, /notes"), "{body}");
    let answer = batch(addr, "/nowhere", "whoami", &token).await;
    assert_eq!(answer.status, 404);
    // Paths match exactly.
    assert_eq!(batch(addr, "/notes/", "whoami", &token).await.status, 404);
}

#[tokio::test]
async fn the_session_and_the_interceptor_see_the_request() {
    use std::sync::{Arc, Mutex};

    use capnweb::intercept::{CallInfo, Interceptor};
    use capnweb::{RequestContext, RpcError, RpcService};

    #[derive(Default, Clone)]
    struct Seen(Arc<Mutex<Vec<String>>>);
    impl Interceptor for Seen {
        fn before(&self, call: &CallInfo) -> Result<(), RpcError> {
            let context = call.context().expect("a server session has a context");
            self.0.lock().unwrap().push(format!(
                "{} {} {}",
                context.path(),
                context.header("x-request-id").unwrap_or("-"),
                call.method()
            ));
            Ok(())
        }
    }

    let seen = Seen::default();
    let paths = Arc::new(Mutex::new(Vec::new()));
    let paths_seen = Arc::clone(&paths);
    let options = SessionOptions::default()
        .interceptor(seen.clone())
        .on_start(move |session| {
            let path = session.request_context().map(|c| c.path().to_owned());
            paths_seen.lock().unwrap().push(path);
        });
    let server = capnweb::Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .options(options);
    let addr = server.local_addr();
    let service = RpcService::with_context(|request: &RequestContext| {
        let peer = request
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        Ok(Stub::from_fn(move |_args: Vec<Value>| {
            let peer = peer.clone();
            async move { Ok(Value::from(peer)) }
        }))
    });
    tokio::spawn(server.serve(service));
    let session = websocket(addr, "/rpc?x=1", &[("x-request-id", "req-7")])
        .await
        .unwrap();
    let peer = within("a call", session.main().call_self(vec![]))
        .await
        .unwrap();
    assert!(peer.as_str().unwrap().starts_with("127.0.0.1:"), "{peer:?}");
    assert_eq!(*seen.0.lock().unwrap(), ["/rpc req-7 "]);
    assert_eq!(*paths.lock().unwrap(), [Some("/rpc".to_owned())]);
}

/// The same through the client builders a user would reach for: a bearer token on each
/// transport, refused with 401 when wrong, that user's data when right.
#[tokio::test]
async fn the_client_builders_carry_the_token_over_both_transports() {
    let addr = start().await;
    let url = |scheme: &str| format!("{scheme}://{addr}/notes");

    let refused = capnweb::websocket::builder(url("ws"))
        .bearer_token("wrong")
        .connect()
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    let refused = capnweb::http_batch::builder(url("http"))
        .bearer_token("wrong")
        .build()
        .unwrap()
        .main::<NotesStub>()
        .list()
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");

    let alice: NotesStub = capnweb::websocket::builder(url("ws"))
        .bearer_token("alice-token")
        .connect_main()
        .await
        .unwrap();
    assert_eq!(within("add", alice.add("over ws")).await.unwrap(), 1);
    let bob = capnweb::http_batch::builder(url("http"))
        .bearer_token("bob-token")
        .build()
        .unwrap();
    let batch: NotesStub = bob.main();
    assert_eq!(within("add", batch.add("over http")).await.unwrap(), 1);
    // That batch is over; the error says to start another, which carries the token too.
    let over = within("list", batch.list()).await.unwrap_err();
    assert!(over.to_string().contains("start a new batch"), "{over}");
    let batch: NotesStub = bob.main();
    assert_eq!(within("list", batch.list()).await.unwrap(), ["over http"]);
    assert_eq!(within("list", alice.list()).await.unwrap(), ["over ws"]);
}
