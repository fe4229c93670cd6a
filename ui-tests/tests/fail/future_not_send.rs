//! A rustc error, not the macro's: the future of an async method must be `Send`. The error
//! points at the method.
use std::rc::Rc;

use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    pub async fn count(&self) -> u32 {
        let shared = Rc::new(1);
        tokio::task::yield_now().await;
        *shared
    }
}

fn main() {}
