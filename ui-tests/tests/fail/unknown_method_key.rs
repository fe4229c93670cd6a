use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    #[rpc(rename = "fetch")]
    pub fn get(&self) -> u32 {
        1
    }

    #[rpc(skip = true)]
    pub fn other(&self) -> u32 {
        2
    }
}

fn main() {}
