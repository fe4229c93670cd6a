use capnweb::rpc_target;

pub struct Registry;

#[rpc_target]
impl Registry {
    pub fn new(&self, name: String) -> u32 {
        name.len() as u32
    }

    #[rpc(name = "cloneEntry")]
    pub fn clone(&self) -> u32 {
        0
    }
}

fn main() {}
