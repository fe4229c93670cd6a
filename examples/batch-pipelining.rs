//! Batching and pipelining: three dependent calls in one HTTP round trip, against the same
//! calls made one after the other (three round trips).
//!
//! `cargo run --example batch-pipelining`

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use capnweb::{http_batch, rpc_target, RpcError, Server};
use serde::{Deserialize, Serialize};

/// Simulated work per call on the server.
const DELAY: Duration = Duration::from_millis(20);

/// A signed-in user, returned by reference: its properties can be pipelined on.
pub struct User {
    id: String,
    name: String,
}

#[rpc_target]
impl User {
    /// The user id.
    #[rpc(property)]
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// The display name.
    #[rpc(property)]
    pub fn name(&self) -> String {
        self.name.clone()
    }
}

/// A user's profile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    /// The user id.
    pub id: String,
    /// A short biography.
    pub bio: String,
}

/// The API: authenticate, then look things up by user id.
pub struct Api;

#[rpc_target]
impl Api {
    /// The user a session token belongs to.
    pub async fn authenticate(&self, session_token: String) -> Result<UserStub, RpcError> {
        tokio::time::sleep(DELAY).await;
        let (id, name) = match session_token.as_str() {
            "cookie-123" => ("u_1", "Ada Lovelace"),
            "cookie-456" => ("u_2", "Alan Turing"),
            _ => return Err(RpcError::error("Invalid session")),
        };
        Ok(UserStub::new(User {
            id: id.into(),
            name: name.into(),
        }))
    }

    /// A user's profile.
    pub async fn get_user_profile(&self, user_id: String) -> Result<Profile, RpcError> {
        tokio::time::sleep(DELAY).await;
        let bio = match user_id.as_str() {
            "u_1" => "Mathematician & first programmer",
            "u_2" => "Mathematician & computer science pioneer",
            _ => return Err(RpcError::error(format!("No such user: {user_id}"))),
        };
        Ok(Profile {
            id: user_id,
            bio: bio.into(),
        })
    }

    /// A user's notifications.
    pub async fn get_notifications(&self, user_id: String) -> Vec<String> {
        tokio::time::sleep(DELAY).await;
        match user_id.as_str() {
            "u_1" => vec![
                "Welcome to Cap'n Web!".into(),
                "You have 2 new followers".into(),
            ],
            _ => vec!["New feature: pipelining!".into()],
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), capnweb::Error> {
    // Every HTTP batch is one POST and one server-side session: count the sessions.
    let (options, posts) = capnweb_examples::counting_sessions();
    let server = Server::bind("127.0.0.1:0").await?.options(options);
    let url = format!("http://{}/", server.local_addr());
    tokio::spawn(server.serve(|| ApiStub::new(Api)));

    println!("--- pipelined: three dependent calls, one batch ---");
    let started = Instant::now();
    let api: ApiStub = http_batch::connect(&url);
    let user = api.authenticate("cookie-123");
    // `user` has not arrived; its `id` is a promise the server resolves on its side.
    let user_id = user.id();
    let profile = api.get_user_profile(&user_id);
    let notifications = api.get_notifications(&user_id);
    let (name, profile, notifications) = tokio::join!(user.name(), profile, notifications);
    let pipelined = (started.elapsed(), posts.swap(0, Ordering::SeqCst));
    println!("{}\n{:?}\n{:?}", name?, profile?, notifications?);
    println!(
        "round trips (POSTs): {}, time: {:?}",
        pipelined.1, pipelined.0
    );

    println!("--- sequential: one batch per call ---");
    let started = Instant::now();
    let api: ApiStub = http_batch::connect(&url);
    let user = api.authenticate("cookie-123");
    let (id, name) = tokio::join!(user.id(), user.name());
    let id = id?;
    let profile = http_batch::connect::<ApiStub>(&url)
        .get_user_profile(id.clone())
        .await?;
    let notifications = http_batch::connect::<ApiStub>(&url)
        .get_notifications(id)
        .await?;
    let sequential = (started.elapsed(), posts.swap(0, Ordering::SeqCst));
    println!("{}\n{profile:?}\n{notifications:?}", name?);
    println!(
        "round trips (POSTs): {}, time: {:?}",
        sequential.1, sequential.0
    );

    println!("--- summary ---");
    println!(
        "pipelined: {} round trip, sequential: {} round trips",
        pipelined.1, sequential.1
    );
    Ok(())
}
