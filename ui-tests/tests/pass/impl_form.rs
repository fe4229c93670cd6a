//! The impl form: sync and async methods, a stub as a result, typed client calls.

use capnweb::{rpc_target, RpcError, RpcPromise};

pub struct Api;

#[rpc_target]
impl Api {
    /// Adds two numbers.
    pub async fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    pub fn square(&self, x: i64) -> i64 {
        x * x
    }

    pub async fn get_user(&self, id: u64) -> Result<UserStub, RpcError> {
        Ok(UserStub::new(User { id }))
    }

    pub async fn list_user_ids(&self) -> Vec<u64> {
        vec![1, 2, 3]
    }

    pub fn log(&self, line: String) {
        let _ = line;
    }

    /// Not exposed: no `self`.
    pub fn create() -> Api {
        Api
    }

    /// Not exposed: not `pub`.
    fn helper(&self) -> u32 {
        7
    }

    #[rpc(skip)]
    pub fn skipped(&mut self) {}
}

pub struct User {
    id: u64,
}

#[rpc_target]
impl User {
    pub fn name(&self) -> String {
        format!("user{}", self.id)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let api = ApiStub::new(Api::create());
    let _ = Api.helper();
    assert_eq!(api.add(2, 3).await.unwrap(), 5);
    assert_eq!(api.square(api.add(1, 2)).await.unwrap(), 9);
    let name: RpcPromise<String> = api.get_user(42).name();
    assert_eq!(name.await.unwrap(), "user42");
    let names = api.list_user_ids().map(|id| api.get_user(id).name());
    assert_eq!(names.await.unwrap(), ["user1", "user2", "user3"]);
    api.log("hello".to_owned()).await.unwrap();
    api.log("borrowed").await.unwrap();
}
