//! `#[derive(PipelineFields)]` gives the view a method per field, so a misspelt field is a
//! compile error (with the right name suggested), not a property read that fails at run time.
use capnweb::{rpc_target, PipelineFields};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, PipelineFields)]
pub struct Todo {
    pub id: u64,
    pub title: String,
    #[serde(skip)]
    pub cached: bool,
}

pub struct Api;

#[rpc_target]
impl Api {
    pub fn add(&self, title: String) -> Todo {
        Todo {
            id: 1,
            title,
            cached: false,
        }
    }

    pub fn complete(&self, id: u64) -> bool {
        id == 1
    }
}

fn main() {
    let api = ApiStub::new(Api);
    let added = api.add("milk");
    let _ = api.complete(added.fields().idd());
    // Not on the wire, so not in the view.
    let _ = added.fields().cached();
    // The field's type is checked too: `title` is a string.
    let _ = api.complete(added.fields().title());
}
