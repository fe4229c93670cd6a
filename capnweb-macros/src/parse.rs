//! From the annotated item to the [`Target`] model, with every check the macro makes.
//!
//! Both forms go through [`method`], so an `impl` block and a trait accept exactly the same
//! signatures. Each problem is recorded in [`Errors`] with the span of the offending tokens
//! and the fix in words; parsing goes on, so one build reports all of them.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    FnArg, GenericArgument, Ident, ImplItem, Item, ItemImpl, ItemTrait, Pat, PathArguments,
    ReturnType, Signature, TraitItem, Type, TypeParamBound, Visibility,
};

use crate::attributes::{strip_rpc_attrs, MethodAttr, TargetAttr};
use crate::errors::Errors;
use crate::model::{Form, Kind, Method, Output, Param, Target};
use crate::rename::RenameRule;

/// Names the generated stub type defines itself (or inherits from `Clone`); a client method
/// with one of these names would clash with it or shadow it.
const RESERVED: &[(&str, &str)] = &[
    ("new", "the constructor `{stub}::new`"),
    ("from_arc", "the constructor `{stub}::from_arc`"),
    (
        "from_stub",
        "`FromStub::from_stub`, which `{stub}` implements",
    ),
    (
        "as_untyped",
        "`TypedStub::as_untyped`, which `{stub}` implements",
    ),
    ("into_stub", "a conversion name that `{stub}` reserves"),
    ("into_untyped", "a conversion name that `{stub}` reserves"),
    (
        "clone",
        "`Clone::clone`, which `{stub}` implements (a call would shadow it)",
    ),
    (
        "clone_from",
        "`Clone::clone_from`, which `{stub}` implements (a call would shadow it)",
    ),
];

/// Parses `item` into the model. Removes the `#[rpc(...)]` helper attributes from `item` as it
/// goes. Returns `None` (with errors recorded) when the item is not an impl block or a trait.
pub(crate) fn target(
    item: &mut Item,
    attr: TargetAttr,
    private: TokenStream,
    errors: &mut Errors,
) -> Option<Target> {
    match item {
        Item::Impl(imp) => Some(parse_impl(imp, attr, private, errors)),
        Item::Trait(tr) => Some(parse_trait(tr, attr, private, errors)),
        other => {
            errors.push(wrong_item(other));
            None
        }
    }
}

/// `#[rpc_target]` on something that is neither an impl block nor a trait.
fn wrong_item(item: &Item) -> syn::Error {
    let (what, span): (&str, Span) = match item {
        Item::Struct(s) => ("a struct", s.ident.span()),
        Item::Enum(e) => ("an enum", e.ident.span()),
        Item::Union(u) => ("a union", u.ident.span()),
        Item::Fn(f) => ("a function", f.sig.ident.span()),
        Item::Mod(m) => ("a module", m.ident.span()),
        Item::Type(t) => ("a type alias", t.ident.span()),
        Item::Const(c) => ("a constant", c.ident.span()),
        Item::Static(s) => ("a static", s.ident.span()),
        other => ("this item", other.span()),
    };
    let fix = match item {
        Item::Struct(_) | Item::Enum(_) | Item::Union(_) => {
            " (put it on the type's `impl` block that holds the methods to expose)"
        }
        _ => "",
    };
    syn::Error::new(
        span,
        format!(
            "`#[rpc_target]` goes on an `impl` block (`impl Api {{ … }}`) or a trait \
             (`trait Listener {{ … }}`), not on {what}{fix}"
        ),
    )
}

fn stub_name(attr: &TargetAttr, name: &Ident) -> Ident {
    attr.stub
        .clone()
        .unwrap_or_else(|| format_ident!("{}Stub", name, span = name.span()))
}

fn check_generics(generics: &syn::Generics, what: &str, errors: &mut Errors) {
    if !generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &generics.params,
            format!(
                "{what} can't be generic: the peer calls it by name with plain values, so the \
                 stub needs one concrete type for everything; remove the generic parameters"
            ),
        ));
    } else if let Some(where_clause) = &generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            format!("{what} can't have a `where` clause: remove it"),
        ));
    }
}

fn parse_impl(
    imp: &mut ItemImpl,
    attr: TargetAttr,
    private: TokenStream,
    errors: &mut Errors,
) -> Target {
    if let Some((_, trait_path, _)) = &imp.trait_ {
        let trait_name = trait_path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        errors.push(syn::Error::new_spanned(
            trait_path,
            format!(
                "`#[rpc_target]` on an implementation of a trait: put it on the trait's \
                 declaration instead (`#[rpc_target] trait {trait_name} {{ … }}`); that \
                 generates `{trait_name}Stub` and the dispatch for every implementation"
            ),
        ));
    }
    check_generics(&imp.generics, "an `#[rpc_target]` impl block", errors);

    let name = match &*imp.self_ty {
        Type::Path(tp) if tp.qself.is_none() => {
            let last = tp.path.segments.last();
            if let Some(seg) = last {
                // (With `impl<T>` already reported, `Api<T>` would only repeat it.)
                if !seg.arguments.is_empty() && imp.generics.params.is_empty() {
                    errors.push(syn::Error::new_spanned(
                        &seg.arguments,
                        "an `#[rpc_target]` type can't be generic: the peer calls it by name \
                         with plain values; remove the generic arguments",
                    ));
                }
            }
            last.map(|s| s.ident.clone())
        }
        _ => None,
    };
    let name = name.unwrap_or_else(|| {
        errors.push(syn::Error::new_spanned(
            &imp.self_ty,
            "`#[rpc_target]` needs an `impl` block for a named type (`impl Api { … }`)",
        ));
        Ident::new("Target", imp.self_ty.span())
    });
    let stub = stub_name(&attr, &name);
    let rule = attr.rename_all.unwrap_or(RenameRule::Camel);

    let mut methods = Vec::new();
    for item in &mut imp.items {
        match item {
            ImplItem::Fn(f) => {
                let mattr = MethodAttr::take(&mut f.attrs, errors);
                if mattr.skip.is_some() {
                    continue;
                }
                let is_pub = matches!(f.vis, Visibility::Public(_));
                let receiver = f.sig.receiver().is_some();
                if !is_pub {
                    if mattr.present() {
                        errors.push(syn::Error::new(
                            f.sig.ident.span(),
                            format!(
                                "`{}` has `#[rpc(...)]` but is not `pub`: only `pub` methods are \
                                 exposed; make it `pub`",
                                f.sig.ident
                            ),
                        ));
                    }
                    continue;
                }
                if !receiver && !mattr.present() {
                    // An associated function (a constructor, say): not part of the RPC surface.
                    continue;
                }
                if let Some(m) = method(&f.sig, &f.attrs, &mattr, rule, &stub, false, errors) {
                    methods.push(m);
                }
            }
            ImplItem::Const(c) => misplaced_rpc(&mut c.attrs, errors),
            ImplItem::Type(t) => misplaced_rpc(&mut t.attrs, errors),
            ImplItem::Macro(m) => misplaced_rpc(&mut m.attrs, errors),
            _ => {}
        }
    }
    check_unique(&methods, errors);

    Target {
        form: Form::Impl {
            self_ty: imp.self_ty.clone(),
        },
        docs: docs(&imp.attrs),
        stub_vis: attr
            .vis
            .unwrap_or_else(|| Visibility::Public(Default::default())),
        name,
        stub,
        private,
        methods,
    }
}

fn parse_trait(
    tr: &mut ItemTrait,
    attr: TargetAttr,
    private: TokenStream,
    errors: &mut Errors,
) -> Target {
    check_generics(&tr.generics, "an `#[rpc_target]` trait", errors);
    let name = tr.ident.clone();
    let stub = stub_name(&attr, &name);
    let rule = attr.rename_all.unwrap_or(RenameRule::Camel);

    let mut methods = Vec::new();
    for item in &mut tr.items {
        match item {
            TraitItem::Fn(f) => {
                let mattr = MethodAttr::take(&mut f.attrs, errors);
                if mattr.skip.is_some() {
                    continue;
                }
                if let Some(m) = method(&f.sig, &f.attrs, &mattr, rule, &stub, true, errors) {
                    methods.push(m);
                }
            }
            TraitItem::Type(t) => {
                strip_rpc_attrs(&mut t.attrs);
                errors.push(syn::Error::new_spanned(
                    &t.ident,
                    "an `#[rpc_target]` trait can't have associated types: they make the \
                     interface generic, and the stub needs concrete types; use concrete types \
                     in the method signatures",
                ));
            }
            TraitItem::Const(c) => misplaced_rpc(&mut c.attrs, errors),
            TraitItem::Macro(m) => misplaced_rpc(&mut m.attrs, errors),
            _ => {}
        }
    }
    check_unique(&methods, errors);

    Target {
        form: Form::Trait,
        docs: docs(&tr.attrs),
        stub_vis: attr.vis.unwrap_or_else(|| tr.vis.clone()),
        name,
        stub,
        private,
        methods,
    }
}

/// `#[rpc(...)]` on an item that is not a method.
fn misplaced_rpc(attrs: &mut Vec<syn::Attribute>, errors: &mut Errors) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("rpc")) {
        errors.push(syn::Error::new_spanned(
            attr,
            "`#[rpc(...)]` goes on methods only",
        ));
    }
    strip_rpc_attrs(attrs);
}

fn docs(attrs: &[syn::Attribute]) -> Vec<syn::Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .cloned()
        .collect()
}

/// The checks every exposed method goes through, in both forms. `in_trait` only changes two
/// things: a method without `self` is an error rather than "not exposed", and a future
/// returned as `impl Future` must say `+ Send` (an implementation's future is not visible).
fn method(
    sig: &Signature,
    attrs: &[syn::Attribute],
    mattr: &MethodAttr,
    rule: RenameRule,
    stub: &Ident,
    in_trait: bool,
    errors: &mut Errors,
) -> Option<Method> {
    let ident = &sig.ident;
    let errors_before = errors.count();

    // The receiver: `&self` and nothing else.
    match sig.inputs.first() {
        Some(FnArg::Receiver(r)) => {
            if r.reference.is_some() && r.mutability.is_some() {
                errors.push(syn::Error::new_spanned(
                    r,
                    format!(
                        "`{ident}` takes `&mut self`, but RPC methods take `&self`: calls \
                             from peers can run at the same time; keep state that changes in a \
                             `Mutex`, `RwLock` or atomic field (interior mutability)"
                    ),
                ));
            } else if r.reference.is_none() {
                errors.push(syn::Error::new_spanned(
                    r,
                    format!(
                        "`{ident}` takes `self` by value, but RPC methods take `&self`: the \
                             target is shared by every stub that refers to it and can't be \
                             consumed by a call; take `&self`, or mark the method `#[rpc(skip)]`"
                    ),
                ));
            }
        }
        _ => {
            let what = if in_trait { "trait method" } else { "function" };
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "`{ident}` has no `self`, but an RPC method is called on an object: \
                         take `&self` as the first parameter, or mark the {what} `#[rpc(skip)]` \
                         to leave it out of RPC"
                ),
            ));
        }
    }

    check_generics(&sig.generics, &format!("the RPC method `{ident}`"), errors);
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
                unsafety,
                format!("the RPC method `{ident}` can't be `unsafe`: a peer could call it; make it safe or mark it `#[rpc(skip)]`"),
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            format!("the RPC method `{ident}` can't declare an ABI; remove `extern`"),
        ));
    }

    // The parameters: plain names, owned types.
    let mut params = Vec::new();
    for input in sig.inputs.iter().skip(1) {
        let FnArg::Typed(pt) = input else { continue };
        let name = match &*pt.pat {
            Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => Some(pi.ident.clone()),
            other => {
                let example = match &*pt.ty {
                    Type::Tuple(_) => "`point: (i32, i32)` and `let (x, y) = point;`",
                    _ => "`value: T` and destructure it inside the method",
                };
                errors.push(syn::Error::new_spanned(
                    other,
                    format!(
                        "an RPC parameter needs a plain name, not a pattern: the name is \
                             used by the generated client method and in error messages; write \
                             {example}"
                    ),
                ));
                None
            }
        };
        check_type(&pt.ty, Position::Argument, stub, errors);
        if let Some(name) = name {
            params.push(Param {
                name,
                ty: (*pt.ty).clone(),
            });
        }
    }

    // The output: a value, a `Result`, or a future of either.
    let mut is_async = sig.asyncness.is_some();
    let output = match &sig.output {
        ReturnType::Default => Output::Unit,
        ReturnType::Type(_, ty) => {
            let mut ty: &Type = ty;
            if let Some((inner, send)) = impl_future_output(ty) {
                is_async = true;
                if in_trait && !send {
                    errors.push(syn::Error::new_spanned(
                        ty,
                        "add `+ Send` to this `impl Future`: the dispatch runs the future \
                             on a multi-threaded runtime (or write `async fn`, which the macro \
                             makes `Send`)",
                    ));
                }
                match inner {
                    Some(inner) => ty = inner,
                    None => {
                        errors.push(syn::Error::new_spanned(
                            ty,
                            "write the future's output: `impl Future<Output = T> + Send`",
                        ));
                    }
                }
            }
            check_type(ty, Position::Return, stub, errors);
            output_of(ty)
        }
    };

    let kind = if mattr.property.is_some() {
        Kind::Property
    } else {
        Kind::Method
    };
    if kind == Kind::Property {
        if let Some(first) = params.first() {
            errors.push(syn::Error::new_spanned(
                &first.name,
                format!(
                    "`{ident}` is a property, and a property can't take arguments (it is \
                         read, not called): remove the parameters, or remove \
                         `#[rpc(property)]` to make it a method"
                ),
            ));
        }
    }

    let rust_name = ident.to_string();
    let rust_name = rust_name.strip_prefix("r#").unwrap_or(&rust_name);
    if let Some((_, what)) = RESERVED.iter().find(|(n, _)| *n == rust_name) {
        let what = what.replace("{stub}", &stub.to_string());
        errors.push(syn::Error::new(
            ident.span(),
            format!(
                "the method name `{rust_name}` clashes with {what}: the client method on \
                     `{stub}` keeps the Rust name, so `#[rpc(name = \"…\")]` alone does not \
                     help; rename the method (e.g. `{rust_name}_item`) and keep the old wire \
                     name with `#[rpc(name = \"{wire}\")]` if peers use it",
                wire = mattr
                    .name
                    .as_ref()
                    .map(|l| l.value())
                    .unwrap_or_else(|| rule.apply(rust_name)),
            ),
        ));
    }

    let wire = match &mattr.name {
        Some(lit) => lit.value(),
        None => rule.apply(&ident.to_string()),
    };
    let wire_span = mattr
        .name
        .as_ref()
        .map(|l| l.span())
        .unwrap_or(ident.span());

    (errors.count() == errors_before).then(|| Method {
        ident: ident.clone(),
        wire,
        wire_span,
        kind,
        is_async,
        params,
        output,
        docs: docs(attrs),
        cfgs: attrs
            .iter()
            .filter(|a| a.path().is_ident("cfg"))
            .cloned()
            .collect(),
    })
}

/// Two methods with one wire name: the error points at the second and names the first.
fn check_unique(methods: &[Method], errors: &mut Errors) {
    let mut seen: HashMap<&str, &Method> = HashMap::new();
    for m in methods {
        if let Some(first) = seen.get(m.wire.as_str()) {
            errors.push(syn::Error::new(
                m.wire_span,
                format!(
                    "`{}` has the wire name \"{}\", which `{}` already has: peers could not tell \
                     them apart; give one of them another name with `#[rpc(name = \"…\")]`",
                    m.ident, m.wire, first.ident
                ),
            ));
        } else {
            seen.insert(&m.wire, m);
        }
    }
}

/// Peels the invisible groups and parentheses a `macro_rules!` substitution may leave.
fn peel(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Group(g) => ty = &g.elem,
            Type::Paren(p) => ty = &p.elem,
            _ => return ty,
        }
    }
}

/// For `impl Future<Output = R> [+ Send]`: `Some((Some(R), has_send))`.
fn impl_future_output(ty: &Type) -> Option<(Option<&Type>, bool)> {
    let Type::ImplTrait(it) = peel(ty) else {
        return None;
    };
    let mut output = None;
    let mut is_future = false;
    let mut send = false;
    for bound in &it.bounds {
        let TypeParamBound::Trait(tb) = bound else {
            continue;
        };
        let Some(last) = tb.path.segments.last() else {
            continue;
        };
        if last.ident == "Send" {
            send = true;
        }
        if last.ident == "Future" {
            is_future = true;
            if let PathArguments::AngleBracketed(args) = &last.arguments {
                for arg in &args.args {
                    if let GenericArgument::AssocType(at) = arg {
                        if at.ident == "Output" {
                            output = Some(&at.ty);
                        }
                    }
                }
            }
        }
    }
    is_future.then_some((output, send))
}

/// How a return type is encoded. `Result<T, E>` is recognized by its last path segment:
/// `Result` with two type arguments, or with one (an alias such as `io::Result<T>` or
/// `anyhow::Result<T>`, whose error type the compiler then checks for `Into<RpcError>`).
fn output_of(ty: &Type) -> Output {
    let ty = peel(ty);
    if let Type::Tuple(t) = ty {
        if t.elems.is_empty() {
            return Output::Unit;
        }
    }
    if let Type::Path(tp) = ty {
        if tp.qself.is_none() {
            if let Some(last) = tp.path.segments.last() {
                if last.ident == "Result" {
                    if let PathArguments::AngleBracketed(args) = &last.arguments {
                        let types: Vec<&Type> = args
                            .args
                            .iter()
                            .filter_map(|a| match a {
                                GenericArgument::Type(t) => Some(t),
                                _ => None,
                            })
                            .collect();
                        if types.len() == 1 || types.len() == 2 {
                            return Output::Result(types[0].clone());
                        }
                    }
                }
            }
        }
    }
    Output::Value(ty.clone())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    Argument,
    Return,
}

/// Checks that `ty` is owned, concrete and free of `Self`.
fn check_type(ty: &Type, position: Position, stub: &Ident, errors: &mut Errors) {
    let mut check = TypeCheck {
        position,
        stub,
        errors: Vec::new(),
        depth: 0,
    };
    check.visit_type(ty);
    for e in check.errors {
        errors.push(e);
    }
}

struct TypeCheck<'a> {
    position: Position,
    stub: &'a Ident,
    errors: Vec<syn::Error>,
    depth: usize,
}

impl<'ast> Visit<'ast> for TypeCheck<'_> {
    fn visit_type(&mut self, ty: &'ast Type) {
        self.depth += 1;
        syn::visit::visit_type(self, ty);
        self.depth -= 1;
    }

    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        let top = self.depth == 1;
        let elem = peel(&r.elem);
        let owned = match elem {
            Type::Path(p) if p.path.is_ident("str") => "String".to_owned(),
            Type::Slice(s) => format!("Vec<{}>", s.elem.to_token_stream()),
            other => other.to_token_stream().to_string(),
        };
        let message = match (self.position, top) {
            (Position::Argument, true) => format!(
                "RPC arguments can't be references: each argument is decoded from the message \
                 into a new value that the method owns; take `{owned}` instead"
            ),
            (Position::Argument, false) => format!(
                "RPC arguments can't contain references: each argument is decoded from the \
                 message into a new value; use `{owned}` here instead"
            ),
            (Position::Return, _) => format!(
                "an RPC method can't return a reference: the result is sent to the peer, and \
                 the client decodes its own copy; return `{owned}` instead"
            ),
        };
        self.errors.push(syn::Error::new_spanned(r, message));
    }

    fn visit_type_impl_trait(&mut self, it: &'ast syn::TypeImplTrait) {
        let message = match self.position {
            Position::Argument => {
                "`impl Trait` arguments are generic, and RPC methods can't be \
                                   generic: the peer sends plain values; take a concrete type"
            }
            Position::Return => {
                "RPC methods can't return `impl Trait` (other than \
                                 `impl Future<Output = T> + Send`): the client needs the \
                                 concrete type to decode the result; name the type"
            }
        };
        self.errors.push(syn::Error::new_spanned(it, message));
    }

    fn visit_type_trait_object(&mut self, t: &'ast syn::TypeTraitObject) {
        self.errors.push(syn::Error::new_spanned(
            t,
            "trait objects can't cross RPC: values are sent as data; use a concrete type, or a \
             stub type (`#[rpc_target] trait …` generates one) to pass an object by reference",
        ));
    }

    fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
        if p.qself.is_none() && p.path.segments.first().is_some_and(|s| s.ident == "Self") {
            self.errors.push(syn::Error::new_spanned(
                p,
                format!(
                    "`Self` can't appear in an RPC signature: the same signature is generated on \
                     `{stub}`, where `Self` would mean the stub; write the type out (to send an \
                     object by reference, use `{stub}`)",
                    stub = self.stub
                ),
            ));
            return;
        }
        syn::visit::visit_type_path(self, p);
    }

    fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
        if l.ident != "static" {
            self.errors.push(syn::Error::new_spanned(
                l,
                "RPC signatures can't borrow (lifetime parameters): use owned types",
            ));
        }
    }

    fn visit_expr(&mut self, _: &'ast syn::Expr) {
        // Array lengths and const arguments: not types, nothing to check.
    }
}

/// The private path for the runtime crate found under `name` (`::capnweb`, `::cw`).
pub(crate) fn private_path(krate: &syn::Path) -> TokenStream {
    quote!(#krate::__private)
}
