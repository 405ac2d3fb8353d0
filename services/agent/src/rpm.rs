//! The `dnf` and `yum` backends (RHEL family) and the `rpm` version query
//! that `zypper` shares.
//!
//! | step | dnf (4 and 5) | yum (RHEL 7) |
//! |---|---|---|
//! | simulate | `dnf --assumeno install name-version …` | `yum --assumeno install …` |
//! | apply | `dnf -y install name-version …` | `yum -y install …` |
//! | rollback | `dnf -y downgrade name-version`, `dnf -y remove name` | same with `yum` |
//! | advisory | `dnf -y upgrade --advisories=ID` | `yum -y update --advisory=ID` |
//! | installed versions | `rpm -q --qf '%{NAME}\t%\|EPOCH?{%{EPOCH}:}:{}\|%{VERSION}-%{RELEASE}\n' name …` | same |
//! | reboot required | `dnf needs-restarting -r` | `needs-restarting -r` |
//!
//! `--assumeno` resolves the transaction, prints its table and answers "no":
//! dnf 4 prints `Operation aborted.`, dnf 5 `Operation aborted by the user.`,
//! yum `Exiting on user command`, all with exit 1; with nothing to do they
//! exit 0. Any other exit 1 (`No match for argument`, a conflict) is a
//! failed simulation.
//!
//! `needs-restarting -r` exits 1 when a reboot is required (dnf-plugins-core
//! and yum-utils; OC-16): that is an answer, not a failure. Because `dnf`
//! also exits 1 when the plugin is missing (`No such command`), exit 1
//! counts as "required" only together with the tool's own words.

use std::collections::BTreeMap;

use crate::backend::{
    Applied, BackendError, Change, ChangeKind, Command, Groups, Manager, Operation, Output,
    PackageBackend, PackageName, RebootCheck, SharedRunner, Transaction, run_all, tail,
};

/// The `rpm -q` query format: name, a tab, `[epoch:]version-release` (the
/// epoch only when the package has one), a newline.
pub const RPM_QUERY_FORMAT: &str = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n";

/// The `rpm -q` command for `names` (see [`RPM_QUERY_FORMAT`]).
pub fn rpm_query_command(names: &[PackageName]) -> Command {
    Command::new("rpm")
        .args(["-q", "--qf", RPM_QUERY_FORMAT])
        .args(names.iter().map(ToString::to_string))
}

/// Reads `rpm -q` output (see [`rpm_query_command`]): every name asked is a
/// key; `package NAME is not installed` (rpm's message, on stdout, one per
/// missing name; the exit code counts them) gives `None`; several lines of
/// one name (install-only packages such as `kernel`) keep the newest by
/// rpm's order.
///
/// # Errors
/// A reason when a line is neither shape, or the exit code is non-zero
/// while no package was reported missing.
pub fn parse_rpm_query(
    names: &[PackageName],
    out: &Output,
) -> Result<BTreeMap<String, Option<String>>, String> {
    let mut found: BTreeMap<String, Option<String>> =
        names.iter().map(|n| (n.to_string(), None)).collect();
    let mut missing = 0usize;
    for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(name) = line
            .strip_prefix("package ")
            .and_then(|r| r.strip_suffix(" is not installed"))
        {
            found.entry(name.to_owned()).or_insert(None);
            missing += 1;
            continue;
        }
        let Some((name, version)) = line.split_once('\t') else {
            return Err(format!("cannot read {line:?}"));
        };
        if name.is_empty() || version.is_empty() || version.contains('\t') {
            return Err(format!("cannot read {line:?}"));
        }
        let slot = found.entry(name.to_owned()).or_insert(None);
        let newer = match slot.as_deref() {
            None => true,
            Some(old) => feeds::Scheme::Rpm
                .compare(version, old)
                .is_ok_and(|o| o.is_gt()),
        };
        if newer {
            *slot = Some(version.to_owned());
        }
    }
    if out.code != Some(0) && missing == 0 {
        return Err(format!("exit {:?}: {}", out.code, out.tail()));
    }
    Ok(found)
}

/// Runs the `rpm -q` query for `names` with `runner`.
///
/// # Errors
/// [`BackendError`] when rpm cannot be run or its output read.
pub fn rpm_installed(
    runner: &dyn crate::backend::Runner,
    names: &[PackageName],
) -> Result<BTreeMap<String, Option<String>>, BackendError> {
    if names.is_empty() {
        return Ok(BTreeMap::new());
    }
    let command = rpm_query_command(names);
    let out = runner.run(&command)?;
    parse_rpm_query(names, &out).map_err(|reason| BackendError::Parse {
        command: command.to_string(),
        reason,
    })
}

/// The `dnf` or `yum` backend.
#[derive(Debug, Clone)]
pub struct Dnf {
    runner: SharedRunner,
    manager: Manager,
}

impl Dnf {
    /// The `dnf` backend (dnf 4 or 5).
    pub fn new(runner: SharedRunner) -> Dnf {
        Dnf {
            runner,
            manager: Manager::Dnf,
        }
    }

    /// The `yum` backend (RHEL/CentOS 7).
    pub fn yum(runner: SharedRunner) -> Dnf {
        Dnf {
            runner,
            manager: Manager::Yum,
        }
    }

    fn program(&self) -> &'static str {
        match self.manager {
            Manager::Yum => "yum",
            _ => "dnf",
        }
    }

    /// The commands for `ops` on this manager, one per non-empty group;
    /// `simulate` puts `--assumeno` where a real run has `-y`.
    pub fn commands(&self, ops: &[Operation], simulate: bool) -> Vec<Command> {
        let g = Groups::of(ops);
        let answer = if simulate { "--assumeno" } else { "-y" };
        let base = || Command::new(self.program()).arg(answer);
        let nevr = |pairs: &[(&PackageName, &crate::backend::PackageVersion)]| {
            pairs
                .iter()
                .map(|(n, v)| format!("{n}-{v}"))
                .collect::<Vec<_>>()
        };
        let mut out = Vec::new();
        if !g.installs.is_empty() {
            out.push(base().arg("install").args(nevr(&g.installs)));
        }
        if !g.downgrades.is_empty() {
            out.push(base().arg("downgrade").args(nevr(&g.downgrades)));
        }
        if !g.removes.is_empty() {
            out.push(
                base()
                    .arg("remove")
                    .args(g.removes.iter().map(ToString::to_string)),
            );
        }
        if !g.advisories.is_empty() {
            let (verb, flag) = match self.manager {
                Manager::Yum => ("update", "--advisory="),
                _ => ("upgrade", "--advisories="),
            };
            out.push(
                base()
                    .arg(verb)
                    .args(g.advisories.iter().map(|id| format!("{flag}{id}"))),
            );
        }
        out
    }

    /// The reboot check of this manager.
    pub fn reboot_command(&self) -> Command {
        match self.manager {
            Manager::Yum => Command::new("needs-restarting").arg("-r"),
            _ => Command::new("dnf").args(["needs-restarting", "-r"]),
        }
    }
}

/// The kind of the rows under a transaction-table section header (dnf 4,
/// dnf 5, yum 3), or `None` for sections that list no package change.
fn section_kind(header: &str) -> Option<ChangeKind> {
    match header {
        "Installing"
        | "Installing dependencies"
        | "Installing weak dependencies"
        | "Installing for dependencies" => Some(ChangeKind::Install),
        "Upgrading" | "Upgrading dependencies" | "Updating" | "Updating for dependencies" => {
            Some(ChangeKind::Upgrade)
        }
        "Downgrading" | "Downgrading dependencies" => Some(ChangeKind::Downgrade),
        "Reinstalling" => Some(ChangeKind::Reinstall),
        "Removing"
        | "Removing dependent packages"
        | "Removing unused dependencies"
        | "Removing for dependencies"
        | "Erasing" => Some(ChangeKind::Remove),
        _ => None,
    }
}

/// Reads the transaction table dnf 4, dnf 5 and yum 3 print before their
/// prompt: section headers (`Installing:`, `Upgrading:`, yum's `Updating:`,
/// `Removing:`, …) and rows `name arch version repository size`. A name too
/// long for its column stands alone on its line (dnf 4) and the row goes on
/// on the next; dnf 5's `replacing name arch version …` rows give the
/// version an upgrade replaces. The table ends at `Transaction Summary`.
/// "Nothing to do." gives no changes.
///
/// # Errors
/// A reason naming the line when a row inside a package section has fewer
/// than four columns.
pub fn parse_transaction(stdout: &str) -> Result<Transaction, String> {
    let mut changes: Vec<Change> = Vec::new();
    let mut section: Option<ChangeKind> = None;
    let mut wrapped: Option<String> = None;
    for raw in stdout.lines() {
        let line = raw.trim_end();
        if line.starts_with("Transaction Summary") {
            break;
        }
        if line.trim().is_empty() {
            wrapped = None;
            continue;
        }
        if !line.starts_with(' ') {
            if let Some(header) = line.strip_suffix(':') {
                section = section_kind(header);
                wrapped = None;
            }
            continue;
        }
        let Some(kind) = section else { continue };
        let mut cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first() == Some(&"replacing") {
            // dnf 5: `replacing name arch version repo size`; dnf 4:
            // `replacing  name.arch version`.
            let (name, version) = match cols.as_slice() {
                [_, name, _arch, version, ..] => ((*name).to_owned(), *version),
                [_, name_arch, version] => (
                    name_arch
                        .rsplit_once('.')
                        .map_or(*name_arch, |(n, _)| n)
                        .to_owned(),
                    *version,
                ),
                _ => return Err(format!("cannot read {line:?}")),
            };
            if let Some(last) = changes.last_mut().filter(|c| c.name == name) {
                last.from = Some(version.to_owned());
            }
            continue;
        }
        if cols.len() == 1 {
            wrapped = cols.first().map(|s| (*s).to_owned());
            continue;
        }
        let held = wrapped.take();
        if let Some(name) = held.as_deref() {
            cols.insert(0, name);
        }
        let [name, _arch, version, _repo, ..] = cols.as_slice() else {
            return Err(format!("cannot read {line:?}: fewer than four columns"));
        };
        let (version, from) = if kind == ChangeKind::Remove {
            (None, Some((*version).to_owned()))
        } else {
            (Some((*version).to_owned()), None)
        };
        changes.push(Change {
            name: (*name).to_owned(),
            kind,
            version,
            from,
        });
    }
    Ok(Transaction { changes })
}

/// What `--assumeno` prints when it declined a resolved transaction: dnf 4
/// `Operation aborted.`, dnf 5 `Operation aborted by the user.`, yum
/// `Exiting on user command`.
pub const DECLINED: [&str; 2] = ["Operation aborted", "Exiting on user command"];

/// Interprets a `--assumeno` run: exit 0 (nothing to do), or exit 1 with
/// the "declined" words of [`DECLINED`], is a successful simulation whose
/// table is parsed; anything else failed.
///
/// # Errors
/// [`BackendError::Failed`] with the manager's message, or
/// [`BackendError::Parse`] for an unreadable table.
pub fn interpret_simulation(command: &Command, out: &Output) -> Result<Transaction, BackendError> {
    let declined = out.code == Some(1)
        && DECLINED
            .iter()
            .any(|w| out.stdout.contains(w) || out.stderr.contains(w));
    if out.code != Some(0) && !declined {
        return Err(out.failed(command));
    }
    parse_transaction(&out.stdout).map_err(|reason| BackendError::Parse {
        command: command.to_string(),
        reason,
    })
}

/// Interprets `needs-restarting -r`: exit 0 → no reboot; exit 1 with the
/// tool's words ("Reboot is required", "Core libraries or services have
/// been updated") → reboot required; anything else is an error (the plugin
/// missing, a crash).
///
/// # Errors
/// [`BackendError::Failed`] with what the command said.
pub fn interpret_needs_restarting(
    command: &Command,
    out: &Output,
) -> Result<RebootCheck, BackendError> {
    let said = tail(&out.stdout);
    match out.code {
        Some(0) => Ok(RebootCheck {
            required: false,
            detail: said,
        }),
        Some(1)
            if out.stdout.contains("Reboot is required")
                || out
                    .stdout
                    .contains("Core libraries or services have been updated") =>
        {
            Ok(RebootCheck {
                required: true,
                detail: said,
            })
        }
        _ => Err(out.failed(command)),
    }
}

impl PackageBackend for Dnf {
    fn manager(&self) -> Manager {
        self.manager
    }

    fn simulate(&self, ops: &[Operation]) -> Result<Transaction, BackendError> {
        let mut all = Transaction::default();
        for command in self.commands(ops, true) {
            let out = self.runner.run(&command)?;
            all.changes
                .extend(interpret_simulation(&command, &out)?.changes);
        }
        Ok(all)
    }

    fn apply(&self, ops: &[Operation]) -> Result<Applied, BackendError> {
        run_all(self.runner.as_ref(), self.commands(ops, false))
    }

    fn installed(
        &self,
        names: &[PackageName],
    ) -> Result<BTreeMap<String, Option<String>>, BackendError> {
        rpm_installed(self.runner.as_ref(), names)
    }

    fn reboot_required(&self) -> Result<RebootCheck, BackendError> {
        let command = self.reboot_command();
        let out = self.runner.run(&command)?;
        interpret_needs_restarting(&command, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::AdvisoryId;
    use crate::backend::testing::rpm::{name, version};
    use crate::backend::testing::{Replay, change};

    fn ops() -> Vec<Operation> {
        vec![
            Operation::Install {
                name: name("kernel"),
                version: version("5.14.0-503.40.1.el9_5"),
            },
            Operation::Downgrade {
                name: name("openssl-libs"),
                version: version("1:3.0.7-27.el9"),
            },
            Operation::Remove {
                name: name("libfoo"),
            },
            Operation::Advisory {
                id: AdvisoryId::parse("RHSA-2024:4420").unwrap(),
            },
        ]
    }

    #[test]
    fn commands_per_manager_and_mode() {
        let runner = Replay::new(vec![]);
        let cases: &[(Dnf, bool, Vec<Vec<&str>>)] = &[
            (
                Dnf::new(runner.clone()),
                false,
                vec![
                    vec!["dnf", "-y", "install", "kernel-5.14.0-503.40.1.el9_5"],
                    vec!["dnf", "-y", "downgrade", "openssl-libs-1:3.0.7-27.el9"],
                    vec!["dnf", "-y", "remove", "libfoo"],
                    vec!["dnf", "-y", "upgrade", "--advisories=RHSA-2024:4420"],
                ],
            ),
            (
                Dnf::new(runner.clone()),
                true,
                vec![
                    vec![
                        "dnf",
                        "--assumeno",
                        "install",
                        "kernel-5.14.0-503.40.1.el9_5",
                    ],
                    vec![
                        "dnf",
                        "--assumeno",
                        "downgrade",
                        "openssl-libs-1:3.0.7-27.el9",
                    ],
                    vec!["dnf", "--assumeno", "remove", "libfoo"],
                    vec![
                        "dnf",
                        "--assumeno",
                        "upgrade",
                        "--advisories=RHSA-2024:4420",
                    ],
                ],
            ),
            (
                Dnf::yum(runner.clone()),
                true,
                vec![
                    vec![
                        "yum",
                        "--assumeno",
                        "install",
                        "kernel-5.14.0-503.40.1.el9_5",
                    ],
                    vec![
                        "yum",
                        "--assumeno",
                        "downgrade",
                        "openssl-libs-1:3.0.7-27.el9",
                    ],
                    vec!["yum", "--assumeno", "remove", "libfoo"],
                    vec!["yum", "--assumeno", "update", "--advisory=RHSA-2024:4420"],
                ],
            ),
        ];
        for (backend, simulate, want) in cases {
            let commands = backend.commands(&ops(), *simulate);
            let got: Vec<Vec<&str>> = commands.iter().map(Command::argv).collect();
            assert_eq!(got, *want, "{:?} simulate={simulate}", backend.manager());
        }
        assert_eq!(
            Dnf::new(runner.clone()).reboot_command().argv(),
            ["dnf", "needs-restarting", "-r"]
        );
        assert_eq!(
            Dnf::yum(runner).reboot_command().argv(),
            ["needs-restarting", "-r"]
        );
    }

    /// Real transaction tables, each with its source.
    #[test]
    fn transaction_tables_parse_to_changes() {
        let cases: &[(&str, &str, Vec<Change>)] = &[
            (
                "dnf 4, Fedora 36: End Point Dev blog, Jon Jensen, 2022-10-14, \"Upgrading \
                 PostgreSQL 14 to 15 on Fedora, RHEL, CentOS, Rocky, Alma Linux with PGDG RPM \
                 packages\" (https://www.endpointdev.com/blog/2022/10/upgrading-postgresql-14-to-15-on-fedora-centos-rocky-alma-linux/), \
                 `dnf install postgresql15-server postgresql15-devel postgresql15-contrib`",
                "Last metadata expiration check: 2:29:14 ago on Fri 14 Oct 2022 09:01:38 AM MDT.\n\
                 Dependencies resolved.\n\
                 ==========================================================================\n \
                 Package                  Architecture  Version         Repository   Size\n\
                 ==========================================================================\n\
                 Installing:\n \
                 postgresql15-contrib     x86_64        15.0-1PGDG.f36  pgdg15      708 k\n \
                 postgresql15-devel       x86_64        15.0-1PGDG.f36  pgdg15      5.2 M\n \
                 postgresql15-server      x86_64        15.0-1PGDG.f36  pgdg15      5.9 M\n\
                 Installing dependencies:\n \
                 postgresql15             x86_64        15.0-1PGDG.f36  pgdg15      1.5 M\n \
                 postgresql15-libs        x86_64        15.0-1PGDG.f36  pgdg15      290 k\n\
                 \n\
                 Transaction Summary\n\
                 ==========================================================================\n\
                 Install  5 Packages\n\
                 \n\
                 Total download size: 14 M\n\
                 Installed size: 54 M\n",
                vec![
                    change(
                        "postgresql15-contrib",
                        ChangeKind::Install,
                        None,
                        Some("15.0-1PGDG.f36"),
                    ),
                    change(
                        "postgresql15-devel",
                        ChangeKind::Install,
                        None,
                        Some("15.0-1PGDG.f36"),
                    ),
                    change(
                        "postgresql15-server",
                        ChangeKind::Install,
                        None,
                        Some("15.0-1PGDG.f36"),
                    ),
                    change(
                        "postgresql15",
                        ChangeKind::Install,
                        None,
                        Some("15.0-1PGDG.f36"),
                    ),
                    change(
                        "postgresql15-libs",
                        ChangeKind::Install,
                        None,
                        Some("15.0-1PGDG.f36"),
                    ),
                ],
            ),
            (
                "dnf 4, Fedora 36: the same End Point Dev post, `dnf erase` answered no \
                 (\"Is this ok [y/N]: Operation aborted.\")",
                "Dependencies resolved.\n\
                 ======================================================================\n \
                 Package              Architecture  Version         Repository   Size\n\
                 ======================================================================\n\
                 Removing:\n \
                 postgresql14         x86_64        14.5-1PGDG.f36  @pgdg14     7.7 M\n \
                 postgresql14-devel   x86_64        14.5-1PGDG.f36  @pgdg14      19 M\n \
                 postgresql14-libs    x86_64        14.5-1PGDG.f36  @pgdg14     935 k\n \
                 postgresql14-server  x86_64        14.5-1PGDG.f36  @pgdg14      24 M\n\
                 \n\
                 Transaction Summary\n\
                 ======================================================================\n\
                 Remove  4 Packages\n\
                 \n\
                 Freed space: 51 M\n\
                 Is this ok [y/N]: Operation aborted.\n",
                vec![
                    change(
                        "postgresql14",
                        ChangeKind::Remove,
                        Some("14.5-1PGDG.f36"),
                        None,
                    ),
                    change(
                        "postgresql14-devel",
                        ChangeKind::Remove,
                        Some("14.5-1PGDG.f36"),
                        None,
                    ),
                    change(
                        "postgresql14-libs",
                        ChangeKind::Remove,
                        Some("14.5-1PGDG.f36"),
                        None,
                    ),
                    change(
                        "postgresql14-server",
                        ChangeKind::Remove,
                        Some("14.5-1PGDG.f36"),
                        None,
                    ),
                ],
            ),
            (
                "dnf 4, Fedora 36: the same End Point Dev post, `dnf upgrade` with nothing to do",
                "Last metadata expiration check: 2:28:40 ago on Fri 14 Oct 2022 09:01:38 AM MDT.\n\
                 Dependencies resolved.\nNothing to do.\nComplete!\n",
                vec![],
            ),
            (
                "dnf 5, Fedora 41: InzynieriaOprogramowaniaAGH/MDO2025_INO \
                 ITE/GCL05/FN414313/Sprawozdanie1/README.md (a `docker build` log of \
                 `dnf update`; the shell-history numbers and BuildKit timestamps in front of \
                 each line stripped, rows between curl and vim-minimal left out)",
                "Updating and loading repositories:\n \
                 Fedora 41 - x86_64 - Updates           100% |   2.5 MiB/s |  13.1 MiB |  00m05s\n\
                 Repositories loaded.\n\
                 Package                                        Arch   Version                    Repository                            Size\n\
                 Upgrading:\n \
                 alternatives                                  x86_64 1.31-1.fc41                updates                           64.8 KiB\n   \
                 replacing alternatives                      x86_64 1.30-1.fc41                603630c380664610adf88f7399f88fe7  66.3 KiB\n \
                 curl                                          x86_64 8.9.1-3.fc41               updates                          793.5 KiB\n   \
                 replacing curl                              x86_64 8.9.1-2.fc41               603630c380664610adf88f7399f88fe7 796.2 KiB\n \
                 fedora-release-container                      noarch 41-31                      updates                            0.0   B\n   \
                 replacing fedora-release-container          noarch 41-25                      603630c380664610adf88f7399f88fe7   0.0   B\n \
                 openssl-libs                                  x86_64 1:3.2.4-1.fc41             updates                            7.8 MiB\n   \
                 replacing openssl-libs                      x86_64 1:3.2.2-9.fc41             603630c380664610adf88f7399f88fe7   7.8 MiB\n \
                 vim-minimal                                   x86_64 2:9.1.1169-1.fc41          updates                            1.7 MiB\n   \
                 replacing vim-minimal                       x86_64 2:9.1.785-1.fc41           551623a9fceb4bb4b7bf61f67f15cf34   1.7 MiB\n\
                 \n\
                 Transaction Summary:\n \
                 Upgrading:         52 packages\n \
                 Replacing:         52 package\n\
                 \n\
                 Total size of inbound packages is 24 MiB. Need to download 24 MiB.\n\
                 After this operation, 2 MiB extra will be used (install 75 MiB, remove 73 MiB).\n\
                 Is this ok [y/N]: Operation aborted by the user.\n",
                vec![
                    change(
                        "alternatives",
                        ChangeKind::Upgrade,
                        Some("1.30-1.fc41"),
                        Some("1.31-1.fc41"),
                    ),
                    change(
                        "curl",
                        ChangeKind::Upgrade,
                        Some("8.9.1-2.fc41"),
                        Some("8.9.1-3.fc41"),
                    ),
                    change(
                        "fedora-release-container",
                        ChangeKind::Upgrade,
                        Some("41-25"),
                        Some("41-31"),
                    ),
                    change(
                        "openssl-libs",
                        ChangeKind::Upgrade,
                        Some("1:3.2.2-9.fc41"),
                        Some("1:3.2.4-1.fc41"),
                    ),
                    change(
                        "vim-minimal",
                        ChangeKind::Upgrade,
                        Some("2:9.1.785-1.fc41"),
                        Some("2:9.1.1169-1.fc41"),
                    ),
                ],
            ),
            (
                "yum 3, RHEL 7: Azure/LinuxPatchExtension src/core/tests/library/LegacyEnvLayerExtensions.py \
                 (`sudo yum install --assumeno kmod-kvdo`)",
                "Loaded plugins: langpacks, product-id, search-disabled-repos\n\
                 Resolving Dependencies\n\
                 --> Running transaction check\n\
                 ---> Package kmod-kvdo.x86_64 0:6.1.0.153-15.el7 will be updated\n\
                 ---> Package kmod-kvdo.x86_64 0:6.1.0.171-17.el7_5 will be an update\n\
                 --> Processing Dependency: kernel(dm_get_device) = 0x602cd186 for package: kmod-kvdo-6.1.0.171-17.el7_5.x86_64\n\
                 --> Running transaction check\n\
                 ---> Package kernel.x86_64 0:3.10.0-862.9.1.el7 will be installed\n\
                 --> Finished Dependency Resolution\n\
                 \n\
                 Dependencies Resolved\n\
                 \n\
                 ================================================================================\n \
                 Package     Arch     Version              Repository                      Size\n\
                 ================================================================================\n\
                 Installing:\n \
                 kernel      x86_64   3.10.0-862.9.1.el7   rhui-rhel-7-server-rhui-rpms    46 M\n\
                 Updating:\n \
                 kmod-kvdo   x86_64   6.1.0.171-17.el7_5   rhui-rhel-7-server-rhui-rpms   348 k\n\
                 \n\
                 Transaction Summary\n\
                 ================================================================================\n\
                 Install  1 Package\n\
                 Upgrade  1 Package\n\
                 \n\
                 Total download size: 46 M\n\
                 Exiting on user command\n",
                vec![
                    change(
                        "kernel",
                        ChangeKind::Install,
                        None,
                        Some("3.10.0-862.9.1.el7"),
                    ),
                    change(
                        "kmod-kvdo",
                        ChangeKind::Upgrade,
                        None,
                        Some("6.1.0.171-17.el7_5"),
                    ),
                ],
            ),
            (
                "dnf 4, EL 8: Normation/rudder policies/module-types/system-updates/README.md \
                 (the first rows of an `Upgrading:` section, as recorded there)",
                "Last metadata expiration check: 0:08:16 ago on Wed Jul  6 18:01:05 2022.\n\
                 Dependencies resolved.\n\
                 =======================================================================================\n \
                 Package               Arch    Version                                 Repo        Size\n\
                 =======================================================================================\n\
                 Upgrading:\n \
                 cockpit-packagekit    noarch  272-1.el8                               appstream  630 k\n \
                 curl                  x86_64  7.61.1-22.el8.3                         baseos     352 k\n \
                 dbus                  x86_64  1:1.12.8-18.el8.1                       baseos      41 k\n",
                vec![
                    change(
                        "cockpit-packagekit",
                        ChangeKind::Upgrade,
                        None,
                        Some("272-1.el8"),
                    ),
                    change("curl", ChangeKind::Upgrade, None, Some("7.61.1-22.el8.3")),
                    change("dbus", ChangeKind::Upgrade, None, Some("1:1.12.8-18.el8.1")),
                ],
            ),
        ];
        for (source, stdout, want) in cases {
            assert_eq!(
                parse_transaction(stdout).unwrap().changes,
                *want,
                "{source}"
            );
        }
        // Constructed, not recorded: a row whose name does not fit its
        // column, printed alone with the rest of the row on the next line
        // (the wrapping of yum 3 and dnf 4 tables).
        let wrapped = "Upgrading:\n \
                       python3-very-long-package-name-for-wrapping\n \
                                                   noarch  1.2-3.el9   appstream  10 k\n";
        assert_eq!(
            parse_transaction(wrapped).unwrap().changes,
            [change(
                "python3-very-long-package-name-for-wrapping",
                ChangeKind::Upgrade,
                None,
                Some("1.2-3.el9")
            )]
        );
        assert!(parse_transaction("Upgrading:\n curl x86_64\n").is_err());
    }

    #[test]
    fn simulation_exit_codes_are_interpreted() {
        let c = Command::new("dnf").args(["--assumeno", "install", "x-1"]);
        let table = "Upgrading:\n curl x86_64 8.9.1-3.fc41 updates 793.5 KiB\n";
        // dnf 4 prints "Operation aborted." on stderr, exit 1 (dnf/cli/cli.py);
        // dnf 5 "Operation aborted by the user."; yum "Exiting on user command".
        for (code, stderr, ok) in [
            (1, "Operation aborted.\n", true),
            (1, "Operation aborted by the user.\n", true),
            (0, "", true),
            (
                1,
                "No match for argument: x-1\nError: Unable to find a match: x-1\n",
                false,
            ),
            (3, "Traceback ...\n", false),
        ] {
            let r = interpret_simulation(&c, &Output::new(code, table, stderr));
            assert_eq!(r.is_ok(), ok, "exit {code} {stderr:?}: {r:?}");
        }
        let yum = Output::new(
            1,
            "Updating:\n x x86_64 1-1 repo 1 k\nExiting on user command\n",
            "",
        );
        assert_eq!(interpret_simulation(&c, &yum).unwrap().changes.len(), 1);
        let err = interpret_simulation(
            &c,
            &Output::new(
                1,
                "",
                "No match for argument: x-1\nError: Unable to find a match: x-1\n",
            ),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dnf --assumeno install x-1 failed (exit 1): No match for argument: x-1\n\
             Error: Unable to find a match: x-1"
        );
    }

    /// OC-16 and real needs-restarting outputs: exit 1 with the tool's words
    /// is "installed, reboot required", not a failure.
    #[test]
    fn needs_restarting_exit_one_means_reboot_required() {
        let c = Command::new("dnf").args(["needs-restarting", "-r"]);
        let cases: &[(&str, Output, Option<bool>)] = &[
            (
                "OC-16 host-b (rhel-9.5) reboot-check before the reboot",
                Output::new(
                    1,
                    "Core libraries or services have been updated since boot-up:\n  * kernel\n\n\
                     Reboot is required to fully utilize these updates.",
                    "",
                ),
                Some(true),
            ),
            (
                "OC-16 host-b reboot-check after the reboot",
                Output::new(
                    0,
                    "No core libraries or services have been updated since boot-up.\n\
                     Reboot should not be necessary.",
                    "",
                ),
                Some(false),
            ),
            (
                "rpm-software-management/ci-dnf-stack dnf-behave-tests/dnf/plugins-core/needs-restarting.feature \
                 (\"Update core packages\", exit 1)",
                Output::new(
                    1,
                    "Core libraries or services have been updated since boot-up:\n  * glibc\n  * kernel\n  \
                     * kernel-core\n\nReboot is required to fully utilize these updates.\n\
                     More information: https://access.redhat.com/solutions/27943\n",
                    "",
                ),
                Some(true),
            ),
            (
                "Azure/LinuxPatchExtension src/core/tests/library/LegacyEnvLayerExtensions.py \
                 (yum-utils `needs-restarting -r`, RHEL 7 wording)",
                Output::new(
                    1,
                    "Core libraries or services have been updated:\n  kernel -> 3.10.0-957.1.3.el7\n  \
                     glibc -> 2.17-260.el7\n\nReboot is required to ensure that your system benefits \
                     from these updates.\n\nMore information:\nhttps://access.redhat.com/solutions/27943\n",
                    "",
                ),
                Some(true),
            ),
            (
                "Azure/LinuxPatchExtension src/core/tests/Test_Dnf4PackageManager.py (no reboot)",
                Output::new(
                    0,
                    "No core libraries or services have been updated since boot-up.\n\
                     Reboot should not be necessary.\n",
                    "",
                ),
                Some(false),
            ),
            (
                "dnf 4 without dnf-plugins-core: exit 1 for the unknown command (dnf/cli/cli.py)",
                Output::new(
                    1,
                    "",
                    "No such command: needs-restarting. Please use /usr/bin/dnf --help\n",
                ),
                None,
            ),
            (
                "a crash",
                Output::new(3, "", "Traceback (most recent call last):\n"),
                None,
            ),
        ];
        for (source, out, want) in cases {
            let got = interpret_needs_restarting(&c, out).ok().map(|r| r.required);
            assert_eq!(got, *want, "{source}");
        }
        let r = interpret_needs_restarting(&c, &cases[0].1).unwrap();
        assert!(
            r.detail
                .ends_with("Reboot is required to fully utilize these updates."),
            "{}",
            r.detail
        );
    }

    #[test]
    fn rpm_query_output_parses_versions_missing_and_install_only_packages() {
        // The lines our RPM_QUERY_FORMAT prints (name, tab, [epoch:]v-r; the
        // conditional `%|EPOCH?{…}:{…}|` as in rpm's tests/rpmquery.at
        // "conditional queryformat"), with versions from OC-16 and the dnf 5
        // log above; "package X is not installed" is rpm's message
        // (lib/query.c), on stdout, and the exit code counts those lines.
        let names = [
            name("kernel"),
            name("openssl-libs"),
            name("libexample16"),
            name("nosuch"),
        ];
        let out = Output::new(
            1,
            "kernel\t5.14.0-503.38.1.el9_5\nkernel\t5.14.0-503.40.1.el9_5\nkernel\t5.14.0-427.13.1.el9_4\n\
             openssl-libs\t1:3.2.4-1.fc41\nlibexample16\t1.11.0-150600.3.6.1\npackage nosuch is not installed\n",
            "",
        );
        let got = parse_rpm_query(&names, &out).unwrap();
        let want: BTreeMap<String, Option<String>> = [
            ("kernel", Some("5.14.0-503.40.1.el9_5")),
            ("openssl-libs", Some("1:3.2.4-1.fc41")),
            ("libexample16", Some("1.11.0-150600.3.6.1")),
            ("nosuch", None),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
        .collect();
        assert_eq!(got, want);
        assert!(parse_rpm_query(&names, &Output::new(0, "kernel 5.14\n", "")).is_err());
        assert!(
            parse_rpm_query(
                &names,
                &Output::new(1, "", "error: rpmdb: BDB0113 Thread/process failed\n")
            )
            .is_err()
        );
        assert_eq!(
            rpm_query_command(&names[..1]).argv(),
            [
                "rpm",
                "-q",
                "--qf",
                "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n",
                "kernel"
            ]
        );
    }

    #[test]
    fn the_backend_runs_the_pinned_argv_and_reads_back() {
        let kernel = Operation::Install {
            name: name("kernel"),
            version: version("5.14.0-503.40.1.el9_5"),
        };
        let runner = Replay::new(vec![
            (
                vec![
                    "dnf",
                    "--assumeno",
                    "install",
                    "kernel-5.14.0-503.40.1.el9_5",
                ],
                Output::new(
                    1,
                    "Dependencies resolved.\nInstalling:\n kernel x86_64 5.14.0-503.40.1.el9_5 baseos 5 M\n",
                    "Operation aborted.\n",
                ),
            ),
            (
                vec!["dnf", "-y", "install", "kernel-5.14.0-503.40.1.el9_5"],
                // OC-16 host-b install step.
                Output::new(
                    0,
                    "Installed:\n  kernel-5.14.0-503.40.1.el9_5.x86_64\nComplete!",
                    "",
                ),
            ),
            (
                vec!["dnf", "needs-restarting", "-r"],
                Output::new(
                    1,
                    "Core libraries or services have been updated since boot-up:\n  * kernel\n\n\
                     Reboot is required to fully utilize these updates.",
                    "",
                ),
            ),
        ]);
        let dnf = Dnf::new(runner.clone());
        let t = dnf.simulate(std::slice::from_ref(&kernel)).unwrap();
        assert_eq!(t.summary(), "install kernel 5.14.0-503.40.1.el9_5");
        let applied = dnf.apply(&[kernel]).unwrap();
        assert_eq!(
            applied.detail,
            "Installed:\n  kernel-5.14.0-503.40.1.el9_5.x86_64\nComplete!"
        );
        assert!(dnf.reboot_required().unwrap().required);
        assert!(runner.finished());
    }
}
