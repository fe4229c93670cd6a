use capnweb::rpc_target;

pub trait Greeter {
    fn greet(&self) -> String;
}

pub struct Api;

#[rpc_target]
impl Greeter for Api {
    fn greet(&self) -> String {
        "hi".into()
    }
}

fn main() {}
