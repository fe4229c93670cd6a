//! `#[rpc_target]` on two impl blocks of one type: at the second attribute, the compiler's
//! note that the macro's hidden module is defined twice, and our error that says to merge the
//! exposed methods (and where helpers go). Nothing that could conflict is generated for the
//! second block (no duplicate stub type, no conflicting `RpcTarget` impls, …), but its client
//! methods are, so the calls below add no errors.
use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    pub fn add(&self, a: f64, b: f64) -> f64 {
        a + b
    }
}

#[rpc_target]
impl Api {
    pub fn square(&self, x: f64) -> f64 {
        x * x
    }
}

fn main() {
    let api = ApiStub::new(Api);
    let _sum = api.add(1.0, 2.0);
    let _square = api.square(3.0);
}
