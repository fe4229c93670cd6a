//! With the `typescript` feature: a type in a target's signatures with no TypeScript form is
//! an error where the declarations are asked for, naming the type and the way out. The target
//! itself compiles (another crate may have turned the feature on).
use capnweb::rpc_target;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Point {
    pub x: f64,
}

pub struct Api;

#[rpc_target]
impl Api {
    pub fn origin(&self) -> Point {
        Point { x: 0.0 }
    }
}

fn main() {
    let _ = ApiStub::new(Api);
    let _ = capnweb::typescript::declarations::<ApiStub>();
}
