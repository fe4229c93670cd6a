//! Recursion over values a peer controls, on a stack that grows when it runs low.
//!
//! The depth limits bound how deep a message can nest, but a debug build spends kilobytes of
//! stack per level: a message within the limits must not overflow a 2 MiB worker thread.

/// Below this much stack left, the next level runs on a new segment.
const RED_ZONE: usize = 64 * 1024;
/// The size of each new segment.
const SEGMENT: usize = 1024 * 1024;

/// Runs one level of a recursion, on a fresh stack segment if this one is nearly used up.
pub(crate) fn guarded<R>(level: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, level)
}
