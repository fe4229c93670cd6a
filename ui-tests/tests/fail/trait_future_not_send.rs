use std::future::Future;

use capnweb::rpc_target;

#[rpc_target]
pub trait Job {
    fn run(&self) -> impl Future<Output = u32>;
}

fn main() {}
