use capnweb::rpc_target;

#[rpc_target]
pub struct Api {
    value: u32,
}

#[rpc_target]
pub fn helper() {}

fn main() {}
