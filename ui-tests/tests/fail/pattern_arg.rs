use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    pub fn add(&self, (a, b): (i32, i32)) -> i32 {
        a + b
    }
}

fn main() {}
