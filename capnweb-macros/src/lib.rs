//! The `#[rpc_target]` attribute macro for [`capnweb`](https://docs.rs/capnweb).
//!
//! Use it through `capnweb::rpc_target`; this crate is an implementation detail.
//!
//! The pipeline: [`attributes`] (the strict `#[rpc_target(...)]`/`#[rpc(...)]` parsers) →
//! [`parse`] (the item into the one [`model`] both forms share, with every check) →
//! `render_*` (one module per generated part: [`render_dispatch`] the `RpcTarget` impl,
//! [`render_stub`] the typed stub, [`render_trait`] the trait form's rewrite and adapter).
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
/// See the `capnweb` crate's documentation of `rpc_target` for the full rules. In short:
///
/// * On `impl Api { … }`: every `pub fn` taking `&self` is exposed under its camelCase name;
///   `impl RpcTarget for Api` and the stub `ApiStub` are generated.
/// * On `trait Listener { … }`: every method is exposed; `async fn`s become
///   `fn … -> impl Future<Output = R> + Send`, the trait gets `Send + Sync + 'static`, and
///   `ListenerStub::new(impl Listener)` wraps any implementation.
///
/// Keys: `#[rpc_target(crate = "::path", rename_all = "camelCase" | "snake_case" |
/// "PascalCase" | "SCREAMING_SNAKE_CASE" | "kebab-case", stub = "Name", vis = "pub(crate)")]`
/// and, on methods, `#[rpc(name = "wireName", property, skip)]`.
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
