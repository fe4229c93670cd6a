//! The trait form: the trait itself (rewritten so its futures are `Send`), and the hidden
//! adapter that makes any implementation an `RpcTarget`.
//!
//! ```text
//! pub trait Listener: Send + Sync + 'static {
//!     fn on_message(&self, text: String) -> impl Future<Output = ()> + Send;   // was `async fn`
//!     fn count(&self) -> u32;
//! }
//! const _: () = {
//!     struct __RpcTargetAdapter<T>(Arc<T>);
//!     impl<T: Listener> RpcTarget for __RpcTargetAdapter<T> { … }
//!     impl ListenerStub {
//!         pub fn new(target: impl Listener) -> Self;
//!         pub fn from_arc<T: Listener>(target: Arc<T>) -> Self;
//!     }
//! };
//! ```
//!
//! Implementations may still write `async fn`; the compiler then checks their futures are `Send`.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{parse_quote, Ident, ItemTrait, ReturnType, TraitItem};

use crate::model::Target;
use crate::render_dispatch::{dispatch_fns, Callee};

/// Rewrites the trait in place: every exposed `async fn` returns `impl Future + Send`, and the
/// trait gets the `Send + Sync + 'static` supertraits an `RpcTarget` needs.
pub(crate) fn rewrite(target: &Target, tr: &mut ItemTrait) {
    let p = &target.private;
    for item in &mut tr.items {
        let TraitItem::Fn(f) = item else { continue };
        if !target.methods.iter().any(|m| m.ident == f.sig.ident) {
            continue; // `#[rpc(skip)]`: left as written
        }
        let Some(asyncness) = f.sig.asyncness.take() else {
            continue;
        };
        let span = asyncness.span;
        let output = match &f.sig.output {
            ReturnType::Default => quote!(()),
            ReturnType::Type(_, ty) => quote!(#ty),
        };
        f.sig.output = parse_quote_spanned(
            span,
            quote! {
                -> impl #p::Future<Output = #output> + #p::Send
            },
        );
        if let Some(block) = &f.default {
            f.default = Some(parse_quote_spanned(span, quote!({ async move #block })));
        }
    }
    let bounds: [syn::TypeParamBound; 3] = [
        parse_quote!(#p::Send),
        parse_quote!(#p::Sync),
        parse_quote!('static),
    ];
    if tr.colon_token.is_none() {
        tr.colon_token = Some(Default::default());
    }
    tr.supertraits.extend(bounds);
}

fn parse_quote_spanned<T: syn::parse::Parse>(span: Span, tokens: TokenStream) -> T {
    let respanned = quote_spanned!(span=> #tokens);
    // The tokens were built above from parsed pieces, so they parse.
    syn::parse2(respanned).unwrap_or_else(|e| panic!("capnweb-macros: bad generated tokens: {e}"))
}

/// The adapter struct, its `RpcTarget` impl and the stub's constructors, in an anonymous
/// const so that none of the helper names can collide with the user's.
pub(crate) fn adapter(target: &Target) -> TokenStream {
    let p = &target.private;
    let trait_name = &target.name;
    let stub = &target.stub;
    let adapter = Ident::new("__RpcTargetAdapter", Span::call_site());
    let generic = Ident::new("__RpcTargetImpl", Span::call_site());
    let qualifier = quote!(<#generic as #trait_name>);
    let receiver = quote!(&*self.0);
    let body = dispatch_fns(
        target,
        &Callee {
            qualifier: &qualifier,
            receiver: &receiver,
        },
    );
    let name = trait_name.to_string();
    let new_doc = format!(
        " Wraps a local implementation of `{name}`: call it through the stub, or pass the \
         stub to a peer, which then calls it by reference."
    );
    let arc_doc = format!(" Wraps a local implementation of `{name}` that is already shared.");

    quote! {
        const _: () = {
            struct #adapter<#generic>(#p::Arc<#generic>);

            impl<#generic: #trait_name> #p::RpcTarget for #adapter<#generic> {
                #body
            }

            impl #stub {
                #[doc = #new_doc]
                pub fn new(target: impl #trait_name) -> Self {
                    #stub::from_arc(#p::Arc::new(target))
                }

                #[doc = #arc_doc]
                pub fn from_arc<#generic: #trait_name>(target: #p::Arc<#generic>) -> Self {
                    #stub(#p::Stub::new(#adapter(target)))
                }
            }
        };
    }
}
