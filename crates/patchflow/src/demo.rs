//! `patchflow up --demo`: the main job on the bundled example lab.
//!
//! Writes the lab (config, report, inventory, KEV and EPSS excerpts, one
//! state file per lab host) into a fresh `<data_dir>/demo`, starts a local
//! nats-server, every service and one in-process lab agent per host, serves
//! the lab's health endpoint, submits the report, prints the rollout as it
//! happens on the simulated clock, and ends with the compliance report and
//! the audit trail of a bundle. Exits 0 when every bundle finished (completed,
//! or halted with its rollbacks done) and the audit chain verifies.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bus::Bus;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use events::{ScanScope, Service};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Overrides};
use crate::{commands, local_nats, run};

/// The lab's files, compiled in so the demo runs from any folder.
const LAB: &[(&str, &str)] = &[
    (
        "patchflow.toml",
        include_str!("../../../examples/lab/patchflow.toml"),
    ),
    (
        "scan.nessus",
        include_str!("../../../examples/lab/scan.nessus"),
    ),
    (
        "inventory.csv",
        include_str!("../../../examples/lab/inventory.csv"),
    ),
    ("kev.json", include_str!("../../../examples/lab/kev.json")),
    ("epss.csv", include_str!("../../../examples/lab/epss.csv")),
    (
        "agents/dev-web-01.json",
        include_str!("../../../examples/lab/agents/dev-web-01.json"),
    ),
    (
        "agents/dev-db-01.json",
        include_str!("../../../examples/lab/agents/dev-db-01.json"),
    ),
    (
        "agents/test-web-01.json",
        include_str!("../../../examples/lab/agents/test-web-01.json"),
    ),
    (
        "agents/test-db-01.json",
        include_str!("../../../examples/lab/agents/test-db-01.json"),
    ),
    (
        "agents/stg-web-01.json",
        include_str!("../../../examples/lab/agents/stg-web-01.json"),
    ),
    (
        "agents/stg-db-01.json",
        include_str!("../../../examples/lab/agents/stg-db-01.json"),
    ),
    (
        "agents/prod-web-01.json",
        include_str!("../../../examples/lab/agents/prod-web-01.json"),
    ),
    (
        "agents/prod-web-02.json",
        include_str!("../../../examples/lab/agents/prod-web-02.json"),
    ),
    (
        "agents/prod-db-01.json",
        include_str!("../../../examples/lab/agents/prod-db-01.json"),
    ),
    (
        "agents/prod-db-02.json",
        include_str!("../../../examples/lab/agents/prod-db-02.json"),
    ),
];

/// How long the demo waits for every bundle to finish (real time).
const DEMO_TIMEOUT: Duration = Duration::from_secs(110);

/// Runs the demo.
pub async fn run(config: Option<&Path>, overrides: &Overrides) -> Result<ExitCode> {
    let data_dir = overrides
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(".patchflow"));
    let dir = data_dir.join("demo");
    std::fs::create_dir_all(&data_dir).with_context(|| format!("create {}", data_dir.display()))?;
    let _lock = commands::lock_data_dir(&data_dir)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clear {}", dir.display()))?;
    }
    for (name, content) in LAB {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("create {}", parent.display()))?;
        }
        std::fs::write(&path, content).with_context(|| format!("write {}", path.display()))?;
    }
    // The lab's application health endpoint, probed by validate; the config
    // names it `{demo_health}`.
    let health = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("bind the lab health endpoint")?;
    let health_addr = health.local_addr()?.to_string();
    // It also plays the monitoring and CMDB APIs of the saga's webhooks.
    let accepted = || async { axum::http::StatusCode::NO_CONTENT };
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route("/maintenance/{host}/{state}", axum::routing::post(accepted))
        .route("/cmdb/{host}", axum::routing::post(accepted));
    let health_task = tokio::spawn(async move { axum::serve(health, app).await });
    let config_path = dir.join("patchflow.toml");
    let demo_overrides = Overrides {
        nats_url: None,
        namespace: overrides.namespace.clone(),
        data_dir: Some(dir.clone()),
        replicas: None,
    };
    // The lab's own config resolves against the lab folder; a config given
    // with --config resolves its relative paths against its own folder, as
    // everywhere else. Either way the config in force is kept in the lab
    // folder for inspection.
    let (text, base, origin) = match config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?;
            let base = std::path::absolute(p.parent().unwrap_or(Path::new(".")))
                .with_context(|| format!("resolve the folder of {}", p.display()))?;
            (text, base, p.to_path_buf())
        }
        None => (
            std::fs::read_to_string(&config_path)?,
            dir.clone(),
            config_path.clone(),
        ),
    };
    let text = text.replace("{demo_health}", &health_addr);
    std::fs::write(&config_path, &text)?;
    commands::record_config(&dir, Some(&config_path))?;
    let mut cfg = Config::from_toml(&text, &base, &origin, &demo_overrides)?;

    let mut nats = local_nats::LocalNats::start(&dir)?;
    cfg.nats.url = Some(nats.url().to_owned());
    let bus = Bus::connect(&cfg.bus_config("patchflow-demo")?).await?;
    bus.ensure().await?;
    let clock = cfg.clock.clock();
    let tz: Tz = cfg.schedule.timezone.parse().unwrap_or(Tz::UTC);
    let token = CancellationToken::new();
    run::cancel_on_signal(token.clone(), Some(run::DRAIN_LIMIT));
    let services = run::start(&cfg, &bus, &clock, &Service::PIPELINE, true, &token).await?;

    println!(
        "patchflow demo: {} lab hosts in rings {}; prod-web-02 is set to fail the nginx fix",
        cfg.agents.len(),
        cfg.schedule
            .rings
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(" → ")
    );
    println!(
        "  data {}  nats {}  clock simulated from {} at {}x",
        dir.display(),
        nats.url(),
        local(clock.now(), tz),
        cfg.clock.rate
    );
    let scan = commands::submit(
        &bus,
        clock.now(),
        &dir.join("scan.nessus"),
        Some("nessus".into()),
        ScanScope::Full,
        "demo",
    )
    .await?;
    println!(
        "[{}] submitted scan.nessus as scan {}",
        local(clock.now(), tz),
        scan.id
    );

    let outcome = follow(&cfg.report_db(), &bus, &clock, tz).await;
    let finished = match outcome {
        Ok(()) => true,
        Err(e) => {
            eprintln!("demo: {e:#}");
            false
        }
    };

    token.cancel();
    let joined = run::join(services).await;
    bus.close().await;
    nats.stop();
    health_task.abort();
    joined?;
    if !finished {
        return Ok(ExitCode::FAILURE);
    }
    summarize(&cfg, &clock, tz)
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%a %H:%M").to_string()
}

/// Approves `planned` as the lab's change board would, when it needs an
/// approval (production is not a standard change for high priorities):
/// the demo publishes what `patchflow bundle approve` publishes.
async fn approve_as_cab(
    bus: &Bus,
    clock: &bus::Clock,
    planned: &events::BundlePlanned,
) -> Result<()> {
    let Some(need) = &planned.approval else {
        return Ok(());
    };
    let id = planned.bundle_id.to_string();
    let ticket = format!("DEMO-{}", id.get(..8).unwrap_or(&id));
    println!(
        "  bundle {} needs a change approval before {} ({}); the demo's change board approves it: patchflow bundle approve {} --by demo-cab --ticket {ticket}",
        id.get(..8).unwrap_or(&id),
        need.rings.join(", "),
        need.reasons.join("; "),
        id.get(..8).unwrap_or(&id)
    );
    let event = events::Event::new(
        uuid::Uuid::now_v7(),
        Service::Cli,
        clock.now(),
        events::BundleApproved {
            bundle_id: planned.bundle_id,
            approved_by: "demo-cab".to_owned(),
            ticket,
            emergency_override: false,
        },
    );
    bus.publish(&event).await?;
    Ok(())
}

/// Prints bundle events as they land, until every bundle is finished;
/// approves each bundle that needs it ([`approve_as_cab`]).
async fn follow(db: &Path, bus: &Bus, clock: &bus::Clock, tz: Tz) -> Result<()> {
    let deadline = tokio::time::Instant::now() + DEMO_TIMEOUT;
    let mut seen = BTreeSet::new();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if !db.exists() {
            continue;
        }
        let p = report::Projection::open(db)?;
        let bundles = p.bundles()?;
        let mut entries = Vec::new();
        for b in &bundles {
            for e in p.audit_trail(b.bundle_id)? {
                if seen.insert(e.event_id) {
                    entries.push((b.bundle_id, e));
                }
            }
        }
        entries.sort_by_key(|(_, e)| e.time);
        for (bundle, e) in entries {
            // The live view shows a bundle's life; the audit trail at the end has every step.
            let shown = [
                "patch.bundle.",
                "patch.deployment.wave.halted",
                "patch.validation.failed",
                "patch.rollback.",
            ];
            if !shown.iter().any(|p| e.event_type.starts_with(p)) {
                continue;
            }
            println!(
                "[{}] bundle {} {}",
                local(e.time, tz),
                &bundle.to_string()[..8],
                e.summary
            );
            if e.event_type == "patch.bundle.planned.v1"
                && let Some(events::Event {
                    data: events::Payload::BundlePlanned(planned),
                    ..
                }) = p.event(e.event_id)?
            {
                approve_as_cab(bus, clock, &planned).await?;
            }
        }
        let done = !bundles.is_empty()
            && bundles.iter().all(|b| {
                b.status.is_final() && b.rollbacks.iter().all(|r| r.completed_at.is_some())
            });
        if done {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let dead = p.dead_letters()?;
            bail!(
                "not finished after {:?} (simulated {}): {} bundles, {} dead letters",
                DEMO_TIMEOUT,
                local(clock.now(), tz),
                bundles.len(),
                dead.len()
            );
        }
    }
}

/// How to look at the demo again once it has exited: its folder stays, its
/// NATS server stops, so the commands answer from its report projection
/// (`--data-dir`), as of its simulated time (`--as-of`: it runs ahead of
/// the real clock).
fn print_inspection(
    cfg: &Config,
    p: &report::Projection,
    bundle: uuid::Uuid,
    now: chrono::DateTime<chrono::Utc>,
) {
    let exe = std::env::current_exe()
        .map(|e| e.display().to_string())
        .unwrap_or_else(|_| "patchflow".to_owned());
    let dir = cfg.data_dir().display().to_string();
    let short = bundle.to_string().chars().take(8).collect::<String>();
    let finding = p
        .open_finding_states()
        .ok()
        .and_then(|s| s.first().map(|f| f.finding_id.to_string()))
        .unwrap_or_else(|| "FINDING".to_owned());
    println!();
    println!("== look again later (the folder stays; NATS is stopped, so add --data-dir)");
    for command in [
        "report bundles".to_owned(),
        format!(
            "report compliance --as-of {}",
            now.format("%Y-%m-%dT%H:%M:%SZ")
        ),
        format!("report audit {short}"),
        format!("--config {dir}/patchflow.toml plan {short}"),
        format!("explain {finding}"),
    ] {
        println!("  {exe} --data-dir {dir} {command}");
    }
}

fn summarize(cfg: &Config, clock: &bus::Clock, tz: Tz) -> Result<ExitCode> {
    let p = report::Projection::open(cfg.report_db())?;
    let now = clock.now();
    println!();
    println!(
        "== compliance as of {} ({})",
        now.format("%Y-%m-%dT%H:%M:%SZ"),
        local(now, tz)
    );
    print!("{}", report::render_compliance(&p.compliance(now)?));

    let bundles = p.bundles()?;
    let shown = bundles
        .iter()
        .find(|b| !b.rollbacks.is_empty())
        .or_else(|| bundles.first())
        .context("no bundle was planned")?;
    println!();
    println!(
        "== audit trail of bundle {} ({}, {})",
        shown.bundle_id,
        shown.priority.map_or("-", |p| p.as_str()),
        format!("{:?}", shown.status).to_lowercase()
    );
    print!("{}", report::render_audit(&p.audit_trail(shown.bundle_id)?));

    println!();
    println!(
        "== lab hosts (state files in {})",
        cfg.data_dir().join("agents").display()
    );
    for a in &cfg.agents {
        let state = agent::LabState::load(&a.state)?;
        println!(
            "  {:<12} applied {:>2} remediations, {} reboot(s), boot id {}",
            a.host,
            state.applied.len(),
            state.reboots,
            state.boot_id
        );
    }
    print_inspection(cfg, &p, shown.bundle_id, now);
    let chain = p.verify_chain()?;
    println!();
    println!(
        "audit chain {}: {} events; bundles: {}",
        if chain.is_intact() {
            "intact"
        } else {
            "BROKEN"
        },
        chain.rows,
        bundles
            .iter()
            .map(|b| format!(
                "{} {}",
                b.priority.map_or("-", |p| p.as_str()),
                format!("{:?}", b.status).to_lowercase()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(if chain.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
