//! Host agent jobs and results.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::finding::Remediation;

/// What a job asks of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobAction {
    /// Apply the remediations.
    Apply,
    /// Undo what the bundle applied (restore recorded previous versions).
    Rollback,
    /// Reboot the host, as a step of deploy's host saga after an apply that
    /// reported `reboot_required`. Carries no remediations. The agent
    /// records the pending reboot in its state file, answers with a result
    /// whose inventory holds the boot id from before, then runs its
    /// configured reboot command (from its own configuration, never from the
    /// bus); when it runs again it publishes [`AgentOnline`] naming the job.
    Reboot,
}

/// `patch.agent.job.<host>`: one host's job.
///
/// A job carries package operations only, never a shell string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentJob {
    /// Job id (UUIDv5 of the wave event, host and action).
    pub job_id: Uuid,
    /// The bundle.
    pub bundle_id: Uuid,
    /// The ring.
    pub ring: String,
    /// The wave.
    pub wave: u32,
    /// Target host (asset id). An agent refuses a job for another host.
    pub host: String,
    /// Apply or roll back.
    pub action: JobAction,
    /// What to apply (for a rollback: what to undo).
    pub remediations: Vec<Remediation>,
    /// When deploy issued it (UTC).
    pub issued_at: DateTime<Utc>,
    /// After this instant (UTC) the agent must not start it.
    pub expires_at: DateTime<Utc>,
    /// Deploy's Ed25519 signature (RFC 8032) over [`AgentJob::signing_bytes`]:
    /// 64 bytes as 128 lowercase hex digits. An agent refuses a job whose
    /// signature is missing or does not verify with its configured public
    /// key. Absent (`None`) only before deploy signs the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Which key made [`AgentJob::signature`]: its fingerprint
    /// ([`signing_key_fingerprint`], `ed25519:` and 16 hex digits). An
    /// agent that trusts several keys (during a key rotation) verifies with
    /// the one named, and names it when it does not trust it; without it
    /// (a job from an older deploy) it tries each key it trusts. Not covered
    /// by the signature: it only selects a key, and a changed one makes the
    /// job fail verification like any other change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

impl AgentJob {
    /// The domain-separation prefix of [`AgentJob::signing_bytes`]: a
    /// signature over a job can never be mistaken for one over anything else
    /// signed with the same key.
    pub const SIGNING_CONTEXT: &'static [u8] = b"patchflow/agent-job/v1\n";

    /// The canonical bytes deploy signs and the agent verifies:
    /// [`AgentJob::SIGNING_CONTEXT`] followed by the job as compact JSON
    /// (serde_json: no whitespace, fields in declaration order — `job_id`,
    /// `bundle_id`, `ring`, `wave`, `host`, `action`, `remediations`,
    /// `issued_at`, `expires_at`), with the `signature` and `key_id` fields
    /// left out (so jobs verify the same for agents that predate `key_id`).
    ///
    /// The agent computes them from the job it decoded, so what is verified
    /// is exactly what it would act on: an unknown field added on the wire
    /// is not covered and is ignored; a changed known field breaks the
    /// signature.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let unsigned = AgentJob {
            signature: None,
            key_id: None,
            ..self.clone()
        };
        let mut bytes = Self::SIGNING_CONTEXT.to_vec();
        // Plain data with string keys only: serialisation cannot fail, and
        // an empty body would not verify against any signature made here.
        bytes.extend(serde_json::to_vec(&unsigned).unwrap_or_default());
        bytes
    }
}

/// How deploy and the agents name a job-signing key in logs and refusals:
/// `ed25519:` and the first 16 hex digits of the raw public key (32 bytes
/// for Ed25519, RFC 8032 §5.1.5).
pub fn signing_key_fingerprint(public_key: &[u8]) -> String {
    let digits = hex::encode(public_key);
    format!("ed25519:{}", digits.get(..16).unwrap_or(&digits))
}

/// Final status of a job on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Every step succeeded.
    Succeeded,
    /// A step failed; see `reason` and `steps`.
    Failed,
    /// The agent refused the job (wrong host, expired); nothing was changed.
    Refused,
}

/// One step of a job, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobStep {
    /// Step name (`install`, `reboot`, `rollback`, …).
    pub name: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What it did or why it failed.
    pub detail: String,
}

/// What the agent reports of its host after a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct HostInventory {
    /// Installed packages: name → version.
    pub packages: BTreeMap<String, String>,
    /// Keys of remediations applied and not rolled back.
    pub applied: Vec<String>,
    /// Boot id; changes on every reboot.
    pub boot_id: String,
}

/// `patch.agent.result.<host>`: a job's outcome and the host's state after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentResult {
    /// The job answered.
    pub job_id: Uuid,
    /// Its bundle.
    pub bundle_id: Uuid,
    /// Its ring.
    pub ring: String,
    /// Its wave.
    pub wave: u32,
    /// The reporting host (asset id).
    pub host: String,
    /// Apply or roll back.
    pub action: JobAction,
    /// Outcome.
    pub status: JobStatus,
    /// Why, when not succeeded.
    pub reason: Option<String>,
    /// Steps in order.
    pub steps: Vec<JobStep>,
    /// Whether the host rebooted during the job.
    pub rebooted: bool,
    /// Whether the host needs a reboot to complete the job: the package
    /// manager or the reboot check said so (`/var/run/reboot-required`,
    /// `needs-restarting -r`, `zypper needs-rebooting`). Deploy's host saga
    /// then sends a [`JobAction::Reboot`] job. Absent in results of agents
    /// from before the saga: `false`.
    #[serde(default)]
    pub reboot_required: bool,
    /// The host's state after the job.
    pub inventory: HostInventory,
    /// When the job finished on the host (UTC).
    pub finished_at: DateTime<Utc>,
    /// How a rollback that succeeded brought the host back; absent for
    /// other jobs, for a failed rollback, for one that had nothing to undo,
    /// and in results of agents from before this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_method: Option<RollbackMethod>,
}

/// How a rollback job brought a host back to its state from before the
/// bundle ([`AgentResult::rollback_method`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RollbackMethod {
    /// The agent's restore hook brought back the snapshot taken before the
    /// install, and no package needed a downgrade after it.
    SnapshotRestore,
    /// The package manager downgraded (or removed) the bundle's packages
    /// to their versions from before it.
    PackageDowngrade,
    /// The snapshot was restored, then the packages it did not bring back
    /// were downgraded.
    SnapshotRestoreAndDowngrade,
}

impl RollbackMethod {
    /// `snapshot restore`, `package downgrade` or `snapshot restore and
    /// package downgrade`: the words the audit trail uses.
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackMethod::SnapshotRestore => "snapshot restore",
            RollbackMethod::PackageDowngrade => "package downgrade",
            RollbackMethod::SnapshotRestoreAndDowngrade => "snapshot restore and package downgrade",
        }
    }
}

/// The reboot job an [`AgentOnline`] announcement answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RebootRef {
    /// The reboot job (action [`JobAction::Reboot`]).
    pub job_id: Uuid,
    /// Its bundle.
    pub bundle_id: Uuid,
    /// Its ring.
    pub ring: String,
    /// Its wave.
    pub wave: u32,
    /// The host's boot id when the reboot job was accepted.
    pub boot_id_before: String,
}

/// `patch.agent.online.<host>`: an agent is running (again) on its host.
///
/// Published at every agent start. After a reboot the agent ran for a job,
/// `reboot` names that job: deploy's host saga, waiting for the host to come
/// back, takes a `boot_id` different from `reboot.boot_id_before` as proof of
/// the reboot and goes on with the post-check; the same boot id means the
/// reboot did not happen (`detail` says why, e.g. the reboot command failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentOnline {
    /// The host (asset id).
    pub host: String,
    /// The host's current boot id (Linux: `/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
    /// When the agent started (UTC).
    pub started_at: DateTime<Utc>,
    /// The reboot job this start completes, when the agent rebooted the host
    /// for one.
    pub reboot: Option<RebootRef>,
    /// What the agent has to say about the reboot, e.g. why it did not happen.
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> AgentJob {
        AgentJob {
            job_id: Uuid::from_u128(1),
            bundle_id: Uuid::from_u128(2),
            ring: "prod".into(),
            wave: 0,
            host: "web-01".into(),
            action: JobAction::Apply,
            remediations: vec![Remediation::Advisory { id: "DSA-1".into() }],
            issued_at: "2026-12-01T01:00:00Z".parse().unwrap(),
            expires_at: "2026-12-01T01:30:00Z".parse().unwrap(),
            signature: None,
            key_id: None,
        }
    }

    #[test]
    fn signing_bytes_are_the_context_and_the_job_without_its_signature() {
        let want = concat!(
            "patchflow/agent-job/v1\n",
            r#"{"job_id":"00000000-0000-0000-0000-000000000001","#,
            r#""bundle_id":"00000000-0000-0000-0000-000000000002","#,
            r#""ring":"prod","wave":0,"host":"web-01","action":"apply","#,
            r#""remediations":[{"kind":"advisory","id":"DSA-1"}],"#,
            r#""issued_at":"2026-12-01T01:00:00Z","expires_at":"2026-12-01T01:30:00Z"}"#
        );
        let unsigned = job();
        let mut signed = job();
        signed.signature = Some("ab".repeat(64));
        signed.key_id = Some("ed25519:0123456789abcdef".into());
        assert_eq!(String::from_utf8(unsigned.signing_bytes()).unwrap(), want);
        // Neither the signature nor the key id it names is signed.
        assert_eq!(signed.signing_bytes(), unsigned.signing_bytes());
        let mut other = job();
        other.host = "web-02".into();
        assert_ne!(other.signing_bytes(), unsigned.signing_bytes());
        // The signature travels on the wire and decodes back; an unsigned job
        // has no `signature` key at all.
        let wire = serde_json::to_string(&signed).unwrap();
        assert_eq!(serde_json::from_str::<AgentJob>(&wire).unwrap(), signed);
        assert!(
            !serde_json::to_string(&unsigned)
                .unwrap()
                .contains("signature")
        );
    }
}
