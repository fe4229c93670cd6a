//! The `#[rpc_target]` attribute macro for [`capnweb`](https://docs.rs/capnweb).
//!
//! Use it through `capnweb::rpc_target`; this crate is an implementation detail.
//!
//! The pipeline: `attributes` (the strict `#[rpc_target(...)]`/`#[rpc(...)]` parsers) →
//! `parse` (the item into the one `model` both forms share, with every check) →
//! `render_*` (one module per generated part: `render_dispatch` the `RpcTarget` impl,
//! `render_stub` the typed stub, `render_trait` the trait form's rewrite and adapter).
//! When any check fails, only the errors and the item as written are emitted, so no
//! follow-up error hides the real one.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::{Ident, Item};

mod attributes;
mod errors;
mod model;
mod parse;
mod rename;
mod render_dispatch;
mod render_stub;
mod render_trait;

use attributes::TargetAttr;
use errors::Errors;

/// Turns an `impl` block or a trait into a Cap'n Web RPC target with a typed client stub.
///
/// # On an impl block
///
/// ```ignore
/// use capnweb::{rpc_target, RpcError};
///
/// pub struct Api;
///
/// #[rpc_target]
/// impl Api {
///     pub async fn add(&self, a: i64, b: i64) -> i64 { a + b }         // wire name "add"
///     pub fn square(&self, x: f64) -> f64 { x * x }                     // sync: runs on arrival
///     pub async fn get_user(&self, id: u64) -> Result<UserStub, RpcError> {
///         Ok(UserStub::new(User { id }))                                // a stub: by reference
///     }
///     pub async fn list_user_ids(&self) -> Vec<u64> { vec![1, 2, 3] }   // "listUserIds"
///     #[rpc(property)]
///     pub fn version(&self) -> String { "1.0".into() }                  // read, not called
///     pub fn new() -> Api { Api }                                       // no `self`: not exposed
/// }
/// ```
///
/// The impl block is kept as written (minus the `#[rpc(...)]` attributes). Exposed are the
/// `pub` methods that take `&self`; methods that are not `pub` (`pub(crate)` included),
/// associated functions without `self`, and methods marked `#[rpc(skip)]` are not. Generated:
///
/// * `impl RpcTarget for Api`: `call` dispatches on the wire name, decodes the arguments in
///   order (a wrong type, a missing or an extra argument is a `TypeError` naming the method
///   and the argument), runs a sync method at once (so calls start in arrival order) or boxes
///   an async one, and encodes the result; an unknown method is a `TypeError`. `get` reads the
///   properties; an unknown property reads as `undefined`, as in JavaScript. `type_name` is
///   `"Api"`.
/// * `pub struct ApiStub(Stub)`, `Clone + Debug`, with:
///   * `ApiStub::new(target: Api) -> ApiStub` and `ApiStub::from_arc(target: Arc<Api>) -> ApiStub`;
///   * per exposed method, a client method with the same Rust name, each parameter
///     `impl IntoArg<T>` (the value, or an `RpcPromise<T>`, for pipelining), returning
///     `RpcPromise<R>` at once: `fn add(&self, a: impl IntoArg<i64>, b: impl IntoArg<i64>)
///     -> RpcPromise<i64>`; properties are read with a property get. The method's doc
///     comments and `#[cfg]`s are copied.
///   * `FromStub`, `TypedStub`, `From<ApiStub> for Stub`, `Serialize` and `Deserialize`, so a
///     stub is a parameter or a result of other targets' methods (passed by reference), and
///     `RpcPromise<ApiStub>` dereferences to a pipelined `ApiStub`.
///
/// The return type decides how the result is encoded:
///
/// * none, or `()`: the peer gets `undefined`; the client gets `RpcPromise<()>`;
/// * `Result<T, E>` (recognized by its last path segment: `Result` with two type arguments, or
///   with one, for aliases such as `io::Result<T>`): `Ok` is encoded, `Err` becomes the call's
///   error through `E: Into<RpcError>`; the client gets `RpcPromise<T>`;
/// * any other `T: Serialize`: encoded; the client gets `RpcPromise<T>`;
/// * `async fn … -> R`, or `fn … -> impl Future<Output = R> + Send`: as `R`, once awaited.
///
/// # On a trait
///
/// ```ignore
/// #[rpc_target]
/// pub trait Listener {
///     async fn on_message(&self, text: String);
///     fn count(&self) -> u32;
/// }
/// ```
///
/// Every method is exposed (unless `#[rpc(skip)]`) and must take `&self`. The trait is emitted
/// with each exposed `async fn` rewritten to `fn … -> impl Future<Output = R> + Send` (so the
/// dispatch can box it; implementations may still write `async fn`), and with the supertraits
/// `Send + Sync + 'static`. `ListenerStub` has the same API as above, except its constructors
/// are generic: `ListenerStub::new(impl Listener)` and `ListenerStub::from_arc(Arc<impl
/// Listener>)` wrap any implementation in a hidden adapter that implements `RpcTarget`.
///
/// # Keys
///
/// `#[rpc_target(...)]`:
/// * `rename_all = "camelCase"` (default) | `"snake_case"` | `"PascalCase"` |
///   `"SCREAMING_SNAKE_CASE"` | `"kebab-case"`: wire names from Rust names;
/// * `stub = "Name"`: the stub type's name (default: the type's or trait's name + `Stub`);
/// * `vis = "pub(crate)"`: the stub type's visibility (default: `pub` for an impl block, the
///   trait's own for a trait); set it when the type is private, so that the stub is no more
///   visible than what it wraps;
/// * `crate = "::path"`: the runtime crate's path (default: found in `Cargo.toml`, so a
///   renamed dependency works; `::capnweb` if not found).
///
/// `#[rpc(...)]` on a method: `name = "wireName"` (overrides `rename_all`), `property`,
/// `skip`.
///
/// # Refused, with an error that names the fix
///
/// Generic impl blocks, traits or methods (and `impl Trait` arguments, associated types);
/// `&mut self` (use interior mutability); `self` by value, or no `self` on an exposed method;
/// references in arguments or results (`&str`: take `String`); patterns as parameters; `Self`
/// in a signature; a property with parameters; two methods with one wire name; a method named
/// like a generated item (`new`, `from_arc`, `from_stub`, `as_untyped`, `clone`, …: the
/// client method keeps the Rust name, so rename it); unknown or malformed keys; the attribute
/// on anything but an impl block or a trait, or on a trait's implementation. After any error
/// only the errors and the item are emitted, so no follow-up errors pile up.
///
/// The generated code names everything through `::capnweb::__private` (or the renamed crate),
/// so it compiles under `#![no_implicit_prelude]` and beside items that shadow prelude names.
#[proc_macro_attribute]
pub fn rpc_target(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into()).into()
}

fn expand(attr: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut errors = Errors::default();
    let args = TargetAttr::parse(attr, &mut errors);
    let mut item: Item = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(e) => {
            let e = e.to_compile_error();
            return quote!(#e #item);
        }
    };
    let krate = args.krate.clone().unwrap_or_else(runtime_crate);
    let private = parse::private_path(&krate);
    let target = parse::target(&mut item, args, private, &mut errors);

    let target = match (errors.finish(), target) {
        (Ok(()), Some(target)) => target,
        (Err(e), _) => {
            // The item as written (minus the helper attributes) and nothing else: the errors
            // stand alone, with no follow-up errors from half-generated code.
            let e = e.to_compile_error();
            return quote!(#e #item);
        }
        (Ok(()), None) => return quote!(#item),
    };

    let stub = render_stub::stub(&target);
    match &mut item {
        Item::Trait(tr) => {
            render_trait::rewrite(&target, tr);
            let adapter = render_trait::adapter(&target);
            quote!(#tr #stub #adapter)
        }
        _ => {
            let dispatch = render_dispatch::impl_target(&target);
            quote!(#item #dispatch #stub)
        }
    }
}

/// `tokens` with every span set to `span`: for generated paths whose errors should point at
/// the user's tokens (a bound `impl IntoArg<T>` reported at the parameter's type).
fn respan(tokens: &TokenStream2, span: Span) -> TokenStream2 {
    tokens
        .clone()
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(&g.stream(), span));
                group.set_span(span);
                tt = proc_macro2::TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// The path of the runtime crate in the crate being compiled: `::capnweb`, or the name it is
/// renamed to in `Cargo.toml` (`cw = { package = "capnweb", … }` gives `::cw`).
///
/// Inside the `capnweb` package itself (its doctests and examples) this is `::capnweb` too; the
/// library proper would need `extern crate self as capnweb;` to use the macro.
fn runtime_crate() -> syn::Path {
    match proc_macro_crate::crate_name("capnweb") {
        Ok(proc_macro_crate::FoundCrate::Name(name)) => {
            let ident = Ident::new(&name, Span::call_site());
            syn::parse_quote!(::#ident)
        }
        _ => syn::parse_quote!(::capnweb),
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn expand_to_file(attr: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> syn::File {
        let out = super::expand(attr, item);
        syn::parse2(out.clone()).unwrap_or_else(|e| panic!("expansion does not parse: {e}\n{out}"))
    }

    #[test]
    fn impl_form_expands_to_items() {
        let file = expand_to_file(
            quote!(crate = "::capnweb"),
            quote! {
                impl Api {
                    /// Adds.
                    pub async fn add(&self, a: i64, b: i64) -> i64 { a + b }
                    pub fn square(&self, x: f64) -> Result<f64, RpcError> { Ok(x * x) }
                    #[rpc(property)]
                    pub fn version(&self) -> String { "1".into() }
                    pub fn log(&self, line: String) {}
                }
            },
        );
        if std::env::var_os("SHOW_EXPANSION").is_some() {
            println!("{}", quote!(#file));
        }
        // The impl as written, `impl RpcTarget`, the stub struct, its impls.
        assert!(file.items.len() >= 8, "{} items", file.items.len());
    }

    #[test]
    fn trait_form_expands_to_items() {
        let file = expand_to_file(
            quote!(crate = "::capnweb"),
            quote! {
                pub trait Listener {
                    async fn on_message(&self, text: String);
                    fn count(&self) -> u32;
                }
            },
        );
        if std::env::var_os("SHOW_EXPANSION").is_some() {
            println!("{}", quote!(#file));
        }
        let syn::Item::Trait(tr) = &file.items[0] else {
            panic!("the trait comes first")
        };
        assert_eq!(tr.supertraits.len(), 3);
    }

    #[test]
    fn errors_come_alone_with_the_item() {
        let out = super::expand(
            quote!(),
            quote! {
                impl Api {
                    #[rpc(name = "x")]
                    pub fn add(&mut self) {}
                }
            },
        );
        let text = out.to_string();
        assert!(text.contains("compile_error"));
        assert!(
            !text.contains("RpcTarget"),
            "nothing generated after an error: {text}"
        );
        assert!(
            !text.contains("# [rpc"),
            "helper attributes removed: {text}"
        );
    }
}
