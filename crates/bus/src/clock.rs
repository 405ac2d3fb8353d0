//! The injected clock. Stage logic never reads time itself; adapters ask a
//! [`Clock`], so tests and the demo can drive time.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// A source of "now" in UTC. Cheap to clone; clones share the same time.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

enum Inner {
    System,
    Simulated {
        start: DateTime<Utc>,
        origin: std::time::Instant,
        rate: f64,
    },
    Manual(Mutex<DateTime<Utc>>),
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.inner {
            Inner::System => f.write_str("Clock::system"),
            Inner::Simulated { start, rate, .. } => {
                write!(f, "Clock::simulated(start={start}, rate={rate})")
            }
            Inner::Manual(_) => f.write_str("Clock::manual"),
        }
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock {
            inner: Arc::new(Inner::System),
        }
    }

    /// A clock that starts at `start` and runs `rate` times faster than real
    /// time (the demo runs a week of maintenance windows in a minute).
    pub fn simulated(start: DateTime<Utc>, rate: f64) -> Clock {
        Clock {
            inner: Arc::new(Inner::Simulated {
                start,
                origin: std::time::Instant::now(),
                rate: rate.max(0.0),
            }),
        }
    }

    /// A clock that only moves when told to ([`Clock::set`], [`Clock::advance`]).
    pub fn manual(start: DateTime<Utc>) -> Clock {
        Clock {
            inner: Arc::new(Inner::Manual(Mutex::new(start))),
        }
    }

    /// The current instant (UTC).
    pub fn now(&self) -> DateTime<Utc> {
        match &*self.inner {
            Inner::System => Utc::now(),
            Inner::Simulated {
                start,
                origin,
                rate,
            } => {
                let elapsed = origin.elapsed().mul_f64(*rate);
                *start + Duration::from_std(elapsed).unwrap_or(Duration::MAX)
            }
            Inner::Manual(t) => *t.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Sets a manual clock to `t`; no effect on other clocks.
    pub fn set(&self, t: DateTime<Utc>) {
        if let Inner::Manual(m) = &*self.inner {
            *m.lock().unwrap_or_else(|p| p.into_inner()) = t;
        }
    }

    /// Moves a manual clock forward by `d`; no effect on other clocks.
    pub fn advance(&self, d: Duration) {
        if let Inner::Manual(m) = &*self.inner {
            let mut g = m.lock().unwrap_or_else(|p| p.into_inner());
            *g += d;
        }
    }

    /// How much real time corresponds to `d` of this clock's time (a
    /// simulated clock at rate 600 turns 10 min into 1 s).
    pub fn real_duration(&self, d: std::time::Duration) -> std::time::Duration {
        match &*self.inner {
            Inner::Simulated { rate, .. } if *rate > 0.0 => d.div_f64(*rate),
            _ => d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let c = Clock::manual(t0);
        let shared = c.clone();
        assert_eq!(c.now(), t0);
        shared.advance(Duration::hours(4));
        assert_eq!(c.now(), t0 + Duration::hours(4));
        c.set(t0);
        assert_eq!(shared.now(), t0);
    }

    #[test]
    fn simulated_clock_runs_faster() {
        let t0: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let c = Clock::simulated(t0, 3600.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let elapsed = c.now() - t0;
        assert!(elapsed >= Duration::seconds(60), "{elapsed}");
        assert_eq!(
            c.real_duration(std::time::Duration::from_secs(3600)),
            std::time::Duration::from_secs(1)
        );
    }
}
