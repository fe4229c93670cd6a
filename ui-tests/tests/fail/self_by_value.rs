use capnweb::rpc_target;

pub struct Session;

#[rpc_target]
impl Session {
    pub fn close(self) -> bool {
        true
    }
}

fn main() {}
