use capnweb::rpc_target;

pub struct Counter {
    value: i64,
}

#[rpc_target]
impl Counter {
    pub fn increment(&mut self, by: i64) -> i64 {
        self.value += by;
        self.value
    }
}

fn main() {}
