//! [`FlowController`]: how much a writer may have in flight on one stream, found by estimating
//! the stream's bandwidth-delay product from the acknowledgements of its writes.
//!
//! The window starts at [`INITIAL_WINDOW`]. Every acknowledgement gives a delivery rate (bytes
//! acknowledged since the write was sent, over the time that took) and the smallest round trip
//! seen so far; their product, times a growth factor, is the new target. While starting up the
//! window may double per round trip; once three rounds in a row grew it by less than a quarter,
//! it may grow by at most a quarter per round trip. It shrinks by at most a tenth per round
//! trip, and only when the write being acknowledged found the window full (a writer that does
//! not use its window does not lose it). It stays between [`MIN_WINDOW`] and [`MAX_WINDOW`].
//!
//! The controller never reads a clock itself: it is given one, so that tests drive it with a
//! simulated one.

/// The window before anything is known, in bytes.
pub const INITIAL_WINDOW: f64 = 256.0 * 1024.0;
/// The smallest window, in bytes.
pub const MIN_WINDOW: f64 = 64.0 * 1024.0;
/// The largest window, in bytes.
pub const MAX_WINDOW: f64 = 1024.0 * 1024.0 * 1024.0;
/// Growth allowed per round trip while starting up.
const STARTUP_GROWTH: f64 = 2.0;
/// Growth allowed per round trip afterwards.
const STEADY_GROWTH: f64 = 1.25;
/// The most the window shrinks per round trip (to this fraction).
const DECAY: f64 = 0.90;
/// Rounds in a row without real growth that end the startup.
const STARTUP_EXIT_ROUNDS: u32 = 3;

/// What a write's acknowledgement is compared with: the state when it was sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendToken {
    sent_at: f64,
    size: f64,
    delivered_at_send: f64,
    delivered_time_at_send: f64,
    window_at_send: f64,
    window_full_at_send: bool,
}

impl SendToken {
    /// The write's size in bytes.
    pub fn size(&self) -> f64 {
        self.size
    }
}

/// See the module docs. Times are in milliseconds, from the clock the controller was made with.
pub struct FlowController {
    now: Box<dyn Fn() -> f64 + Send + Sync>,
    window: f64,
    in_flight: f64,
    startup: bool,
    delivered: f64,
    delivered_time: f64,
    first_ack_time: f64,
    first_ack_delivered: f64,
    min_rtt: f64,
    rounds_without_increase: u32,
    last_round_window: f64,
    round_start: f64,
}

impl std::fmt::Debug for FlowController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowController")
            .field("window", &self.window)
            .field("in_flight", &self.in_flight)
            .field("startup", &self.startup)
            .finish()
    }
}

impl FlowController {
    /// A controller reading time (in milliseconds) from `now`.
    pub fn new(now: impl Fn() -> f64 + Send + Sync + 'static) -> FlowController {
        FlowController {
            now: Box::new(now),
            window: INITIAL_WINDOW,
            in_flight: 0.0,
            startup: true,
            delivered: 0.0,
            delivered_time: 0.0,
            first_ack_time: 0.0,
            first_ack_delivered: 0.0,
            min_rtt: f64::INFINITY,
            rounds_without_increase: 0,
            last_round_window: 0.0,
            round_start: 0.0,
        }
    }

    /// A controller on the monotonic clock, counted from now.
    pub fn real_time() -> FlowController {
        let start = std::time::Instant::now();
        FlowController::new(move || start.elapsed().as_secs_f64() * 1000.0)
    }

    /// The window, in bytes.
    pub fn window(&self) -> f64 {
        self.window
    }

    /// Bytes sent and not acknowledged.
    pub fn in_flight(&self) -> f64 {
        self.in_flight
    }

    /// Whether the controller is still starting up.
    pub fn in_startup(&self) -> bool {
        self.startup
    }

    /// Whether a writer must wait for acknowledgements before it sends more.
    pub fn is_full(&self) -> bool {
        self.in_flight >= self.window
    }

    /// A write of `size` bytes is being sent. Returns the token its acknowledgement is given
    /// with, and whether the writer must now wait (the window is full).
    pub fn on_send(&mut self, size: f64) -> (SendToken, bool) {
        self.in_flight += size;
        let full = self.in_flight >= self.window;
        let token = SendToken {
            sent_at: (self.now)(),
            size,
            delivered_at_send: self.delivered,
            delivered_time_at_send: self.delivered_time,
            window_at_send: self.window,
            window_full_at_send: full,
        };
        (token, full)
    }

    /// The write failed: its bytes are no longer in flight; the estimates are left alone.
    pub fn on_error(&mut self, token: SendToken) {
        self.in_flight -= token.size;
    }

    /// The write was acknowledged: updates the estimates and the window. Returns whether a
    /// waiting writer may go on.
    pub fn on_ack(&mut self, token: SendToken) -> bool {
        let now = (self.now)();
        self.delivered += token.size;
        self.delivered_time = now;
        self.in_flight -= token.size;
        self.min_rtt = self.min_rtt.min(now - token.sent_at);

        if self.first_ack_time == 0.0 {
            // One acknowledgement gives no rate: that takes the interval between two.
            self.first_ack_time = now;
            self.first_ack_delivered = self.delivered;
            return self.in_flight < self.window;
        }
        // A write sent before any acknowledgement (but not the first) measures from the first.
        let (base_time, base_delivered) = if token.delivered_time_at_send == 0.0 {
            (self.first_ack_time, self.first_ack_delivered)
        } else {
            (token.delivered_time_at_send, token.delivered_at_send)
        };
        let rate = (self.delivered - base_delivered) / (now - base_time);
        let growth = if self.startup {
            STARTUP_GROWTH
        } else {
            STEADY_GROWTH
        };
        let mut window = (rate * self.min_rtt * growth).min(token.window_at_send * growth);
        window = if token.window_full_at_send {
            window.max(token.window_at_send * DECAY)
        } else {
            // The writer did not fill the window: it is not what limits it, so keep it (and
            // keep any shrinking done meanwhile: compare with the window now).
            window.max(self.window)
        };
        // A NaN rate (no time passed) was dropped by `min` above, so `window` is a number.
        self.window = window.clamp(MIN_WINDOW, MAX_WINDOW);

        if self.startup && token.sent_at >= self.round_start {
            if self.window > self.last_round_window * STEADY_GROWTH {
                self.rounds_without_increase = 0;
            } else {
                self.rounds_without_increase += 1;
                if self.rounds_without_increase >= STARTUP_EXIT_ROUNDS {
                    self.startup = false;
                }
            }
            self.round_start = now;
            self.last_round_window = self.window;
        }
        self.in_flight < self.window
    }
}

#[cfg(test)]
mod tests {
    //! The scenarios of the reference's flow-control tests, on a simulated link: a fixed
    //! round trip and bandwidth, writes acknowledged in order once their bytes have crossed the
    //! link plus one round trip.

    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    use super::*;

    /// Sizes cycled through, so that writes vary but runs repeat exactly.
    const CHUNKS: [f64; 8] = [
        32.0 * 1024.0,
        4.0 * 1024.0,
        16000.0,
        12345.0,
        16.0,
        9999.0,
        4321.0,
        8.0,
    ];

    struct Link {
        rtt: f64,
        /// Bytes per millisecond.
        bandwidth: f64,
        clock: Arc<AtomicU64>,
        blocked: bool,
        busy_until: f64,
        fc: FlowController,
        in_flight: std::collections::VecDeque<(SendToken, f64)>,
    }

    impl Link {
        fn new() -> Link {
            let clock = Arc::new(AtomicU64::new(0f64.to_bits()));
            let read = Arc::clone(&clock);
            Link {
                rtt: 100.0,
                bandwidth: 10.0 * 1024.0,
                clock,
                blocked: false,
                busy_until: 0.0,
                fc: FlowController::new(move || f64::from_bits(read.load(Ordering::Relaxed))),
                in_flight: Default::default(),
            }
        }

        fn bdp(&self) -> f64 {
            self.rtt * self.bandwidth
        }

        fn t(&self) -> f64 {
            f64::from_bits(self.clock.load(Ordering::Relaxed))
        }

        fn set_t(&self, t: f64) {
            self.clock.store(t.to_bits(), Ordering::Relaxed);
        }

        fn send(&mut self, size: f64) {
            self.busy_until = self.busy_until.max(self.t()) + size / self.bandwidth;
            let (token, block) = self.fc.on_send(size);
            self.in_flight
                .push_back((token, self.busy_until + self.rtt));
            self.blocked = block;
        }

        fn fill(&mut self, size: f64) -> usize {
            let mut count = 0;
            while !self.blocked {
                count += 1;
                self.send(size);
            }
            count
        }

        fn next_ack(&mut self) {
            if let Some((token, at)) = self.in_flight.pop_front() {
                self.set_t(at);
                if self.fc.on_ack(token) {
                    self.blocked = false;
                }
            }
        }

        fn saturate(&mut self, duration: f64) {
            let end = self.t() + duration;
            let mut i = 0;
            while self.t() < end {
                if self.blocked {
                    self.next_ack();
                } else {
                    self.send(CHUNKS[i % CHUNKS.len()]);
                    i += 1;
                }
            }
            while !self.in_flight.is_empty() {
                self.next_ack();
            }
        }
    }

    #[test]
    fn a_full_window_blocks() {
        let mut link = Link::new();
        assert_eq!(link.fill(64.0 * 1024.0), 4);
        assert_eq!(link.fc.in_flight(), INITIAL_WINDOW);
    }

    #[test]
    fn an_ack_frees_room() {
        let mut link = Link::new();
        for t in 0..4 {
            link.set_t(f64::from(t));
            assert!(!link.blocked);
            link.send(64.0 * 1024.0);
        }
        assert!(link.blocked);
        link.next_ack();
        assert_eq!(link.fc.in_flight(), 192.0 * 1024.0);
    }

    #[test]
    fn the_window_grows_while_starting_up() {
        let mut link = Link::new();
        link.saturate(link.rtt * 5.0);
        assert!(link.fc.window() > INITIAL_WINDOW);
        assert!(link.fc.window() > link.bdp());
    }

    #[test]
    fn startup_ends_once_growth_stops() {
        let mut link = Link::new();
        assert!(link.fc.in_startup());
        link.saturate(link.rtt * 50.0);
        assert!(!link.fc.in_startup());
    }

    #[test]
    fn the_steady_window_settles_a_quarter_above_the_bdp() {
        let mut link = Link::new();
        link.saturate(link.rtt * 50.0);
        assert!(!link.fc.in_startup());
        let near = |w: f64, bdp: f64| w > bdp * 1.2 && w < bdp * 1.3;
        assert!(near(link.fc.window(), link.bdp()), "{}", link.fc.window());
        link.saturate(link.rtt * 20.0);
        assert!(near(link.fc.window(), link.bdp()), "{}", link.fc.window());
    }

    #[test]
    fn a_writer_that_does_not_fill_the_window_keeps_it() {
        let mut link = Link::new();
        link.saturate(link.rtt * 50.0);
        let window = link.fc.window();
        for _ in 0..50 {
            link.send(1024.0);
            link.next_ack();
        }
        assert_eq!(link.fc.window(), window);
    }

    #[test]
    fn the_window_shrinks_when_the_bandwidth_drops() {
        let mut link = Link::new();
        link.saturate(link.rtt * 50.0);
        assert!(!link.fc.in_startup());
        assert!(link.fc.window() > link.bdp());
        link.bandwidth /= 4.0;
        link.saturate(link.rtt * 200.0);
        assert!(link.fc.window() < link.bdp() * 2.0, "{}", link.fc.window());
    }

    #[test]
    fn an_error_gives_back_the_bytes_and_keeps_the_window() {
        let mut link = Link::new();
        let (token, _) = link.fc.on_send(64.0 * 1024.0);
        assert_eq!(link.fc.in_flight(), 64.0 * 1024.0);
        let window = link.fc.window();
        link.fc.on_error(token);
        assert_eq!(link.fc.in_flight(), 0.0);
        assert_eq!(link.fc.window(), window);
    }

    #[test]
    fn the_window_at_most_doubles_per_round_trip_while_starting_up() {
        let mut link = Link::new();
        let chunk = 64.0 * 1024.0;
        link.fill(chunk);
        link.next_ack();
        let before = link.fc.window();
        link.fill(chunk);
        while !link.in_flight.is_empty() {
            link.next_ack();
        }
        assert!(link.fc.window() <= before * 2.0 + 1.0);
    }

    #[test]
    fn the_window_never_goes_below_the_minimum() {
        let mut link = Link::new();
        link.rtt = 1.0;
        link.bandwidth = 1.0;
        link.saturate(10_000_000.0);
        assert_eq!(link.fc.window(), MIN_WINDOW);
    }
}
