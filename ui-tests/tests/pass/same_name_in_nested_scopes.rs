//! Targets named like one in an enclosing scope, in a nested module and in function bodies:
//! each is its own target with its own stub (the check that refuses two `#[rpc_target]` impl
//! blocks for one stub works per module and block, so it does not fire here).
use capnweb::{rpc_target, RpcPromise};

pub struct Api;

#[rpc_target]
impl Api {
    pub fn which(&self) -> String {
        "outer".into()
    }
}

mod nested {
    use capnweb::rpc_target;

    pub struct Api;

    #[rpc_target]
    impl Api {
        pub fn which(&self) -> String {
            "nested".into()
        }

        pub fn only_here(&self) -> u32 {
            7
        }
    }
}

fn local() -> RpcPromise<String> {
    // Shadows the outer `Api` and `ApiStub` in this body only.
    pub struct Api;

    #[rpc_target]
    impl Api {
        pub fn which(&self) -> String {
            "local".into()
        }
    }

    ApiStub::new(Api).which()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async {
        assert_eq!(ApiStub::new(Api).which().await.unwrap(), "outer");
        let nested = nested::ApiStub::new(nested::Api);
        assert_eq!(nested.which().await.unwrap(), "nested");
        assert_eq!(nested.only_here().await.unwrap(), 7);
        assert_eq!(local().await.unwrap(), "local");
        {
            struct Api;

            #[rpc_target]
            impl Api {
                pub fn which(&self) -> String {
                    "block".into()
                }
            }

            assert_eq!(ApiStub::new(Api).which().await.unwrap(), "block");
        }
    });
}
