use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    pub fn get_user(&self) -> u32 {
        1
    }

    #[rpc(name = "getUser")]
    pub fn fetch_user(&self) -> u32 {
        2
    }

    #[rpc(property)]
    pub fn version(&self) -> u32 {
        3
    }

    #[rpc(name = "version")]
    pub fn version_number(&self) -> u32 {
        4
    }
}

fn main() {}
