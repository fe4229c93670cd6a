//! `#[derive(PipelineFields)]` needs a struct with named fields: an enum's fields depend on
//! the variant, a tuple struct has no property names, and a transparent struct is its field.
use capnweb::PipelineFields;

#[derive(PipelineFields)]
pub enum Shape {
    Circle { radius: f64 },
}

#[derive(PipelineFields)]
pub struct Pair(u64, u64);

#[derive(PipelineFields)]
#[serde(transparent)]
pub struct Id {
    pub id: u64,
}

#[derive(PipelineFields)]
#[serde(rename_all = "camel")]
pub struct Todo {
    pub id: u64,
}

fn main() {}
