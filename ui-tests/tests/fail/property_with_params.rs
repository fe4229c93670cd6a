use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    #[rpc(property)]
    pub fn item(&self, index: u32) -> u32 {
        index
    }
}

fn main() {}
