//! `Result` returns: `Result<T, E>` with `E: Into<RpcError>`, a one-argument alias, `Result<(), E>`;
//! the client sees `T`, and `Err` arrives as the call's error.

use capnweb::{rpc_target, RpcError};

pub enum AppError {
    NotFound(u64),
}

impl From<AppError> for RpcError {
    fn from(e: AppError) -> RpcError {
        match e {
            AppError::NotFound(id) => RpcError::range_error(format!("no item {id}")),
        }
    }
}

mod errors {
    pub type Result<T> = std::result::Result<T, capnweb::RpcError>;
}

pub struct Store;

#[rpc_target]
impl Store {
    pub fn find(&self, id: u64) -> Result<String, AppError> {
        if id == 1 { Ok("one".into()) } else { Err(AppError::NotFound(id)) }
    }

    pub async fn check(&self, ok: bool) -> errors::Result<u8> {
        if ok { Ok(1) } else { Err(RpcError::type_error("not ok")) }
    }

    pub fn touch(&self) -> std::result::Result<(), RpcError> {
        Ok(())
    }

    pub fn unit(&self) -> () {}
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let store = StoreStub::new(Store);
    let found: String = store.find(1).await.unwrap();
    assert_eq!(found, "one");
    let error = store.find(2).await.unwrap_err();
    let remote = error.as_remote().unwrap();
    assert_eq!((remote.name.as_str(), remote.message.as_str()), ("RangeError", "no item 2"));
    assert_eq!(store.check(true).await.unwrap(), 1);
    assert_eq!(store.check(false).await.unwrap_err().as_remote().unwrap().name, "TypeError");
    let (): () = store.touch().await.unwrap();
    let (): () = store.unit().await.unwrap();
}
