//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// patchflow: a patch-management pipeline on NATS JetStream.
#[derive(Debug, Parser)]
#[command(name = "patchflow", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
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
    /// Data folder for `up` (local nats-server store, report projection).
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
        /// Package backend.
        #[arg(long, default_value = "lab")]
        backend: agent::Backend,
        /// The lab backend's state file.
        #[arg(long)]
        state: PathBuf,
    },
    /// Scan reports.
    #[command(subcommand)]
    Scan(ScanCommand),
    /// Compliance, audit trails and bundles, from the report projection.
    #[command(subcommand)]
    Report(ReportCommand),
    /// The audit trail's integrity.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Parse a scan report and print its normalized findings as JSON lines
    /// (no NATS needed); a summary goes to stderr.
    Parse {
        /// The report file.
        file: PathBuf,
        /// Force a format instead of detecting it from the content.
        #[arg(long)]
        format: Option<String>,
    },
    /// Score CVSS vectors (v2, v3.0, v3.1, v4.0): one line per vector, from the
    /// arguments or, without arguments, from stdin.
    Cvss {
        /// Vectors.
        vectors: Vec<String>,
    },
    /// The JSON Schemas of every event type.
    #[command(subcommand)]
    Schemas(SchemasCommand),
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
        /// The report file.
        file: PathBuf,
        /// Format hint (ingest detects the format from the content).
        #[arg(long)]
        format: Option<String>,
        /// What the scan covered.
        #[arg(long, value_enum, default_value = "full")]
        scope: ScopeArg,
        /// Who submits it.
        #[arg(long, default_value = "operator")]
        by: String,
        /// Wait until ingest completed or rejected it, and print the outcome.
        #[arg(long)]
        wait: bool,
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
    /// Every event of a bundle, in order.
    Audit {
        /// The bundle id.
        bundle: uuid::Uuid,
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
