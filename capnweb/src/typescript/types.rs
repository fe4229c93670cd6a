//! The TypeScript forms of capnweb's own types, as the reference implementation gives them to
//! JavaScript.

use ts_rs::{Config, TypeVisitor, TS};

use crate::stream::{Blob, ReadableStream, WritableStream};
use crate::{BigInt, Bytes, Date, RpcPromise, Stub, Value};

/// A type that is one TypeScript built-in.
macro_rules! builtin {
    ($($ty:ty => $ts:literal),* $(,)?) => {$(
        impl TS for $ty {
            type WithoutGenerics = Self;
            type OptionInnerType = Self;
            fn name(_: &Config) -> String { $ts.to_owned() }
            fn inline(cfg: &Config) -> String { <Self as TS>::name(cfg) }
        }
    )*};
}

builtin! {
    Bytes => "Uint8Array",
    Date => "Date",
    BigInt => "bigint",
    Blob => "Blob",
    // Anything JSON, or a special value: the peer must look before it uses it.
    Value => "unknown",
    // An untyped capability: a target or a function, whose methods the type does not say.
    Stub => "unknown",
}

/// A generic TypeScript built-in with one type argument (`ReadableStream<T>`).
macro_rules! generic_builtin {
    ($($ty:ident => $ts:literal),* $(,)?) => {$(
        impl<T: TS> TS for $ty<T> {
            type WithoutGenerics = $ty<ts_rs::Dummy>;
            type OptionInnerType = Self;
            fn name(cfg: &Config) -> String { format!("{}<{}>", $ts, T::name(cfg)) }
            fn inline(cfg: &Config) -> String { format!("{}<{}>", $ts, T::inline(cfg)) }
            fn visit_generics(visitor: &mut impl TypeVisitor)
            where
                Self: 'static,
            {
                T::visit_generics(visitor);
                visitor.visit::<T>();
            }
        }
    )*};
}

generic_builtin! {
    ReadableStream => "ReadableStream",
    WritableStream => "WritableStream",
}

/// A promise travels as what it resolves to.
impl<T: TS> TS for RpcPromise<T> {
    type WithoutGenerics = T::WithoutGenerics;
    type OptionInnerType = T::OptionInnerType;
    const IS_OPTION: bool = T::IS_OPTION;

    fn name(cfg: &Config) -> String {
        T::name(cfg)
    }

    fn inline(cfg: &Config) -> String {
        T::inline(cfg)
    }

    fn visit_dependencies(visitor: &mut impl TypeVisitor)
    where
        Self: 'static,
    {
        T::visit_dependencies(visitor);
    }

    fn visit_generics(visitor: &mut impl TypeVisitor)
    where
        Self: 'static,
    {
        T::visit_generics(visitor);
        visitor.visit::<T>();
    }
}
