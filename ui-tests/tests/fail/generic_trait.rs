use capnweb::rpc_target;

#[rpc_target]
pub trait Sink<T> {
    fn push(&self, item: u32);
}

fn main() {}
