use capnweb::rpc_target;

pub struct Api<T>(T);

#[rpc_target]
impl<T> Api<T> {
    pub fn get(&self) -> u32 {
        1
    }
}

fn main() {}
