use std::sync::atomic::{AtomicU64, Ordering};

use secrets_domain::clock::Timestamp;
use secrets_domain::ports::Clock;

/// A clock that stands still until told to move; clones share the time.
#[derive(Debug, Clone)]
pub struct ManualClock(std::sync::Arc<AtomicU64>);

impl ManualClock {
    pub fn at(time: Timestamp) -> Self {
        Self(std::sync::Arc::new(AtomicU64::new(time.millis())))
    }

    pub fn advance_secs(&self, secs: u64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}
