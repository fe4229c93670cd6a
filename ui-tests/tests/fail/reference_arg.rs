use capnweb::rpc_target;

pub struct Api;

#[rpc_target]
impl Api {
    pub fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }

    pub fn sum(&self, values: &[f64]) -> f64 {
        values.iter().sum()
    }

    pub fn first(&self, values: Vec<&'static str>) -> usize {
        values.len()
    }
}

fn main() {}
