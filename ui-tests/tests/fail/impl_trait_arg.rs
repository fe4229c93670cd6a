use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    pub fn show(&self, value: impl Into<String>) -> String {
        value.into()
    }

    pub fn name(&self) -> &'static str {
        "api"
    }
}

fn main() {}
