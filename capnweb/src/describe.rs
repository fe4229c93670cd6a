//! What `#[rpc_target]` knows about a target, as plain data: its name, docs, and each method's
//! and property's wire name, parameters and result type.
//!
//! One descriptor per target, emitted by the macro, feeds every view of an API: the TypeScript
//! declarations ([`typescript`](crate::typescript)), the description of a whole API
//! ([`describe_all`]) that a server can serve
//! ([`RpcService::describe`](crate::RpcService::describe)) and a client can read
//! ([`http_batch::describe`](crate::http_batch::describe)), for the command-line client's
//! `describe`. One source, so they cannot disagree. It is
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
use ts_rs::TS;

pub(crate) mod walk;

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

/// A whole API as a peer sees it: every target reachable from the main one, and the
/// TypeScript declarations of the types of yours that their signatures mention. Made by
/// [`describe_all`], served by [`RpcService::describe`](crate::RpcService::describe), read
/// by [`http_batch::describe`](crate::http_batch::describe).
///
/// As JSON (field names as here; `docs` is `null` when there are none):
///
/// ```json
/// {
///   "targets": [
///     { "name": "Api", "docs": "A to-do list.", "members": [
///       { "name": "add", "kind": "method", "docs": null,
///         "params": [ { "name": "title", "ty": { "typescript": "string", "nullable": false } } ],
///         "result": { "typescript": "Todo", "nullable": false } },
///       { "name": "version", "kind": "property", "docs": null, "params": [],
///         "result": { "typescript": "string", "nullable": false } } ] },
///     { "name": "Listener", "docs": null, "members": [] }
///   ],
///   "types": [
///     { "name": "Todo", "typescript": "type Todo = { id: number, title: string, };" }
///   ]
/// }
/// ```
///
/// `targets[0]` is the main object's; the others (stubs it returns, callback traits it takes,
/// and so on from those) follow in the order first reached, as do `types`: the same order as
/// [`declarations`](crate::typescript::declarations), so it is stable from run to run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiDescription {
    /// Every target reachable from the main one, the main one first.
    pub targets: Vec<TargetDescriptor>,
    /// The declarations of your types that the targets' signatures mention (not the targets
    /// themselves, nor built-ins such as `Date`).
    #[serde(default)]
    pub types: Vec<TypeDeclaration>,
}

/// One of your types, declared in TypeScript as the peer sees it on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TypeDeclaration {
    /// The declared name (`Todo`; `Page` for a generic `Page<T>`).
    pub name: String,
    /// The declaration, after its doc comment (as JSDoc) if it has one, without `export`:
    /// `type Todo = { id: number, title: string, };`.
    pub typescript: String,
}

impl ApiDescription {
    /// The main object's descriptor (`None` only for a description that names no target,
    /// which [`describe_all`] never makes).
    pub fn root(&self) -> Option<&TargetDescriptor> {
        self.targets.first()
    }

    /// The reachable target named `name` (`"Listener"`), if there is one.
    pub fn target(&self, name: &str) -> Option<&TargetDescriptor> {
        self.targets.iter().find(|target| target.name == name)
    }
}

/// The description of the API whose main object is `S` (a stub type, `ApiStub`): its
/// descriptor first, then every target reachable from it, and your types they mention.
///
/// ```
/// use capnweb::rpc_target;
/// use capnweb::typescript::TS;
///
/// /// A to-do item.
/// #[derive(serde::Serialize, serde::Deserialize, TS)]
/// #[ts(crate = "capnweb::typescript::ts_rs")]
/// pub struct Todo { pub id: u64, pub title: String }
///
/// pub struct Api;
///
/// #[rpc_target]
/// impl Api {
///     pub fn find(&self, id: u64) -> Option<Todo> { None }
///     pub fn subscribe(&self, listener: ListenerStub) {}
/// }
///
/// #[rpc_target]
/// pub trait Listener {
///     async fn changed(&self, todo: Todo);
/// }
///
/// let api = capnweb::describe::describe_all::<ApiStub>();
/// let names: Vec<&str> = api.targets.iter().map(|t| t.name.as_str()).collect();
/// assert_eq!(names, ["Api", "Listener"]);
/// assert_eq!(api.types[0].name, "Todo");
/// assert_eq!(
///     api.types[0].typescript,
///     "/**\n * A to-do item.\n */\ntype Todo = { id: number, title: string, };"
/// );
///
/// // As JSON, and back (what a client reads).
/// let json = serde_json::to_string(&api).unwrap();
/// assert_eq!(serde_json::from_str::<capnweb::describe::ApiDescription>(&json).unwrap(), api);
/// ```
///
/// # Panics
///
/// As [`declarations`](crate::typescript::declarations): two types declared under one name,
/// or a reached target with a type that has no TypeScript form.
pub fn describe_all<S: Describe + TS + 'static>() -> ApiDescription {
    let mut targets = Vec::new();
    let mut types = Vec::new();
    for declared in walk::walk::<S>() {
        match declared.target {
            Some(target) => targets.push(target),
            None => types.push(TypeDeclaration {
                name: declared.name,
                typescript: declared.docs + &declared.decl,
            }),
        }
    }
    ApiDescription { targets, types }
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
