//! The web app (`cargo run --example web`): a to-do list shared between users, the page and
//! its API served by one `Server`. `main.rs` runs it; `tests/tests/web_example.rs` drives it
//! in Chromium.

pub mod api;
pub mod board;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use capnweb::{Routes, ServeDir};

use api::{Login, LoginStub};
use board::Board;

/// Where the page calls the API: `ws://<the page's host>/rpc`.
pub const RPC_PATH: &str = "/rpc";

/// The page, its script and its style: `static/`, beside this file.
pub fn static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web/static")
}

/// The API at `/rpc` (each session starts at `Login`), and the page at every other path.
pub fn routes(board: Arc<Board>) -> Routes {
    Routes::new()
        .route(RPC_PATH, move || {
            LoginStub::new(Login::new(Arc::clone(&board)))
        })
        .fallback_service(ServeDir::new(static_dir()))
}
