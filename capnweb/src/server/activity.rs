//! What a connection is doing (idle, receiving a request, serving requests), as its IO and
//! its services report it, and the time limits that apply to each phase. The connection's
//! watchdog (`connection`) waits on it; the services (`routes`, `service`) mark requests in
//! flight.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The time limits of a connection (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionTimeouts {
    pub(crate) header_read: Duration,
    pub(crate) keep_alive: Duration,
}

/// What a connection is doing, as its IO (bytes arriving) and its service (requests starting
/// and ending) report it.
pub(crate) struct Activity {
    phase: Mutex<Phase>,
    /// Whether bytes that start a new request would change the phase (a fast check per read).
    waiting_for_request: AtomicBool,
    changed: Notify,
}

struct Phase {
    requests: usize,
    /// Bytes of a request arrived while none was in flight.
    receiving: bool,
    /// When the current phase began.
    since: Instant,
}

impl Activity {
    pub(super) fn new() -> Activity {
        Activity {
            phase: Mutex::new(Phase {
                requests: 0,
                receiving: false,
                since: Instant::now(),
            }),
            waiting_for_request: AtomicBool::new(true),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Phase> {
        // Every update is a few assignments, so a poisoned lock is consistent.
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn bytes_arrived(&self) {
        if !self.waiting_for_request.swap(false, Ordering::AcqRel) {
            return;
        }
        let mut phase = self.lock();
        if phase.requests == 0 && !phase.receiving {
            phase.receiving = true;
            phase.since = Instant::now();
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A request's headers were read; it is in flight until the returned guard drops.
    pub(crate) fn request_started(self: &Arc<Self>) -> RequestGuard {
        let mut phase = self.lock();
        phase.requests += 1;
        phase.receiving = false;
        drop(phase);
        self.changed.notify_one();
        RequestGuard {
            activity: Arc::clone(self),
        }
    }

    /// Completes with the name of the phase that ran out.
    pub(super) async fn expired(&self, timeouts: ConnectionTimeouts) -> &'static str {
        loop {
            let changed = self.changed.notified();
            let deadline = {
                let phase = self.lock();
                match (phase.requests, phase.receiving) {
                    (0, false) => Some((
                        phase.since + timeouts.keep_alive,
                        "idle for longer than its keep-alive timeout",
                    )),
                    (0, true) => Some((
                        phase.since + timeouts.header_read,
                        "a request did not arrive whole within the header read timeout",
                    )),
                    _ => None,
                }
            };
            match deadline {
                None => changed.await,
                Some((deadline, what)) => tokio::select! {
                    () = tokio::time::sleep_until(deadline) => {
                        if self.lock().requests == 0 {
                            return what;
                        }
                    }
                    () = changed => {}
                },
            }
        }
    }
}

/// Marks a request as in flight while it lives.
pub(crate) struct RequestGuard {
    activity: Arc<Activity>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut phase = self.activity.lock();
        phase.requests -= 1;
        if phase.requests == 0 {
            phase.since = Instant::now();
            self.activity
                .waiting_for_request
                .store(true, Ordering::Release);
        }
        drop(phase);
        self.activity.changed.notify_one();
    }
}
