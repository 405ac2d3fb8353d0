//! Building and running services: every pipeline service in one process
//! (`up`), or one (`serve <service>`), plus the lab agents of the config.
//! A `CancellationToken` goes down to every service; SIGTERM or Ctrl-C
//! cancels it, and each service finishes its in-flight message first.

use std::fs::File;
use std::io::BufReader;
use std::time::Duration;

use anyhow::{Context, Result};
use bus::{Bus, Clock};
use events::Service;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::Config;

/// Running services: each task returns its name and outcome.
pub type Running = JoinSet<(String, Result<()>)>;

/// Builds `services` (failing fast on bad configuration) and starts them and
/// the configured lab agents.
pub async fn start(
    cfg: &Config,
    bus: &Bus,
    clock: &Clock,
    services: &[Service],
    with_agents: bool,
    token: &CancellationToken,
) -> Result<Running> {
    let mut set = JoinSet::new();
    // Deploy signs every host job; in-process agents without a configured
    // key verify with this one.
    let signer = if services.contains(&Service::Deploy) {
        Some(job_signer(cfg)?)
    } else {
        None
    };
    for &service in services {
        let (bus, clock, token) = (bus.clone(), clock.clone(), token.clone());
        match service {
            Service::Ingest => {
                let inventory = match &cfg.ingest.inventory {
                    Some(path) => ingest::inventory::Inventory::from_reader(BufReader::new(
                        File::open(path)
                            .with_context(|| format!("open inventory {}", path.display()))?,
                    ))
                    .with_context(|| format!("read inventory {}", path.display()))?,
                    None => ingest::inventory::Inventory::default(),
                };
                if !cfg.ingest.feeds.is_empty() {
                    let poller = ingest::feed::FeedPoller::build(
                        cfg.ingest.feeds.clone(),
                        bus.clone(),
                        clock.clone(),
                    )
                    .await?;
                    let token = token.clone();
                    set.spawn(async move {
                        (
                            "ingest feeds".into(),
                            poller.run(token).await.map_err(Into::into),
                        )
                    });
                }
                let svc = ingest::adapter::IngestService::build(inventory, bus, clock).await?;
                set.spawn(
                    async move { ("ingest".into(), svc.run(token).await.map_err(Into::into)) },
                );
            }
            Service::Prioritize => {
                let (policy, intel) = cfg.prioritize.load().context("load prioritize inputs")?;
                let svc = prioritize::PrioritizeService::build(policy, intel, bus, clock).await?;
                set.spawn(async move {
                    (
                        "prioritize".into(),
                        svc.run(token).await.map_err(Into::into),
                    )
                });
            }
            Service::Schedule => {
                let svc =
                    schedule::ScheduleService::build(cfg.schedule.clone(), bus, clock).await?;
                set.spawn(
                    async move { ("schedule".into(), svc.run(token).await.map_err(Into::into)) },
                );
            }
            Service::Deploy => {
                let signer = signer.clone().context("deploy has no job signing key")?;
                let svc =
                    deploy::DeployService::build(cfg.deploy.clone(), signer, bus, clock).await?;
                set.spawn(
                    async move { ("deploy".into(), svc.run(token).await.map_err(Into::into)) },
                );
            }
            Service::Validate => {
                let svc =
                    validate::ValidateService::build(cfg.validate.clone(), bus, clock).await?;
                set.spawn(
                    async move { ("validate".into(), svc.run(token).await.map_err(Into::into)) },
                );
            }
            Service::Report => {
                let svc = report::ReportService::new(bus, cfg.report_db());
                set.spawn(
                    async move { ("report".into(), svc.run(token).await.map_err(Into::into)) },
                );
            }
            Service::Agent | Service::Cli => {}
        }
    }
    if with_agents {
        for a in &cfg.agents {
            let agent = match (a.verify_key.is_empty(), &signer) {
                (true, Some(s)) => agent::Agent::build_with_verifier(
                    a,
                    agent::JobVerifier::new(s.verifying_key()),
                    bus.clone(),
                    clock.clone(),
                ),
                _ => agent::Agent::build(a, bus.clone(), clock.clone()),
            }
            .with_context(|| format!("start the {} agent of {}", a.backend, a.host))?;
            let (name, token) = (format!("agent {}", a.host), token.clone());
            set.spawn(async move { (name, agent.run(token).await.map_err(Into::into)) });
        }
    }
    info!(services = set.len(), "started");
    Ok(set)
}

/// Deploy's job-signing key: `[deploy] signing_key` (which must exist), or
/// `<data_dir>/job-signing.pem`, created with its public key
/// `job-signing.pub.pem` when missing.
///
/// # Errors
/// The key file cannot be read, parsed or created.
pub fn job_signer(cfg: &Config) -> Result<deploy::JobSigner> {
    if let Some(path) = &cfg.deploy.signing_key {
        let signer = deploy::JobSigner::load(path)?;
        info!(key = %signer.fingerprint(), path = %path.display(), "job signing key");
        return Ok(signer);
    }
    let path = cfg.data_dir().join(deploy::signing::DEFAULT_KEY_FILE);
    let (signer, created) = deploy::JobSigner::load_or_create(&path)?;
    let public = deploy::signing::public_key_path(&path);
    if created {
        info!(
            key = %signer.fingerprint(),
            path = %path.display(),
            public = %public.display(),
            "created a job signing key; agents verify jobs with its public key (--verify-key)"
        );
    } else {
        info!(key = %signer.fingerprint(), path = %path.display(), public = %public.display(), "job signing key");
    }
    Ok(signer)
}

/// Waits for every task; returns the first failure.
pub async fn join(mut set: Running) -> Result<()> {
    let mut first = None;
    while let Some(done) = set.join_next().await {
        match done {
            Ok((_, Ok(()))) => {}
            Ok((name, Err(e))) => {
                error!(service = %name, error = %format!("{e:#}"), "service failed");
                first.get_or_insert(e.context(format!("{name} failed")));
            }
            Err(e) => {
                first.get_or_insert(anyhow::anyhow!("a service task panicked: {e}"));
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// How long the services of `up`, `serve` and the demo may take to drain
/// after the first SIGTERM or Ctrl-C before the process gives up on them
/// and exits (status 1): a drain that waits on a NATS server that is gone
/// would otherwise retry forever.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// Cancels `token` on SIGTERM or Ctrl-C, so in-flight work drains. A second
/// SIGTERM or Ctrl-C exits at once (status 130), without draining; so does
/// a drain longer than `drain_limit` (status 1), when one is given. An
/// agent passes none: its package manager must not be cut off mid-change.
/// Exiting this way runs no destructors; a local nats-server still stops,
/// because its guardian sees this process's end ([`bus::local::spawn`]).
pub fn cancel_on_signal(token: CancellationToken, drain_limit: Option<Duration>) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let (mut term, mut int) = match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(t), Ok(i)) => (t, i),
            (Err(e), _) | (_, Err(e)) => {
                error!(error = %e, "cannot listen for SIGTERM and SIGINT");
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => info!("SIGTERM: draining in-flight work (again to stop at once)"),
            _ = int.recv() => info!("interrupt: draining in-flight work (again to stop at once)"),
        }
        token.cancel();
        let limit = async {
            match drain_limit {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        let status = tokio::select! {
            _ = term.recv() => 130,
            _ = int.recv() => 130,
            () = limit => 1,
        };
        if status == 130 {
            warn!("second signal: exiting without draining");
        } else {
            error!(
                limit_s = drain_limit.unwrap_or_default().as_secs(),
                "in-flight work did not drain in time (is the NATS server gone?); exiting"
            );
        }
        std::process::exit(status);
    });
}
