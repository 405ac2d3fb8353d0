//! Exceptions on the bus: grants and revocations from operators, expiries
//! found by the tick; each re-publishes the decisions it covers with
//! `trigger: exception`.

use std::collections::BTreeSet;

use bus::{BusError, HandleError};
use events::{
    DecisionTrigger, Event, ExceptionExpired, ExceptionGranted, ExceptionRevoked, ExceptionTarget,
    Service, derive_id,
};
use tracing::info;
use uuid::Uuid;

use super::{PrioritizeService, keys};
use crate::exceptions::{self, EndKind, ExceptionIndex, ExceptionRecord, Grant};

impl PrioritizeService {
    /// Changes `index.exceptions` and refreshes this process's cache.
    async fn modify_exceptions(
        &self,
        change: impl FnMut(&mut ExceptionIndex) -> bool,
    ) -> Result<(), BusError> {
        let index = self.modify(keys::EXCEPTIONS, change).await?;
        self.cache_exceptions(index);
        Ok(())
    }

    /// The known open findings an exception target names.
    async fn targeted(&self, target: &ExceptionTarget) -> Result<BTreeSet<Uuid>, BusError> {
        match target {
            ExceptionTarget::Finding { finding_id } => Ok([*finding_id].into()),
            ExceptionTarget::Cve { cve } => {
                let cve = cve.trim().to_ascii_uppercase();
                Ok(self
                    .findings_with(&[cve].into())
                    .await?
                    .into_values()
                    .flatten()
                    .collect())
            }
        }
    }

    /// Stores an exception's end (keeps the first end).
    async fn end_exception(
        &self,
        id: Uuid,
        kind: EndKind,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), BusError> {
        let key = keys::exception(id);
        let stored = self.state.load::<ExceptionRecord>(&key).await?;
        if let Some(ended) = stored
            .value
            .as_ref()
            .and_then(|r| exceptions::end(r, kind, at))
        {
            self.state.save(&key, &ended, stored.revision).await?;
        }
        Ok(())
    }

    /// `patch.exception.granted`: store it, make it active, and re-publish
    /// the decisions of the open findings it covers.
    pub(super) async fn on_exception_granted(
        &self,
        parent: &Event,
        g: &ExceptionGranted,
    ) -> Result<(), HandleError> {
        let key = keys::exception(g.exception_id);
        let stored = self.state.load::<ExceptionRecord>(&key).await?;
        let active = match exceptions::grant(stored.value.as_ref(), g) {
            Grant::Ended => return Ok(()),
            Grant::Active(a) => a,
            Grant::Activate(record) => {
                match self.state.save(&key, &record, stored.revision).await {
                    Ok(_) | Err(BusError::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                record.active
            }
        };
        let id = g.exception_id;
        self.modify_exceptions(|ix| ix.insert(id, active.clone()).as_ref() != Some(&active))
            .await?;
        let ids = self.targeted(&active.target).await?;
        let published = self
            .redecide_all(parent, ids, |_| DecisionTrigger::Exception {
                exception_id: id,
            })
            .await?;
        info!(exception = %id, published, expires_at = %active.expires_at, "exception granted");
        Ok(())
    }

    /// `patch.exception.revoked`: deactivate it, re-publish the decisions
    /// it covered, store its end.
    pub(super) async fn on_exception_revoked(
        &self,
        parent: &Event,
        r: &ExceptionRevoked,
    ) -> Result<(), HandleError> {
        let key = keys::exception(r.exception_id);
        let Some(record) = self.state.load::<ExceptionRecord>(&key).await?.value else {
            return Err(HandleError::Poison(format!(
                "revocation of exception {} that prioritize never saw granted",
                r.exception_id
            )));
        };
        if record.ended.is_some() {
            return Ok(());
        }
        let id = r.exception_id;
        self.modify_exceptions(|ix| ix.remove(&id).is_some())
            .await?;
        let ids = self.targeted(&record.active.target).await?;
        // Restated, changed or not: see `reassess::restate`.
        let published = self
            .restate_all(parent, ids, |_| DecisionTrigger::Exception {
                exception_id: id,
            })
            .await?;
        self.end_exception(id, EndKind::Revoked, r.revoked_at)
            .await?;
        info!(exception = %id, published, "exception revoked");
        Ok(())
    }

    /// Tick: every active exception at or past `expires_at` publishes
    /// `patch.exception.expired` (id `derive_id(exception, "prioritize",
    /// "expired")`, `expired_at = expires_at`), re-publishes the decisions
    /// it covered with their original clock, and leaves the index. A crash
    /// part-way repeats the same ids at the next tick.
    pub(super) async fn expire_exceptions(&self) -> Result<(), BusError> {
        let now = self.clock.now();
        let index = self
            .state
            .load::<ExceptionIndex>(keys::EXCEPTIONS)
            .await?
            .value
            .unwrap_or_default();
        for id in exceptions::due_to_expire(&index, now) {
            let Some(active) = index.get(&id) else {
                continue;
            };
            let mut expired = Event::new(
                derive_id(id, Service::Prioritize.as_str(), "expired"),
                Service::Prioritize,
                now,
                ExceptionExpired {
                    exception_id: id,
                    target: active.target.clone(),
                    expired_at: active.expires_at,
                },
            );
            expired.traceparent = Some(bus::trace::child(None));
            self.bus.publish(&expired).await?;
            // An exception past expires_at covers nothing any more, so the
            // re-decisions drop it before it leaves the index.
            let ids = self.targeted(&active.target).await?;
            // Restated, changed or not: see `reassess::restate`.
            let published = self
                .restate_all(&expired, ids, |_| DecisionTrigger::Exception {
                    exception_id: id,
                })
                .await?;
            self.end_exception(id, EndKind::Expired, active.expires_at)
                .await?;
            self.modify_exceptions(|ix| ix.remove(&id).is_some())
                .await?;
            info!(exception = %id, published, "exception expired");
        }
        Ok(())
    }
}
