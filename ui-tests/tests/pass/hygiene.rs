//! The generated code names everything through `::capnweb::__private`: it compiles with no
//! prelude, beside items that shadow the prelude's names, and with parameters named like the
//! dispatch's own variables.
#![no_implicit_prelude]

#[allow(dead_code)]
mod decoys {
    pub struct Result;
    pub struct Ok;
    pub struct Err;
    pub struct Box;
    pub struct Vec;
    pub struct String;
    pub struct Arc;
    pub struct Value;
    pub struct Stub;
    pub struct Args;
    pub trait Clone {}
    pub trait Serialize {}
    pub trait From {}
    pub trait Send {}
    pub struct PhantomData;
    pub struct RpcPromise;
    pub trait PipelineFields {}
}

#[allow(unused_imports)]
use decoys::*;

pub struct Api;

#[::capnweb::rpc_target]
impl Api {
    pub fn add(&self, method: f64, args: f64) -> f64 {
        method + args
    }

    pub async fn echo(
        &self,
        decoder: ::std::string::String,
        value: u32,
        error: bool,
        p0: u8,
    ) -> ::std::result::Result<::std::string::String, ::capnweb::RpcError> {
        let _ = (value, error, p0);
        ::std::result::Result::Ok(decoder)
    }

    #[rpc(property)]
    pub fn version(&self) -> u32 {
        1
    }

    pub fn nothing(&self) {}

    // Named like `RpcTarget`'s methods: the dispatch calls `<Api>::call`, which is this one.
    pub fn call(&self) -> u32 {
        10
    }

    pub fn get(&self, key: u32) -> u32 {
        key
    }

    pub fn type_name(&self) -> u32 {
        12
    }
}

#[::capnweb::rpc_target]
pub trait Callback {
    async fn call(&self, args: ::std::vec::Vec<u32>) -> u32;
    fn get(&self) -> u32;
}

struct Sum;

impl Callback for Sum {
    async fn call(&self, args: ::std::vec::Vec<u32>) -> u32 {
        ::std::iter::Iterator::sum(::std::iter::IntoIterator::into_iter(args))
    }
    fn get(&self) -> u32 {
        0
    }
}

/// `#[derive(PipelineFields)]` under the same conditions, with fields named like the view's own
/// parts and the prelude's methods.
#[derive(::capnweb::PipelineFields)]
#[serde(rename_all = "camelCase")]
pub struct Record<T> {
    pub user_id: u32,
    pub promise: T,
    pub clone: u32,
    pub fields: u32,
}

#[allow(dead_code)]
fn record_fields(
    record: &::capnweb::RpcPromise<Record<u8>>,
) -> (
    ::capnweb::RpcPromise<u32>,
    ::capnweb::RpcPromise<u8>,
    ::capnweb::RpcPromise<u32>,
    ::capnweb::RpcPromise<u32>,
) {
    let fields = record.fields();
    (
        fields.user_id(),
        fields.promise(),
        fields.clone(),
        fields.fields(),
    )
}

fn main() {
    let runtime = ::tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let api = ApiStub::new(Api);
        ::std::assert_eq!(api.add(1.0, 2.0).await.unwrap(), 3.0);
        let s = api
            .echo(
                <::std::string::String as ::std::convert::From<&str>>::from("x"),
                1,
                true,
                0,
            )
            .await
            .unwrap();
        ::std::assert_eq!(s, "x");
        ::std::assert_eq!(api.version().await.unwrap(), 1);
        api.nothing().await.unwrap();
        ::std::assert_eq!(api.call().await.unwrap(), 10);
        ::std::assert_eq!(api.get(11).await.unwrap(), 11);
        ::std::assert_eq!(api.type_name().await.unwrap(), 12);
        let callback = CallbackStub::new(Sum);
        let sum = callback
            .call(<::std::vec::Vec<u32> as ::std::convert::From<[u32; 3]>>::from([1, 2, 3]));
        ::std::assert_eq!(sum.await.unwrap(), 6);
        ::std::assert_eq!(callback.get().await.unwrap(), 0);
    });
}
