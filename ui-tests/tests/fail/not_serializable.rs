//! rustc errors, not the macro's: parameters must be `Deserialize` and results `Serialize`. The
//! errors point at the types.
use capnweb::rpc_target;

pub struct Point {
    pub x: f64,
}

pub struct Api;

#[rpc_target]
impl Api {
    pub fn origin(&self) -> Point {
        Point { x: 0.0 }
    }

    pub fn norm(&self, point: Point) -> f64 {
        point.x.abs()
    }
}

fn main() {}
