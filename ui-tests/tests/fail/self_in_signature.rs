use capnweb::rpc_target;

#[derive(Clone)]
pub struct Api;

#[rpc_target]
impl Api {
    pub fn duplicate(&self) -> Self {
        self.clone()
    }
}

fn main() {}
