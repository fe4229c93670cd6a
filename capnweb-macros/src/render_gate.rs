//! The gate: what the generated items pass through, so that a second `#[rpc_target]` that
//! would generate the same stub in the same module gets one error of ours instead of the
//! compiler's dozen (the stub type defined twice, every impl conflicting).
//!
//! A proc macro cannot see the other invocations, so each one emits, beside the item as written:
//!
//! ```text
//! #[doc(hidden)]
//! mod __rpc_target_ApiStub {                      // named after the stub: one per stub and module
//!     macro_rules! gate {
//!         (__rpc_target_3f1c… { $($error:tt)* } $($generated:tt)*) => { $($generated)* };
//!         ($other:ident { $($error:tt)* } $($generated:tt)*) => { $($error)* };
//!     }
//!     pub(crate) use gate;
//! }
//! __rpc_target_ApiStub::gate! {
//!     __rpc_target_3f1c…                          // this invocation's own id
//!     { compile_error!("… already applied …"); impl ApiStub { /* client methods */ } }
//!     impl RpcTarget for Api { … }  pub struct ApiStub(…);  …
//! }
//! ```
//!
//! With one invocation, the gate is its own and passes the generated items through. With two
//! in one module, the compiler reports the module's second definition (`E0428`, pointing at
//! the second `#[rpc_target]`) and resolves the path to the first module, whose gate lets only
//! the first invocation's items through: the second gets its error (at its own attribute) and
//! its client methods (so calls to them add no errors), and nothing that could conflict.
//!
//! The gate is keyed by module through the compiler's own name resolution, so it never fires
//! for a target in another module or in a function body, whatever its name. (A `macro_rules!`
//! marker, which sees the order of invocations, would also see every nested module and function
//! declared after it, and refuse valid targets there.)

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

use crate::model::{Form, Target};

/// `generated` behind the gate; `fallback` is what a second invocation emits besides its error.
/// `seed` makes the invocation's id: the item's text and the attribute's location.
pub(crate) fn gate(
    target: &Target,
    seed: &str,
    generated: TokenStream,
    fallback: TokenStream,
) -> TokenStream {
    let stub = &target.stub;
    let module = format_ident!("__rpc_target_{}", stub, span = Span::call_site());
    let id = format_ident!("__rpc_target_{:016x}", fnv1a(seed.as_bytes()));
    let error = syn::Error::new(Span::call_site(), message(target)).to_compile_error();
    quote! {
        #[doc(hidden)]
        mod #module {
            macro_rules! gate {
                (#id { $($error:tt)* } $($generated:tt)*) => { $($generated)* };
                ($other:ident { $($error:tt)* } $($generated:tt)*) => { $($error)* };
            }
            pub(crate) use gate;
        }

        #module::gate! {
            #id
            { #error #fallback }
            #generated
        }
    }
}

/// What the second `#[rpc_target]` says.
fn message(target: &Target) -> String {
    let name = &target.name;
    let stub = &target.stub;
    match target.form {
        Form::Impl { .. } => format!(
            "`#[rpc_target]` is already applied to another impl block of `{name}` in this \
             module, which generates `{stub}` too: put all the methods `{name}` exposes in one \
             `#[rpc_target] impl {name}` block, and move helpers to a plain `impl {name}` block"
        ),
        Form::Trait => format!(
            "another `#[rpc_target]` in this module already generates `{stub}`: give this \
             trait's stub another name with `#[rpc_target(stub = \"…\")]`"
        ),
    }
}

/// 64-bit FNV-1a: a stable hash, so the expansion is the same from one build to the next.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
