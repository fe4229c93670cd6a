//! `#[derive(PipelineFields)]`: the view of a promised struct's fields (`TodoFields` for
//! `Todo`), one method per field the wire carries, and the `PipelineFields` impl that
//! `RpcPromise::fields` hands it out through.
//!
//! Wire names follow serde's attributes as the serializing side applies them (`rename`,
//! `rename_all`); `skip`/`skip_serializing` and `flatten` fields get no method (neither is a
//! property of the struct on the wire).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr};

use crate::attributes::SerdeAttr;
use crate::errors::Errors;
use crate::rename::RenameRule;

/// serde's `rename_all` spellings, in its documentation's order.
const SERDE_RULES: &[&str] = &[
    "lowercase",
    "UPPERCASE",
    "PascalCase",
    "camelCase",
    "snake_case",
    "SCREAMING_SNAKE_CASE",
    "kebab-case",
    "SCREAMING-KEBAB-CASE",
];

/// One field with a method in the view.
struct Field {
    ident: Ident,
    vis: syn::Visibility,
    ty: syn::Type,
    wire_name: String,
    docs: Vec<syn::Attribute>,
}

/// The whole expansion, or the errors alone.
pub(crate) fn derive(input: DeriveInput, private: &TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let fields = fields(&input, &mut errors);
    if let Err(e) = errors.finish() {
        return e.to_compile_error();
    }
    render(&input, &fields, private)
}

/// The fields that get a method, with their wire names; every problem goes to `errors`.
fn fields(input: &DeriveInput, errors: &mut Errors) -> Vec<Field> {
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named,
            other => {
                errors.push(syn::Error::new(
                    if matches!(other, Fields::Unit) {
                        input.ident.span()
                    } else {
                        other.span()
                    },
                    "`PipelineFields` needs a struct with named fields (a tuple or unit struct \
                     has no property to read on the wire): name the fields, or await the promise",
                ));
                return Vec::new();
            }
        },
        Data::Enum(e) => {
            errors.push(syn::Error::new(
                e.enum_token.span,
                "`PipelineFields` needs a struct with named fields: an enum's fields depend on \
                 the variant, unknown until the promise resolves; use `.map()` or await it",
            ));
            return Vec::new();
        }
        Data::Union(u) => {
            errors.push(syn::Error::new(
                u.union_token.span,
                "`PipelineFields` needs a struct with named fields, not a union",
            ));
            return Vec::new();
        }
    };
    let container = SerdeAttr::parse(&input.attrs, errors);
    if let Some(span) = container.transparent {
        errors.push(syn::Error::new(
            span,
            "`PipelineFields` on a `#[serde(transparent)]` struct: on the wire it is its one \
             field, with no property to read; remove the derive and pipeline the field's own type",
        ));
    }
    let rule = container.rename_all.as_ref().and_then(|lit| {
        let rule = lit.value();
        if SERDE_RULES.contains(&rule.as_str()) {
            Some(rule)
        } else {
            errors.push(syn::Error::new(
                lit.span(),
                format!(
                    "unknown `rename_all` rule {:?}: serde's are {}",
                    rule,
                    SERDE_RULES
                        .iter()
                        .map(|r| format!("\"{r}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
    });
    named
        .named
        .iter()
        .filter_map(|field| {
            let attr = SerdeAttr::parse(&field.attrs, errors);
            if attr.skip.is_some() || attr.flatten.is_some() {
                return None;
            }
            let ident = field.ident.clone()?;
            let rust_name = ident.to_string();
            let rust_name = rust_name.strip_prefix("r#").unwrap_or(&rust_name);
            let wire_name = match (&attr.rename, &rule) {
                (Some(rename), _) => rename.value(),
                (None, Some(rule)) => apply_serde_rule(rule, rust_name),
                (None, None) => rust_name.to_owned(),
            };
            Some(Field {
                ident,
                vis: field.vis.clone(),
                ty: field.ty.clone(),
                wire_name,
                docs: field
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("doc"))
                    .cloned()
                    .collect(),
            })
        })
        .collect()
}

/// serde's `rename_all` on a field name (serde's `RenameRule::apply_to_field`).
fn apply_serde_rule(rule: &str, field: &str) -> String {
    match rule {
        "lowercase" | "snake_case" => field.to_owned(),
        "UPPERCASE" => field.to_ascii_uppercase(),
        "PascalCase" => RenameRule::Pascal.apply(field),
        "camelCase" => RenameRule::Camel.apply(field),
        "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake.apply(field),
        "kebab-case" => RenameRule::Kebab.apply(field),
        "SCREAMING-KEBAB-CASE" => field.to_ascii_uppercase().replace('_', "-"),
        _ => field.to_owned(),
    }
}

/// The view struct, its methods, and the `PipelineFields` impl.
fn render(input: &DeriveInput, fields: &[Field], p: &TokenStream) -> TokenStream {
    let name = &input.ident;
    let vis = &input.vis;
    let view = format_ident!("{}Fields", name, span = name.span());
    let view_name = view.to_string();
    let generics = &input.generics;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let struct_doc = format!(
        " The fields of a promised [`{name}`], each a promise of its type, for pipelining: \
         what `RpcPromise::<{name}>::fields` returns (generated by `#[derive(PipelineFields)]`)."
    );
    let methods = fields.iter().map(|field| {
        let Field {
            ident,
            vis,
            ty,
            wire_name,
            docs,
        } = field;
        let wire = LitStr::new(wire_name, Span::call_site());
        let separator = (!docs.is_empty()).then(|| quote!(#[doc = ""]));
        let wire_doc = format!(" A promise of the field `{ident}` (on the wire: `{wire_name}`).");
        // Spanned at the field, so an error about its type points there.
        quote_spanned! {ident.span()=>
            #(#docs)*
            #separator
            #[doc = #wire_doc]
            #[inline]
            #vis fn #ident(&self) -> #p::RpcPromise<#ty> {
                #p::field(&self.promise, #wire)
            }
        }
    });
    quote! {
        #[doc = #struct_doc]
        #vis struct #view #generics #where_clause {
            promise: #p::RpcPromise<#p::Value>,
            _fields_of: #p::PhantomData<fn() -> #name #ty_generics>,
        }

        #[automatically_derived]
        impl #impl_generics #view #ty_generics #where_clause {
            #(#methods)*
        }

        #[automatically_derived]
        impl #impl_generics #p::Debug for #view #ty_generics #where_clause {
            fn fmt(&self, f: &mut #p::Formatter<'_>) -> #p::FmtResult {
                f.debug_tuple(#view_name).field(&self.promise).finish()
            }
        }

        #[automatically_derived]
        impl #impl_generics #p::PipelineFields for #name #ty_generics #where_clause {
            type Fields = #view #ty_generics;

            fn pipeline_fields(promise: #p::RpcPromise<#p::Value>) -> #view #ty_generics {
                #view {
                    promise,
                    _fields_of: #p::PhantomData,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::apply_serde_rule;
    use quote::quote;

    fn expand(item: proc_macro2::TokenStream) -> String {
        super::derive(syn::parse2(item).unwrap(), &quote!(::capnweb::__private)).to_string()
    }

    #[test]
    fn serde_rules() {
        let cases = [
            ("lowercase", "user_id"),
            ("UPPERCASE", "USER_ID"),
            ("PascalCase", "UserId"),
            ("camelCase", "userId"),
            ("snake_case", "user_id"),
            ("SCREAMING_SNAKE_CASE", "USER_ID"),
            ("kebab-case", "user-id"),
            ("SCREAMING-KEBAB-CASE", "USER-ID"),
        ];
        for (rule, expected) in cases {
            assert_eq!(apply_serde_rule(rule, "user_id"), expected, "{rule}");
        }
    }

    #[test]
    fn wire_names_follow_serde() {
        let out = expand(quote! {
            #[serde(rename_all = "camelCase", deny_unknown_fields)]
            pub struct Todo {
                pub user_id: u64,
                #[serde(rename = "label", default)]
                pub title: String,
                #[serde(rename(serialize = "Done", deserialize = "done"))]
                pub done: bool,
                #[serde(skip)]
                pub cache: u8,
                #[serde(skip_serializing, with = "x")]
                pub local: u8,
                #[serde(flatten)]
                pub extra: Extra,
                pub r#type: String,
            }
        });
        for expected in [
            "pub struct TodoFields",
            r#"pub fn user_id (& self) -> :: capnweb :: __private :: RpcPromise < u64 > { :: capnweb :: __private :: field (& self . promise , "userId") }"#,
            r#"field (& self . promise , "label")"#,
            r#"field (& self . promise , "Done")"#,
            r#"pub fn r#type (& self)"#,
            r#"field (& self . promise , "type")"#,
            "impl :: capnweb :: __private :: PipelineFields for Todo",
            "type Fields = TodoFields ;",
        ] {
            assert!(out.contains(expected), "{expected:?} in {out}");
        }
        for absent in ["fn cache", "fn local", "fn extra"] {
            assert!(!out.contains(absent), "{absent:?} in {out}");
        }
    }

    #[test]
    fn generics_are_carried() {
        let out = expand(quote! {
            pub struct Page<T> where T: Clone { pub items: Vec<T>, next: Option<u64> }
        });
        for expected in [
            "pub struct PageFields < T > where T : Clone",
            "PhantomData < fn () -> Page < T > >",
            "pub fn items (& self) -> :: capnweb :: __private :: RpcPromise < Vec < T > >",
            // A private field's method is private too.
            " fn next (& self)",
            "impl < T > :: capnweb :: __private :: PipelineFields for Page < T > where T : Clone",
        ] {
            assert!(out.contains(expected), "{expected:?} in {out}");
        }
        assert!(!out.contains("pub fn next"), "{out}");
    }

    #[test]
    fn refused_shapes() {
        for (item, message) in [
            (
                quote!(
                    enum E {
                        A { x: u8 },
                    }
                ),
                "an enum's fields depend on the variant",
            ),
            (
                quote!(
                    struct T(u8);
                ),
                "needs a struct with named fields",
            ),
            (
                quote!(
                    struct U;
                ),
                "needs a struct with named fields",
            ),
            (
                quote!(
                    #[serde(transparent)]
                    struct W {
                        x: u8,
                    }
                ),
                "`#[serde(transparent)]`",
            ),
            (
                quote!(
                    #[serde(rename_all = "camel")]
                    struct R {
                        x: u8,
                    }
                ),
                r#"unknown `rename_all` rule \"camel\""#,
            ),
        ] {
            let out = expand(item);
            assert!(out.contains("compile_error"), "{out}");
            assert!(out.contains(message), "{message:?} in {out}");
            assert!(!out.contains("PipelineFields for"), "{out}");
        }
    }
}
