//! Lab set-up shared by the end-to-end tests: an inventory over the four
//! rings, one lab agent state per host, a config whose windows are always
//! open, and a real HTTP health endpoint for validate; lab agents run as
//! their own `patchflow agent` processes; a Heartbleed scan of the lab; and
//! reading a bundle's audit trail (`patchflow report audit`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tests::{Lab, Proc, bundle_events};

/// The seven hosts of `nessus/defectdojo__nessus_v_unknown.xml`, spread over
/// the four rings.
pub const V_UNKNOWN_HOSTS: &[(&str, &str, &str)] = &[
    ("qa3app09", "10.31.112.29", "dev"),
    ("qa3app06", "10.31.112.26", "test"),
    ("qa3app05", "10.31.112.25", "test"),
    ("qa3app04", "10.31.112.24", "staging"),
    ("qa3app03", "10.31.112.23", "staging"),
    ("qa3app02", "10.31.112.22", "prod"),
    ("qa3app01", "10.31.112.21", "prod"),
];

/// The corpus report every flow test submits, or `None` (skipped loudly).
pub fn v_unknown() -> Option<PathBuf> {
    Some(testkit::corpus()?.join("nessus/defectdojo__nessus_v_unknown.xml"))
}

/// Serves `GET /health` → 200 on 127.0.0.1; returns `host:port`.
pub async fn health_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind health endpoint");
    let addr = listener.local_addr().expect("local addr").to_string();
    let app = axum::Router::new().route("/health", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Writes inventory, agent states and `patchflow.toml` for `hosts` into the lab.
pub fn write_lab(lab: &Lab, hosts: &[(&str, &str, &str)], health: &str) {
    let mut inventory = String::from("hostname,ip,ring,tier,internet_facing,owner,window\n");
    let mut agents = String::new();
    std::fs::create_dir_all(lab.path("agents")).expect("agents folder");
    for (host, ip, ring) in hosts {
        inventory.push_str(&format!("{host},{ip},{ring},3,false,ops,{ring}\n"));
        let state = agent_state_path(lab, host);
        std::fs::write(
            &state,
            format!("{{\"host\": \"{host}\", \"packages\": {{\"openssl\": \"1.0.1e\"}}}}\n"),
        )
        .expect("agent state");
        agents.push_str(&format!(
            "[[agents]]\nhost = \"{host}\"\nstate = \"{}\"\n",
            state.display()
        ));
    }
    std::fs::write(lab.path("inventory.csv"), inventory).expect("inventory");
    let config = format!(
        r#"[ingest]
inventory = "inventory.csv"

[schedule]
tick_interval_ms = 100
# Lab drills: scanner solutions go to the lab agents, and no change approval.
scanner_solutions = "send_to_agent"
[schedule.approval]
rings = []
[[schedule.rings]]
name = "dev"
soak_hours = 0
[[schedule.rings]]
name = "test"
soak_hours = 0
[[schedule.rings]]
name = "staging"
soak_hours = 0
[[schedule.rings]]
name = "prod"
soak_hours = 0
[schedule.rollout]
result_timeout_secs = 30

[deploy]
tick_interval_ms = 100

[[validate.checks]]
name = "app-health"
kind = "http"
url = "http://{health}/health"
[[validate.checks]]
name = "app-port"
kind = "tcp"
addr = "{health}"

{agents}"#
    );
    std::fs::write(lab.path("patchflow.toml"), config).expect("config");
}

/// How long a whole flow may take before a test fails.
pub const FLOW_TIMEOUT: Duration = Duration::from_secs(180);

/// The `[schedule.rollout]` table of [`write_lab`]'s config (only a result
/// timeout of 30 s), for a test to replace with its own [`rollout_policy`].
pub const LAB_ROLLOUT: &str = "[schedule.rollout]\nresult_timeout_secs = 30\n";

/// A `[schedule.rollout]` table: each ring starts with a canary wave of
/// `canary_hosts` hosts, then batches of `batch_percent` % of the ring; a
/// wave halts the rollout when more than `max_failed_percent` % of the
/// ring's attempted hosts failed, or when a batch failed entirely; each
/// job's result is awaited 120 s (no test using it waits for that timeout:
/// on a busy machine a slow answer, e.g. a restarted agent's rollback, must
/// not count as a failure).
pub fn rollout_policy(canary_hosts: u32, batch_percent: u32, max_failed_percent: f64) -> String {
    format!(
        "[schedule.rollout]
canary_hosts = {canary_hosts}
batch_percent = {batch_percent}
max_failed_percent = {max_failed_percent:.1}
halt_on_full_batch_failure = true
result_timeout_secs = 120
"
    )
}

/// The remediation key of the fix in [`heartbleed_scan_csv`]: OpenSSL
/// 1.0.1e → 1.0.1g.
pub const HEARTBLEED_REMEDIATION: &str = "pkg:openssl@1.0.1g";

/// A host's lab agent state file, as [`write_lab`] writes it:
/// `agents/HOST.json` in the lab folder.
pub fn agent_state_path(lab: &Lab, host: &str) -> PathBuf {
    lab.path(&format!("agents/{host}.json"))
}

/// A host's lab agent state, read from [`agent_state_path`].
///
/// # Panics
/// When the file is missing or holds no lab state.
pub fn load_agent_state(lab: &Lab, host: &str) -> agent::LabState {
    let path = agent_state_path(lab, host);
    agent::LabState::load(&path)
        .unwrap_or_else(|e| panic!("lab state of {host} at {}: {e}", path.display()))
}

/// Rewrites the lab's `patchflow.toml` (as [`write_lab`] wrote it) for lab
/// agents that run as their own `patchflow agent` processes: drops its
/// `[[agents]]` tables, so `patchflow up` runs no agent, and in the rest
/// replaces each `(from, to)` of `edits`, in order.
///
/// # Panics
/// When a `from` is not in the config (the edit would change nothing), or a
/// `to` is not in the config written.
pub fn write_config_for_agent_processes(lab: &Lab, edits: &[(&str, &str)]) {
    let path = lab.path("patchflow.toml");
    let config = std::fs::read_to_string(&path).expect("read patchflow.toml");
    let mut config = config
        .split("[[agents]]")
        .next()
        .unwrap_or_default()
        .to_owned();
    for (from, to) in edits {
        assert!(config.contains(from), "no {from:?} in:\n{config}");
        config = config.replace(from, to);
    }
    assert!(edits.iter().all(|(_, to)| config.contains(to)), "{config}");
    std::fs::write(&path, config).expect("write patchflow.toml");
}

/// Waits until deploy (running in `deploy`: `patchflow up` or `patchflow
/// serve deploy`) has written the job-signing public key it creates on its
/// first start (`data/job-signing.pub.pem`); returns the key file's path,
/// for `patchflow agent --verify-key`.
///
/// # Panics
/// When there is no key within `within` (the message holds `deploy`'s log).
pub async fn wait_for_signing_key(lab: &Lab, deploy: &Proc, within: Duration) -> String {
    let public_key = lab.path("data/job-signing.pub.pem");
    let deadline = Instant::now() + within;
    while !public_key.exists() {
        assert!(
            Instant::now() < deadline,
            "deploy wrote no public key; log:\n{}",
            deploy.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    public_key.to_str().expect("UTF-8 lab path").to_owned()
}

/// Starts `patchflow agent` for `host` on the lab backend with its state
/// file ([`agent_state_path`]), verifying every job's signature with the
/// public key at `verify_key`; `extra` arguments are appended (e.g.
/// `--reboot-secs 3600`). Its output goes to `NAME.log` in the lab.
pub fn spawn_lab_agent(
    lab: &Lab,
    name: &str,
    host: &str,
    verify_key: &str,
    extra: &[&str],
) -> Proc {
    let state = agent_state_path(lab, host);
    let mut args = vec![
        "agent",
        "--host",
        host,
        "--verify-key",
        verify_key,
        "--backend",
        "lab",
        "--state",
        state.to_str().expect("UTF-8 lab path"),
    ];
    args.extend_from_slice(extra);
    lab.spawn(name, &args)
}

/// One [`spawn_lab_agent`] per host of `hosts` (hostname, ip, ring), each
/// logging to `agent-HOST.log`.
pub fn spawn_lab_agents(lab: &Lab, hosts: &[(&str, &str, &str)], verify_key: &str) -> Vec<Proc> {
    hosts
        .iter()
        .map(|(host, _, _)| spawn_lab_agent(lab, &format!("agent-{host}"), host, verify_key, &[]))
        .collect()
}

/// A generic-CSV scan with one finding per host of `hosts` (hostname, ip,
/// ring): Heartbleed (CVE-2014-0160, CVSS 3.1 base 7.5), openssl 1.0.1e,
/// fixed in 1.0.1g.
pub fn heartbleed_scan_csv(hosts: &[(&str, &str, &str)]) -> String {
    let mut csv = String::from(
        "host,ip,check_id,title,severity,cves,cvss_vector,package,version,fixed_version\n",
    );
    for (host, ip, _) in hosts {
        csv.push_str(&format!(
            "{host},{ip},OPENSSL-HEARTBLEED,OpenSSL heartbeat read overrun,high,CVE-2014-0160,\
             CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N,openssl,1.0.1e,1.0.1g\n"
        ));
    }
    csv
}

/// Writes [`heartbleed_scan_csv`] of `hosts` to `scan.csv` in the lab,
/// submits it with `patchflow scan submit --wait` and asserts that ingest
/// completed it with one finding per host (`completed: N hosts, N
/// findings`).
///
/// # Panics
/// When the command fails (the message holds the log of `up`, the process
/// running the services) or the scan completed otherwise.
pub fn submit_heartbleed_scan(lab: &Lab, hosts: &[(&str, &str, &str)], up: &Proc) {
    let scan = lab.path("scan.csv");
    std::fs::write(&scan, heartbleed_scan_csv(hosts)).expect("write scan.csv");
    let scan = scan.to_str().expect("UTF-8 lab path");
    let (status, out, err) = lab.run(&["scan", "submit", "--wait", scan]);
    assert!(status.success(), "{out}{err}\n{}", up.log_text());
    let n = hosts.len();
    let (host, finding) = if n == 1 {
        ("host", "finding")
    } else {
        ("hosts", "findings")
    };
    let completed = format!("completed: {n} {host}, {n} {finding}");
    assert!(out.contains(&completed), "{out}");
}

/// `patchflow report audit BUNDLE --json` as (event type, summary) pairs,
/// in trail order.
///
/// # Panics
/// When the command fails, its output is no JSON array of entries with
/// `event_type`, `summary` and `time`, or the entries are not in time order.
pub fn audit_trail(lab: &Lab, bundle: uuid::Uuid) -> Vec<(String, String)> {
    let (status, json, err) = lab.run(&["report", "audit", &bundle.to_string(), "--json"]);
    assert!(status.success(), "{err}");
    let trail: serde_json::Value = serde_json::from_str(&json).expect("audit trail JSON");
    let trail = trail.as_array().expect("an array of trail entries");
    let field = |e: &serde_json::Value, name: &str| -> String {
        e[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in trail entry {e}"))
            .to_owned()
    };
    let times: Vec<String> = trail.iter().map(|e| field(e, "time")).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    trail
        .iter()
        .map(|e| (field(e, "event_type"), field(e, "summary")))
        .collect()
}

/// Reads `bundle`'s [`audit_trail`] until it holds every event of the
/// bundle in the lab's event log (the report's projection has caught up with
/// the streams; the log is read again each time), for at most 30 s.
///
/// # Panics
/// When the counts still differ after 30 s (the message holds the trail).
pub async fn wait_for_audit_trail(lab: &Lab, bundle: uuid::Uuid) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let trail = audit_trail(lab, bundle);
        let logged = bundle_events(&lab.log.events(), bundle).len();
        if trail.len() == logged {
            return trail;
        }
        assert!(
            Instant::now() < deadline,
            "the trail has {} events, the log {logged}: {trail:#?}",
            trail.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The trail entries about `host`, in trail order: its jobs (`apply job
/// sent to HOST (`), results and saga steps (`apply succeeded on HOST (`,
/// `step install started on HOST (`) and its announcements (`agent on HOST
/// online`).
pub fn host_trail(trail: &[(String, String)], host: &str) -> Vec<(String, String)> {
    let marks = [
        format!(" to {host} ("),
        format!(" on {host} ("),
        format!("agent on {host} online"),
    ];
    trail
        .iter()
        .filter(|(_, s)| marks.iter().any(|m| s.contains(m.as_str())))
        .cloned()
        .collect()
}

/// Asserts that a trail line (a summary) starting with each of `prefixes`
/// appears, in that order.
///
/// # Panics
/// Naming the first prefix not found after the line matching the one
/// before, with the whole trail.
pub fn assert_in_order(trail: &[(String, String)], prefixes: &[String]) {
    let mut at = 0;
    for prefix in prefixes {
        match trail
            .iter()
            .skip(at)
            .position(|(_, s)| s.starts_with(prefix.as_str()))
        {
            Some(i) => at += i + 1,
            None => {
                let lines: Vec<&str> = trail.iter().map(|(_, s)| s.as_str()).collect();
                panic!(
                    "no line starting with {prefix:?} after position {at} of the trail:\n{}",
                    lines.join("\n")
                );
            }
        }
    }
}
