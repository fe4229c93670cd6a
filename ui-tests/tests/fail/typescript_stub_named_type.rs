//! With the `typescript` feature: a type of one's own named like a stub is followed as a stub,
//! and the error says how to mark it (`not_a_target!`; the pass case `typescript.rs` does).
use capnweb::rpc_target;
use capnweb::typescript::TS;

#[derive(serde::Serialize, serde::Deserialize, TS)]
#[ts(crate = "capnweb::typescript::ts_rs")]
pub struct TicketStub {
    pub number: u32,
}

pub struct Api;

#[rpc_target]
impl Api {
    pub fn ticket(&self) -> TicketStub {
        TicketStub { number: 1 }
    }
}

fn main() {
    let _ = ApiStub::new(Api);
    let _ = capnweb::typescript::declarations::<ApiStub>();
}
