//! The `#[rpc_target]` attribute macro for [`capnweb`](https://docs.rs/capnweb).
//!
//! Use it through `capnweb::rpc_target`; this crate is an implementation detail.
//!
//! The pipeline: `attributes` (the strict `#[rpc_target(...)]`/`#[rpc(...)]` parsers) →
//! `parse` (the item into the one `model` both forms share, with every check) →
//! `render_*` (one module per generated part: `render_dispatch` the `RpcTarget` impl,
//! `render_stub` the typed stub, `render_trait` the trait form's rewrite and adapter,
//! `render_descriptor` the descriptor and TypeScript form (for capnweb's `typescript` feature), and
//! `render_gate` the gate all of it passes through, which refuses a second `#[rpc_target]`
//! generating the same stub in one module). `#[derive(PipelineFields)]` reads serde's
//! attributes (`attributes::SerdeAttr`) and renders in `render_fields`. When any check fails, only the errors and the item
//! as written are emitted, so no follow-up error hides the real one.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::{Ident, Item};

mod attributes;
mod errors;
mod model;
mod parse;
mod rename;
mod render_descriptor;
mod render_dispatch;
mod render_fields;
mod render_gate;
mod render_stub;
mod render_trait;

use attributes::TargetAttr;
use errors::Errors;

/// Turns an `impl` block or a trait into a Cap'n Web RPC target with a typed client stub.
///
/// # On an impl block
///
/// ```
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
///
/// pub struct User { id: u64 }
///
/// #[rpc_target]
/// impl User {
///     pub fn name(&self) -> String { format!("user{}", self.id) }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), capnweb::Error> {
/// // A stub for a local object; one received from a peer has the same type and methods.
/// let api = ApiStub::new(Api::new());
/// assert_eq!(api.add(2, 3).await?, 5);
/// assert_eq!(api.square(1.5).await?, 2.25);
/// assert_eq!(api.get_user(42).name().await?, "user42");      // pipelined through the promise
/// assert_eq!(api.list_user_ids().await?, [1, 2, 3]);
/// assert_eq!(api.version().await?, "1.0");
///
/// // What a peer sees: camelCase wire names, the property read with a get, no `new`.
/// let untyped = capnweb::Stub::from(api.clone());
/// let ids: Vec<u64> = capnweb::from_value(untyped.call("listUserIds", vec![]).await?)?;
/// assert_eq!(ids, [1, 2, 3]);
/// assert_eq!(untyped.get("version").await?, capnweb::Value::from("1.0"));
/// let error = untyped.call("new", vec![]).await.unwrap_err();
/// assert_eq!(error.as_remote().map(|e| e.name.as_str()), Some("TypeError"));
/// # Ok(())
/// # }
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
/// ```
/// use capnweb::rpc_target;
/// use std::sync::Mutex;
///
/// #[rpc_target]
/// pub trait Listener {
///     async fn on_message(&self, text: String);
///     fn count(&self) -> u32;
/// }
///
/// // An implementation (say, on the client, for the server to call back).
/// struct Inbox(Mutex<Vec<String>>);
///
/// impl Listener for Inbox {
///     async fn on_message(&self, text: String) { self.0.lock().unwrap().push(text) }
///     fn count(&self) -> u32 { self.0.lock().unwrap().len() as u32 }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), capnweb::Error> {
/// let listener = ListenerStub::new(Inbox(Mutex::new(Vec::new())));
/// listener.on_message("hello".to_owned()).await?;
/// assert_eq!(listener.count().await?, 1);
/// # Ok(())
/// # }
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
/// A target has one `#[rpc_target] impl` block: its exposed methods all go there, and helpers
/// go in plain `impl` blocks. A second `#[rpc_target]` in the same module that would generate
/// the same stub generates nothing but its client methods, and gets an error at its attribute
/// that says so, beside the compiler's note that a hidden module (`__rpc_target_ApiStub`) is
/// defined twice, which points at both attributes. Targets of the same name in other modules
/// or in function bodies are unaffected.
///
/// The generated code names everything through `::capnweb::__private` (or the renamed crate),
/// so it compiles under `#![no_implicit_prelude]` and beside items that shadow prelude names.
#[proc_macro_attribute]
pub fn rpc_target(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into()).into()
}

fn expand(attr: TokenStream2, item: TokenStream2) -> TokenStream2 {
    // The gate's id for this invocation: the item's text and where the attribute is.
    let seed = format!("{item} {:?}", Span::call_site());
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
    let descriptor = render_descriptor::descriptor(&target);
    let methods = render_stub::methods_only(&target);
    match &mut item {
        Item::Trait(tr) => {
            render_trait::rewrite(&target, tr);
            let adapter = render_trait::adapter(&target);
            let gated =
                render_gate::gate(&target, &seed, quote!(#stub #adapter #descriptor), methods);
            quote!(#tr #gated)
        }
        _ => {
            let dispatch = render_dispatch::impl_target(&target);
            let gated =
                render_gate::gate(&target, &seed, quote!(#dispatch #stub #descriptor), methods);
            quote!(#item #gated)
        }
    }
}

/// Lets a promise of a struct pipeline its fields: `RpcPromise<Todo>::fields()` returns a
/// generated `TodoFields` view with one method per field, returning a promise of the field's
/// type. Use it through `capnweb::PipelineFields`, on a struct the peer sends as a result.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), capnweb::Error> {
/// use capnweb::{rpc_target, PipelineFields};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, PipelineFields)]
/// #[serde(rename_all = "camelCase")]
/// pub struct Todo {
///     pub id: u64,
///     pub title: String,
///     pub due_date: Option<String>,  // wire name "dueDate", as serde writes it
///     #[serde(skip)]
///     pub cached: bool,              // not on the wire: no method
/// }
///
/// pub struct Api;
/// #[rpc_target]
/// impl Api {
///     pub fn add(&self, title: String) -> Todo {
///         Todo { id: 1, title, due_date: None, cached: false }
///     }
///     pub fn list(&self) -> Vec<Todo> { vec![self.add("a".into()), self.add("b".into())] }
///     pub fn complete(&self, id: u64) -> bool { id == 1 }
/// }
///
/// let api = ApiStub::new(Api);
/// let added = api.add("milk");
/// assert!(api.complete(added.fields().id()).await?);       // pipelined: one round trip
/// assert_eq!(added.fields().due_date().await?, None);
/// // Inside `.map()` too: the placeholder is an `RpcPromise<Todo>`.
/// assert_eq!(api.list().map(|todo| todo.fields().title()).await?, ["a", "b"]);
/// # Ok(()) }
/// ```
///
/// Generated, beside the struct (with its visibility and generics):
///
/// * `struct TodoFields`, with a method per field, named like it, with the field's own
///   visibility and doc comments: `fn id(&self) -> RpcPromise<u64>`. Each is a lazy property
///   read of the field's wire name (nothing is sent until it is awaited or used), so it
///   pipelines as an argument, inside `.map()`, and into a stub (`RpcPromise<UserStub>`
///   dereferences to the stub).
/// * `impl PipelineFields for Todo`, which `RpcPromise::<Todo>::fields` uses.
///
/// Wire names follow serde as the serializing side writes them: the field name,
/// `#[serde(rename = "…")]` (or `rename(serialize = "…")`), or the struct's
/// `#[serde(rename_all = "…")]`. Fields with `#[serde(skip)]`, `skip_serializing` or `flatten`
/// get no method (none is a property on the wire). A misspelt field is the compiler's "no
/// method named `idd` found for struct `TodoFields`", with the closest name suggested.
///
/// Refused, with an error saying why: enums (the fields depend on the variant), tuple and unit
/// structs, unions, `#[serde(transparent)]`, and a `rename_all` rule serde does not know.
///
/// Why a view behind `fields()` rather than `added.id()` on the promise: `RpcPromise<XStub>`
/// dereferences to the stub, so the promise's own method namespace is the stub's; a field
/// named `clone` or `into_future` could not be reached beside the promise's traits; and
/// `fields()` says at the call site that this is a read of the result, not an RPC call.
#[proc_macro_derive(PipelineFields, attributes(serde))]
pub fn derive_pipeline_fields(item: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse(item) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error().into(),
    };
    let private = parse::private_path(&runtime_crate());
    render_fields::derive(input, &private).into()
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
    use proc_macro2::TokenStream;
    use quote::quote;
    use syn::parse::{ParseStream, Parser};
    use syn::{Ident, Item};

    fn expand_to_file(attr: TokenStream, item: TokenStream) -> syn::File {
        let out = super::expand(attr, item);
        syn::parse2(out.clone()).unwrap_or_else(|e| panic!("expansion does not parse: {e}\n{out}"))
    }

    /// The expansion with its gate (see `render_gate`) opened.
    struct Gated {
        /// The item as written, the gate's module, the gate's invocation.
        items: Vec<Item>,
        /// The gate's module.
        module: syn::ItemMod,
        /// The id the invocation passes.
        id: Ident,
        /// What the gate emits for another invocation than the module's own.
        refused: TokenStream,
        /// What it lets through for its own.
        generated: Vec<Item>,
    }

    fn open_gate(file: syn::File) -> Gated {
        let module = file
            .items
            .iter()
            .find_map(|item| match item {
                Item::Mod(m) if m.ident.to_string().starts_with("__rpc_target_") => Some(m.clone()),
                _ => None,
            })
            .expect("the gate's module");
        let invocation = file
            .items
            .iter()
            .find_map(|item| match item {
                Item::Macro(m) if m.mac.path.segments.last().unwrap().ident == "gate" => {
                    Some(m.mac.tokens.clone())
                }
                _ => None,
            })
            .expect("the gate's invocation");
        let (id, refused, generated) = (|input: ParseStream| {
            let id: Ident = input.parse()?;
            let refused;
            syn::braced!(refused in input);
            let refused: TokenStream = refused.parse()?;
            let generated: syn::File = input.parse()?;
            Ok((id, refused, generated.items))
        })
        .parse2(invocation)
        .expect("the gate's input: id, { refused }, generated items");
        Gated {
            items: file.items,
            module,
            id,
            refused,
            generated,
        }
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
        // Behind the gate: `impl RpcTarget`, the stub struct, its impls.
        let gated = open_gate(file);
        let text = |item: &Item| quote!(#item).to_string();
        let find = |what: &str, test: &dyn Fn(&Item) -> bool| {
            gated
                .generated
                .iter()
                .find(|item| test(item))
                .map(text)
                .unwrap_or_else(|| panic!("no {what} in the expansion"))
        };
        let impl_of = |trait_name: &'static str, self_ty: &'static str| {
            move |item: &Item| match item {
                Item::Impl(i) => {
                    let named = i.trait_.as_ref().is_some_and(|(_, path, _)| {
                        path.segments.last().is_some_and(|s| s.ident == trait_name)
                    });
                    let ty = &i.self_ty;
                    named && quote!(#ty).to_string() == self_ty
                }
                _ => false,
            }
        };

        // The target dispatches each method by its wire name, decoding the arguments by name,
        // and reads the property through `get`; `log`'s unit result is `undefined`.
        let target = find("impl RpcTarget for Api", &impl_of("RpcTarget", "Api"));
        for expected in [
            r#""add" => {"#,
            r#"Args :: new ("Api.add" , & ["a" , "b"] , args)"#,
            "< Api > :: add (& * self , p0 , p1) . await",
            r#""square" => {"#,
            "encode_result (output)",
            r#""log" => {"#,
            "Value :: Undefined",
            r#"no_such_method ("Api" , method)"#,
            r#"match property { "version" =>"#,
            r#"fn type_name (& self) -> & 'static str { "Api" }"#,
        ] {
            assert!(target.contains(expected), "{expected:?} in {target}");
        }
        assert!(!target.contains(r#"method { "version""#), "{target}");

        // The stub: a newtype over `Stub`, with one method per exposed one; results unwrap
        // `Result` into the promise's type, arguments take promises too.
        let stub = find(
            "struct ApiStub",
            &|item| matches!(item, Item::Struct(s) if s.ident == "ApiStub"),
        );
        assert!(
            stub.contains("pub struct ApiStub (:: capnweb :: __private :: Stub)"),
            "{stub}"
        );
        let methods = find(
            "impl ApiStub",
            &|item| matches!(item, Item::Impl(i) if i.trait_.is_none() && quote!(#i).to_string().contains("impl ApiStub")),
        );
        for expected in [
            "pub fn new (target : Api) -> Self",
            "pub fn add (& self , a : impl :: capnweb :: __private :: IntoArg < i64 > , b : impl :: capnweb :: __private :: IntoArg < i64 >) -> :: capnweb :: __private :: RpcPromise < i64 >",
            r#"call (& self . 0 , "add""#,
            "pub fn square (& self , x : impl :: capnweb :: __private :: IntoArg < f64 >) -> :: capnweb :: __private :: RpcPromise < f64 >",
            r#"get (& self . 0 , "version")"#,
            "-> :: capnweb :: __private :: RpcPromise < () >",
            r#"# [doc = r" Adds."]"#,
        ] {
            assert!(methods.contains(expected), "{expected:?} in {methods}");
        }
        for conversion in ["FromStub", "TypedStub", "Serialize", "Deserialize"] {
            find(conversion, &|item| match item {
                Item::Impl(i) => i.trait_.as_ref().is_some_and(|(_, path, _)| {
                    path.segments.last().is_some_and(|s| s.ident == conversion)
                }),
                _ => false,
            });
        }
    }

    #[test]
    fn the_descriptor_is_behind_the_typescript_switch() {
        let gated = open_gate(expand_to_file(
            quote!(crate = "::capnweb"),
            quote! {
                impl Api {
                    /// Adds.
                    pub fn add(&self, a: i64, b: Todo) -> Result<(), RpcError> { Ok(()) }
                    #[rpc(property)]
                    pub fn version(&self) -> String { "1".into() }
                }
            },
        ));
        let switch = gated
            .generated
            .iter()
            .find_map(|item| match item {
                Item::Macro(m)
                    if m.mac.path.segments.last().unwrap().ident == "typescript_only" =>
                {
                    Some(m.mac.tokens.to_string())
                }
                _ => None,
            })
            .expect("typescript_only! { … } in the expansion");
        for expected in [
            "impl :: capnweb :: __private :: typescript :: TS for ApiStub",
            r#"From < & str >> :: from ("Api")"#,
            "impl :: capnweb :: __private :: typescript :: Describe for ApiStub where",
            // Higher-ranked, so checked where `declarations` is called, not here.
            "for < '__capnweb > Todo : :: capnweb :: __private :: typescript :: HasTypeScript",
            r#"method ("add" , & [r" Adds."]"#,
            r#"param ("b" , :: capnweb :: __private :: typescript :: type_of :: < Todo > ())"#,
            // `Result<(), E>` resolves to `undefined`: void, with no bound on `()`.
            ":: capnweb :: __private :: typescript :: void ()",
            r#"property ("version""#,
        ] {
            assert!(switch.contains(expected), "{expected:?} in {switch}");
        }
        assert!(!switch.contains("type_of :: < () >"), "{switch}");
    }

    #[test]
    fn the_gate_lets_through_only_its_own_invocation() {
        let api = quote! {
            impl Api {
                pub fn add(&self, a: i64, b: i64) -> i64 { a + b }
            }
        };
        let gated = open_gate(expand_to_file(quote!(crate = "::capnweb"), api.clone()));
        assert_eq!(
            gated.items.len(),
            3,
            "the impl as written, the module, the invocation"
        );
        assert!(matches!(gated.items[0], Item::Impl(_)));
        assert_eq!(gated.module.ident, "__rpc_target_ApiStub");

        // The module's gate passes its own id, and only that one, through.
        let (_, contents) = gated.module.content.as_ref().expect("an inline module");
        let Item::Macro(rules) = &contents[0] else {
            panic!("the gate's macro_rules first")
        };
        let rules = rules.mac.tokens.to_string();
        let own = format!("({} {{", gated.id);
        assert!(rules.starts_with(&own), "{own} in {rules}");
        assert!(rules.contains("$ other : ident"), "{rules}");

        // Another invocation gets the error and the client methods, and nothing that could
        // conflict with what the first one generated.
        let refused = gated.refused.to_string();
        assert!(refused.contains("compile_error"), "{refused}");
        assert!(
            refused.contains("already applied to another impl block of `Api`"),
            "{refused}"
        );
        assert!(refused.contains("pub fn add"), "{refused}");
        for generated_only in ["RpcTarget", "struct", "fn new", "fn from_arc", "FromStub"] {
            assert!(
                !refused.contains(generated_only),
                "{generated_only} in {refused}"
            );
        }

        // Another block has another id, and the same module: the stub's.
        let other = open_gate(expand_to_file(
            quote!(crate = "::capnweb"),
            quote!(impl Api { pub fn sub(&self, a: i64, b: i64) -> i64 { a - b } }),
        ));
        assert_ne!(other.id, gated.id);
        assert_eq!(other.module.ident, gated.module.ident);
        let renamed = open_gate(expand_to_file(
            quote!(crate = "::capnweb", stub = "Client"),
            api,
        ));
        assert_eq!(renamed.module.ident, "__rpc_target_Client");
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
