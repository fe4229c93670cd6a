//! What the code `#[rpc_target]` generates calls, under the `typescript` feature. Not a public
//! API.
//!
//! Each stub gets an unconditional `impl TS` (its name, and its interface as its declaration)
//! and an `impl Describe` bounded on its signature types having a TypeScript form. The `TS`
//! impl reaches `Describe` through [`Probe`] (autoref specialization): a stub whose `Describe`
//! bounds do not hold still compiles, and says so only when its declaration is asked for.
//! Putting the bound on the `TS` impl instead would make two targets that refer to each other
//! (or one that returns itself) an infinite cycle for the trait solver.

use std::marker::PhantomData;

pub use ts_rs::{TypeVisitor, TS};

use super::{config, render};
use crate::describe::{MemberDescriptor, MemberKind, ParamDescriptor, TypeDescriptor};

pub use super::reach::{Hop, Hops, NoHops, TargetTypes};
pub use super::HasTypeScript;
pub use crate::describe::{Describe, TargetDescriptor};

pub use std::path::PathBuf;
pub use ts_rs::Config;

/// `T` as the peer sees it.
pub fn type_of<T: HasTypeScript + ?Sized>() -> TypeDescriptor {
    TypeDescriptor::new(T::name(&config()), T::IS_OPTION)
}

/// Visits `T` and what it is made of, as a field of type `T` would be.
pub fn visit<T: HasTypeScript + 'static, V: TypeVisitor>(visitor: &mut V) {
    visitor.visit::<T>();
    T::visit_generics(visitor);
}

/// A method's descriptor.
pub fn method(
    name: &str,
    docs: &[&str],
    params: Vec<ParamDescriptor>,
    result: TypeDescriptor,
) -> MemberDescriptor {
    MemberDescriptor::new(name, MemberKind::Method, join_docs(docs), params, result)
}

/// A property's descriptor.
pub fn property(name: &str, docs: &[&str], result: TypeDescriptor) -> MemberDescriptor {
    MemberDescriptor::new(
        name,
        MemberKind::Property,
        join_docs(docs),
        Vec::new(),
        result,
    )
}

/// A parameter's descriptor.
pub fn param(name: &str, ty: TypeDescriptor) -> ParamDescriptor {
    ParamDescriptor::new(name, ty)
}

/// A target's descriptor.
pub fn target(name: &str, docs: &[&str], members: Vec<MemberDescriptor>) -> TargetDescriptor {
    TargetDescriptor::new(name, join_docs(docs), members)
}

/// `void`.
pub fn void() -> TypeDescriptor {
    TypeDescriptor::void()
}

/// The text of `///` lines (each `#[doc]` value, whose leading space rustdoc drops too).
fn join_docs(lines: &[&str]) -> Option<String> {
    let text: Vec<&str> = lines
        .iter()
        // `split`, not `lines`: an empty `///` line is a paragraph break, kept.
        .flat_map(|line| line.split('\n'))
        .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
        .collect();
    let text = text.join("\n");
    let text = text.trim_matches('\n');
    (!text.is_empty()).then(|| text.to_owned())
}

/// The stub type `S` (or a signature's type), for choosing between [`ViaDescribe`] and
/// [`Undescribed`] (or [`HasForm`] and [`NoForm`]) by method resolution:
/// `(&&Probe::<S>::NEW).declaration(…)` is [`ViaDescribe`]'s when `S: Describe`.
#[derive(Debug)]
pub struct Probe<S: ?Sized>(PhantomData<S>);

impl<S: ?Sized> Probe<S> {
    /// The probe.
    pub const NEW: Self = Probe(PhantomData);
}

/// A stub whose signatures all have a TypeScript form.
pub trait ViaDescribe {
    /// The interface. (`signature`: each type in the signatures, and whether it has a form.)
    fn declaration(&self, signature: &[(&str, bool)]) -> String;
    /// Its doc comment as JSDoc.
    fn jsdoc(&self) -> Option<String>;
    /// Visits its signatures' types.
    fn visit_types<V: TypeVisitor>(&self, visitor: &mut V);
}

impl<S: Describe + 'static> ViaDescribe for &Probe<S> {
    fn declaration(&self, _: &[(&str, bool)]) -> String {
        render::interface(&S::descriptor())
    }

    fn jsdoc(&self) -> Option<String> {
        S::descriptor().docs.map(|docs| render::jsdoc(&docs, ""))
    }

    fn visit_types<V: TypeVisitor>(&self, visitor: &mut V) {
        S::visit_types(visitor)
    }
}

/// A stub with a type in its signatures that has no TypeScript form.
pub trait Undescribed {
    /// Panics, naming the stub and the types.
    fn declaration(&self, signature: &[(&str, bool)]) -> String;
    /// None.
    fn jsdoc(&self) -> Option<String>;
    /// Nothing to visit.
    fn visit_types<V: TypeVisitor>(&self, visitor: &mut V);
}

impl<S: ?Sized> Undescribed for Probe<S> {
    fn declaration(&self, signature: &[(&str, bool)]) -> String {
        // Reached from a target that does have its declarations, in a way the compile-time
        // check cannot follow (a stub renamed with `stub = "…"`, an alias, a struct's field).
        let mut missing: Vec<String> = signature
            .iter()
            .filter(|(_, has_form)| !has_form)
            .map(|(ty, _)| format!("`{ty}`"))
            .collect();
        missing.dedup();
        panic!(
            "capnweb::typescript: {types} in the signatures of `{stub}` {has} no TypeScript \
             form: derive `ts_rs::TS` for {it} (`capnweb::typescript::declarations::<{stub}>()` \
             gives the compile error)",
            types = if missing.is_empty() {
                "a type".to_owned()
            } else {
                missing.join(", ")
            },
            has = if missing.len() > 1 { "have" } else { "has" },
            it = if missing.len() > 1 { "them" } else { "it" },
            stub = short_name::<S>()
        )
    }

    fn jsdoc(&self) -> Option<String> {
        None
    }

    fn visit_types<V: TypeVisitor>(&self, _: &mut V) {}
}

/// A type with a TypeScript form.
pub trait HasForm {
    /// True.
    fn has_form(&self) -> bool;
}

impl<T: HasTypeScript + ?Sized> HasForm for &Probe<T> {
    fn has_form(&self) -> bool {
        true
    }
}

/// A type without one.
pub trait NoForm {
    /// False.
    fn has_form(&self) -> bool;
}

impl<T: ?Sized> NoForm for Probe<T> {
    fn has_form(&self) -> bool {
        false
    }
}

fn short_name<S: ?Sized>() -> &'static str {
    let full = std::any::type_name::<S>();
    full.rsplit("::").next().unwrap_or(full)
}
