//! `.map()` records the closure once with a placeholder: formatting it can't be recorded, and
//! `RpcPromise` has no `Display`, so this does not compile.
use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    pub fn list_user_ids(&self) -> Vec<u64> {
        vec![1, 2, 3]
    }

    pub fn find_user(&self, name: String) -> String {
        name
    }
}

fn main() {
    let api = ApiStub::new(Api);
    let _names = api.list_user_ids().map(|id| api.find_user(format!("user{id}")));
}
