//! Wire names: camelCase by default, `rename_all` for the whole target, `name` per method;
//! `stub` and `vis` name the stub and set its visibility.

use capnweb::{rpc_target, Stub, Value};

pub struct Plain;

#[rpc_target]
impl Plain {
    pub fn list_user_ids(&self) -> Vec<u64> {
        vec![1]
    }
}

pub struct Snake;

#[rpc_target(rename_all = "snake_case")]
impl Snake {
    pub fn list_user_ids(&self) -> Vec<u64> {
        vec![2]
    }

    #[rpc(name = "customName")]
    pub fn renamed(&self) -> u32 {
        3
    }
}

pub struct Others;

#[rpc_target(rename_all = "SCREAMING_SNAKE_CASE", stub = "OthersClient", vis = "pub(crate)")]
impl Others {
    pub fn list_user_ids(&self) -> u32 {
        4
    }
}

mod inner {
    pub struct Kebab;

    #[capnweb::rpc_target(rename_all = "kebab-case", vis = "pub(super)")]
    impl Kebab {
        pub fn list_user_ids(&self) -> u32 {
            5
        }
    }

    pub struct Pascal;

    #[capnweb::rpc_target(rename_all = "PascalCase", vis = "pub(crate)")]
    impl Pascal {
        pub fn list_user_ids(&self) -> u32 {
            6
        }
    }
}

async fn call(stub: impl Into<Stub>, name: &str) -> Value {
    stub.into().call(name, vec![]).await.unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(call(PlainStub::new(Plain), "listUserIds").await, Value::Array(vec![Value::from(1)]));
    let snake = SnakeStub::new(Snake);
    assert_eq!(call(snake.clone(), "list_user_ids").await, Value::Array(vec![Value::from(2)]));
    assert_eq!(call(snake.clone(), "customName").await, Value::from(3));
    assert_eq!(snake.renamed().await.unwrap(), 3);
    assert_eq!(call(OthersClient::new(Others), "LIST_USER_IDS").await, Value::from(4));
    assert_eq!(call(inner::KebabStub::new(inner::Kebab), "list-user-ids").await, Value::from(5));
    assert_eq!(call(inner::PascalStub::new(inner::Pascal), "ListUserIds").await, Value::from(6));
    // The old name is gone.
    let untyped: Stub = snake.into();
    assert!(untyped.call("listUserIds", vec![]).await.is_err());
}
