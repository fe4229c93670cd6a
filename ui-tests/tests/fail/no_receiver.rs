use capnweb::rpc_target;

// In a trait, every method is exposed unless skipped, so it needs `&self`.
#[rpc_target]
pub trait Factory {
    fn create(name: String) -> u32;
}

pub struct Api;

// In an impl block, `pub fn` without `self` is simply not exposed; `#[rpc(...)]` on it asks for
// the impossible.
#[rpc_target]
impl Api {
    #[rpc(property)]
    pub fn version() -> String {
        "1.0".into()
    }
}

fn main() {}
