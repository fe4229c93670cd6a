use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    #[rpc(name = "getValue")]
    fn value(&self) -> u32 {
        1
    }
}

fn main() {
    let _ = Api.value();
}
