use capnweb::rpc_target;

pub struct Api;

#[rpc_target(rename_all = "weird")]
impl Api {
    pub fn get(&self) -> u32 {
        1
    }
}

pub struct Other;

#[rpc_target(rename_all = camelCase, stub = "Not A Name", crate = "not a path")]
impl Other {
    pub fn get(&self) -> u32 {
        1
    }
}

fn main() {}
