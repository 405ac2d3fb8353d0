//! The `zypper` backend (SLES, openSUSE).
//!
//! | step | command |
//! |---|---|
//! | simulate | `zypper --non-interactive --xmlout install --auto-agree-with-licenses --dry-run name=version …` |
//! | apply | `zypper --non-interactive install --auto-agree-with-licenses name=version …` |
//! | rollback | `install --oldpackage name=version`, `remove name` |
//! | advisory | `install -t patch ID` (a SUSE patch name) |
//! | installed versions | `rpm -q --qf …` ([`crate::rpm::rpm_query_command`]) |
//! | reboot required | `zypper needs-rebooting` |
//!
//! The simulation is read from zypper's XML output (`--xmlout`, schema
//! `src/output/xmlout.rnc` in openSUSE/zypper): the `install-summary`
//! element lists `solvable`s under `to-install`, `to-upgrade`,
//! `to-downgrade`, `to-reinstall`, `to-remove` and `to-change-arch`.
//!
//! Exit codes (zypper(8), EXIT CODES): below 100 an error; 102
//! `ZYPPER_EXIT_INF_REBOOT_NEEDED` is "installed, reboot required" (OC-16);
//! 103 `ZYPPER_EXIT_INF_RESTART_NEEDED` "installed, zypper updated itself";
//! 106 `ZYPPER_EXIT_INF_REPOS_SKIPPED` "installed, some repositories were
//! skipped". 104 `ZYPPER_EXIT_INF_CAP_NOT_FOUND` (a name or version not
//! found) and 107 `ZYPPER_EXIT_INF_RPM_SCRIPT_FAILED` (a scriptlet failed)
//! are failures. `zypper needs-rebooting` exits 102 when a reboot is needed
//! and 0 otherwise.

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::backend::{
    Applied, BackendError, Change, ChangeKind, Command, Groups, Manager, Operation, Output,
    PackageBackend, PackageName, RebootCheck, SharedRunner, Transaction, pinned, tail,
};

/// The `zypper` backend.
#[derive(Debug, Clone)]
pub struct Zypper {
    runner: SharedRunner,
}

impl Zypper {
    /// A `zypper` backend running commands with `runner`.
    pub fn new(runner: SharedRunner) -> Zypper {
        Zypper { runner }
    }
}

/// The `zypper` commands for `ops`, one per non-empty group; `simulate`
/// adds `--xmlout` (global) and `--dry-run` (to the command), changing
/// nothing else.
pub fn commands(ops: &[Operation], simulate: bool) -> Vec<Command> {
    let g = Groups::of(ops);
    let base = |verb: &str| {
        let mut c = Command::new("zypper").arg("--non-interactive");
        if simulate {
            c = c.arg("--xmlout");
        }
        c = c.arg(verb);
        if verb == "install" {
            c = c.arg("--auto-agree-with-licenses");
        }
        if simulate {
            c = c.arg("--dry-run");
        }
        c
    };
    let mut out = Vec::new();
    if !g.installs.is_empty() {
        out.push(base("install").args(pinned(&g.installs)));
    }
    if !g.downgrades.is_empty() {
        out.push(
            base("install")
                .arg("--oldpackage")
                .args(pinned(&g.downgrades)),
        );
    }
    if !g.removes.is_empty() {
        out.push(base("remove").args(g.removes.iter().map(ToString::to_string)));
    }
    if !g.advisories.is_empty() {
        out.push(
            base("install")
                .args(["-t", "patch"])
                .args(g.advisories.iter().map(ToString::to_string)),
        );
    }
    out
}

/// What a zypper exit code means for an install, remove or patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitMeaning {
    /// It succeeded; `reboot_required` for exit 102; `note` says what an
    /// informational code (103, 106) adds.
    Succeeded {
        /// Exit 102: installed, reboot required.
        reboot_required: bool,
        /// What the code adds, if anything.
        note: Option<&'static str>,
    },
    /// It failed, for this reason.
    Failed(&'static str),
}

/// Interprets a zypper exit code (zypper(8), EXIT CODES).
pub fn interpret_exit(code: Option<i32>) -> ExitMeaning {
    let ok = |reboot_required, note| ExitMeaning::Succeeded {
        reboot_required,
        note,
    };
    match code {
        Some(0) => ok(false, None),
        Some(102) => ok(
            true,
            Some("installed; zypper says a reboot is required (exit 102)"),
        ),
        Some(103) => ok(
            false,
            Some(
                "installed; zypper updated itself and asks to run again for remaining patches (exit 103)",
            ),
        ),
        Some(106) => ok(
            false,
            Some(
                "installed; some repositories were skipped because they failed to refresh (exit 106)",
            ),
        ),
        Some(1) => {
            ExitMeaning::Failed("unexpected situation, probably a zypper bug (ZYPPER_EXIT_ERR_BUG)")
        }
        Some(2) => {
            ExitMeaning::Failed("invalid command, option or syntax (ZYPPER_EXIT_ERR_SYNTAX)")
        }
        Some(3) => ExitMeaning::Failed("invalid arguments (ZYPPER_EXIT_ERR_INVALID_ARGS)"),
        Some(4) => {
            ExitMeaning::Failed("the ZYpp library reported a problem (ZYPPER_EXIT_ERR_ZYPP)")
        }
        Some(5) => ExitMeaning::Failed("insufficient privileges (ZYPPER_EXIT_ERR_PRIVILEGES)"),
        Some(6) => ExitMeaning::Failed("no repositories are defined (ZYPPER_EXIT_NO_REPOS)"),
        Some(7) => ExitMeaning::Failed(
            "the ZYpp library is locked by another process (ZYPPER_EXIT_ZYPP_LOCKED)",
        ),
        Some(8) => ExitMeaning::Failed(
            "an error occurred while installing or removing packages (ZYPPER_EXIT_ERR_COMMIT)",
        ),
        Some(104) => ExitMeaning::Failed(
            "a package or version was not found (ZYPPER_EXIT_INF_CAP_NOT_FOUND)",
        ),
        Some(105) => {
            ExitMeaning::Failed("zypper was interrupted by a signal (ZYPPER_EXIT_ON_SIGNAL)")
        }
        Some(107) => ExitMeaning::Failed(
            "installed, but an RPM scriptlet failed (ZYPPER_EXIT_INF_RPM_SCRIPT_FAILED)",
        ),
        Some(_) => ExitMeaning::Failed("an exit code zypper does not document"),
        None => ExitMeaning::Failed("killed by a signal"),
    }
}

fn attr(e: &BytesStart<'_>, key: &str) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| err.to_string())?;
        let k: &str = a.key.as_ref();
        if k == key {
            return a
                .normalized_value(XmlVersion::Implicit1_0)
                .map(|v| Some(v.into_owned()))
                .map_err(|err| err.to_string());
        }
    }
    Ok(None)
}

fn summary_kind(element: &str) -> Option<ChangeKind> {
    match element {
        "to-install" => Some(ChangeKind::Install),
        "to-upgrade" => Some(ChangeKind::Upgrade),
        "to-downgrade" => Some(ChangeKind::Downgrade),
        "to-reinstall" | "to-change-arch" | "to-change-vendor" => Some(ChangeKind::Reinstall),
        "to-remove" => Some(ChangeKind::Remove),
        _ => None,
    }
}

/// What zypper's XML output says: the package changes of its
/// `install-summary` (solvables of type or kind `package` only: patches and
/// patterns are not packages) and its `error` messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlOutput {
    /// The package changes, in output order.
    pub transaction: Transaction,
    /// The text of every `<message type="error">`.
    pub errors: Vec<String>,
}

/// Reads `zypper --xmlout` output.
///
/// # Errors
/// A reason when the XML is malformed or a package solvable has no name or
/// edition.
pub fn parse_xml(xml: &str) -> Result<XmlOutput, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = XmlOutput::default();
    let mut section: Option<ChangeKind> = None;
    // The text of the `<message type="error">` being read.
    let mut error: Option<String> = None;
    let element = |e: &BytesStart<'_>| -> String {
        let qname = e.name();
        let n: &str = qname.as_ref();
        n.to_owned()
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = element(&e);
                if let Some(kind) = summary_kind(&name) {
                    section = Some(kind);
                } else if name == "message" {
                    if attr(&e, "type")?.as_deref() == Some("error") {
                        error = Some(String::new());
                    }
                } else if name == "solvable" {
                    let Some(kind) = section else { continue };
                    let typ = match attr(&e, "type")? {
                        Some(t) => Some(t),
                        None => attr(&e, "kind")?,
                    };
                    if typ.as_deref().is_some_and(|t| t != "package") {
                        continue;
                    }
                    let pkg = attr(&e, "name")?.ok_or("a solvable without a name")?;
                    let edition = attr(&e, "edition")?
                        .ok_or_else(|| format!("solvable {pkg:?} without an edition"))?;
                    let old = attr(&e, "edition-old")?;
                    let (version, from) = if kind == ChangeKind::Remove {
                        (None, Some(edition))
                    } else {
                        (Some(edition), old)
                    };
                    out.transaction.changes.push(Change {
                        name: pkg,
                        kind,
                        version,
                        from,
                    });
                }
            }
            Event::End(e) => {
                let qname = e.name();
                let name: &str = qname.as_ref();
                if summary_kind(name).is_some() {
                    section = None;
                } else if name == "message"
                    && let Some(text) = error.take()
                {
                    let text = text.trim();
                    if !text.is_empty() {
                        out.errors.push(text.to_owned());
                    }
                }
            }
            Event::Text(t) => {
                if let Some(text) = error.as_mut() {
                    text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(text) = error.as_mut() {
                    let resolved = if r.is_char_ref() {
                        r.resolve_char_ref().ok().flatten().map(String::from)
                    } else {
                        quick_xml::escape::resolve_xml_entity(&r).map(str::to_owned)
                    };
                    let resolved = resolved.ok_or_else(|| format!("unknown entity &{};", &*r))?;
                    text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// Interprets a `--xmlout --dry-run` run: a success code of
/// [`interpret_exit`] gives the parsed transaction; a failure code gives
/// [`BackendError::Failed`] with zypper's error messages (else the output's
/// last lines).
///
/// # Errors
/// [`BackendError::Failed`], or [`BackendError::Parse`] for unreadable XML.
pub fn interpret_simulation(command: &Command, out: &Output) -> Result<Transaction, BackendError> {
    let parsed = parse_xml(&out.stdout);
    match interpret_exit(out.code) {
        ExitMeaning::Succeeded { .. } => {
            parsed
                .map(|p| p.transaction)
                .map_err(|reason| BackendError::Parse {
                    command: command.to_string(),
                    reason,
                })
        }
        ExitMeaning::Failed(why) => {
            let said = parsed
                .ok()
                .map(|p| p.errors.join("\n"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| out.tail());
            Err(failed(command, out, why, &said))
        }
    }
}

/// A failed run of `command`: the exit code's meaning `why`, then what zypper
/// `said` when it said anything.
fn failed(command: &Command, out: &Output, why: &str, said: &str) -> BackendError {
    BackendError::Failed {
        command: command.to_string(),
        code: out.code,
        detail: if said.is_empty() {
            why.to_owned()
        } else {
            format!("{why}: {said}")
        },
    }
}

/// Interprets an install, remove or patch run: exit 0, 102, 103 and 106 are
/// successes (102 with the reboot hint), the rest fail.
///
/// # Errors
/// [`BackendError::Failed`] with the code's meaning and zypper's last lines.
pub fn interpret_apply(command: &Command, out: &Output) -> Result<Applied, BackendError> {
    match interpret_exit(out.code) {
        ExitMeaning::Succeeded {
            reboot_required,
            note,
        } => {
            let said = tail(&out.stdout);
            let detail = match note {
                Some(n) if said.is_empty() => n.to_owned(),
                Some(n) => format!("{said}\n{n}"),
                None => said,
            };
            Ok(Applied {
                reboot_hint: reboot_required,
                detail,
            })
        }
        ExitMeaning::Failed(why) => Err(failed(command, out, why, &out.tail())),
    }
}

/// The reboot check.
pub fn reboot_command() -> Command {
    Command::new("zypper").arg("needs-rebooting")
}

/// Interprets `zypper needs-rebooting`: exit 102 → required, 0 → not
/// required, anything else is an error.
///
/// # Errors
/// [`BackendError::Failed`] with what zypper said.
pub fn interpret_needs_rebooting(
    command: &Command,
    out: &Output,
) -> Result<RebootCheck, BackendError> {
    match out.code {
        Some(0) => Ok(RebootCheck {
            required: false,
            detail: tail(&out.stdout),
        }),
        Some(102) => Ok(RebootCheck {
            required: true,
            detail: tail(&out.stdout),
        }),
        _ => Err(out.failed(command)),
    }
}

impl PackageBackend for Zypper {
    fn manager(&self) -> Manager {
        Manager::Zypper
    }

    fn simulate(&self, ops: &[Operation]) -> Result<Transaction, BackendError> {
        let mut all = Transaction::default();
        for command in commands(ops, true) {
            let out = self.runner.run(&command)?;
            all.changes
                .extend(interpret_simulation(&command, &out)?.changes);
        }
        Ok(all)
    }

    fn apply(&self, ops: &[Operation]) -> Result<Applied, BackendError> {
        let mut applied = Applied {
            reboot_hint: false,
            detail: String::new(),
        };
        for command in commands(ops, false) {
            let out = self.runner.run(&command)?;
            let a = interpret_apply(&command, &out)?;
            applied.reboot_hint |= a.reboot_hint;
            applied.detail = a.detail;
        }
        Ok(applied)
    }

    fn installed(
        &self,
        names: &[PackageName],
    ) -> Result<BTreeMap<String, Option<String>>, BackendError> {
        crate::rpm::rpm_installed(self.runner.as_ref(), names)
    }

    fn reboot_required(&self) -> Result<RebootCheck, BackendError> {
        let command = reboot_command();
        let out = self.runner.run(&command)?;
        interpret_needs_rebooting(&command, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::AdvisoryId;
    use crate::backend::testing::rpm::{name, version};
    use crate::backend::testing::{Replay, change};

    #[test]
    fn commands_pin_versions_and_simulation_adds_xmlout_and_dry_run() {
        let ops = [
            Operation::Install {
                name: name("kernel-default"),
                version: version("6.4.0-150600.23.33.1"),
            },
            Operation::Install {
                name: name("libexample16"),
                version: version("1.11.0-150600.3.6.1"),
            },
            Operation::Downgrade {
                name: name("curl"),
                version: version("8.6.0-150600.4.3.1"),
            },
            Operation::Remove { name: name("tree") },
            Operation::Advisory {
                id: AdvisoryId::parse("SUSE-SLE-Module-Basesystem-15-SP6-2025-1234").unwrap(),
            },
        ];
        let argv = |cs: Vec<Command>| -> Vec<Vec<String>> {
            cs.iter()
                .map(|c| c.argv().iter().map(|s| (*s).to_owned()).collect())
                .collect()
        };
        let s = |v: &[&str]| -> Vec<String> { v.iter().map(|x| (*x).to_owned()).collect() };
        assert_eq!(
            argv(commands(&ops, false)),
            [
                s(&[
                    "zypper",
                    "--non-interactive",
                    "install",
                    "--auto-agree-with-licenses",
                    "kernel-default=6.4.0-150600.23.33.1",
                    "libexample16=1.11.0-150600.3.6.1"
                ]),
                s(&[
                    "zypper",
                    "--non-interactive",
                    "install",
                    "--auto-agree-with-licenses",
                    "--oldpackage",
                    "curl=8.6.0-150600.4.3.1"
                ]),
                s(&["zypper", "--non-interactive", "remove", "tree"]),
                s(&[
                    "zypper",
                    "--non-interactive",
                    "install",
                    "--auto-agree-with-licenses",
                    "-t",
                    "patch",
                    "SUSE-SLE-Module-Basesystem-15-SP6-2025-1234"
                ]),
            ]
        );
        assert_eq!(
            argv(commands(&ops, true)),
            [
                s(&[
                    "zypper",
                    "--non-interactive",
                    "--xmlout",
                    "install",
                    "--auto-agree-with-licenses",
                    "--dry-run",
                    "kernel-default=6.4.0-150600.23.33.1",
                    "libexample16=1.11.0-150600.3.6.1"
                ]),
                s(&[
                    "zypper",
                    "--non-interactive",
                    "--xmlout",
                    "install",
                    "--auto-agree-with-licenses",
                    "--dry-run",
                    "--oldpackage",
                    "curl=8.6.0-150600.4.3.1"
                ]),
                s(&[
                    "zypper",
                    "--non-interactive",
                    "--xmlout",
                    "remove",
                    "--dry-run",
                    "tree"
                ]),
                s(&[
                    "zypper",
                    "--non-interactive",
                    "--xmlout",
                    "install",
                    "--auto-agree-with-licenses",
                    "--dry-run",
                    "-t",
                    "patch",
                    "SUSE-SLE-Module-Basesystem-15-SP6-2025-1234"
                ]),
            ]
        );
        assert_eq!(reboot_command().argv(), ["zypper", "needs-rebooting"]);
    }

    /// The `install-summary` of real `zypper --xmlout` runs.
    #[test]
    fn xml_summaries_parse_to_changes() {
        let cases: &[(&str, &str, Vec<Change>, Vec<&str>)] = &[
            (
                "openSUSE Leap 15.6: ianb1204/tps-ansible TP5_idempotence/challenge.md \
                 (Ansible's `zypper --quiet --non-interactive --xmlout install --type package \
                 --auto-agree-with-licenses --no-recommends -- +tree`; prompt options and \
                 download progress shortened)",
                "<?xml version='1.0'?>\n<stream>\n<install-summary download-size=\"56772\" \
                 space-usage-diff=\"116508\" space-usage-installed=\"116508\" space-usage-removed=\"0\" \
                 packages-to-change=\"1\" need-restart=\"0\" need-reboot=\"0\">\n<to-install>\n\
                 <solvable type=\"package\" name=\"tree\" edition=\"1.7.0-150000.3.2.1\" arch=\"x86_64\" \
                 repository=\"repo-sle-update\" summary=\"File listing as a tree\">\n<description>Tree is a \
                 recursive directory listing command that produces a depth\nindented listing of files, which \
                 is colorized ala dircolors if the\nLS_COLORS environment variable is set and output is to \
                 tty.</description></solvable>\n</to-install>\n</install-summary>\n<prompt id=\"0\">\n\
                 <text>Backend:  classic_rpmtrans\nContinue?</text>\n<option default=\"1\" value=\"y\" \
                 desc=\"Yes, accept the summary and proceed with installation/removal of packages.\"/>\n\
                 <option value=\"n\" desc=\"No, cancel the operation.\"/>\n</prompt>\n\
                 <download url=\"http://fr2.rpmfind.net/linux/opensuse/update/leap/15.6/sle/x86_64/tree-1.7.0-150000.3.2.1.x86_64.rpm\" \
                 rate=\"56772\" done=\"1\"/>\n</stream>\n",
                vec![change(
                    "tree",
                    ChangeKind::Install,
                    None,
                    Some("1.7.0-150000.3.2.1"),
                )],
                vec![],
            ),
            (
                "openSUSE Leap 15.6: the same file, `zypper --quiet --non-interactive --xmlout remove \
                 --type package tree` (description and prompt shortened)",
                "<?xml version='1.0'?>\n<stream>\n<install-summary download-size=\"0\" \
                 space-usage-diff=\"-116508\" space-usage-installed=\"0\" space-usage-removed=\"116508\" \
                 packages-to-change=\"1\" need-restart=\"0\" need-reboot=\"0\">\n<to-remove>\n\
                 <solvable type=\"package\" name=\"tree\" edition=\"1.7.0-150000.3.2.1\" arch=\"x86_64\" \
                 repository=\"@System\" summary=\"File listing as a tree\">\n<description>Tree is a recursive \
                 directory listing command</description></solvable>\n</to-remove>\n</install-summary>\n\
                 <prompt id=\"0\">\n<text>Backend:  classic_rpmtrans\nContinue?</text>\n</prompt>\n</stream>\n",
                vec![change(
                    "tree",
                    ChangeKind::Remove,
                    Some("1.7.0-150000.3.2.1"),
                    None,
                )],
                vec![],
            ),
            (
                "SLE 12: saltstack/salt tests/unit/modules/zypp/zypper-download.xml (messages, a \
                 warning, no install-summary)",
                "<?xml version='1.0'?>\n<stream>\n  <message type=\"info\">Loading repository data...</message>\n  \
                 <message type=\"info\">Reading installed packages...</message>\n  <message type=\"warning\">\
                 Argument resolves to no package: foo</message>\n  <download-result>\n    <solvable>\n      \
                 <kind>package</kind>\n      <name>nmap</name>\n      <edition epoch=\"0\" version=\"6.46\" \
                 release=\"1.72\"/>\n      <arch>x86_64</arch>\n    </solvable>\n  </download-result>\n  \
                 <message type=\"info\">download: Done.</message>\n</stream>\n",
                vec![],
                vec![],
            ),
            (
                "constructed per openSUSE/zypper src/output/xmlout.rnc (solvable `edition-old`: \
                 \"currently installed version in case of upgrade\"), with OC-16 host-a's target \
                 versions, a patch solvable (not a package) and an error message",
                "<?xml version='1.0'?><stream><message type=\"error\">Problem retrieving files from \
                 'SLE-Module-Basesystem15-SP6-Updates'.</message><install-summary download-size=\"1\" \
                 space-usage-diff=\"2\" packages-to-change=\"3\"><to-install><solvable type=\"patch\" \
                 name=\"SUSE-SLE-Module-Basesystem-15-SP6-2025-1234\" edition=\"1\" arch=\"noarch\"/>\
                 </to-install><to-upgrade><solvable type=\"package\" name=\"kernel-default\" \
                 edition=\"6.4.0-150600.23.33.1\" edition-old=\"6.4.0-150600.23.30.1\" arch=\"x86_64\"/>\
                 <solvable kind=\"package\" name=\"libexample16\" edition=\"1.11.0-150600.3.6.1\" \
                 arch=\"x86_64\"/></to-upgrade></install-summary></stream>",
                vec![
                    change(
                        "kernel-default",
                        ChangeKind::Upgrade,
                        Some("6.4.0-150600.23.30.1"),
                        Some("6.4.0-150600.23.33.1"),
                    ),
                    change(
                        "libexample16",
                        ChangeKind::Upgrade,
                        None,
                        Some("1.11.0-150600.3.6.1"),
                    ),
                ],
                vec!["Problem retrieving files from 'SLE-Module-Basesystem15-SP6-Updates'."],
            ),
        ];
        for (source, xml, want, errors) in cases {
            let got = parse_xml(xml).unwrap();
            assert_eq!(got.transaction.changes, *want, "{source}");
            assert_eq!(got.errors, *errors, "{source}");
        }
        assert!(parse_xml("<stream><to-install><solvable type=\"package\" edition=\"1\"/></to-install></stream>").is_err());
        assert!(parse_xml("<stream><install-summary></stream>").is_err());
    }

    /// OC-16: zypper exit 102 from an install means "installed, reboot
    /// required", and `zypper needs-rebooting` exit 102 means "reboot
    /// required"; neither is a failure.
    #[test]
    fn exit_102_means_installed_reboot_required() {
        let c =
            Command::new("zypper").args(["--non-interactive", "patch", "--category", "security"]);
        // OC-16 host-a install step, verbatim.
        let oc16 = Output::new(
            102,
            "Installing: kernel-default-6.4.0-150600.23.33.1 [done]\nWarning: One of the installed \
             patches requires a reboot of your machine. Reboot as soon as possible.",
            "",
        );
        let a = interpret_apply(&c, &oc16).unwrap();
        assert!(a.reboot_hint);
        assert_eq!(
            a.detail,
            "Installing: kernel-default-6.4.0-150600.23.33.1 [done]\nWarning: One of the installed \
             patches requires a reboot of your machine. Reboot as soon as possible.\n\
             installed; zypper says a reboot is required (exit 102)"
        );
        let cases: &[(i32, Option<bool>)] = &[
            (0, Some(false)),
            (102, Some(true)),
            (103, Some(false)),
            (106, Some(false)),
            (104, None),
            (107, None),
            (7, None),
            (8, None),
            (1, None),
            (42, None),
        ];
        for &(code, want) in cases {
            let got = interpret_apply(&c, &Output::new(code, "", ""))
                .ok()
                .map(|a| a.reboot_hint);
            assert_eq!(got, want, "exit {code}");
        }
        let locked = interpret_apply(
            &c,
            &Output::new(
                7,
                "",
                "System management is locked by the application with pid 4242 (zypper).\n",
            ),
        )
        .unwrap_err();
        assert_eq!(
            locked.to_string(),
            "zypper --non-interactive patch --category security failed (exit 7): the ZYpp library is \
             locked by another process (ZYPPER_EXIT_ZYPP_LOCKED): System management is locked by the \
             application with pid 4242 (zypper)."
        );

        let nr = reboot_command();
        let needed = Output::new(
            102,
            "Core libraries or services have been updated.\nReboot is required to ensure that your \
             system benefits from these updates.",
            "",
        );
        let not_needed = Output::new(
            0,
            "No core libraries or services have been updated since boot-up.\nReboot is probably not necessary.",
            "",
        );
        // OC-16 host-a reboot-check before and after its reboot.
        let before = interpret_needs_rebooting(&nr, &needed).unwrap();
        assert!(before.required);
        assert!(
            before.detail.starts_with("Core libraries"),
            "{}",
            before.detail
        );
        assert!(
            !interpret_needs_rebooting(&nr, &not_needed)
                .unwrap()
                .required
        );
        // SLE 12's zypper has no needs-rebooting command: exit 2 (syntax).
        assert!(
            interpret_needs_rebooting(
                &nr,
                &Output::new(2, "", "Unknown command 'needs-rebooting'\n")
            )
            .is_err()
        );
    }

    #[test]
    fn a_failed_simulation_shows_zyppers_error_messages() {
        let c = commands(
            &[Operation::Install {
                name: name("tree"),
                version: version("9.9-1"),
            }],
            true,
        )
        .remove(0);
        let out = Output::new(
            104,
            "<?xml version='1.0'?>\n<stream>\n<message type=\"info\">Loading repository data...</message>\n\
             <message type=\"error\">No provider of &apos;tree = 9.9-1&apos; found.</message>\n</stream>\n",
            "",
        );
        let err = interpret_simulation(&c, &out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "zypper --non-interactive --xmlout install --auto-agree-with-licenses --dry-run tree=9.9-1 \
             failed (exit 104): a package or version was not found (ZYPPER_EXIT_INF_CAP_NOT_FOUND): \
             No provider of 'tree = 9.9-1' found."
        );
    }

    #[test]
    fn the_backend_simulates_applies_and_checks_reboots_through_the_runner() {
        let op = Operation::Install {
            name: name("kernel-default"),
            version: version("6.4.0-150600.23.33.1"),
        };
        let runner = Replay::new(vec![
            (
                vec![
                    "zypper",
                    "--non-interactive",
                    "--xmlout",
                    "install",
                    "--auto-agree-with-licenses",
                    "--dry-run",
                    "kernel-default=6.4.0-150600.23.33.1",
                ],
                Output::new(
                    0,
                    "<stream><install-summary download-size=\"1\" space-usage-diff=\"1\"><to-install>\
                     <solvable type=\"package\" name=\"kernel-default\" edition=\"6.4.0-150600.23.33.1\" \
                     arch=\"x86_64\"/></to-install></install-summary></stream>",
                    "",
                ),
            ),
            (
                vec![
                    "zypper",
                    "--non-interactive",
                    "install",
                    "--auto-agree-with-licenses",
                    "kernel-default=6.4.0-150600.23.33.1",
                ],
                Output::new(
                    102,
                    "Installing: kernel-default-6.4.0-150600.23.33.1 [done]",
                    "",
                ),
            ),
            (
                vec!["zypper", "needs-rebooting"],
                Output::new(
                    102,
                    "Reboot is required to ensure that your system benefits from these updates.",
                    "",
                ),
            ),
        ]);
        let z = Zypper::new(runner.clone());
        assert_eq!(
            z.simulate(std::slice::from_ref(&op)).unwrap().summary(),
            "install kernel-default 6.4.0-150600.23.33.1"
        );
        assert!(z.apply(&[op]).unwrap().reboot_hint);
        assert!(z.reboot_required().unwrap().required);
        assert!(runner.finished());
    }
}
