use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    pub fn echo<T: serde::Serialize>(&self, value: T) -> T {
        value
    }
}

fn main() {}
