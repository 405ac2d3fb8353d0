//! Case OC-16 (`cases/OC-16/agent-transcript.json`): the recorded package
//! manager results of two hosts, replayed through the backends' exit-code
//! interpretation. zypper exit 102 (install) and `needs-restarting -r` exit 1
//! mean "installed, reboot required", not failure; after the reboot both
//! checks say no reboot is needed. Skipped, loudly, without the cases folder.

use agent::backend::{Command, Output};
use agent::{rpm, zypper};
use serde_json::Value;

/// The reboot-check answers of one host, in order: `Some(required)` or
/// `None` when the recorded step is not a reboot check.
fn replay(host: &Value) -> (bool, Vec<bool>) {
    let backend = host["backend"].as_str().unwrap();
    let mut installed = false;
    let mut checks = Vec::new();
    for step in host["steps"].as_array().unwrap() {
        let (Some(cmd), Some(code)) = (step["cmd"].as_str(), step["exit"].as_i64()) else {
            continue;
        };
        let out = Output::new(
            i32::try_from(code).unwrap(),
            step["stdout_tail"].as_str().unwrap_or_default(),
            "",
        );
        // The recorded command line, split on spaces, only to name it in
        // messages: nothing is run.
        let mut words = cmd.split(' ');
        let command = Command::new(words.next().unwrap()).args(words);
        match (step["step"].as_str().unwrap(), backend) {
            ("install", "zypper") => {
                let a = zypper::interpret_apply(&command, &out).expect("exit 102 is a success");
                assert!(a.reboot_hint, "exit 102 says a reboot is required");
                installed = true;
            }
            ("install", "dnf") => {
                assert_eq!(out.code, Some(0));
                installed = true;
            }
            ("reboot-check", "zypper") => checks.push(
                zypper::interpret_needs_rebooting(&command, &out)
                    .unwrap()
                    .required,
            ),
            ("reboot-check", "dnf") => checks.push(
                rpm::interpret_needs_restarting(&command, &out)
                    .unwrap()
                    .required,
            ),
            (other, b) => panic!("unexpected recorded step {other} for {b}"),
        }
    }
    (installed, checks)
}

#[test]
fn oc16_reboot_exit_codes_mean_installed_reboot_required() {
    let Some(cases) = testkit::cases() else {
        return;
    };
    let path = cases.join("OC-16/agent-transcript.json");
    let text = std::fs::read_to_string(&path).expect("read the OC-16 transcript");
    let transcript: Value = serde_json::from_str(&text).expect("OC-16 transcript is JSON");
    let hosts = transcript["hosts"].as_array().unwrap();
    let backends: Vec<&str> = hosts
        .iter()
        .map(|h| h["backend"].as_str().unwrap())
        .collect();
    assert_eq!(backends, ["zypper", "dnf"]);
    for host in hosts {
        let (installed, checks) = replay(host);
        let name = host["host"].as_str().unwrap();
        assert!(installed, "{name}: installed");
        // Required before the one reboot, not after it.
        assert_eq!(checks, [true, false], "{name}");
    }
}
