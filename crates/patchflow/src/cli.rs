//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// patchflow: a patch-management pipeline on NATS JetStream.
#[derive(Debug, Parser)]
#[command(
    name = "patchflow",
    version,
    about,
    long_about = None,
    after_help = "Exit status: 0 done; 1 the command could not do its work (I/O, NATS, a bad \
                  option value); 2 usage error; 3 a check answered \"not (yet)\" (audit trail \
                  broken, scan not ingested yet or not within --timeout); 4 the input was rejected (a report, a feed \
                  document, a CVSS vector, a candidate policy)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The report formats `--format` takes (listed in `--help`).
fn format_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        ingest::format::Format::ALL
            .iter()
            .map(|f| clap::builder::PossibleValue::new(f.as_str())),
    )
}

/// Options every command takes (flags win over the environment, which wins
/// over the config file).
#[derive(Debug, Args)]
pub struct Global {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "PATCHFLOW_CONFIG")]
    pub config: Option<PathBuf>,
    /// NATS server URL(s); unset, `up` starts a local nats-server.
    #[arg(long, global = true, env = "NATS_URL")]
    pub nats_url: Option<String>,
    /// Subject and resource namespace.
    #[arg(long, global = true, env = "PATCHFLOW_NAMESPACE")]
    pub namespace: Option<String>,
    /// Data folder: `up`'s local nats-server store and URL, and the report projection every command reads.
    #[arg(long, global = true, env = "PATCHFLOW_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Stream and KV replicas (3 on a cluster).
    #[arg(long, global = true)]
    pub replicas: Option<usize>,
    /// Log filter, e.g. `info` or `patchflow=debug,warn` (also `RUST_LOG`).
    #[arg(long, global = true, env = "PATCHFLOW_LOG")]
    pub log: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service in one process (starting a local nats-server when no
    /// NATS URL is set).
    Up {
        /// Run the main job on the bundled example lab, print the compliance
        /// report and a bundle's audit trail, and exit.
        #[arg(long)]
        demo: bool,
    },
    /// Run one service.
    Serve {
        /// The service.
        service: ServiceArg,
    },
    /// Run the host agent for one host.
    Agent {
        /// The host's asset id (its jobs arrive on `patch.agent.job.<host>`).
        #[arg(long)]
        host: String,
        /// Package backend: `lab` (a simulated host in a JSON file), `apt`,
        /// `dnf`, `yum` or `zypper`.
        #[arg(long, default_value = "lab")]
        backend: agent::Backend,
        /// The backend's state file: required for `lab`; for a package
        /// backend the applied remediations and job history (default
        /// `/var/lib/patchflow/agent-<host>.json`).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Plan every job with the package manager's own simulation and
        /// change nothing (package backends only).
        #[arg(long)]
        dry_run: bool,
        /// Deploy's Ed25519 public key (PEM, `-----BEGIN PUBLIC KEY-----`,
        /// e.g. `<data_dir>/job-signing.pub.pem` of the deploy); jobs not
        /// signed with its private key are refused. Give it twice (old and
        /// new key) while deploy's key is rotated.
        #[arg(long, required = true)]
        verify_key: Vec<PathBuf>,
        /// A program run before an apply job changes packages (take a
        /// snapshot); no arguments, no shell: the job is in its environment
        /// (`PATCHFLOW_HOST`, `PATCHFLOW_BUNDLE_ID`, `PATCHFLOW_JOB_ID`, …).
        /// Package backends only.
        #[arg(long)]
        snapshot_hook: Option<PathBuf>,
        /// A program run for a rollback job before the package downgrade
        /// (restore the snapshot); what it does not restore is downgraded.
        #[arg(long)]
        restore_hook: Option<PathBuf>,
        /// The command a reboot job runs (package backends): program then
        /// arguments, no shell, e.g. `--reboot-command systemctl reboot`
        /// (the default). Given with no value, the agent refuses reboot jobs.
        #[arg(long, num_args = 0.., value_name = "ARGV", allow_hyphen_values = true)]
        reboot_command: Option<Vec<String>>,
        /// Lab backend: seconds a simulated reboot takes before the agent
        /// announces the new boot id.
        #[arg(long, default_value_t = agent::config::DEFAULT_LAB_REBOOT_SECS)]
        reboot_secs: u64,
    },
    /// Scan reports.
    #[command(subcommand)]
    Scan(ScanCommand),
    /// Bulletin and intel feeds (CISA KEV, FIRST EPSS, CSAF, OSV).
    #[command(subcommand)]
    Feed(FeedCommand),
    /// Compliance, audit trails and bundles, from the report projection.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The audit trail's integrity.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Parse a scan report and print its normalized findings as JSON lines
    /// (no NATS needed); a summary goes to stderr.
    Parse {
        /// The report file; `-` reads stdin (a pipe or FIFO works too).
        file: PathBuf,
        /// Force a format instead of detecting it from the content.
        #[arg(long, ignore_case = true, value_parser = format_names())]
        format: Option<String>,
    },
    /// Score CVSS vectors (v2, v3.0, v3.1, v4.0): one line per vector, from the
    /// arguments or, without arguments, from stdin: `SCORE SEVERITY VERSION
    /// TYPE VECTOR`, where TYPE says which score it is: `base` for v2/v3,
    /// `CVSS-B`, `CVSS-BT`, `CVSS-BE` or `CVSS-BTE` for v4.0 (the groups of
    /// metrics the vector sets).
    Cvss {
        /// Vectors.
        vectors: Vec<String>,
    },
    /// Why a finding has its priority and due date: the inputs with their
    /// dates, the rules that fired in order, the policy version, the SLA
    /// clock and every earlier decision (from the report projection).
    Explain {
        /// The finding id, or its fingerprint.
        finding: String,
        /// Print the stored history as JSON instead.
        #[arg(long)]
        json: bool,
        /// Do not catch the projection up from NATS first.
        #[arg(long)]
        no_sync: bool,
    },
    /// The risk policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The JSON Schemas of every event type.
    #[command(subcommand)]
    Schemas(SchemasCommand),
    /// Risk acceptances: keep a finding, or every finding with a CVE, out of
    /// scheduling and non-compliance until the exception expires.
    #[command(subcommand)]
    Exception(ExceptionCommand),
    /// Change approval of a bundle: `approve` releases the rings that need
    /// one (`[schedule.approval] rings`; default: the last ring, production),
    /// `reject` halts the bundle.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Print a bundle's rollout plan without deploying anything: the waves
    /// per ring, the windows they fall in (local and UTC), the freezes
    /// crossed, the approval needed and the deadline check.
    Plan {
        /// The bundle id, or a unique prefix of it (from the projection;
        /// `patchflow report bundles` lists them).
        #[arg(required_unless_present = "dry_run", conflicts_with = "dry_run")]
        bundle: Option<String>,
        /// Plan the open findings (their latest decisions) afresh instead.
        #[arg(long)]
        dry_run: bool,
        /// Do not catch the projection up from NATS first.
        #[arg(long)]
        no_sync: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Approve the bundle as a change: publishes `patch.bundle.approved`.
    Approve {
        /// The bundle id, or a unique prefix of it.
        bundle: String,
        /// Who approves it.
        #[arg(long)]
        by: String,
        /// The change ticket (`CHG-1234`).
        #[arg(long)]
        ticket: String,
        /// An emergency change: its releases may cross change freezes.
        #[arg(long)]
        emergency_override: bool,
    },
    /// Reject the bundle as a change: publishes `patch.bundle.rejected`;
    /// schedule halts it.
    Reject {
        /// The bundle id, or a unique prefix of it.
        bundle: String,
        /// Who rejects it.
        #[arg(long)]
        by: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExceptionCommand {
    /// Grant an exception: publishes `patch.exception.granted` and prints its id.
    Add {
        /// A finding id (UUID), a finding's fingerprint (as `parse` and the
        /// reports print it), or a CVE id (every finding with it).
        target: String,
        /// Who owns the accepted risk.
        #[arg(long)]
        owner: String,
        /// Why the risk is accepted.
        #[arg(long)]
        reason: String,
        /// When it stops applying: RFC 3339, a date (its 00:00 UTC), or
        /// +Nd / +Nh / +Nw from now.
        #[arg(long)]
        expires: String,
        /// Who grants it.
        #[arg(long, default_value = "operator")]
        by: String,
    },
    /// Withdraw an exception early: publishes `patch.exception.revoked`.
    Revoke {
        /// The exception id `add` printed.
        #[arg(value_parser = parse_exception_id)]
        exception_id: uuid::Uuid,
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who revokes it.
        #[arg(long, default_value = "operator")]
        by: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ServiceArg {
    Ingest,
    Prioritize,
    Schedule,
    Deploy,
    Validate,
    Report,
}

#[derive(Debug, Subcommand)]
pub enum ScanCommand {
    /// Store a report in the object store and publish `patch.scan.submitted`.
    Submit {
        /// The report file (`-`: standard input).
        file: PathBuf,
        /// Format hint (ingest detects the format from the content).
        #[arg(long, ignore_case = true, value_parser = format_names())]
        format: Option<String>,
        /// What the scan covered.
        #[arg(long, value_enum, default_value = "full")]
        scope: ScopeArg,
        /// Who submits it.
        #[arg(long, default_value = "operator")]
        by: String,
        /// Wait until ingest completed or rejected it, and print the outcome
        /// (exit 0, or 4 when rejected; 3 when `--timeout` passed first).
        #[arg(long)]
        wait: bool,
        /// How long `--wait` waits, in seconds.
        #[arg(long, default_value_t = 600, requires = "wait")]
        timeout: u64,
    },
    /// What became of a submitted scan: completed (with counts), rejected
    /// (with the reason), or still waiting for ingest. Exit status 0, 4
    /// (rejected) or 3 (not ingested yet).
    Status {
        /// The scan id `scan submit` printed.
        scan_id: uuid::Uuid,
        /// Wait until ingest completed or rejected it (`--timeout`).
        #[arg(long)]
        wait: bool,
        /// How long `--wait` waits, in seconds.
        #[arg(long, default_value_t = 600, requires = "wait")]
        timeout: u64,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    Full,
    Partial,
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Per host: open and overdue findings, average CVSS, last patched,
    /// COMPLIANT / NON_COMPLIANT at an instant.
    Compliance {
        /// The instant (RFC 3339, or a date = its midnight UTC); default now.
        #[arg(long)]
        as_of: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Do not catch the projection up from NATS first.
        #[arg(long)]
        no_sync: bool,
    },
    /// The open findings at an instant, most urgent first: due date,
    /// priority, overdue / excepted / open, host, finding id (what `explain`
    /// takes), CVEs and check. Counts as `report compliance` counts.
    Findings {
        /// The instant (RFC 3339, or a date = its midnight UTC); default now.
        #[arg(long)]
        as_of: Option<String>,
        /// Only this host (asset id or host name, any case).
        #[arg(long)]
        host: Option<String>,
        /// Only findings listing this CVE (any case).
        #[arg(long)]
        cve: Option<String>,
        /// Only this priority class.
        #[arg(long, ignore_case = true, value_parser = ["critical", "high", "medium", "low"])]
        priority: Option<String>,
        /// Only findings past their due date with no active exception.
        #[arg(long)]
        overdue: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Do not catch the projection up from NATS first.
        #[arg(long)]
        no_sync: bool,
    },
    /// Every event of a bundle, in order.
    Audit {
        /// The bundle id, or a unique prefix of it (as the demo prints).
        bundle: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Do not catch the projection up from NATS first.
        #[arg(long)]
        no_sync: bool,
    },
    /// Every bundle and where it stands.
    Bundles {
        /// Do not catch the projection up from NATS first.
        #[arg(long)]
        no_sync: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Messages a service terminated, with the reason.
    DeadLetters {
        /// Do not catch the projection up from NATS first.
        #[arg(long)]
        no_sync: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit trail's hash chain: proves no stored event was
    /// edited or removed.
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Replay the open findings (latest observation of each, from the report
    /// projection) through the policy in force and a candidate, and print
    /// what would change: findings per class, class moves, and every
    /// finding whose due date moves. Publishes nothing.
    Diff {
        /// The candidate policy file (TOML).
        candidate: PathBuf,
        /// Compare as first decisions: ignore the deadlines already set
        /// (by default an earlier deadline on the same clock is kept, as the
        /// service keeps it).
        #[arg(long)]
        fresh: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Do not catch the projection up from NATS first.
        #[arg(long)]
        no_sync: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SchemasCommand {
    /// Write `<type>.json` for every event type into DIR.
    Write {
        /// Target folder.
        dir: PathBuf,
    },
    /// Fail when DIR differs from the schemas the types generate.
    Check {
        /// Folder to compare.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Validate a feed document, store it and publish what it says, exactly
    /// as the feed poller does: `patch.bulletin.catalog_loaded` (KEV, EPSS),
    /// `patch.bulletin.kev_added` for CVEs new since the previous KEV catalog,
    /// `patch.bulletin.advisory` (CSAF, OSV). A broken document publishes
    /// nothing and exits 4 with the reason.
    Load {
        /// The document (KEV JSON or CSV, EPSS CSV plain or gzip, CSAF JSON,
        /// OSV JSON or osv-scanner output); `-` reads stdin.
        file: PathBuf,
        /// What it is.
        #[arg(long, value_enum)]
        kind: FeedKindArg,
        /// EPSS score date for v1 files without a `#score_date` line
        /// (RFC 3339, or a date = its midnight UTC).
        #[arg(long)]
        score_date: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FeedKindArg {
    Kev,
    Epss,
    Csaf,
    Osv,
}

/// An exception id as `exception add` printed it (a UUID).
fn parse_exception_id(s: &str) -> Result<uuid::Uuid, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an exception id: use the UUID `exception add` printed"))
}
