//! The compile-time check that every target reached from the one whose declarations are asked
//! for has its types' TypeScript forms.
//!
//! Targets may refer to each other (a `User` whose `friend()` returns a `User`), so a bound on
//! a stub that asked the same of the stubs it names would send the trait solver round a cycle.
//! Instead each stub implements [`TargetTypes<Hop<H>>`](TargetTypes) when its own signatures'
//! types have forms and the stubs it names implement `TargetTypes<H>`: every step one hop
//! shorter, down to [`NoHops`], which every stub has. [`Hops`] is how far the check looks.

use std::marker::PhantomData;

/// Implemented by `#[rpc_target]` for each stub: every type in its signatures, and in those
/// of the targets it leads to within `H` hops, has a TypeScript form.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an `#[rpc_target]` stub",
    label = "named like a stub in an `#[rpc_target]` signature",
    note = "capnweb::typescript follows each type whose name ends in `Stub` to its target; \
            if `{Self}` is a type of your own, say so: `capnweb::typescript::not_a_target!({Self});`"
)]
pub trait TargetTypes<H> {}

/// One hop further (see [`TargetTypes`]).
#[derive(Debug)]
pub struct Hop<H>(PhantomData<H>);

/// No hop further: the check stops here.
#[derive(Debug)]
pub struct NoHops;

/// How far from the declared target the check looks: eight targets along any path. A target
/// further away is checked when the declarations are made (it panics, naming its types).
pub type Hops = Hop<Hop<Hop<Hop<Hop<Hop<Hop<Hop<NoHops>>>>>>>>;

/// Says that a type of yours whose name ends in `Stub` is not an `#[rpc_target]` stub, so the
/// TypeScript check does not look for a target behind it.
///
/// ```
/// # use capnweb::typescript::TS;
/// #[derive(serde::Serialize, serde::Deserialize, TS)]
/// #[ts(crate = "capnweb::typescript::ts_rs")]
/// pub struct TicketStub { pub number: u32 }
///
/// capnweb::typescript::not_a_target!(TicketStub);
/// ```
#[macro_export]
macro_rules! __capnweb_not_a_target {
    ($($ty:ty),+ $(,)?) => {$(
        impl<H> $crate::typescript::TargetTypes<H> for $ty {}
    )+};
}
