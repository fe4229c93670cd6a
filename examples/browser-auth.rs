//! Authentication a browser can use, both ways, on loopback, with the JavaScript a page would
//! run beside each step:
//!
//! 1. In-band (recommended): the main object has one method, `authenticate(token)`, returning
//!    the authorised stub. The call on it is pipelined: one round trip (over HTTP batch, one
//!    POST) for `authenticate(token).whoami()`.
//! 2. A token offered as a WebSocket subprotocol, `["capnweb.bearer", token]`, for a server
//!    that must know the user before the session starts: the factory reads it and accepts
//!    `capnweb.bearer`, which the 101 names (never the token). A wrong token is refused before
//!    the upgrade; a page sees that only as a failed connection.
//!
//! ```text
//! cargo run --example browser-auth
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use capnweb::{
    http_batch, rpc_target, websocket, Refusal, RequestContext, Routes, RpcError, RpcService,
    Server,
};

/// The users and their tokens. (Tokens a browser offers as a subprotocol must be HTTP tokens:
/// base64url without padding, or hex.)
fn user_of(token: &str) -> Option<&'static str> {
    match token {
        "YWxpY2U_token-1" => Some("alice"),
        "Ym9i_token-2" => Some("bob"),
        _ => None,
    }
}

/// What a caller without a token can reach: nothing but `authenticate`.
pub struct Login;

#[rpc_target]
impl Login {
    /// The authorised stub for `token`'s user.
    pub async fn authenticate(&self, token: String) -> Result<NotesStub, RpcError> {
        match user_of(&token) {
            Some(user) => Ok(NotesStub::new(Notes { user })),
            None => Err(RpcError::error("That token is not valid: log in again.")),
        }
    }
}

/// One user's API: the capability `authenticate` hands out.
pub struct Notes {
    user: &'static str,
}

#[rpc_target]
impl Notes {
    pub fn whoami(&self) -> String {
        self.user.to_owned()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Counts the sessions `/login` opens: an HTTP batch session is one POST.
    let login_sessions = Arc::new(AtomicUsize::new(0));
    let counter = login_sessions.clone();
    let login = RpcService::with_context(move |_request: &RequestContext| {
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(LoginStub::new(Login))
    })
    // Nothing is read from the request: the token is the credential, so any page may call.
    .allow_any_origin();
    let notes = RpcService::with_context(|request: &RequestContext| {
        // A browser offers ["capnweb.bearer", token]; a program may send Authorization.
        let token = request.bearer_subprotocol().or(request.bearer_token());
        let user = token.and_then(user_of).ok_or_else(|| {
            Refusal::unauthorized("Offer the subprotocols capnweb.bearer and your token.")
        })?;
        // Name `capnweb.bearer` in the 101, or the browser fails the connection.
        request.accept_subprotocol(RequestContext::BEARER_SUBPROTOCOL);
        Ok(NotesStub::new(Notes { user }))
    });
    let server = Server::bind("127.0.0.1:0").await?;
    let addr = server.local_addr();
    tokio::spawn(server.serve(Routes::new().route("/login", login).route("/notes", notes)));
    println!("serving on {addr}: /login (in-band) and /notes (a token as a subprotocol)");

    println!("\n1. In-band: authenticate(token) returns the authorised stub, pipelined.");
    println!("   JS: const notes = newWebSocketRpcSession(url).authenticate(token);");
    println!("       await notes.whoami();");
    let login: LoginStub = websocket::connect(&format!("ws://{addr}/login")).await?;
    let alice = login
        .authenticate("YWxpY2U_token-1".to_owned())
        .whoami()
        .await?;
    println!("   over WebSocket: whoami -> {alice}");
    let batch: LoginStub = http_batch::connect(&format!("http://{addr}/login"));
    let before = login_sessions.load(Ordering::Relaxed);
    let bob = batch
        .authenticate("Ym9i_token-2".to_owned())
        .whoami()
        .await?;
    let posts = login_sessions.load(Ordering::Relaxed) - before;
    println!("   over HTTP batch: whoami -> {bob}, in {posts} POST");
    let refused = login
        .authenticate("guess".to_owned())
        .whoami()
        .await
        .unwrap_err();
    println!("   a wrong token: {refused}");

    println!("\n2. A token offered as a WebSocket subprotocol.");
    println!("   JS: new WebSocket(url, [\"capnweb.bearer\", token])");
    let notes: NotesStub = websocket::builder(format!("ws://{addr}/notes"))
        .bearer_subprotocol("YWxpY2U_token-1")
        .connect_main()
        .await?;
    println!(
        "   accepted (the 101 names capnweb.bearer): whoami -> {}",
        notes.whoami().await?
    );
    let wrong = websocket::builder(format!("ws://{addr}/notes"))
        .bearer_subprotocol("guess")
        .connect()
        .await
        .map(|_| ())
        .unwrap_err();
    println!("   a wrong token, refused before the upgrade: {wrong}");
    println!("   (a page sees only a failed connection: an error event, close code 1006)");

    let expected = [
        (alice == "alice", "in-band over WebSocket"),
        (bob == "bob", "in-band over HTTP batch"),
        (posts == 1, "one POST for the pipelined calls"),
        (
            refused.to_string().contains("not valid"),
            "the in-band refusal",
        ),
        (wrong.to_string().contains("401"), "the refused upgrade"),
    ];
    for (ok, what) in expected {
        if !ok {
            return Err(format!("unexpected: {what}").into());
        }
    }
    println!("\nall as expected");
    Ok(())
}
