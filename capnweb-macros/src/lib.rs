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
