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
