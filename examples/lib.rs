//! Shared helpers for the examples.

pub mod interop;
pub mod notes;
#[path = "streams_api.rs"]
pub mod streams;
#[path = "web/mod.rs"]
pub mod web;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Session options that count the sessions a server starts. Each HTTP batch is one POST and one
/// server-side session, so the count is the number of round trips a client made.
pub fn counting_sessions() -> (capnweb::SessionOptions, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let options = capnweb::SessionOptions::default().on_start(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    (options, count)
}
