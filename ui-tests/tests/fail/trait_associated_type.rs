use capnweb::rpc_target;

#[rpc_target]
pub trait Source {
    type Item;

    fn next(&self) -> u32;
}

fn main() {}
