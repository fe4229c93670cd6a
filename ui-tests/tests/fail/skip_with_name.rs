use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    #[rpc(skip, name = "hidden")]
    pub fn hidden(&self) -> u32 {
        1
    }

    #[rpc]
    pub fn bare(&self) -> u32 {
        2
    }
}

fn main() {}
