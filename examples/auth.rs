//! A production-shaped server and its clients, on loopback: TLS with a certificate made at
//! start, bearer-token and cookie auth that hands each user their own main object, two routes
//! (`/notes`, `/admin`), an interceptor that logs and times every call, a handler deadline,
//! and clients built with headers, TLS roots and a per-call timeout, over both transports.
//!
//! ```text
//! cargo run --example auth
//! ```

use std::time::Duration;

use capnweb::intercept::{CallInfo, Interceptor};
use capnweb::tls::{ClientTls, ServerTls};
use capnweb::{http_batch, websocket, Error, RpcError, RpcPromise, Server, SessionOptions, Value};
use capnweb_examples::notes::{demo_store, routes, AdminStub, NotesStub};

/// Logs every call the server handles, with its outcome and how long it took.
struct CallLog;

impl Interceptor for CallLog {
    fn before(&self, call: &CallInfo) -> Result<(), RpcError> {
        let who = call
            .context()
            .and_then(|request| request.bearer_token().map(str::to_owned))
            .unwrap_or_else(|| "a cookie".to_owned());
        println!(
            "  [server] {}.{} by {who}",
            call.target_type(),
            call.method()
        );
        Ok(())
    }

    fn after(&self, call: &CallInfo, outcome: Result<&Value, &RpcError>, elapsed: Duration) {
        let outcome = match outcome {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("{}: {}", e.name, e.message),
        };
        println!(
            "  [server] {}.{} -> {outcome} in {} µs",
            call.target_type(),
            call.method(),
            elapsed.as_micros()
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A self-signed certificate for this run; in production, your certificate chain and key.
    let certificate = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let cert_pem = certificate.cert.pem();
    let key_pem = certificate.signing_key.serialize_pem();

    let options = SessionOptions::default()
        .interceptor(CallLog)
        .handler_timeout(Duration::from_secs(5));
    let server = Server::bind("127.0.0.1:0")
        .await?
        .tls(ServerTls::from_pem(&cert_pem, &key_pem)?)
        .options(options);
    let port = server.local_addr().port();
    tokio::spawn(server.serve(routes(demo_store())));
    println!("serving https:// and wss:// on localhost:{port}, paths /notes and /admin");

    // Clients trust this run's certificate only (without `.tls(...)`, the Mozilla roots).
    let tls = ClientTls::without_built_in_roots().add_root_pem(&cert_pem)?;
    let wss = |path: &str| format!("wss://localhost:{port}{path}");

    println!("\n1. A wrong token is refused before the WebSocket upgrade:");
    let wrong_token = websocket::builder(wss("/notes"))
        .bearer_token("nobody-token")
        .tls(tls.clone())
        .connect()
        .await
        .map(|_| ())
        .unwrap_err();
    println!("  {wrong_token}");

    println!("\n2. Alice, over WebSocket, with a connect timeout and a call deadline:");
    let alice: NotesStub = websocket::builder(wss("/notes"))
        .bearer_token("alice-token")
        .connect_timeout(Duration::from_secs(5))
        .options(SessionOptions::default().call_timeout(Duration::from_secs(10)))
        .tls(tls.clone())
        .connect_main()
        .await?;
    println!("  whoami: {}", alice.whoami().await?);
    alice.add("buy milk").await?;
    let count = RpcPromise::timeout(alice.add("call Bob"), Duration::from_secs(2)).await?;
    println!("  alice has {count} notes: {:?}", alice.list().await?);
    let empty_note = alice.add("   ").await.unwrap_err();
    println!("  an empty note: {empty_note}");

    println!("\n3. Bob, over HTTP batch (https://): his own notes, not Alice's:");
    let bob = http_batch::builder(format!("https://localhost:{port}/notes"))
        .bearer_token("bob-token")
        .tls(tls.clone())
        .build()?;
    let bob_api: NotesStub = bob.main();
    // Both calls travel in one POST.
    let (added, notes) = tokio::join!(bob_api.add("fix the bike"), bob_api.list());
    println!("  bob added one ({}), and sees {:?}", added?, notes?);

    println!("\n4. A session cookie works too:");
    let by_cookie: NotesStub = http_batch::builder(format!("https://localhost:{port}/notes"))
        .header("cookie", "theme=dark; session=alice-cookie")
        .tls(tls.clone())
        .build()?
        .main();
    println!("  whoami: {}", by_cookie.whoami().await?);

    println!("\n5. /admin is for administrators; others get 403:");
    let not_admin = websocket::builder(wss("/admin"))
        .bearer_token("alice-token")
        .tls(tls.clone())
        .connect()
        .await
        .map(|_| ())
        .unwrap_err();
    println!("  alice: {not_admin}");
    let admin: AdminStub = websocket::builder(wss("/admin"))
        .bearer_token("root-token")
        .tls(tls.clone())
        .connect_main()
        .await?;
    let mut counts: Vec<_> = admin.counts().await?.into_iter().collect();
    counts.sort();
    println!("  root: notes per user {counts:?}");

    println!("\n6. Any other path is 404:");
    let missing = websocket::builder(wss("/nope"))
        .tls(tls)
        .connect()
        .await
        .map(|_| ())
        .unwrap_err();
    println!("  {missing}");

    check(&[
        (&wrong_token, "401"),
        (&empty_note, "RangeError"),
        (&not_admin, "403"),
        (&missing, "404"),
    ])?;
    println!("\nall as expected");
    Ok(())
}

/// The demo's refusals are what it says they are (so a broken build does not print a happy end).
fn check(cases: &[(&Error, &str)]) -> Result<(), String> {
    for (error, fragment) in cases {
        if !error.to_string().contains(fragment) {
            return Err(format!("expected {fragment:?} in: {error}"));
        }
    }
    Ok(())
}
