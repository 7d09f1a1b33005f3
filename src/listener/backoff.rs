//! Capped exponential backoff with jitter, for reconnecting and for retrying failed jobs.

use std::time::Duration;

/// `base * 2^n`, capped at `max`, each delay drawn uniformly from its upper half so that many
/// listeners that failed together do not retry together.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff { base, max, failures: 0 }
    }

    /// The delay before the next try; each call doubles the next one, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let delay = delay_for(self.base, self.max, self.failures);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The delay after `failures` earlier failures: `base * 2^failures` capped at `max`, with jitter.
pub fn delay_for(base: Duration, max: Duration, failures: u32) -> Duration {
    let exponential = base.saturating_mul(1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX));
    let capped = exponential.min(max);
    capped / 2 + capped.mul_f64(fastrand::f64() / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_stays_within_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let delays: Vec<_> = (0..10).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100));
        assert!(delays[3] >= Duration::from_millis(400), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(2)), "{delays:?}");
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
