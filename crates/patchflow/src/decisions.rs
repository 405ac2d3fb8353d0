//! `patchflow explain FINDING` and `patchflow policy diff NEW.toml`: both read
//! the report projection (caught up from NATS first unless `--no-sync`);
//! neither publishes anything.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use prioritize::shadow::{self, ShadowInput};

use crate::commands::{
    EXIT_REJECTED, MIN_ID_PREFIX, connect_cli, open_projection, unique_by_prefix,
    with_discovered_nats,
};
use crate::config::Config;

/// Prints why a finding has its priority and due date
/// ([`report::render_explain`]), or its stored history as JSON.
///
/// # Errors
/// The projection cannot be opened or read, or it has never seen `finding`.
pub async fn explain(cfg: &Config, finding: &str, json: bool, no_sync: bool) -> Result<ExitCode> {
    let p = open_projection(cfg, no_sync).await?;
    let history = match p.finding_history(finding)? {
        Some(h) => Some(h),
        // A unique prefix of a finding id, as `report findings` prints them.
        None if finding.len() >= MIN_ID_PREFIX => {
            let ids = p.finding_ids_with_prefix(finding)?;
            if ids.is_empty() {
                None
            } else {
                let id = unique_by_prefix("finding", "patchflow report findings", finding, ids)?;
                p.finding_history(&id.to_string())?
            }
        }
        None => None,
    };
    let Some(history) = history else {
        bail!(
            "no finding {finding:?} in the report projection (give its id, a unique prefix of it, \
             or its fingerprint; patchflow report findings lists them)"
        );
    };
    let out = &mut std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&history)?)?;
    } else {
        write!(out, "{}", report::render_explain(&history))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Replays every open finding's latest observation through the policy in
/// force (`[prioritize] policy`) and through `candidate`, both with the
/// intel prioritize decides with ([`prioritize::adapter::intel_in_force`]:
/// the configured KEV and EPSS files updated with the catalogs, KEV
/// additions and advisories the bus delivered), and prints the difference
/// ([`shadow::render`]). A candidate that is not a valid policy is
/// refused before anything is read: `error: …` on stderr, exit
/// [`EXIT_REJECTED`]. Without NATS (or with `no_sync`) only the
/// configured files count, and a warning says so. With `fresh`, the
/// deadlines already set are ignored.
///
/// # Errors
/// A policy or intel file does not load, NATS is known but its intel
/// cannot be read, or the projection cannot be read.
pub async fn policy_diff(
    cfg: &Config,
    candidate: &Path,
    fresh: bool,
    json: bool,
    no_sync: bool,
) -> Result<ExitCode> {
    let (current, configured) = cfg
        .prioritize
        .load()
        .context("load the policy in force and its intel")?;
    let candidate = match prioritize::config::load_policy_file(candidate) {
        Ok(policy) => policy,
        Err(e @ prioritize::ConfigError::Policy { .. }) => {
            eprintln!("error: candidate policy rejected: {e}");
            return Ok(ExitCode::from(EXIT_REJECTED));
        }
        Err(e) => return Err(e.into()),
    };
    let p = open_projection(cfg, no_sync).await?;
    let known = with_discovered_nats(cfg.clone());
    let intel = if !no_sync && known.nats.url.is_some() {
        let bus = connect_cli(&known, "patchflow-policy-diff").await?;
        prioritize::adapter::intel_in_force(&bus, configured)
            .await
            .context("read the intel in force from NATS")?
    } else {
        eprintln!(
            "warning: no NATS server known: replaying with the [prioritize] KEV and EPSS files only \
             (catalogs loaded with `patchflow feed load` and KEV additions are not counted)"
        );
        configured
    };
    let mut without_observation = 0usize;
    let inputs: Vec<ShadowInput> = p
        .open_finding_states()?
        .into_iter()
        .filter_map(|state| {
            let Some(observation) = state.observation else {
                without_observation += 1;
                return None;
            };
            let previous = match (&state.decision, fresh) {
                (Some(d), false) => Some(shadow::memory_of(&d.decision)),
                _ => None,
            };
            Some(ShadowInput {
                observation,
                previous,
            })
        })
        .collect();
    let diff = shadow::diff(&current, &candidate, &intel, &inputs);
    let out = &mut std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&diff)?)?;
    } else {
        write!(out, "{}", shadow::render(&diff))?;
        if without_observation > 0 {
            writeln!(
                out,
                "\n{without_observation} open finding(s) skipped: the stream no longer holds their observation"
            )?;
        }
        writeln!(
            out,
            "\nnothing was published{}",
            if fresh {
                " (compared as first decisions: deadlines already set were ignored)"
            } else {
                ""
            }
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
