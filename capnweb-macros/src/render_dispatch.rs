//! The server side: `impl RpcTarget` — `call` and `get` match the wire name, decode the
//! arguments in order, run the method and encode its result.
//!
//! ```text
//! impl RpcTarget for Api {
//!     fn call(self: Arc<Self>, method: &str, args: Vec<Value>) -> CallFuture {
//!         match method {
//!             "add" => {
//!                 let mut decoder = match Args::new("Api.add", &["a", "b"], args) { … };
//!                 let p0 = match decoder.decode::<i64>() { Ok(v) => v, Err(e) => return ready(Err(e)) };
//!                 let p1 = …;
//!                 running(async move { encode(<Api>::add(&*self, p0, p1).await) })    // async
//!             }
//!             "square" => { …; ready(encode(<Api>::square(&*self, p0))) }              // sync: runs now
//!             _ => no_such_method("Api", method),
//!         }
//!     }
//!     fn get(self: Arc<Self>, property: &str) -> CallFuture { … }   // when there are properties
//!     fn type_name(&self) -> &'static str { "Api" }
//! }
//! ```
//!
//! The methods are called with a qualified path (`<Api>::add`, `<T as Listener>::on_message`),
//! never with method-call syntax, so a method named like one of `Arc`'s or `RpcTarget`'s
//! (`clone`, `call`, `get`) still means the user's method.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

use crate::model::{Form, Kind, Method, Output, Target};
use crate::respan;

/// How the dispatch reaches the user's code: the method's path, and the receiver expression.
pub(crate) struct Callee<'a> {
    /// `<Api>` or `<__Impl as Listener>`: the method's name is appended.
    pub(crate) qualifier: &'a TokenStream,
    /// `&*self` or `&*self.0`.
    pub(crate) receiver: &'a TokenStream,
}

/// `impl RpcTarget for Api { … }`, for the impl form.
pub(crate) fn impl_target(target: &Target) -> TokenStream {
    let Form::Impl { self_ty } = &target.form else {
        return TokenStream::new();
    };
    let p = &target.private;
    let qualifier = quote!(<#self_ty>);
    let receiver = quote!(&*self);
    let body = dispatch_fns(
        target,
        &Callee {
            qualifier: &qualifier,
            receiver: &receiver,
        },
    );
    quote! {
        impl #p::RpcTarget for #self_ty {
            #body
        }
    }
}

/// The body of an `impl RpcTarget`: `call`, `get` (when there are properties) and `type_name`.
pub(crate) fn dispatch_fns(target: &Target, callee: &Callee) -> TokenStream {
    let p = &target.private;
    let mixed = Span::mixed_site();
    let method = Ident::new("method", mixed);
    let property = Ident::new("property", mixed);
    let args = Ident::new("args", mixed);
    let name = target.name.to_string();

    let call_arms: Vec<TokenStream> = target
        .methods
        .iter()
        .filter(|m| m.kind == Kind::Method)
        .map(|m| arm(target, m, callee, &args))
        .collect();
    let unused_args = call_arms.is_empty().then(|| quote!(let _ = #args;));

    let get_arms: Vec<TokenStream> = target
        .methods
        .iter()
        .filter(|m| m.kind == Kind::Property)
        .map(|m| arm(target, m, callee, &args))
        .collect();
    let get = (!get_arms.is_empty()).then(|| {
        quote! {
            fn get(self: #p::Arc<Self>, #property: &str) -> #p::CallFuture {
                match #property {
                    #(#get_arms)*
                    _ => #p::ready(#p::Ok(#p::Value::Undefined)),
                }
            }
        }
    });

    quote! {
        fn call(
            self: #p::Arc<Self>,
            #method: &str,
            #args: #p::Vec<#p::Value>,
        ) -> #p::CallFuture {
            #unused_args
            match #method {
                #(#call_arms)*
                _ => #p::no_such_method(#name, #method),
            }
        }

        #get

        fn type_name(&self) -> &'static str {
            #name
        }
    }
}

/// One match arm: decode, invoke, encode. A property arm has no arguments to decode.
fn arm(target: &Target, m: &Method, callee: &Callee, args: &Ident) -> TokenStream {
    let p = &target.private;
    let mixed = Span::mixed_site();
    let wire = &m.wire;
    let cfgs = &m.cfgs;
    let decoder = Ident::new("decoder", mixed);
    let error = Ident::new("error", mixed);
    let value = Ident::new("value", mixed);
    let vars: Vec<Ident> = (0..m.params.len())
        .map(|i| Ident::new(&format!("p{i}"), mixed))
        .collect();

    let decode = if m.kind == Kind::Property {
        TokenStream::new()
    } else {
        let qualified = format!("{}.{}", target.name, m.wire);
        let names = m.params.iter().map(|param| {
            let n = param.name.to_string();
            n.strip_prefix("r#").map(str::to_owned).unwrap_or(n)
        });
        let next = m.params.iter().zip(&vars).map(|(param, var)| {
            let ty = &param.ty;
            // Spanned at the parameter's type: "`T: Deserialize` is not satisfied" points there.
            let decode = quote_spanned!(ty.span()=> #decoder.decode::<#ty>());
            quote! {
                let #var = match #decode {
                    #p::Ok(#value) => #value,
                    #p::Err(#error) => return #p::ready(#p::Err(#error)),
                };
            }
        });
        let binding = if m.params.is_empty() {
            quote!(_)
        } else {
            quote!(mut #decoder)
        };
        quote! {
            let #binding = match #p::Args::new(#qualified, &[#(#names),*], #args) {
                #p::Ok(#value) => #value,
                #p::Err(#error) => return #p::ready(#p::Err(#error)),
            };
            #(#next)*
        }
    };

    let ident = &m.ident;
    let qualifier = callee.qualifier;
    let receiver = callee.receiver;
    let span = m.ident.span();
    let call = quote_spanned!(span=> #qualifier::#ident(#receiver, #(#vars),*));
    // Spanned at the return type: "`T: Serialize` is not satisfied" points there.
    let encode = |result: TokenStream| match &m.output {
        Output::Unit => quote!({ #result; #p::Ok(#p::Value::Undefined) }),
        Output::Value(ty) | Output::Result(ty) => {
            let p = respan(p, ty.span());
            let encode = match &m.output {
                Output::Result(_) => quote_spanned!(ty.span()=> #p::encode_result),
                _ => quote_spanned!(ty.span()=> #p::encode),
            };
            // The argument is a variable located at the type, for the error's primary span.
            let output = Ident::new("output", mixed.located_at(ty.span()));
            quote!({
                let #output = #result;
                #encode(#output)
            })
        }
    };
    let invoke = if m.is_async {
        let encoded = encode(quote!(#call.await));
        // Spanned at the method: "future cannot be sent between threads safely" points there.
        let p = respan(p, span);
        quote_spanned!(span=> #p::running(async move { #encoded }))
    } else {
        // A sync method runs right here, before the session reads the next message.
        let encoded = encode(call);
        quote!(#p::ready(#encoded))
    };

    quote! {
        #(#cfgs)*
        #wire => {
            #decode
            #invoke
        }
    }
}
