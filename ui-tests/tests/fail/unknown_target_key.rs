use capnweb::rpc_target;

pub struct Api;

#[rpc_target(rename = "snake_case")]
impl Api {
    pub fn get(&self) -> u32 {
        1
    }
}

fn main() {}
