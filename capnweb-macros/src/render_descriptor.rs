//! The descriptor: what a peer can call on the target, as data (`capnweb::describe`), and the
//! stub's TypeScript form (`capnweb::typescript`). Both only with capnweb's `typescript`
//! feature: the macro cannot see capnweb's features, so it wraps them in
//! `typescript_only! { … }`, which capnweb defines as the identity with the feature and as
//! nothing without it.
//!
//! ```text
//! typescript_only! {
//!     impl TS for ApiStub {                                  // always: no bounds
//!         fn name(_) -> String { "Api" }                    // paths written out in full:
//!                                                             // no prelude is assumed
//!         fn decl(_) -> String {                             // the interface, or a panic
//!             (&&Probe::<Self>::NEW).declaration(&[("Todo", (&&Probe::<Todo>::NEW).has_form()), …])
//!         }
//!         fn visit_dependencies(v) { (&&Probe::<Self>::NEW).visit_types(v) }
//!         …
//!     }
//!     impl TargetTypes<NoHops> for ApiStub {}                // the check of reached targets,
//!     impl<H> TargetTypes<Hop<H>> for ApiStub                 // one hop shorter each step
//!     where for<'a> Todo: HasTypeScript, …, UserStub: TargetTypes<H> {}
//!     impl Describe for ApiStub
//!     where for<'a> i64: HasTypeScript, for<'a> Todo: HasTypeScript, …   // checked where used
//!         for<'a> ApiStub: TargetTypes<Hops>,
//!     {
//!         fn descriptor() -> TargetDescriptor { target("Api", &[docs], vec![method("add", …)]) }
//!         fn visit_types(v) { visit::<i64>(v); visit::<Todo>(v); … }
//!     }
//! }
//! ```
//!
//! The bounds are higher-ranked (`for<'a>`) so that the compiler checks them where the impl is
//! used (`declarations::<ApiStub>()`), not here: a crate whose types have no TypeScript form
//! still compiles when another crate turns the feature on.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Meta};

use crate::model::{Kind, Output, Target};
use crate::respan;

/// The `TS` and `Describe` impls for the stub, inside `typescript_only!`.
pub(crate) fn descriptor(target: &Target) -> TokenStream {
    let p = &target.private;
    let ts = quote!(#p::typescript);
    let stub = &target.stub;
    let name = target.name.to_string();
    let file = format!("{name}.ts");
    let target_docs = doc_values(&target.docs);

    // Every type in a signature, once per use, for the bounds and the visit.
    let mut types = Vec::new();
    // The stubs named in a signature: the targets a peer reaches from this one.
    let mut reached: Vec<syn::Path> = Vec::new();
    let members = target.methods.iter().map(|m| {
        let wire = &m.wire;
        let docs = doc_values(&m.docs);
        let cfgs = &m.cfgs;
        let client_type = m.output.client_type();
        // `()`, also as `Result<(), E>`: the peer receives `undefined`.
        let unit = matches!(m.output, Output::Unit) || client_type.to_string() == "()";
        let result = if unit {
            quote!(#ts::void())
        } else {
            if let Some(ty) = m.output.client_ty() {
                stubs_in(ty, &mut reached);
            }
            types.push(client_type.clone());
            quote!(#ts::type_of::<#client_type>())
        };
        let member = match m.kind {
            Kind::Property => quote!(#ts::property(#wire, &[#(#docs),*], #result)),
            Kind::Method => {
                let params = m.params.iter().map(|param| {
                    let ty = &param.ty;
                    stubs_in(ty, &mut reached);
                    types.push(quote!(#ty));
                    let rust = param.name.to_string();
                    let rust = rust.strip_prefix("r#").unwrap_or(&rust).to_owned();
                    quote!(#ts::param(#rust, #ts::type_of::<#ty>()))
                });
                quote!(#ts::method(#wire, &[#(#docs),*], <[_]>::into_vec(#p::Box::new([#(#params),*])), #result))
            }
        };
        quote! {
            #(#cfgs)*
            #p::Vec::push(&mut members, #member);
        }
    });
    let members: Vec<TokenStream> = members.collect();

    // Spanned at the type, so that "`Todo` has no TypeScript form" points at it too.
    let bounds = types.iter().map(|ty| {
        let ts = respan(&ts, ty.span());
        quote_spanned!(ty.span()=> for<'__capnweb> #ty: #ts::HasTypeScript)
    });
    // Checked as deep as `Hops` allows, each hop one target further: a bound on the stub
    // itself would be an endless cycle for the trait solver when targets refer to each other.
    let mut seen = std::collections::HashSet::new();
    reached.retain(|path| seen.insert(quote!(#path).to_string()));
    let reached_bounds = reached.iter().map(|path| {
        let ts = respan(&ts, path.span());
        quote_spanned!(path.span()=> #path: #ts::TargetTypes<__CapnwebHops>)
    });
    let bounds: Vec<TokenStream> = bounds.collect();
    let visits = types
        .iter()
        .map(|ty| quote!(#ts::visit::<#ty, _>(visitor);));
    // For the message when this target is reached from another and a type has no form.
    let signature = types.iter().map(|ty| {
        let text = type_text(ty);
        quote!((#text, (&&#ts::Probe::<#ty>::NEW).has_form()))
    });

    quote! {
        #p::typescript_only! {
            impl #ts::TS for #stub {
                type WithoutGenerics = Self;
                type OptionInnerType = Self;

                fn name(_: &#ts::Config) -> #p::String {
                    <#p::String as #p::From<&str>>::from(#name)
                }

                fn inline(config: &#ts::Config) -> #p::String {
                    <Self as #ts::TS>::name(config)
                }

                fn docs() -> #p::Option<#p::String> {
                    #[allow(unused_imports)]
                    use #ts::{Undescribed as _, ViaDescribe as _};
                    (&&#ts::Probe::<Self>::NEW).jsdoc()
                }

                fn decl(_: &#ts::Config) -> #p::String {
                    #[allow(unused_imports)]
                    use #ts::{HasForm as _, NoForm as _, Undescribed as _, ViaDescribe as _};
                    (&&#ts::Probe::<Self>::NEW).declaration(&[#(#signature),*])
                }

                fn decl_concrete(config: &#ts::Config) -> #p::String {
                    <Self as #ts::TS>::decl(config)
                }

                fn output_path() -> #p::Option<#ts::PathBuf> {
                    #p::Some(<#ts::PathBuf as #p::From<&str>>::from(#file))
                }

                fn visit_dependencies(visitor: &mut impl #ts::TypeVisitor)
                where
                    Self: 'static,
                {
                    #[allow(unused_imports)]
                    use #ts::{Undescribed as _, ViaDescribe as _};
                    (&&#ts::Probe::<Self>::NEW).visit_types(visitor)
                }
            }

            impl #ts::TargetTypes<#ts::NoHops> for #stub {}

            impl<__CapnwebHops> #ts::TargetTypes<#ts::Hop<__CapnwebHops>> for #stub
            where
                #(#bounds,)*
                #(#reached_bounds,)*
            {}

            impl #ts::Describe for #stub
            where
                #(#bounds,)*
                for<'__capnweb> #stub: #ts::TargetTypes<#ts::Hops>,
            {
                fn descriptor() -> #ts::TargetDescriptor {
                    #[allow(unused_mut)]
                    let mut members = #p::Vec::new();
                    #(#members)*
                    #ts::target(#name, &[#(#target_docs),*], members)
                }

                fn visit_types(visitor: &mut impl #ts::TypeVisitor)
                where
                    Self: 'static,
                {
                    #(#visits)*
                    let _ = visitor;
                }
            }
        }
    }
}

/// The paths in `ty` that name a stub (`UserStub`, `crate::api::UserStub`: a last segment
/// that ends in `Stub`, other than the untyped `Stub`), in `Vec<UserStub>` and the like too.
/// By name, because a bound cannot ask whether a type is a stub: a stub renamed with
/// `stub = "…"` is found when the declarations are made instead.
fn stubs_in(ty: &syn::Type, out: &mut Vec<syn::Path>) {
    use syn::{GenericArgument, PathArguments, Type};
    match ty {
        Type::Path(type_path) if type_path.qself.is_none() => {
            let path = &type_path.path;
            for segment in &path.segments {
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let GenericArgument::Type(inner) = arg {
                            stubs_in(inner, out);
                        }
                    }
                }
            }
            if let Some(last) = path.segments.last() {
                let name = last.ident.to_string();
                if name.len() > "Stub".len()
                    && name.ends_with("Stub")
                    && matches!(last.arguments, PathArguments::None)
                {
                    out.push(path.clone());
                }
            }
        }
        Type::Array(array) => stubs_in(&array.elem, out),
        Type::Slice(slice) => stubs_in(&slice.elem, out),
        Type::Reference(reference) => stubs_in(&reference.elem, out),
        Type::Paren(paren) => stubs_in(&paren.elem, out),
        Type::Group(group) => stubs_in(&group.elem, out),
        Type::Tuple(tuple) => tuple.elems.iter().for_each(|elem| stubs_in(elem, out)),
        _ => {}
    }
}

/// The values of `#[doc = …]` attributes (a literal, or a macro such as `include_str!`).
fn doc_values(attrs: &[Attribute]) -> Vec<&Expr> {
    attrs
        .iter()
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(nv) if nv.path.is_ident("doc") => Some(&nv.value),
            _ => None,
        })
        .collect()
}

/// A type as written, for a message: `Vec<Todo>`, not `Vec < Todo >`.
fn type_text(ty: &TokenStream) -> String {
    let mut text = ty.to_string();
    for (spaced, tight) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
    ] {
        text = text.replace(spaced, tight);
    }
    text
}

#[cfg(test)]
mod tests {
    use quote::quote;

    #[test]
    fn stubs_are_found_inside_types() {
        let found = |ty: syn::Type| {
            let mut out = Vec::new();
            super::stubs_in(&ty, &mut out);
            out.iter()
                .map(|path| quote!(#path).to_string().replace(' ', ""))
                .collect::<Vec<_>>()
        };
        assert_eq!(found(syn::parse_quote!(UserStub)), ["UserStub"]);
        assert_eq!(
            found(syn::parse_quote!(
                Vec<(crate::api::UserStub, Option<ListenerStub>)>
            )),
            ["crate::api::UserStub", "ListenerStub"]
        );
        assert!(found(syn::parse_quote!(capnweb::Stub)).is_empty());
        assert!(found(syn::parse_quote!(Vec<Stubborn>)).is_empty());
    }

    #[test]
    fn types_read_as_written() {
        assert_eq!(super::type_text(&quote!(Vec<Todo>)), "Vec<Todo>");
        assert_eq!(
            super::type_text(&quote!(std::collections::HashMap<String, Option<u64> >)),
            "std::collections::HashMap<String, Option<u64>>"
        );
        assert_eq!(super::type_text(&quote!((u8, [u8; 4]))), "(u8, [u8; 4])");
    }
}
