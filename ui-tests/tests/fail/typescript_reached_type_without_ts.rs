//! With the `typescript` feature: a type with no TypeScript form in a target reached from the
//! declared one (two hops away, through targets that refer to each other) is an error where
//! the declarations are asked for, naming the type.
use capnweb::rpc_target;
use capnweb::typescript::TS;

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Avatar {
    pub url: String,
}

#[derive(serde::Serialize, serde::Deserialize, TS)]
#[ts(crate = "capnweb::typescript::ts_rs")]
pub struct Name {
    pub first: String,
}

pub struct Api;

#[rpc_target]
impl Api {
    pub fn user(&self, id: u64) -> UserStub {
        UserStub::new(User { id })
    }
}

pub struct User {
    id: u64,
}

#[rpc_target]
impl User {
    pub fn name(&self) -> Name {
        Name { first: format!("user{}", self.id) }
    }
    pub fn friends(&self) -> Vec<UserStub> {
        Vec::new()
    }
    pub fn profile(&self) -> ProfileStub {
        ProfileStub::new(Profile)
    }
}

pub struct Profile;

#[rpc_target]
impl Profile {
    pub fn avatar(&self) -> Avatar {
        Avatar { url: String::new() }
    }
    pub fn owner(&self) -> Option<UserStub> {
        None
    }
}

fn main() {
    let _ = ApiStub::new(Api);
    let _ = capnweb::typescript::declarations::<ApiStub>();
}
