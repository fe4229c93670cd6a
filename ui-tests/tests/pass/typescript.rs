//! With the `typescript` feature: declarations of a target whose types derive ts-rs's `TS`
//! through capnweb's re-export (no ts-rs dependency of one's own), and of a callback trait.
use capnweb::rpc_target;
use capnweb::typescript::TS;

#[derive(serde::Serialize, serde::Deserialize, TS)]
#[ts(crate = "capnweb::typescript::ts_rs")]
#[serde(rename_all = "camelCase")]
pub struct Point {
    pub x_pos: f64,
    pub label: Option<String>,
}

pub struct Api;

#[rpc_target]
impl Api {
    /// The origin.
    pub async fn origin(&self) -> Point {
        Point {
            x_pos: 0.0,
            label: None,
        }
    }

    pub fn watch(&self, listener: ListenerStub) {
        drop(listener);
    }

    pub fn node(&self) -> NodeStub {
        NodeStub::new(Node)
    }

    pub fn ticket(&self) -> TicketStub {
        TicketStub { number: 1 }
    }
}

/// Targets that refer to each other, and to themselves: the compile-time check ends.
pub struct Node;

#[rpc_target]
impl Node {
    pub fn next(&self) -> NodeStub {
        NodeStub::new(Node)
    }

    pub fn back(&self) -> Vec<Option<ApiStub>> {
        Vec::new()
    }
}

/// A type of one's own named like a stub.
#[derive(serde::Serialize, serde::Deserialize, TS)]
#[ts(crate = "capnweb::typescript::ts_rs")]
pub struct TicketStub {
    pub number: u32,
}

capnweb::typescript::not_a_target!(TicketStub);

#[rpc_target]
pub trait Listener {
    fn moved(&self, to: Point);
}

fn main() {
    let ts = capnweb::typescript::declarations::<ApiStub>();
    assert!(
        ts.contains("  /** The origin. */\n  origin(): Point | Promise<Point>;"),
        "{ts}"
    );
    assert!(ts.contains("  watch(listener: Listener): void;"), "{ts}");
    assert!(
        ts.contains("export interface Listener extends RpcTarget {\n  moved(to: Point): void;\n}"),
        "{ts}"
    );
    assert!(
        ts.contains("export type Point = { xPos: number, label: string | null, };"),
        "{ts}"
    );
}
