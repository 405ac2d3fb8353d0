//! The package-backend interface of the host agent, shared by the real
//! package managers (`apt`, `dnf`/`yum`, `zypper`).
//!
//! A [`PackageBackend`] turns a job's remediations into typed
//! [`Operation`]s, simulates them with the package manager's own simulation,
//! applies them, reads installed versions back and tells whether the host
//! needs a reboot. It is the one seam between job handling ([`crate::host`])
//! and a package manager; the deploy saga drives hosts through it too.
//!
//! # Invariants
//!
//! - **No shell, no text from the bus.** Every command is an argv vector
//!   ([`Command`]) run without a shell. Package names, versions and advisory
//!   ids reach an argv only as [`PackageName`], [`PackageVersion`] and
//!   [`AdvisoryId`], whose constructors accept only the characters the
//!   package format allows (Debian Policy §5.6.1 and §5.6.12 for `deb`; the
//!   RPM name and `[epoch:]version[-release]` rules for `rpm`) and never a
//!   leading `-`, so nothing can be read as an option. A scanner's
//!   [`Remediation::Solution`] text is never run: it plans as
//!   [`PlanError::NotApplicable`].
//! - **Simulation changes nothing.** [`PackageBackend::simulate`] runs only
//!   the manager's own simulation (`apt-get -s`, `dnf --assumeno`,
//!   `zypper --dry-run`).
//! - **Exit codes are interpreted, not only compared with 0.** `zypper` exit
//!   102 means "installed, reboot required" and `needs-restarting -r` exit 1
//!   means "reboot required"; neither is a failure.
//! - Commands run with `LC_ALL=C`, so their output is parsed in one
//!   language.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use events::Remediation;
use serde::{Deserialize, Serialize};

/// The longest package name, version or advisory id accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 256;

/// How long one package-manager command may run before it is killed
/// (default of [`SystemRunner::new`]): 30 minutes.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The package managers the agent drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// `apt-get` and `dpkg-query` (Debian, Ubuntu).
    Apt,
    /// `dnf` (4 or 5) and `rpm` (RHEL 8+, Fedora, AlmaLinux, Rocky).
    Dnf,
    /// `yum` and `rpm` (RHEL 7, CentOS 7).
    Yum,
    /// `zypper` and `rpm` (SLES, openSUSE).
    Zypper,
}

impl Manager {
    /// Lower-case name (`apt`, `dnf`, `yum`, `zypper`).
    pub fn as_str(self) -> &'static str {
        match self {
            Manager::Apt => "apt",
            Manager::Dnf => "dnf",
            Manager::Yum => "yum",
            Manager::Zypper => "zypper",
        }
    }

    /// The package format whose naming rules apply.
    pub fn format(self) -> PackageFormat {
        match self {
            Manager::Apt => PackageFormat::Deb,
            Manager::Dnf | Manager::Yum | Manager::Zypper => PackageFormat::Rpm,
        }
    }

    /// The version order of the manager's packages.
    pub fn scheme(self) -> feeds::Scheme {
        match self.format() {
            PackageFormat::Deb => feeds::Scheme::Dpkg,
            PackageFormat::Rpm => feeds::Scheme::Rpm,
        }
    }

    /// Whether the manager applies a vendor advisory by its id
    /// (`dnf upgrade --advisories=ID`, `yum update --advisory=ID`,
    /// `zypper install -t patch ID`). `apt` has no such operation.
    pub fn supports_advisories(self) -> bool {
        !matches!(self, Manager::Apt)
    }
}

impl fmt::Display for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A package format, which decides the allowed characters of names and
/// versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageFormat {
    /// Debian packages (`.deb`).
    Deb,
    /// RPM packages.
    Rpm,
}

impl fmt::Display for PackageFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PackageFormat::Deb => "deb",
            PackageFormat::Rpm => "rpm",
        })
    }
}

/// A name, version or advisory id that a package manager must not be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct InvalidInput {
    /// What it was meant to be (`deb package name`, `rpm version`,
    /// `advisory id`).
    pub what: String,
    /// The value, as received.
    pub value: String,
    /// The rule it breaks.
    pub reason: String,
}

fn invalid(what: impl Into<String>, value: &str, reason: impl Into<String>) -> InvalidInput {
    InvalidInput {
        what: what.into(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

/// Checks the parts every token shares: not empty, at most
/// [`MAX_TOKEN_LEN`] bytes, starting with an ASCII letter or digit (so never
/// with `-`), and every character in `allowed`.
fn check_token(
    what: &str,
    value: &str,
    allowed: impl Fn(char) -> bool,
    rule: &str,
) -> Result<(), InvalidInput> {
    if value.is_empty() {
        return Err(invalid(what, value, "empty"));
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(invalid(
            what,
            value,
            format!("longer than {MAX_TOKEN_LEN} bytes"),
        ));
    }
    if !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(invalid(
            what,
            value,
            "must start with an ASCII letter or digit",
        ));
    }
    if let Some(c) = value.chars().find(|&c| !allowed(c)) {
        return Err(invalid(
            what,
            value,
            format!("character {c:?} is not allowed ({rule})"),
        ));
    }
    Ok(())
}

/// A package name valid for one package format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageName(String);

impl PackageName {
    /// Checks `value` against the format's naming rule:
    /// - `deb` (Debian Policy §5.6.1): at least two characters of `a-z`,
    ///   `0-9`, `+`, `-`, `.`, starting with a letter or digit;
    /// - `rpm`: ASCII letters, digits, `.`, `_`, `+`, `-`, starting with a
    ///   letter or digit.
    ///
    /// # Errors
    /// [`InvalidInput`] naming the rule broken.
    pub fn parse(format: PackageFormat, value: &str) -> Result<PackageName, InvalidInput> {
        let what = format!("{format} package name");
        match format {
            PackageFormat::Deb => {
                check_token(
                    &what,
                    value,
                    |c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.')
                    },
                    "Debian Policy 5.6.1: a-z, 0-9, '+', '-', '.'",
                )?;
                if value.len() < 2 {
                    return Err(invalid(
                        what,
                        value,
                        "Debian Policy 5.6.1: at least two characters",
                    ));
                }
            }
            PackageFormat::Rpm => check_token(
                &what,
                value,
                |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'),
                "rpm names: A-Z, a-z, 0-9, '.', '_', '+', '-'",
            )?,
        }
        Ok(PackageName(value.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A package version valid for one package format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageVersion(String);

/// Splits a leading `epoch:` off `value`; the epoch must be decimal digits.
fn split_epoch<'a>(what: &str, value: &'a str) -> Result<&'a str, InvalidInput> {
    match value.split_once(':') {
        None => Ok(value),
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(rest)
        }
        Some(_) => Err(invalid(
            what,
            value,
            "the epoch before ':' must be decimal digits",
        )),
    }
}

impl PackageVersion {
    /// Checks `value` against the format's version rule:
    /// - `deb` (Debian Policy §5.6.12): `[epoch:]upstream[-revision]`, the
    ///   epoch decimal, the upstream part of `A-Za-z0-9.+~-` starting with a
    ///   letter or digit, the revision (after the last `-`) non-empty of
    ///   `A-Za-z0-9.+~`;
    /// - `rpm`: `[epoch:]version[-release]`, the epoch decimal, version and
    ///   release non-empty of `A-Za-z0-9._+~^`, at most one `-`.
    ///
    /// # Errors
    /// [`InvalidInput`] naming the rule broken.
    pub fn parse(format: PackageFormat, value: &str) -> Result<PackageVersion, InvalidInput> {
        let what = format!("{format} version");
        check_token(
            &what,
            value,
            |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-' | ':' | '_' | '^'),
            "letters, digits and '.', '+', '~', '-', ':', '_', '^'",
        )?;
        let rest = split_epoch(&what, value)?;
        if rest.contains(':') {
            return Err(invalid(what, value, "at most one ':' (after the epoch)"));
        }
        if !rest.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(invalid(
                what,
                value,
                "the version after the epoch must start with a letter or digit",
            ));
        }
        match format {
            PackageFormat::Deb => {
                if let Some(c) = rest.chars().find(|c| matches!(c, '_' | '^')) {
                    return Err(invalid(
                        what,
                        value,
                        format!("character {c:?} is not allowed (Debian Policy 5.6.12)"),
                    ));
                }
                if let Some((_, revision)) = rest.rsplit_once('-')
                    && revision.is_empty()
                {
                    return Err(invalid(what, value, "the revision after '-' is empty"));
                }
            }
            PackageFormat::Rpm => {
                let mut parts = rest.split('-');
                let version = parts.next().unwrap_or_default();
                let release = parts.next();
                if parts.next().is_some() {
                    return Err(invalid(
                        what,
                        value,
                        "at most one '-' (between version and release)",
                    ));
                }
                if version.is_empty() || release.is_some_and(str::is_empty) {
                    return Err(invalid(
                        what,
                        value,
                        "version and release must not be empty",
                    ));
                }
            }
        }
        Ok(PackageVersion(value.to_owned()))
    }

    /// The version.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A vendor advisory id (`RHSA-2024:4420`, `FEDORA-2024-1a2b3c4d5e`,
/// `SUSE-SLE-Module-Basesystem-15-SP6-2024-1234`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdvisoryId(String);

impl AdvisoryId {
    /// Checks `value`: ASCII letters, digits, `:`, `.`, `_`, `-`, starting
    /// with a letter or digit, at most [`MAX_TOKEN_LEN`] bytes.
    ///
    /// # Errors
    /// [`InvalidInput`] naming the rule broken.
    pub fn parse(value: &str) -> Result<AdvisoryId, InvalidInput> {
        check_token(
            "advisory id",
            value,
            |c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-'),
            "A-Z, a-z, 0-9, ':', '.', '_', '-'",
        )?;
        Ok(AdvisoryId(value.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdvisoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One package operation, with validated names, versions and ids only.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Install `name` at exactly `version` (upgrading it when an older
    /// version is installed).
    Install {
        /// The package.
        name: PackageName,
        /// The exact target version.
        version: PackageVersion,
    },
    /// Install `name` at exactly `version`, allowing a downgrade (rollback
    /// to a recorded previous version).
    Downgrade {
        /// The package.
        name: PackageName,
        /// The exact version to restore.
        version: PackageVersion,
    },
    /// Remove `name` (rollback of a package a job installed fresh).
    Remove {
        /// The package.
        name: PackageName,
    },
    /// Apply every package update of a vendor advisory.
    Advisory {
        /// The advisory.
        id: AdvisoryId,
    },
}

impl Operation {
    /// The package the operation names, if any (none for an advisory).
    pub fn package(&self) -> Option<&PackageName> {
        match self {
            Operation::Install { name, .. }
            | Operation::Downgrade { name, .. }
            | Operation::Remove { name } => Some(name),
            Operation::Advisory { .. } => None,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Install { name, version } => write!(f, "install {name} {version}"),
            Operation::Downgrade { name, version } => write!(f, "downgrade {name} to {version}"),
            Operation::Remove { name } => write!(f, "remove {name}"),
            Operation::Advisory { id } => write!(f, "apply advisory {id}"),
        }
    }
}

/// The operations of one call, grouped by kind in their original order: a
/// backend runs one command per non-empty group.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Groups<'a> {
    /// `(name, version)` of every [`Operation::Install`].
    pub installs: Vec<(&'a PackageName, &'a PackageVersion)>,
    /// `(name, version)` of every [`Operation::Downgrade`].
    pub downgrades: Vec<(&'a PackageName, &'a PackageVersion)>,
    /// Every [`Operation::Remove`].
    pub removes: Vec<&'a PackageName>,
    /// Every [`Operation::Advisory`].
    pub advisories: Vec<&'a AdvisoryId>,
}

impl<'a> Groups<'a> {
    /// Groups `ops` by kind.
    pub fn of(ops: &'a [Operation]) -> Groups<'a> {
        let mut g = Groups::default();
        for op in ops {
            match op {
                Operation::Install { name, version } => g.installs.push((name, version)),
                Operation::Downgrade { name, version } => g.downgrades.push((name, version)),
                Operation::Remove { name } => g.removes.push(name),
                Operation::Advisory { id } => g.advisories.push(id),
            }
        }
        g
    }
}

/// Why a remediation has no operation on this backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The remediation is not something this package manager can apply (a
    /// scanner's solution text; an advisory on `apt`). Reported, never run.
    #[error("not applicable to the {manager} backend: {reason}")]
    NotApplicable {
        /// The backend's manager.
        manager: Manager,
        /// Why.
        reason: String,
    },
    /// A name, version or advisory id with characters the manager does not
    /// allow: refused before any command is built.
    #[error("refused: {0}")]
    Invalid(#[from] InvalidInput),
}

/// The operation that applies `remediation` with `manager`:
/// - a package → [`Operation::Install`] at exactly its fixed version;
/// - an advisory → [`Operation::Advisory`] where the manager supports
///   advisories ([`Manager::supports_advisories`]);
/// - a scanner's solution → never an operation: its text is not run.
///
/// # Errors
/// [`PlanError::NotApplicable`] for a solution, or an advisory on `apt`;
/// [`PlanError::Invalid`] when a name, version or id breaks the format's
/// rules (see [`PackageName::parse`], [`PackageVersion::parse`],
/// [`AdvisoryId::parse`]).
pub fn plan_remediation(
    manager: Manager,
    remediation: &Remediation,
) -> Result<Operation, PlanError> {
    match remediation {
        Remediation::Package {
            name,
            fixed_version,
        } => Ok(Operation::Install {
            name: PackageName::parse(manager.format(), name)?,
            version: PackageVersion::parse(manager.format(), fixed_version)?,
        }),
        Remediation::Advisory { id } if manager.supports_advisories() => Ok(Operation::Advisory {
            id: AdvisoryId::parse(id)?,
        }),
        Remediation::Advisory { id } => Err(PlanError::NotApplicable {
            manager,
            reason: format!(
                "advisory {id:?}: apt has no advisory operation; plan the advisory's fixed package versions instead"
            ),
        }),
        Remediation::Solution {
            scanner, check_id, ..
        } => Err(PlanError::NotApplicable {
            manager,
            reason: format!(
                "{scanner}:{check_id} is a scanner's solution text, a manual task; a package backend never runs it"
            ),
        }),
    }
}

/// What a package change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A package not installed before.
    Install,
    /// A newer version replaces the installed one.
    Upgrade,
    /// An older version replaces the installed one.
    Downgrade,
    /// The same version again.
    Reinstall,
    /// The package goes away.
    Remove,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChangeKind::Install => "install",
            ChangeKind::Upgrade => "upgrade",
            ChangeKind::Downgrade => "downgrade",
            ChangeKind::Reinstall => "reinstall",
            ChangeKind::Remove => "remove",
        })
    }
}

/// One package the manager's transaction changes, as its output says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Change {
    /// Package name, as printed (apt may add `:arch` for a foreign
    /// architecture).
    pub name: String,
    /// What happens to it.
    pub kind: ChangeKind,
    /// The version it will have; `None` for a removal.
    pub version: Option<String>,
    /// The version it had, when the output says so (apt, zypper, dnf5, and
    /// every removal).
    pub from: Option<String>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)?;
        match (&self.from, &self.version) {
            (Some(from), Some(to)) => write!(f, " {from} -> {to}"),
            (None, Some(to)) => write!(f, " {to}"),
            (Some(from), None) => write!(f, " {from}"),
            (None, None) => Ok(()),
        }
    }
}

/// The package changes a simulation announced, in output order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The changes; empty when there is nothing to do.
    pub changes: Vec<Change>,
}

impl Transaction {
    /// The changes on one line: `upgrade bash 5.2.15-2+b8 -> 5.2.15-2+b13;
    /// install libfoo 1.0`, or `nothing to do`.
    pub fn summary(&self) -> String {
        if self.changes.is_empty() {
            return "nothing to do".to_owned();
        }
        self.changes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The outcome of [`PackageBackend::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The manager itself said a reboot is required (zypper exit 102).
    /// `false` says nothing: ask [`PackageBackend::reboot_required`].
    pub reboot_hint: bool,
    /// The last lines of the manager's output, and any warning its exit
    /// code carries.
    pub detail: String,
}

/// Whether the host needs a reboot to run what was installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebootCheck {
    /// A reboot is required.
    pub required: bool,
    /// What the check said (the manager's words, or the flag file read).
    pub detail: String,
}

/// A command that could not be run, or whose result is a failure.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The program could not be started (not installed, not executable).
    #[error("start {command}: {source}")]
    Spawn {
        /// The command line, for humans.
        command: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The command ran longer than the runner's timeout and was killed.
    #[error("{command} did not finish within {seconds} s and was killed")]
    Timeout {
        /// The command line, for humans.
        command: String,
        /// The timeout, in seconds.
        seconds: u64,
    },
    /// The command exited with a code that means failure.
    #[error("{command} failed ({}): {detail}", exit_text(*.code))]
    Failed {
        /// The command line, for humans.
        command: String,
        /// Its exit code; `None` when a signal ended it.
        code: Option<i32>,
        /// What it said (the last lines of stderr, else stdout), or what the
        /// exit code means.
        detail: String,
    },
    /// The command's output is not what this manager prints.
    #[error("{command}: unexpected output: {reason}")]
    Parse {
        /// The command line, for humans.
        command: String,
        /// What was unexpected.
        reason: String,
    },
    /// A file the check reads could not be read.
    #[error("read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The operation has no command on this manager.
    #[error("{manager} cannot {operation}")]
    Unsupported {
        /// The manager.
        manager: Manager,
        /// The operation.
        operation: String,
    },
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit {c}"),
        None => "killed by a signal".to_owned(),
    }
}

/// A program and its arguments, run without a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The program, looked up on `PATH` (`apt-get`, `rpm`, …).
    pub program: String,
    /// The arguments, each passed as one argv element.
    pub args: Vec<String>,
    /// Environment variables set for the command (on top of the agent's).
    pub env: Vec<(String, String)>,
}

impl Command {
    /// `program` with no arguments and `LC_ALL=C`.
    pub fn new(program: &str) -> Command {
        Command {
            program: program.to_owned(),
            args: Vec::new(),
            env: vec![("LC_ALL".to_owned(), "C".to_owned())],
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Command {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Command {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The argv (program first), as a `Vec<&str>` for comparisons.
    pub fn argv(&self) -> Vec<&str> {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect()
    }
}

impl fmt::Display for Command {
    /// The argv joined by spaces: for logs and messages only, never run.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.argv().join(" "))
    }
}

/// What a finished command printed and returned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// Exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Standard output (lossy UTF-8).
    pub stdout: String,
    /// Standard error (lossy UTF-8).
    pub stderr: String,
}

impl Output {
    /// An output with `code`, `stdout` and `stderr` (for tests and replays).
    pub fn new(code: i32, stdout: &str, stderr: &str) -> Output {
        Output {
            code: Some(code),
            stdout: stdout.to_owned(),
            stderr: stderr.to_owned(),
        }
    }

    /// The last lines worth showing: stderr's when it has any, else
    /// stdout's (see [`tail`]).
    pub fn tail(&self) -> String {
        let err = tail(&self.stderr);
        if err.is_empty() {
            tail(&self.stdout)
        } else {
            err
        }
    }

    /// The failure error for `command` with this output.
    pub fn failed(&self, command: &Command) -> BackendError {
        BackendError::Failed {
            command: command.to_string(),
            code: self.code,
            detail: self.tail(),
        }
    }
}

/// The last 8 non-empty lines of `text`, trimmed, joined by `\n`, at most
/// 2000 bytes (cut at a character boundary, the end kept).
pub fn tail(text: &str) -> String {
    const LINES: usize = 8;
    const BYTES: usize = 2000;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    let start = lines.len().saturating_sub(LINES);
    let joined = lines.get(start..).unwrap_or_default().join("\n");
    if joined.len() <= BYTES {
        return joined;
    }
    let mut cut = joined.len() - BYTES;
    while !joined.is_char_boundary(cut) {
        cut += 1;
    }
    joined.get(cut..).unwrap_or_default().to_owned()
}

/// Runs commands. [`SystemRunner`] runs them for real; tests replay
/// recorded outputs.
pub trait Runner: Send + Sync + fmt::Debug {
    /// Runs `command` to the end and returns what it printed and returned.
    /// A non-zero exit is an [`Output`], not an error: backends interpret
    /// exit codes.
    ///
    /// # Errors
    /// [`BackendError::Spawn`] when it cannot start,
    /// [`BackendError::Timeout`] when it was killed for running too long.
    fn run(&self, command: &Command) -> Result<Output, BackendError>;
}

/// Runs commands as child processes: no shell, stdin from `/dev/null`,
/// stdout and stderr captured, killed after a timeout.
#[derive(Debug, Clone, Copy)]
pub struct SystemRunner {
    /// How long a command may run.
    pub timeout: Duration,
}

impl SystemRunner {
    /// A runner with [`DEFAULT_COMMAND_TIMEOUT`].
    pub fn new() -> SystemRunner {
        SystemRunner {
            timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }
}

impl Default for SystemRunner {
    fn default() -> Self {
        SystemRunner::new()
    }
}

fn read_all(mut pipe: impl Read) -> String {
    let mut bytes = Vec::new();
    // A read error ends the capture; what was read is kept.
    let _ = pipe.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Runner for SystemRunner {
    fn run(&self, command: &Command) -> Result<Output, BackendError> {
        let shown = command.to_string();
        let mut child = std::process::Command::new(&command.program)
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BackendError::Spawn {
                command: shown.clone(),
                source,
            })?;
        let stdout = child
            .stdout
            .take()
            .map(|p| std::thread::spawn(move || read_all(p)));
        let stderr = child
            .stderr
            .take()
            .map(|p| std::thread::spawn(move || read_all(p)));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Err(BackendError::Timeout {
                        command: shown.clone(),
                        seconds: self.timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(source) => {
                    let _ = child.kill();
                    break Err(BackendError::Spawn {
                        command: shown.clone(),
                        source,
                    });
                }
            }
        };
        let join = |h: Option<std::thread::JoinHandle<String>>| {
            h.and_then(|h| h.join().ok()).unwrap_or_default()
        };
        let (stdout, stderr) = (join(stdout), join(stderr));
        let status = status?;
        Ok(Output {
            code: status.code(),
            stdout,
            stderr,
        })
    }
}

/// A shared runner.
pub type SharedRunner = Arc<dyn Runner>;

/// The interface between job handling and one package manager.
///
/// Implementations: [`crate::apt::Apt`], [`crate::rpm::Dnf`] (also `yum`),
/// [`crate::zypper::Zypper`]. Every method but [`PackageBackend::plan`] runs
/// commands through a [`Runner`]; none runs a shell or any text from a job.
/// Methods are blocking (call them from a blocking task).
///
/// A job on a real host goes: [`plan`](PackageBackend::plan) each
/// remediation → [`installed`](PackageBackend::installed) (versions before)
/// → [`simulate`](PackageBackend::simulate) (the only step of a dry run) →
/// [`apply`](PackageBackend::apply) → [`installed`](PackageBackend::installed)
/// (read back) → [`reboot_required`](PackageBackend::reboot_required).
pub trait PackageBackend: Send + Sync + fmt::Debug {
    /// The package manager behind this backend (its naming rules, version
    /// order and advisory support).
    fn manager(&self) -> Manager;

    /// The operation that applies `remediation` on this backend, validated
    /// (see [`plan_remediation`]). Pure: runs nothing.
    ///
    /// # Errors
    /// [`PlanError`]: not applicable here, or an invalid name/version/id.
    fn plan(&self, remediation: &Remediation) -> Result<Operation, PlanError> {
        plan_remediation(self.manager(), remediation)
    }

    /// Resolves `ops` with the manager's own simulation and returns the
    /// package changes it announces. Changes nothing on the host. Each group
    /// of [`Groups`] is simulated on its own (the changes are listed in
    /// group order: installs, downgrades, removals, advisories).
    ///
    /// # Errors
    /// [`BackendError::Failed`] when the manager cannot resolve them (an
    /// unknown version, a conflict), with its message; the other
    /// [`BackendError`]s when the command cannot be run or read.
    fn simulate(&self, ops: &[Operation]) -> Result<Transaction, BackendError>;

    /// Applies `ops`, one command per [`Groups`] group, stopping at the
    /// first failure (earlier groups stay applied: the caller reads
    /// versions back and restores them).
    ///
    /// # Errors
    /// [`BackendError::Failed`] with the manager's message when a command
    /// fails; the other [`BackendError`]s when one cannot be run.
    fn apply(&self, ops: &[Operation]) -> Result<Applied, BackendError>;

    /// The installed version of each of `names` (name → version; `None`
    /// when not installed). Every name asked is a key of the result. When
    /// several versions are installed (RPM install-only packages such as
    /// `kernel`), the newest.
    ///
    /// # Errors
    /// [`BackendError`] when the query cannot be run or its output read.
    fn installed(
        &self,
        names: &[PackageName],
    ) -> Result<BTreeMap<String, Option<String>>, BackendError>;

    /// Whether the host needs a reboot to run what is installed
    /// (`/var/run/reboot-required`, `needs-restarting -r`,
    /// `zypper needs-rebooting`).
    ///
    /// # Errors
    /// [`BackendError`] when the check cannot be run or gives an exit code
    /// that means neither "required" nor "not required".
    fn reboot_required(&self) -> Result<RebootCheck, BackendError>;
}

/// Runs `command` with `runner` and returns its output when the exit code is
/// 0, else [`BackendError::Failed`].
///
/// # Errors
/// [`BackendError`] from the runner, or [`BackendError::Failed`].
pub fn run_ok(runner: &dyn Runner, command: &Command) -> Result<Output, BackendError> {
    let out = runner.run(command)?;
    if out.code == Some(0) {
        Ok(out)
    } else {
        Err(out.failed(command))
    }
}

/// Runs `commands` in order with [`run_ok`], stopping at the first that
/// fails. The [`Applied`] detail is the [`tail`] of the last command's
/// stdout; there is no reboot hint (for managers whose exit code gives
/// none: apt, dnf, yum).
///
/// # Errors
/// The first [`BackendError`] of [`run_ok`].
pub fn run_all(
    runner: &dyn Runner,
    commands: impl IntoIterator<Item = Command>,
) -> Result<Applied, BackendError> {
    let mut detail = String::new();
    for command in commands {
        let out = run_ok(runner, &command)?;
        detail = tail(&out.stdout);
    }
    Ok(Applied {
        reboot_hint: false,
        detail,
    })
}

/// `name=version` arguments for version-pinned packages, the spelling of
/// apt-get and zypper (`apt-get install openssl=3.0.13-1~deb12u1`).
pub fn pinned(pairs: &[(&PackageName, &PackageVersion)]) -> Vec<String> {
    pairs.iter().map(|(n, v)| format!("{n}={v}")).collect()
}

#[cfg(test)]
pub(crate) mod testing {
    //! A [`Runner`] that replays recorded outputs and records the commands.

    use std::collections::VecDeque;
    use std::sync::Mutex;

    use super::*;

    /// Replays `(expected argv, output)` pairs in order; panics on any other
    /// command, so a test also pins every argv.
    #[derive(Debug, Default)]
    pub struct Replay {
        script: Mutex<VecDeque<(Vec<String>, Output)>>,
        /// Every command run, in order.
        pub ran: Mutex<Vec<Command>>,
    }

    impl Replay {
        pub fn new(script: Vec<(Vec<&str>, Output)>) -> Arc<Replay> {
            Arc::new(Replay {
                script: Mutex::new(
                    script
                        .into_iter()
                        .map(|(argv, out)| (argv.into_iter().map(str::to_owned).collect(), out))
                        .collect(),
                ),
                ran: Mutex::new(Vec::new()),
            })
        }

        pub fn finished(&self) -> bool {
            self.script.lock().unwrap().is_empty()
        }
    }

    impl Runner for Replay {
        fn run(&self, command: &Command) -> Result<Output, BackendError> {
            self.ran.lock().unwrap().push(command.clone());
            let (argv, out) = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| panic!("unexpected command {command}"));
            assert_eq!(command.argv(), argv, "command run");
            Ok(out)
        }
    }

    /// A [`Change`] of package `n`: `kind`, from version `from` to `to`.
    pub fn change(n: &str, kind: ChangeKind, from: Option<&str>, to: Option<&str>) -> Change {
        Change {
            name: n.into(),
            kind,
            version: to.map(Into::into),
            from: from.map(Into::into),
        }
    }

    /// Valid Debian names and versions (panics on invalid test input).
    pub mod deb {
        use super::super::{PackageFormat, PackageName, PackageVersion};

        pub fn name(n: &str) -> PackageName {
            PackageName::parse(PackageFormat::Deb, n).unwrap()
        }

        pub fn version(v: &str) -> PackageVersion {
            PackageVersion::parse(PackageFormat::Deb, v).unwrap()
        }
    }

    /// Valid RPM names and versions (panics on invalid test input).
    pub mod rpm {
        use super::super::{PackageFormat, PackageName, PackageVersion};

        pub fn name(n: &str) -> PackageName {
            PackageName::parse(PackageFormat::Rpm, n).unwrap()
        }

        pub fn version(v: &str) -> PackageVersion {
            PackageVersion::parse(PackageFormat::Rpm, v).unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(format: PackageFormat, v: &str) -> Result<(), String> {
        PackageName::parse(format, v)
            .map(|_| ())
            .map_err(|e| e.reason)
    }

    fn version(format: PackageFormat, v: &str) -> Result<(), String> {
        PackageVersion::parse(format, v)
            .map(|_| ())
            .map_err(|e| e.reason)
    }

    /// Names: accepted ones, and every way to smuggle an option, a second
    /// argument, a version or a shell construct is refused.
    #[test]
    fn names_accept_the_format_rules_and_refuse_everything_else() {
        use PackageFormat::{Deb, Rpm};
        let cases: &[(PackageFormat, &str, bool)] = &[
            (Deb, "openssl", true),
            (Deb, "libssl3", true),
            (Deb, "g++", true),
            (Deb, "libc6.1-dev", true),
            (Deb, "a", false),
            (Deb, "LibFoo", false),
            (Deb, "libc6:amd64", false),
            (Rpm, "kernel-default", true),
            (Rpm, "libstdc++", true),
            (Rpm, "NetworkManager", true),
            (Rpm, "python3.11_x", true),
            (Rpm, "perl(Foo)", false),
            (Rpm, "kernel.x86_64", true),
        ];
        for &(format, v, ok) in cases {
            assert_eq!(
                name(format, v).is_ok(),
                ok,
                "{format} {v:?}: {:?}",
                name(format, v)
            );
        }
        let hostile = [
            "",
            "-oAPT::Update::Pre-Invoke::=reboot",
            "--allow-unauthenticated",
            "openssl;reboot",
            "openssl && reboot",
            "$(reboot)",
            "`reboot`",
            "openssl reboot",
            "openssl\nreboot",
            "openssl=1.0",
            "openssl>1.0",
            "../../etc/passwd",
            "оpenssl", // Cyrillic о
            "openssl\u{0}",
            "*",
            "pkg|sh",
        ];
        for format in [Deb, Rpm] {
            for v in hostile {
                assert!(name(format, v).is_err(), "{format} name {v:?} accepted");
            }
        }
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(
            name(Rpm, &long),
            Err(format!("longer than {MAX_TOKEN_LEN} bytes"))
        );
        assert_eq!(
            name(Deb, "-x"),
            Err("must start with an ASCII letter or digit".into())
        );
        assert_eq!(
            name(Deb, "a b"),
            Err(
                "character ' ' is not allowed (Debian Policy 5.6.1: a-z, 0-9, '+', '-', '.')"
                    .into()
            )
        );
    }

    #[test]
    fn versions_accept_the_format_rules_and_refuse_everything_else() {
        use PackageFormat::{Deb, Rpm};
        let cases: &[(PackageFormat, &str, Result<(), &str>)] = &[
            (Deb, "3.0.13-1~deb12u1", Ok(())),
            (Deb, "1:1.2.13.dfsg-1", Ok(())),
            (Deb, "5.2.15-2+b8", Ok(())),
            (Deb, "2:4.4.5+dfsg-2ubuntu5.4", Ok(())),
            (Deb, "1.0-1-2", Ok(())),
            (Deb, "1.0", Ok(())),
            (Deb, "1.0-", Err("the revision after '-' is empty")),
            (
                Deb,
                "a:1.0",
                Err("the epoch before ':' must be decimal digits"),
            ),
            (Deb, ":1.0", Err("must start with an ASCII letter or digit")),
            (
                Deb,
                "1:",
                Err("the version after the epoch must start with a letter or digit"),
            ),
            (Deb, "1:2:3", Err("at most one ':' (after the epoch)")),
            (
                Deb,
                "1.0_1",
                Err("character '_' is not allowed (Debian Policy 5.6.12)"),
            ),
            (Rpm, "5.14.0-503.40.1.el9_5", Ok(())),
            (Rpm, "6.4.0-150600.23.33.1", Ok(())),
            (Rpm, "1:3.2.4-1.fc41", Ok(())),
            (Rpm, "2.0^20210101git-1", Ok(())),
            (Rpm, "1.0~rc1", Ok(())),
            (
                Rpm,
                "1.0-1-2",
                Err("at most one '-' (between version and release)"),
            ),
            (Rpm, "1.0-", Err("version and release must not be empty")),
            (
                Rpm,
                "0:",
                Err("the version after the epoch must start with a letter or digit"),
            ),
        ];
        for &(format, v, want) in cases {
            assert_eq!(
                version(format, v),
                want.map_err(str::to_owned),
                "{format} {v:?}"
            );
        }
        let hostile = [
            "",
            "-1.0",
            "--force-yes",
            "1.0 --allow-downgrades",
            "1.0;reboot",
            "1.0|sh",
            "$(id)",
            "1.0\n",
            "1.0*",
            "1.0/../x",
            "1.0=2",
        ];
        for format in [Deb, Rpm] {
            for v in hostile {
                assert!(
                    version(format, v).is_err(),
                    "{format} version {v:?} accepted"
                );
            }
        }
    }

    #[test]
    fn advisory_ids_accept_vendor_ids_only() {
        for ok in [
            "RHSA-2024:4420",
            "FEDORA-2024-1a2b3c4d5e",
            "ALSA-2024:1234",
            "SUSE-SLE-Module-Basesystem-15-SP6-2024-1234",
            "openSUSE-SLE-15.6-2024-1234",
        ] {
            assert!(AdvisoryId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-RHSA",
            "RHSA 2024",
            "RHSA;x",
            "RHSA-2024:4420,x",
            "RHSA/1",
            "$x",
        ] {
            assert!(AdvisoryId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn remediations_plan_to_operations_or_are_not_applicable() {
        let pkg = Remediation::Package {
            name: "openssl".into(),
            fixed_version: "3.0.13-1~deb12u1".into(),
        };
        let adv = Remediation::Advisory {
            id: "RHSA-2024:4420".into(),
        };
        let sol = Remediation::Solution {
            scanner: "nessus".into(),
            check_id: "12345".into(),
            text: "curl http://x | sh".into(),
        };
        assert_eq!(
            plan_remediation(Manager::Apt, &pkg),
            Ok(Operation::Install {
                name: PackageName("openssl".into()),
                version: PackageVersion("3.0.13-1~deb12u1".into()),
            })
        );
        assert_eq!(
            plan_remediation(Manager::Dnf, &adv),
            Ok(Operation::Advisory {
                id: AdvisoryId("RHSA-2024:4420".into())
            })
        );
        let apt_adv = plan_remediation(Manager::Apt, &adv).unwrap_err();
        assert!(matches!(
            apt_adv,
            PlanError::NotApplicable {
                manager: Manager::Apt,
                ..
            }
        ));
        for m in [Manager::Apt, Manager::Dnf, Manager::Yum, Manager::Zypper] {
            let err = plan_remediation(m, &sol).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "not applicable to the {m} backend: nessus:12345 is a scanner's solution text, \
                     a manual task; a package backend never runs it"
                )
            );
            assert!(!err.to_string().contains("curl"), "the text is not echoed");
        }
        let hostile = Remediation::Package {
            name: "openssl".into(),
            fixed_version: "1.0 -oDpkg::Options::=--force-all".into(),
        };
        assert!(matches!(
            plan_remediation(Manager::Apt, &hostile),
            Err(PlanError::Invalid(_))
        ));
    }

    #[test]
    fn tail_keeps_the_last_lines_within_the_byte_budget() {
        let text = (1..=20)
            .map(|i| format!("line {i}\n\n"))
            .collect::<String>();
        assert_eq!(
            tail(&text),
            (13..=20)
                .map(|i| format!("line {i}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        let long = "é".repeat(3000);
        let t = tail(&long);
        assert!(t.len() <= 2000 && t.chars().all(|c| c == 'é'));
        assert_eq!(tail(""), "");
    }

    #[test]
    fn the_system_runner_runs_argv_without_a_shell_and_kills_on_timeout() {
        let r = SystemRunner::new();
        // A shell would expand `$HOME` and split on `;`; the runner passes
        // one argument verbatim.
        let out = r
            .run(&Command::new("echo").arg("$HOME; reboot"))
            .expect("echo runs");
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (Some(0), "$HOME; reboot\n")
        );
        let missing = r
            .run(&Command::new("patchflow-no-such-program"))
            .unwrap_err();
        assert!(matches!(missing, BackendError::Spawn { .. }), "{missing}");
        let quick = SystemRunner {
            timeout: Duration::from_millis(200),
        };
        let err = quick.run(&Command::new("sleep").arg("5")).unwrap_err();
        assert!(matches!(err, BackendError::Timeout { .. }), "{err}");
    }
}
