//! The one model both forms (`impl Api { … }` and `trait Listener { … }`) are parsed into, and
//! every `render_*` module reads.

use proc_macro2::TokenStream;
use syn::{Attribute, Ident, Type, Visibility};

/// A target: what is exposed, under which names, and what to call the generated stub.
pub(crate) struct Target {
    /// Which form, and what the dispatch calls into.
    pub(crate) form: Form,
    /// The type's or trait's name (`Api`): used in error messages and for `type_name`.
    pub(crate) name: Ident,
    /// The stub type's name (`ApiStub`).
    pub(crate) stub: Ident,
    /// The stub type's visibility.
    pub(crate) stub_vis: Visibility,
    /// The path to the runtime's hidden module: `::capnweb::__private` (or the renamed crate's).
    pub(crate) private: TokenStream,
    /// The doc comments of the impl block or trait, copied onto the stub.
    pub(crate) docs: Vec<Attribute>,
    /// The exposed methods and properties, in source order.
    pub(crate) methods: Vec<Method>,
}

/// The two forms the attribute accepts.
pub(crate) enum Form {
    /// `impl Api { … }`: `Api` is the target itself.
    Impl {
        /// The implemented type as written (`Api`, `crate::Api`).
        self_ty: Box<Type>,
    },
    /// `trait Listener { … }`: any implementation is a target, through a hidden adapter.
    Trait,
}

/// One exposed method or property.
pub(crate) struct Method {
    /// The Rust name (kept by the client method).
    pub(crate) ident: Ident,
    /// The name on the wire.
    pub(crate) wire: String,
    /// Where the wire name comes from (the `name = "…"` literal, or the method's name).
    pub(crate) wire_span: proc_macro2::Span,
    /// Called, or read as a property.
    pub(crate) kind: Kind,
    /// Whether the method produces a future (`async fn`, or `-> impl Future<Output = R>`).
    pub(crate) is_async: bool,
    /// The parameters after `&self`.
    pub(crate) params: Vec<Param>,
    /// What the method returns.
    pub(crate) output: Output,
    /// `#[doc]` attributes, copied onto the client method.
    pub(crate) docs: Vec<Attribute>,
    /// `#[cfg]` attributes, copied onto the dispatch arm and the client method.
    pub(crate) cfgs: Vec<Attribute>,
}

/// Called or read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Method,
    Property,
}

/// A parameter: a plain name and an owned type.
pub(crate) struct Param {
    pub(crate) name: Ident,
    pub(crate) ty: Type,
}

/// A method's result, as the dispatch encodes it and the client decodes it.
pub(crate) enum Output {
    /// No return type, or `()`: the peer receives `undefined`.
    Unit,
    /// `T`: encoded with `encode`, decoded as `T`.
    Value(Type),
    /// `Result<T, E>` (or a one-argument alias such as `io::Result<T>`): `Ok(T)` is encoded,
    /// `Err(E)` becomes the call's error through `E: Into<RpcError>`; the client sees `T`.
    Result(Type),
}

impl Output {
    /// The type a client's promise resolves to. A method that returns a promise
    /// (`RpcPromise<T>`, possibly inside `Result`) resolves, for its caller, to `T`.
    pub(crate) fn client_type(&self) -> TokenStream {
        match self.client_ty() {
            None => quote::quote!(()),
            Some(ty) => quote::quote!(#ty),
        }
    }

    /// [`client_type`](Self::client_type) as written, or `None` for no return type.
    pub(crate) fn client_ty(&self) -> Option<&Type> {
        match self {
            Output::Unit => None,
            Output::Value(ty) | Output::Result(ty) => Some(promised(ty)),
        }
    }
}

/// `T` for `RpcPromise<T>` (by the last path segment), else the type itself.
fn promised(ty: &Type) -> &Type {
    if let Type::Path(path) = ty {
        if let Some(last) = path.path.segments.last() {
            if last.ident == "RpcPromise" {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                    if let [syn::GenericArgument::Type(inner)] =
                        args.args.iter().collect::<Vec<_>>()[..]
                    {
                        return promised(inner);
                    }
                }
            }
        }
    }
    ty
}
