//! The strict parsers for `#[rpc_target(...)]` and `#[rpc(...)]`: every key is listed here,
//! and anything else is a spanned error that names the allowed keys.

use proc_macro2::{Group, Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitStr, Path, Token, Visibility};

use crate::errors::Errors;
use crate::rename::RenameRule;

/// The keys `#[rpc_target(...)]` accepts.
pub(crate) const TARGET_KEYS: &[&str] = &["crate", "rename_all", "stub", "vis"];

/// The keys `#[rpc(...)]` accepts.
pub(crate) const METHOD_KEYS: &[&str] = &["name", "property", "skip"];

/// `#[rpc_target(crate = "::path", rename_all = "…", stub = "Name", vis = "pub(crate)")]`.
#[derive(Default)]
pub(crate) struct TargetAttr {
    /// `crate = "…"`: the path of the runtime crate, when the automatic lookup is not wanted.
    pub(crate) krate: Option<Path>,
    /// `rename_all = "…"`: how Rust names become wire names (default camelCase).
    pub(crate) rename_all: Option<RenameRule>,
    /// `stub = "…"`: the name of the generated stub type (default: the type's name + `Stub`).
    pub(crate) stub: Option<Ident>,
    /// `vis = "…"`: the visibility of the stub type.
    pub(crate) vis: Option<Visibility>,
}

/// `#[rpc(name = "…", property, skip)]` on a method.
#[derive(Default)]
pub(crate) struct MethodAttr {
    /// `name = "…"`: the wire name, overriding `rename_all`.
    pub(crate) name: Option<LitStr>,
    /// `property`: read with a property get, not called. Holds the key's span.
    pub(crate) property: Option<Span>,
    /// `skip`: not exposed over RPC. Holds the key's span.
    pub(crate) skip: Option<Span>,
    /// The span of the first `#[rpc]` attribute, for errors about the method as a whole.
    pub(crate) span: Option<Span>,
}

impl MethodAttr {
    /// Whether the method carried any `#[rpc]` attribute.
    pub(crate) fn present(&self) -> bool {
        self.span.is_some()
    }
}

/// One `key`, `key = value` or `key(...)` inside an attribute's parentheses.
struct Arg {
    key: Ident,
    value: ArgValue,
}

enum ArgValue {
    Flag,
    Assign(Expr),
    List(Group),
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Arg> {
        // `parse_any` so that keyword keys (`crate`) parse as keys.
        let key = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            ArgValue::Assign(input.parse()?)
        } else if input.peek(syn::token::Paren) {
            ArgValue::List(input.parse()?)
        } else {
            ArgValue::Flag
        };
        Ok(Arg { key, value })
    }
}

impl Arg {
    fn span(&self) -> Span {
        match &self.value {
            ArgValue::Flag => self.key.span(),
            ArgValue::Assign(expr) => self.key.span().join(expr.span()).unwrap_or(self.key.span()),
            ArgValue::List(group) => self
                .key
                .span()
                .join(group.span())
                .unwrap_or(self.key.span()),
        }
    }

    /// The string of `key = "…"`, or an error saying that is what `key` needs.
    fn string(&self, example: &str, errors: &mut Errors) -> Option<LitStr> {
        match &self.value {
            ArgValue::Assign(Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            })) => Some(s.clone()),
            ArgValue::Assign(other) => {
                errors.push(syn::Error::new_spanned(
                    other,
                    format!(
                        "`{}` takes a string: `{} = \"{example}\"`",
                        self.key, self.key
                    ),
                ));
                None
            }
            _ => {
                errors.push(syn::Error::new(
                    self.span(),
                    format!(
                        "`{}` needs a value: `{} = \"{example}\"`",
                        self.key, self.key
                    ),
                ));
                None
            }
        }
    }

    /// Checks that a flag key carries no value.
    fn flag(&self, errors: &mut Errors) -> Option<Span> {
        match &self.value {
            ArgValue::Flag => Some(self.key.span()),
            _ => {
                errors.push(syn::Error::new(
                    self.span(),
                    format!("`{}` takes no value: write just `{}`", self.key, self.key),
                ));
                None
            }
        }
    }
}

/// "`a`, `b` and `c`" (with `conjunction` "and"; "or" for a choice).
fn list_keys(keys: &[&str], conjunction: &str) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            format!("{} {conjunction} {last}", rest.join(", "))
        }
        _ => quoted.join(""),
    }
}

fn unknown_key(arg: &Arg, attr: &str, keys: &[&str]) -> syn::Error {
    syn::Error::new(
        arg.key.span(),
        format!(
            "unknown key `{}` in `#[{attr}(...)]`; the allowed keys are {}",
            arg.key,
            list_keys(keys, "and")
        ),
    )
}

fn duplicate_key(arg: &Arg, attr: &str) -> syn::Error {
    syn::Error::new(
        arg.key.span(),
        format!("`{}` is given twice in `#[{attr}(...)]`", arg.key),
    )
}

fn parse_args(tokens: TokenStream) -> syn::Result<Punctuated<Arg, Token![,]>> {
    Punctuated::<Arg, Token![,]>::parse_terminated.parse2(tokens)
}

/// Sets `slot` from `value` once; a second time is an error.
fn set_once<T>(slot: &mut Option<T>, value: Option<T>, arg: &Arg, attr: &str, errors: &mut Errors) {
    if slot.is_some() {
        errors.push(duplicate_key(arg, attr));
    } else {
        *slot = value;
    }
}

impl TargetAttr {
    /// Parses the tokens inside `#[rpc_target(...)]`, recording every problem in `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> TargetAttr {
        let mut out = TargetAttr::default();
        let args = match parse_args(tokens) {
            Ok(args) => args,
            Err(e) => {
                errors.push(e);
                return out;
            }
        };
        for arg in &args {
            match arg.key.to_string().as_str() {
                "crate" => {
                    let path = arg.string("::capnweb", errors).and_then(|lit| {
                        match lit.parse_with(Path::parse_mod_style) {
                            Ok(path) => Some(path),
                            Err(_) => {
                                errors.push(syn::Error::new(
                                    lit.span(),
                                    format!(
                                        "`crate` must be the path of the capnweb crate, such as \
                                         `crate = \"::capnweb\"`; `{}` is not a path",
                                        lit.value()
                                    ),
                                ));
                                None
                            }
                        }
                    });
                    set_once(&mut out.krate, path, arg, "rpc_target", errors);
                }
                "rename_all" => {
                    let rule = arg.string("camelCase", errors).and_then(|lit| {
                        let rule = RenameRule::from_str(&lit.value());
                        if rule.is_none() {
                            let names: Vec<&str> =
                                RenameRule::ALL.iter().map(|(n, _)| *n).collect();
                            errors.push(syn::Error::new(
                                lit.span(),
                                format!(
                                    "unknown `rename_all` rule \"{}\"; use one of {}",
                                    lit.value(),
                                    list_keys(&names, "or").replace('`', "\"")
                                ),
                            ));
                        }
                        rule
                    });
                    set_once(&mut out.rename_all, rule, arg, "rpc_target", errors);
                }
                "stub" => {
                    let ident =
                        arg.string("ApiStub", errors)
                            .and_then(|lit| match lit.parse::<Ident>() {
                                Ok(ident) => Some(ident),
                                Err(_) => {
                                    errors.push(syn::Error::new(
                                        lit.span(),
                                        format!(
                                    "`stub` must be a type name, such as `stub = \"ApiClient\"`; \
                                     \"{}\" is not an identifier",
                                    lit.value()
                                ),
                                    ));
                                    None
                                }
                            });
                    set_once(&mut out.stub, ident, arg, "rpc_target", errors);
                }
                "vis" => {
                    let vis = arg.string("pub(crate)", errors).and_then(|lit| {
                        match lit.parse::<Visibility>() {
                            Ok(vis) => Some(vis),
                            Err(_) => {
                                errors.push(syn::Error::new(
                                    lit.span(),
                                    format!(
                                    "`vis` must be a visibility, such as `vis = \"pub(crate)\"`; \
                                     \"{}\" is not one",
                                    lit.value()
                                ),
                                ));
                                None
                            }
                        }
                    });
                    set_once(&mut out.vis, vis, arg, "rpc_target", errors);
                }
                _ => errors.push(unknown_key(arg, "rpc_target", TARGET_KEYS)),
            }
        }
        out
    }
}

impl MethodAttr {
    /// Takes every `#[rpc(...)]` out of `attrs` and parses them, recording problems in `errors`.
    pub(crate) fn take(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> MethodAttr {
        let mut out = MethodAttr::default();
        let mut kept = Vec::with_capacity(attrs.len());
        for attr in attrs.drain(..) {
            if attr.path().is_ident("rpc") {
                out.parse_one(&attr, errors);
            } else {
                kept.push(attr);
            }
        }
        *attrs = kept;
        if let (Some(skip), true) = (out.skip, out.name.is_some() || out.property.is_some()) {
            errors.push(syn::Error::new(
                skip,
                "`skip` leaves the method out of RPC, so `name` and `property` have no effect \
                 beside it; remove one or the other",
            ));
        }
        out
    }

    fn parse_one(&mut self, attr: &Attribute, errors: &mut Errors) {
        self.span.get_or_insert(attr.span());
        let tokens = match &attr.meta {
            syn::Meta::List(list) => list.tokens.clone(),
            other => {
                errors.push(syn::Error::new_spanned(
                    other,
                    format!(
                        "expected `#[rpc(...)]` with one or more of {}, e.g. `#[rpc(name = \"getUser\")]`",
                        list_keys(METHOD_KEYS, "or")
                    ),
                ));
                return;
            }
        };
        let args = match parse_args(tokens) {
            Ok(args) => args,
            Err(e) => {
                errors.push(e);
                return;
            }
        };
        for arg in &args {
            match arg.key.to_string().as_str() {
                "name" => {
                    let lit = arg.string("getUser", errors).and_then(|lit| {
                        if lit.value().is_empty() {
                            errors
                                .push(syn::Error::new(lit.span(), "the wire name cannot be empty"));
                            None
                        } else {
                            Some(lit)
                        }
                    });
                    set_once(&mut self.name, lit, arg, "rpc", errors);
                }
                "property" => {
                    let span = arg.flag(errors);
                    set_once(&mut self.property, span, arg, "rpc", errors);
                }
                "skip" => {
                    let span = arg.flag(errors);
                    set_once(&mut self.skip, span, arg, "rpc", errors);
                }
                _ => errors.push(unknown_key(arg, "rpc", METHOD_KEYS)),
            }
        }
    }
}

/// Removes every `#[rpc(...)]` from `attrs` without looking at it (used when emitting the item
/// back after an error, so that the stray helper attribute does not add an error of its own).
pub(crate) fn strip_rpc_attrs(attrs: &mut Vec<Attribute>) {
    attrs.retain(|attr| !attr.path().is_ident("rpc"));
}

#[cfg(test)]
mod tests {
    use super::list_keys;

    #[test]
    fn key_lists_read_as_prose() {
        assert_eq!(list_keys(&["a"], "or"), "`a`");
        assert_eq!(list_keys(&["a", "b"], "or"), "`a` or `b`");
        assert_eq!(list_keys(&["a", "b", "c"], "and"), "`a`, `b` and `c`");
    }
}

/// What `#[derive(PipelineFields)]` reads of serde's attributes: the parts that decide a
/// field's wire name, or whether it is on the wire at all. Serde owns these attributes, so
/// unlike `#[rpc(...)]` this reader is lenient: any other key is skipped, since serde checks
/// them.
#[derive(Default)]
pub(crate) struct SerdeAttr {
    /// `rename = "…"`, or `rename(serialize = "…")`: the name the serializing side writes.
    pub(crate) rename: Option<LitStr>,
    /// `rename_all = "…"`, or `rename_all(serialize = "…")` (on the struct).
    pub(crate) rename_all: Option<LitStr>,
    /// `skip` or `skip_serializing` (on a field): never on the wire. Holds the key's span.
    pub(crate) skip: Option<Span>,
    /// `flatten` (on a field): its fields are the struct's own on the wire.
    pub(crate) flatten: Option<Span>,
    /// `transparent` (on the struct): the struct is its one field on the wire.
    pub(crate) transparent: Option<Span>,
}

impl SerdeAttr {
    /// Reads every `#[serde(...)]` among `attrs`; a malformed one is an error.
    pub(crate) fn parse(attrs: &[Attribute], errors: &mut Errors) -> SerdeAttr {
        let mut out = SerdeAttr::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            let parsed = attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                let key = meta.path.get_ident().map(Ident::to_string);
                match key.as_deref() {
                    Some("rename") => out.rename = serialize_name(&meta)?.or(out.rename.take()),
                    Some("rename_all") => {
                        out.rename_all = serialize_name(&meta)?.or(out.rename_all.take());
                    }
                    Some("skip" | "skip_serializing") => out.skip = Some(span),
                    Some("flatten") => out.flatten = Some(span),
                    Some("transparent") => out.transparent = Some(span),
                    _ => skip_value(&meta)?,
                }
                Ok(())
            });
            if let Err(e) = parsed {
                errors.push(e);
            }
        }
        out
    }
}

/// The serializing side's name from `key = "…"` or `key(serialize = "…", deserialize = "…")`
/// (the wire carries what the peer serialized).
fn serialize_name(meta: &syn::meta::ParseNestedMeta) -> syn::Result<Option<LitStr>> {
    if meta.input.peek(Token![=]) {
        return Ok(Some(meta.value()?.parse()?));
    }
    let mut name = None;
    meta.parse_nested_meta(|inner| {
        if inner.path.is_ident("serialize") {
            name = Some(inner.value()?.parse()?);
        } else {
            skip_value(&inner)?;
        }
        Ok(())
    })?;
    Ok(name)
}

/// Skips a serde key this reader has no use for: a flag, `key = value` or `key(...)`.
fn skip_value(meta: &syn::meta::ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<Group>()?;
    }
    Ok(())
}
