//! The CloudEvents 1.0 envelope and the closed set of payloads it can carry.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Service;
use crate::agent::{AgentJob, AgentOnline, AgentResult};
use crate::asset::AssetUpserted;
use crate::bulletin::{AdvisoryPublished, CatalogLoaded, KevAdded};
use crate::bundle::{
    BundleApproved, BundleCompleted, BundleHalted, BundlePlanned, BundleRejected, BundleScheduled,
};
use crate::deadletter::DeadLettered;
use crate::deployment::{
    HostStepFinished, HostStepStarted, RollbackCompleted, RollbackRequested, WaveCompleted,
    WaveHalted, WaveStarted,
};
use crate::emergency::{EmergencyDeclared, EmergencyEscalated, EmergencyProgressed};
use crate::exception::{ExceptionExpired, ExceptionGranted, ExceptionRevoked};
use crate::finding::{FindingObserved, FindingPrioritized, FindingResolved};
use crate::scan::{ScanCompleted, ScanRejected, ScanSubmitted};
use crate::subject::{Namespace, tail};
use crate::validation::{ValidationFailed, ValidationPassed};

/// The CloudEvents `specversion` patchflow writes and accepts.
pub const SPEC_VERSION: &str = "1.0";
/// The `datacontenttype` of every patchflow event.
pub const CONTENT_TYPE: &str = "application/json";

/// Why bytes could not be read as an [`Event`]: always a poison message.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not a JSON CloudEvents envelope.
    #[error("undecodable envelope: {0}")]
    Envelope(#[source] serde_json::Error),
    /// `specversion` is not 1.0.
    #[error("unsupported CloudEvents specversion {0:?}")]
    SpecVersion(String),
    /// `type` names no event patchflow knows.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// `data` does not match the schema of `type`.
    #[error("data does not match {event_type}: {source}")]
    Data {
        /// The declared type.
        event_type: String,
        /// The mismatch.
        #[source]
        source: serde_json::Error,
    },
}

/// Derives the id of an event produced from another: a UUIDv5 in the parent's
/// id as namespace, of `"<stage>/<child_key>"`.
///
/// The same parent, stage and key always give the same id, so a redelivered
/// input republishes the same ids and JetStream's duplicate window (and the
/// projections' id checks) drop the copies.
pub fn derive_id(parent: Uuid, stage: &str, child_key: &str) -> Uuid {
    Uuid::new_v5(&parent, format!("{stage}/{child_key}").as_bytes())
}

macro_rules! payloads {
    ($( $(#[$doc:meta])* $variant:ident($ty:ty) = $type_name:literal ),* $(,)?) => {
        /// Every payload patchflow puts on the bus, one variant per event type.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Payload {
            $( $(#[$doc])* $variant($ty), )*
        }

        $(
            impl From<$ty> for Payload {
                fn from(p: $ty) -> Self {
                    Payload::$variant(p)
                }
            }
        )*

        impl Payload {
            /// Every CloudEvents `type` patchflow defines.
            pub const TYPES: &'static [&'static str] = &[$($type_name),*];

            /// The CloudEvents `type`, with its version: `patch.finding.observed.v1`.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $( Payload::$variant(_) => $type_name, )*
                }
            }

            /// Decodes `data` (the JSON text of the envelope's `data`) as
            /// the payload of `event_type`, straight from the text.
            fn from_raw(event_type: &str, data: &str) -> Result<Payload, EventError> {
                let wrap = |source| EventError::Data { event_type: event_type.to_owned(), source };
                match event_type {
                    $( $type_name => serde_json::from_str::<$ty>(data).map(Payload::$variant).map_err(wrap), )*
                    other => Err(EventError::UnknownType(other.to_owned())),
                }
            }
        }

        /// Serialises a payload as its variant's own type (the envelope's
        /// `data`), without an intermediate `serde_json::Value`.
        impl Serialize for Payload {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Payload::$variant(p) => p.serialize(serializer), )*
                }
            }
        }

        impl Payload {

            /// The JSON Schema of each type's `data`, by type name.
            pub(crate) fn data_schemas() -> Vec<(&'static str, schemars::Schema)> {
                vec![$( ($type_name, schemars::schema_for!($ty)), )*]
            }
        }
    };
}

payloads! {
    /// `patch.scan.submitted`
    ScanSubmitted(ScanSubmitted) = "patch.scan.submitted.v1",
    /// `patch.scan.rejected`
    ScanRejected(ScanRejected) = "patch.scan.rejected.v1",
    /// `patch.scan.completed`
    ScanCompleted(ScanCompleted) = "patch.scan.completed.v1",
    /// `patch.asset.upserted`
    AssetUpserted(AssetUpserted) = "patch.asset.upserted.v1",
    /// `patch.finding.observed`
    FindingObserved(FindingObserved) = "patch.finding.observed.v1",
    /// `patch.finding.resolved`
    FindingResolved(FindingResolved) = "patch.finding.resolved.v1",
    /// `patch.finding.prioritized.<priority>`
    FindingPrioritized(FindingPrioritized) = "patch.finding.prioritized.v1",
    /// `patch.bulletin.catalog_loaded`
    CatalogLoaded(CatalogLoaded) = "patch.bulletin.catalog_loaded.v1",
    /// `patch.bulletin.kev_added`
    KevAdded(KevAdded) = "patch.bulletin.kev_added.v1",
    /// `patch.bulletin.advisory`
    AdvisoryPublished(AdvisoryPublished) = "patch.bulletin.advisory.v1",
    /// `patch.emergency.declared`
    EmergencyDeclared(EmergencyDeclared) = "patch.emergency.declared.v1",
    /// `patch.emergency.progressed`
    EmergencyProgressed(EmergencyProgressed) = "patch.emergency.progressed.v1",
    /// `patch.emergency.escalated`
    EmergencyEscalated(EmergencyEscalated) = "patch.emergency.escalated.v1",
    /// `patch.exception.granted`
    ExceptionGranted(ExceptionGranted) = "patch.exception.granted.v1",
    /// `patch.exception.expired`
    ExceptionExpired(ExceptionExpired) = "patch.exception.expired.v1",
    /// `patch.exception.revoked`
    ExceptionRevoked(ExceptionRevoked) = "patch.exception.revoked.v1",
    /// `patch.bundle.planned`
    BundlePlanned(BundlePlanned) = "patch.bundle.planned.v1",
    /// `patch.bundle.scheduled`
    BundleScheduled(BundleScheduled) = "patch.bundle.scheduled.v1",
    /// `patch.bundle.completed`
    BundleCompleted(BundleCompleted) = "patch.bundle.completed.v1",
    /// `patch.bundle.halted`
    BundleHalted(BundleHalted) = "patch.bundle.halted.v1",
    /// `patch.bundle.approved`
    BundleApproved(BundleApproved) = "patch.bundle.approved.v1",
    /// `patch.bundle.rejected`
    BundleRejected(BundleRejected) = "patch.bundle.rejected.v1",
    /// `patch.deployment.wave.started`
    WaveStarted(WaveStarted) = "patch.deployment.wave.started.v1",
    /// `patch.deployment.wave.completed`
    WaveCompleted(WaveCompleted) = "patch.deployment.wave.completed.v1",
    /// `patch.deployment.wave.halted`
    WaveHalted(WaveHalted) = "patch.deployment.wave.halted.v1",
    /// `patch.agent.job.<host>`
    AgentJob(AgentJob) = "patch.agent.job.v1",
    /// `patch.agent.result.<host>`
    AgentResult(AgentResult) = "patch.agent.result.v1",
    /// `patch.agent.online.<host>`
    AgentOnline(AgentOnline) = "patch.agent.online.v1",
    /// `patch.deployment.step.started.<host>`
    HostStepStarted(HostStepStarted) = "patch.deployment.step.started.v1",
    /// `patch.deployment.step.finished.<host>`
    HostStepFinished(HostStepFinished) = "patch.deployment.step.finished.v1",
    /// `patch.validation.passed`
    ValidationPassed(ValidationPassed) = "patch.validation.passed.v1",
    /// `patch.validation.failed`
    ValidationFailed(ValidationFailed) = "patch.validation.failed.v1",
    /// `patch.rollback.requested`
    RollbackRequested(RollbackRequested) = "patch.rollback.requested.v1",
    /// `patch.rollback.completed`
    RollbackCompleted(RollbackCompleted) = "patch.rollback.completed.v1",
    /// `patch.deadletter.<service>`
    DeadLettered(DeadLettered) = "patch.deadletter.v1",
}

impl Payload {
    /// The NATS subject tail (without namespace) this payload is published on.
    pub fn subject_tail(&self) -> String {
        match self {
            Payload::ScanSubmitted(_) => tail::SCAN_SUBMITTED.to_owned(),
            Payload::ScanRejected(_) => tail::SCAN_REJECTED.to_owned(),
            Payload::ScanCompleted(_) => tail::SCAN_COMPLETED.to_owned(),
            Payload::AssetUpserted(_) => tail::ASSET_UPSERTED.to_owned(),
            Payload::FindingObserved(_) => tail::FINDING_OBSERVED.to_owned(),
            Payload::FindingResolved(_) => tail::FINDING_RESOLVED.to_owned(),
            Payload::FindingPrioritized(p) => tail::finding_prioritized(p.priority),
            Payload::CatalogLoaded(_) => tail::CATALOG_LOADED.to_owned(),
            Payload::KevAdded(_) => tail::KEV_ADDED.to_owned(),
            Payload::AdvisoryPublished(_) => tail::ADVISORY.to_owned(),
            Payload::EmergencyDeclared(_) => tail::EMERGENCY_DECLARED.to_owned(),
            Payload::EmergencyProgressed(_) => tail::EMERGENCY_PROGRESSED.to_owned(),
            Payload::EmergencyEscalated(_) => tail::EMERGENCY_ESCALATED.to_owned(),
            Payload::ExceptionGranted(_) => tail::EXCEPTION_GRANTED.to_owned(),
            Payload::ExceptionExpired(_) => tail::EXCEPTION_EXPIRED.to_owned(),
            Payload::ExceptionRevoked(_) => tail::EXCEPTION_REVOKED.to_owned(),
            Payload::BundlePlanned(_) => tail::BUNDLE_PLANNED.to_owned(),
            Payload::BundleScheduled(_) => tail::BUNDLE_SCHEDULED.to_owned(),
            Payload::BundleCompleted(_) => tail::BUNDLE_COMPLETED.to_owned(),
            Payload::BundleHalted(_) => tail::BUNDLE_HALTED.to_owned(),
            Payload::BundleApproved(_) => tail::BUNDLE_APPROVED.to_owned(),
            Payload::BundleRejected(_) => tail::BUNDLE_REJECTED.to_owned(),
            Payload::WaveStarted(_) => tail::WAVE_STARTED.to_owned(),
            Payload::WaveCompleted(_) => tail::WAVE_COMPLETED.to_owned(),
            Payload::WaveHalted(_) => tail::WAVE_HALTED.to_owned(),
            Payload::AgentJob(j) => tail::agent_job(&j.host),
            Payload::AgentResult(r) => tail::agent_result(&r.host),
            Payload::AgentOnline(o) => tail::agent_online(&o.host),
            Payload::HostStepStarted(s) => tail::step_started(&s.host),
            Payload::HostStepFinished(s) => tail::step_finished(&s.host),
            Payload::ValidationPassed(_) => tail::VALIDATION_PASSED.to_owned(),
            Payload::ValidationFailed(_) => tail::VALIDATION_FAILED.to_owned(),
            Payload::RollbackRequested(_) => tail::ROLLBACK_REQUESTED.to_owned(),
            Payload::RollbackCompleted(_) => tail::ROLLBACK_COMPLETED.to_owned(),
            Payload::DeadLettered(d) => tail::deadletter(d.service),
        }
    }

    /// The CloudEvents `subject`: the entity the event is about (scan id,
    /// asset id, finding id, bundle id).
    pub fn entity(&self) -> String {
        match self {
            Payload::ScanSubmitted(p) => p.scan_id.to_string(),
            Payload::ScanRejected(p) => p.scan_id.to_string(),
            Payload::ScanCompleted(p) => p.scan_id.to_string(),
            Payload::AssetUpserted(p) => p.asset.asset_id.clone(),
            Payload::FindingObserved(p) => p.finding_id.to_string(),
            Payload::FindingResolved(p) => p.finding_id.to_string(),
            Payload::FindingPrioritized(p) => p.finding_id.to_string(),
            Payload::DeadLettered(p) => format!("{}/{}", p.stream, p.stream_sequence),
            Payload::CatalogLoaded(p) => format!("{:?}/{}", p.kind, p.version).to_lowercase(),
            Payload::KevAdded(p) => p.entry.cve.clone(),
            Payload::AdvisoryPublished(p) => p.id.clone(),
            Payload::EmergencyDeclared(p) => p.emergency_id.to_string(),
            Payload::EmergencyProgressed(p) => p.emergency_id.to_string(),
            Payload::EmergencyEscalated(p) => p.emergency_id.to_string(),
            Payload::ExceptionGranted(p) => p.exception_id.to_string(),
            Payload::ExceptionExpired(p) => p.exception_id.to_string(),
            Payload::ExceptionRevoked(p) => p.exception_id.to_string(),
            // About a host: consumers with lanes spread hosts over them.
            Payload::AgentOnline(p) => p.host.clone(),
            // About one host's saga in one bundle: the steps of a host in
            // different bundles are independent and may run at once.
            Payload::HostStepStarted(p) => format!("{}/{}", p.bundle_id, p.host),
            Payload::HostStepFinished(p) => format!("{}/{}", p.bundle_id, p.host),
            other => other.bundle_id().map(|b| b.to_string()).unwrap_or_default(),
        }
    }

    /// The bundle this event belongs to, if any: the key of a bundle's audit trail.
    pub fn bundle_id(&self) -> Option<Uuid> {
        Some(match self {
            Payload::BundlePlanned(p) => p.bundle_id,
            Payload::BundleScheduled(p) => p.bundle_id,
            Payload::BundleCompleted(p) => p.bundle_id,
            Payload::BundleHalted(p) => p.bundle_id,
            Payload::BundleApproved(p) => p.bundle_id,
            Payload::BundleRejected(p) => p.bundle_id,
            Payload::WaveStarted(p) => p.bundle_id,
            Payload::WaveCompleted(p) => p.bundle_id,
            Payload::WaveHalted(p) => p.bundle_id,
            Payload::AgentJob(p) => p.bundle_id,
            Payload::AgentResult(p) => p.bundle_id,
            Payload::AgentOnline(p) => return p.reboot.as_ref().map(|r| r.bundle_id),
            Payload::HostStepStarted(p) => p.bundle_id,
            Payload::HostStepFinished(p) => p.bundle_id,
            Payload::ValidationPassed(p) => p.bundle_id,
            Payload::ValidationFailed(p) => p.bundle_id,
            Payload::RollbackRequested(p) => p.bundle_id,
            Payload::RollbackCompleted(p) => p.bundle_id,
            _ => return None,
        })
    }
}

/// A patchflow event: a CloudEvents 1.0 envelope around a typed [`Payload`].
///
/// Serialised in structured mode:
/// `{"specversion":"1.0","id":…,"source":"patchflow/ingest","type":"patch.finding.observed.v1",
///   "subject":…,"time":…,"datacontenttype":"application/json","dataschema":…,"traceparent":…,"data":{…}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Event id (UUIDv7 for roots, UUIDv5 for derived events); also the
    /// `Nats-Msg-Id` it is published with.
    pub id: Uuid,
    /// Producer, `patchflow/<service>`.
    pub source: String,
    /// CloudEvents `subject`: the entity the event is about.
    pub subject: String,
    /// When the producer decided it (UTC, from the producer's clock).
    pub time: DateTime<Utc>,
    /// W3C `traceparent` of the producing span, if traced.
    pub traceparent: Option<String>,
    /// The payload.
    pub data: Payload,
}

#[derive(Serialize)]
struct WireOut<'a> {
    specversion: &'static str,
    id: Uuid,
    source: &'a str,
    #[serde(rename = "type")]
    event_type: &'static str,
    subject: &'a str,
    time: DateTime<Utc>,
    datacontenttype: &'static str,
    dataschema: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    traceparent: Option<&'a str>,
    data: &'a Payload,
}

#[derive(Deserialize)]
struct WireIn<'a> {
    specversion: String,
    id: Uuid,
    source: String,
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    subject: String,
    time: DateTime<Utc>,
    #[serde(default)]
    traceparent: Option<String>,
    /// Decoded by type once the envelope is read ([`Payload::from_raw`]).
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

/// The `dataschema` URI of an event type: `urn:patchflow:schema:<type>`. The
/// schema itself is `schemas/<type>.json` in the repository.
pub fn dataschema(event_type: &str) -> String {
    format!("urn:patchflow:schema:{event_type}")
}

impl Event {
    /// An event with an explicit id: pass `Uuid::now_v7()` for a root event,
    /// or use [`Event::derived`].
    pub fn new(id: Uuid, source: Service, time: DateTime<Utc>, data: impl Into<Payload>) -> Self {
        let data = data.into();
        Event {
            id,
            source: source.source(),
            subject: data.entity(),
            time,
            traceparent: None,
            data,
        }
    }

    /// An event derived from `parent`: id from [`derive_id`]`(parent.id, stage,
    /// child_key)`, trace context inherited.
    pub fn derived(
        parent: &Event,
        source: Service,
        child_key: &str,
        time: DateTime<Utc>,
        data: impl Into<Payload>,
    ) -> Self {
        let mut e = Event::new(
            derive_id(parent.id, source.as_str(), child_key),
            source,
            time,
            data,
        );
        e.traceparent.clone_from(&parent.traceparent);
        e
    }

    /// The full subject in namespace `ns`.
    pub fn subject_in(&self, ns: &Namespace) -> String {
        ns.subject(&self.data.subject_tail())
    }

    /// The CloudEvents `type`.
    pub fn event_type(&self) -> &'static str {
        self.data.event_type()
    }

    /// Serialises to CloudEvents structured-mode JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Payloads are plain data (no maps with non-string keys), so this
        // cannot fail.
        serde_json::to_vec(&self.wire()).unwrap_or_default()
    }

    /// The envelope as written: CloudEvents attributes and the payload.
    fn wire(&self) -> WireOut<'_> {
        WireOut {
            specversion: SPEC_VERSION,
            id: self.id,
            source: &self.source,
            event_type: self.data.event_type(),
            subject: &self.subject,
            time: self.time,
            datacontenttype: CONTENT_TYPE,
            dataschema: dataschema(self.data.event_type()),
            traceparent: self.traceparent.as_deref(),
            data: &self.data,
        }
    }

    /// Parses CloudEvents structured-mode JSON.
    ///
    /// # Errors
    /// [`EventError`]: not an envelope, another specversion, an unknown type,
    /// or `data` that does not fit the type.
    pub fn from_json(bytes: &[u8]) -> Result<Event, EventError> {
        let wire: WireIn<'_> = serde_json::from_slice(bytes).map_err(EventError::Envelope)?;
        if wire.specversion != SPEC_VERSION {
            return Err(EventError::SpecVersion(wire.specversion));
        }
        let data = Payload::from_raw(&wire.event_type, wire.data.get())?;
        Ok(Event {
            id: wire.id,
            source: wire.source,
            subject: wire.subject,
            time: wire.time,
            traceparent: wire.traceparent,
            data,
        })
    }
}

impl Serialize for Event {
    /// As the CloudEvents structured-mode document of [`Event::to_json`].
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Event {
    /// From a CloudEvents structured-mode document, as [`Event::from_json`].
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        let bytes = serde_json::to_vec(&value).map_err(serde::de::Error::custom)?;
        Event::from_json(&bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{ScanScope, ScanSubmitted};

    #[test]
    fn serde_goes_through_the_cloudevents_form() {
        let e = submitted();
        let stored = serde_json::to_string(&vec![e.clone()]).unwrap();
        let back: Vec<Event> = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, vec![e.clone()]);
        // Nested, an event is the very document `to_json` writes.
        let nested: serde_json::Value = serde_json::from_str(&stored).unwrap();
        let direct: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(nested[0], direct);
    }

    #[test]
    fn events_written_with_any_key_order_decode_alike() {
        // Earlier builds wrote `data` with its keys sorted (through a
        // `serde_json::Value`); stored events of that form still decode.
        let e = submitted();
        let sorted: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        let sorted = serde_json::to_vec(&sorted).unwrap();
        assert_ne!(sorted, e.to_json());
        assert_eq!(Event::from_json(&sorted).unwrap(), e);
        // `data` that does not fit its type names the type.
        let mut v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        v["data"] = serde_json::json!({"scan_id": 7});
        let err = Event::from_json(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.to_string().contains("patch.scan.submitted.v1"), "{err}");
    }

    fn submitted() -> Event {
        Event::new(
            Uuid::from_u128(7),
            Service::Cli,
            "2026-11-29T10:00:00Z".parse().unwrap(),
            ScanSubmitted {
                scan_id: Uuid::from_u128(7),
                object: "scan-7".into(),
                digest: None,
                size_bytes: 10,
                file_name: "a.nessus".into(),
                format_hint: None,
                scope: ScanScope::Full,
                submitted_by: "ops".into(),
            },
        )
    }

    #[test]
    fn round_trips_as_a_cloudevents_document() {
        let e = submitted();
        let json: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "patch.scan.submitted.v1");
        assert_eq!(json["source"], "patchflow/cli");
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(
            json["dataschema"],
            "urn:patchflow:schema:patch.scan.submitted.v1"
        );
        assert_eq!(json["subject"], Uuid::from_u128(7).to_string());
        assert_eq!(Event::from_json(&e.to_json()).unwrap(), e);
    }

    #[test]
    fn derived_ids_are_stable_and_distinct_per_key() {
        let parent = submitted();
        let a = derive_id(parent.id, "ingest", "f1");
        assert_eq!(a, derive_id(parent.id, "ingest", "f1"));
        assert_ne!(a, derive_id(parent.id, "ingest", "f2"));
        assert_ne!(a, derive_id(parent.id, "prioritize", "f1"));
        assert_eq!(a.get_version_num(), 5);
    }

    #[test]
    fn poison_is_classified() {
        assert!(matches!(
            Event::from_json(b"{"),
            Err(EventError::Envelope(_))
        ));
        let mut v: serde_json::Value = serde_json::from_slice(&submitted().to_json()).unwrap();
        v["type"] = "patch.nope.v1".into();
        assert!(matches!(
            Event::from_json(&serde_json::to_vec(&v).unwrap()),
            Err(EventError::UnknownType(_))
        ));
        v["type"] = "patch.scan.submitted.v1".into();
        v["data"]["size_bytes"] = "ten".into();
        assert!(matches!(
            Event::from_json(&serde_json::to_vec(&v).unwrap()),
            Err(EventError::Data { .. })
        ));
        v["specversion"] = "0.3".into();
        assert!(matches!(
            Event::from_json(&serde_json::to_vec(&v).unwrap()),
            Err(EventError::SpecVersion(_))
        ));
    }
}
