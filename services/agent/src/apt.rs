//! The `apt` backend (Debian, Ubuntu).
//!
//! | step | command |
//! |---|---|
//! | simulate | `apt-get install -y -s … name=version …` (and `remove -s`) |
//! | apply | the same argv without `-s` |
//! | installed versions | `dpkg-query -W -f=${Package}\t${Version}\t${db:Status-Status}\n name …` |
//! | reboot required | the flag file `/var/run/reboot-required` (and its `.pkgs` list) |
//!
//! Installs pin the exact version (`name=version`); a rollback's downgrade
//! adds `--allow-downgrades`. Configuration files keep the local version on
//! conflicts (`--force-confdef --force-confold`), and `apt-get` runs with
//! `DEBIAN_FRONTEND=noninteractive` so no prompt can block a job.
//! Advisories are not applicable: Debian DSA/DLA and Ubuntu USN ids are
//! planned as the package versions they fix.
//!
//! Simulation lines (apt's `-s` output, `Inst`/`Remv`/`Conf`, see
//! apt-get(8)): `Inst name [old] (new release [arch])`,
//! `Remv name [old]`; `Conf` lines repeat an `Inst` and are skipped.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::backend::{
    Applied, BackendError, Change, ChangeKind, Command, Groups, Manager, Operation, Output,
    PackageBackend, PackageName, RebootCheck, SharedRunner, Transaction, pinned, run_all, run_ok,
};

/// The file Debian and Ubuntu packages create when they need a reboot
/// (`update-notifier-common`, kernel and libc postinst scripts).
pub const REBOOT_REQUIRED_FLAG: &str = "/var/run/reboot-required";

/// The `apt` backend.
#[derive(Debug, Clone)]
pub struct Apt {
    runner: SharedRunner,
    reboot_flag: PathBuf,
}

impl Apt {
    /// An `apt` backend running commands with `runner` and reading
    /// [`REBOOT_REQUIRED_FLAG`].
    pub fn new(runner: SharedRunner) -> Apt {
        Apt::with_reboot_flag(runner, PathBuf::from(REBOOT_REQUIRED_FLAG))
    }

    /// An `apt` backend reading the reboot flag at `flag` (its package list
    /// at `flag` + `.pkgs`).
    pub fn with_reboot_flag(runner: SharedRunner, flag: PathBuf) -> Apt {
        Apt {
            runner,
            reboot_flag: flag,
        }
    }
}

fn apt_get() -> Command {
    Command::new("apt-get")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("NEEDRESTART_MODE", "l")
}

/// The `apt-get` commands for `ops`, one per non-empty group (installs,
/// downgrades, removals); `simulate` adds `-s`, changing nothing else.
///
/// # Errors
/// [`BackendError::Unsupported`] for an advisory.
pub fn commands(ops: &[Operation], simulate: bool) -> Result<Vec<Command>, BackendError> {
    let g = Groups::of(ops);
    if let Some(id) = g.advisories.first() {
        return Err(BackendError::Unsupported {
            manager: Manager::Apt,
            operation: format!("apply advisory {id}"),
        });
    }
    let sim: &[&str] = if simulate { &["-s"] } else { &[] };
    let conf = [
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
    ];
    let mut out = Vec::new();
    if !g.installs.is_empty() {
        out.push(
            apt_get()
                .args(["install", "-y"])
                .args(sim.iter().copied())
                .args(conf)
                .args(pinned(&g.installs)),
        );
    }
    if !g.downgrades.is_empty() {
        out.push(
            apt_get()
                .args(["install", "-y"])
                .args(sim.iter().copied())
                .arg("--allow-downgrades")
                .args(conf)
                .args(pinned(&g.downgrades)),
        );
    }
    if !g.removes.is_empty() {
        out.push(
            apt_get()
                .args(["remove", "-y"])
                .args(sim.iter().copied())
                .args(g.removes.iter().map(ToString::to_string)),
        );
    }
    Ok(out)
}

/// The `dpkg-query` command that prints name, version and status of
/// `names`, one tab-separated line each.
pub fn query_command(names: &[PackageName]) -> Command {
    Command::new("dpkg-query")
        .arg("-W")
        .arg("-f=${Package}\\t${Version}\\t${db:Status-Status}\\n")
        .args(names.iter().map(ToString::to_string))
}

/// Reads `dpkg-query` output (see [`query_command`]): every name in `names`
/// is a key; a package with status `not-installed` or `config-files` (removed,
/// configuration kept) is `None`. Exit 1 is how dpkg-query says some names
/// were never known; those stay `None`. With several architectures installed,
/// the highest version is kept.
///
/// # Errors
/// A reason when the exit code is neither 0 nor 1, a line has not three
/// tab-separated fields, or a status is not one of dpkg's.
pub fn parse_query(
    names: &[PackageName],
    out: &Output,
) -> Result<BTreeMap<String, Option<String>>, String> {
    if !matches!(out.code, Some(0 | 1)) {
        return Err(format!("exit {:?}: {}", out.code, out.tail()));
    }
    let mut found: BTreeMap<String, Option<String>> =
        names.iter().map(|n| (n.to_string(), None)).collect();
    for line in out.stdout.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, version, status] = fields.as_slice() else {
            return Err(format!("line {line:?} has not 3 tab-separated fields"));
        };
        let present = match *status {
            "installed" | "half-configured" | "unpacked" | "half-installed"
            | "triggers-awaited" | "triggers-pending" => true,
            "not-installed" | "config-files" => false,
            other => return Err(format!("unknown dpkg status {other:?} in {line:?}")),
        };
        if !present || version.is_empty() {
            found.entry((*name).to_owned()).or_insert(None);
            continue;
        }
        let slot = found.entry((*name).to_owned()).or_insert(None);
        let newer = match slot.as_deref() {
            None => true,
            Some(old) => feeds::Scheme::Dpkg
                .compare(version, old)
                .is_ok_and(|o| o.is_gt()),
        };
        if newer {
            *slot = Some((*version).to_owned());
        }
    }
    Ok(found)
}

/// The version inside `[…]` at the start of `s`, and what follows.
fn bracketed(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(']')?;
    Some((inner.get(..end)?, inner.get(end + 1..)?))
}

/// Reads `apt-get -s` output: one [`Change`] per `Inst`, `Remv` or `Purg`
/// line. `Inst` without `[old]` installs; with it, the dpkg order of old and
/// new tells upgrade, downgrade or reinstall.
///
/// # Errors
/// A reason naming the line when an `Inst`/`Remv` line has not the shape
/// apt prints.
pub fn parse_simulation(stdout: &str) -> Result<Transaction, String> {
    let mut changes = Vec::new();
    for line in stdout.lines() {
        let bad = || format!("cannot read {line:?}");
        let (verb, rest) = match line.split_once(' ') {
            Some((v @ ("Inst" | "Remv" | "Purg"), rest)) => (v, rest),
            None if matches!(line, "Inst" | "Remv" | "Purg") => return Err(bad()),
            _ => continue,
        };
        let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if name.is_empty() {
            return Err(bad());
        }
        let rest = rest.trim_start();
        let (from, rest) = match bracketed(rest) {
            Some((old, after)) => (Some(old.to_owned()), after.trim_start()),
            None => (None, rest),
        };
        if verb != "Inst" {
            changes.push(Change {
                name: name.to_owned(),
                kind: ChangeKind::Remove,
                version: None,
                from,
            });
            continue;
        }
        let new = rest
            .strip_prefix('(')
            .and_then(|r| r.split([' ', ')']).next())
            .filter(|v| !v.is_empty())
            .ok_or_else(bad)?;
        let kind = match from.as_deref() {
            None => ChangeKind::Install,
            Some(old) => match feeds::Scheme::Dpkg.compare(new, old) {
                Ok(std::cmp::Ordering::Greater) => ChangeKind::Upgrade,
                Ok(std::cmp::Ordering::Less) => ChangeKind::Downgrade,
                Ok(std::cmp::Ordering::Equal) => ChangeKind::Reinstall,
                Err(e) => return Err(format!("{line:?}: {e}")),
            },
        };
        changes.push(Change {
            name: name.to_owned(),
            kind,
            version: Some(new.to_owned()),
            from,
        });
    }
    Ok(Transaction { changes })
}

impl PackageBackend for Apt {
    fn manager(&self) -> Manager {
        Manager::Apt
    }

    fn simulate(&self, ops: &[Operation]) -> Result<Transaction, BackendError> {
        let mut all = Transaction::default();
        for command in commands(ops, true)? {
            let out = run_ok(self.runner.as_ref(), &command)?;
            let t = parse_simulation(&out.stdout).map_err(|reason| BackendError::Parse {
                command: command.to_string(),
                reason,
            })?;
            all.changes.extend(t.changes);
        }
        Ok(all)
    }

    fn apply(&self, ops: &[Operation]) -> Result<Applied, BackendError> {
        run_all(self.runner.as_ref(), commands(ops, false)?)
    }

    fn installed(
        &self,
        names: &[PackageName],
    ) -> Result<BTreeMap<String, Option<String>>, BackendError> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let command = query_command(names);
        let out = self.runner.run(&command)?;
        parse_query(names, &out).map_err(|reason| BackendError::Parse {
            command: command.to_string(),
            reason,
        })
    }

    fn reboot_required(&self) -> Result<RebootCheck, BackendError> {
        match std::fs::metadata(&self.reboot_flag) {
            Ok(_) => {
                let mut pkgs_path = self.reboot_flag.clone().into_os_string();
                pkgs_path.push(".pkgs");
                let pkgs = std::fs::read_to_string(&pkgs_path).unwrap_or_default();
                let mut names: Vec<&str> = pkgs.split_whitespace().collect();
                names.sort_unstable();
                names.dedup();
                let by = if names.is_empty() {
                    String::new()
                } else {
                    format!(" (by {})", names.join(", "))
                };
                Ok(RebootCheck {
                    required: true,
                    detail: format!("{} exists{by}", self.reboot_flag.display()),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RebootCheck {
                required: false,
                detail: format!("no {}", self.reboot_flag.display()),
            }),
            Err(source) => Err(BackendError::Read {
                path: self.reboot_flag.clone(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::testing::deb::{name, version};
    use crate::backend::testing::{Replay, change};
    use crate::backend::{Runner, SystemRunner};

    fn install(n: &str, v: &str) -> Operation {
        Operation::Install {
            name: name(n),
            version: version(v),
        }
    }

    #[test]
    fn commands_pin_versions_and_simulation_only_adds_dash_s() {
        let ops = [
            install("openssl", "3.0.13-1~deb12u1"),
            install("libssl3", "3.0.13-1~deb12u1"),
            Operation::Downgrade {
                name: name("curl"),
                version: version("7.88.1-10+deb12u5"),
            },
            Operation::Remove {
                name: name("cscope"),
            },
        ];
        let conf = [
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
        ];
        let real = commands(&ops, false).unwrap();
        let sim = commands(&ops, true).unwrap();
        let argv: Vec<Vec<&str>> = real.iter().map(Command::argv).collect();
        let mut want_install = vec!["apt-get", "install", "-y"];
        want_install.extend(conf);
        want_install.extend(["openssl=3.0.13-1~deb12u1", "libssl3=3.0.13-1~deb12u1"]);
        let mut want_down = vec!["apt-get", "install", "-y", "--allow-downgrades"];
        want_down.extend(conf);
        want_down.push("curl=7.88.1-10+deb12u5");
        assert_eq!(
            argv,
            [
                want_install,
                want_down,
                vec!["apt-get", "remove", "-y", "cscope"]
            ]
        );
        for (r, s) in real.iter().zip(&sim) {
            let mut with_s = r.argv();
            with_s.insert(3, "-s");
            assert_eq!(s.argv(), with_s);
            assert!(
                s.env
                    .contains(&("DEBIAN_FRONTEND".into(), "noninteractive".into()))
            );
            assert!(s.env.contains(&("LC_ALL".into(), "C".into())));
        }
        let adv = [Operation::Advisory {
            id: crate::backend::AdvisoryId::parse("DSA-5678-1").unwrap(),
        }];
        assert!(matches!(
            commands(&adv, true),
            Err(BackendError::Unsupported {
                manager: Manager::Apt,
                ..
            })
        ));
        assert_eq!(commands(&[], true).unwrap(), []);
    }

    /// Real `apt-get -s` outputs, each with its source.
    #[test]
    fn simulation_output_parses_to_changes() {
        let cases: &[(&str, &str, Vec<Change>)] = &[
            (
                "this Debian 12 machine, 2026-11-29: LC_ALL=C apt-get install -s -y bash=5.2.15-2+b13",
                "Reading package lists...\nBuilding dependency tree...\nReading state information...\n\
                 Suggested packages:\n  bash-doc\nRecommended packages:\n  bash-completion\n\
                 The following packages will be upgraded:\n  bash\n\
                 1 upgraded, 0 newly installed, 0 to remove and 79 not upgraded.\n\
                 Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.14/oldstable [amd64])\n\
                 Conf bash (5.2.15-2+b13 Debian:12.14/oldstable [amd64])\n",
                vec![change(
                    "bash",
                    ChangeKind::Upgrade,
                    Some("5.2.15-2+b8"),
                    Some("5.2.15-2+b13"),
                )],
            ),
            (
                "this Debian 12 machine, 2026-11-29: LC_ALL=C apt-get install -s -y bash=5.2.15-2+b8 (installed)",
                "Reading package lists...\nBuilding dependency tree...\nReading state information...\n\
                 bash is already the newest version (5.2.15-2+b8).\nbash set to manually installed.\n\
                 0 upgraded, 0 newly installed, 0 to remove and 79 not upgraded.\n",
                vec![],
            ),
            (
                "this Debian 12 machine, 2026-11-29: LC_ALL=C apt-get install -s -y --allow-downgrades libssl3=3.0.17-1~deb12u2",
                "Reading package lists...\nBuilding dependency tree...\nReading state information...\n\
                 The following packages will be REMOVED:\n  libpq-dev libssl-dev libxmlsec1-dev\n\
                 The following packages will be DOWNGRADED:\n  libssl3\n\
                 0 upgraded, 0 newly installed, 1 downgraded, 3 to remove and 78 not upgraded.\n\
                 Remv libpq-dev [15.18-0+deb12u1]\nRemv libxmlsec1-dev [1.2.37-2]\n\
                 Remv libssl-dev [3.0.19-1~deb12u2]\n\
                 Inst libssl3 [3.0.19-1~deb12u2] (3.0.17-1~deb12u2 Debian:12-updates/oldstable-updates [amd64])\n\
                 Conf libssl3 (3.0.17-1~deb12u2 Debian:12-updates/oldstable-updates [amd64])\n",
                vec![
                    change(
                        "libpq-dev",
                        ChangeKind::Remove,
                        Some("15.18-0+deb12u1"),
                        None,
                    ),
                    change("libxmlsec1-dev", ChangeKind::Remove, Some("1.2.37-2"), None),
                    change(
                        "libssl-dev",
                        ChangeKind::Remove,
                        Some("3.0.19-1~deb12u2"),
                        None,
                    ),
                    change(
                        "libssl3",
                        ChangeKind::Downgrade,
                        Some("3.0.19-1~deb12u2"),
                        Some("3.0.17-1~deb12u2"),
                    ),
                ],
            ),
            (
                "this Debian 12 machine, 2026-11-29: LC_ALL=C apt-get remove -s -y cscope",
                "Reading package lists...\nBuilding dependency tree...\nReading state information...\n\
                 The following packages will be REMOVED:\n  cscope\n\
                 0 upgraded, 0 newly installed, 1 to remove and 80 not upgraded.\nRemv cscope [15.9-1]\n",
                vec![change("cscope", ChangeKind::Remove, Some("15.9-1"), None)],
            ),
            (
                "Azure/LinuxPatchExtension src/core/tests/library/LegacyEnvLayerExtensions.py \
                 (apt, 'dist-upgrade', Ubuntu 16.10; several releases in one pair of parentheses)",
                "Inst python-samba [2:4.4.5+dfsg-2ubuntu5.2] (2:4.4.5+dfsg-2ubuntu5.4 \
                 Ubuntu:16.10/yakkety-updates, Ubuntu:16.10/yakkety-security [amd64]) []\n\
                 Inst samba-common-bin [2:4.4.5+dfsg-2ubuntu5.2] (2:4.4.5+dfsg-2ubuntu5.4 \
                 Ubuntu:16.10/yakkety-updates, Ubuntu:16.10/yakkety-security [amd64]) []\n",
                vec![
                    change(
                        "python-samba",
                        ChangeKind::Upgrade,
                        Some("2:4.4.5+dfsg-2ubuntu5.2"),
                        Some("2:4.4.5+dfsg-2ubuntu5.4"),
                    ),
                    change(
                        "samba-common-bin",
                        ChangeKind::Upgrade,
                        Some("2:4.4.5+dfsg-2ubuntu5.2"),
                        Some("2:4.4.5+dfsg-2ubuntu5.4"),
                    ),
                ],
            ),
            (
                "this Debian 12 machine, 2026-11-29: LC_ALL=C apt-get install -s -y tree=2.1.0-1 (not installed)",
                "Reading package lists...\nBuilding dependency tree...\nReading state information...\n\
                 The following NEW packages will be installed:\n  tree\n\
                 0 upgraded, 1 newly installed, 0 to remove and 80 not upgraded.\n\
                 Inst tree (2.1.0-1 Debian:12.14/oldstable [amd64])\n\
                 Conf tree (2.1.0-1 Debian:12.14/oldstable [amd64])\n",
                vec![change("tree", ChangeKind::Install, None, Some("2.1.0-1"))],
            ),
        ];
        for (source, stdout, want) in cases {
            assert_eq!(parse_simulation(stdout).unwrap().changes, *want, "{source}");
        }
        for bad in ["Inst", "Inst bash [1.0] 2.0", "Inst bash [1.0] ()"] {
            assert!(parse_simulation(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dpkg_query_output_parses_with_missing_and_removed_packages() {
        // Real: this Debian 12 machine, 2026-11-29, `LC_ALL=C dpkg-query -W
        // -f='${Package}\t${Version}\t${db:Status-Status}\n' bash
        // binutils-common cscope nosuchpkg` (exit 1, one stderr line).
        let names = [
            name("bash"),
            name("binutils-common"),
            name("cscope"),
            name("nosuchpkg"),
        ];
        let out = Output::new(
            1,
            "bash\t5.2.15-2+b8\tinstalled\nbinutils-common\t2.40-2\tinstalled\ncscope\t15.9-1\tinstalled\n",
            "dpkg-query: no packages found matching nosuchpkg\n",
        );
        let want = |pairs: &[(&str, Option<&str>)]| -> BTreeMap<String, Option<String>> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
                .collect()
        };
        assert_eq!(
            parse_query(&names, &out).unwrap(),
            want(&[
                ("bash", Some("5.2.15-2+b8")),
                ("binutils-common", Some("2.40-2")),
                ("cscope", Some("15.9-1")),
                ("nosuchpkg", None),
            ])
        );
        // Constructed from dpkg-query(1)'s db:Status-Status words (this
        // machine has no removed-but-configured package and no second
        // architecture): `config-files` is not installed; of two
        // architectures the higher version is reported.
        let names = [name("oldpkg"), name("libc6")];
        let out = Output::new(
            0,
            "oldpkg\t1.0-1\tconfig-files\nlibc6\t2.36-9+deb12u7\tinstalled\nlibc6\t2.36-9+deb12u9\tinstalled\n",
            "",
        );
        assert_eq!(
            parse_query(&names, &out).unwrap(),
            want(&[("oldpkg", None), ("libc6", Some("2.36-9+deb12u9"))])
        );
        assert!(parse_query(&names, &Output::new(2, "", "dpkg-query: error")).is_err());
        assert!(parse_query(&names, &Output::new(0, "bash 5.2 installed\n", "")).is_err());
        assert!(parse_query(&names, &Output::new(0, "bash\t5.2\tweird\n", "")).is_err());
    }

    #[test]
    fn a_failed_simulation_reports_apts_error() {
        // This machine: LC_ALL=C apt-get install -s -y bash=0.0.0-x → exit 100.
        let runner = Replay::new(vec![(
            vec![
                "apt-get",
                "install",
                "-y",
                "-s",
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold",
                "bash=0.0.0-x",
            ],
            Output::new(
                100,
                "Reading package lists...\nBuilding dependency tree...\nReading state information...\n\
                 Package bash is not available, but is referred to by another package.\n",
                "E: Version '0.0.0-x' for 'bash' was not found\n",
            ),
        )]);
        let apt = Apt::new(runner.clone());
        let err = apt.simulate(&[install("bash", "0.0.0-x")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "apt-get install -y -s -o Dpkg::Options::=--force-confdef -o \
             Dpkg::Options::=--force-confold bash=0.0.0-x failed (exit 100): \
             E: Version '0.0.0-x' for 'bash' was not found"
        );
        assert!(runner.finished());
    }

    #[test]
    fn reboot_flag_file_decides_and_names_the_packages() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("reboot-required");
        let apt = Apt::with_reboot_flag(Replay::new(vec![]), flag.clone());
        let r = apt.reboot_required().unwrap();
        assert_eq!(
            (r.required, r.detail),
            (false, format!("no {}", flag.display()))
        );
        std::fs::write(&flag, "*** System restart required ***\n").unwrap();
        std::fs::write(
            dir.path().join("reboot-required.pkgs"),
            "linux-image-6.1.0-18-amd64\nlibc6\nlibc6\n",
        )
        .unwrap();
        let r = apt.reboot_required().unwrap();
        assert!(r.required);
        assert_eq!(
            r.detail,
            format!(
                "{} exists (by libc6, linux-image-6.1.0-18-amd64)",
                flag.display()
            )
        );
    }

    /// Runs only simulations and queries: any `apt-get` without `-s` panics
    /// before it starts, so this test cannot change the machine.
    #[derive(Debug)]
    struct SimulateOnly(SystemRunner);

    impl Runner for SimulateOnly {
        fn run(&self, command: &Command) -> Result<Output, BackendError> {
            let allowed = match command.program.as_str() {
                "dpkg-query" | "apt-cache" => true,
                "apt-get" => command.args.iter().any(|a| a == "-s"),
                _ => false,
            };
            assert!(allowed, "refusing to run {command} in a dry-run test");
            self.0.run(command)
        }
    }

    fn candidate(runner: &dyn Runner, package: &str) -> Option<String> {
        let out = runner
            .run(&Command::new("apt-cache").args(["policy", package]))
            .ok()?;
        out.stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate: "))
            .filter(|c| *c != "(none)")
            .map(str::to_owned)
    }

    /// The real apt on this machine, in dry-run mode only: reads bash's
    /// installed version with dpkg-query, simulates installing that same
    /// version (nothing to do), the candidate version when it differs (one
    /// change from installed to candidate), and a version that does not
    /// exist (apt's error); bash is unchanged afterwards.
    #[test]
    fn real_apt_dry_run_on_this_machine() {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("apt-get").is_file()));
        if !found {
            eprintln!("skipping real_apt_dry_run_on_this_machine: apt-get is not installed here");
            return;
        }
        let runner = Arc::new(SimulateOnly(SystemRunner::new()));
        let apt = Apt::new(runner.clone());
        let bash = name("bash");
        let absent = name("patchflow-no-such-package");
        let before = apt.installed(&[bash.clone(), absent.clone()]).unwrap();
        assert_eq!(before.get("patchflow-no-such-package"), Some(&None));
        let installed = before
            .get("bash")
            .cloned()
            .flatten()
            .expect("bash is installed on every Debian and Ubuntu system");

        let same = apt.simulate(&[install("bash", &installed)]).unwrap();
        assert_eq!(
            same.changes,
            [],
            "installing the installed version does nothing"
        );

        match candidate(runner.as_ref(), "bash") {
            Some(c) if c != installed => {
                let t = apt.simulate(&[install("bash", &c)]).unwrap();
                let kind = match feeds::Scheme::Dpkg.compare(&c, &installed).unwrap() {
                    std::cmp::Ordering::Less => ChangeKind::Downgrade,
                    _ => ChangeKind::Upgrade,
                };
                let bash_change = t.changes.iter().find(|ch| ch.name == "bash");
                assert_eq!(
                    bash_change,
                    Some(&change("bash", kind, Some(&installed), Some(&c))),
                    "{}",
                    t.summary()
                );
            }
            other => eprintln!(
                "bash candidate {other:?} equals the installed {installed}: no upgrade to simulate"
            ),
        }

        let err = apt
            .simulate(&[install("bash", "0.0.0-patchflow.missing")])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("Version '0.0.0-patchflow.missing' for 'bash' was not found"),
            "{err}"
        );
        let after = apt.installed(&[bash]).unwrap();
        assert_eq!(after.get("bash"), Some(&Some(installed)), "nothing changed");
    }
}
