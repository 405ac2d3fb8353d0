//! Single-leader leases in KV: the work that must run once per fleet (the
//! scheduler's and deploy's clock ticks) runs only while its lease is held.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::state::StateStore;
use crate::{Bus, BusError};

/// How long a lease outlives its last renewal (the lease bucket's max age).
pub const LEASE_TTL: Duration = Duration::from_secs(15);

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Holder {
    holder: String,
}

/// A named lease, tried by one holder.
#[derive(Debug, Clone)]
pub struct Lease {
    store: StateStore,
    key: String,
    holder: String,
}

impl Lease {
    /// A lease on `name` for a holder with a fresh random id.
    ///
    /// # Errors
    /// [`BusError::Ensure`] when the lease bucket cannot be opened.
    pub async fn new(bus: &Bus, name: &str) -> Result<Lease, BusError> {
        let store = bus
            .state_bucket(
                &events::spec::lease_bucket(bus.namespace()),
                Some(LEASE_TTL),
            )
            .await?;
        Ok(Lease {
            store,
            key: crate::kv_key(&[name]),
            holder: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// Acquires or renews the lease; `true` while this holder leads. Call it
    /// more often than [`LEASE_TTL`] (every tick).
    ///
    /// # Errors
    /// [`BusError::Io`] when the bucket cannot be read or written.
    pub async fn hold(&self) -> Result<bool, BusError> {
        let current = self.store.load::<Holder>(&self.key).await?;
        match current.value {
            Some(h) if h.holder != self.holder => Ok(false),
            _ => {
                let me = Holder {
                    holder: self.holder.clone(),
                };
                match self.store.save(&self.key, &me, current.revision).await {
                    Ok(_) => Ok(true),
                    Err(BusError::Conflict { .. }) => Ok(false),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

/// Calls `tick` every `period` while this process holds the lease `name`, until
/// `token` fires. A tick that fails is logged and retried at the next period;
/// a lost lease stops the ticks until it is won back.
///
/// # Errors
/// [`BusError::Ensure`] when the lease bucket cannot be opened at start.
pub async fn run_ticks<F, Fut>(
    bus: &Bus,
    name: &str,
    period: Duration,
    token: tokio_util::sync::CancellationToken,
    mut tick: F,
) -> Result<(), BusError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), BusError>>,
{
    let lease = Lease::new(bus, name).await?;
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut leading = false;
    loop {
        tokio::select! {
            () = token.cancelled() => return Ok(()),
            _ = interval.tick() => {}
        }
        match lease.hold().await {
            Ok(true) => {
                if !leading {
                    tracing::info!(lease = name, "lease acquired, ticking");
                    leading = true;
                }
                if let Err(e) = tick().await {
                    tracing::warn!(lease = name, error = %e, "tick failed, retrying next period");
                }
            }
            Ok(false) => {
                if leading {
                    tracing::warn!(lease = name, "lease lost");
                    leading = false;
                }
            }
            Err(e) => tracing::warn!(lease = name, error = %e, "lease check failed"),
        }
    }
}

/// Runs a service's consumers ([`crate::serve`]) and its leader-gated clock
/// ticks ([`run_ticks`] under the lease `service`) until `token` fires.
///
/// # Errors
/// The first setup error of either.
#[allow(clippy::too_many_arguments)]
pub async fn serve_and_tick<H, F, Fut>(
    bus: &Bus,
    service: events::Service,
    consumers: Vec<events::spec::ConsumerSpec>,
    handler: std::sync::Arc<H>,
    options: impl Into<crate::ServeOptions>,
    period: Duration,
    tick: F,
    token: tokio_util::sync::CancellationToken,
) -> Result<(), BusError>
where
    H: crate::Handler,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), BusError>>,
{
    let consume = crate::serve(bus, service, consumers, handler, options, token.clone());
    let ticks = run_ticks(bus, service.as_str(), period, token, tick);
    let (a, b) = tokio::join!(consume, ticks);
    a.and(b)
}
