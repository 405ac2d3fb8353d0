//! What each command does. Errors carry context and end as one line on
//! stderr with exit status 1.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bus::Bus;
use chrono::{DateTime, NaiveDate, Utc};
use events::{Event, Payload, ScanScope, ScanSubmitted, Service};
use tokio_util::sync::CancellationToken;
use tracing::info;
use uuid::Uuid;

use crate::cli::{
    AuditCommand, Cli, Command, PolicyCommand, ReportCommand, ScanCommand, SchemasCommand,
    ScopeArg, ServiceArg,
};
use crate::config::{Config, Overrides};
use crate::{demo, local_nats, run};

/// Runs one command.
pub async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let overrides = Overrides {
        nats_url: cli.global.nats_url.clone(),
        namespace: cli.global.namespace.clone(),
        data_dir: cli.global.data_dir.clone(),
        replicas: cli.global.replicas,
    };
    // Long-running commands log at info; one-shot operator commands and the
    // demo (which prints its own progress) only warn.
    let quiet_default = !matches!(
        cli.command,
        Command::Up { demo: false } | Command::Serve { .. } | Command::Agent { .. }
    );
    match cli.command {
        Command::Up { demo: true } => {
            init_logging(cli.global.log.as_deref(), None, quiet_default);
            demo::run(cli.global.config.as_deref(), &overrides).await
        }
        Command::Parse { file, format } => parse(&file, format.as_deref()),
        Command::Cvss { vectors } => cvss(&vectors),
        Command::Schemas(cmd) => schemas(cmd),
        command => {
            // One-shot commands without --config read the configuration the
            // `up` of their data folder runs with, so `plan` or `policy
            // diff` see its windows and policy.
            let config = match &cli.global.config {
                Some(path) => Some(path.clone()),
                None if quiet_default => recorded_config(
                    overrides
                        .data_dir
                        .as_deref()
                        .unwrap_or(Path::new(crate::config::DEFAULT_DATA_DIR)),
                ),
                None => None,
            };
            let cfg = Config::load(config.as_deref(), &overrides)?;
            // The config's log filter is the services'; one-shot commands
            // keep to warnings unless --log or RUST_LOG says otherwise.
            init_logging(
                cli.global.log.as_deref(),
                cfg.telemetry.log.as_deref().filter(|_| !quiet_default),
                quiet_default,
            );
            match command {
                Command::Up { .. } => up(cfg, config.as_deref()).await,
                Command::Serve { service } => serve(cfg, service).await,
                Command::Agent {
                    host,
                    backend,
                    state,
                    dry_run,
                    verify_key,
                    snapshot_hook,
                    restore_hook,
                    reboot_command,
                    reboot_secs,
                } => {
                    let state = match (state, backend) {
                        (Some(path), _) => path,
                        (None, agent::Backend::Lab) => {
                            bail!("the lab backend needs --state FILE")
                        }
                        (None, _) => agent::host::default_state_path(&host),
                    };
                    agent_cmd(
                        cfg,
                        agent::Config {
                            host,
                            backend,
                            state,
                            dry_run,
                            verify_key,
                            hooks: agent::Hooks {
                                snapshot: argv(snapshot_hook),
                                restore: argv(restore_hook),
                            },
                            reboot: reboot_command
                                .unwrap_or_else(agent::config::default_reboot_command),
                            reboot_secs,
                        },
                    )
                    .await
                }
                Command::Scan(ScanCommand::Submit {
                    file,
                    format,
                    scope,
                    by,
                    wait,
                    timeout,
                }) => {
                    let wait = wait.then(|| Duration::from_secs(timeout));
                    scan_submit(&cfg, &file, format, scope, &by, wait).await
                }
                Command::Scan(ScanCommand::Status {
                    scan_id,
                    wait,
                    timeout,
                }) => {
                    let wait = wait.then(|| Duration::from_secs(timeout));
                    scan_status(&cfg, scan_id, wait).await
                }
                Command::Feed(cmd) => crate::feed::run(&cfg, cmd).await,
                Command::Report(cmd) => report_cmd(&cfg, cmd).await,
                Command::Exception(cmd) => crate::exception::run(&cfg, cmd).await,
                Command::Bundle(cmd) => crate::bundle::run(&cfg, cmd).await,
                Command::Plan {
                    bundle,
                    dry_run,
                    no_sync,
                } => crate::plan::run(&cfg, bundle, dry_run, no_sync).await,
                Command::Audit(AuditCommand::Verify) => audit_verify(&cfg).await,
                Command::Explain {
                    finding,
                    json,
                    no_sync,
                } => crate::decisions::explain(&cfg, &finding, json, no_sync).await,
                Command::Policy(PolicyCommand::Diff {
                    candidate,
                    fresh,
                    json,
                    no_sync,
                }) => crate::decisions::policy_diff(&cfg, &candidate, fresh, json, no_sync).await,
                Command::Parse { .. } | Command::Cvss { .. } | Command::Schemas(_) => {
                    unreachable_command()
                }
            }
        }
    }
}

/// A hook program as a one-element argv (none: empty).
fn argv(program: Option<std::path::PathBuf>) -> Vec<String> {
    program
        .map(|p| vec![p.to_string_lossy().into_owned()])
        .unwrap_or_default()
}

/// Exit status of a check that answered "not (yet)": the audit trail is
/// broken or differs from the streams, a scan is not ingested yet.
pub(crate) const EXIT_NOT_YET: u8 = 3;

/// Exit status when the input itself is refused: a report (`parse`, `scan
/// submit --wait`, `scan status`), a feed document (`feed load`), a CVSS
/// vector (`cvss`) or a candidate policy (`policy diff`). 1 stays for "could not do the work" (I/O, NATS, a bad
/// option value) and 2 for usage errors (clap).
pub(crate) const EXIT_REJECTED: u8 = 4;

fn unreachable_command() -> Result<ExitCode> {
    bail!("command dispatched twice")
}

/// Starts `tracing` with the first filter of: `--log`, `RUST_LOG`, the
/// config's, `info` (or `warn` for the demo, which prints its own progress).
pub fn init_logging(flag: Option<&str>, config: Option<&str>, quiet: bool) {
    let filter = flag
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .or_else(|| config.map(str::to_owned))
        .unwrap_or_else(|| if quiet { "warn".into() } else { "info".into() });
    use std::io::IsTerminal as _;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

async fn connect(cfg: &Config, name: &str) -> Result<Bus> {
    let bus = Bus::connect(&cfg.bus_config(name)?).await?;
    bus.ensure().await?;
    Ok(bus)
}

/// [`connect`] for one-shot operator commands: an unreachable server fails
/// within 5 s instead of the services' 30 s start-up budget.
pub(crate) async fn connect_cli(cfg: &Config, name: &str) -> Result<Bus> {
    let mut bus_cfg = cfg.bus_config(name)?;
    bus_cfg.connect_timeout = std::time::Duration::from_secs(5);
    let bus = Bus::connect(&bus_cfg).await?;
    bus.ensure().await?;
    Ok(bus)
}

/// Fills in the URL of a running `patchflow up` on this machine, if any.
pub(crate) fn with_discovered_nats(mut cfg: Config) -> Config {
    if cfg.nats.url.is_none() {
        cfg.nats.url = local_nats::discovered_url(&cfg.data_dir());
    }
    cfg
}

/// `<data_dir>/up.config`: the absolute path of the configuration file the
/// `up` of that folder was started with.
pub const UP_CONFIG_FILE: &str = "up.config";

/// Records the configuration file `up` runs with in `data_dir` (or that it
/// runs without one), for the one-shot commands ([`recorded_config`]).
///
/// # Errors
/// The record cannot be written or removed.
pub fn record_config(data_dir: &Path, config: Option<&Path>) -> Result<()> {
    let record = data_dir.join(UP_CONFIG_FILE);
    match config {
        Some(path) => {
            let absolute =
                std::path::absolute(path).with_context(|| format!("resolve {}", path.display()))?;
            std::fs::write(&record, absolute.as_os_str().as_encoded_bytes())
                .with_context(|| format!("write {}", record.display()))
        }
        None => match std::fs::remove_file(&record) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("remove {}", record.display())),
        },
    }
}

/// The configuration file `up` last ran with in `data_dir`, when it still
/// exists; a note on stderr names it.
fn recorded_config(data_dir: &Path) -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string(data_dir.join(UP_CONFIG_FILE)).ok()?;
    let path = std::path::PathBuf::from(text.trim_end_matches('\n'));
    if !path.is_file() {
        return None;
    }
    eprintln!(
        "note: using {}, the configuration `patchflow up` was started with in {} (--config chooses another)",
        path.display(),
        data_dir.display()
    );
    Some(path)
}

async fn up(cfg: Config, config: Option<&Path>) -> Result<ExitCode> {
    let mut cfg = cfg;
    let data_dir = cfg.data_dir();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("create data folder {}", data_dir.display()))?;
    let _lock = lock_data_dir(&data_dir)?;
    record_config(&data_dir, config)?;
    let mut local = None;
    if cfg.nats.url.is_none() {
        let server = local_nats::LocalNats::start(&data_dir)?;
        info!(url = server.url(), "started a local nats-server");
        cfg.nats.url = Some(server.url().to_owned());
        local = Some(server);
    }
    let bus = connect(&cfg, "patchflow-up").await?;
    let clock = cfg.clock.clock();
    let token = CancellationToken::new();
    run::cancel_on_signal(token.clone(), Some(run::DRAIN_LIMIT));
    let services = run::start(&cfg, &bus, &clock, &Service::PIPELINE, true, &token).await?;
    eprintln!(
        "patchflow up: every service running on {} (namespace {}); Ctrl-C or SIGTERM stops",
        cfg.nats.url.as_deref().unwrap_or_default(),
        cfg.nats.namespace
    );
    let result = run::join(services).await;
    bus.close().await;
    if let Some(mut server) = local {
        server.stop();
    }
    result.map(|()| ExitCode::SUCCESS)
}

/// Holds `<data_dir>/up.lock` for the life of the process: a second `up` on
/// the same folder would share its nats-server store and projection.
pub fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File> {
    let path = data_dir.join("up.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            use std::io::{Seek as _, Write as _};
            let mut f = &file;
            let _ = f.set_len(0);
            let _ = f.seek(std::io::SeekFrom::Start(0));
            let _ = writeln!(f, "{}", std::process::id());
            Ok(file)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            bail!(
                "another patchflow up is already running on {} (pid {}); stop it or use another --data-dir",
                data_dir.display(),
                pid.trim()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("lock {}", path.display()))
        }
    }
}

async fn serve(cfg: Config, service: ServiceArg) -> Result<ExitCode> {
    let service = match service {
        ServiceArg::Ingest => Service::Ingest,
        ServiceArg::Prioritize => Service::Prioritize,
        ServiceArg::Schedule => Service::Schedule,
        ServiceArg::Deploy => Service::Deploy,
        ServiceArg::Validate => Service::Validate,
        ServiceArg::Report => Service::Report,
    };
    let bus = connect(&cfg, &format!("patchflow-{service}")).await?;
    let clock = cfg.clock.clock();
    let token = CancellationToken::new();
    run::cancel_on_signal(token.clone(), Some(run::DRAIN_LIMIT));
    let services = run::start(&cfg, &bus, &clock, &[service], false, &token).await?;
    info!(%service, "serving");
    run::join(services).await?;
    let _ = bus.flush().await;
    Ok(ExitCode::SUCCESS)
}

async fn agent_cmd(cfg: Config, agent_cfg: agent::Config) -> Result<ExitCode> {
    agent_cfg.validate()?;
    // The key first: a wrong file is a local mistake, said before any
    // connection attempt.
    if agent_cfg.verify_key.is_empty() {
        return Err(agent::config::ConfigError::NoVerifyKey(agent_cfg.host.clone()).into());
    }
    let verifier = agent::JobVerifier::load_all(&agent_cfg.verify_key)?;
    let trusted = verifier.fingerprint();
    let cfg = with_discovered_nats(cfg);
    let bus = connect(&cfg, &format!("patchflow-agent-{}", agent_cfg.host)).await?;
    let token = CancellationToken::new();
    run::cancel_on_signal(token.clone(), None);
    let agent =
        agent::Agent::build_with_verifier(&agent_cfg, verifier, bus.clone(), cfg.clock.clock())?;
    info!(
        host = %agent_cfg.host,
        backend = %agent_cfg.backend,
        dry_run = agent_cfg.dry_run,
        state = %agent_cfg.state.display(),
        trusted_keys = %trusted,
        "agent running"
    );
    agent.run(token).await?;
    let _ = bus.flush().await;
    Ok(ExitCode::SUCCESS)
}

/// Stores `file` in the reports bucket and publishes `patch.scan.submitted`.
pub async fn submit(
    bus: &Bus,
    now: DateTime<Utc>,
    file: &Path,
    format: Option<String>,
    scope: ScanScope,
    by: &str,
) -> Result<Event> {
    let scan_id = Uuid::now_v7();
    let file_name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".into());
    let object = format!("{scan_id}-{}", sanitize(&file_name));
    let mut reader = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("open {}", file.display()))?;
    let stored = bus.reports().await?.put(&object, &mut reader).await?;
    let event = Event::new(
        scan_id,
        Service::Cli,
        now,
        ScanSubmitted {
            scan_id,
            object,
            digest: stored.digest,
            size_bytes: stored.size_bytes,
            file_name,
            format_hint: format,
            scope,
            submitted_by: by.to_owned(),
        },
    );
    let mut event = event;
    event.traceparent = Some(bus::trace::child(None));
    bus.publish(&event).await?;
    Ok(event)
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn scan_submit(
    cfg: &Config,
    file: &Path,
    format: Option<String>,
    scope: ScopeArg,
    by: &str,
    wait: Option<Duration>,
) -> Result<ExitCode> {
    let spooled = read_once_source(file)?;
    let file = spooled.as_ref().map_or(file, |t| t.path());
    if file.is_dir() {
        bail!("{} is a folder, not a report", file.display());
    }
    if !file.is_file() {
        bail!("{} is not a readable file", file.display());
    }
    if let Some(f) = &format {
        f.parse::<ingest::format::Format>()
            .context("invalid --format")?;
    }
    let cfg = with_discovered_nats(cfg.clone());
    let bus = connect_cli(&cfg, "patchflow-cli").await?;
    let scope = match scope {
        ScopeArg::Full => ScanScope::Full,
        ScopeArg::Partial => ScanScope::Partial,
    };
    let event = submit(&bus, cfg.clock.clock().now(), file, format, scope, by).await?;
    let shown = if spooled.is_some() {
        "standard input".to_owned()
    } else {
        file.display().to_string()
    };
    println!("submitted scan {} ({shown})", event.id);
    let Some(limit) = wait else {
        println!(
            "see what ingest made of it: patchflow scan status {}",
            event.id
        );
        return Ok(ExitCode::SUCCESS);
    };
    match wait_for_scan(&cfg, &bus, event.id, limit).await? {
        Some(outcome) => print_scan_outcome(&cfg, &outcome),
        None => Ok(not_ingested_in(event.id, limit)),
    }
}

/// Says that ingest did not answer for `scan_id` within `limit`: exit
/// [`EXIT_NOT_YET`].
fn not_ingested_in(scan_id: Uuid, limit: Duration) -> ExitCode {
    println!(
        "scan {scan_id}: submitted, not ingested within {} s; it stays submitted \
         (patchflow scan status {scan_id})",
        limit.as_secs()
    );
    ExitCode::from(EXIT_NOT_YET)
}

/// `patchflow scan status ID [--wait]`.
async fn scan_status(cfg: &Config, scan_id: Uuid, wait: Option<Duration>) -> Result<ExitCode> {
    let cfg = with_discovered_nats(cfg.clone());
    let bus = connect_cli(&cfg, "patchflow-cli").await?;
    if let Some(limit) = wait {
        return match wait_for_scan(&cfg, &bus, scan_id, limit).await? {
            Some(outcome) => print_scan_outcome(&cfg, &outcome),
            None => Ok(not_ingested_in(scan_id, limit)),
        };
    }
    let mut seen = ScanSeen::default();
    seen.read(&bus, scan_id).await?;
    let (submitted, outcome) = (seen.submitted, seen.outcome);
    match outcome {
        Some(o) => print_scan_outcome(&cfg, &o),
        None if submitted => {
            println!("scan {scan_id}: submitted, not ingested yet");
            Ok(ExitCode::from(EXIT_NOT_YET))
        }
        None => bail!(
            "no scan {scan_id} was submitted (in namespace {})",
            cfg.nats.namespace
        ),
    }
}

/// Prints a scan's outcome as `scan submit --wait` does; exit status 0 for
/// completed, [`EXIT_REJECTED`] for rejected.
fn print_scan_outcome(cfg: &Config, outcome: &Payload) -> Result<ExitCode> {
    match outcome {
        Payload::ScanCompleted(c) => {
            let count = |n: u64, noun: &str| {
                report::summary::count(usize::try_from(n).unwrap_or(usize::MAX), noun)
            };
            let resolved = if c.resolved > 0 {
                format!(
                    "; {} resolved (no longer seen)",
                    count(c.resolved, "finding")
                )
            } else {
                String::new()
            };
            println!(
                "completed: {}, {}, {}{resolved}",
                count(c.hosts.len() as u64, "host"),
                count(c.findings, "finding"),
                count(c.info_facts, "informational item")
            );
            let now = cfg.clock.clock().now();
            if let Some(w) = ingest::format::future_scan_warning(c.started_at, c.finished_at, now) {
                eprintln!("warning: {w}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Payload::ScanRejected(r) => {
            println!("rejected: {}", r.reason);
            Ok(ExitCode::from(EXIT_REJECTED))
        }
        _ => bail!("unexpected outcome"),
    }
}

/// What the SCANS stream said about one scan so far.
#[derive(Debug, Default)]
struct ScanSeen {
    /// The next stream sequence to read.
    from: u64,
    /// Its `scan.submitted` was seen.
    submitted: bool,
    /// Its `scan.completed` or `scan.rejected`, once seen.
    outcome: Option<Payload>,
}

impl ScanSeen {
    /// Reads the SCANS stream from where the last read stopped up to its
    /// current end (stopping early at the outcome).
    async fn read(&mut self, bus: &Bus, scan_id: Uuid) -> Result<()> {
        use futures::StreamExt as _;
        let from = self.from.max(1);
        let last = bus.stream_last_sequence(&events::spec::SCANS).await?;
        if last < from {
            return Ok(());
        }
        let messages = bus::consume::replay(bus, &events::spec::SCANS, from).await?;
        let mut messages = std::pin::pin!(messages);
        while let Some(m) = messages.next().await {
            let m = m?;
            self.from = m.stream_sequence + 1;
            if let Ok(e) = Event::from_json(&m.payload) {
                match &e.data {
                    Payload::ScanSubmitted(s) if s.scan_id == scan_id => self.submitted = true,
                    Payload::ScanCompleted(c) if c.scan_id == scan_id => {
                        self.outcome = Some(e.data);
                        return Ok(());
                    }
                    Payload::ScanRejected(r) if r.scan_id == scan_id => {
                        self.outcome = Some(e.data);
                        return Ok(());
                    }
                    _ => {}
                }
            }
            if m.stream_sequence >= last {
                break;
            }
        }
        Ok(())
    }
}

/// After this long without an outcome, `--wait` says on stderr what it
/// waits for, once.
const WAIT_NOTICE_AFTER: Duration = Duration::from_secs(10);

/// Waits up to `limit` for the `scan.completed` or `scan.rejected` of
/// `scan_id`; `None` when neither came. After [`WAIT_NOTICE_AFTER`] it says
/// once on stderr which server and namespace it watches, since the usual
/// cause is no ingest running there.
///
/// # Errors
/// The streams cannot be read.
pub async fn wait_for_scan(
    cfg: &Config,
    bus: &Bus,
    scan_id: Uuid,
    limit: Duration,
) -> Result<Option<Payload>> {
    let started = tokio::time::Instant::now();
    let mut noticed = false;
    let mut seen = ScanSeen::default();
    loop {
        seen.read(bus, scan_id).await?;
        if let Some(outcome) = seen.outcome.take() {
            return Ok(Some(outcome));
        }
        let waited = started.elapsed();
        if waited >= limit {
            return Ok(None);
        }
        if !noticed && waited >= WAIT_NOTICE_AFTER {
            noticed = true;
            eprintln!(
                "still waiting for ingest to take scan {scan_id} (NATS {}, namespace {}): is \
                 `patchflow up` or `patchflow serve ingest` running there? Giving up after {} s.",
                cfg.nats.url.as_deref().unwrap_or("?"),
                cfg.nats.namespace,
                limit.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Parses an instant option (`--as-of`, `--score-date`): RFC 3339, or a
/// date meaning its midnight UTC. The error quotes the value; the caller
/// names the option.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    bail!("{s:?} is neither RFC 3339 (2025-01-20T00:00:00Z) nor a date (2025-01-20)")
}

/// The report projection, caught up from NATS first unless `no_sync`.
pub(crate) async fn open_projection(cfg: &Config, no_sync: bool) -> Result<report::Projection> {
    let cfg = with_discovered_nats(cfg.clone());
    let db = cfg.report_db();
    if !no_sync && cfg.nats.url.is_some() {
        let mut bus_cfg = cfg.bus_config("patchflow-report-cli")?;
        bus_cfg.connect_timeout = std::time::Duration::from_secs(5);
        let bus = Bus::connect(&bus_cfg).await?;
        report::catch_up(&bus, &db).await?;
    } else if !db.exists() {
        let how = if no_sync {
            "run without --no-sync to build it from NATS"
        } else {
            "no NATS to build it from: set NATS_URL or run patchflow up"
        };
        bail!("no report projection at {} ({how})", db.display());
    } else if !no_sync {
        eprintln!(
            "warning: no NATS server known (NATS_URL unset and no running patchflow up in {}); \
             answering from the local projection {} as it is",
            cfg.data_dir().display(),
            db.display()
        );
    }
    Ok(report::Projection::open(&db)?)
}

/// The shortest id prefix taken for a bundle or a finding (a change
/// approval must not hang on one or two characters that happen to be
/// unique today).
pub(crate) const MIN_ID_PREFIX: usize = 4;

/// The bundle a full id or a unique id prefix (as the demo prints) names:
/// at least [`MIN_ID_PREFIX`] characters.
pub(crate) fn resolve_bundle(p: &report::Projection, wanted: &str) -> Result<uuid::Uuid> {
    if let Ok(id) = wanted.parse::<uuid::Uuid>() {
        return Ok(id);
    }
    if wanted.len() < MIN_ID_PREFIX {
        bail!(
            "{wanted:?} is too short to name a bundle: give at least {MIN_ID_PREFIX} characters of \
             its id (patchflow report bundles lists them)"
        );
    }
    let wanted_lower = wanted.to_ascii_lowercase();
    let matches = p
        .bundles()?
        .into_iter()
        .map(|b| b.bundle_id)
        .filter(|id| id.to_string().starts_with(&wanted_lower));
    unique_by_prefix("bundle", "patchflow report bundles", wanted, matches)
}

/// The one id among `matches` (the ids starting with `wanted`), or an error
/// naming `what` and the command `list` that shows the ids.
pub(crate) fn unique_by_prefix(
    what: &str,
    list: &str,
    wanted: &str,
    matches: impl IntoIterator<Item = uuid::Uuid>,
) -> Result<uuid::Uuid> {
    let matches: Vec<uuid::Uuid> = matches.into_iter().collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => bail!("no {what} id starts with {wanted:?} (see {list})"),
        many => bail!(
            "{wanted:?} names {} {what}s; give more of the id",
            many.len()
        ),
    }
}

async fn report_cmd(cfg: &Config, cmd: ReportCommand) -> Result<ExitCode> {
    let out = &mut std::io::stdout().lock();
    match cmd {
        ReportCommand::Compliance {
            as_of,
            json,
            no_sync,
        } => {
            let as_of = as_of_or_now(cfg, as_of.as_deref())?;
            let p = open_projection(cfg, no_sync).await?;
            let r = p.compliance(as_of)?;
            if json {
                writeln!(out, "{}", report::compliance_json(&r)?)?;
            } else {
                write!(out, "{}", report::render_compliance(&r))?;
            }
        }
        ReportCommand::Findings {
            as_of,
            host,
            cve,
            priority,
            overdue,
            json,
            no_sync,
        } => {
            let priority = priority
                .map(|p| p.parse::<events::Priority>().map_err(anyhow::Error::msg))
                .transpose()
                .context("--priority")?;
            let as_of = as_of_or_now(cfg, as_of.as_deref())?;
            let p = open_projection(cfg, no_sync).await?;
            let filter = report::FindingFilter {
                host,
                cve,
                priority,
                overdue,
            };
            let compliance = p.compliance(as_of)?;
            if let Some(host) = &filter.host
                && !report::knows_host(&compliance, host)
            {
                eprintln!(
                    "note: no host {host:?} is known (as of {}); report compliance lists the hosts",
                    as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
            }
            let rows = report::list_findings(&compliance, &filter);
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
            } else {
                write!(out, "{}", report::render_findings(as_of, &rows))?;
            }
        }
        ReportCommand::Audit {
            bundle,
            json,
            no_sync,
        } => {
            let p = open_projection(cfg, no_sync).await?;
            let bundle = resolve_bundle(&p, &bundle)?;
            let trail = p.audit_trail(bundle)?;
            if trail.is_empty() {
                bail!("no events for bundle {bundle}");
            }
            if json {
                writeln!(out, "{}", report::audit_json(&trail)?)?;
            } else {
                write!(out, "{}", report::render_audit(&trail))?;
            }
        }
        ReportCommand::Bundles { no_sync, json } => {
            let p = open_projection(cfg, no_sync).await?;
            let bundles = p.bundles()?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&bundles)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            writeln!(
                out,
                "{:<36}  {:<9} {:<17} {:>9}  {:>12}  {:>6}  NOTE",
                "BUNDLE", "PRIORITY", "STATUS", "HOSTS", "REMEDIATIONS", "MANUAL"
            )?;
            for b in bundles {
                let line = format!(
                    "{}  {:<9} {:<17} {:>9}  {:>12}  {:>6}  {}",
                    b.bundle_id,
                    b.priority.map(|p| p.as_str()).unwrap_or("-"),
                    b.status.as_str(),
                    b.hosts,
                    b.remediations,
                    b.manual_tasks,
                    b.halt_reason
                        .map(|r| format!("halted in {}: {r}", b.halted_ring.unwrap_or_default()))
                        .unwrap_or_default()
                );
                writeln!(out, "{}", line.trim_end())?;
            }
        }
        ReportCommand::DeadLetters { no_sync } => {
            let p = open_projection(cfg, no_sync).await?;
            let dead = p.dead_letters()?;
            if dead.is_empty() {
                // On stderr: stdout stays JSON lines (here, none).
                eprintln!("no dead letters");
            }
            for d in dead {
                writeln!(out, "{}", serde_json::to_string(&d)?)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The instant `--as-of` names (RFC 3339, or a date = its midnight UTC),
/// or the configured clock's now when it is not given.
fn as_of_or_now(cfg: &Config, as_of: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>> {
    match as_of {
        Some(s) => parse_instant(s).context("--as-of"),
        None => Ok(cfg.clock.clock().now()),
    }
}

/// `patchflow audit verify`: recompute the projection's hash chain and,
/// when NATS is reachable, check that every event in the streams is in the
/// projection unchanged (so the local trail is both intact and complete).
async fn audit_verify(cfg: &Config) -> Result<ExitCode> {
    use futures::StreamExt as _;
    let cfg = with_discovered_nats(cfg.clone());
    let db = cfg.report_db();
    let mut compared: Option<(u64, Vec<String>)> = None;
    if cfg.nats.url.is_some() {
        let bus = connect_cli(&cfg, "patchflow-audit").await?;
        report::catch_up(&bus, &db).await?;
        let p = report::Projection::open(&db)?;
        let (mut checked, mut problems) = (0u64, Vec::new());
        for stream in events::spec::STREAMS {
            let last = bus.stream_last_sequence(&stream).await?;
            if last == 0 {
                continue;
            }
            let messages = bus::consume::replay(&bus, &stream, 1).await?;
            let mut messages = std::pin::pin!(messages);
            while let Some(m) = messages.next().await {
                let m = m?;
                if let Ok(event) = Event::from_json(&m.payload) {
                    checked += 1;
                    match p.event(event.id)? {
                        Some(stored) if stored == event => {}
                        Some(_) => problems.push(format!(
                            "{} seq {}: event {} differs from the stream",
                            stream.name(bus.namespace()),
                            m.stream_sequence,
                            event.id
                        )),
                        None => problems.push(format!(
                            "{} seq {}: event {} is missing from the projection",
                            stream.name(bus.namespace()),
                            m.stream_sequence,
                            event.id
                        )),
                    }
                }
                if m.stream_sequence >= last {
                    break;
                }
            }
        }
        compared = Some((checked, problems));
    } else if !db.exists() {
        bail!(
            "no report projection at {} and no NATS to build it from (set NATS_URL or run patchflow up)",
            db.display()
        );
    }
    let p = report::Projection::open(&db)?;
    let chain = p.verify_chain()?;
    if let Some(b) = &chain.broken {
        println!(
            "audit trail BROKEN at position {} (event {}): {}",
            b.position,
            b.event_id.as_deref().unwrap_or("?"),
            b.problem
        );
        return Ok(ExitCode::from(EXIT_NOT_YET));
    }
    match compared {
        Some((checked, problems)) if !problems.is_empty() => {
            for problem in &problems {
                println!("{problem}");
            }
            println!(
                "audit trail DIFFERS from the streams: {} of {checked} events",
                problems.len()
            );
            Ok(ExitCode::from(EXIT_NOT_YET))
        }
        Some((checked, _)) => {
            println!(
                "audit trail intact: {} events, head {}; all {checked} events of the streams match",
                chain.rows,
                chain.head.as_deref().unwrap_or("-")
            );
            Ok(ExitCode::SUCCESS)
        }
        None => {
            println!(
                "audit trail intact: {} events, head {} (local copy only: no NATS server to compare with)",
                chain.rows,
                chain.head.as_deref().unwrap_or("-")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `patchflow parse FILE [--format F]`: the same detection, parsers and
/// normalization ingest runs; findings as JSON lines on stdout, a summary on
/// stderr; exit [`EXIT_REJECTED`] when the report is rejected.
fn parse(file: &Path, format: Option<&str>) -> Result<ExitCode> {
    use ingest::format;
    let hint = format.map(str::parse::<format::Format>).transpose()?;
    if file.is_dir() {
        bail!("{} is a folder, not a report", file.display());
    }
    // The report is read twice (the whole-report check, then the findings);
    // `-` (stdin), a pipe or a FIFO can be read once, so it is copied to a
    // temporary file first (streamed: memory stays bounded).
    let spooled = read_once_source(file)?;
    let shown = file.display();
    let file = spooled.as_ref().map_or(file, |t| t.path());
    let open = || -> Result<BufReader<std::fs::File>> {
        Ok(BufReader::with_capacity(
            256 * 1024,
            std::fs::File::open(file).with_context(|| format!("open {}", file.display()))?,
        ))
    };
    let checked =
        format::open(open()?, hint).and_then(|(fmt, r)| Ok((fmt, format::check(fmt, r)?)));
    let (fmt, summary) = match checked {
        Ok(found) => found,
        Err(e) => {
            eprintln!("rejected: {shown}: {e}");
            if let Some(kind) = feed_look(file) {
                eprintln!(
                    "hint: it looks like a {kind} feed document, not a scanner report: \
                     patchflow feed load {shown} --kind {kind}"
                );
            }
            return Ok(ExitCode::from(EXIT_REJECTED));
        }
    };
    let out = &mut std::io::BufWriter::new(std::io::stdout().lock());
    let fallback = Utc::now();
    let (mut findings, mut facts, mut hosts) = (0u64, 0u64, 0u64);
    let (_, reader) = format::open(open()?, Some(fmt))?;
    for host in format::hosts(fmt, reader, fallback) {
        let host = host?;
        hosts += 1;
        facts += host.facts.len() as u64;
        for obs in &host.findings {
            let finding = obs.to_finding(&host.asset, Uuid::nil(), host.observed_at);
            serde_json::to_writer(&mut *out, &finding)?;
            out.write_all(b"\n")?;
            findings += 1;
        }
    }
    out.flush()?;
    let skipped: Vec<String> = summary
        .skipped
        .iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect();
    // Items the report lists more than once for one finding (same asset and
    // check) are one finding: say so, or an item would go missing silently.
    let merged = summary.findings.saturating_sub(findings);
    eprintln!(
        "format {fmt}, hosts {hosts}, findings {findings}, info items {facts} (kept as asset facts), skipped {}{}",
        if skipped.is_empty() {
            "0".to_owned()
        } else {
            skipped.join(", ")
        },
        if merged > 0 {
            format!(", merged {merged} repeated item(s) into the finding they repeat")
        } else {
            String::new()
        }
    );
    if let Some(w) = format::future_scan_warning(summary.started_at, summary.finished_at, fallback)
    {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The feed kind a rejected report looks like ([`feeds::guess::guess_kind`]),
/// for files up to 64 MiB (feed documents are smaller; a bigger file is not
/// read again just for a hint).
fn feed_look(file: &Path) -> Option<feeds::FeedKind> {
    let size = std::fs::metadata(file).ok()?.len();
    if size > 64 << 20 {
        return None;
    }
    feeds::guess::guess_kind(&std::fs::read(file).ok()?)
}

/// For `-` or a path that is not a regular file but can be read once (a
/// pipe such as `/dev/stdin` or `<(…)`, a FIFO, a character device): its
/// content copied into a temporary file, deleted when dropped. `None` for
/// anything else (regular files, and paths that the open reports on).
///
/// # Errors
/// When stdin or the source cannot be read, or the copy cannot be written.
fn read_once_source(file: &Path) -> Result<Option<tempfile::NamedTempFile>> {
    use std::os::unix::fs::FileTypeExt as _;
    let stdin = file == Path::new("-");
    let once = stdin
        || std::fs::metadata(file).is_ok_and(|m| {
            let t = m.file_type();
            t.is_fifo() || t.is_char_device() || t.is_socket()
        });
    if !once {
        return Ok(None);
    }
    let mut spool = tempfile::NamedTempFile::new().context("create a temporary file")?;
    let copied = if stdin {
        std::io::copy(&mut std::io::stdin().lock(), spool.as_file_mut())
    } else {
        let mut source =
            std::fs::File::open(file).with_context(|| format!("open {}", file.display()))?;
        std::io::copy(&mut source, spool.as_file_mut())
    };
    copied.with_context(|| format!("read {}", file.display()))?;
    Ok(Some(spool))
}

/// `patchflow cvss [VECTOR…]`: `<score> <SEVERITY> <version> <score type>
/// <vector>` per line (the score type is `base` for v2/v3, `CVSS-B`,
/// `CVSS-BT`, `CVSS-BE` or `CVSS-BTE` for v4.0: see
/// [`prioritize::cvss::Scored::score_type`]); a vector that cannot be scored
/// prints `error: …` on stderr and makes the exit status [`EXIT_REJECTED`].
fn cvss(vectors: &[String]) -> Result<ExitCode> {
    let mut failed = false;
    let from_stdin = vectors.is_empty();
    let mut score = |line: &str| {
        let line = line.trim();
        if from_stdin && (line.is_empty() || line.starts_with('#')) {
            return;
        }
        if line.is_empty() {
            failed = true;
            eprintln!("error: empty vector");
            return;
        }
        match prioritize::cvss::score(line) {
            Ok(s) => println!(
                "{:.1} {} {} {} {}",
                s.score,
                s.rating().to_ascii_uppercase(),
                s.version.as_str(),
                s.score_type(),
                s.vector
            ),
            Err(e) => {
                failed = true;
                eprintln!("error: {line}: {e}");
            }
        }
    };
    if vectors.is_empty() {
        for line in std::io::stdin().lock().lines() {
            score(&line?);
        }
    } else {
        for v in vectors {
            score(v);
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_REJECTED)
    } else {
        ExitCode::SUCCESS
    })
}

fn schemas(cmd: SchemasCommand) -> Result<ExitCode> {
    match cmd {
        SchemasCommand::Write { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
            for (name, schema) in events::schema::all() {
                let path = dir.join(&name);
                std::fs::write(
                    &path,
                    format!("{}\n", serde_json::to_string_pretty(&schema)?),
                )
                .with_context(|| format!("write {}", path.display()))?;
            }
            println!(
                "wrote {} schemas to {}",
                events::schema::all().len(),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        SchemasCommand::Check { dir } => {
            if !dir.is_dir() {
                bail!("{} is not a folder of schemas", dir.display());
            }
            let drift = schema_drift(&dir)?;
            if drift.is_empty() {
                println!("schemas in {} match the event types", dir.display());
                Ok(ExitCode::SUCCESS)
            } else {
                for d in &drift {
                    eprintln!("drift: {d}");
                }
                eprintln!("regenerate with: patchflow schemas write {}", dir.display());
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// Differences between `dir` and the generated schemas (empty = in sync).
pub fn schema_drift(dir: &Path) -> Result<Vec<String>> {
    let mut drift = Vec::new();
    let expected = events::schema::all();
    for (name, schema) in &expected {
        let path = dir.join(name);
        let want = format!("{}\n", serde_json::to_string_pretty(schema)?);
        match std::fs::read_to_string(&path) {
            Ok(have) if have == want => {}
            Ok(_) => drift.push(format!("{name} differs from the type")),
            Err(_) => drift.push(format!("{name} is missing")),
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !expected.iter().any(|(n, _)| *n == name) {
                drift.push(format!("{name} has no event type"));
            }
        }
    }
    Ok(drift)
}
