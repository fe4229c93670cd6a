//! `.map()`: a list, and a lookup for each element of it, in one round trip.
//!
//! `cargo run --example map`

use std::sync::atomic::Ordering;

use capnweb::{http_batch, rpc_target, Server};

/// A directory of users.
pub struct Directory;

#[rpc_target]
impl Directory {
    /// The ids of every user.
    pub fn list_user_ids(&self) -> Vec<u64> {
        vec![1, 2, 3]
    }

    /// A user, by reference.
    pub fn get_user(&self, id: u64) -> UserStub {
        UserStub::new(User { id })
    }
}

/// One user.
pub struct User {
    id: u64,
}

#[rpc_target]
impl User {
    /// The user's name.
    pub fn name(&self) -> String {
        ["ada", "alan", "grace"]
            .get(self.id as usize - 1)
            .unwrap_or(&"?")
            .to_string()
    }
}

#[tokio::main]
async fn main() -> Result<(), capnweb::Error> {
    // Every HTTP batch is one POST and one server-side session: count the sessions.
    let (options, posts) = capnweb_examples::counting_sessions();
    let server = Server::bind("127.0.0.1:0").await?.options(options);
    let url = format!("http://{}/", server.local_addr());
    tokio::spawn(server.serve(|| DirectoryStub::new(Directory)));

    let api: DirectoryStub = http_batch::connect(&url);
    // The closure runs once, here, to record what to do with each id; the server runs it.
    let names = api
        .list_user_ids()
        .map(|id| api.get_user(id).name())
        .await?;
    println!("names: {names:?}");
    println!("round trips (POSTs): {}", posts.load(Ordering::SeqCst));
    Ok(())
}
