//! Properties: read with a property get, sync or async; an unknown property reads as
//! `undefined`, as in JavaScript.

use capnweb::{rpc_target, Stub, Value};

pub struct Config;

#[rpc_target]
impl Config {
    /// The version.
    #[rpc(property)]
    pub fn version(&self) -> String {
        "1.0".into()
    }

    #[rpc(property, name = "maxSize")]
    pub async fn limit(&self) -> u64 {
        1024
    }

    pub fn reload(&self) -> bool {
        true
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let config = ConfigStub::new(Config);
    assert_eq!(config.version().await.unwrap(), "1.0");
    assert_eq!(config.limit().await.unwrap(), 1024);
    assert!(config.reload().await.unwrap());

    let untyped: Stub = config.into();
    assert_eq!(untyped.get("maxSize").await.unwrap(), Value::from(1024));
    assert_eq!(untyped.get("version").await.unwrap(), Value::from("1.0"));
    assert_eq!(untyped.get("nothing").await.unwrap(), Value::Undefined);
    // A property is not a method.
    assert!(untyped.call("version", vec![]).await.is_err());
}
