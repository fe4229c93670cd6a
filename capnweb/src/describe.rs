//! What `#[rpc_target]` knows about a target, as plain data: its name, docs, and each method's
//! and property's wire name, parameters and result type.
//!
//! One descriptor per target, emitted by the macro, feeds every view of an API: the TypeScript
//! declarations ([`typescript`](crate::typescript)) today, and the command-line client's
//! `describe` and a descriptor endpoint later. One source, so they cannot disagree. It is
//! serializable, so it can travel as JSON.
//!
//! Types are written in TypeScript's notation (`number`, `Array<Todo>`, `Todo | null`), the
//! one language every peer of a Cap'n Web API can read, as the peer sees them on the wire.
//!
//! ```
//! use capnweb::describe::{Describe, MemberKind};
//! use capnweb::rpc_target;
//!
//! pub struct Api;
//!
//! #[rpc_target]
//! impl Api {
//!     /// Adds two numbers.
//!     pub fn add(&self, a: f64, b: f64) -> f64 { a + b }
//!     #[rpc(property)]
//!     pub fn version(&self) -> String { "1.0".into() }
//! }
//!
//! let api = ApiStub::descriptor();
//! assert_eq!(api.name, "Api");
//! assert_eq!(api.members[0].name, "add");
//! assert_eq!(api.members[0].docs.as_deref(), Some("Adds two numbers."));
//! assert_eq!(api.members[0].params[1].name, "b");
//! assert_eq!(api.members[0].params[1].ty.typescript, "number");
//! assert_eq!(api.members[1].kind, MemberKind::Property);
//! assert_eq!(api.members[1].result.typescript, "string");
//! ```

use serde::{Deserialize, Serialize};

/// Implemented by `#[rpc_target]` for each stub type (`ApiStub`), when capnweb's `typescript`
/// feature is on and every type in the target's signatures has a TypeScript form.
pub trait Describe {
    /// The target's descriptor.
    fn descriptor() -> TargetDescriptor;

    /// Visits every type in the target's signatures (for collecting the declarations the
    /// target needs). Not a stable API.
    #[doc(hidden)]
    fn visit_types(visitor: &mut impl ts_rs::TypeVisitor)
    where
        Self: 'static;
}

/// A target (`impl Api` or `trait Listener`): what a peer can call on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TargetDescriptor {
    /// The type's or trait's name (`Api` for `ApiStub`).
    pub name: String,
    /// Its doc comment, if any, one line per line.
    pub docs: Option<String>,
    /// Its exposed methods and properties, in source order.
    pub members: Vec<MemberDescriptor>,
}

/// One exposed method or property.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemberDescriptor {
    /// The wire name (`listUserIds`).
    pub name: String,
    /// Called, or read.
    pub kind: MemberKind,
    /// Its doc comment, if any.
    pub docs: Option<String>,
    /// The parameters, in order (none for a property).
    pub params: Vec<ParamDescriptor>,
    /// What a call resolves to: the `Ok` type of a `Result`, the output of an `async fn`, `T`
    /// of an `RpcPromise<T>`; `void` for `()`.
    pub result: TypeDescriptor,
}

/// Whether a member is called or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MemberKind {
    /// A method: `api.add(1, 2)`.
    Method,
    /// A property (`#[rpc(property)]`): `api.version`.
    Property,
}

/// One parameter of a method.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ParamDescriptor {
    /// The Rust parameter's name.
    pub name: String,
    /// Its type.
    pub ty: TypeDescriptor,
}

/// A type as a peer sees it on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TypeDescriptor {
    /// In TypeScript's notation: `number`, `Array<Todo>`, `Todo | null`, `Listener`.
    pub typescript: String,
    /// Whether `null` (and, for a parameter, leaving it out) is accepted: an `Option`.
    pub nullable: bool,
}

impl TargetDescriptor {
    /// A descriptor (for the code `#[rpc_target]` generates, and for tests).
    pub fn new(
        name: impl Into<String>,
        docs: Option<String>,
        members: Vec<MemberDescriptor>,
    ) -> Self {
        TargetDescriptor {
            name: name.into(),
            docs,
            members,
        }
    }
}

impl MemberDescriptor {
    /// A member (for the code `#[rpc_target]` generates, and for tests).
    pub fn new(
        name: impl Into<String>,
        kind: MemberKind,
        docs: Option<String>,
        params: Vec<ParamDescriptor>,
        result: TypeDescriptor,
    ) -> Self {
        MemberDescriptor {
            name: name.into(),
            kind,
            docs,
            params,
            result,
        }
    }
}

impl ParamDescriptor {
    /// A parameter (for the code `#[rpc_target]` generates, and for tests).
    pub fn new(name: impl Into<String>, ty: TypeDescriptor) -> Self {
        ParamDescriptor {
            name: name.into(),
            ty,
        }
    }
}

impl TypeDescriptor {
    /// A type in TypeScript's notation.
    pub fn new(typescript: impl Into<String>, nullable: bool) -> Self {
        TypeDescriptor {
            typescript: typescript.into(),
            nullable,
        }
    }

    /// `void`: what a method returning `()` resolves to.
    pub fn void() -> Self {
        TypeDescriptor::new("void", false)
    }
}
