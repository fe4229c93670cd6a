//! `.map()` records the closure once with a placeholder: a branch on the value can't be
//! recorded, and `RpcPromise` has no `PartialOrd`, so this does not compile.
use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    pub fn list_user_ids(&self) -> Vec<u64> {
        vec![1, 2, 3]
    }

    pub fn get_user(&self, id: u64) -> String {
        format!("user{id}")
    }
}

fn main() {
    let api = ApiStub::new(Api);
    let _names = api.list_user_ids().map(|id| if id > 1 { api.get_user(id) } else { api.get_user(0) });
}
