//! `patchflow bundle approve | reject`: change approval of a bundle,
//! published as events (`patch.bundle.approved` / `.rejected`, root events
//! from `patchflow/cli`) so every decision is in the bundle's audit trail.
//! Schedule holds the rings that need an approval (production by default)
//! until it arrives, and halts the bundle on a rejection.

use std::process::ExitCode;

use anyhow::{Result, bail};
use events::{BundleApproved, BundleRejected, Event, Payload, Service};
use uuid::Uuid;

use crate::cli::BundleCommand;
use crate::commands::{connect_cli, open_projection, resolve_bundle, with_discovered_nats};
use crate::config::Config;

/// Checks that an operator's field is not blank.
fn required(flag: &str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        bail!("{flag} must not be empty: a change decision names who made it and why");
    }
    Ok(v.to_owned())
}

/// Runs `patchflow bundle …`: resolves the bundle (id or unique prefix)
/// in the report projection, refuses one that is already completed or
/// halted, publishes the decision and prints it.
///
/// # Errors
/// A blank `--by`, `--ticket` or `--reason`; no projection or NATS; an
/// unknown or finished bundle; a failed publish.
pub async fn run(cfg: &Config, cmd: BundleCommand) -> Result<ExitCode> {
    let cfg = with_discovered_nats(cfg.clone());
    let now = cfg.clock.clock().now();
    let (bundle, payload, line): (String, Payload, String) = match cmd {
        BundleCommand::Approve {
            bundle,
            by,
            ticket,
            emergency_override,
        } => {
            let by = required("--by", &by)?;
            let ticket = required("--ticket", &ticket)?;
            let line = format!(
                "approved by {by} (ticket {ticket}){}",
                if emergency_override {
                    ", emergency override: its releases may cross change freezes"
                } else {
                    ""
                }
            );
            let p = Payload::BundleApproved(BundleApproved {
                bundle_id: Uuid::nil(),
                approved_by: by,
                ticket,
                emergency_override,
            });
            (bundle, p, line)
        }
        BundleCommand::Reject { bundle, by, reason } => {
            let by = required("--by", &by)?;
            let reason = required("--reason", &reason)?;
            let line = format!("rejected by {by}: {reason}");
            let p = Payload::BundleRejected(BundleRejected {
                bundle_id: Uuid::nil(),
                rejected_by: by,
                reason,
            });
            (bundle, p, line)
        }
    };
    let projection = open_projection(&cfg, false).await?;
    let bundle_id = resolve_bundle(&projection, &bundle)?;
    let Some(summary) = projection
        .bundles()?
        .into_iter()
        .find(|b| b.bundle_id == bundle_id)
    else {
        bail!("no bundle {bundle_id} in the report projection (see patchflow report bundles)");
    };
    if summary.status.is_final() {
        bail!(
            "bundle {bundle_id} is already {}: nothing left to decide",
            summary.status.as_str()
        );
    }
    if let (Payload::BundleApproved(_), Some(by)) = (&payload, &summary.approved_by) {
        // One change decision per bundle: a second approval would put two
        // approvers (and tickets) on the record for one change.
        bail!("bundle {bundle_id} is already approved by {by}: nothing left to approve");
    }
    let payload = match payload {
        Payload::BundleApproved(a) => Payload::BundleApproved(BundleApproved { bundle_id, ..a }),
        Payload::BundleRejected(r) => Payload::BundleRejected(BundleRejected { bundle_id, ..r }),
        other => other,
    };
    let bus = connect_cli(&cfg, "patchflow-cli").await?;
    let mut event = Event::new(Uuid::now_v7(), Service::Cli, now, payload);
    event.traceparent = Some(bus::trace::child(None));
    bus.publish(&event).await?;
    println!("bundle {bundle_id} {line} (event {})", event.id);
    Ok(ExitCode::SUCCESS)
}
