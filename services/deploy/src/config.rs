//! The deploy service's configuration.
//!
//! Only the service's own machinery is configured here: the rollout policy
//! (canary, batch size, failure budget, result timeout) arrives with each
//! `patch.bundle.scheduled` event, set by schedule.

use std::collections::BTreeMap;
use std::path::PathBuf;

use events::SagaStep;
use serde::{Deserialize, Serialize};

use crate::saga::SagaPlan;

/// Deploy's configuration, parsed once at the edge (file < env < flags).
///
/// Every field has a default, so `{}` is a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeployConfig {
    /// How often the adapter calls [`crate::RingRun::on_tick`] on every
    /// active ring run, in milliseconds. Result timeouts, window openings and
    /// rollback timeouts are noticed at most this late. Default: 1000.
    pub tick_interval_ms: u64,
    /// The Ed25519 private key that signs every host job: a PKCS#8 PEM file
    /// (`openssl genpkey -algorithm ed25519 -out job-signing.pem`; see
    /// [`crate::signing`]). Agents verify with its public key. Unset:
    /// `patchflow up` / `serve deploy` use `<data_dir>/job-signing.pem`,
    /// creating it (and `job-signing.pub.pem`) when missing.
    pub signing_key: Option<PathBuf>,
    /// The host saga's webhooks and timeouts (`[deploy.saga]`; see
    /// [`crate::saga`]). Default: no webhooks, so a host's saga is install,
    /// then reboot and the wait for its agent when the install asks for it.
    pub saga: SagaConfig,
    /// How long agent results that arrived before their ring run was
    /// stored wait for that run, in hours. Past it (measured from the
    /// newest kept result's event time, UTC) the lease holder drops them
    /// with a warning: their run never started. They stay in the agent
    /// results stream. Default: 24.
    pub early_results_keep_hours: u32,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            tick_interval_ms: 1000,
            signing_key: None,
            saga: SagaConfig::default(),
            early_results_keep_hours: 24,
        }
    }
}

/// `[deploy.saga]`: the webhook steps deploy runs around each host's
/// install, and the saga's timeouts.
///
/// ```toml
/// [deploy.saga]
/// reboot_timeout_secs = 900
///
/// [deploy.saga.pre_check]
/// url = "https://{host}:9100/healthz"
/// method = "GET"
///
/// [deploy.saga.maintenance_on]
/// url = "https://monitoring.example/api/hosts/{host}/maintenance"
/// headers = { Authorization = "Bearer …" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SagaConfig {
    /// Health check before anything changes; a failure leaves the host
    /// untouched (not rolled back).
    pub pre_check: Option<Webhook>,
    /// Pre-patch snapshot (a hypervisor or storage API). The agent's own
    /// snapshot command, when configured, runs inside the install.
    pub snapshot: Option<Webhook>,
    /// Maintenance mode on (monitoring silence, load balancer drain).
    pub maintenance_on: Option<Webhook>,
    /// Health check after the install (and the reboot); a failure fails the
    /// host, which is then rolled back with the halted wave.
    pub post_check: Option<Webhook>,
    /// Maintenance mode off; a failure is reported, not rolled back.
    pub maintenance_off: Option<Webhook>,
    /// CMDB update; a failure is reported, not rolled back.
    pub cmdb: Option<Webhook>,
    /// Seconds a webhook step may take, retries included, before the host's
    /// saga times it out. Default 120.
    pub webhook_timeout_secs: u64,
    /// Seconds a host may take to come back after its reboot job was
    /// accepted (its agent's `patch.agent.online` with a new boot id).
    /// Default 900.
    pub reboot_timeout_secs: u64,
}

impl Default for SagaConfig {
    fn default() -> Self {
        let plan = SagaPlan::default();
        SagaConfig {
            pre_check: None,
            snapshot: None,
            maintenance_on: None,
            post_check: None,
            maintenance_off: None,
            cmdb: None,
            webhook_timeout_secs: plan.webhook_timeout_secs,
            reboot_timeout_secs: plan.reboot_timeout_secs,
        }
    }
}

impl SagaConfig {
    /// The webhook configured for `step`; `None` for an agent step or an
    /// unconfigured one.
    pub fn webhook(&self, step: SagaStep) -> Option<&Webhook> {
        match step {
            SagaStep::PreCheck => self.pre_check.as_ref(),
            SagaStep::Snapshot => self.snapshot.as_ref(),
            SagaStep::MaintenanceOn => self.maintenance_on.as_ref(),
            SagaStep::PostCheck => self.post_check.as_ref(),
            SagaStep::MaintenanceOff => self.maintenance_off.as_ref(),
            SagaStep::Cmdb => self.cmdb.as_ref(),
            SagaStep::Install | SagaStep::Reboot | SagaStep::AwaitAgent => None,
        }
    }

    /// The plan a new ring run fixes: the configured webhook steps and the
    /// timeouts.
    pub fn plan(&self) -> SagaPlan {
        SagaPlan {
            webhooks: SagaStep::ALL
                .into_iter()
                .filter(|s| self.webhook(*s).is_some())
                .collect(),
            webhook_timeout_secs: self.webhook_timeout_secs,
            reboot_timeout_secs: self.reboot_timeout_secs,
        }
    }

    /// Checks every webhook ([`Webhook::check`]) and the timeouts (1 s to
    /// one year).
    ///
    /// # Errors
    /// `deploy.saga.<step>: <why>` or `deploy.saga.<timeout>: <why>`.
    pub fn check(&self) -> Result<(), String> {
        for step in SagaStep::ALL {
            if let Some(w) = self.webhook(step) {
                w.check().map_err(|e| format!("deploy.saga.{step}: {e}"))?;
            }
        }
        for (name, secs) in [
            ("webhook_timeout_secs", self.webhook_timeout_secs),
            ("reboot_timeout_secs", self.reboot_timeout_secs),
        ] {
            if !(1..=366 * 24 * 3600).contains(&secs) {
                return Err(format!(
                    "deploy.saga.{name}: {secs} is not between 1 s and one year"
                ));
            }
        }
        Ok(())
    }
}

/// The HTTP method of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// No body; for health checks.
    Get,
    /// The step as a JSON body (the default).
    #[default]
    Post,
    /// The step as a JSON body.
    Put,
    /// No body; e.g. ending a maintenance window.
    Delete,
}

/// One webhook step: an HTTP request whose 2xx answer means success.
///
/// `url` may hold `{host}`, `{bundle}`, `{ring}`, `{wave}` and `{step}`;
/// each is replaced with the step's value, percent-encoded for a URL path
/// segment. `GET` and `DELETE` send no body; `POST`/`PUT` send the
/// `patch.deployment.step.started` payload
/// as JSON with its event id added (`{"event_id": …, "bundle_id": …,
/// "ring": …, "wave": …, "host": …, "step": …, "due_at": …}`); every request
/// carries `Idempotency-Key: <event id>`. Redirects are not followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `http://` or `https://` URL template.
    pub url: String,
    /// Default `POST`.
    #[serde(default)]
    pub method: Method,
    /// Extra request headers (e.g. `Authorization`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds one attempt may take. Default 10.
    #[serde(default = "default_attempt_secs")]
    pub timeout_secs: u64,
    /// Attempts before the step fails: connection errors, timeouts, 429 and
    /// 5xx answers are retried after 1 s, 2 s, 4 s…; other answers are
    /// final. Default 3.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
}

fn default_attempt_secs() -> u64 {
    10
}

fn default_attempts() -> u32 {
    3
}

impl Webhook {
    /// Checks the URL scheme, the placeholders and the limits.
    ///
    /// # Errors
    /// Why the webhook cannot be used.
    pub fn check(&self) -> Result<(), String> {
        let sample = crate::webhook::expand(&self.url, &crate::webhook::Placeholders::SAMPLE);
        let url = reqwest::Url::parse(&sample).map_err(|e| format!("url {:?}: {e}", self.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "url {:?}: only http and https are supported",
                self.url
            ));
        }
        if let Some(bad) = crate::webhook::unknown_placeholder(&self.url) {
            return Err(format!(
                "url {:?}: unknown placeholder {{{bad}}} (known: host, bundle, ring, wave, step)",
                self.url
            ));
        }
        if !(1..=600).contains(&self.timeout_secs) {
            return Err(format!(
                "timeout_secs {} is not between 1 and 600",
                self.timeout_secs
            ));
        }
        if !(1..=10).contains(&self.attempts) {
            return Err(format!(
                "attempts {} is not between 1 and 10",
                self.attempts
            ));
        }
        for name in self.headers.keys() {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| format!("header {name:?}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_missing_fields_and_unknown_fields_are_refused() {
        let cfg: DeployConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg.tick_interval_ms, 1000);
        let cfg: DeployConfig = serde_json::from_str(r#"{"tick_interval_ms":250}"#).unwrap();
        assert_eq!(cfg.tick_interval_ms, 250);
        assert!(serde_json::from_str::<DeployConfig>(r#"{"tick_ms":250}"#).is_err());
        let cfg: DeployConfig = serde_json::from_str(r#"{"signing_key":"keys/job.pem"}"#).unwrap();
        assert_eq!(cfg.signing_key, Some(PathBuf::from("keys/job.pem")));
    }

    #[test]
    fn saga_webhooks_parse_check_and_plan() {
        let cfg: DeployConfig = toml::from_str(
            r#"
            [saga]
            reboot_timeout_secs = 60
            [saga.pre_check]
            url = "http://{host}:9100/healthz"
            method = "GET"
            [saga.cmdb]
            url = "https://cmdb.example/api/ci/{host}?bundle={bundle}"
            headers = { Authorization = "Bearer x" }
            "#,
        )
        .unwrap();
        cfg.saga.check().unwrap();
        let plan = cfg.saga.plan();
        assert_eq!(
            plan.webhooks.into_iter().collect::<Vec<_>>(),
            [SagaStep::PreCheck, SagaStep::Cmdb]
        );
        assert_eq!(plan.reboot_timeout_secs, 60);
        assert_eq!(plan.webhook_timeout_secs, 120);
        let cmdb = cfg.saga.cmdb.as_ref().unwrap();
        assert_eq!(
            (cmdb.method, cmdb.timeout_secs, cmdb.attempts),
            (Method::Post, 10, 3)
        );

        let bad = |toml: &str, want: &str| {
            let cfg: DeployConfig = toml::from_str(toml).unwrap();
            let err = cfg.saga.check().unwrap_err();
            assert!(err.contains(want), "{err}");
        };
        bad(
            "[saga.cmdb]\nurl = \"ftp://x/{host}\"",
            "only http and https",
        );
        bad(
            "[saga.cmdb]\nurl = \"http://x/{hostname}\"",
            "unknown placeholder {hostname}",
        );
        bad("[saga.cmdb]\nurl = \"not a url\"", "deploy.saga.cmdb: url");
        bad(
            "[saga.cmdb]\nurl = \"http://x/\"\nattempts = 0",
            "attempts 0",
        );
        bad("[saga]\nreboot_timeout_secs = 0", "reboot_timeout_secs");
        assert!(
            toml::from_str::<DeployConfig>("[saga.install]\nurl = \"http://x/\"").is_err(),
            "install is the agent's step, not a webhook"
        );
    }
}
