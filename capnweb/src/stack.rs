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

/// How many levels [`guarded_at`] lets pass between checks. Optimized, a level of the wire
/// codec's recursions takes about 1 KiB of stack (measured), so eight fit the red zone many
/// times over; unoptimized, a level can take over 20 KiB, so every level is checked.
const CHECK_EVERY: usize = if cfg!(debug_assertions) { 1 } else { 8 };

/// Runs level `level` of a recursion whose levels use little stack, checking the stack only
/// every few levels (the check costs more than such a level's own work).
pub(crate) fn guarded_at<R>(level: usize, level_fn: impl FnOnce() -> R) -> R {
    // (Unoptimized, CHECK_EVERY is 1 and every level is checked.)
    let check = level.is_multiple_of(CHECK_EVERY);
    if check {
        guarded(level_fn)
    } else {
        level_fn()
    }
}
