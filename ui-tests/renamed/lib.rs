//! `#[rpc_target]` in a crate that depends on the runtime under another name
//! (`cw = { package = "capnweb", … }`) and has no `capnweb` at all: the macro finds the name in
//! `Cargo.toml`. A second target checks the explicit `crate = "…"` override.

use cw::{rpc_target, RpcError};

/// A target defined through the renamed crate.
pub struct Calculator;

#[rpc_target]
impl Calculator {
    /// Adds.
    pub fn add(&self, a: f64, b: f64) -> f64 {
        a + b
    }

    /// Fails for a negative input.
    pub async fn checked_sqrt(&self, x: f64) -> Result<f64, RpcError> {
        if x < 0.0 {
            Err(RpcError::range_error("negative input"))
        } else {
            Ok(x.sqrt())
        }
    }

    /// A nested target, returned by reference.
    pub fn memory(&self) -> MemoryStub {
        MemoryStub::new(Memory)
    }
}

/// The crate path given explicitly.
pub struct Memory;

#[rpc_target(crate = "::cw")]
impl Memory {
    /// A property.
    #[rpc(property)]
    pub fn size(&self) -> u32 {
        16
    }
}

/// The trait form through the renamed crate.
#[rpc_target]
pub trait Notifier {
    /// Notifies.
    async fn notify(&self, text: String) -> usize;
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter;

    impl Notifier for Counter {
        async fn notify(&self, text: String) -> usize {
            text.len()
        }
    }

    #[tokio::test]
    async fn calls_through_the_renamed_crate() {
        let calc = CalculatorStub::new(Calculator);
        assert_eq!(calc.add(1.5, 2.0).await.unwrap(), 3.5);
        assert_eq!(calc.checked_sqrt(calc.add(7.0, 2.0)).await.unwrap(), 3.0);
        let error = calc.checked_sqrt(-1.0).await.unwrap_err();
        assert_eq!(
            error.as_remote().map(|e| e.name.as_str()),
            Some("RangeError")
        );
        assert_eq!(calc.memory().size().await.unwrap(), 16);
        let notifier = NotifierStub::new(Counter);
        assert_eq!(notifier.notify("four").await.unwrap(), 4);
    }
}
