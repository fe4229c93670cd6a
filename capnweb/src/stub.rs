//! Placeholder: being written.
use std::marker::PhantomData;

/// A capability.
#[derive(Debug, Clone)]
pub struct Stub {
    id: std::sync::Arc<()>,
}

impl Stub {
    /// Whether two stubs point at the same target.
    pub fn same_target(&self, other: &Stub) -> bool {
        std::sync::Arc::ptr_eq(&self.id, &other.id)
    }
}

/// A promise.
#[derive(Debug)]
pub struct RpcPromise<T = crate::Value> {
    id: std::sync::Arc<()>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for RpcPromise<T> {
    fn clone(&self) -> Self {
        RpcPromise { id: self.id.clone(), _t: PhantomData }
    }
}

impl<T> RpcPromise<T> {
    /// Whether two promises are the same.
    pub fn same_target(&self, other: &RpcPromise<T>) -> bool {
        std::sync::Arc::ptr_eq(&self.id, &other.id)
    }
}
