//! Deploy's step runner: the HTTP requests of the host saga's webhook steps.
//!
//! It reads `patch.deployment.step.started.<host>` through its own durable
//! consumer ([`events::spec::deploy_step_runner_consumer`]), several hosts
//! at once, and for a webhook step makes the request its configuration
//! names ([`crate::config::SagaConfig`]; never a URL from the bus), then
//! publishes `patch.deployment.step.finished.<host>` with the id
//! `derive_id(<started id>, "deploy", "finished")` and acks. A crash before
//! the ack re-runs the request on redelivery; the request carries the
//! started event's id as `Idempotency-Key` so the receiver can tell.
//!
//! A started event already past its `due_at` is not run: the ring run has
//! timed the step out (or will, at its next tick), and the runner publishes
//! an end that says so ("not run: … no request was made"). Steps wait for
//! a lane keyed by bundle and host, so one host's slow webhook in one bundle
//! does not hold its steps in other bundles.

use std::sync::Arc;
use std::time::Duration;

use bus::{Bus, Clock, Delivery, HandleError, Handler};
use chrono::{DateTime, Utc};
use events::{Event, HostStepFinished, HostStepStarted, Payload, Service, StepOutcome, derive_id};
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::{Method, SagaConfig, Webhook};
use crate::output::STAGE;

/// The values a webhook URL's placeholders take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholders<'a> {
    /// `{host}`: the asset id.
    pub host: &'a str,
    /// `{bundle}`: the bundle id.
    pub bundle: &'a str,
    /// `{ring}`.
    pub ring: &'a str,
    /// `{wave}`: the 0-based wave number.
    pub wave: &'a str,
    /// `{step}`: the step name (`pre_check`, …).
    pub step: &'a str,
}

impl Placeholders<'static> {
    /// Sample values, to check a template when the configuration loads.
    pub const SAMPLE: Placeholders<'static> = Placeholders {
        host: "web-01.example",
        bundle: "00000000-0000-0000-0000-000000000000",
        ring: "prod",
        wave: "0",
        step: "pre_check",
    };
}

const NAMES: [&str; 5] = ["host", "bundle", "ring", "wave", "step"];

/// Percent-encodes everything but RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), so a value stays inside one path segment or
/// query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `template` with each `{name}` placeholder replaced by its value from `p`,
/// percent-encoded; an unknown `{…}` is left as it is (see
/// [`unknown_placeholder`]).
pub fn expand(template: &str, p: &Placeholders<'_>) -> String {
    let mut out = template.to_owned();
    for (name, value) in NAMES.iter().zip([p.host, p.bundle, p.ring, p.wave, p.step]) {
        out = out.replace(&format!("{{{name}}}"), &encode(value));
    }
    out
}

/// The first `{name}` in `template` that is not a known placeholder.
pub fn unknown_placeholder(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        if !NAMES.contains(&name) {
            return Some(name.to_owned());
        }
        rest = &after[close + 1..];
    }
    None
}

/// Whether an answer with `status` may succeed on a later attempt.
fn retryable(status: reqwest::StatusCode) -> bool {
    status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// Makes `hook`'s request for the step `started` (event `event_id`):
/// attempts up to `hook.attempts` times, each bounded by
/// `hook.timeout_secs`, waiting 1 s, 2 s, 4 s… between them, and never
/// starting an attempt that could end after `deadline` (UTC, per `clock`).
/// Returns the outcome and what happened (`POST <url>: 204 No Content`, or
/// the last error with its causes and the number of attempts).
pub async fn call(
    client: &reqwest::Client,
    clock: &Clock,
    hook: &Webhook,
    started: &HostStepStarted,
    event_id: Uuid,
    deadline: DateTime<Utc>,
) -> (StepOutcome, String) {
    let wave = started.wave.to_string();
    let bundle = started.bundle_id.to_string();
    let url = expand(
        &hook.url,
        &Placeholders {
            host: &started.host,
            bundle: &bundle,
            ring: &started.ring,
            wave: &wave,
            step: started.step.as_str(),
        },
    );
    let method = match hook.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Delete => reqwest::Method::DELETE,
    };
    let per_attempt = Duration::from_secs(hook.timeout_secs.max(1));
    let mut body = serde_json::to_value(started).unwrap_or_default();
    if let Some(map) = body.as_object_mut() {
        map.insert(
            "event_id".into(),
            serde_json::Value::String(event_id.to_string()),
        );
    }
    // Plain data with string keys: serialisation cannot fail.
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut last = String::new();
    let mut backoff = Duration::from_secs(1);
    for attempt in 1..=hook.attempts.max(1) {
        let attempt_end = chrono::TimeDelta::from_std(per_attempt)
            .ok()
            .and_then(|d| clock.now().checked_add_signed(d));
        if attempt > 1 && attempt_end.is_none_or(|end| end > deadline) {
            last.push_str("; no time left for another attempt before the step is due");
            break;
        }
        let mut request = client
            .request(method.clone(), &url)
            .timeout(per_attempt)
            .header("Idempotency-Key", event_id.to_string());
        for (name, value) in &hook.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if matches!(hook.method, Method::Post | Method::Put) {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let line = format!("{method} {url}: {status}");
                if status.is_success() {
                    return (StepOutcome::Succeeded, with_attempts(line, attempt));
                }
                if !retryable(status) {
                    return (StepOutcome::Failed, with_attempts(line, attempt));
                }
                last = with_attempts(line, attempt);
            }
            Err(e) => {
                last = with_attempts(
                    format!("{method} {url}: {}", httpclient::error_chain(&e)),
                    attempt,
                );
            }
        }
        if attempt < hook.attempts {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }
    (StepOutcome::Failed, last)
}

fn with_attempts(line: String, attempt: u32) -> String {
    if attempt == 1 {
        line
    } else {
        format!("{line} (attempt {attempt})")
    }
}

/// The step runner: a [`Handler`] for `patch.deployment.step.started`.
#[derive(Debug, Clone)]
pub struct StepRunner {
    bus: Bus,
    clock: Clock,
    saga: Arc<SagaConfig>,
    /// The HTTP client, or why it could not be built (every webhook step
    /// then fails with that reason).
    client: Result<reqwest::Client, String>,
}

impl StepRunner {
    /// A runner making `saga`'s webhook requests: HTTP/1.1, TLS by rustls
    /// with the platform's verifier, no redirects followed, no proxy from
    /// the environment. When the client cannot be built (TLS set-up), every
    /// webhook step fails with the reason.
    pub fn new(bus: Bus, clock: Clock, saga: SagaConfig) -> StepRunner {
        let client = httpclient::builder(concat!("patchflow-deploy/", env!("CARGO_PKG_VERSION")))
            .and_then(|b| {
                httpclient::build(b.redirect(reqwest::redirect::Policy::none()).no_proxy())
            });
        if let Err(e) = &client {
            warn!(error = %e, "no HTTP client: every webhook step will fail");
        }
        StepRunner {
            bus,
            clock,
            saga: Arc::new(saga),
            client,
        }
    }

    /// Runs the webhook of the step `started` (event `event_id`); returns the
    /// `step.finished` event to publish (for a step read after its due time:
    /// timed out, "not run", no request made), or `None` for an agent step.
    pub async fn run_step(&self, started: &HostStepStarted, event_id: Uuid) -> Option<Event> {
        if !started.step.is_webhook() {
            return None;
        }
        let now = self.clock.now();
        let (outcome, detail) = if now >= started.due_at {
            // The ring run times it out (or did); say why nothing was sent.
            warn!(step = %started.step, host = %started.host, due_at = %started.due_at,
                "webhook step read after its due time: not run");
            (
                StepOutcome::TimedOut,
                format!(
                    "not run: the step runner read it at {}, after its due time {} (deploy \
                     was down or busy); no request was made",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    started
                        .due_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            )
        } else {
            self.request(started, event_id).await
        };
        info!(step = %started.step, host = %started.host, ?outcome, %detail, "webhook step");
        let finished_at = self.clock.now();
        Some(Event::new(
            derive_id(event_id, STAGE, "finished"),
            Service::Deploy,
            finished_at,
            HostStepFinished {
                bundle_id: started.bundle_id,
                ring: started.ring.clone(),
                wave: started.wave,
                host: started.host.clone(),
                step: started.step,
                outcome,
                detail,
                started_event_id: event_id,
                finished_at,
            },
        ))
    }

    /// The configured webhook's request for `started`, or why there is none.
    async fn request(&self, started: &HostStepStarted, event_id: Uuid) -> (StepOutcome, String) {
        match (self.saga.webhook(started.step), &self.client) {
            (Some(hook), Ok(client)) => {
                call(client, &self.clock, hook, started, event_id, started.due_at).await
            }
            (Some(_), Err(e)) => (StepOutcome::Failed, format!("no HTTP client: {e}")),
            (None, _) => (
                StepOutcome::Failed,
                format!(
                    "no [deploy.saga.{}] webhook is configured in this deploy (the \
                     configuration changed after the ring started)",
                    started.step
                ),
            ),
        }
    }
}

impl Handler for StepRunner {
    async fn handle(&self, d: Delivery) -> Result<(), HandleError> {
        let Payload::HostStepStarted(started) = &d.event.data else {
            return Err(HandleError::Poison(format!(
                "the step runner does not consume {}",
                d.event.event_type()
            )));
        };
        if let Some(mut finished) = self.run_step(started, d.event.id).await {
            finished.traceparent = Some(bus::trace::child(d.event.traceparent.as_deref()));
            self.bus.publish(&finished).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_expand_percent_encoded_and_unknown_ones_are_found() {
        let p = Placeholders {
            host: "web 01/a",
            bundle: "b",
            ring: "prod",
            wave: "2",
            step: "cmdb",
        };
        assert_eq!(
            expand(
                "https://x/{host}/{step}?ring={ring}&wave={wave}&b={bundle}",
                &p
            ),
            "https://x/web%2001%2Fa/cmdb?ring=prod&wave=2&b=b"
        );
        assert_eq!(
            unknown_placeholder("https://x/{host}/{hots}"),
            Some("hots".into())
        );
        assert_eq!(unknown_placeholder("https://x/{host}"), None);
        assert_eq!(unknown_placeholder("https://x/{unclosed"), None);
    }
}
